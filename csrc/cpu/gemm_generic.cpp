// Portable GEMM micro-kernel in plain C++ (no intrinsics): the fallback for any CPU,
// including non-x86. The inner j loop is written so the compiler can auto-vectorise it
// for whatever baseline the file is compiled for (SSE2, NEON, or -march=native).
#include "cpu/gemm_driver.h"
#include "cpu/gemm_kernels.h"

namespace ember::cpu::detail {
namespace {

// C[MR x NR] (+)= A-panel * B-panel with an MR x NR accumulator array the compiler keeps
// in (vector) registers: 4 x 8 floats or 4 x 4 doubles fill 8 SSE/NEON registers.
template <typename T, int MR, int NR>
void portable_micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc,
                           bool accumulate) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      const T ai = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
    a += MR;
    b += NR;
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

// Modest cache blocks that suit any core with >= 32 KiB L1d and >= 256 KiB L2.
template <typename Scalar, int NR_>
struct PortableKernel {
  using T = Scalar;
  static constexpr int MR = 4, NR = NR_;
  static constexpr int64_t MC = 4 * 32, KC = 256, NC = 2048;
  static void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool acc) {
    portable_micro_kernel<T, MR, NR>(kc, a, b, c, ldc, acc);
  }
};

constexpr GemmKernelTable kGenericTable = {
    "generic",
    BlockedGemm<PortableKernel<float, 8>>::table_entry(),
    BlockedGemm<PortableKernel<double, 4>>::table_entry(),
};

}  // namespace

const GemmKernelTable* gemm_generic_table() { return &kGenericTable; }

}  // namespace ember::cpu::detail
