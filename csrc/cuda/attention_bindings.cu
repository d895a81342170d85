// ember._cuda.attention_forward / attention_backward: the boundary's memory-safety checks
// (csrc/checks.h, shared with the CPU module's bindings_attention.cpp; the Python op
// ops/attention.py gives the user-facing errors), q/k/v/mask as strided views, and the choice
// of kernel (attention_fallback.cu). Semantics: attention.cuh.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/attention.cuh"

namespace py = pybind11;

namespace ember::cuda {
namespace {

using namespace ember::cuda::attention;


constexpr const char* kOp = "scaled_dot_product_attention";

using namespace ember::checks;
using Shapes = AttentionShapes;

[[noreturn]] void fail_value(const std::string& what) { ember::checks::fail_value(kOp, what); }

void require_device_of_query(const char* name, const DeviceArray& a, const DeviceArray& q) {
  if (a.device() != q.device())
    fail_value(std::string(name) + " is on cuda:" + std::to_string(a.device()) +
               " but query is on cuda:" + std::to_string(q.device()));
}

// The boundary checks shared with the CPU module (csrc/checks.h), plus what the GPU adds:
// head dimensions the kernels' registers hold, one device.
Shapes check_qkv(const DeviceArray& q, const DeviceArray& k, const DeviceArray& v) {
  const Shapes s = attention_shapes(q, k, v);
  if (s.d > kMaxHeadDim || s.dv > kMaxHeadDim)
    fail_value("the CUDA kernels support head dimensions D and Dv up to " +
               std::to_string(kMaxHeadDim) + ", got " + describe("query", q) + ", " +
               describe("key", k) + ", " + describe("value", v));
  require_device_of_query("key", k, q);
  require_device_of_query("value", v, q);
  return s;
}

// Element strides of an n-d array viewed as 4-d (missing leading dims and size-1 dims: 0).
template <typename T>
View4<T> view4(const DeviceArray& a) {
  View4<T> v;
  v.ptr = a.data_as<T>();
  int64_t s[4] = {0, 0, 0, 0};
  const int lead = 4 - a.ndim();
  for (int d = 0; d < a.ndim(); ++d) s[lead + d] = a.shape()[d] > 1 ? a.strides()[d] : 0;
  v.s0 = s[0];
  v.s1 = s[1];
  v.s2 = s[2];
  v.s3 = s[3];
  const int64_t last = a.ndim() > 0 ? a.shape()[a.ndim() - 1] : 1;
  v.vec = std::is_same_v<T, float> && aligned16(v.ptr) && (v.s3 == 1 || last <= 1) &&
          v.s0 % 4 == 0 && v.s1 % 4 == 0 && v.s2 % 4 == 0;
  return v;
}

template <typename T>
void describe_mask(const std::optional<DeviceArray>& mask_in, const DeviceArray& q,
                   const Shapes& s, AttnArgs<T>* a) {
  a->mask_kind = kMaskNone;
  a->mask_add = nullptr;
  a->mask_bool = nullptr;
  a->msb = a->msh = a->msi = a->msj = 0;
  if (!mask_in) return;
  const DeviceArray& mask = *mask_in;
  require_attention_mask(mask, q, s);
  require_device_of_query("attn_mask", mask, q);
  const int lead = 4 - mask.ndim();
  int64_t st[4] = {0, 0, 0, 0};
  for (int d = 0; d < mask.ndim(); ++d) st[lead + d] = mask.shape()[d] > 1 ? mask.strides()[d] : 0;
  a->msb = st[0];
  a->msh = st[1];
  a->msi = st[2];
  a->msj = st[3];
  if (mask.dtype() == DType::Bool) {
    a->mask_kind = kMaskBool;
    a->mask_bool = mask.data_as<uint8_t>();
  } else {
    a->mask_kind = kMaskAdd;
    a->mask_add = mask.data_as<T>();
  }
}

bool use_flash(const std::string& kernel, DType dtype) {
  if (kernel == "auto") return dtype == DType::Float32;
  if (kernel == "flash") {
    if (dtype != DType::Float32)
      fail_value("kernel 'flash' runs float32 only (float64 uses 'simple')");
    return true;
  }
  if (kernel == "simple") return false;
  fail_value("unknown kernel '" + kernel + "', expected 'auto', 'flash' or 'simple'");
}

template <typename T>
AttnArgs<T> make_args(const DeviceArray& q, const DeviceArray& k, const DeviceArray& v,
                      const std::optional<DeviceArray>& mask, bool is_causal,
                      std::optional<double> scale, const Shapes& s) {
  AttnArgs<T> a{};
  a.B = s.b;
  a.H = s.h;
  a.Lq = s.lq;
  a.Lk = s.lk;
  a.D = s.d;
  a.Dv = s.dv;
  a.q = view4<T>(q);
  a.k = view4<T>(k);
  a.v = view4<T>(v);
  a.causal = is_causal;
  a.scale = static_cast<T>(scale ? *scale
                                 : (s.d > 0 ? 1.0 / std::sqrt(static_cast<double>(s.d)) : 1.0));
  describe_mask<T>(mask, q, s, &a);
  return a;
}

py::tuple attention_forward_binding(const DeviceArray& q, const DeviceArray& k,
                                    const DeviceArray& v, const std::optional<DeviceArray>& mask,
                                    bool is_causal, std::optional<double> scale,
                                    const std::string& kernel) {
  const Shapes s = check_qkv(q, k, v);
  const bool flash = use_flash(kernel, q.dtype());
  DeviceArray out({s.b, s.h, s.lq, s.dv}, q.dtype(), q.device());
  DeviceArray lse({s.b, s.h, s.lq}, q.dtype(), q.device());
  DeviceGuard guard(q.device());
  if (q.dtype() == DType::Float32) {
    AttnArgs<float> a = make_args<float>(q, k, v, mask, is_causal, scale, s);
    a.out = out.data_as<float>();
    a.lse = lse.data_as<float>();
    run_forward(a, flash);
  } else {
    AttnArgs<double> a = make_args<double>(q, k, v, mask, is_causal, scale, s);
    a.out = out.data_as<double>();
    a.lse = lse.data_as<double>();
    run_forward(a, flash);
  }
  return py::make_tuple(out, lse);
}

void check_same(const char* name, const DeviceArray& a, const DeviceArray& q,
                const std::vector<int64_t>& shape) {
  require_like_query(name, a, q, shape);
  require_device_of_query(name, a, q);
}

py::tuple attention_backward_binding(const DeviceArray& dout, const DeviceArray& q,
                                     const DeviceArray& k, const DeviceArray& v,
                                     const DeviceArray& out, const DeviceArray& lse,
                                     const std::optional<DeviceArray>& mask, bool is_causal,
                                     std::optional<double> scale, const std::string& kernel) {
  const Shapes s = check_qkv(q, k, v);
  check_same("grad_output", dout, q, {s.b, s.h, s.lq, s.dv});
  check_same("out", out, q, {s.b, s.h, s.lq, s.dv});
  check_same("lse", lse, q, {s.b, s.h, s.lq});
  const bool flash = use_flash(kernel, q.dtype());
  DeviceArray dq({s.b, s.h, s.lq, s.d}, q.dtype(), q.device());
  DeviceArray dk({s.b, s.h, s.lk, s.d}, q.dtype(), q.device());
  DeviceArray dv({s.b, s.h, s.lk, s.dv}, q.dtype(), q.device());
  DeviceArray delta({s.b * s.h * s.lq}, q.dtype(), q.device());
  DeviceGuard guard(q.device());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    AttnArgs<T> a = make_args<T>(q, k, v, mask, is_causal, scale, s);
    a.dout = view4<T>(dout);
    a.o = view4<T>(out);
    View4<T> l = view4<T>(lse);  // a 3-d array seen as (1, B, H, Lq): shift the strides
    a.lse_in.ptr = l.ptr;
    a.lse_in.s0 = l.s1;
    a.lse_in.s1 = l.s2;
    a.lse_in.s2 = l.s3;
    a.delta = delta.data_as<T>();
    a.dq = dq.data_as<T>();
    a.dk = dk.data_as<T>();
    a.dv = dv.data_as<T>();
    run_backward(a, flash);
  };
  if (q.dtype() == DType::Float32) run(float{});
  else run(double{});
  // `delta` is freed when this returns, while the kernels may still be running. That is
  // safe as long as the caching allocator hands blocks out in stream order (one stream).
  return py::make_tuple(dq, dk, dv);
}

}  // namespace
}  // namespace ember::cuda

void bind_attention(pybind11::module_& m) {
  using namespace ember::cuda;
  m.def("attention_forward", &attention_forward_binding, py::arg("q"), py::arg("k"),
        py::arg("v"), py::arg("mask") = py::none(), py::arg("is_causal") = false,
        py::arg("scale") = py::none(), py::kw_only(), py::arg("kernel") = "auto",
        "Fused (flash) attention on the GPU: softmax(q k^T * scale + mask) v for q (B, H, Lq,\n"
        "D), k (B, H, Lk, D), v (B, H, Lk, Dv), D and Dv <= 128. mask: None, bool (True =\n"
        "attend) or additive float, broadcastable to (B, H, Lq, Lk). Returns (out, lse);\n"
        "fully masked rows give 0 and lse -inf. kernel: 'auto', 'flash' (float32) or\n"
        "'simple' (warp per row; the float64 path).");
  m.def("attention_backward", &attention_backward_binding, py::arg("dout"), py::arg("q"),
        py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"),
        py::arg("mask") = py::none(), py::arg("is_causal") = false,
        py::arg("scale") = py::none(), py::kw_only(), py::arg("kernel") = "auto",
        "Gradients (dq, dk, dv) of attention_forward given dout and the forward's out and\n"
        "lse (FlashAttention-2 backward: probabilities recomputed tile by tile).");
}
