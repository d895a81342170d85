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

#include "cpu/isa.h"  // EMBER_MULTIVERSION: the loops are compiled per ISA
#include "cpu/parallel.h"

namespace ember::cpu {

// ---- reference: the per-element formula above as a plain loop (in double) -----------------
// The tests' oracle for the fused loop below (tests/test_kernel_references.py).
template <typename T>
void adam_step_reference(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                         int64_t n, const AdamConfig& c) {
  const double bias1 = 1.0 - std::pow(c.beta1, double(c.step));
  const double bias2 = 1.0 - std::pow(c.beta2, double(c.step));
  for (int64_t i = 0; i < n; ++i) {
    double p = double(param[i]), g = c.maximize ? -double(grad[i]) : double(grad[i]);
    if (c.decoupled) p *= 1.0 - c.lr * c.weight_decay;
    else g += c.weight_decay * p;
    const double m = c.beta1 * double(exp_avg[i]) + (1.0 - c.beta1) * g;
    const double v = c.beta2 * double(exp_avg_sq[i]) + (1.0 - c.beta2) * g * g;
    double vhat = v;
    if (c.amsgrad) {
      vhat = std::max(double(max_exp_avg_sq[i]), v);
      max_exp_avg_sq[i] = T(vhat);
    }
    p -= c.lr / bias1 * m / (std::sqrt(vhat) / std::sqrt(bias2) + c.eps);
    param[i] = T(p);
    exp_avg[i] = T(m);
    exp_avg_sq[i] = T(v);
  }
}

template void adam_step_reference<float>(float*, const float*, float*, float*, float*, int64_t,
                                         const AdamConfig&);
template void adam_step_reference<double>(double*, const double*, double*, double*, double*,
                                          int64_t, const AdamConfig&);

namespace {

// The per-step constants, folded once so the loop is pure multiply-adds, a sqrt and a divide.
template <typename T>
struct AdamConstants {
  T beta1, beta2, one_m_b1, one_m_b2, step_size, inv_sqrt_bias2, eps, l2, decay, sign;

  explicit AdamConstants(const AdamConfig& c)
      : beta1(T(c.beta1)), beta2(T(c.beta2)), one_m_b1(T(1.0 - c.beta1)),
        one_m_b2(T(1.0 - c.beta2)),
        step_size(T(c.lr / (1.0 - std::pow(c.beta1, double(c.step))))),
        inv_sqrt_bias2(T(1.0 / std::sqrt(1.0 - std::pow(c.beta2, double(c.step))))),
        eps(T(c.eps)), l2(c.decoupled ? T(0) : T(c.weight_decay)),
        decay(c.decoupled ? T(1.0 - c.lr * c.weight_decay) : T(1)), sign(c.maximize ? -1 : 1) {}
};

template <typename T, bool kAmsgrad>
inline __attribute__((always_inline)) void adam_range(T* __restrict p, const T* __restrict grad,
                                                      T* __restrict m, T* __restrict v,
                                                      T* __restrict vmax, int64_t n,
                                                      const AdamConstants<T>& k) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = k.sign * grad[i] + k.l2 * p[i];
    const T mi = k.beta1 * m[i] + k.one_m_b1 * g;
    const T vi = k.beta2 * v[i] + k.one_m_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    T vhat = vi;
    if constexpr (kAmsgrad) {
      vhat = vmax[i] > vi ? vmax[i] : vi;
      vmax[i] = vhat;
    }
    p[i] = p[i] * k.decay - k.step_size * mi / (std::sqrt(vhat) * k.inv_sqrt_bias2 + k.eps);
  }
}

EMBER_MULTIVERSION void adam_chunk(float* p, const float* g, float* m, float* v, float* vmax,
                                   int64_t n, const AdamConstants<float>& k) {
  if (vmax) adam_range<float, true>(p, g, m, v, vmax, n, k);
  else adam_range<float, false>(p, g, m, v, vmax, n, k);
}

EMBER_MULTIVERSION void adam_chunk(double* p, const double* g, double* m, double* v,
                                   double* vmax, int64_t n, const AdamConstants<double>& k) {
  if (vmax) adam_range<double, true>(p, g, m, v, vmax, n, k);
  else adam_range<double, false>(p, g, m, v, vmax, n, k);
}

template <typename T>
void adam_impl(T* p, const T* grad, T* m, T* v, T* vmax, int64_t n, const AdamConfig& c) {
  const AdamConstants<T> k(c);
  // Static chunks of whole cache lines, one run per thread: each thread streams its own
  // contiguous slice of all four arrays.
  parallel_chunks(n, [&](int64_t lo, int64_t len) {
    adam_chunk(p + lo, grad + lo, m + lo, v + lo, vmax ? vmax + lo : nullptr, len, k);
  }, int64_t{1} << 14, /*min_chunks=*/16);
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
