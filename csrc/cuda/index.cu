// Advanced indexing, gather and scatter: one kernel (see index_kernel in kernels.h).
//
// Indexing scheme: the work is an iteration shape R (the shape of the result of x[idx], or
// of the index for gather/scatter). For each position r of R
//     target offset = base.offset(r) + sum_k wrap(idx_k[idx_k.offset(r)]) * tstride_k
//     values offset = vals.offset(r)
// where `base` carries the target's strides for the dimensions that are not indexed (0 on
// the dimensions that come from the index arrays), and each idx_k is an int64 array viewed
// over R (stride 0 where it broadcasts). Python (backend/cuda.py) turns NumPy's indexing
// rules and torch.gather/scatter_add's into these strides.
#include <string>

#include "cuda/kernels.h"
#include "cuda/strided.cuh"

namespace ember::cuda {

namespace {

constexpr int kMaxIndex = 8;

struct IndexArgs {
  Strided base;                        // over R -> target offset of the non-indexed dims
  Strided vals;                        // over R -> values offset
  int nidx = 0;
  Strided idx[kMaxIndex];              // over R -> position in idx_ptr[k]
  const int64_t* idx_ptr[kMaxIndex] = {};
  int64_t size[kMaxIndex] = {};        // the indexed dimension's size (for wrap and bounds)
  int64_t tstride[kMaxIndex] = {};     // the target's stride along that dimension
};

__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }  // sm_60+
__device__ inline void atomic_add(int64_t* p, int64_t v) {
  // two's complement: adding as unsigned gives the wrapped signed sum
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

// bad[0] = 1 once an index is out of range; bad[1] = which index array, bad[2] = its value
// (the first thread to fail records them; the host reads them after the kernel).
template <typename T, IndexMode M>
__global__ void indexed_kernel(T* target, T* values, IndexArgs a, int64_t n,
                               unsigned long long* bad) {
  EMBER_GRID_STRIDE(r, n) {
    int64_t off = a.base.offset(r);
    bool ok = true;
    for (int k = 0; k < a.nidx; ++k) {
      const int64_t raw = a.idx_ptr[k][a.idx[k].offset(r)];
      const int64_t j = raw < 0 ? raw + a.size[k] : raw;
      if (j < 0 || j >= a.size[k]) {
        if (atomicCAS(bad, 0ULL, 1ULL) == 0ULL) {
          bad[1] = static_cast<unsigned long long>(k);
          bad[2] = static_cast<unsigned long long>(raw);
        }
        ok = false;
        break;
      }
      off += j * a.tstride[k];
    }
    if (!ok) continue;
    T* t = target + off;
    T* v = values + a.vals.offset(r);
    if constexpr (M == IndexMode::Gather) *v = *t;
    else if constexpr (M == IndexMode::Put) *t = *v;
    else atomic_add(t, *v);
  }
}

}  // namespace

void index_kernel(IndexMode mode, const DeviceArray& target, const DeviceArray& values_in,
                  const Shape& base_strides, const std::vector<DeviceArray>& idx_in,
                  const Shape& target_strides, const Shape& sizes) {
  const char* name = mode == IndexMode::Gather ? "index (gather)"
                     : mode == IndexMode::Put  ? "index (put)"
                                               : "index (add)";
  const Shape& R = values_in.shape();
  const size_t nd = R.size(), nk = idx_in.size();
  if (target.dtype() != values_in.dtype())
    throw TypeError(std::string(name) + ": target is " + dtype_name(target.dtype()) +
                    " but values are " + dtype_name(values_in.dtype()));
  if (base_strides.size() != nd || target_strides.size() != nk || sizes.size() != nk)
    throw std::invalid_argument(std::string(name) + ": inconsistent stride/size lists");
  if (nk > static_cast<size_t>(kMaxIndex))
    throw std::invalid_argument(std::string(name) + ": at most " + std::to_string(kMaxIndex) +
                                " index arrays are supported on CUDA");
  for (size_t k = 0; k < nk; ++k) {
    if (idx_in[k].dtype() != DType::Int64)
      throw TypeError(std::string(name) + ": index arrays must be int64, got " +
                      dtype_name(idx_in[k].dtype()));
    if (idx_in[k].shape() != R)
      throw std::invalid_argument(std::string(name) + ": index array " + std::to_string(k) +
                                  " does not have the iteration shape");
  }
  const int64_t n = numel_of(R);
  if (n == 0) return;
  // Every position the kernel can touch must lie inside the target's memory.
  const int64_t capacity = static_cast<int64_t>(target.storage()->bytes / itemsize(target.dtype()));
  int64_t lo = target.offset(), hi = target.offset();
  for (size_t d = 0; d < nd; ++d) {
    const int64_t span = (R[d] - 1) * base_strides[d];
    (span < 0 ? lo : hi) += span;
  }
  for (size_t k = 0; k < nk; ++k) {
    if (sizes[k] <= 0)
      throw std::out_of_range(std::string(name) + ": index into a dimension of size " +
                              std::to_string(sizes[k]));
    const int64_t span = (sizes[k] - 1) * target_strides[k];
    (span < 0 ? lo : hi) += span;
  }
  if (lo < 0 || hi >= capacity)
    throw std::out_of_range(std::string(name) + ": the indexed positions reach outside the "
                            "target's memory");
  if (mode == IndexMode::Add && target.dtype() == DType::Bool)
    throw TypeError(std::string(name) + ": accumulating into a bool array is not supported");
  // Put/Add read values while writing target: read from a copy when they share memory.
  const DeviceArray values = (mode != IndexMode::Gather && values_in.storage() == target.storage())
                                 ? astype(values_in, values_in.dtype())
                                 : values_in;
  // Likewise the index arrays (x[x] = v on an int64 x): NumPy evaluates the whole index
  // before writing, whereas a thread could read an index another thread has overwritten.
  std::vector<DeviceArray> idx = idx_in;
  if (mode != IndexMode::Gather)
    for (DeviceArray& a : idx)
      if (a.storage() == target.storage()) a = astype(a, a.dtype());

  Shape shape = R, bs = base_strides, vs = values.strides();
  std::vector<Shape> is(nk);
  std::vector<Shape*> all = {&bs, &vs};
  for (size_t k = 0; k < nk; ++k) {
    is[k] = idx[k].strides();
    all.push_back(&is[k]);
  }
  coalesce(shape, all);
  IndexArgs args;
  args.base = make_strided(shape, bs, name);
  args.vals = make_strided(shape, vs, name);
  args.nidx = static_cast<int>(nk);
  for (size_t k = 0; k < nk; ++k) {
    args.idx[k] = make_strided(shape, is[k], name);
    args.idx_ptr[k] = idx[k].data_as<int64_t>();
    args.size[k] = sizes[k];
    args.tstride[k] = target_strides[k];
  }

  DeviceArray bad_buf({3}, DType::Int64, target.device());
  auto* bad = bad_buf.data_as<unsigned long long>();
  EMBER_CUDA_CHECK(cudaMemsetAsync(bad, 0, 3 * sizeof(unsigned long long), 0));
  dispatch(target.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    T* t = target.data_as<T>();
    T* v = values.data_as<T>();
    if (mode == IndexMode::Gather)
      indexed_kernel<T, IndexMode::Gather><<<blocks_for(n), 256>>>(t, v, args, n, bad);
    else if (mode == IndexMode::Put)
      indexed_kernel<T, IndexMode::Put><<<blocks_for(n), 256>>>(t, v, args, n, bad);
    else if constexpr (!std::is_same_v<T, bool>)
      indexed_kernel<T, IndexMode::Add><<<blocks_for(n), 256>>>(t, v, args, n, bad);
    EMBER_CUDA_CHECK_LAUNCH("indexed_kernel");
  });
  unsigned long long host_bad[3] = {0, 0, 0};
  EMBER_CUDA_CHECK(cudaMemcpy(host_bad, bad, sizeof(host_bad), cudaMemcpyDeviceToHost));
  if (host_bad[0]) {
    const size_t k = static_cast<size_t>(host_bad[1]);
    throw std::out_of_range("index " + std::to_string(static_cast<int64_t>(host_bad[2])) +
                            " is out of bounds for a dimension of size " +
                            std::to_string(k < nk ? sizes[k] : -1) + " (index array " +
                            std::to_string(k) + ")");
  }
}

}  // namespace ember::cuda
