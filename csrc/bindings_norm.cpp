// Bindings of the fused layer norm (csrc/cpu/layer_norm.h): ember._C.layer_norm_forward
// and layer_norm_backward. Normalisation is over the last dimension; the Python side
// flattens a multi-dimensional normalized_shape into it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "binding_utils.h"
#include "cpu/layer_norm.h"

namespace py = pybind11;
using namespace ember::bind;

namespace {

using OptArray = std::optional<py::array>;

// The row length d of x (its last dimension), after checking x's dtype and rank.
int64_t check_input(const char* op, const py::array& x) {
  require_float(op, "input", x);
  if (x.ndim() < 1)
    fail_value(op, "expected an input with at least 1 dimension (normalised over the last), "
                   "got " + describe(x));
  return x.shape(x.ndim() - 1);
}

// weight / bias: absent, or 1-d of length d in x's dtype.
void check_affine(const char* op, const char* name, const OptArray& a, const py::array& x,
                  int64_t d) {
  if (!a) return;
  if (shape_of(*a) != Shape{d} || kind_of(*a) != kind_of(x))
    fail_value(op, std::string(name) + " has " + describe(*a) + " but the input " +
                       describe(x) + " needs (" + std::to_string(d) + ",) of its dtype");
}

// An array that must have exactly `expected` elements of x's dtype (the saved statistics).
void check_stat(const char* op, const char* name, const py::array& a, const py::array& x,
                int64_t expected) {
  if (a.size() != expected || kind_of(a) != kind_of(x))
    fail_value(op, std::string(name) + " has " + describe(a) + " but the input " +
                       describe(x) + " has " + std::to_string(expected) + " rows of its dtype");
}

// The number of rows: the product of all but the last dimension (also when d == 0).
int64_t leading_rows(const py::array& x) {
  int64_t rows = 1;
  for (py::ssize_t i = 0; i + 1 < x.ndim(); ++i) rows *= x.shape(i);
  return rows;
}

template <typename T>
const T* data_or_null(const std::optional<py::array_t<T, py::array::c_style>>& a) {
  return a ? a->data() : nullptr;
}

template <typename T, bool Reference>
py::tuple forward_typed(const py::array& x_in, const OptArray& w_in, const OptArray& b_in,
                        double eps) {
  auto x = contiguous<T>(x_in);
  const int64_t d = x.shape(x.ndim() - 1), rows = leading_rows(x);
  std::optional<py::array_t<T, py::array::c_style>> w, b;
  if (w_in) w = contiguous<T>(*w_in);
  if (b_in) b = contiguous<T>(*b_in);
  py::array_t<T> y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const std::vector<py::ssize_t> stat_shape(x.shape(), x.shape() + x.ndim() - 1);
  py::array_t<T> mean(stat_shape), rstd(stat_shape);
  {
    py::gil_scoped_release release;
    if (Reference)
      ember::cpu::layer_norm_forward_reference<T>(x.data(), data_or_null(w), data_or_null(b),
                                                  y.mutable_data(), mean.mutable_data(),
                                                  rstd.mutable_data(), rows, d, eps);
    else
      ember::cpu::layer_norm_forward(x.data(), data_or_null(w), data_or_null(b),
                                     y.mutable_data(), mean.mutable_data(), rstd.mutable_data(),
                                     rows, d, eps);
  }
  return py::make_tuple(y, mean, rstd);
}

template <bool Reference>
py::tuple forward_binding(const py::array& x, const OptArray& weight, const OptArray& bias,
                          double eps) {
  const char* op = "layer_norm";
  const int64_t d = check_input(op, x);
  check_affine(op, "weight", weight, x, d);
  check_affine(op, "bias", bias, x, d);
  if (kind_of(x) == Kind::Float32) return forward_typed<float, Reference>(x, weight, bias, eps);
  return forward_typed<double, Reference>(x, weight, bias, eps);
}

template <typename T, bool Reference>
py::tuple backward_typed(const py::array& g_in, const py::array& x_in, const OptArray& w_in,
                         const py::array& mean_in, const py::array& rstd_in) {
  auto g = contiguous<T>(g_in);
  auto x = contiguous<T>(x_in);
  auto mean = contiguous<T>(mean_in);
  auto rstd = contiguous<T>(rstd_in);
  std::optional<py::array_t<T, py::array::c_style>> w;
  if (w_in) w = contiguous<T>(*w_in);
  const int64_t d = x.shape(x.ndim() - 1), rows = leading_rows(x);
  py::array_t<T> dx(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  py::array_t<T> dw(std::vector<py::ssize_t>{static_cast<py::ssize_t>(d)});
  py::array_t<T> db(std::vector<py::ssize_t>{static_cast<py::ssize_t>(d)});
  {
    py::gil_scoped_release release;
    if (Reference)
      ember::cpu::layer_norm_backward_reference<T>(g.data(), x.data(), data_or_null(w),
                                                   mean.data(), rstd.data(), dx.mutable_data(),
                                                   dw.mutable_data(), db.mutable_data(), rows, d);
    else
      ember::cpu::layer_norm_backward(g.data(), x.data(), data_or_null(w), mean.data(),
                                      rstd.data(), dx.mutable_data(), dw.mutable_data(),
                                      db.mutable_data(), rows, d);
  }
  return py::make_tuple(dx, dw, db);
}

template <bool Reference>
py::tuple backward_binding(const py::array& g, const py::array& x, const OptArray& weight,
                           const py::array& mean, const py::array& rstd) {
  const char* op = "layer_norm_backward";
  const int64_t d = check_input(op, x);
  if (shape_of(g) != shape_of(x) || kind_of(g) != kind_of(x))
    fail_value(op, "gradient " + describe(g) + " and input " + describe(x) +
                       " must have the same shape and dtype");
  check_affine(op, "weight", weight, x, d);
  const int64_t rows = leading_rows(x);
  check_stat(op, "mean", mean, x, rows);
  check_stat(op, "rstd", rstd, x, rows);
  if (kind_of(x) == Kind::Float32)
    return backward_typed<float, Reference>(g, x, weight, mean, rstd);
  return backward_typed<double, Reference>(g, x, weight, mean, rstd);
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def("layer_norm_forward", &forward_binding<false>, py::arg("x"), py::arg("weight"),
        py::arg("bias"), py::arg("eps"),
        "Layer norm over the last dimension: returns (y, mean, rstd), the statistics with\n"
        "x's leading shape. weight/bias may be None.");
  m.def("layer_norm_backward", &backward_binding<false>, py::arg("g"), py::arg("x"),
        py::arg("weight"), py::arg("mean"), py::arg("rstd"),
        "Gradients (dx, dweight, dbias) of layer_norm_forward, from its saved statistics.");
  m.def("layer_norm_reference", &forward_binding<true>, py::arg("x"), py::arg("weight"),
        py::arg("bias"), py::arg("eps"),
        "layer_norm_forward by plain loops in double (slow; the tests' oracle).");
  m.def("layer_norm_backward_reference", &backward_binding<true>, py::arg("g"), py::arg("x"),
        py::arg("weight"), py::arg("mean"), py::arg("rstd"),
        "layer_norm_backward by plain loops in double (slow; the tests' oracle).");
}
