// Binding of the fused Adam step: ember._C.adam_step(...).
//
// The step updates NumPy arrays in place, so it insists on what makes that safe: the
// parameter and state arrays must be C-contiguous, writable, of one float dtype and of
// the same size as the gradient. Anything else raises, naming the array and the problem.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <sstream>
#include <string>

#include "cpu/adam.h"

namespace py = pybind11;

namespace {

std::string describe(const py::array& a) {
  std::ostringstream out;
  out << "shape (";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) out << (i ? ", " : "") << a.shape(i);
  out << (a.ndim() == 1 ? ",)" : ")") << " dtype " << py::str(a.dtype()).cast<std::string>();
  return out.str();
}

template <typename T>
T* writable(const py::array& a, const char* name, py::ssize_t n) {
  if (!py::isinstance<py::array_t<T>>(a))
    throw py::type_error(std::string("adam_step: ") + name + " has " + describe(a) +
                         "; expected the parameter's dtype");
  if (a.size() != n)
    throw py::value_error(std::string("adam_step: ") + name + " has " + describe(a) +
                          " but the parameter has " + std::to_string(n) + " elements");
  if (!(a.flags() & py::array::c_style) || !a.writeable())
    throw py::value_error(std::string("adam_step: ") + name +
                          " must be a C-contiguous, writable array");
  return static_cast<T*>(const_cast<void*>(a.data()));
}

template <typename T>
void step_typed(py::array param, py::array grad, py::array m, py::array v,
                std::optional<py::array> vmax, const ember::cpu::AdamConfig& cfg) {
  const py::ssize_t n = param.size();
  T* p = writable<T>(param, "param", n);
  if (!py::isinstance<py::array_t<T>>(grad) || grad.size() != n)
    throw py::value_error("adam_step: grad has " + describe(grad) + " but param has " +
                          describe(param));
  auto g = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(grad);
  T* pm = writable<T>(m, "exp_avg", n);
  T* pv = writable<T>(v, "exp_avg_sq", n);
  T* pmax = nullptr;
  if (cfg.amsgrad) {
    if (!vmax) throw py::value_error("adam_step: amsgrad=True needs max_exp_avg_sq");
    pmax = writable<T>(*vmax, "max_exp_avg_sq", n);
  }
  py::gil_scoped_release release;
  ember::cpu::adam_step(p, g.data(), pm, pv, pmax, n, cfg);
}

void adam_step(py::array param, py::array grad, py::array exp_avg, py::array exp_avg_sq,
               std::optional<py::array> max_exp_avg_sq, double lr, double beta1, double beta2,
               double eps, double weight_decay, int64_t step, bool amsgrad, bool maximize,
               bool decoupled) {
  if (step < 1) throw py::value_error("adam_step: step must be >= 1");
  ember::cpu::AdamConfig cfg{lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize,
                             decoupled};
  if (py::isinstance<py::array_t<float>>(param))
    step_typed<float>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, cfg);
  else if (py::isinstance<py::array_t<double>>(param))
    step_typed<double>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, cfg);
  else
    throw py::type_error("adam_step: param has " + describe(param) +
                         "; expected float32 or float64");
}

}  // namespace

void bind_adam(py::module_& m) {
  m.def("adam_step", &adam_step, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::arg("lr"), py::arg("beta1"),
        py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("step"),
        py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled"),
        "Fused Adam/AdamW update of one parameter array, in place (one pass over memory).");
}
