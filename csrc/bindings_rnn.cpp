// pybind11 bindings of the fused recurrent-layer kernels (part of ember._C; bind_rnn is
// called from bindings_cpu.cpp). The boundary checks (csrc/checks.h): one floating dtype
// (float32 or float64) for all arrays, the shapes the op expects (derived from x_proj or
// dhs and h0), and a C-contiguous layout (anything else is copied once). A bad argument
// raises TypeError / ValueError naming the op and every argument's shape and dtype.
// The kernels run without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "binding_utils.h"
#include "cpu/rnn.h"

namespace py = pybind11;

namespace {

using ember::cpu::RnnShape;
using namespace ember::checks;

// The named array arguments of one call, for validation and error messages.
class Args {
 public:
  Args(const char* op, std::vector<std::pair<const char*, py::array>> arrays)
      : op_(op), arrays_(std::move(arrays)) {
    const py::array& first = arrays_.front().second;
    is_f32_ = kind_of(first) == Kind::Float32;
    bool ok = is_float(first);
    for (const auto& [name, a] : arrays_) ok = ok && kind_of(a) == kind_of(first);
    if (!ok) fail_type(op_, message("all arrays must share one floating dtype (float32 or float64)"));
  }

  bool is_f32() const { return is_f32_; }

  // The array called `name`, required to have shape `expected`.
  const py::array& get(const char* name, const Shape& expected) const {
    const py::array& a = find(name);
    if (shape_of(a) != expected)
      fail(std::string("expected ") + name + " of shape " + shape_str(expected) + ", got " +
           shape_str(shape_of(a)));
    return a;
  }

  [[noreturn]] void fail(const std::string& what) const { fail_value(op_, message(what)); }

  // C-contiguous data of `name` as T (a copy only when the array is not contiguous).
  template <typename T>
  py::array_t<T> contiguous(const char* name) const {
    return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(find(name));
  }

 private:
  const py::array& find(const char* name) const {
    for (const auto& [n, a] : arrays_)
      if (std::string(n) == name) return a;
    fail(std::string("internal error: no argument ") + name);
  }

  // "what; got x_proj (3, 2, 8) float32, h0 (2, 2) float32, ..." (fail_* prefix the op)
  std::string message(const std::string& what) const {
    std::string out = what + "; got";
    for (size_t i = 0; i < arrays_.size(); ++i)
      out += (i ? ", " : " ") + describe(arrays_[i].first, arrays_[i].second);
    return out;
  }

  const char* op_;
  std::vector<std::pair<const char*, py::array>> arrays_;
  bool is_f32_ = false;
};

// (L, N, H) of a layer with `gates` gates from a sequence array (L, N, gates*H or H) and
// h0 (N, H); raises unless both are well formed and every dimension is positive.
RnnShape layer_shape(const Args& args, const py::array& seq, const char* seq_name,
                     int64_t seq_width_gates, const py::array& h0, bool reverse) {
  if (seq.ndim() != 3 || h0.ndim() != 2)
    args.fail(std::string("expected a 3-d ") + seq_name + " (L, N, *) and a 2-d h0 (N, H)");
  RnnShape s;
  s.steps = seq.shape(0);
  s.batch = h0.shape(0);
  s.hidden = h0.shape(1);
  s.reverse = reverse;
  if (s.steps < 1 || s.batch < 1 || s.hidden < 1)
    args.fail("sequence length, batch and hidden size must be positive");
  args.get(seq_name, {s.steps, s.batch, seq_width_gates * s.hidden});
  return s;
}

template <typename T>
const T* data_or_null(const std::optional<py::array_t<T>>& a) {
  return a ? a->data() : nullptr;
}

template <typename T>
py::array_t<T> empty(const Shape& shape) {
  return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

std::vector<std::pair<const char*, py::array>> with_bias(
    std::vector<std::pair<const char*, py::array>> arrays, const std::optional<py::array>& b) {
  if (b) arrays.emplace_back("b_hh", *b);
  return arrays;
}

// ---- LSTM --------------------------------------------------------------------------------

template <typename T, bool Reference>
py::tuple lstm_forward_typed(const Args& args, const RnnShape& s, bool bias) {
  const auto x = args.contiguous<T>("x_proj"), w = args.contiguous<T>("w_hh");
  const auto h0 = args.contiguous<T>("h0"), c0 = args.contiguous<T>("c0");
  std::optional<py::array_t<T>> b;
  if (bias) b = args.contiguous<T>("b_hh");
  const int64_t L = s.steps, N = s.batch, H = s.hidden;
  auto hs = empty<T>({L, N, H}), cs = empty<T>({L, N, H}), gates = empty<T>({L, N, 4 * H});
  {
    py::gil_scoped_release release;
    const auto kernel = Reference ? ember::cpu::lstm_forward_reference<T>
                                  : ember::cpu::lstm_forward<T>;
    kernel(s, x.data(), w.data(), data_or_null(b), h0.data(), c0.data(), hs.mutable_data(),
           cs.mutable_data(), gates.mutable_data());
  }
  return py::make_tuple(hs, cs, gates);
}

template <bool Reference>
py::tuple lstm_forward(const py::array& x_proj, const py::array& w_hh,
                       const std::optional<py::array>& b_hh, const py::array& h0,
                       const py::array& c0, bool reverse) {
  const Args args("lstm_forward",
                  with_bias({{"x_proj", x_proj}, {"w_hh", w_hh}, {"h0", h0}, {"c0", c0}}, b_hh));
  const RnnShape s = layer_shape(args, x_proj, "x_proj", 4, h0, reverse);
  const int64_t N = s.batch, H = s.hidden;
  args.get("w_hh", {4 * H, H});
  args.get("c0", {N, H});
  if (b_hh) args.get("b_hh", {4 * H});
  return args.is_f32() ? lstm_forward_typed<float, Reference>(args, s, b_hh.has_value())
                       : lstm_forward_typed<double, Reference>(args, s, b_hh.has_value());
}

template <typename T>
py::tuple lstm_backward_typed(const Args& args, const RnnShape& s) {
  const auto dhs = args.contiguous<T>("dhs"), dh_n = args.contiguous<T>("dh_n");
  const auto dc_n = args.contiguous<T>("dc_n"), hs = args.contiguous<T>("hs");
  const auto cs = args.contiguous<T>("cs"), gates = args.contiguous<T>("gates");
  const auto h0 = args.contiguous<T>("h0"), c0 = args.contiguous<T>("c0");
  const auto w = args.contiguous<T>("w_hh");
  const int64_t L = s.steps, N = s.batch, H = s.hidden;
  auto dx = empty<T>({L, N, 4 * H}), dw = empty<T>({4 * H, H}), db = empty<T>({4 * H});
  auto dh0 = empty<T>({N, H}), dc0 = empty<T>({N, H});
  {
    py::gil_scoped_release release;
    ember::cpu::lstm_backward<T>(s, dhs.data(), dh_n.data(), dc_n.data(), hs.data(), cs.data(),
                                 gates.data(), h0.data(), c0.data(), w.data(),
                                 dx.mutable_data(), dw.mutable_data(), db.mutable_data(),
                                 dh0.mutable_data(), dc0.mutable_data());
  }
  return py::make_tuple(dx, dw, db, dh0, dc0);
}

py::tuple lstm_backward(const py::array& dhs, const py::array& dh_n, const py::array& dc_n,
                        const py::array& hs, const py::array& cs, const py::array& gates,
                        const py::array& h0, const py::array& c0, const py::array& w_hh,
                        bool reverse) {
  const Args args("lstm_backward", {{"dhs", dhs}, {"dh_n", dh_n}, {"dc_n", dc_n}, {"hs", hs},
                                    {"cs", cs}, {"gates", gates}, {"h0", h0}, {"c0", c0},
                                    {"w_hh", w_hh}});
  const RnnShape s = layer_shape(args, dhs, "dhs", 1, h0, reverse);
  const int64_t L = s.steps, N = s.batch, H = s.hidden;
  for (const char* name : {"dh_n", "dc_n", "c0"}) args.get(name, {N, H});
  for (const char* name : {"hs", "cs"}) args.get(name, {L, N, H});
  args.get("gates", {L, N, 4 * H});
  args.get("w_hh", {4 * H, H});
  return args.is_f32() ? lstm_backward_typed<float>(args, s)
                       : lstm_backward_typed<double>(args, s);
}

// ---- GRU ---------------------------------------------------------------------------------

template <typename T, bool Reference>
py::tuple gru_forward_typed(const Args& args, const RnnShape& s, bool bias) {
  const auto x = args.contiguous<T>("x_proj"), w = args.contiguous<T>("w_hh");
  const auto h0 = args.contiguous<T>("h0");
  std::optional<py::array_t<T>> b;
  if (bias) b = args.contiguous<T>("b_hh");
  const int64_t L = s.steps, N = s.batch, H = s.hidden;
  auto hs = empty<T>({L, N, H}), gates = empty<T>({L, N, 4 * H});
  {
    py::gil_scoped_release release;
    const auto kernel = Reference ? ember::cpu::gru_forward_reference<T>
                                  : ember::cpu::gru_forward<T>;
    kernel(s, x.data(), w.data(), data_or_null(b), h0.data(), hs.mutable_data(),
           gates.mutable_data());
  }
  return py::make_tuple(hs, gates);
}

template <bool Reference>
py::tuple gru_forward(const py::array& x_proj, const py::array& w_hh,
                      const std::optional<py::array>& b_hh, const py::array& h0, bool reverse) {
  const Args args("gru_forward", with_bias({{"x_proj", x_proj}, {"w_hh", w_hh}, {"h0", h0}},
                                           b_hh));
  const RnnShape s = layer_shape(args, x_proj, "x_proj", 3, h0, reverse);
  const int64_t H = s.hidden;
  args.get("w_hh", {3 * H, H});
  if (b_hh) args.get("b_hh", {3 * H});
  return args.is_f32() ? gru_forward_typed<float, Reference>(args, s, b_hh.has_value())
                       : gru_forward_typed<double, Reference>(args, s, b_hh.has_value());
}

template <typename T>
py::tuple gru_backward_typed(const Args& args, const RnnShape& s) {
  const auto dhs = args.contiguous<T>("dhs"), dh_n = args.contiguous<T>("dh_n");
  const auto hs = args.contiguous<T>("hs"), gates = args.contiguous<T>("gates");
  const auto h0 = args.contiguous<T>("h0"), w = args.contiguous<T>("w_hh");
  const int64_t L = s.steps, N = s.batch, H = s.hidden;
  auto dx = empty<T>({L, N, 3 * H}), dw = empty<T>({3 * H, H}), db = empty<T>({3 * H});
  auto dh0 = empty<T>({N, H});
  {
    py::gil_scoped_release release;
    ember::cpu::gru_backward<T>(s, dhs.data(), dh_n.data(), hs.data(), gates.data(), h0.data(),
                                w.data(), dx.mutable_data(), dw.mutable_data(),
                                db.mutable_data(), dh0.mutable_data());
  }
  return py::make_tuple(dx, dw, db, dh0);
}

py::tuple gru_backward(const py::array& dhs, const py::array& dh_n, const py::array& hs,
                       const py::array& gates, const py::array& h0, const py::array& w_hh,
                       bool reverse) {
  const Args args("gru_backward", {{"dhs", dhs}, {"dh_n", dh_n}, {"hs", hs}, {"gates", gates},
                                   {"h0", h0}, {"w_hh", w_hh}});
  const RnnShape s = layer_shape(args, dhs, "dhs", 1, h0, reverse);
  const int64_t L = s.steps, N = s.batch, H = s.hidden;
  args.get("dh_n", {N, H});
  args.get("hs", {L, N, H});
  args.get("gates", {L, N, 4 * H});
  args.get("w_hh", {3 * H, H});
  return args.is_f32() ? gru_backward_typed<float>(args, s) : gru_backward_typed<double>(args, s);
}

// ---- Elman RNN ---------------------------------------------------------------------------

template <typename T, bool Reference>
py::array rnn_forward_typed(const Args& args, const RnnShape& s, bool bias, bool relu) {
  const auto x = args.contiguous<T>("x_proj"), w = args.contiguous<T>("w_hh");
  const auto h0 = args.contiguous<T>("h0");
  std::optional<py::array_t<T>> b;
  if (bias) b = args.contiguous<T>("b_hh");
  auto hs = empty<T>({s.steps, s.batch, s.hidden});
  {
    py::gil_scoped_release release;
    const auto kernel = Reference ? ember::cpu::rnn_forward_reference<T>
                                  : ember::cpu::rnn_forward<T>;
    kernel(s, relu, x.data(), w.data(), data_or_null(b), h0.data(), hs.mutable_data());
  }
  return hs;
}

template <bool Reference>
py::array rnn_forward(const py::array& x_proj, const py::array& w_hh,
                      const std::optional<py::array>& b_hh, const py::array& h0, bool reverse,
                      bool relu) {
  const Args args("rnn_forward", with_bias({{"x_proj", x_proj}, {"w_hh", w_hh}, {"h0", h0}},
                                           b_hh));
  const RnnShape s = layer_shape(args, x_proj, "x_proj", 1, h0, reverse);
  const int64_t H = s.hidden;
  args.get("w_hh", {H, H});
  if (b_hh) args.get("b_hh", {H});
  return args.is_f32() ? rnn_forward_typed<float, Reference>(args, s, b_hh.has_value(), relu)
                       : rnn_forward_typed<double, Reference>(args, s, b_hh.has_value(), relu);
}

template <typename T>
py::tuple rnn_backward_typed(const Args& args, const RnnShape& s, bool relu) {
  const auto dhs = args.contiguous<T>("dhs"), dh_n = args.contiguous<T>("dh_n");
  const auto hs = args.contiguous<T>("hs"), h0 = args.contiguous<T>("h0");
  const auto w = args.contiguous<T>("w_hh");
  const int64_t L = s.steps, N = s.batch, H = s.hidden;
  auto dx = empty<T>({L, N, H}), dw = empty<T>({H, H}), db = empty<T>({H});
  auto dh0 = empty<T>({N, H});
  {
    py::gil_scoped_release release;
    ember::cpu::rnn_backward<T>(s, relu, dhs.data(), dh_n.data(), hs.data(), h0.data(),
                                w.data(), dx.mutable_data(), dw.mutable_data(),
                                db.mutable_data(), dh0.mutable_data());
  }
  return py::make_tuple(dx, dw, db, dh0);
}

py::tuple rnn_backward(const py::array& dhs, const py::array& dh_n, const py::array& hs,
                       const py::array& h0, const py::array& w_hh, bool reverse, bool relu) {
  const Args args("rnn_backward", {{"dhs", dhs}, {"dh_n", dh_n}, {"hs", hs}, {"h0", h0},
                                   {"w_hh", w_hh}});
  const RnnShape s = layer_shape(args, dhs, "dhs", 1, h0, reverse);
  const int64_t L = s.steps, N = s.batch, H = s.hidden;
  args.get("dh_n", {N, H});
  args.get("hs", {L, N, H});
  args.get("w_hh", {H, H});
  return args.is_f32() ? rnn_backward_typed<float>(args, s, relu)
                       : rnn_backward_typed<double>(args, s, relu);
}

}  // namespace

void bind_rnn(py::module_& m) {
  m.def("lstm_forward", &lstm_forward<false>, py::arg("x_proj"), py::arg("w_hh"), py::arg("b_hh"),
        py::arg("h0"), py::arg("c0"), py::arg("reverse") = false,
        "One LSTM layer direction over a sequence: x_proj (L, N, 4H) = x W_ih^T + b_ih,\n"
        "w_hh (4H, H), b_hh (4H,) or None, h0/c0 (N, H). Returns (hs, cs, gates): the\n"
        "hidden and cell states (L, N, H) of every step and the gate activations\n"
        "[i, f, g, o] (L, N, 4H) saved for lstm_backward. `reverse` runs t = L-1 .. 0.");
  m.def("lstm_backward", &lstm_backward, py::arg("dhs"), py::arg("dh_n"), py::arg("dc_n"),
        py::arg("hs"), py::arg("cs"), py::arg("gates"), py::arg("h0"), py::arg("c0"),
        py::arg("w_hh"), py::arg("reverse") = false,
        "Backprop through time of lstm_forward: from dhs (L, N, H) and dh_n, dc_n (N, H)\n"
        "returns (dx_proj (L, N, 4H), dw_hh (4H, H), db_hh (4H,), dh0, dc0 (N, H)).");
  m.def("gru_forward", &gru_forward<false>, py::arg("x_proj"), py::arg("w_hh"), py::arg("b_hh"),
        py::arg("h0"), py::arg("reverse") = false,
        "One GRU layer direction (PyTorch's equations): x_proj (L, N, 3H), w_hh (3H, H),\n"
        "b_hh (3H,) or None, h0 (N, H). Returns (hs (L, N, H), gates (L, N, 4H)) with\n"
        "gates = [r, z, n, W_hn h + b_hn] per step, saved for gru_backward.");
  m.def("gru_backward", &gru_backward, py::arg("dhs"), py::arg("dh_n"), py::arg("hs"),
        py::arg("gates"), py::arg("h0"), py::arg("w_hh"), py::arg("reverse") = false,
        "Backprop through time of gru_forward: returns (dx_proj (L, N, 3H), dw_hh (3H, H),\n"
        "db_hh (3H,), dh0 (N, H)).");
  m.def("rnn_forward", &rnn_forward<false>, py::arg("x_proj"), py::arg("w_hh"), py::arg("b_hh"),
        py::arg("h0"), py::arg("reverse") = false, py::arg("relu") = false,
        "One Elman RNN layer direction: h = act(x_proj[t] + h W_hh^T + b_hh), act = tanh\n"
        "(or relu). Returns hs (L, N, H).");
  m.def("rnn_backward", &rnn_backward, py::arg("dhs"), py::arg("dh_n"), py::arg("hs"),
        py::arg("h0"), py::arg("w_hh"), py::arg("reverse") = false, py::arg("relu") = false,
        "Backprop through time of rnn_forward: returns (dx_proj (L, N, H), dw_hh (H, H),\n"
        "db_hh (H,), dh0 (N, H)).");
  m.def("lstm_forward_reference", &lstm_forward<true>, py::arg("x_proj"), py::arg("w_hh"),
        py::arg("b_hh"), py::arg("h0"), py::arg("c0"), py::arg("reverse") = false,
        "lstm_forward by plain loops in double (slow; the tests' oracle).");
  m.def("gru_forward_reference", &gru_forward<true>, py::arg("x_proj"), py::arg("w_hh"),
        py::arg("b_hh"), py::arg("h0"), py::arg("reverse") = false,
        "gru_forward by plain loops in double (slow; the tests' oracle).");
  m.def("rnn_forward_reference", &rnn_forward<true>, py::arg("x_proj"), py::arg("w_hh"),
        py::arg("b_hh"), py::arg("h0"), py::arg("reverse") = false, py::arg("relu") = false,
        "rnn_forward by plain loops in double (slow; the tests' oracle).");
}
