// Elementwise kernels NumPy does not provide (erf for the exact GELU) or runs single-
// threaded in several passes (relu's backward: compare, cast, multiply).
#pragma once
#include <cstdint>

namespace ember::cpu {

// y[i] = erf(x[i]) for n contiguous elements. Multi-threaded over chunks.
void erf_forward(const float* x, float* y, int64_t n);
void erf_forward(const double* x, double* y, int64_t n);

// out[i] = y[i] > 0 ? g[i] : 0: relu's backward from its output (one pass, threaded).
void relu_backward(const float* g, const float* y, float* out, int64_t n);
void relu_backward(const double* g, const double* y, double* out, int64_t n);

}  // namespace ember::cpu
