// 2-d pooling (NCHW), PyTorch's semantics -- the CUDA twins of csrc/cpu/pool2d.cpp, held to
// its plain references `ember._C.*pool2d_reference` (tests/test_kernel_references.py).
//
// Indexing scheme: one thread per output element o = (plane, oy, ox) with
// plane = n * C + c; plane p's input starts at x + p * H * W (inputs are made contiguous).
// Backward kernels also run one thread per output and atomicAdd dy into the input window,
// because neighbouring windows overlap (so two threads may hit the same input element).
#include <limits>
#include <sstream>
#include <string>

#include "cuda/kernels.h"
#include "cuda/strided.cuh"

namespace ember::cuda {

namespace {

struct PoolParams {
  int64_t planes, in_h, in_w, out_h, out_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
};

// The kernel's params from the boundary's geometry check (csrc/checks.h, shared with the CPU
// module's bindings_conv.cpp).
PoolParams to_params(const ember::checks::PoolGeometry& g) {
  return {g.planes, g.in_h, g.in_w, g.out_h, g.out_w,
          g.kernel[0], g.kernel[1], g.stride[0], g.stride[1],
          g.padding[0], g.padding[1], g.dilation[0], g.dilation[1]};
}

void check_float4d(const std::string& op, const DeviceArray& x, const char* what) {
  ember::checks::require_float(op, what, x);
  ember::checks::require_ndim(op, what, x, 4, "(N, C, H, W)");
}

PoolParams pool_params(const std::string& op, const Shape& x, Pair kernel, Pair stride,
                       Pair padding, Pair dilation, bool ceil_mode) {
  return to_params(ember::checks::pool2d_geometry(op, x, kernel, stride, padding, dilation,
                                                  ceil_mode));
}

// ---- max --------------------------------------------------------------------------------------
// y[o] = max over the (dilated) window of output o; idx[o] = its flat position iy * W + ix in
// the plane. NaN wins, like the CPU kernel.
template <typename T>
__global__ void max_pool_kernel(PoolParams p, const T* x, T* y, int64_t* idx, int64_t n) {
  EMBER_GRID_STRIDE(o, n) {
    const int64_t ox = o % p.out_w, oy = (o / p.out_w) % p.out_h, plane = o / (p.out_w * p.out_h);
    const T* xp = x + plane * p.in_h * p.in_w;
    int64_t y0 = oy * p.stride_h - p.pad_h, x0 = ox * p.stride_w - p.pad_w;
    const int64_t y1 = min(y0 + (p.kernel_h - 1) * p.dilation_h + 1, p.in_h);
    const int64_t x1 = min(x0 + (p.kernel_w - 1) * p.dilation_w + 1, p.in_w);
    while (y0 < 0) y0 += p.dilation_h;  // skip rows/columns that are padding
    while (x0 < 0) x0 += p.dilation_w;
    T best = -std::numeric_limits<T>::infinity();
    int64_t best_at = y0 * p.in_w + x0;
    for (int64_t iy = y0; iy < y1; iy += p.dilation_h)
      for (int64_t ix = x0; ix < x1; ix += p.dilation_w) {
        const T v = xp[iy * p.in_w + ix];
        if (v > best || v != v) {
          best = v;
          best_at = iy * p.in_w + ix;
        }
      }
    y[o] = best;
    idx[o] = best_at;
  }
}

// dx[plane, idx[o]] += dy[o]  (idx checked against the plane: never trust an index)
template <typename T>
__global__ void max_pool_backward_kernel(const T* dy, const int64_t* idx, T* dx,
                                         int64_t out_plane, int64_t in_plane, int64_t n) {
  EMBER_GRID_STRIDE(o, n) {
    const int64_t at = idx[o];
    if (at >= 0 && at < in_plane) atomicAdd(dx + (o / out_plane) * in_plane + at, dy[o]);
  }
}

// ---- average ------------------------------------------------------------------------------------
// The window of output (oy, ox) clipped to the input, and its divisor (as the CPU kernel).
struct Window {
  int64_t y0, y1, x0, x1, divisor;
};
__device__ inline Window avg_window(const PoolParams& p, bool include_pad, int64_t override_,
                                    int64_t oy, int64_t ox) {
  int64_t y0 = oy * p.stride_h - p.pad_h, x0 = ox * p.stride_w - p.pad_w;
  int64_t y1 = min(y0 + p.kernel_h, p.in_h + p.pad_h);
  int64_t x1 = min(x0 + p.kernel_w, p.in_w + p.pad_w);
  const int64_t padded = (y1 - y0) * (x1 - x0);
  y0 = max(y0, int64_t(0));
  x0 = max(x0, int64_t(0));
  y1 = min(y1, p.in_h);
  x1 = min(x1, p.in_w);
  const int64_t divisor = override_ > 0 ? override_ : include_pad ? padded : (y1 - y0) * (x1 - x0);
  return {y0, y1, x0, x1, divisor};
}

template <typename T>
__global__ void avg_pool_kernel(PoolParams p, bool include_pad, int64_t override_, const T* x,
                                T* y, int64_t n) {
  EMBER_GRID_STRIDE(o, n) {
    const int64_t ox = o % p.out_w, oy = (o / p.out_w) % p.out_h, plane = o / (p.out_w * p.out_h);
    const T* xp = x + plane * p.in_h * p.in_w;
    const Window w = avg_window(p, include_pad, override_, oy, ox);
    T sum = 0;
    for (int64_t iy = w.y0; iy < w.y1; ++iy)
      for (int64_t ix = w.x0; ix < w.x1; ++ix) sum += xp[iy * p.in_w + ix];
    const bool empty = w.y0 >= w.y1 || w.x0 >= w.x1 || w.divisor <= 0;
    y[o] = empty ? T(0) : sum / static_cast<T>(w.divisor);
  }
}

template <typename T>
__global__ void avg_pool_backward_kernel(PoolParams p, bool include_pad, int64_t override_,
                                         const T* dy, T* dx, int64_t n) {
  EMBER_GRID_STRIDE(o, n) {
    const int64_t ox = o % p.out_w, oy = (o / p.out_w) % p.out_h, plane = o / (p.out_w * p.out_h);
    const Window w = avg_window(p, include_pad, override_, oy, ox);
    if (w.y0 >= w.y1 || w.x0 >= w.x1 || w.divisor <= 0) continue;
    T* dxp = dx + plane * p.in_h * p.in_w;
    const T g = dy[o] / static_cast<T>(w.divisor);
    for (int64_t iy = w.y0; iy < w.y1; ++iy)
      for (int64_t ix = w.x0; ix < w.x1; ++ix) atomicAdd(dxp + iy * p.in_w + ix, g);
  }
}

// ---- adaptive average -----------------------------------------------------------------------------
// Output cell i covers [floor(i * in / out), ceil((i + 1) * in / out)).
__device__ inline int64_t start_index(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
__device__ inline int64_t end_index(int64_t o, int64_t out, int64_t in) {
  return ((o + 1) * in + out - 1) / out;
}

template <typename T>
__global__ void adaptive_kernel(PoolParams p, const T* x, T* y, int64_t n) {
  EMBER_GRID_STRIDE(o, n) {
    const int64_t ox = o % p.out_w, oy = (o / p.out_w) % p.out_h, plane = o / (p.out_w * p.out_h);
    const T* xp = x + plane * p.in_h * p.in_w;
    const int64_t y0 = start_index(oy, p.out_h, p.in_h), y1 = end_index(oy, p.out_h, p.in_h);
    const int64_t x0 = start_index(ox, p.out_w, p.in_w), x1 = end_index(ox, p.out_w, p.in_w);
    T sum = 0;
    for (int64_t iy = y0; iy < y1; ++iy)
      for (int64_t ix = x0; ix < x1; ++ix) sum += xp[iy * p.in_w + ix];
    y[o] = sum / static_cast<T>((y1 - y0) * (x1 - x0));
  }
}

template <typename T>
__global__ void adaptive_backward_kernel(PoolParams p, const T* dy, T* dx, int64_t n) {
  EMBER_GRID_STRIDE(o, n) {
    const int64_t ox = o % p.out_w, oy = (o / p.out_w) % p.out_h, plane = o / (p.out_w * p.out_h);
    T* dxp = dx + plane * p.in_h * p.in_w;
    const int64_t y0 = start_index(oy, p.out_h, p.in_h), y1 = end_index(oy, p.out_h, p.in_h);
    const int64_t x0 = start_index(ox, p.out_w, p.in_w), x1 = end_index(ox, p.out_w, p.in_w);
    const T g = dy[o] / static_cast<T>((y1 - y0) * (x1 - x0));
    for (int64_t iy = y0; iy < y1; ++iy)
      for (int64_t ix = x0; ix < x1; ++ix) atomicAdd(dxp + iy * p.in_w + ix, g);
  }
}

DeviceArray zeros_like_shape(const Shape& shape, DType dtype) {
  DeviceArray out = empty(shape, dtype);
  fill_(out, 0.0, 0);
  return out;
}

const Shape& checked_input_shape(const std::string& op, const Shape& s) {
  return ember::checks::require_shape_arg(op, "input_shape", s, 4);
}

}  // namespace

std::pair<DeviceArray, DeviceArray> max_pool2d(const DeviceArray& x_in, Pair kernel, Pair stride,
                                               Pair padding, Pair dilation, bool ceil_mode) {
  const std::string op = "max_pool2d";
  check_float4d(op, x_in, "input");
  const PoolParams p = pool_params(op, x_in.shape(), kernel, stride, padding, dilation, ceil_mode);
  const DeviceArray x = contiguous(x_in);
  const Shape oshape = {x.shape()[0], x.shape()[1], p.out_h, p.out_w};
  DeviceArray y = empty(oshape, x.dtype()), idx = empty(oshape, DType::Int64);
  const int64_t n = y.numel();
  if (n == 0) return {y, idx};
  dispatch_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    max_pool_kernel<T><<<blocks_for(n), 256>>>(p, x.data_as<T>(), y.data_as<T>(),
                                               idx.data_as<int64_t>(), n);
    EMBER_CUDA_CHECK_LAUNCH("max_pool_kernel");
  });
  return {y, idx};
}

DeviceArray max_pool2d_backward(const DeviceArray& dy_in, const DeviceArray& indices_in,
                                const Shape& input_shape) {
  const std::string op = "max_pool2d_backward";
  check_float4d(op, dy_in, "grad_output");
  const Shape& xs = checked_input_shape(op, input_shape);
  ember::checks::require_kind(op, "indices", indices_in, ember::checks::Kind::Int64, "int64");
  if (indices_in.shape() != dy_in.shape() || xs[0] != dy_in.shape()[0] ||
      xs[1] != dy_in.shape()[1])
    throw std::invalid_argument(op + ": grad_output " + shape_str(dy_in.shape()) +
                                " and indices " + shape_str(indices_in.shape()) +
                                " must have one shape (N, C, OH, OW) matching input_shape " +
                                shape_str(xs));
  const DeviceArray dy = contiguous(dy_in), indices = contiguous(indices_in);
  DeviceArray dx = zeros_like_shape(xs, dy.dtype());
  const int64_t n = dy.numel();
  if (n == 0 || dx.numel() == 0) return dx;
  const int64_t out_plane = dy.shape()[2] * dy.shape()[3], in_plane = xs[2] * xs[3];
  dispatch_float(dy.dtype(), op.c_str(), [&](auto tag) {
    using T = decltype(tag);
    max_pool_backward_kernel<T><<<blocks_for(n), 256>>>(
        dy.data_as<T>(), indices.data_as<int64_t>(), dx.data_as<T>(), out_plane, in_plane, n);
    EMBER_CUDA_CHECK_LAUNCH("max_pool_backward_kernel");
  });
  return dx;
}

DeviceArray avg_pool2d(const DeviceArray& x_in, Pair kernel, Pair stride, Pair padding,
                       bool ceil_mode, bool count_include_pad, int64_t divisor_override) {
  const std::string op = "avg_pool2d";
  check_float4d(op, x_in, "input");
  if (divisor_override < 0)
    ember::checks::fail_value(op, "divisor_override must be positive (or 0 for none), got " +
                                      std::to_string(divisor_override));
  const PoolParams p = pool_params(op, x_in.shape(), kernel, stride, padding, {1, 1}, ceil_mode);
  const DeviceArray x = contiguous(x_in);
  DeviceArray y = empty({x.shape()[0], x.shape()[1], p.out_h, p.out_w}, x.dtype());
  const int64_t n = y.numel();
  if (n == 0) return y;
  dispatch_float(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_kernel<T><<<blocks_for(n), 256>>>(p, count_include_pad, divisor_override,
                                               x.data_as<T>(), y.data_as<T>(), n);
    EMBER_CUDA_CHECK_LAUNCH("avg_pool_kernel");
  });
  return y;
}

DeviceArray avg_pool2d_backward(const DeviceArray& dy_in, const Shape& input_shape, Pair kernel,
                                Pair stride, Pair padding, bool ceil_mode,
                                bool count_include_pad, int64_t divisor_override) {
  const std::string op = "avg_pool2d_backward";
  check_float4d(op, dy_in, "grad_output");
  if (divisor_override < 0)
    ember::checks::fail_value(op, "divisor_override must be positive (or 0 for none), got " +
                                      std::to_string(divisor_override));
  const Shape& xs = checked_input_shape(op, input_shape);
  const PoolParams p = pool_params(op, xs, kernel, stride, padding, {1, 1}, ceil_mode);
  const Shape expected = {xs[0], xs[1], p.out_h, p.out_w};
  if (dy_in.shape() != expected)
    throw std::invalid_argument(op + ": grad_output has shape " + shape_str(dy_in.shape()) +
                                " but the pooling's output has shape " + shape_str(expected));
  const DeviceArray dy = contiguous(dy_in);
  DeviceArray dx = zeros_like_shape(xs, dy.dtype());
  const int64_t n = dy.numel();
  if (n == 0 || dx.numel() == 0) return dx;
  dispatch_float(dy.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_backward_kernel<T><<<blocks_for(n), 256>>>(p, count_include_pad, divisor_override,
                                                        dy.data_as<T>(), dx.data_as<T>(), n);
    EMBER_CUDA_CHECK_LAUNCH("avg_pool_backward_kernel");
  });
  return dx;
}

namespace {
PoolParams adaptive_params(const std::string& op, const Shape& x, Pair output_size) {
  return to_params(ember::checks::adaptive_pool2d_geometry(op, x, output_size));
}
}  // namespace

DeviceArray adaptive_avg_pool2d(const DeviceArray& x_in, Pair output_size) {
  const std::string op = "adaptive_avg_pool2d";
  check_float4d(op, x_in, "input");
  const PoolParams p = adaptive_params(op, x_in.shape(), output_size);
  const DeviceArray x = contiguous(x_in);
  DeviceArray y = empty({x.shape()[0], x.shape()[1], p.out_h, p.out_w}, x.dtype());
  const int64_t n = y.numel();
  if (n == 0) return y;
  dispatch_float(x.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    adaptive_kernel<T><<<blocks_for(n), 256>>>(p, x.data_as<T>(), y.data_as<T>(), n);
    EMBER_CUDA_CHECK_LAUNCH("adaptive_kernel");
  });
  return y;
}

DeviceArray adaptive_avg_pool2d_backward(const DeviceArray& dy_in, const Shape& input_shape) {
  const std::string op = "adaptive_avg_pool2d_backward";
  check_float4d(op, dy_in, "grad_output");
  const Shape& xs = checked_input_shape(op, input_shape);
  const PoolParams p = adaptive_params(op, xs, {dy_in.shape()[2], dy_in.shape()[3]});
  if (dy_in.shape()[0] != xs[0] || dy_in.shape()[1] != xs[1])
    throw std::invalid_argument(op + ": grad_output " + shape_str(dy_in.shape()) +
                                " does not match input_shape " + shape_str(xs));
  const DeviceArray dy = contiguous(dy_in);
  DeviceArray dx = zeros_like_shape(xs, dy.dtype());
  const int64_t n = dy.numel();
  if (n == 0 || dx.numel() == 0) return dx;
  dispatch_float(dy.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    adaptive_backward_kernel<T><<<blocks_for(n), 256>>>(p, dy.data_as<T>(), dx.data_as<T>(), n);
    EMBER_CUDA_CHECK_LAUNCH("adaptive_backward_kernel");
  });
  return dx;
}

}  // namespace ember::cuda
