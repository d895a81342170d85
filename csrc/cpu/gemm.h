// ember's CPU GEMM: C = A * B for (batches of) float32/float64 matrices of any strides.
//
// The fast path follows the GotoBLAS/BLIS design: panels of A and B are packed into
// contiguous, cache-sized buffers and a register-blocked SIMD micro-kernel multiplies them.
// The micro-kernels are compiled once per instruction set (AVX-512, AVX2, portable C++) and
// the best one the CPU supports is picked at run time, so a wheel built for generic x86-64
// still uses AVX-512 where the machine has it. See gemm_driver.h for the blocking loops.
//
// gemm_reference is the slow, obviously-correct triple loop: the tests' oracle and the
// place to start reading.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::cpu {

// A batch of products C[p] = A[p] * B[p], p = 0 .. batch-1, with A[p] of shape m x k and
// B[p] of shape k x n. Element (i, j) of A[p] lives at
//     a[a_offsets[p] + i * a_row_stride + j * a_col_stride]
// (and likewise for B). Strides and offsets count elements, not bytes, and may be zero
// (broadcast) or negative (reversed views). A null offsets pointer means "all zero".
// C is written as batch x m x n, C-contiguous, and is fully overwritten.
template <typename T>
struct GemmBatch {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  const T* a = nullptr;
  const int64_t* a_offsets = nullptr;
  int64_t a_row_stride = 0, a_col_stride = 0;
  const T* b = nullptr;
  const int64_t* b_offsets = nullptr;
  int64_t b_row_stride = 0, b_col_stride = 0;
  T* c = nullptr;
};

// The instruction sets a micro-kernel exists for. `automatic` picks the best available.
enum class GemmIsa { automatic, generic, avx2, avx512 };

// Fast packed GEMM, multi-threaded with OpenMP (over the batch when the matrices are small,
// else inside each product). `isa` forces a kernel; it must be available (see below).
void gemm(const GemmBatch<float>& p, GemmIsa isa = GemmIsa::automatic);
void gemm(const GemmBatch<double>& p, GemmIsa isa = GemmIsa::automatic);

// C[p](i, j) = sum_k A[p](i, k) * B[p](k, j), one element at a time. Single-threaded.
void gemm_reference(const GemmBatch<float>& p);
void gemm_reference(const GemmBatch<double>& p);

// Run-time kernel selection: which kernels this build *and* this CPU can run, best first.
std::vector<GemmIsa> gemm_available_isas();
GemmIsa gemm_best_isa();
const char* gemm_isa_name(GemmIsa isa);
// Parses "auto", "generic", "avx2" or "avx512"; returns false for anything else.
bool gemm_parse_isa(const std::string& name, GemmIsa* isa);

}  // namespace ember::cpu
