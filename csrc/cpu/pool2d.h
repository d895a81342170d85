// 2-d pooling over NCHW planes, float32 and float64: max (with argmax indices), average
// and adaptive average, each forward beside its backward. Semantics follow PyTorch
// exactly (window placement, -inf padding for max, count_include_pad, ceil_mode's
// "last window must start inside the input or left padding", NaN propagation).
//
// Every kernel treats the input as `planes` = N * C independent H x W images and splits
// them over OpenMP threads. Arrays are C-contiguous; the caller validates the shapes.
#pragma once
#include <cstdint>

namespace ember::cpu {

struct Pool2dParams {
  int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
};

// y[o] = max over the window of x; idx[o] = the flat position iy * W + ix (inside the
// plane) it came from. Padding never wins (it is -inf); a NaN in the window wins.
void max_pool2d_forward(const Pool2dParams& p, const float* x, float* y, int64_t* idx);
void max_pool2d_forward(const Pool2dParams& p, const double* x, double* y, int64_t* idx);
// dx[idx[o]] += dy[o]: only the max of each window gets gradient (overlaps accumulate).
void max_pool2d_backward(const Pool2dParams& p, const float* dy, const int64_t* idx, float* dx);
void max_pool2d_backward(const Pool2dParams& p, const double* dy, const int64_t* idx,
                         double* dx);

// y[o] = sum over the window (inside the input) / divisor, divisor = divisor_override if
// > 0, else the window size clipped to the padded input (count_include_pad) or to the
// input itself. Backward spreads dy[o] / divisor evenly back over the same window.
void avg_pool2d_forward(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override,
                        const float* x, float* y);
void avg_pool2d_forward(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override,
                        const double* x, double* y);
void avg_pool2d_backward(const Pool2dParams& p, bool count_include_pad,
                         int64_t divisor_override, const float* dy, float* dx);
void avg_pool2d_backward(const Pool2dParams& p, bool count_include_pad,
                         int64_t divisor_override, const double* dy, double* dx);

// Output cell (oy, ox) averages rows [floor(oy H / OH), ceil((oy + 1) H / OH)) and the
// same for columns (only kernel/stride fields other than sizes are ignored).
void adaptive_avg_pool2d_forward(const Pool2dParams& p, const float* x, float* y);
void adaptive_avg_pool2d_forward(const Pool2dParams& p, const double* x, double* y);
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const float* dy, float* dx);
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const double* dy, double* dx);

// The three forwards by plain loops, one output and one window offset at a time (pool2d.cpp,
// top): the tests' oracle (the backwards are checked against them as adjoints).
template <typename T>
void max_pool2d_forward_reference(const Pool2dParams& p, const T* x, T* y, int64_t* idx);
template <typename T>
void avg_pool2d_forward_reference(const Pool2dParams& p, bool count_include_pad,
                                  int64_t divisor_override, const T* x, T* y);
template <typename T>
void adaptive_avg_pool2d_forward_reference(const Pool2dParams& p, const T* x, T* y);

}  // namespace ember::cpu
