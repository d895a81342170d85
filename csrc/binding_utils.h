// Helpers of the CPU module's binding files: how the shared boundary checks (checks.h) read a
// NumPy array, and getting a C-contiguous view of it in one of the float dtypes the kernels take.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "checks.h"

namespace ember::checks {

template <>
struct ArrayTraits<pybind11::array> {
  static Shape shape(const pybind11::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }
  // By equivalence (kind, size and native byte order), not `a.dtype().is(...)`: that
  // compares the dtype objects' identity, and e.g. an unpickled array has its own.
  static Kind kind(const pybind11::array& a) {
    namespace py = pybind11;
    if (py::isinstance<py::array_t<float>>(a)) return Kind::Float32;
    if (py::isinstance<py::array_t<double>>(a)) return Kind::Float64;
    if (py::isinstance<py::array_t<bool>>(a)) return Kind::Bool;
    if (py::isinstance<py::array_t<int64_t>>(a)) return Kind::Int64;
    return Kind::Other;
  }
  static std::string dtype_name(const pybind11::array& a) {
    return pybind11::str(a.dtype()).cast<std::string>();
  }
  static bool contiguous(const pybind11::array& a) {
    return (a.flags() & pybind11::array::c_style) != 0;
  }
};

}  // namespace ember::checks

namespace ember::bind {

namespace py = pybind11;
using namespace ember::checks;

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
