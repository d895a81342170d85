// Strided indexing: how every elementwise kernel reads (and writes) arbitrary views.
//
// A `Strided` describes one operand over an iteration shape: for the linear (C-order)
// position `i` of an element in that shape, `offset(i)` is where the element lives in the
// operand, in elements, relative to its data() pointer. Broadcast dimensions have stride 0,
// so the same struct covers views, permutations, slices and NumPy broadcasting.
//
// Host side, `coalesce` first drops size-1 dimensions and merges neighbours that are
// contiguous *for every operand* (the TensorIterator trick): a contiguous tensor of any rank
// becomes one dimension, and the per-element div/mod loop in `offset` gets short.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/common.cuh"

namespace ember::cuda {

constexpr int kMaxDims = 8;

struct Strided {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};  // in elements, may be 0 (broadcast) or negative

  // Offset (elements) of the element at C-order position `linear` of `shape`.
  // The innermost dimension varies fastest: peel it off with % and /.
  __host__ __device__ inline int64_t offset(int64_t linear) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t n = shape[d];
      const int64_t i = linear % n;  // n >= 1 whenever an element exists
      linear /= n;
      off += i * strides[d];
    }
    return off;
  }
};

// Coalesce an iteration `shape` shared by several operands (one stride vector each, same
// length as shape), in place. Afterwards shape.size() may be smaller (>= 0).
inline void coalesce(std::vector<int64_t>& shape, std::vector<std::vector<int64_t>*> strides) {
  // 1. drop size-1 dimensions (they contribute nothing to any offset)
  std::vector<int64_t> s2;
  std::vector<std::vector<int64_t>> st2(strides.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    s2.push_back(shape[d]);
    for (size_t k = 0; k < strides.size(); ++k) st2[k].push_back((*strides[k])[d]);
  }
  // 2. merge dimension d into d-1 when stride[d-1] == stride[d] * shape[d] for all operands
  std::vector<int64_t> s3;
  std::vector<std::vector<int64_t>> st3(strides.size());
  for (size_t d = 0; d < s2.size(); ++d) {
    bool merge = !s3.empty();
    for (size_t k = 0; merge && k < strides.size(); ++k)
      merge = st3[k].back() == st2[k][d] * s2[d];
    if (merge) {
      s3.back() *= s2[d];
      for (size_t k = 0; k < strides.size(); ++k) st3[k].back() = st2[k][d];
    } else {
      s3.push_back(s2[d]);
      for (size_t k = 0; k < strides.size(); ++k) st3[k].push_back(st2[k][d]);
    }
  }
  shape = s3;
  for (size_t k = 0; k < strides.size(); ++k) *strides[k] = st3[k];
}

// Build the device-side struct (after coalescing); more than kMaxDims dims is an error.
inline Strided make_strided(const std::vector<int64_t>& shape,
                            const std::vector<int64_t>& strides, const char* op) {
  if (shape.size() > static_cast<size_t>(kMaxDims))
    throw std::invalid_argument(std::string(op) + ": views with more than " +
                                std::to_string(kMaxDims) +
                                " non-mergeable dimensions are not supported on CUDA");
  Strided s;
  s.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < s.ndim; ++d) {
    s.shape[d] = shape[d];
    s.strides[d] = strides[d];
  }
  return s;
}

inline int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

}  // namespace ember::cuda

// A grid-stride loop over [0, n) with 64-bit indices: any grid size covers any n.
#define EMBER_GRID_STRIDE(i, n)                                                        \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)
