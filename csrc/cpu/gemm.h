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

#include "cpu/isa.h"

namespace ember::cpu {

// A batch of products C[p] = A[p] * B[p], p = 0 .. batch-1, with A[p] of shape m x k and
// B[p] of shape k x n. Element (i, j) of A[p] lives at
//     a[a_offsets[p] + i * a_row_stride + j * a_col_stride]
// (and likewise for B). Strides and offsets count elements, not bytes, and may be zero
// (broadcast) or negative (reversed views). A null offsets pointer means "all zero".
// C is written as batch x m x n, C-contiguous, and is fully overwritten.
//
// Optional extensions (defaults keep the plain behaviour above):
// - a_packer / b_packer: the operand is an *implicit* matrix that the GEMM never reads by
//   strides; the callback writes its packed micro-panels directly (e.g. a convolution's
//   window matrix gathered from the image, so no im2col buffer is ever materialised).
// - c_row_stride / c_group_cols / c_group_stride: C(i, j) lives at
//       c[(j / c_group_cols) * c_group_stride + i * c_row_stride + j % c_group_cols]
//   (groups off when c_group_cols == 0), e.g. one group of columns per image of a batch
//   of images whose outputs are separate (C_out, P) planes. Only with batch == 1.
// - accumulate: C += A * B instead of C = A * B.
template <typename T>
struct GemmPacker {
  // Writes the micro-panel of `count` <= width lines (rows of A, or columns of B) that
  // starts at line `first`, over k in [k0, k0 + kc), in the order the micro-kernel reads:
  //     dst[p * width + l] = element (line first + l, k = k0 + p),  l < count,
  // and 0 for l in [count, width). `index` is the product's batch index. It is called
  // concurrently from several threads (on disjoint panels) and must not throw.
  void (*pack)(const void* ctx, int64_t index, int64_t first, int64_t count, int64_t k0,
               int64_t kc, int64_t width, T* dst) = nullptr;
  const void* ctx = nullptr;
};

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
  const GemmPacker<T>* a_packer = nullptr;  // when set, a and its strides/offsets are unused
  const GemmPacker<T>* b_packer = nullptr;  // likewise for b
  int64_t c_row_stride = 0;                 // 0: n
  int64_t c_group_cols = 0, c_group_stride = 0;
  bool accumulate = false;
};


// Fast packed GEMM, multi-threaded with OpenMP (over the batch when the matrices are small,
// else inside each product). `isa` forces a kernel; it must be available (see below).
// Throws std::invalid_argument for a custom C layout with batch > 1.
void gemm(const GemmBatch<float>& p, Isa isa = Isa::automatic);
void gemm(const GemmBatch<double>& p, Isa isa = Isa::automatic);

// C[p](i, j) = sum_k A[p](i, k) * B[p](k, j), one element at a time. Single-threaded.
void gemm_reference(const GemmBatch<float>& p);
void gemm_reference(const GemmBatch<double>& p);

// Run-time kernel selection (isa.h): which micro-kernels this build *and* this CPU can run,
// best first, and the best.
std::vector<Isa> gemm_available_isas();
Isa gemm_best_isa();

}  // namespace ember::cpu
