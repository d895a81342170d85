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
}  // namespace

void erf_forward(const float* x, float* y, int64_t n) { erf_impl(x, y, n); }
void erf_forward(const double* x, double* y, int64_t n) { erf_impl(x, y, n); }

}  // namespace ember::cpu
