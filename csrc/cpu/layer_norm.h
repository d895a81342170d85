// Layer normalisation over the last dimension, forward and backward, each in one fused
// pass per row (the composite version is ~10 ops and ~20 passes over memory each way).
//
// x is (rows, d), C-contiguous; weight and bias are (d,) or null (scale 1, shift 0).
#pragma once
#include <cstdint>

namespace ember::cpu {

// Per row:  mean = sum(x) / d,  var = sum((x - mean)^2) / d  (biased),
//           rstd = 1 / sqrt(var + eps),  y = (x - mean) * rstd * weight + bias.
// Writes y (rows, d) and the statistics mean, rstd (rows,) that backward reuses.
void layer_norm_forward(const float* x, const float* weight, const float* bias, float* y,
                        float* mean, float* rstd, int64_t rows, int64_t d, double eps);
void layer_norm_forward(const double* x, const double* weight, const double* bias, double* y,
                        double* mean, double* rstd, int64_t rows, int64_t d, double eps);

// With xhat = (x - mean) * rstd and gh = g * weight (the gradient reaching xhat):
//   dx     = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))     (means over the row)
//   dweight = sum over rows of g * xhat,   dbias = sum over rows of g
// dweight and dbias are (d,) and always written (cheap: same pass).
void layer_norm_backward(const float* g, const float* x, const float* weight,
                         const float* mean, const float* rstd, float* dx, float* dweight,
                         float* dbias, int64_t rows, int64_t d);
void layer_norm_backward(const double* g, const double* x, const double* weight,
                         const double* mean, const double* rstd, double* dx, double* dweight,
                         double* dbias, int64_t rows, int64_t d);

// The same two by plain loops (layer_norm.cpp, top; accumulating in double): the tests'
// oracle and the place to read the algorithm. A null weight / bias means 1 / 0.
template <typename T>
void layer_norm_forward_reference(const T* x, const T* weight, const T* bias, T* y, T* mean,
                                  T* rstd, int64_t rows, int64_t d, double eps);
template <typename T>
void layer_norm_backward_reference(const T* g, const T* x, const T* weight, const T* mean,
                                   const T* rstd, T* dx, T* dweight, T* dbias, int64_t rows,
                                   int64_t d);

}  // namespace ember::cpu
