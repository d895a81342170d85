// Bindings of the native elementwise kernels (csrc/cpu/elementwise.h): erf, relu and its
// backward, GELU forward and backward. Each takes float32 or float64 arrays of any layout
// (copied to C order if needed) and returns a new C-contiguous array.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "binding_utils.h"
#include "cpu/elementwise.h"

namespace py = pybind11;
using namespace ember::bind;

namespace {

bool is_f32(const py::array& a) { return kind_of(a) == Kind::Float32; }

void require_float(const char* op, const py::array& a) { ember::checks::require_float(op, "array", a); }

// The two arrays of a binary kernel must match exactly (the Python side broadcasts).
void require_pair(const char* op, const char* first, const py::array& a, const char* second,
                  const py::array& b) {
  require_float(op, a);
  if (shape_of(a) != shape_of(b) || kind_of(a) != kind_of(b))
    fail_value(op, std::string(first) + " (" + describe(a) + ") and " + second + " (" +
                       describe(b) + ") must have the same shape and dtype");
}

// y = f(x) by an elementwise kernel `run(const T* x, T* y, n)`.
template <typename T, typename Run>
py::array unary(const py::array& x, Run run) {
  auto xc = contiguous<T>(x);
  auto y = empty_like<T>(xc);
  {
    py::gil_scoped_release release;
    run(xc.data(), y.mutable_data(), static_cast<int64_t>(xc.size()));
  }
  return y;
}

// out = f(a, b) by `run(const T* a, const T* b, T* out, n)`.
template <typename T, typename Run>
py::array binary(const py::array& a, const py::array& b, Run run) {
  auto ac = contiguous<T>(a);
  auto bc = contiguous<T>(b);
  auto out = empty_like<T>(ac);
  {
    py::gil_scoped_release release;
    run(ac.data(), bc.data(), out.mutable_data(), static_cast<int64_t>(ac.size()));
  }
  return out;
}

py::array erf_binding(const py::array& x) {
  require_float("erf", x);
  auto run = [](const auto* in, auto* out, int64_t n) { ember::cpu::erf_forward(in, out, n); };
  return is_f32(x) ? unary<float>(x, run) : unary<double>(x, run);
}

py::array relu_binding(const py::array& x) {
  require_float("relu", x);
  auto run = [](const auto* in, auto* out, int64_t n) { ember::cpu::relu_forward(in, out, n); };
  return is_f32(x) ? unary<float>(x, run) : unary<double>(x, run);
}

py::array relu_backward_binding(const py::array& g, const py::array& y) {
  require_pair("relu_backward", "gradient", g, "output", y);
  auto run = [](const auto* a, const auto* b, auto* out, int64_t n) {
    ember::cpu::relu_backward(a, b, out, n);
  };
  return is_f32(g) ? binary<float>(g, y, run) : binary<double>(g, y, run);
}

py::array gelu_binding(const py::array& x, bool tanh_approx) {
  require_float("gelu", x);
  auto run = [tanh_approx](const auto* in, auto* out, int64_t n) {
    ember::cpu::gelu_forward(in, out, n, tanh_approx);
  };
  return is_f32(x) ? unary<float>(x, run) : unary<double>(x, run);
}

py::array gelu_backward_binding(const py::array& g, const py::array& x, bool tanh_approx) {
  require_pair("gelu_backward", "gradient", g, "input", x);
  auto run = [tanh_approx](const auto* a, const auto* b, auto* out, int64_t n) {
    ember::cpu::gelu_backward(a, b, out, n, tanh_approx);
  };
  return is_f32(g) ? binary<float>(g, x, run) : binary<double>(g, x, run);
}

}  // namespace

void bind_elementwise(py::module_& m) {
  m.def("erf", &erf_binding, py::arg("x"), "Elementwise error function (float32/float64).");
  m.def("relu", &relu_binding, py::arg("x"), "max(x, 0) (NaN stays NaN), one threaded pass.");
  m.def("relu_backward", &relu_backward_binding, py::arg("g"), py::arg("y"),
        "g where y > 0 else 0 (relu's backward from its output), one threaded pass.");
  m.def("gelu", &gelu_binding, py::arg("x"), py::arg("tanh_approx") = false,
        "x * Phi(x) (or its tanh approximation), one threaded pass.");
  m.def("gelu_backward", &gelu_backward_binding, py::arg("g"), py::arg("x"),
        py::arg("tanh_approx") = false, "g * gelu'(x), one threaded pass.");
}
