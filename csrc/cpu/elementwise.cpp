#include "cpu/elementwise.h"

#include <algorithm>
#include <cmath>

#include "cpu/isa.h"  // EMBER_MULTIVERSION: the loops are compiled per ISA
#include "cpu/parallel.h"
#include "cpu/vec_math.h"

namespace ember::cpu {

namespace {

template <typename T>
void erf_impl(const T* x, T* y, int64_t n) {
  // erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt; std::erf is accurate to ~1 ulp.
  parallel_chunks(n, [&](int64_t lo, int64_t len) {
    for (int64_t i = lo; i < lo + len; ++i) y[i] = std::erf(x[i]);
  });
}

template <typename T>
void relu_forward_impl(const T* __restrict x, T* __restrict y, int64_t n) {
  // y = max(x, 0), NaN staying NaN (NaN < 0 is false); a select, so it vectorises
  parallel_chunks(n, [&](int64_t lo, int64_t len) {
    for (int64_t i = lo; i < lo + len; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];
  }, int64_t{1} << 14, /*min_chunks=*/8);
}

template <typename T>
void relu_backward_impl(const T* __restrict g, const T* __restrict y, T* __restrict out,
                        int64_t n) {
  // dL/dx = dL/dy where y = max(x, 0) > 0, else 0 (a select: vectorises, no branch)
  parallel_chunks(n, [&](int64_t lo, int64_t len) {
    for (int64_t i = lo; i < lo + len; ++i) {
      const T gi = g[i], yi = y[i];  // both loaded unconditionally: the select vectorises
      out[i] = yi > T(0) ? gi : T(0);
    }
  }, int64_t{1} << 14, /*min_chunks=*/8);
}

// ---- GELU --------------------------------------------------------------------------------
// exact:  y = x Phi(x),  Phi(x) = (1 + erf(x / sqrt 2)) / 2  (the standard normal's CDF)
//         dy/dx = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)  (its density)
// tanh:   y = x (1 + t) / 2,  t = tanh(u),  u = sqrt(2/pi) (x + 0.044715 x^3)
//         dy/dx = (1 + t) / 2 + x (1 - t^2) u' / 2,  u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
// float uses the vectorisable erfc/exp/tanh of vec_math.h; double uses std::erfc (accurate
// to an ulp; double is for gradient checks, not speed) and vec_math's double exp/tanh.
constexpr double kSqrtHalf = 0.70710678118654752440;       // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;     // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;    // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

// Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF. Not written as 1 + erf: for
// x < 0 that cancels (Phi(-5) = 2.9e-7 would keep one digit in float, and below -5.7 none);
// through erfc, Phi(x) = erfc(-x / sqrt 2) / 2 keeps full relative precision in the tail.
inline float normal_cdf(float x) {
  const float half_erfc = 0.5f * erfc_fast_nonneg((x < 0.0f ? -x : x) * float(kSqrtHalf));
  return x < 0.0f ? half_erfc : 1.0f - half_erfc;  // Phi(x) = 1 - Phi(-x)
}
inline double normal_cdf(double x) { return 0.5 * std::erfc(-x * kSqrtHalf); }

template <typename T, bool kTanh>
inline __attribute__((always_inline)) void gelu_range(const T* __restrict x, T* __restrict y,
                                                      int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T xi = x[i];
    if constexpr (kTanh) {
      const T u = T(kSqrt2OverPi) * (xi + T(kGeluCubic) * xi * xi * xi);
      y[i] = T(0.5) * xi * (T(1) + tanh_fast(u));
    } else {
      y[i] = xi * normal_cdf(xi);
    }
  }
}

template <typename T, bool kTanh>
inline __attribute__((always_inline)) void gelu_grad_range(const T* __restrict g,
                                                           const T* __restrict x,
                                                           T* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T xi = x[i];
    T slope;
    if constexpr (kTanh) {
      const T x2 = xi * xi;
      const T t = tanh_fast(T(kSqrt2OverPi) * (xi + T(kGeluCubic) * x2 * xi));
      const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x2);
      slope = T(0.5) * (T(1) + t) + T(0.5) * xi * (T(1) - t * t) * du;
    } else {
      const T cdf = normal_cdf(xi);
      const T pdf = T(kInvSqrt2Pi) * exp_fast(T(-0.5) * xi * xi);
      slope = cdf + xi * pdf;
    }
    dx[i] = g[i] * slope;
  }
}

EMBER_MULTIVERSION void gelu_chunk(const float* x, float* y, int64_t n, bool tanh_approx) {
  if (tanh_approx) gelu_range<float, true>(x, y, n);
  else gelu_range<float, false>(x, y, n);
}
EMBER_MULTIVERSION void gelu_chunk(const double* x, double* y, int64_t n, bool tanh_approx) {
  if (tanh_approx) gelu_range<double, true>(x, y, n);
  else gelu_range<double, false>(x, y, n);
}
EMBER_MULTIVERSION void gelu_grad_chunk(const float* g, const float* x, float* dx, int64_t n,
                                        bool tanh_approx) {
  if (tanh_approx) gelu_grad_range<float, true>(g, x, dx, n);
  else gelu_grad_range<float, false>(g, x, dx, n);
}
EMBER_MULTIVERSION void gelu_grad_chunk(const double* g, const double* x, double* dx,
                                        int64_t n, bool tanh_approx) {
  if (tanh_approx) gelu_grad_range<double, true>(g, x, dx, n);
  else gelu_grad_range<double, false>(g, x, dx, n);
}

template <typename T>
void gelu_forward_impl(const T* x, T* y, int64_t n, bool tanh_approx) {
  parallel_chunks(n, [&](int64_t lo, int64_t len) { gelu_chunk(x + lo, y + lo, len, tanh_approx); });
}

template <typename T>
void gelu_backward_impl(const T* g, const T* x, T* dx, int64_t n, bool tanh_approx) {
  parallel_chunks(n, [&](int64_t lo, int64_t len) {
    gelu_grad_chunk(g + lo, x + lo, dx + lo, len, tanh_approx);
  });
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t n) { relu_forward_impl(x, y, n); }
void relu_forward(const double* x, double* y, int64_t n) { relu_forward_impl(x, y, n); }

void relu_backward(const float* g, const float* y, float* out, int64_t n) {
  relu_backward_impl(g, y, out, n);
}
void relu_backward(const double* g, const double* y, double* out, int64_t n) {
  relu_backward_impl(g, y, out, n);
}

void erf_forward(const float* x, float* y, int64_t n) { erf_impl(x, y, n); }
void erf_forward(const double* x, double* y, int64_t n) { erf_impl(x, y, n); }

void gelu_forward(const float* x, float* y, int64_t n, bool tanh_approx) {
  gelu_forward_impl(x, y, n, tanh_approx);
}
void gelu_forward(const double* x, double* y, int64_t n, bool tanh_approx) {
  gelu_forward_impl(x, y, n, tanh_approx);
}
void gelu_backward(const float* g, const float* x, float* dx, int64_t n, bool tanh_approx) {
  gelu_backward_impl(g, x, dx, n, tanh_approx);
}
void gelu_backward(const double* g, const double* x, double* dx, int64_t n, bool tanh_approx) {
  gelu_backward_impl(g, x, dx, n, tanh_approx);
}

}  // namespace ember::cpu
