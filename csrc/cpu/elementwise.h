// Elementwise kernels NumPy does not provide (erf, GELU) or runs single-threaded in
// several passes (relu's backward: compare, cast, multiply; GELU: ~8 passes each way).
// All take n contiguous elements and are multi-threaded over chunks.
#pragma once
#include <cstdint>

namespace ember::cpu {

// y[i] = erf(x[i]).
void erf_forward(const float* x, float* y, int64_t n);
void erf_forward(const double* x, double* y, int64_t n);

// y[i] = max(x[i], 0) (NaN stays NaN): relu, threaded (NumPy's maximum is not).
void relu_forward(const float* x, float* y, int64_t n);
void relu_forward(const double* x, double* y, int64_t n);

// out[i] = y[i] > 0 ? g[i] : 0: relu's backward from its output (one pass).
void relu_backward(const float* g, const float* y, float* out, int64_t n);
void relu_backward(const double* g, const double* y, double* out, int64_t n);

// y = gelu(x): x Phi(x) (exact, with erf) or its tanh approximation (tanh_approx).
void gelu_forward(const float* x, float* y, int64_t n, bool tanh_approx);
void gelu_forward(const double* x, double* y, int64_t n, bool tanh_approx);

// dx = g * gelu'(x), in one pass (formulas in elementwise.cpp).
void gelu_backward(const float* g, const float* x, float* dx, int64_t n, bool tanh_approx);
void gelu_backward(const double* g, const double* x, double* dx, int64_t n, bool tanh_approx);

}  // namespace ember::cpu
