// pybind11 bindings of the CPU kernels: the module `ember._C`.
//
// Every function checks its arguments here, at the boundary, and raises a Python
// exception that names the op, the shapes and the dtypes; the kernels behind it can
// then assume valid, contiguous input.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <sstream>
#include <string>
#include <vector>

#include "cpu/elementwise.h"

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif

namespace py = pybind11;

void bind_adam(py::module_& m);  // bindings_adam.cpp

namespace {

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// erf(x): returns a new contiguous array of x's dtype (float32 or float64).
py::array erf_binding(const py::array& x) {
  if (py::isinstance<py::array_t<float>>(x)) {
    auto xc = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x);
    py::array_t<float> y(std::vector<py::ssize_t>(xc.shape(), xc.shape() + xc.ndim()));
    {
      py::gil_scoped_release release;
      ember::cpu::erf_forward(xc.data(), y.mutable_data(), xc.size());
    }
    return y;
  }
  if (py::isinstance<py::array_t<double>>(x)) {
    auto xc = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(x);
    py::array_t<double> y(std::vector<py::ssize_t>(xc.shape(), xc.shape() + xc.ndim()));
    {
      py::gil_scoped_release release;
      ember::cpu::erf_forward(xc.data(), y.mutable_data(), xc.size());
    }
    return y;
  }
  std::ostringstream msg;
  msg << "erf: expected a float32 or float64 array, got dtype " << dtype_name(x);
  throw py::type_error(msg.str());
}

int num_threads() {
#if defined(EMBER_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "ember's native CPU kernels";
  bind_adam(m);
  m.def("erf", &erf_binding, py::arg("x"), "Elementwise error function (float32/float64).");
  m.def("num_threads", &num_threads, "Number of OpenMP threads the kernels use.");
}
