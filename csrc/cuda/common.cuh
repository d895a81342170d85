// Shared helpers of the CUDA backend: error checking, dtypes, launch geometry.
//
// Every CUDA runtime call goes through EMBER_CUDA_CHECK, which turns a failure into a
// C++ exception (pybind11 maps std::runtime_error to RuntimeError) naming the call, the
// file/line and CUDA's own reason -- e.g. "cudaMalloc(&ptr, bytes) failed at
// allocator.cu:42: out of memory". Kernel launches are followed by EMBER_CUDA_CHECK_LAUNCH.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "checks.h"

namespace ember::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file,
                                          int line) {
  std::ostringstream msg;
  msg << "CUDA error: " << call << " failed at " << file << ":" << line << ": "
      << cudaGetErrorString(err) << " (" << cudaGetErrorName(err) << ")";
  throw std::runtime_error(msg.str());
}

#define EMBER_CUDA_CHECK(call)                                                 \
  do {                                                                         \
    cudaError_t ember_err_ = (call);                                           \
    if (ember_err_ != cudaSuccess)                                             \
      ::ember::cuda::throw_cuda_error(ember_err_, #call, __FILE__, __LINE__);  \
  } while (0)

// After a <<<...>>> launch: launch-configuration errors surface here; errors inside the
// kernel surface at the next synchronising call (which is checked too).
#define EMBER_CUDA_CHECK_LAUNCH(name) EMBER_CUDA_CHECK(cudaGetLastError())

// Under the CUDA emulator (tests/cuda_emulator, which defines EMBER_CUDA_EMULATOR) the
// caching allocator reports the blocks it hands out and takes back, so that AddressSanitizer
// catches a kernel reading past an array or into a released one. Nothing on a real GPU.
#ifdef EMBER_CUDA_EMULATOR
#define EMBER_CUDA_EMULATOR_HOOK(call) ::cuda_emu::call
#else
#define EMBER_CUDA_EMULATOR_HOOK(call) ((void)0)
#endif

// Element types the backend stores. Values match the order of ember's dtype chain.
enum class DType : int { Bool = 0, Int64 = 1, Float32 = 2, Float64 = 3 };

inline size_t itemsize(DType t) {
  switch (t) {
    case DType::Bool: return 1;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
    case DType::Float64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

// A shape as Python prints a tuple, for error messages (one definition for both modules).
using ember::checks::shape_str;

// Grid size for a grid-stride loop over n items with `block` threads per block.
inline unsigned int blocks_for(int64_t n, int block = 256) {
  int64_t b = (n + block - 1) / block;
  if (b < 1) b = 1;
  if (b > 65535LL * 8) b = 65535LL * 8;  // grid-stride loops cover the rest
  return static_cast<unsigned int>(b);
}

}  // namespace ember::cuda
