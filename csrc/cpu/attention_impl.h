// The fused attention kernels, written once and compiled per instruction set.
//
// attention.cpp (portable), attention_avx2.cpp (-mavx2 -mfma) and attention_avx512.cpp
// (-mavx512f ...) each include this file with EMBER_ATTN_NS (a namespace name) and
// EMBER_ATTN_VBYTES (the vector register width in bytes) defined; attention.cpp picks the
// best table the CPU runs. The code uses GCC/Clang vector extensions, so one source gives
// 16-, 32- or 64-byte SIMD. Nothing below instantiates a std:: template: such code would be
// emitted with this file's ISA flags and could be merged at link time with the portable
// copy of the same symbol (an illegal instruction on an older CPU).
//
// The algorithm (FlashAttention-2, Dao 2023), for one (batch, head):
//   forward, per block of kBQ query rows:  m = -inf, l = 0, O = 0
//     for each block of kBK keys:  S = Q K^T * scale + mask          (kBQ x kBK tile)
//       m' = max(m, rowmax S);  P = exp(S - m');  alpha = exp(m - m')
//       l = alpha * l + rowsum P;  O = alpha * O + P V;  m = m'
//     out = O / l;  lse = m + log l            (the online softmax: no Lq x Lk matrix)
//   backward, per block of kBK keys (it owns dK, dV of those keys):
//     for each block of query rows:  P = exp(Q K^T * scale + mask - lse)  (recomputed)
//       dV += P^T dO;  dP = dO V^T;  dS = P o (dP - delta),  delta_i = sum_c dO_ic O_ic
//       dK += dS^T Q * scale;  dQ += dS K * scale
// Part 1 (declarations) is guarded; part 2 (the kernels) is emitted on every inclusion
// with EMBER_ATTN_NS defined, which is why there is no #pragma once.
#ifndef EMBER_CPU_ATTENTION_IMPL_DECLS
#define EMBER_CPU_ATTENTION_IMPL_DECLS
#include <cstdint>

#include "cpu/attention.h"

namespace ember::cpu::attn_detail {

// One instruction set's entry points.
struct AttentionKernels {
  void (*forward_f32)(const AttentionParams<float>&, float*, float*);
  void (*forward_f64)(const AttentionParams<double>&, double*, double*);
  void (*backward_f32)(const AttentionParams<float>&, const float*, const float*,
                       const float*, float*, float*, float*);
  void (*backward_f64)(const AttentionParams<double>&, const double*, const double*,
                       const double*, double*, double*, double*);
};

// nullptr when this build has no such kernels (other architecture or compiler).
const AttentionKernels* attention_generic_kernels();
const AttentionKernels* attention_avx2_kernels();
const AttentionKernels* attention_avx512_kernels();

}  // namespace ember::cpu::attn_detail
#endif  // EMBER_CPU_ATTENTION_IMPL_DECLS

#if defined(EMBER_ATTN_NS)

#include <cstddef>
#include <new>

#include "cpu/vec_math.h"

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif

namespace ember::cpu::attn_detail::EMBER_ATTN_NS {
namespace {

constexpr int kVBytes = EMBER_ATTN_VBYTES;

// A query block of kBQ rows meets a key block of kBK keys. The kBQ x kBK score tile
// (32 KiB in float32) and the packed K^T block (D x kBK) stay in L1/L2 while both of the
// block's products use them; a larger kBK amortises the per-block softmax rescaling.
constexpr int64_t kBQ = 64;
constexpr int64_t kBK = 128;

// SIMD vocabulary. A micro-tile is MR rows x NV vectors of accumulators: 8 x 2 zmm (of 32
// registers) for AVX-512, 6 x 2 ymm (of 16) for AVX2, 4 x 2 xmm for the portable SSE2 code.
template <typename T>
struct Simd;
template <>
struct Simd<float> {
  typedef float V __attribute__((vector_size(kVBytes)));
};
template <>
struct Simd<double> {
  typedef double V __attribute__((vector_size(kVBytes)));
};
template <typename T>
struct Tile {
  static constexpr int W = kVBytes / static_cast<int>(sizeof(T));  // lanes per vector
  static constexpr int NV = 2;
  static constexpr int NR = NV * W;
  static constexpr int MR = kVBytes == 64 ? 12 : (kVBytes == 32 ? 6 : 4);
};

template <typename T>
inline typename Simd<T>::V loadv(const T* p) {
  typename Simd<T>::V v;
  __builtin_memcpy(&v, p, sizeof v);  // unaligned load
  return v;
}
template <typename T>
inline void storev(T* p, typename Simd<T>::V v) {
  __builtin_memcpy(p, &v, sizeof v);
}

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int max_threads() {
#if defined(EMBER_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}
// Threads worth starting for `flops` of work split into `units` items: about one per 4
// MFLOP (waking a thread costs microseconds, and on a loaded machine a parallel region's
// barrier can wait a whole scheduler slice -- milliseconds -- for a tiny call).
int threads_for(int64_t flops, int64_t units) {
  const int64_t by_work = flops >> 22;
  const int64_t n = min64(min64(max_threads(), units), by_work);
  return static_cast<int>(n < 1 ? 1 : n);
}
int thread_id() {
#if defined(EMBER_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Scratch memory owned by one call (a local type, so no std:: template is instantiated).
template <typename T>
struct Scratch {
  T* p;
  explicit Scratch(int64_t n) : p(new T[static_cast<size_t>(n > 0 ? n : 1)]) {}
  ~Scratch() { delete[] p; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// exp_fast (vectorisable exp) lives in cpu/vec_math.h, shared with the recurrent kernels.

template <typename T>
constexpr T neg_inf() {
  return -__builtin_huge_val();
}

// The builtins, not std::log: an inline std:: function would be emitted with this ISA.
inline float log_of(float x) { return __builtin_logf(x); }
inline double log_of(double x) { return __builtin_log(x); }

// ---------------------------------------------------------------------------------------
// Small GEMM on blocks: C (M x N) (+)= A (M x K) * B (K x N), where A(r, k) is at
// A[r * rsa + k * csa] (so A may be a transposed view, e.g. P^T) and B is row-major with
// leading dimension ldb. Register-blocked MR x NR micro-tiles; B's NR-wide column strip
// (K x NR) stays in L1 while the row tiles pass over it.
// ---------------------------------------------------------------------------------------
template <typename T, int MR>
inline void tile_full(int64_t K, const T* A, int64_t rsa, int64_t csa, const T* B,
                      int64_t ldb, T* C, int64_t ldc, bool accumulate) {
  using V = typename Simd<T>::V;
  constexpr int NV = Tile<T>::NV, W = Tile<T>::W;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  for (int64_t kk = 0; kk < K; ++kk) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = loadv<T>(B + kk * ldb + v * W);
    const T* a = A + kk * csa;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const V ar = V{} + a[r * rsa];  // broadcast
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] += ar * b[v];
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      T* c = C + r * ldc + v * W;
      storev<T>(c, accumulate ? acc[r][v] + loadv<T>(c) : acc[r][v]);
    }
}

// The same for a partial tile: m <= MR rows, n < NR columns (the right edge).
template <typename T>
inline void tile_edge(int64_t m, int64_t n, int64_t K, const T* A, int64_t rsa, int64_t csa,
                      const T* B, int64_t ldb, T* C, int64_t ldc, bool accumulate) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  T acc[MR][NR] = {};
  for (int64_t kk = 0; kk < K; ++kk) {
    const T* b = B + kk * ldb;
    for (int64_t r = 0; r < m; ++r) {
      const T a = A[r * rsa + kk * csa];
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) acc[r][c] += a * b[c];
    }
  }
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c)
      C[r * ldc + c] = accumulate ? C[r * ldc + c] + acc[r][c] : acc[r][c];
}

// Full-width tile with m rows (1..MR): a compile-time row count keeps acc in registers.
template <typename T, int R>
inline void tile_rows(int64_t m, int64_t K, const T* A, int64_t rsa, int64_t csa, const T* B,
                      int64_t ldb, T* C, int64_t ldc, bool accumulate) {
  if constexpr (R > 0) {
    if (m == R) {
      tile_full<T, R>(K, A, rsa, csa, B, ldb, C, ldc, accumulate);
    } else {
      tile_rows<T, R - 1>(m, K, A, rsa, csa, B, ldb, C, ldc, accumulate);
    }
  }
}

template <typename T>
void small_gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t rsa, int64_t csa,
                const T* B, int64_t ldb, T* C, int64_t ldc, bool accumulate) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  for (int64_t j = 0; j < N; j += NR) {
    const int64_t nb = min64(NR, N - j);
    for (int64_t i = 0; i < M; i += MR) {
      const int64_t mb = min64(MR, M - i);
      if (nb == NR) {
        tile_rows<T, MR>(mb, K, A + i * rsa, rsa, csa, B + j, ldb, C + i * ldc + j, ldc,
                         accumulate);
      } else {
        tile_edge<T>(mb, nb, K, A + i * rsa, rsa, csa, B + j, ldb, C + i * ldc + j, ldc,
                     accumulate);
      }
    }
  }
}

// dst (cols x ld) = src (rows x cols, row-major) transposed: packs a key block as K^T.
template <typename T>
void pack_transposed(const T* src, int64_t rows, int64_t cols, T* dst, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ld + r] = src[r * cols + c];
}

// ---------------------------------------------------------------------------------------
// Row helpers on one row of a score tile: keys j0 .. j0 + n - 1 of query row i.
// ---------------------------------------------------------------------------------------

// s = s * scale (+ additive mask), -inf where the boolean mask or causality forbids.
template <typename T>
inline void scale_and_mask(const AttentionParams<T>& p, int64_t b, int64_t h, int64_t i,
                           int64_t j0, int64_t n, T* s) {
  const T scale = p.scale;
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) s[c] *= scale;
  const int64_t off = b * p.mask_sb + h * p.mask_sh + i * p.mask_si + j0 * p.mask_sj;
  const int64_t sj = p.mask_sj;
  if (p.mask_kind == AttentionMask::additive) {
    const T* mrow = p.mask_add + off;
    if (sj == 1) {
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) s[c] += mrow[c];
    } else {
      for (int64_t c = 0; c < n; ++c) s[c] += mrow[c * sj];
    }
  } else if (p.mask_kind == AttentionMask::boolean) {
    const uint8_t* mrow = p.mask_bool + off;
    for (int64_t c = 0; c < n; ++c)
      if (!mrow[c * sj]) s[c] = neg_inf<T>();
  }
  if (p.causal && j0 + n - 1 > i) {
    const int64_t first = i - j0 + 1 > 0 ? i - j0 + 1 : 0;  // first key j > i
    for (int64_t c = first; c < n; ++c) s[c] = neg_inf<T>();
  }
}

template <typename T>
inline T row_max(const T* s, int64_t n) {
  T mx = neg_inf<T>();
#pragma omp simd reduction(max : mx)
  for (int64_t c = 0; c < n; ++c) mx = s[c] > mx ? s[c] : mx;
  return mx;
}

// s = exp(s - shift); returns the row sum.
template <typename T>
inline T exp_shift_sum(T* s, int64_t n, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < n; ++c) {
    const T e = exp_fast(s[c] - shift);
    s[c] = e;
    sum += e;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------
// Forward
// ---------------------------------------------------------------------------------------

// Rows i0 .. i0 + m - 1 of one (batch, head): the online softmax over all key blocks.
// The output rows double as the accumulator O (this work item owns them).
template <typename T>
void forward_block(const AttentionParams<T>& p, int64_t bh, int64_t i0, T* work, T* out,
                   T* lse) {
  const int64_t D = p.d, Dv = p.dv, m = min64(kBQ, p.lq - i0);
  const int64_t b = bh / p.heads, h = bh % p.heads;
  const T* Q = p.q + (bh * p.lq + i0) * D;
  const T* K = p.k + bh * p.lk * D;
  const T* V = p.v + bh * p.lk * Dv;
  T* O = out + (bh * p.lq + i0) * Dv;
  T* KT = work;                    // D x kBK
  T* S = KT + D * kBK;             // kBQ x kBK
  T* row_m = S + kBQ * kBK;        // running max per row
  T* row_l = row_m + kBQ;          // running sum per row
  for (int64_t r = 0; r < m; ++r) {
    row_m[r] = neg_inf<T>();
    row_l[r] = 0;
  }
  for (int64_t e = 0; e < m * Dv; ++e) O[e] = 0;

  // Causal: the block's last row (i0 + m - 1) sees keys up to itself, no further.
  const int64_t jend = p.causal ? min64(p.lk, i0 + m) : p.lk;
  for (int64_t j0 = 0; j0 < jend; j0 += kBK) {
    const int64_t n = min64(kBK, jend - j0);
    pack_transposed(K + j0 * D, n, D, KT, kBK);
    small_gemm<T>(m, n, D, Q, D, 1, KT, kBK, S, kBK, false);  // S = Q K^T
    for (int64_t r = 0; r < m; ++r) {
      T* s = S + r * kBK;
      scale_and_mask(p, b, h, i0 + r, j0, n, s);
      const T mx = row_max(s, n);
      const T m_new = mx > row_m[r] ? mx : row_m[r];
      if (m_new == neg_inf<T>()) {  // every key so far masked: this block adds nothing,
        for (int64_t c = 0; c < n; ++c) {  // unless a score is NaN (the max skips NaN):
          if (s[c] != s[c]) row_l[r] = s[c];  // then the row's sum, and so its output, is NaN
          s[c] = 0;
        }
        continue;
      }
      const T alpha = exp_fast(row_m[r] - m_new);  // rescales the old sum and O; 0 at start
      row_l[r] = row_l[r] * alpha + exp_shift_sum(s, n, m_new);
      row_m[r] = m_new;
      if (alpha != T(1)) {
        T* o = O + r * Dv;
#pragma omp simd
        for (int64_t c = 0; c < Dv; ++c) o[c] *= alpha;
      }
    }
    small_gemm<T>(m, Dv, n, S, kBK, 1, V + j0 * Dv, Dv, O, Dv, true);  // O += P V
  }
  for (int64_t r = 0; r < m; ++r) {
    T* o = O + r * Dv;
    const T l = row_l[r];
    // A fully masked row (l = 0) gives 0, not 0/0; a NaN score made l NaN, and the row NaN.
    const T inv = l == T(0) ? T(0) : T(1) / l;
#pragma omp simd
    for (int64_t c = 0; c < Dv; ++c) o[c] *= inv;
    lse[bh * p.lq + i0 + r] = l == T(0) ? neg_inf<T>() : row_m[r] + log_of(l);
  }
}

template <typename T>
void forward(const AttentionParams<T>& p, T* out, T* lse) {
  const int64_t bh_count = p.batch * p.heads;
  if (bh_count == 0 || p.lq == 0) return;
  const int64_t nqb = (p.lq + kBQ - 1) / kBQ, total = bh_count * nqb;
  const int64_t per_thread = p.d * kBK + kBQ * kBK + 2 * kBQ;
  const int threads = threads_for(2 * bh_count * p.lq * p.lk * (p.d + p.dv), total);
  Scratch<T> work(threads * per_thread);
#if defined(EMBER_OPENMP)
#pragma omp parallel num_threads(threads)
#endif
  {
    T* w = work.p + thread_id() * per_thread;
#if defined(EMBER_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (int64_t t = 0; t < total; ++t) {
      // Within a head, the last query blocks first: under a causal mask they are the
      // longest, and the dynamic schedule then balances the short ones at the end.
      const int64_t bh = t / nqb, qb = nqb - 1 - t % nqb;
      forward_block(p, bh, qb * kBQ, w, out, lse);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Backward
// ---------------------------------------------------------------------------------------

// Key block j0 .. j0 + n - 1 of one (batch, head): dK and dV of these keys are complete
// after one pass over the query rows that can see them; dQ rows get this block's share.
template <typename T>
void backward_kblock(const AttentionParams<T>& p, int64_t bh, int64_t j0, const T* dout,
                     const T* lse, const T* delta, T* dq_bh, T* dk, T* dv, T* work) {
  const int64_t D = p.d, Dv = p.dv, n = min64(kBK, p.lk - j0);
  const int64_t b = bh / p.heads, h = bh % p.heads;
  const T* Kb = p.k + (bh * p.lk + j0) * D;
  const T* Vb = p.v + (bh * p.lk + j0) * Dv;
  T* dK = dk + (bh * p.lk + j0) * D;
  T* dV = dv + (bh * p.lk + j0) * Dv;
  T* KT = work;                // D x kBK
  T* VT = KT + D * kBK;        // Dv x kBK
  T* P = VT + Dv * kBK;        // kBQ x kBK
  T* dS = P + kBQ * kBK;       // kBQ x kBK
  pack_transposed(Kb, n, D, KT, kBK);
  pack_transposed(Vb, n, Dv, VT, kBK);
  const T scale = p.scale;

  for (int64_t i0 = p.causal ? j0 : 0; i0 < p.lq; i0 += kBQ) {  // causal: rows i < j0 see none
    const int64_t m = min64(kBQ, p.lq - i0);
    const T* Qi = p.q + (bh * p.lq + i0) * D;
    const T* dOi = dout + (bh * p.lq + i0) * Dv;
    const T* L = lse + bh * p.lq + i0;
    const T* dl = delta + bh * p.lq + i0;
    small_gemm<T>(m, n, D, Qi, D, 1, KT, kBK, P, kBK, false);  // S = Q K^T
    for (int64_t r = 0; r < m; ++r) {                           // P = exp(S - lse)
      T* s = P + r * kBK;
      if (L[r] == neg_inf<T>()) {  // fully masked row: P = 0, so no gradient
        for (int64_t c = 0; c < n; ++c) s[c] = 0;
        continue;
      }
      scale_and_mask(p, b, h, i0 + r, j0, n, s);
      exp_shift_sum(s, n, L[r]);
    }
    small_gemm<T>(n, Dv, m, P, 1, kBK, dOi, Dv, dV, Dv, true);     // dV += P^T dO
    small_gemm<T>(m, n, Dv, dOi, Dv, 1, VT, kBK, dS, kBK, false);  // dP = dO V^T
    for (int64_t r = 0; r < m; ++r) {  // dS = P o (dP - delta) * scale (scale of S = QK^T)
      const T* pr = P + r * kBK;
      T* ds = dS + r * kBK;
      const T dlr = dl[r];
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) ds[c] = pr[c] * (ds[c] - dlr) * scale;
    }
    small_gemm<T>(n, D, m, dS, 1, kBK, Qi, D, dK, D, true);             // dK += dS^T Q
    small_gemm<T>(m, D, n, dS, kBK, 1, Kb, D, dq_bh + i0 * D, D, true);  // dQ += dS K
  }
}

template <typename T>
void backward(const AttentionParams<T>& p, const T* dout, const T* out, const T* lse, T* dq,
              T* dk, T* dv) {
  const int64_t bh_count = p.batch * p.heads;
  const int64_t nq = bh_count * p.lq * p.d, nk = bh_count * p.lk * p.d,
                nv = bh_count * p.lk * p.dv;
  for (int64_t e = 0; e < nq; ++e) dq[e] = 0;
  for (int64_t e = 0; e < nk; ++e) dk[e] = 0;
  for (int64_t e = 0; e < nv; ++e) dv[e] = 0;
  if (bh_count == 0 || p.lq == 0 || p.lk == 0) return;

  // delta_i = sum_c dO_ic O_ic = sum_j P_ij dP_ij: the softmax backward's row term.
  const int64_t rows = bh_count * p.lq, Dv = p.dv;
  Scratch<T> delta(rows);
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static)
#endif
  for (int64_t i = 0; i < rows; ++i) {
    const T* a = dout + i * Dv;
    const T* o = out + i * Dv;
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < Dv; ++c) s += a[c] * o[c];
    delta.p[i] = s;
  }

  const int64_t nkb = (p.lk + kBK - 1) / kBK;
  const int64_t per_thread = (p.d + p.dv) * kBK + 2 * kBQ * kBK;
  const int threads = threads_for(4 * bh_count * p.lq * p.lk * (p.d + p.dv), bh_count * nkb);
  Scratch<T> work(threads * per_thread);
  const int64_t q_size = p.lq * p.d;  // one head's dq

  if (bh_count >= 4 * threads || threads == 1) {
    // Plenty of heads: a head's key blocks run one after another on one thread, so each
    // dq row has a single writer and needs no reduction.
#if defined(EMBER_OPENMP)
#pragma omp parallel num_threads(threads)
#endif
    {
      T* w = work.p + thread_id() * per_thread;
#if defined(EMBER_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
      for (int64_t bh = 0; bh < bh_count; ++bh)
        for (int64_t kb = 0; kb < nkb; ++kb)
          backward_kblock(p, bh, kb * kBK, dout, lse, delta.p, dq + bh * q_size, dk, dv, w);
    }
    return;
  }
  // Few heads: threads also split the key blocks. Each keeps a private dq (zeroed), and
  // the copies are summed at the end -- no two threads ever write the same element.
  Scratch<T> dq_private(threads * nq);
#if defined(EMBER_OPENMP)
#pragma omp parallel num_threads(threads)
#endif
  {
    const int tid = thread_id();
    T* w = work.p + tid * per_thread;
    T* mine = dq_private.p + tid * nq;
    for (int64_t e = 0; e < nq; ++e) mine[e] = 0;
#if defined(EMBER_OPENMP)
#pragma omp barrier
#pragma omp for schedule(dynamic, 1)
#endif
    for (int64_t t = 0; t < bh_count * nkb; ++t) {
      const int64_t bh = t / nkb, kb = t % nkb;
      backward_kblock(p, bh, kb * kBK, dout, lse, delta.p, mine + bh * q_size, dk, dv, w);
    }
#if defined(EMBER_OPENMP)
#pragma omp for schedule(static)
#endif
    for (int64_t e = 0; e < nq; ++e) {
      T s = 0;
      for (int t = 0; t < threads; ++t) s += dq_private.p[t * nq + e];
      dq[e] = s;
    }
  }
}

void forward_f32(const AttentionParams<float>& p, float* out, float* lse) {
  forward(p, out, lse);
}
void forward_f64(const AttentionParams<double>& p, double* out, double* lse) {
  forward(p, out, lse);
}
void backward_f32(const AttentionParams<float>& p, const float* dout, const float* out,
                  const float* lse, float* dq, float* dk, float* dv) {
  backward(p, dout, out, lse, dq, dk, dv);
}
void backward_f64(const AttentionParams<double>& p, const double* dout, const double* out,
                  const double* lse, double* dq, double* dk, double* dv) {
  backward(p, dout, out, lse, dq, dk, dv);
}

}  // namespace

const AttentionKernels kKernels = {forward_f32, forward_f64, backward_f32, backward_f64};

}  // namespace ember::cpu::attn_detail::EMBER_ATTN_NS

#endif  // EMBER_ATTN_NS
