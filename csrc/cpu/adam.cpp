// Fused Adam / AdamW.
//
// The unfused optimizer makes ~10 passes over memory per parameter (one per tensor op:
// m*beta1, +(1-beta1)g, g*g, ..., p -= ...). Here every element is read once and written
// once: param, grad, m and v stream through the cache a single time, so the step runs at
// memory bandwidth. Per element (PyTorch's algorithm):
//
//   g  = maximize ? -grad : grad
//   g += wd * p                         (Adam's L2 weight decay)      or
//   p *= 1 - lr * wd                    (AdamW's decoupled decay)
//   m  = beta1 m + (1 - beta1) g
//   v  = beta2 v + (1 - beta2) g^2
//   vhat = amsgrad ? (vmax = max(vmax, v)) : v
//   p -= lr / (1 - beta1^t) * m / (sqrt(vhat) / sqrt(1 - beta2^t) + eps)
#include "cpu/adam.h"

#include <algorithm>
#include <cmath>

namespace ember::cpu {

namespace {

template <typename T>
void adam_impl(T* __restrict p, const T* __restrict grad, T* __restrict m, T* __restrict v,
               T* __restrict vmax, int64_t n, const AdamConfig& c) {
  const T beta1 = static_cast<T>(c.beta1), beta2 = static_cast<T>(c.beta2);
  const T one_m_b1 = static_cast<T>(1.0 - c.beta1), one_m_b2 = static_cast<T>(1.0 - c.beta2);
  const double bias1 = 1.0 - std::pow(c.beta1, static_cast<double>(c.step));
  const double bias2 = 1.0 - std::pow(c.beta2, static_cast<double>(c.step));
  const T step_size = static_cast<T>(c.lr / bias1);
  const T inv_sqrt_bias2 = static_cast<T>(1.0 / std::sqrt(bias2));
  const T eps = static_cast<T>(c.eps);
  const T l2 = c.decoupled ? T(0) : static_cast<T>(c.weight_decay);
  const T decay = c.decoupled ? static_cast<T>(1.0 - c.lr * c.weight_decay) : T(1);
  const T sign = c.maximize ? T(-1) : T(1);
  const bool ams = c.amsgrad;

#if defined(EMBER_OPENMP)
#pragma omp parallel for simd schedule(static) if (n > 65536)
#endif
  for (int64_t i = 0; i < n; ++i) {
    const T g = sign * grad[i] + l2 * p[i];
    const T pi = p[i] * decay;
    const T mi = beta1 * m[i] + one_m_b1 * g;
    const T vi = beta2 * v[i] + one_m_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    T vhat = vi;
    if (ams) {
      vhat = std::max(vmax[i], vi);
      vmax[i] = vhat;
    }
    p[i] = pi - step_size * mi / (std::sqrt(vhat) * inv_sqrt_bias2 + eps);
  }
}

}  // namespace

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamConfig& cfg) {
  adam_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, cfg);
}

void adam_step(double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
               double* max_exp_avg_sq, int64_t n, const AdamConfig& cfg) {
  adam_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, cfg);
}

}  // namespace ember::cpu
