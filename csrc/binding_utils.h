// Small helpers shared by the binding files: describing an array in an error message and
// getting a C-contiguous view of it in one of the two float dtypes the kernels take.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <sstream>
#include <string>
#include <vector>

namespace ember::bind {

namespace py = pybind11;

// "float32"
inline std::string dtype_name(const py::array& a) {
  return py::str(a.dtype()).cast<std::string>();
}

// "(2, 3)" / "(3,)": a shape written the way Python prints it.
inline std::string shape_str(const py::array& a) {
  std::ostringstream out;
  out << "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) out << (d ? ", " : "") << a.shape(d);
  out << (a.ndim() == 1 ? ",)" : ")");
  return out.str();
}

// "shape (2, 3) float32"
inline std::string describe(const py::array& a) {
  return "shape " + shape_str(a) + " " + dtype_name(a);
}

// Whether a and b hold the same one of the two float dtypes. (Not `a.dtype().is(...)`:
// that compares the dtype objects' identity, and e.g. an unpickled array has its own.)
inline bool same_float_dtype(const py::array& a, const py::array& b) {
  const bool af = py::isinstance<py::array_t<float>>(a), bf = py::isinstance<py::array_t<float>>(b);
  const bool ad = py::isinstance<py::array_t<double>>(a), bd = py::isinstance<py::array_t<double>>(b);
  return (af && bf) || (ad && bd);
}

inline bool same_shape(const py::array& a, const py::array& b) {
  if (a.ndim() != b.ndim()) return false;
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    if (a.shape(d) != b.shape(d)) return false;
  return true;
}

// A C-contiguous array of T holding a's values (a itself when it already is one).
template <typename T>
py::array_t<T, py::array::c_style> contiguous(const py::array& a) {
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
}

// A new uninitialised C-contiguous array of T with a's shape.
template <typename T>
py::array_t<T> empty_like(const py::array& a) {
  return py::array_t<T>(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
}

}  // namespace ember::bind
