// AVX2 + FMA GEMM micro-kernels (compiled with -mavx2 -mfma; picked at run time on CPUs
// without AVX-512). 16 ymm registers allow a 6 x 2-vector tile: 12 accumulators, 2 vectors
// of B and one broadcast of A -- the classic Haswell-era shape.
#include "cpu/gemm_kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "cpu/gemm_driver.h"

namespace ember::cpu::detail {
namespace {

// The handful of vector operations simd_micro_kernel needs, for 8 floats / 4 doubles.
struct Avx2Float {
  using T = float;
  using V = __m256;
  static constexpr int kWidth = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const T* p) { return _mm256_load_ps(p); }  // packed B: 64-byte aligned
  static V loadu(const T* p) { return _mm256_loadu_ps(p); }
  static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
  static V broadcast(T x) { return _mm256_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void prefetch(const T* p, int count) { prefetch_range(p, count); }
};

struct Avx2Double {
  using T = double;
  using V = __m256d;
  static constexpr int kWidth = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const T* p) { return _mm256_load_pd(p); }
  static V loadu(const T* p) { return _mm256_loadu_pd(p); }
  static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V broadcast(T x) { return _mm256_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void prefetch(const T* p, int count) { prefetch_range(p, count); }
};

// Cache blocks for a 256 KiB - 1 MiB L2 / 32 KiB L1d core: B micro-panel 256 x 16 floats
// = 16 KiB in L1, A block 120 x 256 floats = 120 KiB in L2, B panel in L3.
struct Avx2FloatKernel {
  using T = float;
  static constexpr int MR = 6, NV = 2, NR = NV * Avx2Float::kWidth;
  static constexpr int64_t MC = 6 * 20, KC = 256, NC = 4096;
  static void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool acc) {
    simd_micro_kernel<Avx2Float, MR, NV>(kc, a, b, c, ldc, acc);
  }
};

// Doubles take a longer KC (512): half as many passes over C, which matters once C no
// longer fits in cache; B micro-panel 512 x 8 doubles = 32 KiB, A block 48 x 512 = 192 KiB.
struct Avx2DoubleKernel {
  using T = double;
  static constexpr int MR = 6, NV = 2, NR = NV * Avx2Double::kWidth;
  static constexpr int64_t MC = 6 * 8, KC = 512, NC = 2048;
  static void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool acc) {
    simd_micro_kernel<Avx2Double, MR, NV>(kc, a, b, c, ldc, acc);
  }
};

constexpr GemmKernelTable kAvx2Table = {
    "avx2",
    BlockedGemm<Avx2FloatKernel>::table_entry(),
    BlockedGemm<Avx2DoubleKernel>::table_entry(),
};

}  // namespace

const GemmKernelTable* gemm_avx2_table() { return &kAvx2Table; }

}  // namespace ember::cpu::detail

#else  // not built for AVX2: the dispatcher never picks it

namespace ember::cpu::detail {
const GemmKernelTable* gemm_avx2_table() { return nullptr; }
}  // namespace ember::cpu::detail

#endif
