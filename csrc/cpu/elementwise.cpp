#include "cpu/elementwise.h"

#include <cmath>

namespace ember::cpu {

namespace {
template <typename T>
void erf_impl(const T* x, T* y, int64_t n) {
  // erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt; std::erf is accurate to ~1 ulp.
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (n > 32768)
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = std::erf(x[i]);
}
template <typename T>
void relu_backward_impl(const T* g, const T* y, T* out, int64_t n) {
  // dL/dx = dL/dy where y = max(x, 0) > 0, else 0 (a select: vectorises, no branch)
#if defined(EMBER_OPENMP)
#pragma omp parallel for simd schedule(static) if (n > (1 << 17))
#endif
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i], yi = y[i];  // both loaded unconditionally, so the select vectorises
    out[i] = yi > T(0) ? gi : T(0);
  }
}
}  // namespace

void relu_backward(const float* g, const float* y, float* out, int64_t n) {
  relu_backward_impl(g, y, out, n);
}
void relu_backward(const double* g, const double* y, double* out, int64_t n) {
  relu_backward_impl(g, y, out, n);
}

void erf_forward(const float* x, float* y, int64_t n) { erf_impl(x, y, n); }
void erf_forward(const double* x, double* y, int64_t n) { erf_impl(x, y, n); }

}  // namespace ember::cpu
