// Reductions over any set of axes: sum, max, min, argmax, argmin.
//
// Indexing scheme: the input's dimensions split into the kept ones ("outer", one output
// element per position) and the reduced ones ("inner"). For output o and inner position i
// the element is x[outer.offset(o) + inner.offset(i)], where i is the C-order position
// inside the reduced dimensions -- exactly the index argmax reports.
//
// Two kernels, one per regime:
//   - many short reductions (inner < 256): one thread per output walks its inner range;
//   - long reductions: one 256-thread block per output, each thread strides over the inner
//     range, then a shared-memory tree combines the 256 partial results.
// An Op supplies identity / make(value, index) / combine / finish, so sum, max, min and the
// arg-reductions share the kernels.
#include <limits>
#include <string>

#include "cuda/kernels.h"
#include "cuda/strided.cuh"

namespace ember::cuda {

namespace {

constexpr int kBlock = 256;  // threads per block of the block-per-output kernel (power of 2)

template <typename T>
__device__ inline bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// Sum; float32 accumulates in double (free: the kernel is memory bound), ints wrap.
template <typename T, typename AccT, typename OutT>
struct SumOp {
  using Acc = AccT;
  using Out = OutT;
  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc make(T v, int64_t) const { return static_cast<Acc>(v); }
  __device__ Acc combine(Acc a, Acc b) const {
    if constexpr (std::is_same_v<Acc, int64_t>)
      return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    else
      return a + b;
  }
  __device__ Out finish(Acc a) const { return static_cast<Out>(a); }
};

// Max / min; NaN wins (NumPy propagates it).
template <typename T, bool IsMax>
struct ExtremumOp {
  using Acc = T;
  using Out = T;
  __device__ Acc identity() const {
    if constexpr (std::is_floating_point_v<T>)
      return IsMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      return IsMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
  __device__ Acc make(T v, int64_t) const { return v; }
  __device__ Acc combine(Acc a, Acc b) const {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    if constexpr (IsMax) return a > b ? a : b;
    else return a < b ? a : b;
  }
  __device__ Out finish(Acc a) const { return a; }
};

// Argmax / argmin: (value, index) pairs; the first NaN wins, then the extreme value, ties go
// to the smaller index (NumPy's first occurrence). index -1 marks the identity.
template <typename T>
struct ValIdx {
  T v;
  int64_t i;
};

template <typename T, bool IsMax>
struct ArgOp {
  using Acc = ValIdx<T>;
  using Out = int64_t;
  __device__ Acc identity() const { return Acc{T(0), -1}; }
  __device__ Acc make(T v, int64_t i) const { return Acc{v, i}; }
  __device__ Acc combine(Acc a, Acc b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool an = is_nan(a.v), bn = is_nan(b.v);
    if (an || bn) {
      if (an && bn) return a.i < b.i ? a : b;
      return an ? a : b;
    }
    if (a.v == b.v) return a.i < b.i ? a : b;
    if constexpr (IsMax) return a.v > b.v ? a : b;
    else return a.v < b.v ? a : b;
  }
  __device__ Out finish(Acc a) const { return a.i; }
};

// One thread per output o: out[o] = combine over i of x[outer.offset(o) + inner.offset(i)].
template <typename T, typename Op>
__global__ void reduce_thread_kernel(typename Op::Out* out, const T* x, Strided outer,
                                     Strided inner, int64_t n_out, int64_t n_in, Op op) {
  EMBER_GRID_STRIDE(o, n_out) {
    const T* base = x + outer.offset(o);
    typename Op::Acc acc = op.identity();
    for (int64_t i = 0; i < n_in; ++i) acc = op.combine(acc, op.make(base[inner.offset(i)], i));
    out[o] = op.finish(acc);
  }
}

// One block per output o (grid-stride over outputs): thread t combines i = t, t + 256, ...;
// then a tree in shared memory halves the 256 partials log2(256) times.
template <typename T, typename Op>
__global__ void reduce_block_kernel(typename Op::Out* out, const T* x, Strided outer,
                                    Strided inner, int64_t n_out, int64_t n_in, Op op) {
  __shared__ typename Op::Acc partial[kBlock];
  const int t = threadIdx.x;
  for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {  // uniform across the block
    const T* base = x + outer.offset(o);
    typename Op::Acc acc = op.identity();
    for (int64_t i = t; i < n_in; i += kBlock)
      acc = op.combine(acc, op.make(base[inner.offset(i)], i));
    partial[t] = acc;
    __syncthreads();
    for (int s = kBlock / 2; s > 0; s >>= 1) {
      if (t < s) partial[t] = op.combine(partial[t], partial[t + s]);
      __syncthreads();
    }
    if (t == 0) out[o] = op.finish(partial[0]);
    __syncthreads();  // partial[] is rewritten by the next output's pass
  }
}

// Splits x's dims into kept/reduced (reduced[d] says which) and runs `op` over them.
template <typename T, typename Op>
void run_reduce(const DeviceArray& x, const std::vector<bool>& reduced, DeviceArray& out,
                Op op, const char* name) {
  Shape oshape, ostrides, ishape, istrides;
  for (int d = 0; d < x.ndim(); ++d) {
    (reduced[d] ? ishape : oshape).push_back(x.shape()[d]);
    (reduced[d] ? istrides : ostrides).push_back(x.strides()[d]);
  }
  const int64_t n_out = numel_of(oshape), n_in = numel_of(ishape);
  if (n_out == 0) return;
  Shape ocontig = DeviceArray::contiguous_strides(oshape);
  coalesce(oshape, {&ostrides, &ocontig});  // keep output C order while merging
  coalesce(ishape, {&istrides});            // merging keeps the inner C-order position
  const Strided outer = make_strided(oshape, ostrides, name);
  const Strided inner = make_strided(ishape, istrides, name);
  using Out = typename Op::Out;
  if (n_in < kBlock) {
    reduce_thread_kernel<T, Op><<<blocks_for(n_out), 256>>>(out.data_as<Out>(), x.data_as<T>(),
                                                           outer, inner, n_out, n_in, op);
  } else {
    const unsigned int grid = static_cast<unsigned int>(std::min<int64_t>(n_out, 65535LL * 8));
    reduce_block_kernel<T, Op><<<grid, kBlock>>>(out.data_as<Out>(), x.data_as<T>(), outer,
                                                inner, n_out, n_in, op);
  }
  EMBER_CUDA_CHECK_LAUNCH("reduce_kernel");
}

Shape out_shape(const DeviceArray& x, const std::vector<bool>& reduced, bool keepdims) {
  Shape s;
  for (int d = 0; d < x.ndim(); ++d) {
    if (!reduced[d]) s.push_back(x.shape()[d]);
    else if (keepdims) s.push_back(1);
  }
  return s;
}

void check_nonempty(const DeviceArray& x, const std::vector<bool>& reduced, const char* name) {
  bool empty_inner = false;
  int64_t n_out = 1;
  for (int d = 0; d < x.ndim(); ++d) {
    if (reduced[d] && x.shape()[d] == 0) empty_inner = true;
    if (!reduced[d]) n_out *= x.shape()[d];
  }
  if (empty_inner && n_out > 0)
    throw std::invalid_argument(std::string(name) +
                                ": zero-size reduction (the reduced dimensions are empty and "
                                "the operation has no identity)");
}

}  // namespace

DeviceArray reduce(ReduceOp op, const DeviceArray& x, const Shape& axes, bool keepdims) {
  const char* name = op == ReduceOp::Sum ? "sum" : op == ReduceOp::Max ? "max" : "min";
  std::vector<bool> reduced(x.ndim(), false);
  for (int64_t a : axes) {
    if (a < 0 || a >= x.ndim() || reduced[a])
      throw std::invalid_argument(std::string(name) + ": bad or repeated axis " +
                                  std::to_string(a) + " for an array with " +
                                  std::to_string(x.ndim()) + " dims");
    reduced[a] = true;
  }
  const Shape oshape = out_shape(x, reduced, keepdims);
  DeviceArray out;
  if (op == ReduceOp::Sum) {
    const DType odt = (x.dtype() == DType::Bool || x.dtype() == DType::Int64) ? DType::Int64
                                                                              : x.dtype();
    out = DeviceArray(oshape, odt, x.device());
    if (out.numel() == 0) return out;
    if (x.numel() == 0) {  // sum over empty dimensions: zeros
      fill_(out, 0.0, 0);
      return out;
    }
    dispatch(x.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_floating_point_v<T>)
        run_reduce<T>(x, reduced, out, SumOp<T, double, T>{}, name);
      else
        run_reduce<T>(x, reduced, out, SumOp<T, int64_t, int64_t>{}, name);
    });
    return out;
  }
  check_nonempty(x, reduced, name);
  out = DeviceArray(oshape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  dispatch(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if (op == ReduceOp::Max) run_reduce<T>(x, reduced, out, ExtremumOp<T, true>{}, name);
    else run_reduce<T>(x, reduced, out, ExtremumOp<T, false>{}, name);
  });
  return out;
}

DeviceArray arg_reduce(bool is_max, const DeviceArray& x, int64_t axis, bool keepdims) {
  const char* name = is_max ? "argmax" : "argmin";
  std::vector<bool> reduced(x.ndim(), axis < 0);
  if (axis >= 0) {
    if (axis >= x.ndim())
      throw std::invalid_argument(std::string(name) + ": axis " + std::to_string(axis) +
                                  " out of range for an array with " +
                                  std::to_string(x.ndim()) + " dims");
    reduced[axis] = true;
  }
  if (x.numel() == 0 && (axis < 0 || x.shape()[axis] == 0))
    throw std::invalid_argument(std::string(name) + ": attempt to get " + name +
                                " of an empty sequence");
  const Shape oshape = out_shape(x, reduced, keepdims);
  DeviceArray out(oshape, DType::Int64, x.device());
  if (out.numel() == 0) return out;
  dispatch(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if (is_max) run_reduce<T>(x, reduced, out, ArgOp<T, true>{}, name);
    else run_reduce<T>(x, reduced, out, ArgOp<T, false>{}, name);
  });
  return out;
}

}  // namespace ember::cuda
