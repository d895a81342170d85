// 2-d convolution (cross-correlation, as in every deep-learning framework), NCHW layout,
// float32 and float64: forward, backward-data (gradient wrt the input) and backward-weight
// (gradient wrt the weight), each fast (implicit GEMM on ember's packed GEMM, OpenMP) and each
// with a slow, obviously-correct direct-loop reference beside it (the tests' oracle).
//
// Shapes: x (N, C_in, H, W), w (C_out, C_in/groups, kH, kW), y (N, C_out, OH, OW) with
//     OH = (H + 2 pad_h - dil_h (kH - 1) - 1) / stride_h + 1      (floor division)
// and likewise OW. Group g sees input channels [g C_in/G, (g+1) C_in/G) and produces
// output channels [g C_out/G, (g+1) C_out/G).
//
// All arrays are C-contiguous. The caller (bindings_conv.cpp) validates the shapes; the
// kernels assume them consistent. Every output array is fully overwritten.
#pragma once
#include <cstdint>

#include "cpu/gemm.h"

namespace ember::cpu {

struct Conv2dParams {
  int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  Isa isa = Isa::automatic;  // the GEMM micro-kernel (tests force each one)
};

// y[n, co, oy, ox] = bias[co] + sum_{ci, i, j} x[n, g C_in/G + ci, oy s - p + i d, ...]
//                                             * w[co, ci, i, j]     (g = co / (C_out/G))
// bias (C_out,) may be null (no bias). Its gradient is dbias[co] = sum_{n, oy, ox} dy.
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y);
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w,
                    const double* bias, double* y);

// dX = conv_transpose(dY, W): every y[n, co, oy, ox] was a sum over x's window, so its
// gradient flows back to each x in the window weighted by w:
//   dx[n, g C_in/G + ci, oy s - p + i d, ox s - p + j d] += dy[n, co, oy, ox] w[co, ci, i, j]
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx);
void conv2d_backward_data(const Conv2dParams& p, const double* dy, const double* w, double* dx);

// dW = sum_n dY_n (cross-correlated with) X_n:
//   dw[co, ci, i, j] = sum_{n, oy, ox} dy[n, co, oy, ox] x[n, g C_in/G + ci, oy s - p + i d, ...]
void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw);
void conv2d_backward_weight(const Conv2dParams& p, const double* dy, const double* x,
                            double* dw);

// The same three by the direct 7-nested loops (single-threaded, accumulating in double).
void conv2d_forward_reference(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y);
void conv2d_forward_reference(const Conv2dParams& p, const double* x, const double* w,
                              const double* bias, double* y);
void conv2d_backward_data_reference(const Conv2dParams& p, const float* dy, const float* w,
                                    float* dx);
void conv2d_backward_data_reference(const Conv2dParams& p, const double* dy, const double* w,
                                    double* dx);
void conv2d_backward_weight_reference(const Conv2dParams& p, const float* dy, const float* x,
                                      float* dw);
void conv2d_backward_weight_reference(const Conv2dParams& p, const double* dy, const double* x,
                                      double* dw);

}  // namespace ember::cpu
