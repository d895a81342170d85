// GEMM front end: picks the micro-kernel for this CPU (isa.h), decides how to spend the threads
// (across a batch of small products, or inside each large one), owns the scratch memory,
// and keeps the slow reference implementation. The blocked loops are in gemm_driver.h,
// the SIMD kernels in gemm_avx512.cpp / gemm_avx2.cpp / gemm_generic.cpp.
#include "cpu/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <vector>

#include "cpu/gemm_kernels.h"
#include "cpu/isa.h"  // EMBER_MULTIVERSION: the GEMV loops per ISA
#include "cpu/parallel.h"

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif

namespace ember::cpu {

namespace {

using detail::GemmKernel;
using detail::GemmKernelTable;
using detail::GemmProblem;

// ---------------------------------------------------------------------------------------
// Run-time kernel selection
// ---------------------------------------------------------------------------------------

// The micro-kernels of each ISA (gemm_avx512.cpp, gemm_avx2.cpp, gemm_generic.cpp).
const IsaVariants<GemmKernelTable>& variants() {
  static const IsaVariants<GemmKernelTable> v{detail::gemm_generic_table(),
                                              detail::gemm_avx2_table(),
                                              detail::gemm_avx512_table()};
  return v;
}

const GemmKernelTable& table_for(Isa isa) { return variants().pick(isa, gemm_best_isa()); }

const GemmKernel<float>& kernel_of(const GemmKernelTable& t, float*) { return t.f32; }
const GemmKernel<double>& kernel_of(const GemmKernelTable& t, double*) { return t.f64; }

// ---------------------------------------------------------------------------------------
// Scratch memory
// ---------------------------------------------------------------------------------------

// A 64-byte-aligned buffer that only grows. One per calling thread (thread_local), so
// concurrent callers never share one, and repeated small products reuse warm memory.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  void* reserve(std::size_t bytes) {
    if (bytes > capacity_) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
      const std::size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
      data_ = std::aligned_alloc(kAlign, rounded);  // size must be a multiple of kAlign
      if (data_ == nullptr) throw std::bad_alloc();
      capacity_ = rounded;
    }
    return data_;
  }

 private:
  static constexpr std::size_t kAlign = 64;
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

char* workspace(std::size_t bytes) {
  thread_local AlignedBuffer buffer;
  return static_cast<char*>(buffer.reserve(bytes));
}

// ---------------------------------------------------------------------------------------
// Threading policy
// ---------------------------------------------------------------------------------------

// Each extra thread must get ~8 MFLOP (tens of microseconds) of work. Waking a thread costs
// a few microseconds on an idle machine, but when another process holds the other core a
// parallel region waits a whole scheduler time slice (milliseconds) at its barrier -- so
// small products (an RNN step's h @ W_hh^T) run on one thread.
constexpr int64_t kMinWorkPerThread = 160 * 160 * 160;
// Products this small are run whole on one thread each when there is a batch of them.
constexpr int64_t kSmallProduct = 192 * 192 * 192;

int threads_for_product(int64_t m, int64_t n, int64_t k, int max_threads) {
  const int64_t work = m * n * k;
  const int64_t useful = std::max<int64_t>(1, work / kMinWorkPerThread);
  return static_cast<int>(std::min<int64_t>(max_threads, useful));
}

// Give each thread whole products when that balances: many products, or small ones (for
// which splitting one product would cost more in packing and syncing than it saves).
bool parallel_over_batch(int64_t batch, int64_t m, int64_t n, int64_t k, int max_threads) {
  if (batch < 2 || max_threads < 2) return false;
  if (batch % max_threads == 0 || batch >= 4 * max_threads) return true;
  return m * n * k <= kSmallProduct && batch >= max_threads;
}

template <typename T>
bool custom_c_layout(const GemmBatch<T>& p) {
  return p.c_row_stride != 0 || p.c_group_cols != 0;
}

template <typename T>
GemmProblem<T> problem_at(const GemmBatch<T>& p, int64_t index) {
  // Packed operands carry no pointer (the packer has its own); offsets only apply to strides.
  const T* a = p.a_packer ? nullptr : p.a + (p.a_offsets ? p.a_offsets[index] : 0);
  const T* b = p.b_packer ? nullptr : p.b + (p.b_offsets ? p.b_offsets[index] : 0);
  GemmProblem<T> q{p.m, p.n, p.k, a, p.a_row_stride, p.a_col_stride, b, p.b_row_stride,
                   p.b_col_stride, p.c + index * p.m * p.n, p.c_row_stride ? p.c_row_stride : p.n};
  q.c_group_cols = p.c_group_cols;
  q.c_group_stride = p.c_group_stride;
  q.a_packer = p.a_packer;
  q.b_packer = p.b_packer;
  q.index = index;
  q.accumulate = p.accumulate;
  return q;
}

// Element (i, j) of product `index`'s C, in whatever layout the caller gave.
template <typename T>
T& c_element(const GemmProblem<T>& q, int64_t i, int64_t j) {
  if (q.c_group_cols <= 0) return q.c[i * q.ldc + j];
  return q.c[(j / q.c_group_cols) * q.c_group_stride + i * q.ldc + j % q.c_group_cols];
}

// Element (i, kk) of A (or (kk, j) of B), by strides or, for an implicit operand, by asking
// its packer for a one-line, one-k panel (slow, for the reference only).
template <typename T>
T a_element(const GemmProblem<T>& q, int64_t i, int64_t kk) {
  if (q.a_packer == nullptr) return q.a[i * q.rsa + kk * q.csa];
  T v;
  q.a_packer->pack(q.a_packer->ctx, q.index, i, 1, kk, 1, 1, &v);
  return v;
}
template <typename T>
T b_element(const GemmProblem<T>& q, int64_t kk, int64_t j) {
  if (q.b_packer == nullptr) return q.b[kk * q.rsb + j * q.csb];
  T v;
  q.b_packer->pack(q.b_packer->ctx, q.index, j, 1, kk, 1, 1, &v);
  return v;
}

template <typename T>
void check_layout(const GemmBatch<T>& p) {
  if (custom_c_layout(p) && p.batch > 1)
    throw std::invalid_argument("gemm: a custom C layout (c_row_stride/c_group_cols) needs "
                                "batch == 1");
}

// ---------------------------------------------------------------------------------------
// One row of output (m == 1): a decoder's step, a batch-1 Linear, attention over a KV cache.
// The packed GEMM would copy all of B into panels to produce one row; these stream B once,
// in the direction its memory runs (GEMV is bound by reading B, not by arithmetic):
//   B's rows contiguous (csb == 1):     c[j0:j1] = sum_k a_k B[k, j0:j1]   (an axpy per k,
//                                       on a slice of c that stays in L1)
//   B's columns contiguous (rsb == 1):  c_j = dot(a, B[:, j])             (a Linear's W^T)
// a is contiguous (the caller copies a strided one).
// ---------------------------------------------------------------------------------------
template <typename T>
inline void gemv_rows(const T* a, const T* b, int64_t rsb, int64_t k, int64_t j0, int64_t j1, T* c,
               bool accumulate) {
  constexpr int64_t kSlice = 1024;  // 4-8 KiB of c
  for (int64_t s0 = j0; s0 < j1; s0 += kSlice) {
    const int64_t s1 = std::min(j1, s0 + kSlice);
    if (!accumulate)
      for (int64_t j = s0; j < s1; ++j) c[j] = T(0);
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {  // four rows of B per pass over the slice of c
      const T x0 = a[kk], x1 = a[kk + 1], x2 = a[kk + 2], x3 = a[kk + 3];
      const T *r0 = b + kk * rsb, *r1 = r0 + rsb, *r2 = r1 + rsb, *r3 = r2 + rsb;
#pragma omp simd
      for (int64_t j = s0; j < s1; ++j) {  // in k's order, as the packed GEMM sums
        T v = c[j];
        v += x0 * r0[j];
        v += x1 * r1[j];
        v += x2 * r2[j];
        v += x3 * r3[j];
        c[j] = v;
      }
    }
    for (; kk < k; ++kk) {
      const T x = a[kk];
      const T* row = b + kk * rsb;
#pragma omp simd
      for (int64_t j = s0; j < s1; ++j) c[j] += x * row[j];
    }
  }
}

template <typename T>
inline void gemv_cols(const T* a, const T* b, int64_t csb, int64_t k, int64_t j0, int64_t j1, T* c,
               bool accumulate) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {  // four columns per pass over a: four independent sums
    const T *c0 = b + j * csb, *c1 = c0 + csb, *c2 = c1 + csb, *c3 = c2 + csb;
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t kk = 0; kk < k; ++kk) {
      s0 += a[kk] * c0[kk];
      s1 += a[kk] * c1[kk];
      s2 += a[kk] * c2[kk];
      s3 += a[kk] * c3[kk];
    }
    const T sums[4] = {s0, s1, s2, s3};
    for (int u = 0; u < 4; ++u) c[j + u] = accumulate ? c[j + u] + sums[u] : sums[u];
  }
  for (; j < j1; ++j) {
    const T* col = b + j * csb;
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t kk = 0; kk < k; ++kk) sum += a[kk] * col[kk];
    c[j] = accumulate ? c[j] + sum : sum;
  }
}

// The loops compiled per ISA (x86-64-v3 and v4 have FMA: each c_j is then the same chain of
// fused multiply-adds in k's order that the packed GEMM computes, when B's rows are contiguous).
EMBER_MULTIVERSION void gemv_slice(const float* a, const float* b, int64_t rsb, int64_t csb,
                                   int64_t k, int64_t j0, int64_t j1, float* c, bool accumulate) {
  if (csb == 1) gemv_rows(a, b, rsb, k, j0, j1, c, accumulate);
  else gemv_cols(a, b, csb, k, j0, j1, c, accumulate);
}
EMBER_MULTIVERSION void gemv_slice(const double* a, const double* b, int64_t rsb, int64_t csb,
                                   int64_t k, int64_t j0, int64_t j1, double* c, bool accumulate) {
  if (csb == 1) gemv_rows(a, b, rsb, k, j0, j1, c, accumulate);
  else gemv_cols(a, b, csb, k, j0, j1, c, accumulate);
}

template <typename T>
bool takes_gemv(const GemmBatch<T>& p) {
  return p.m == 1 && p.a_packer == nullptr && p.b_packer == nullptr && !custom_c_layout(p) &&
         (p.b_col_stride == 1 || p.b_row_stride == 1);
}

template <typename T>
void gemv(const GemmBatch<T>& p) {
  const int threads = threads_for_product(1, p.n, p.k * p.batch, available_threads());
  std::vector<T> a_copy;
  for (int64_t index = 0; index < p.batch; ++index) {
    const GemmProblem<T> q = problem_at(p, index);
    const T* a = q.a;
    if (q.csa != 1) {  // a strided row: one contiguous copy (k elements)
      a_copy.resize(static_cast<std::size_t>(q.k));
      for (int64_t kk = 0; kk < q.k; ++kk) a_copy[static_cast<std::size_t>(kk)] = a[kk * q.csa];
      a = a_copy.data();
    }
    parallel_row_ranges(q.n, threads, [&](int, int64_t j0, int64_t j1) {
      gemv_slice(a, q.b, q.rsb, q.csb, q.k, j0, j1, q.c, q.accumulate);
    });
  }
}

template <typename T>
void gemm_impl(const GemmBatch<T>& p, Isa isa) {
  check_layout(p);
  const int64_t c_size = p.batch * p.m * p.n;
  if (c_size <= 0) return;
  if (p.k <= 0) {  // an empty sum: C = 0 (or C unchanged when accumulating)
    if (p.accumulate) return;
    if (!custom_c_layout(p)) {
      std::fill(p.c, p.c + c_size, T(0));
      return;
    }
    const GemmProblem<T> q = problem_at(p, 0);
    for (int64_t i = 0; i < q.m; ++i)
      for (int64_t j = 0; j < q.n; ++j) c_element(q, i, j) = T(0);
    return;
  }
  if (isa == Isa::automatic && takes_gemv(p)) return gemv(p);
  const GemmKernel<T>& kernel = kernel_of(table_for(isa), static_cast<T*>(nullptr));
  const int max_threads = available_threads();

  if (parallel_over_batch(p.batch, p.m, p.n, p.k, max_threads)) {
    // Each thread runs whole products on its own slice of one workspace, allocated here,
    // outside the parallel region.
    const int threads = static_cast<int>(std::min<int64_t>(max_threads, p.batch));
    const std::size_t slice = (kernel.workspace_bytes(p.m, p.n, p.k, 1) + 63) / 64 * 64;
    char* ws = workspace(slice * threads);
#if defined(EMBER_OPENMP)
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (int64_t index = 0; index < p.batch; ++index) {
#if defined(EMBER_OPENMP)
      char* mine = ws + slice * omp_get_thread_num();
#else
      char* mine = ws;
#endif
      kernel.multiply(problem_at(p, index), 1, mine);
    }
    return;
  }

  const int threads = threads_for_product(p.m, p.n, p.k, max_threads);
  char* ws = workspace(kernel.workspace_bytes(p.m, p.n, p.k, threads));
  for (int64_t index = 0; index < p.batch; ++index)
    kernel.multiply(problem_at(p, index), threads, ws);
}

// C(i, j) = sum_k A(i, k) * B(k, j): three loops, no blocking, no tricks.
template <typename T>
void gemm_reference_impl(const GemmBatch<T>& p) {
  check_layout(p);
  for (int64_t index = 0; index < p.batch; ++index) {
    const GemmProblem<T> q = problem_at(p, index);
    for (int64_t i = 0; i < q.m; ++i) {
      for (int64_t j = 0; j < q.n; ++j) {
        T sum = 0;
        for (int64_t kk = 0; kk < q.k; ++kk) sum += a_element(q, i, kk) * b_element(q, kk, j);
        T& c = c_element(q, i, j);
        c = q.accumulate ? c + sum : sum;
      }
    }
  }
}

}  // namespace

void gemm(const GemmBatch<float>& p, Isa isa) { gemm_impl(p, isa); }
void gemm(const GemmBatch<double>& p, Isa isa) { gemm_impl(p, isa); }
void gemm_reference(const GemmBatch<float>& p) { gemm_reference_impl(p); }
void gemm_reference(const GemmBatch<double>& p) { gemm_reference_impl(p); }

std::vector<Isa> gemm_available_isas() { return variants().available(); }

Isa gemm_best_isa() {
  static const Isa best = variants().best();  // generic is always there
  return best;
}

}  // namespace ember::cpu
