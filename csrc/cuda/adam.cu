// Fused Adam / AdamW on the GPU and its binding `adam_step(...)` (same signature, checks
// and math as the CPU `ember._C.adam_step`, bindings_adam.cpp / cpu/adam.cpp). Reference:
// `ember._C.adam_step_reference`, the plain loop at the top of cpu/adam.cpp
// (tests/test_kernel_references.py).
//
// One pass over memory: every element of param, grad, exp_avg (m), exp_avg_sq (v) and,
// with amsgrad, max_exp_avg_sq is read once and the state written once, so the step is
// bound by memory bandwidth (7 x 4 bytes per float32 element). Per element: PyTorch's
// algorithm, written out once at the top of cpu/adam.cpp (here with the constants folded on
// the host in the parameter's precision).
//
// Kernel: a grid-stride loop over 4-element groups; float32 arrays that are all 16-byte
// aligned move as float4 (one 128-bit load/store per array per group), the rest (float64,
// misaligned views, the n % 4 tail) element by element. The grid is sized to keep ~2048
// threads per SM busy, enough loads in flight to saturate HBM.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>
#include <type_traits>

#include "cuda/device_array.h"
#include "cuda/gemm.cuh"     // sm_count, DeviceGuard, aligned16
#include "cuda/kernels.h"  // contiguous

namespace py = pybind11;

namespace ember::cuda {
namespace {

template <typename T>
struct AdamConstants {
  T beta1, beta2, one_m_b1, one_m_b2, step_size, inv_sqrt_bias2, eps, l2, decay, sign;
};

template <typename T>
AdamConstants<T> make_constants(double lr, double beta1, double beta2, double eps, double wd,
                                int64_t step, bool maximize, bool decoupled) {
  AdamConstants<T> k;
  k.beta1 = T(beta1);
  k.beta2 = T(beta2);
  k.one_m_b1 = T(1.0 - beta1);
  k.one_m_b2 = T(1.0 - beta2);
  k.step_size = T(lr / (1.0 - std::pow(beta1, double(step))));
  k.inv_sqrt_bias2 = T(1.0 / std::sqrt(1.0 - std::pow(beta2, double(step))));
  k.eps = T(eps);
  k.l2 = decoupled ? T(0) : T(wd);
  k.decay = decoupled ? T(1.0 - lr * wd) : T(1);
  k.sign = maximize ? T(-1) : T(1);
  return k;
}

// The update of one element; returns the new parameter and updates m, v (and vmax).
template <typename T, bool kAmsgrad>
__device__ __forceinline__ T adam_element(T p, T grad, T& m, T& v, T& vmax,
                                          const AdamConstants<T>& k) {
  const T g = k.sign * grad + k.l2 * p;
  m = k.beta1 * m + k.one_m_b1 * g;
  v = k.beta2 * v + k.one_m_b2 * g * g;
  T vhat = v;
  if constexpr (kAmsgrad) {
    vhat = vmax > v ? vmax : v;
    vmax = vhat;
  }
  return p * k.decay - k.step_size * m / (sqrt(vhat) * k.inv_sqrt_bias2 + k.eps);
}

template <typename T, bool kAmsgrad>
__device__ __forceinline__ void adam_scalar(int64_t i, T* __restrict__ p,
                                            const T* __restrict__ g, T* __restrict__ m,
                                            T* __restrict__ v, T* __restrict__ vmax,
                                            const AdamConstants<T>& k) {
  T mi = m[i], vi = v[i], xi = kAmsgrad ? vmax[i] : T(0);
  p[i] = adam_element<T, kAmsgrad>(p[i], g[i], mi, vi, xi, k);
  m[i] = mi;
  v[i] = vi;
  if (kAmsgrad) vmax[i] = xi;
}

// vec4: all arrays 16-byte aligned and T = float: groups of 4 move as float4.
template <typename T, bool kAmsgrad>
__global__ void __launch_bounds__(256)
    adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                T* __restrict__ v, T* __restrict__ vmax, int64_t n, bool vec4,
                const AdamConstants<T> k) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t done = 0;  // elements handled by the vector loop
  if constexpr (std::is_same_v<T, float>) {
    if (vec4) {
      const int64_t n4 = n / 4;
      for (int64_t i = first; i < n4; i += stride) {
        float4 pp = reinterpret_cast<float4*>(p)[i];
        const float4 gg = reinterpret_cast<const float4*>(g)[i];
        float4 mm = reinterpret_cast<float4*>(m)[i];
        float4 vv = reinterpret_cast<float4*>(v)[i];
        float4 xx = kAmsgrad ? reinterpret_cast<float4*>(vmax)[i] : make_float4(0, 0, 0, 0);
        pp.x = adam_element<float, kAmsgrad>(pp.x, gg.x, mm.x, vv.x, xx.x, k);
        pp.y = adam_element<float, kAmsgrad>(pp.y, gg.y, mm.y, vv.y, xx.y, k);
        pp.z = adam_element<float, kAmsgrad>(pp.z, gg.z, mm.z, vv.z, xx.z, k);
        pp.w = adam_element<float, kAmsgrad>(pp.w, gg.w, mm.w, vv.w, xx.w, k);
        reinterpret_cast<float4*>(p)[i] = pp;
        reinterpret_cast<float4*>(m)[i] = mm;
        reinterpret_cast<float4*>(v)[i] = vv;
        if (kAmsgrad) reinterpret_cast<float4*>(vmax)[i] = xx;
      }
      done = n4 * 4;
    }
  }
  for (int64_t i = done + first; i < n; i += stride) adam_scalar<T, kAmsgrad>(i, p, g, m, v, vmax, k);
}

template <typename T>
void launch_adam(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamConstants<T>& k) {
  if (n == 0) return;
  bool vec4 = std::is_same_v<T, float> && aligned16(p) && aligned16(g) && aligned16(m) &&
              aligned16(v) && (vmax == nullptr || aligned16(vmax));
  const int64_t items = vec4 ? (n + 3) / 4 : n;
  const int64_t max_blocks = static_cast<int64_t>(sm_count()) * 8;  // ~2048 threads per SM
  const unsigned blocks = static_cast<unsigned>(
      std::max<int64_t>(1, std::min<int64_t>((items + 255) / 256, max_blocks)));
  if (vmax)
    adam_kernel<T, true><<<blocks, 256>>>(p, g, m, v, vmax, n, vec4, k);
  else
    adam_kernel<T, false><<<blocks, 256>>>(p, g, m, v, vmax, n, vec4, k);
  EMBER_CUDA_CHECK_LAUNCH("adam_kernel");
}

// ---- binding ----------------------------------------------------------------------------

// The boundary checks shared with the CPU module (csrc/checks.h: dtypes, sizes, contiguity)
// plus one device for all operands.
void require_one_device(const DeviceArray& param, const DeviceArray& a, const char* name) {
  if (a.device() != param.device())
    ember::checks::fail_value("adam_step", std::string(name) + " is on cuda:" +
                                               std::to_string(a.device()) +
                                               " but the parameter is on cuda:" +
                                               std::to_string(param.device()));
}

template <typename T>
void step_typed(const DeviceArray& param, const DeviceArray& grad, const DeviceArray& m,
                const DeviceArray& v, const std::optional<DeviceArray>& vmax, bool amsgrad,
                const AdamConstants<T>& k) {
  require_one_device(param, grad, "grad");
  require_one_device(param, m, "exp_avg");
  require_one_device(param, v, "exp_avg_sq");
  if (amsgrad) require_one_device(param, *vmax, "max_exp_avg_sq");
  DeviceGuard guard(param.device());
  // grad is only read: any view (e.g. a broadcast) is fine after one contiguous copy, as
  // the CPU binding's forcecast does. `g` lives until the launch is queued, and the
  // allocator reuses freed blocks in default-stream order.
  const DeviceArray g = contiguous(grad);
  launch_adam<T>(param.data_as<T>(), g.data_as<T>(), m.data_as<T>(), v.data_as<T>(),
                 amsgrad ? vmax->data_as<T>() : nullptr, param.numel(), k);
}

void adam_step_binding(const DeviceArray& param, const DeviceArray& grad,
                       const DeviceArray& exp_avg, const DeviceArray& exp_avg_sq,
                       const std::optional<DeviceArray>& max_exp_avg_sq, double lr,
                       double beta1, double beta2, double eps, double weight_decay,
                       int64_t step, bool amsgrad, bool maximize, bool decoupled) {
  ember::checks::require_adam_operands(param, grad, exp_avg, exp_avg_sq,
                                       max_exp_avg_sq ? &*max_exp_avg_sq : nullptr, amsgrad, step);
  if (param.dtype() == DType::Float32)
    step_typed<float>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad,
                      make_constants<float>(lr, beta1, beta2, eps, weight_decay, step,
                                            maximize, decoupled));
  else
    step_typed<double>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad,
                       make_constants<double>(lr, beta1, beta2, eps, weight_decay, step,
                                              maximize, decoupled));
}

}  // namespace
}  // namespace ember::cuda

void bind_adam(pybind11::module_& m) {
  m.def("adam_step", &ember::cuda::adam_step_binding, py::arg("param"), py::arg("grad"),
        py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::arg("lr"),
        py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
        py::arg("step"), py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled"),
        "Fused Adam/AdamW update of one parameter device array, in place (one pass over\n"
        "memory, float4 vectorised).");
}
