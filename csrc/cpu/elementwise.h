// Elementwise kernels that NumPy does not provide (erf for the exact GELU).
#pragma once
#include <cstdint>

namespace ember::cpu {

// y[i] = erf(x[i]) for n contiguous elements. Multi-threaded over chunks.
void erf_forward(const float* x, float* y, int64_t n);
void erf_forward(const double* x, double* y, int64_t n);

}  // namespace ember::cpu
