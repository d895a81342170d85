// Host entry points of the CUDA backend's core kernels (copy.cu, elementwise.cu, layer_norm.cu,
// reduce.cu, index.cu, random.cu, pool.cu). Plain C++ over DeviceArray: no pybind11 here, so the kernel
// files compile fast and bindings_cuda.cu is the only place that knows about Python.
//
// Every function validates what it is given (dtypes, shapes, bounds) and throws
// std::invalid_argument (-> ValueError), TypeError (-> TypeError) or std::out_of_range
// (-> IndexError); outputs are new contiguous arrays unless the name ends in `_`.
#pragma once

#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "cuda/device_array.h"
#include "cuda/dispatch.cuh"

namespace ember::cuda {

using Shape = std::vector<int64_t>;

// ---- device management and views (copy.cu) ----------------------------------------------
int device_count() noexcept;  // 0 when there is no driver or no GPU (never throws)
int current_device();
void synchronize();

DeviceArray empty(const Shape& shape, DType dtype);
// A view of x's storage; throws if any element of the view would lie outside the storage.
DeviceArray make_view(const DeviceArray& x, int64_t offset, const Shape& shape,
                      const Shape& strides);
// NumPy broadcasting of several shapes (throws ValueError naming `op` and the shapes).
Shape broadcast_shapes(const std::vector<Shape>& shapes, const char* op);
// x's strides seen through a broadcast to `shape` (0 on broadcast dimensions).
Shape broadcast_strides(const DeviceArray& x, const Shape& shape);

// ---- copies, casts, creation (copy.cu) ---------------------------------------------------
DeviceArray from_host(const void* data, const Shape& shape, DType dtype);  // C-contiguous host data
void to_host(const DeviceArray& x, void* out);  // out: C-contiguous host buffer of x.numel()
void copy_(const DeviceArray& dst, const DeviceArray& src);  // same shape; casts; any strides
DeviceArray contiguous(const DeviceArray& x);  // x itself when already contiguous
DeviceArray astype(const DeviceArray& x, DType dtype);
void fill_(const DeviceArray& dst, double fvalue, int64_t ivalue);  // ivalue for int64/bool
DeviceArray arange(double start, double step, int64_t istart, int64_t istep, int64_t n,
                   DType dtype);
DeviceArray linspace(double start, double stop, int64_t n, DType dtype);
DeviceArray eye(int64_t n, int64_t m, DType dtype);

// ---- elementwise (elementwise.cu) --------------------------------------------------------
enum class UnaryOp {
  Neg, Exp, Log, Log1p, Sqrt, Abs, Sign, Sin, Cos, Tanh, Sigmoid, Erf, Softplus, LogicalNot,
  Gelu, GeluTanh  // the fused activation (exact, tanh approximation)
};
enum class BinaryOp {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,  // result: the inputs' dtype
  Eq, Ne, Lt, Le, Gt, Ge,                     // result: bool
  And, Or, Xor,                               // bool inputs, bool result
  // fused activations' backward, (g, x) -> dx; ReluBackward takes relu's output y for x
  GeluBackward, GeluTanhBackward, ReluBackward
};
// p0, p1: Softplus's beta and threshold.
DeviceArray unary(UnaryOp op, const DeviceArray& x, double p0 = 0.0, double p1 = 0.0);
DeviceArray binary(BinaryOp op, const DeviceArray& a, const DeviceArray& b);
DeviceArray where(const DeviceArray& cond, const DeviceArray& a, const DeviceArray& b);

// ---- layer normalisation over the last axis (layer_norm.cu) --------------------------------
// forward: (y, mean, rstd); mean and rstd have shape x.shape[:-1]. weight/bias: (d,) or none.
std::tuple<DeviceArray, DeviceArray, DeviceArray> layer_norm_forward(
    const DeviceArray& x, const std::optional<DeviceArray>& weight,
    const std::optional<DeviceArray>& bias, double eps);
// backward: (dx, dweight, dbias), dweight/dbias of shape (d,) (computed even without weight).
std::tuple<DeviceArray, DeviceArray, DeviceArray> layer_norm_backward(
    const DeviceArray& grad, const DeviceArray& x, const std::optional<DeviceArray>& weight,
    const DeviceArray& mean, const DeviceArray& rstd);

// ---- reductions (reduce.cu) --------------------------------------------------------------
enum class ReduceOp { Sum, Max, Min };
// axes: distinct, in [0, ndim). Sum of bool/int64 gives int64.
DeviceArray reduce(ReduceOp op, const DeviceArray& x, const Shape& axes, bool keepdims);
// axis -1: over all elements (flat C-order index). int64 result.
DeviceArray arg_reduce(bool is_max, const DeviceArray& x, int64_t axis, bool keepdims);

// ---- indexing (index.cu) -----------------------------------------------------------------
// One kernel for advanced indexing, gather and scatter. Over an iteration shape R, element
// r addresses the target at
//     base.offset(r) + sum_k wrap(idx_k[r], size_k) * target_stride_k
// and the values array (shape R, any strides) at its own offset of r:
//   Gather: values[r] = target[...]      (values is the output)
//   Put:    target[...] = values[r]      (repeated positions: one of the writes wins)
//   Add:    target[...] += values[r]     (atomicAdd: repeated positions accumulate)
// idx_k are int64 arrays of shape R (broadcast views are fine); negative entries count
// from the end; an entry outside [-size_k, size_k) raises IndexError.
enum class IndexMode { Gather, Put, Add };
void index_kernel(IndexMode mode, const DeviceArray& target, const DeviceArray& values,
                  const Shape& base_strides, const std::vector<DeviceArray>& idx,
                  const Shape& target_strides, const Shape& sizes);

// ---- random (random.cu): Philox-4x32-10 keyed by `seed`, stream `counter` ------------------
DeviceArray rand_uniform(const Shape& shape, DType dtype, uint64_t seed, uint64_t counter);
DeviceArray rand_normal(const Shape& shape, DType dtype, uint64_t seed, uint64_t counter);
DeviceArray rand_int(int64_t low, int64_t high, const Shape& shape, uint64_t seed,
                     uint64_t counter);

// ---- pooling (pool.cu), NCHW, PyTorch semantics (as the CPU kernels) ----------------------
using Pair = ember::checks::Pair;  // (h, w)
std::pair<DeviceArray, DeviceArray> max_pool2d(const DeviceArray& x, Pair kernel, Pair stride,
                                               Pair padding, Pair dilation, bool ceil_mode);
DeviceArray max_pool2d_backward(const DeviceArray& dy, const DeviceArray& indices,
                                const Shape& input_shape);
DeviceArray avg_pool2d(const DeviceArray& x, Pair kernel, Pair stride, Pair padding,
                       bool ceil_mode, bool count_include_pad, int64_t divisor_override);
DeviceArray avg_pool2d_backward(const DeviceArray& dy, const Shape& input_shape, Pair kernel,
                                Pair stride, Pair padding, bool ceil_mode,
                                bool count_include_pad, int64_t divisor_override);
DeviceArray adaptive_avg_pool2d(const DeviceArray& x, Pair output_size);
DeviceArray adaptive_avg_pool2d_backward(const DeviceArray& dy, const Shape& input_shape);

}  // namespace ember::cuda
