// pybind11 bindings of the attention kernels (part of ember._C; bind_attention is called
// from bindings_cpu.cpp). The Python op (ember/ops/attention.py) checks the arguments; the
// boundary keeps the memory-safety checks shared with ember._cuda (csrc/checks.h), so the
// kernels behind can assume C-contiguous q, k, v of one dtype and a mask described by
// element strides.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "binding_utils.h"
#include "cpu/attention.h"

namespace py = pybind11;

namespace {

using ember::cpu::Isa;
using ember::cpu::AttentionMask;
using ember::cpu::AttentionParams;

constexpr const char* kOp = "scaled_dot_product_attention";

using namespace ember::bind;
using Shapes = AttentionShapes;

[[noreturn]] void fail_value(const std::string& what) { ember::checks::fail_value(kOp, what); }

bool is_f32(const py::array& a) { return kind_of(a) == Kind::Float32; }
bool is_bool(const py::array& a) { return kind_of(a) == Kind::Bool; }

Shapes check_qkv(const py::array& q, const py::array& k, const py::array& v) {
  return attention_shapes(q, k, v);
}

// Fills the mask fields of p from an optional mask broadcastable to (B, H, Lq, Lk). `keep`
// holds the (possibly copied) array alive for the call.
template <typename T>
void describe_mask(const std::optional<py::array>& mask_in, const py::array& q, const Shapes& s,
                   AttentionParams<T>* p, py::array* keep) {
  if (!mask_in) return;
  py::array mask = *mask_in;
  require_attention_mask(mask, q, s);
  const py::ssize_t lead = 4 - mask.ndim();
  // Element strides need whole-element byte strides and an aligned pointer; an unusual
  // view that lacks them gets one copy.
  const auto itemsize = mask.itemsize();
  bool addressable = reinterpret_cast<std::uintptr_t>(mask.data()) %
                         static_cast<std::uintptr_t>(itemsize) == 0;
  for (py::ssize_t d = 0; d < mask.ndim(); ++d)
    if (mask.shape(d) > 1 && mask.strides(d) % itemsize != 0) addressable = false;
  if (!addressable) mask = py::array(mask.attr("copy")());
  int64_t strides[4] = {0, 0, 0, 0};
  for (py::ssize_t d = 0; d < mask.ndim(); ++d)
    strides[lead + d] = mask.shape(d) > 1 ? mask.strides(d) / itemsize : 0;
  p->mask_sb = strides[0];
  p->mask_sh = strides[1];
  p->mask_si = strides[2];
  p->mask_sj = strides[3];
  if (is_bool(mask)) {
    p->mask_kind = AttentionMask::boolean;
    p->mask_bool = static_cast<const uint8_t*>(mask.data());
  } else {
    p->mask_kind = AttentionMask::additive;
    p->mask_add = static_cast<const T*>(mask.data());
  }
  *keep = mask;
}

Isa parse_kernel(const std::string& name) {
  Isa isa;
  if (!ember::cpu::parse_isa(name, &isa))
    fail_value("unknown kernel '" + name + "', expected 'auto', 'avx512', 'avx2' or 'generic'");
  const auto isas = ember::cpu::attention_available_isas();
  if (isa != Isa::automatic && std::find(isas.begin(), isas.end(), isa) == isas.end())
    fail_value("kernel '" + name + "' is not available on this CPU/build");
  return isa;
}

// Everything a kernel call needs, built from checked arguments.
template <typename T>
struct Problem {
  py::array_t<T> q, k, v;
  py::array mask_keep;
  AttentionParams<T> p;
};

template <typename T>
Problem<T> make_problem(const py::array& q, const py::array& k, const py::array& v,
                        const std::optional<py::array>& mask, bool is_causal,
                        std::optional<double> scale, const Shapes& s) {
  Problem<T> pr;
  pr.q = contiguous<T>(q);
  pr.k = contiguous<T>(k);
  pr.v = contiguous<T>(v);
  AttentionParams<T>& p = pr.p;
  p.batch = s.b;
  p.heads = s.h;
  p.lq = s.lq;
  p.lk = s.lk;
  p.d = s.d;
  p.dv = s.dv;
  p.q = pr.q.data();
  p.k = pr.k.data();
  p.v = pr.v.data();
  p.causal = is_causal;
  p.scale = static_cast<T>(scale ? *scale : (s.d > 0 ? 1.0 / std::sqrt(static_cast<double>(s.d))
                                                     : 1.0));
  describe_mask<T>(mask, q, s, &p, &pr.mask_keep);
  return pr;
}

template <typename T, typename Run>
py::tuple forward_typed(const py::array& q, const py::array& k, const py::array& v,
                        const std::optional<py::array>& mask, bool is_causal,
                        std::optional<double> scale, const Shapes& s, Run run) {
  Problem<T> pr = make_problem<T>(q, k, v, mask, is_causal, scale, s);
  py::array_t<T> out(std::vector<py::ssize_t>{s.b, s.h, s.lq, s.dv});
  py::array_t<T> lse(std::vector<py::ssize_t>{s.b, s.h, s.lq});
  {
    py::gil_scoped_release release;
    run(pr.p, out.mutable_data(), lse.mutable_data());
  }
  return py::make_tuple(out, lse);
}

template <typename Run32, typename Run64>
py::tuple forward_dispatch(const py::array& q, const py::array& k, const py::array& v,
                           const std::optional<py::array>& mask, bool is_causal,
                           std::optional<double> scale, Run32 run32, Run64 run64) {
  const Shapes s = check_qkv(q, k, v);
  if (is_f32(q)) return forward_typed<float>(q, k, v, mask, is_causal, scale, s, run32);
  return forward_typed<double>(q, k, v, mask, is_causal, scale, s, run64);
}

void check_same(const char* name, const py::array& a, const py::array& q,
                const std::vector<int64_t>& shape) {
  require_like_query(name, a, q, shape);
}

template <typename T, typename Run>
py::tuple backward_typed(const py::array& dout, const py::array& q, const py::array& k,
                         const py::array& v, const py::array& out, const py::array& lse,
                         const std::optional<py::array>& mask, bool is_causal,
                         std::optional<double> scale, const Shapes& s, Run run) {
  Problem<T> pr = make_problem<T>(q, k, v, mask, is_causal, scale, s);
  auto dout_c = contiguous<T>(dout), out_c = contiguous<T>(out), lse_c = contiguous<T>(lse);
  py::array_t<T> dq(std::vector<py::ssize_t>{s.b, s.h, s.lq, s.d});
  py::array_t<T> dk(std::vector<py::ssize_t>{s.b, s.h, s.lk, s.d});
  py::array_t<T> dv(std::vector<py::ssize_t>{s.b, s.h, s.lk, s.dv});
  {
    py::gil_scoped_release release;
    run(pr.p, dout_c.data(), out_c.data(), lse_c.data(), dq.mutable_data(), dk.mutable_data(),
        dv.mutable_data());
  }
  return py::make_tuple(dq, dk, dv);
}

template <typename Run32, typename Run64>
py::tuple backward_dispatch(const py::array& dout, const py::array& q, const py::array& k,
                            const py::array& v, const py::array& out, const py::array& lse,
                            const std::optional<py::array>& mask, bool is_causal,
                            std::optional<double> scale, Run32 run32, Run64 run64) {
  const Shapes s = check_qkv(q, k, v);
  check_same("grad_output", dout, q, {s.b, s.h, s.lq, s.dv});
  check_same("out", out, q, {s.b, s.h, s.lq, s.dv});
  check_same("lse", lse, q, {s.b, s.h, s.lq});
  if (is_f32(q))
    return backward_typed<float>(dout, q, k, v, out, lse, mask, is_causal, scale, s, run32);
  return backward_typed<double>(dout, q, k, v, out, lse, mask, is_causal, scale, s, run64);
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def(
      "attention_forward",
      [](const py::array& q, const py::array& k, const py::array& v,
         const std::optional<py::array>& mask, bool is_causal, std::optional<double> scale,
         const std::string& kernel) {
        const Isa isa = parse_kernel(kernel);
        auto run = [isa](const auto& p, auto* out, auto* lse) {
          ember::cpu::attention_forward(p, out, lse, isa);
        };
        return forward_dispatch(q, k, v, mask, is_causal, scale, run, run);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask") = py::none(),
      py::arg("is_causal") = false, py::arg("scale") = py::none(), py::kw_only(),
      py::arg("kernel") = "auto",
      "Fused (flash) attention: softmax(q k^T * scale + mask) v for q (B, H, Lq, D), k (B, H,\n"
      "Lk, D), v (B, H, Lk, Dv) of one float dtype. mask: None, bool (True = attend) or\n"
      "additive float, broadcastable to (B, H, Lq, Lk). is_causal: query i sees keys j <= i.\n"
      "scale defaults to 1/sqrt(D). Returns (out (B, H, Lq, Dv), logsumexp (B, H, Lq)).\n"
      "Fully masked rows give 0 and logsumexp -inf. `kernel` forces an ISA (tests).");
  m.def(
      "attention_backward",
      [](const py::array& dout, const py::array& q, const py::array& k, const py::array& v,
         const py::array& out, const py::array& lse, const std::optional<py::array>& mask,
         bool is_causal, std::optional<double> scale, const std::string& kernel) {
        const Isa isa = parse_kernel(kernel);
        auto run = [isa](const auto& p, const auto* dout_, const auto* out_, const auto* lse_,
                         auto* dq, auto* dk, auto* dv) {
          ember::cpu::attention_backward(p, dout_, out_, lse_, dq, dk, dv, isa);
        };
        return backward_dispatch(dout, q, k, v, out, lse, mask, is_causal, scale, run, run);
      },
      py::arg("dout"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"),
      py::arg("lse"), py::arg("mask") = py::none(), py::arg("is_causal") = false,
      py::arg("scale") = py::none(), py::kw_only(), py::arg("kernel") = "auto",
      "Gradients (dq, dk, dv) of attention_forward given dout and the forward's out and\n"
      "logsumexp (FlashAttention-2 backward: probabilities recomputed block by block).");
  m.def(
      "attention_reference",
      [](const py::array& q, const py::array& k, const py::array& v,
         const std::optional<py::array>& mask, bool is_causal, std::optional<double> scale) {
        auto run = [](const auto& p, auto* out, auto* lse) {
          ember::cpu::attention_reference_forward(p, out, lse);
        };
        return forward_dispatch(q, k, v, mask, is_causal, scale, run, run);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask") = py::none(),
      py::arg("is_causal") = false, py::arg("scale") = py::none(),
      "attention_forward the slow, obvious way (the whole Lq x Lk matrix per head, double\n"
      "accumulation): the tests' oracle. Returns (out, logsumexp).");
  m.def(
      "attention_reference_backward",
      [](const py::array& dout, const py::array& q, const py::array& k, const py::array& v,
         const py::array& out, const py::array& lse, const std::optional<py::array>& mask,
         bool is_causal, std::optional<double> scale) {
        auto run = [](const auto& p, const auto* dout_, const auto* out_, const auto* lse_,
                      auto* dq, auto* dk, auto* dv) {
          ember::cpu::attention_reference_backward(p, dout_, out_, lse_, dq, dk, dv);
        };
        return backward_dispatch(dout, q, k, v, out, lse, mask, is_causal, scale, run, run);
      },
      py::arg("dout"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"),
      py::arg("lse"), py::arg("mask") = py::none(), py::arg("is_causal") = false,
      py::arg("scale") = py::none(),
      "attention_backward the slow, obvious way (materialised P, dP, dS): the tests' oracle.");
  m.def(
      "attention_kernels",
      [] {
        std::vector<std::string> names;
        for (Isa isa : ember::cpu::attention_available_isas())
          names.emplace_back(ember::cpu::isa_name(isa));
        return names;
      },
      "Attention kernels this build and CPU can run, best (the default) first.");
}
