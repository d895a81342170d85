// Internal interface between the GEMM dispatcher (gemm.cpp) and the per-ISA kernel files
// (gemm_avx512.cpp, gemm_avx2.cpp, gemm_generic.cpp). Only plain data and function pointers
// cross this line, so no code compiled with AVX-512 flags can leak into generic code.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/gemm.h"  // GemmPacker (plain data: a function pointer and a context)

namespace ember::cpu::detail {

// One product C = A * B. A is m x k with element (i, p) at a[i * rsa + p * csa]; B is
// k x n with element (p, j) at b[p * rsb + j * csb] (strides in elements, any sign);
// C is m x n row-major with row stride ldc (and unit column stride), its columns optionally
// in groups (see GemmBatch in gemm.h). A packer, when set, replaces a (or b) and its strides.
template <typename T>
struct GemmProblem {
  int64_t m, n, k;
  const T* a;
  int64_t rsa, csa;
  const T* b;
  int64_t rsb, csb;
  T* c;
  int64_t ldc;
  int64_t c_group_cols = 0, c_group_stride = 0;  // 0: no column groups
  const GemmPacker<T>* a_packer = nullptr;
  const GemmPacker<T>* b_packer = nullptr;
  int64_t index = 0;  // the batch index, passed to the packers
  bool accumulate = false;
};

// What one ISA file provides for one dtype. All memory is allocated by the caller, outside
// any parallel region (so an allocation failure is a clean exception, never a throw inside
// OpenMP): `workspace_bytes` says how much scratch `multiply` needs for its packed panels
// when run with `threads` threads, and `multiply` computes C = A * B on up to that many
// OpenMP threads (1 = on the calling thread only). It expects m, n, k >= 1.
template <typename T>
struct GemmKernel {
  std::size_t (*workspace_bytes)(int64_t m, int64_t n, int64_t k, int threads);
  void (*multiply)(const GemmProblem<T>& problem, int threads, void* workspace);
};

struct GemmKernelTable {
  const char* name;
  GemmKernel<float> f32;
  GemmKernel<double> f64;
};

// Each ISA file defines its getter; a file compiled for a target without that ISA (the
// AVX-512 file on ARM, or without the ISA flags) returns nullptr.
const GemmKernelTable* gemm_avx512_table();
const GemmKernelTable* gemm_avx2_table();
const GemmKernelTable* gemm_generic_table();

}  // namespace ember::cpu::detail
