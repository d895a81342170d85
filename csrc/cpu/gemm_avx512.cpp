// AVX-512 GEMM micro-kernels (compiled with -mavx512f -mfma; picked at run time only on
// CPUs that have them). 32 zmm registers allow a 14 x 2-vector tile: 28 accumulators,
// 2 vectors of B, and broadcasts of A folded into the FMAs as memory operands.
#include "cpu/gemm_kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#include "cpu/gemm_driver.h"

namespace ember::cpu::detail {
namespace {

// The handful of vector operations simd_micro_kernel needs, for 16 floats / 8 doubles.
struct Avx512Float {
  using T = float;
  using V = __m512;
  static constexpr int kWidth = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const T* p) { return _mm512_load_ps(p); }  // packed B: 64-byte aligned
  static V loadu(const T* p) { return _mm512_loadu_ps(p); }
  static void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V broadcast(T x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void prefetch(const T* p, int count) { prefetch_range(p, count); }
};

struct Avx512Double {
  using T = double;
  using V = __m512d;
  static constexpr int kWidth = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const T* p) { return _mm512_load_pd(p); }
  static V loadu(const T* p) { return _mm512_loadu_pd(p); }
  static void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V broadcast(T x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static void prefetch(const T* p, int count) { prefetch_range(p, count); }
};

// Cache blocks for a 1 MiB L2 / 48 KiB L1d core (Zen 4/5, Ice Lake and later):
// B micro-panel KC x NR = 256 x 32 floats = 32 KiB stays in L1; the A block MC x KC
// (336 KiB) sits in a third of L2; the B panel KC x NC (4 MiB) in L3. Measured on Zen 5:
// A blocks past ~550 KiB fall off a cliff, KC = 384/512 is no faster.
struct Avx512FloatKernel {
  using T = float;
  static constexpr int MR = 14, NV = 2, NR = NV * Avx512Float::kWidth;
  static constexpr int64_t MC = 14 * 24, KC = 256, NC = 4096;
  static void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool acc) {
    simd_micro_kernel<Avx512Float, MR, NV>(kc, a, b, c, ldc, acc);
  }
};

// 14 x 16 doubles per tile. A double tile moves twice the bytes of C per flop, so KC is
// 512 (half the passes over C; the 64 KiB B micro-panel streams from L2 fine), and the
// A block 84 x 512 doubles = 336 KiB.
struct Avx512DoubleKernel {
  using T = double;
  static constexpr int MR = 14, NV = 2, NR = NV * Avx512Double::kWidth;
  static constexpr int64_t MC = 14 * 6, KC = 512, NC = 2048;
  static void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool acc) {
    simd_micro_kernel<Avx512Double, MR, NV>(kc, a, b, c, ldc, acc);
  }
};

constexpr GemmKernelTable kAvx512Table = {
    "avx512",
    BlockedGemm<Avx512FloatKernel>::table_entry(),
    BlockedGemm<Avx512DoubleKernel>::table_entry(),
};

}  // namespace

const GemmKernelTable* gemm_avx512_table() { return &kAvx512Table; }

}  // namespace ember::cpu::detail

#else  // not built for AVX-512: the dispatcher never picks it

namespace ember::cpu::detail {
const GemmKernelTable* gemm_avx512_table() { return nullptr; }
}  // namespace ember::cpu::detail

#endif
