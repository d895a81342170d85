// Binding of the fused Adam step: ember._C.adam_step(...).
//
// The step updates NumPy arrays in place, so it insists on what makes that safe
// (checks.h: require_adam_operands): the parameter and state arrays must be C-contiguous,
// writable, of one float dtype and of the same size as the gradient.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "binding_utils.h"
#include "cpu/adam.h"

namespace py = pybind11;

namespace {

using namespace ember::checks;

// checks.h checks dtypes, sizes and contiguity (shared with ember._cuda); a NumPy array
// may also be read-only, which an in-place update must not write through.
template <typename T>
T* writable(const py::array& a, const char* name) {
  if (!a.writeable()) fail_value("adam_step", std::string(name) + " must be a writable array");
  return static_cast<T*>(const_cast<void*>(a.data()));
}

template <typename T, bool Reference>
void step_typed(py::array param, py::array grad, py::array m, py::array v,
                std::optional<py::array> vmax, const ember::cpu::AdamConfig& cfg) {
  T* p = writable<T>(param, "param");
  auto g = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(grad);
  T* pm = writable<T>(m, "exp_avg");
  T* pv = writable<T>(v, "exp_avg_sq");
  T* pmax = cfg.amsgrad ? writable<T>(*vmax, "max_exp_avg_sq") : nullptr;
  py::gil_scoped_release release;
  if (Reference) ember::cpu::adam_step_reference<T>(p, g.data(), pm, pv, pmax, param.size(), cfg);
  else ember::cpu::adam_step(p, g.data(), pm, pv, pmax, param.size(), cfg);
}

template <bool Reference>
void adam_step(py::array param, py::array grad, py::array exp_avg, py::array exp_avg_sq,
               std::optional<py::array> max_exp_avg_sq, double lr, double beta1, double beta2,
               double eps, double weight_decay, int64_t step, bool amsgrad, bool maximize,
               bool decoupled) {
  require_adam_operands(param, grad, exp_avg, exp_avg_sq,
                        max_exp_avg_sq ? &*max_exp_avg_sq : nullptr, amsgrad, step);
  ember::cpu::AdamConfig cfg{lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize,
                             decoupled};
  if (kind_of(param) == Kind::Float32)
    step_typed<float, Reference>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, cfg);
  else
    step_typed<double, Reference>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, cfg);
}

}  // namespace

void bind_adam(py::module_& m) {
  for (const bool reference : {false, true})
    m.def(reference ? "adam_step_reference" : "adam_step",
          reference ? &adam_step<true> : &adam_step<false>, py::arg("param"), py::arg("grad"),
          py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::arg("lr"),
          py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
          py::arg("step"), py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled"),
          reference ? "adam_step by a plain loop in double (slow; the tests' oracle)."
                    : "Fused Adam/AdamW update of one parameter array, in place (one pass "
                      "over memory).");
}
