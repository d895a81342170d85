// ember's CUDA GEMM -- hand-written, no cuBLAS -- and its binding `matmul(a, b)`.
//
// C[p] = A[p] B[p] for (..., M, K) x (..., K, N) float32/float64 DeviceArrays of any
// strides (transposed and broadcast views need no copy), written as a new C-contiguous
// (..., M, N) array. Mirrors the CPU `ember._C.matmul` (bindings_cpu.cpp): the same
// boundary checks (csrc/checks.h). Reference: `ember._C.matmul_reference`, the plain triple
// loop (cpu/gemm.h); tests/test_kernel_references.py holds this kernel to it.
//
// Kernel design (the SGEMM worklog steps, each one kept simple):
//   1. block tiling: a block of 256 threads computes a BM x BN tile of C (128x128 for
//      large problems, 64x64 when 128-tiles would leave SMs idle, 64x64 for float64),
//      walking K in slices of BK = 8. Each slice of A (BM x 8) and B (8 x BN) is staged in
//      shared memory *k-major*: As[k][m], Bs[k][n], so the inner loop reads contiguous
//      vectors along m and n.
//   2. register tiling: thread (ty, tx) of the 16x16 grid owns a TM x TN = (BM/16) x
//      (BN/16) register tile: rows {g*64 + ty*4 + i}, columns {h*64 + tx*4 + j}
//      (i, j < 4). Per k it reads TM + TN values from shared memory (float4 reads: a
//      quarter-warp reads 32 consecutive floats of Bs, and one broadcast float4 of As)
//      and does TM*TN FMAs -- 64 FMAs per 16 loads at 128x128.
//   3. vectorised loads: each thread fetches its share of a slice as 4-vectors along the
//      operand's contiguous direction (k for a row-major A / transposed B, m or n
//      otherwise). When that direction has stride 1, the other strides are multiples of 4
//      and the base is 16-byte aligned, a vector is one float4 load; otherwise (any other
//      strides, float64, or a vector crossing the matrix edge) four bounds-checked scalar
//      loads with zero fill.
//   4. double buffering: the next slice is fetched into registers before the current one
//      is multiplied, then stored to the other shared buffer -- one __syncthreads per
//      slice, and global latency hides behind the FMAs.
// Blocks are ordered in groups of 8 tile-rows (as Triton does) so that consecutive blocks
// share A and B panels in L2. The batch runs over gridDim.z (a grid-stride loop beyond
// 65535). With TF32 allowed (ember.set_float32_matmul_precision("high")), float32 products
// run on tensor cores instead (gemm_tf32_kernel, below). Not done yet (tuning steps for a GPU
// session): warp tiling of the SIMT kernel, split-K for small M*N with long K.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <mma.h>

#include "cuda/device_array.h"
#include "cuda/gemm.cuh"

namespace py = pybind11;

namespace ember::cuda {
namespace {

namespace wmma = nvcuda::wmma;  // the TF32 tensor-core path
constexpr int kThreads = 256;  // a 16 x 16 grid of threads
constexpr int kBK = 8;         // k-slice staged per step
constexpr int kPad = 4;        // shared row padding: keeps float4 alignment, spreads banks

// Minimum resident blocks per SM asked of the compiler (__launch_bounds__). At 1 the
// 128x128 kernels use ~190 registers (one 256-thread block per SM, no spills); at 2 they are
// squeezed to 128 registers with ~60-100 bytes of spills. Which wins is for the GPU to say.
#ifndef EMBER_GEMM_MIN_BLOCKS
#define EMBER_GEMM_MIN_BLOCKS 1
#endif

// One operand as the kernel sees it: a (rows x K) matrix -- rows = M for A, N for B --
// with element (r, k) at ptr[batch offset + r * s_row + k * s_k].
template <typename T>
struct Operand {
  const T* ptr;
  int64_t s_row, s_k;
  int64_t batch_strides[kGemmMaxBatchDims];
  bool along_k;  // a thread's 4-vector runs along k (else along rows)
  bool vec;      // 16-byte vector loads are legal (float32 only)
};

template <typename T>
struct GemmArgs {
  Operand<T> a, b;  // b viewed as N x K: s_row = b_cs, s_k = b_rs
  int batch_dims;
  int64_t batch_shape[kGemmMaxBatchDims];
  int64_t batch, m, n, k;
  int tiles_m, tiles_n;
  T* c;
};

// The tile rows and k of the first element of 4-vector `idx` of an R x kBK slice.
template <int R>
__device__ __forceinline__ void vector_coords(int idx, bool along_k, int& r, int& kq) {
  if (along_k) {
    r = idx / (kBK / 4);
    kq = (idx % (kBK / 4)) * 4;
  } else {
    kq = idx / (R / 4);
    r = (idx % (R / 4)) * 4;
  }
}

// Global -> registers: this thread's 4-vectors of the slice (rows row0.., k k0..).
// Fixed: -1 = direction and vector legality read from `op` at run time; 1 = along k and
// vectorisable, 0 = along rows and vectorisable (known at compile time: fewer registers).
template <typename T, int R, int PER, int Fixed>
__device__ __forceinline__ void fetch_slice(const Operand<T>& op, const T* __restrict__ base,
                                            int64_t row0, int64_t rows, int64_t k0,
                                            int64_t K, T (&reg)[PER][4]) {
  constexpr int kItems = R * kBK / 4;
  const bool along_k = Fixed < 0 ? op.along_k : Fixed == 1;
  const bool vec = Fixed < 0 ? op.vec : true;
#pragma unroll
  for (int p = 0; p < PER; ++p) {
    const int idx = threadIdx.x + p * kThreads;
    if (kItems % kThreads != 0 && idx >= kItems) break;
    int r, kq;
    vector_coords<R>(idx, along_k, r, kq);
    const int64_t gr = row0 + r, gk = k0 + kq;
    const T* src = base + gr * op.s_row + gk * op.s_k;
    // Elements e = 0..3 step along k (or along rows): e is in range while e < left, and
    // the fixed coordinate must be in range too.
    const int64_t left = along_k ? K - gk : rows - gr;
    const bool fixed_ok = along_k ? gr < rows : gk < K;
    const int64_t step = along_k ? op.s_k : op.s_row;
    if constexpr (std::is_same_v<T, float>) {
      if (vec && fixed_ok && left >= 4) {
        const float4 v = *reinterpret_cast<const float4*>(src);
        reg[p][0] = v.x;
        reg[p][1] = v.y;
        reg[p][2] = v.z;
        reg[p][3] = v.w;
        continue;
      }
    }
#pragma unroll
    for (int e = 0; e < 4; ++e) reg[p][e] = (fixed_ok && e < left) ? src[e * step] : T(0);
  }
}

// Registers -> shared slice S[kBK][R + kPad] (k-major). Tf32: each value rounded to TF32 on
// the way (once here, rather than by every warp that loads it into a WMMA fragment).
template <typename T, int R, int PER, int Fixed, bool Tf32 = false>
__device__ __forceinline__ void store_slice(bool along_k_rt, const T (&reg)[PER][4], T* S) {
  const bool along_k = Fixed < 0 ? along_k_rt : Fixed == 1;
  constexpr int kItems = R * kBK / 4;
#pragma unroll
  for (int p = 0; p < PER; ++p) {
    const int idx = threadIdx.x + p * kThreads;
    if (kItems % kThreads != 0 && idx >= kItems) break;
    int r, kq;
    vector_coords<R>(idx, along_k, r, kq);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      T v = reg[p][e];
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800  // (only the sm_80+ TF32 kernel asks)
      if constexpr (Tf32) v = wmma::__float_to_tf32(v);
#endif
      if (along_k)
        S[(kq + e) * (R + kPad) + r] = v;
      else
        S[kq * (R + kPad) + r + e] = v;
    }
  }
}

// The first row and column of this block's C tile. Grouped order: consecutive blocks sweep 8
// tile-rows at a time, so they share B panels in L2 (as Triton does).
template <int BM, int BN, typename T>
__device__ __forceinline__ void tile_origin(const GemmArgs<T>& args, int64_t& m0, int64_t& n0) {
  constexpr int kGroup = 8;
  const int bid = blockIdx.x;
  const int per_group = kGroup * args.tiles_n;
  const int first_m = (bid / per_group) * kGroup;
  const int group_rows = min(args.tiles_m - first_m, kGroup);
  m0 = static_cast<int64_t>(first_m + (bid % per_group) % group_rows) * BM;
  n0 = static_cast<int64_t>((bid % per_group) / group_rows) * BN;
}

// Element offset of operand `op`'s matrix number p of the batch (p over batch_shape, C order).
template <typename T>
__device__ __forceinline__ int64_t batch_offset(const GemmArgs<T>& args, const Operand<T>& op,
                                                int64_t p) {
  int64_t off = 0;
  for (int d = args.batch_dims - 1; d >= 0; --d) {
    off += (p % args.batch_shape[d]) * op.batch_strides[d];
    p /= args.batch_shape[d];
  }
  return off;
}

// The K loop both kernels share: slice after slice of A (BM x kBK) and B (kBK x BN) staged
// k-major in the shared buffers As/Bs, double-buffered -- slice s+1 is fetched into
// registers while multiply(As[cur], Bs[cur]) works on slice s, then stored to the other
// buffer, which every thread finished reading before the previous barrier. One
// __syncthreads per slice. Tf32: the staged values are rounded to TF32 (store_slice).
template <typename T, int BM, int BN, int FA, int FB, bool Tf32, typename Multiply>
__device__ __forceinline__ void for_each_slice(const GemmArgs<T>& args, const T* a, const T* b,
                                               int64_t m0, int64_t n0,
                                               T (&As)[2][kBK * (BM + kPad)],
                                               T (&Bs)[2][kBK * (BN + kPad)],
                                               Multiply multiply) {
  constexpr int PER_A = (BM * kBK / 4 + kThreads - 1) / kThreads;
  constexpr int PER_B = (BN * kBK / 4 + kThreads - 1) / kThreads;
  const int64_t M = args.m, N = args.n, K = args.k;
  const int num_slices = static_cast<int>((K + kBK - 1) / kBK);
  T ra[PER_A][4], rb[PER_B][4];
  if (num_slices > 0) {
    fetch_slice<T, BM, PER_A, FA>(args.a, a, m0, M, 0, K, ra);
    fetch_slice<T, BN, PER_B, FB>(args.b, b, n0, N, 0, K, rb);
    store_slice<T, BM, PER_A, FA, Tf32>(args.a.along_k, ra, As[0]);
    store_slice<T, BN, PER_B, FB, Tf32>(args.b.along_k, rb, Bs[0]);
  }
  __syncthreads();
  for (int s = 0; s < num_slices; ++s) {
    const int cur = s & 1;
    const bool more = s + 1 < num_slices;
    if (more) {
      fetch_slice<T, BM, PER_A, FA>(args.a, a, m0, M, int64_t(s + 1) * kBK, K, ra);
      fetch_slice<T, BN, PER_B, FB>(args.b, b, n0, N, int64_t(s + 1) * kBK, K, rb);
    }
    multiply(static_cast<const T*>(As[cur]), static_cast<const T*>(Bs[cur]));
    if (more) {
      store_slice<T, BM, PER_A, FA, Tf32>(args.a.along_k, ra, As[cur ^ 1]);
      store_slice<T, BN, PER_B, FB, Tf32>(args.b.along_k, rb, Bs[cur ^ 1]);
    }
    __syncthreads();
  }
}

// C tile = sum over K of A tile * B tile; see the header comment for the scheme.
// FA / FB: the operands' load modes (see fetch_slice), fixed at compile time for the
// common contiguous layouts, -1 (run time) for the general kernel.
template <typename T, int BM, int BN, int FA, int FB>
__global__ void __launch_bounds__(kThreads, EMBER_GEMM_MIN_BLOCKS)
    gemm_kernel(const GemmArgs<T> args) {
  constexpr int TM = BM / 16, TN = BN / 16;  // register tile
  static_assert(TM % 4 == 0 && TN % 4 == 0, "register tiles are made of 4-vectors");
  __shared__ __align__(16) T As[2][kBK * (BM + kPad)];
  __shared__ __align__(16) T Bs[2][kBK * (BN + kPad)];

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t M = args.m, N = args.n;
  int64_t m0, n0;
  tile_origin<BM, BN>(args, m0, n0);

  for (int64_t p = blockIdx.z; p < args.batch; p += gridDim.z) {
    const T* __restrict__ a = args.a.ptr + batch_offset(args, args.a, p);
    const T* __restrict__ b = args.b.ptr + batch_offset(args, args.b, p);

    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

    for_each_slice<T, BM, BN, FA, FB, false>(args, a, b, m0, n0, As, Bs, [&](const T* as,
                                                                              const T* bs) {
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        T fa[TM], fb[TN];
#pragma unroll
        for (int g = 0; g < TM / 4; ++g)
#pragma unroll
          for (int i = 0; i < 4; ++i) fa[g * 4 + i] = as[kk * (BM + kPad) + g * 64 + ty * 4 + i];
#pragma unroll
        for (int h = 0; h < TN / 4; ++h)
#pragma unroll
          for (int j = 0; j < 4; ++j) fb[h * 4 + j] = bs[kk * (BN + kPad) + h * 64 + tx * 4 + j];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = fma(fa[i], fb[j], acc[i][j]);
      }
    });

    // Write the register tile: float4 stores when a row's 4 columns are in range and N
    // keeps rows 16-byte aligned (C is a fresh, aligned allocation).
    T* __restrict__ c = args.c + p * M * N;
#pragma unroll
    for (int g = 0; g < TM / 4; ++g)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t row = m0 + g * 64 + ty * 4 + i;
        if (row >= M) continue;
#pragma unroll
        for (int h = 0; h < TN / 4; ++h) {
          const int64_t col = n0 + h * 64 + tx * 4;
          T* dst = c + row * N + col;
          const T* v = &acc[g * 4 + i][h * 4];
          if constexpr (std::is_same_v<T, float>) {
            if (N % 4 == 0 && col + 3 < N) {
              *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
              continue;
            }
          }
#pragma unroll
          for (int j = 0; j < 4; ++j)
            if (col + j < N) dst[j] = v[j];
        }
      }
  }
}

// ---- TF32 tensor cores (opt-in: ember.set_float32_matmul_precision("high")) ----------------
// The same 128x128 block tile, BK = 8 slices staged k-major in shared memory and register
// prefetch double buffer as gemm_kernel, but the multiply runs on tensor cores through WMMA:
// the 8 warps form a 2 x 4 grid, each owning a 64 x 32 sub-tile = 4 x 2 accumulator
// fragments of 16 x 16, and each slice is one m16n16k8 mma_sync per fragment. The slice in
// shared memory already has WMMA's layouts: As[k][m] is A's tile column-major, Bs[k][n] is
// B's tile row-major, both with leading dimension 128 + kPad. Inputs are rounded to TF32
// as they are staged (float's 8-bit exponent, a 10-bit mantissa: ~3 decimal digits),
// products accumulate in float32. Results leave through a 16 x 16 staging tile per warp, so ragged edges need no
// special case.
constexpr int kTcTile = 128;

template <int FA, int FB>
__global__ void __launch_bounds__(kThreads)
    gemm_tf32_kernel(const GemmArgs<float> args) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800  // TF32 WMMA needs sm_80+
  constexpr int BM = kTcTile, BN = kTcTile, LD = kTcTile + kPad;
  // 32-byte alignment: WMMA loads need 256-bit aligned pointers (fragment offsets below are
  // multiples of 16 floats, and each buffer is kBK * LD * 4 = 4224 = 132 * 32 bytes).
  __shared__ __align__(32) float As[2][kBK * LD];
  __shared__ __align__(32) float Bs[2][kBK * LD];
  __shared__ __align__(32) float Cs[kThreads / 32][16 * 16];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / 4, wn = warp % 4;  // this warp's 64 x 32 sub-tile
  const int64_t M = args.m, N = args.n;
  int64_t m0, n0;
  tile_origin<BM, BN>(args, m0, n0);

  for (int64_t p = blockIdx.z; p < args.batch; p += gridDim.z) {
    const float* __restrict__ a = args.a.ptr + batch_offset(args, args.a, p);
    const float* __restrict__ b = args.b.ptr + batch_offset(args, args.b, p);

    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[4][2];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    // (the slices arrive rounded to TF32: store_slice<..., Tf32 = true>)
    for_each_slice<float, BM, BN, FA, FB, true>(args, a, b, m0, n0, As, Bs, [&](const float* as,
                                                                                const float* bs) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fa[4];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) wmma::load_matrix_sync(fa[i], as + wm * 64 + i * 16, LD);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], bs + wn * 32 + j * 16, LD);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    });

    // Each fragment -> the warp's staging tile -> C, element by element with bounds checks.
    float* __restrict__ c = args.c + p * M * N;
    float* cs = Cs[warp];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        wmma::store_matrix_sync(cs, acc[i][j], 16, wmma::mem_row_major);
        __syncwarp();
        for (int e = lane; e < 16 * 16; e += 32) {
          const int64_t row = m0 + wm * 64 + i * 16 + e / 16;
          const int64_t col = n0 + wn * 32 + j * 16 + e % 16;
          if (row < M && col < N) c[row * N + col] = cs[e];
        }
        __syncwarp();  // the tile is read before the next fragment overwrites it
      }
  }
#else
  __trap();  // never launched: gemm_impl checks the compute capability first
#endif
}

template <typename T>
Operand<T> make_operand(const T* ptr, int64_t s_row, int64_t s_k, const int64_t* batch_strides,
                        int batch_dims) {
  Operand<T> op{};
  op.ptr = ptr;
  op.s_row = s_row;
  op.s_k = s_k;
  for (int d = 0; d < batch_dims; ++d) op.batch_strides[d] = batch_strides[d];
  // Vectors run along the contiguous direction when there is one (k preferred).
  op.along_k = (s_k == 1) || (s_row != 1 && std::llabs(s_k) <= std::llabs(s_row));
  bool vec = std::is_same_v<T, float> && aligned16(ptr);
  if (op.along_k) vec = vec && s_k == 1 && s_row % 4 == 0;
  else vec = vec && s_row == 1 && s_k % 4 == 0;
  for (int d = 0; d < batch_dims; ++d) vec = vec && batch_strides[d] % 4 == 0;
  op.vec = vec;
  return op;
}

// Tf32: gemm_tf32_kernel (float, 128 x 128) instead of gemm_kernel.
template <typename T, int BM, int BN, int FA = -1, int FB = -1, bool Tf32 = false>
void launch(const GemmArgs<T>& args_in, cudaStream_t stream) {
  GemmArgs<T> args = args_in;
  const int64_t tm = (args.m + BM - 1) / BM, tn = (args.n + BN - 1) / BN;
  if (tm * tn > 0x7fffffffLL)
    throw std::runtime_error("matmul: the product is too large for one CUDA grid");
  args.tiles_m = static_cast<int>(tm);
  args.tiles_n = static_cast<int>(tn);
  const dim3 grid(static_cast<unsigned>(tm * tn), 1,
                  static_cast<unsigned>(std::min<int64_t>(args.batch, 65535)));
  if constexpr (Tf32) {
    gemm_tf32_kernel<FA, FB><<<grid, kThreads, 0, stream>>>(args);
    EMBER_CUDA_CHECK_LAUNCH("gemm_tf32_kernel");
  } else {
    gemm_kernel<T, BM, BN, FA, FB><<<grid, kThreads, 0, stream>>>(args);
    EMBER_CUDA_CHECK_LAUNCH("gemm_kernel");
  }
}

template <typename T>
void gemm_impl(const GemmParams<T>& p, cudaStream_t stream) {
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  GemmArgs<T> args{};
  args.a = make_operand(p.a, p.a_rs, p.a_cs, p.a_batch_strides, p.batch_dims);
  args.b = make_operand(p.b, p.b_cs, p.b_rs, p.b_batch_strides, p.batch_dims);  // N x K view
  args.batch_dims = p.batch_dims;
  for (int d = 0; d < p.batch_dims; ++d) args.batch_shape[d] = p.batch_shape[d];
  args.batch = p.batch;
  args.m = p.m;
  args.n = p.n;
  args.k = p.k;
  args.c = p.c;
  if constexpr (std::is_same_v<T, float>) {
    // 128x128 tiles once they fill the GPU; otherwise 64x64 tiles make 4x the blocks.
    const int64_t big_tiles = ((p.m + 127) / 128) * ((p.n + 127) / 128) * p.batch;
    // The four contiguous layouts (A or A^T times B or B^T, all vectorisable) get kernels
    // with the load directions compiled in; anything else runs the general kernel.
    const Operand<float>&a = args.a, &b = args.b;
    if (p.allow_tf32 && compute_capability_major() >= 8) {  // TF32 tensor cores: sm_80+
      constexpr int R = kTcTile;
      if (!(a.vec && b.vec)) launch<float, R, R, -1, -1, true>(args, stream);
      else if (a.along_k && b.along_k) launch<float, R, R, 1, 1, true>(args, stream);
      else if (a.along_k) launch<float, R, R, 1, 0, true>(args, stream);
      else if (b.along_k) launch<float, R, R, 0, 1, true>(args, stream);
      else launch<float, R, R, 0, 0, true>(args, stream);
    } else if (big_tiles >= sm_count() && a.vec && b.vec) {
      if (a.along_k && b.along_k) launch<float, 128, 128, 1, 1>(args, stream);
      else if (a.along_k) launch<float, 128, 128, 1, 0>(args, stream);
      else if (b.along_k) launch<float, 128, 128, 0, 1>(args, stream);
      else launch<float, 128, 128, 0, 0>(args, stream);
    } else {
      launch<float, 64, 64>(args, stream);
    }
  } else {
    launch<double, 64, 64>(args, stream);
  }
}

// ---- binding ----------------------------------------------------------------------------

std::string operands_str(const DeviceArray& a, const DeviceArray& b) {
  return "shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " (dtypes " +
         dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()) + ")";
}

template <typename T>
DeviceArray matmul_typed(const DeviceArray& a, const DeviceArray& b, bool allow_tf32) {
  const int nd = a.ndim();
  std::vector<int64_t> out_shape = a.shape();
  out_shape[nd - 1] = b.shape()[nd - 1];
  DeviceArray c(out_shape, a.dtype(), a.device());

  GemmParams<T> p;
  p.m = a.shape()[nd - 2];
  p.k = a.shape()[nd - 1];
  p.n = b.shape()[nd - 1];
  // Batch dimensions: drop size-1 ones, merge neighbours that are contiguous in both
  // operands (C's batch is always C-ordered, so any such merge keeps the order).
  std::vector<int64_t> shape, sa, sb;
  p.batch = 1;
  for (int d = 0; d < nd - 2; ++d) {
    const int64_t n = a.shape()[d];
    p.batch *= n;
    if (n == 1) continue;
    const int64_t da = a.strides()[d], db = b.strides()[d];
    if (!shape.empty() && sa.back() == da * n && sb.back() == db * n) {
      shape.back() *= n;
      sa.back() = da;
      sb.back() = db;
    } else {
      shape.push_back(n);
      sa.push_back(da);
      sb.push_back(db);
    }
  }
  if (static_cast<int>(shape.size()) > kGemmMaxBatchDims)
    ember::checks::fail_value("matmul", "more than " + std::to_string(kGemmMaxBatchDims) +
                                            " non-mergeable batch dimensions are not supported "
                                            "on CUDA, got " + operands_str(a, b) +
                                            "; make the operands contiguous first");
  p.batch_dims = static_cast<int>(shape.size());
  for (int d = 0; d < p.batch_dims; ++d) {
    p.batch_shape[d] = shape[d];
    p.a_batch_strides[d] = sa[d];
    p.b_batch_strides[d] = sb[d];
  }
  // A size-1 matrix dimension's stride is never used; 0 keeps the vector checks simple.
  auto stride = [](const DeviceArray& x, int d) { return x.shape()[d] > 1 ? x.strides()[d] : 0; };
  p.a = a.data_as<T>();
  p.a_rs = stride(a, nd - 2);
  p.a_cs = stride(a, nd - 1);
  p.b = b.data_as<T>();
  p.b_rs = stride(b, nd - 2);
  p.b_cs = stride(b, nd - 1);
  p.c = c.data_as<T>();
  p.allow_tf32 = allow_tf32;
  if (p.batch == 0 || p.m == 0 || p.n == 0) return c;
  DeviceGuard guard(a.device());
  gemm(p);
  return c;
}

DeviceArray matmul_binding(const DeviceArray& a, const DeviceArray& b, bool allow_tf32) {
  // the boundary checks shared with the CPU module (csrc/checks.h), plus one device
  ember::checks::require_matmul_operands(a, b);
  if (a.device() != b.device())
    ember::checks::fail_value("matmul", "operands are on different devices (cuda:" +
                                            std::to_string(a.device()) + " and cuda:" +
                                            std::to_string(b.device()) + "), got " +
                                            operands_str(a, b));
  if (a.dtype() == DType::Float32) return matmul_typed<float>(a, b, allow_tf32);
  return matmul_typed<double>(a, b, false);
}

}  // namespace

void gemm(const GemmParams<float>& p, cudaStream_t stream) { gemm_impl(p, stream); }
void gemm(const GemmParams<double>& p, cudaStream_t stream) { gemm_impl(p, stream); }

}  // namespace ember::cuda

void bind_gemm(py::module_& m) {
  m.def("matmul", &ember::cuda::matmul_binding, py::arg("a"), py::arg("b"),
        py::arg("allow_tf32") = false,
        "C = a @ b for (..., M, K) x (..., K, N) float32/float64 device arrays with identical\n"
        "batch dimensions and any strides; returns a new C-contiguous (..., M, N) array.\n"
        "Hand-written tiled SGEMM/DGEMM (shared-memory + register tiles, float4 loads);\n"
        "allow_tf32: float32 on tensor cores with TF32 inputs (WMMA).");
}
