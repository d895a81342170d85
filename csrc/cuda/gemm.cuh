// ember's hand-written CUDA GEMM (no cuBLAS): C = A * B for batches of float32/float64
// matrices of any strides, plus the small host helpers the kernel files share (device guard,
// SM count).
//
// The float32 kernel follows the classic SGEMM worklog steps: 128x128 (or 64x64) block
// tiles staged through shared memory in BK=8 slices, an 8x8 (4x4) register tile per
// thread, float4 global loads where the operand is contiguous and aligned, and a
// register-prefetch double buffer (the next slice is fetched from global memory while
// the current one is multiplied). float64 uses the same kernel with scalar loads. See
// gemm.cu for the details.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/common.cuh"

namespace ember::cuda {

// Up to this many (coalesced) batch dimensions are addressed in the kernel itself.
constexpr int kGemmMaxBatchDims = 6;

// A batch of products C[p] = A[p] * B[p], p = 0 .. batch-1, A[p] m x k, B[p] k x n.
// The batch index p is decomposed over `batch_shape` (C order, last fastest); element
// (i, j) of A[p] lives at a[sum_d idx_d * a_batch_strides[d] + i * a_rs + j * a_cs], and
// likewise for B. Strides count elements and may be 0 (broadcast) or negative.
// C is batch x m x n, C-contiguous, fully overwritten.
template <typename T>
struct GemmParams {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  int batch_dims = 0;
  int64_t batch_shape[kGemmMaxBatchDims] = {};
  int64_t a_batch_strides[kGemmMaxBatchDims] = {};
  int64_t b_batch_strides[kGemmMaxBatchDims] = {};
  const T* a = nullptr;
  int64_t a_rs = 0, a_cs = 0;
  const T* b = nullptr;
  int64_t b_rs = 0, b_cs = 0;
  T* c = nullptr;
  bool allow_tf32 = false;  // float32: tensor cores with TF32-rounded inputs
};

// Launch on `stream` (asynchronous). Arguments are assumed valid (checked by the binding).
void gemm(const GemmParams<float>& p, cudaStream_t stream = 0);
void gemm(const GemmParams<double>& p, cudaStream_t stream = 0);

// ---- host helpers shared by the kernel files --------------------------------------------

// An attribute of the current device, read once per device (attributes never change): `cache`
// is the caller's static per-device table (devices past 64 are asked every time).
inline int cached_attribute(int (&cache)[64], cudaDeviceAttr attr) {
  int dev = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&dev));
  int uncached = 0;
  int& value = (dev >= 0 && dev < 64) ? cache[dev] : uncached;
  if (value == 0) EMBER_CUDA_CHECK(cudaDeviceGetAttribute(&value, attr, dev));
  return value;
}

// Number of multiprocessors of the current device (at least 1).
inline int sm_count() {
  static int cache[64] = {};
  return std::max(cached_attribute(cache, cudaDevAttrMultiProcessorCount), 1);
}

// Major compute capability of the current device (8 = Ampere, 9 = Hopper).
inline int compute_capability_major() {
  static int cache[64] = {};
  return cached_attribute(cache, cudaDevAttrComputeCapabilityMajor);
}

// Makes `device` current for the scope (kernels launch on the arrays' device).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    EMBER_CUDA_CHECK(cudaGetDevice(&previous_));
    if (device != previous_) EMBER_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() {
    int now = -1;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

inline bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace ember::cuda
