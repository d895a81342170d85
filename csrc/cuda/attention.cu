// Fused scaled-dot-product attention on the GPU (hand-written, FlashAttention-2 style) and
// its bindings `attention_forward` / `attention_backward`, with the CPU semantics
// (bindings_attention.cpp, cpu/attention.h):
//
//   out = softmax(q k^T * scale + mask) v,  q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv)
//   mask: None, bool (True = attend) or additive (q's dtype), broadcastable to (B, H, Lq, Lk)
//   is_causal: query i sees keys j <= i (top-left aligned, as PyTorch). scale: 1/sqrt(D).
//   Fully masked rows: out = 0, lse = -inf, gradient 0 (never NaN).
// q, k, v, dout, out and lse may be any strided views (no copies); outputs are contiguous.
//
// Kernels (float32 "flash", D and Dv <= 128; float64 -- or kernel="simple", or a GPU with
// too little shared memory for the flash tiles -- run the simple warp-per-row kernels at the
// end of the file):
//
// flash_forward<DMAX>: one block of 256 threads per (query tile of 64 rows, batch*head).
//   Q tile (64 x D) stays in shared memory; K and V tiles of 64 keys stream through it.
//   Thread (ty, tx) of the 16x16 grid owns score rows ty*4+i and key columns tx+16j
//   (i, j < 4) -- strided columns, so K rows are read conflict-free (row pitch D+4) -- and
//   output rows ty*4+i, columns tx+16c. Per key tile:
//       S = Q K^T * scale + mask                       (4x4 per thread, float4 over d)
//       m' = max(m, rowmax S)     (rowmax: 4 xor-shuffles across the 16 lanes of a row)
//       P = exp(S - m'), alpha = exp(m - m'),  l = alpha l + P (per-thread partial sums),
//       O = alpha O + P V          (P goes through shared memory: O needs whole P rows)
//   At the end l is summed across the row's 16 lanes; out = O / l, lse = m + log l.
//   Causal: key tiles stop at the tile's last query row; blocks of the longest (last)
//   query tiles are launched first. Never stores Lq x Lk.
// flash_backward<DMAX>: one block of 256 threads per (key tile of 64 keys, batch*head):
//   K and V tiles stay in shared memory; dK, dV (64 x D) accumulate in registers (thread
//   owns key rows ty*4+i, columns tx+16c) and are written once at the end -- each key tile
//   has exactly one owner. Query tiles of 32 rows stream through shared memory:
//       P  = exp(Q K^T * scale + mask - lse)      (recomputed; lse = -inf -> P = 0)
//       dP = dO V^T,  dS = P o (dP - delta) * scale,  delta_i = sum_c dO_ic O_ic
//       dV += P^T dO,  dK += dS^T Q,  dQ += dS K  (dQ: float atomicAdd into a zeroed dq)
//   dQ by atomics: each (key tile, query tile) pair adds its 32 x D share; the order of
//   the additions, and so the last bits of dq, is not deterministic (FlashAttention-2
//   does the same). delta comes from a small warp-per-row kernel run first.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/device_array.h"
#include "cuda/gemm.cuh"  // DeviceGuard, aligned16

namespace py = pybind11;

namespace ember::cuda {
namespace {

constexpr int kMaxHeadDim = 128;
enum MaskKind : int { kMaskNone = 0, kMaskBool = 1, kMaskAdd = 2 };

// A strided 4-d view: element (b, h, i, d) at ptr[b*s0 + h*s1 + i*s2 + d*s3].
template <typename T>
struct View4 {
  const T* ptr = nullptr;
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  bool vec = false;  // float32, aligned, d contiguous, other strides multiples of 4
};

template <typename T>
struct AttnArgs {
  int64_t B, H, Lq, Lk, D, Dv;
  View4<T> q, k, v;
  int mask_kind;
  const T* mask_add;
  const uint8_t* mask_bool;
  int64_t msb, msh, msi, msj;
  bool causal;
  T scale;
  // forward outputs (contiguous)
  T* out;
  T* lse;
  // backward inputs / outputs
  View4<T> dout, o;  // o = the forward's out
  View4<T> lse_in;   // (b, h, i) at s0, s1, s2
  T* delta;          // (B*H*Lq) workspace
  T* dq;             // contiguous (B, H, Lq, D)
  T* dk;             // contiguous (B, H, Lk, D)
  T* dv;             // contiguous (B, H, Lk, Dv)
};

// -inf without std::numeric_limits (host-only constexpr without --expt-relaxed-constexpr).
template <typename T>
__device__ __forceinline__ T neg_inf();
template <>
__device__ __forceinline__ float neg_inf<float>() { return -__int_as_float(0x7f800000); }
template <>
__device__ __forceinline__ double neg_inf<double>() {
  return -__longlong_as_double(0x7ff0000000000000LL);
}

// Mask / causality for score (i, j) of head (b, h): false when the key is hidden; *bias
// receives the additive mask value.
template <typename T>
__device__ __forceinline__ bool visible(const AttnArgs<T>& a, int64_t b, int64_t h, int64_t i,
                                        int64_t j, T* bias) {
  *bias = T(0);
  if (a.causal && j > i) return false;
  if (a.mask_kind == kMaskNone) return true;
  const int64_t off = b * a.msb + h * a.msh + i * a.msi + j * a.msj;
  if (a.mask_kind == kMaskBool) return a.mask_bool[off] != 0;
  *bias = a.mask_add[off];
  return true;
}

__device__ __forceinline__ float fast_exp(float x) { return __expf(x); }
__device__ __forceinline__ double fast_exp(double x) { return exp(x); }

// ---------------------------------------------------------------------------------------
// Shared-memory tile loads for the flash kernels (float32)
// ---------------------------------------------------------------------------------------

constexpr int kThreads = 256;

// dst[r][c] (row pitch PITCH), r < ROWS, c < COLS, from rows row0.. of the (b, h) slice of
// `v`: element (row0 + r, c) when r < rows_left and c < ncols, else 0.
template <int ROWS, int COLS, int PITCH>
__device__ __forceinline__ void load_tile(const View4<float>& v, const float* __restrict__ base,
                                          int64_t row0, int64_t rows_left, int64_t ncols,
                                          float* __restrict__ dst) {
  if (v.vec) {
    constexpr int kVecs = ROWS * COLS / 4;
    for (int e = threadIdx.x; e < kVecs; e += kThreads) {
      const int r = e / (COLS / 4), c = (e % (COLS / 4)) * 4;
      float4 val = make_float4(0.f, 0.f, 0.f, 0.f);
      if (r < rows_left) {
        const float* src = base + (row0 + r) * v.s2 + c;
        if (c + 3 < ncols) {
          val = *reinterpret_cast<const float4*>(src);
        } else {
          if (c < ncols) val.x = src[0];
          if (c + 1 < ncols) val.y = src[1];
          if (c + 2 < ncols) val.z = src[2];
        }
      }
      *reinterpret_cast<float4*>(dst + r * PITCH + c) = val;
    }
  } else {
    for (int e = threadIdx.x; e < ROWS * COLS; e += kThreads) {
      const int r = e / COLS, c = e % COLS;
      dst[r * PITCH + c] =
          (r < rows_left && c < ncols) ? base[(row0 + r) * v.s2 + c * v.s3] : 0.f;
    }
  }
}

__device__ __forceinline__ float dot4(const float4& a, const float4& b) {
  return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}

// ---------------------------------------------------------------------------------------
// Flash forward (float32)
// ---------------------------------------------------------------------------------------

constexpr int kFwdBQ = 64, kFwdBK = 64;

template <int DMAX>
constexpr int fwd_smem_floats() {
  return kFwdBQ * (DMAX + 4) + kFwdBK * (DMAX + 4) + kFwdBK * DMAX + kFwdBQ * (kFwdBK + 4);
}

template <int DMAX>
__global__ void __launch_bounds__(kThreads)
    flash_forward_kernel(const AttnArgs<float> a) {
  constexpr int QP = DMAX + 4, KP = DMAX + 4, VP = DMAX, PP = kFwdBK + 4;
  constexpr int NC = DMAX / 16;  // output columns per thread
  extern __shared__ __align__(16) float smem[];
  float* Qs = smem;                  // [BQ][QP]
  float* Ks = Qs + kFwdBQ * QP;      // [BK][KP]
  float* Vs = Ks + kFwdBK * KP;      // [BK][VP]
  float* Ps = Vs + kFwdBK * VP;      // [BQ][PP]

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t BH = a.B * a.H;
  const int64_t tiles = (a.Lq + kFwdBQ - 1) / kFwdBQ;
  // Longest (last) query tiles first: under a causal mask they have the most key tiles.
  const int64_t bh = blockIdx.x % BH;
  const int64_t q0 = (tiles - 1 - blockIdx.x / BH) * kFwdBQ;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int64_t D = a.D, Dv = a.Dv;
  const float* qbase = a.q.ptr + b * a.q.s0 + h * a.q.s1;
  const float* kbase = a.k.ptr + b * a.k.s0 + h * a.k.s1;
  const float* vbase = a.v.ptr + b * a.v.s0 + h * a.v.s1;

  load_tile<kFwdBQ, DMAX, QP>(a.q, qbase, q0, a.Lq - q0, D, Qs);

  float o[4][NC], row_m[4], row_l[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    row_m[i] = neg_inf<float>();
    row_l[i] = 0.f;
#pragma unroll
    for (int c = 0; c < NC; ++c) o[i][c] = 0.f;
  }
  const int d4 = static_cast<int>((D + 3) / 4) * 4;
  const int64_t kend = a.causal ? min(a.Lk, q0 + kFwdBQ) : a.Lk;

  for (int64_t j0 = 0; j0 < kend; j0 += kFwdBK) {
    __syncthreads();  // the previous tile's Ks, Vs, Ps are no longer read
    load_tile<kFwdBK, DMAX, KP>(a.k, kbase, j0, a.Lk - j0, D, Ks);
    load_tile<kFwdBK, DMAX, VP>(a.v, vbase, j0, a.Lk - j0, Dv, Vs);
    __syncthreads();

    // S = Q K^T for rows ty*4+i, keys tx+16j.
    float s[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) s[i][j] = 0.f;
    for (int d = 0; d < d4; d += 4) {
      float4 qv[4], kv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) qv[i] = *reinterpret_cast<const float4*>(Qs + (ty * 4 + i) * QP + d);
#pragma unroll
      for (int j = 0; j < 4; ++j) kv[j] = *reinterpret_cast<const float4*>(Ks + (tx + 16 * j) * KP + d);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) s[i][j] += dot4(qv[i], kv[j]);
    }

    // Online softmax, row by row (a row's 64 scores live in the 16 lanes of one half-warp).
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t qi = q0 + ty * 4 + i;
      float mx = neg_inf<float>();
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t kj = j0 + tx + 16 * j;
        float bias;
        if (qi < a.Lq && kj < a.Lk && visible(a, b, h, qi, kj, &bias))
          s[i][j] = s[i][j] * a.scale + bias;
        else
          s[i][j] = neg_inf<float>();
        mx = fmaxf(mx, s[i][j]);
      }
#pragma unroll
      for (int off = 1; off < 16; off <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
      const float m_new = fmaxf(row_m[i], mx);
      float alpha = 1.f;
      if (m_new == neg_inf<float>()) {  // nothing visible yet: this tile adds nothing
#pragma unroll
        for (int j = 0; j < 4; ++j) s[i][j] = 0.f;
      } else {
        alpha = fast_exp(row_m[i] - m_new);  // 0 when row_m was -inf
#pragma unroll
        for (int j = 0; j < 4; ++j) s[i][j] = fast_exp(s[i][j] - m_new);  // exp(-inf) = 0
        row_m[i] = m_new;
      }
      float psum = 0.f;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        psum += s[i][j];
        Ps[(ty * 4 + i) * PP + tx + 16 * j] = s[i][j];
      }
      row_l[i] = row_l[i] * alpha + psum;  // this lane's partial sum; reduced at the end
#pragma unroll
      for (int c = 0; c < NC; ++c) o[i][c] *= alpha;
    }
    __syncthreads();

    // O += P V: rows ty*4+i, columns tx+16c.
    for (int kk = 0; kk < kFwdBK; kk += 4) {
      float4 pv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) pv[i] = *reinterpret_cast<const float4*>(Ps + (ty * 4 + i) * PP + kk);
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const float v0 = Vs[(kk + 0) * VP + tx + 16 * c], v1 = Vs[(kk + 1) * VP + tx + 16 * c];
        const float v2 = Vs[(kk + 2) * VP + tx + 16 * c], v3 = Vs[(kk + 3) * VP + tx + 16 * c];
#pragma unroll
        for (int i = 0; i < 4; ++i)
          o[i][c] += pv[i].x * v0 + pv[i].y * v1 + pv[i].z * v2 + pv[i].w * v3;
      }
    }
  }

  // Finish: l summed over the row's lanes; out = O / l, lse = m + log l (or 0 and -inf).
  const int64_t bh_rows = bh * a.Lq;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float l = row_l[i];
#pragma unroll
    for (int off = 1; off < 16; off <<= 1) l += __shfl_xor_sync(0xffffffffu, l, off);
    const int64_t qi = q0 + ty * 4 + i;
    if (qi >= a.Lq) continue;
    const float inv = l > 0.f ? 1.f / l : 0.f;
    float* orow = a.out + (bh_rows + qi) * Dv;
#pragma unroll
    for (int c = 0; c < NC; ++c)
      if (tx + 16 * c < Dv) orow[tx + 16 * c] = o[i][c] * inv;
    if (tx == 0) a.lse[bh_rows + qi] = l > 0.f ? row_m[i] + logf(l) : neg_inf<float>();
  }
}

// ---------------------------------------------------------------------------------------
// delta_i = sum_c dO_ic O_ic (one warp per row), for both backward paths
// ---------------------------------------------------------------------------------------

template <typename T>
__global__ void __launch_bounds__(256) attention_delta_kernel(const AttnArgs<T> a) {
  const int64_t rows = a.B * a.H * a.Lq;
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
       row < rows; row += warps) {
    const int64_t bh = row / a.Lq, i = row % a.Lq, b = bh / a.H, h = bh % a.H;
    const T* dout = a.dout.ptr + b * a.dout.s0 + h * a.dout.s1 + i * a.dout.s2;
    const T* o = a.o.ptr + b * a.o.s0 + h * a.o.s1 + i * a.o.s2;
    T s = 0;
    for (int64_t c = lane; c < a.Dv; c += 32) s += dout[c * a.dout.s3] * o[c * a.o.s3];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0) a.delta[row] = s;
  }
}

// ---------------------------------------------------------------------------------------
// Flash backward (float32)
// ---------------------------------------------------------------------------------------

constexpr int kBwdBK = 64, kBwdBQ = 32;

template <int DMAX>
constexpr int bwd_smem_floats() {
  return 2 * kBwdBK * (DMAX + 4) + 2 * kBwdBQ * (DMAX + 4) + 2 * kBwdBQ * (kBwdBK + 4) +
         2 * kBwdBQ;
}

template <int DMAX>
__global__ void __launch_bounds__(kThreads)
    flash_backward_kernel(const AttnArgs<float> a) {
  constexpr int P_ = DMAX + 4, SP = kBwdBK + 4;
  constexpr int NC = DMAX / 16;
  extern __shared__ __align__(16) float smem[];
  float* Ks = smem;                   // [BK][P_]
  float* Vs = Ks + kBwdBK * P_;       // [BK][P_]
  float* Qs = Vs + kBwdBK * P_;       // [BQ][P_]
  float* dOs = Qs + kBwdBQ * P_;      // [BQ][P_]
  float* Ps = dOs + kBwdBQ * P_;      // [BQ][SP]
  float* dSs = Ps + kBwdBQ * SP;      // [BQ][SP]
  float* lse_s = dSs + kBwdBQ * SP;   // [BQ]
  float* delta_s = lse_s + kBwdBQ;    // [BQ]

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t BH = a.B * a.H;
  const int64_t bh = blockIdx.x % BH;
  const int64_t j0 = (blockIdx.x / BH) * kBwdBK;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int64_t D = a.D, Dv = a.Dv;
  const float* qbase = a.q.ptr + b * a.q.s0 + h * a.q.s1;
  const float* kbase = a.k.ptr + b * a.k.s0 + h * a.k.s1;
  const float* vbase = a.v.ptr + b * a.v.s0 + h * a.v.s1;
  const float* dobase = a.dout.ptr + b * a.dout.s0 + h * a.dout.s1;
  const float* lsebase = a.lse_in.ptr + b * a.lse_in.s0 + h * a.lse_in.s1;
  const float* deltabase = a.delta + bh * a.Lq;

  load_tile<kBwdBK, DMAX, P_>(a.k, kbase, j0, a.Lk - j0, D, Ks);
  load_tile<kBwdBK, DMAX, P_>(a.v, vbase, j0, a.Lk - j0, Dv, Vs);

  float dk[4][NC], dv[4][NC];  // key rows ty*4+i, columns tx+16c
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int c = 0; c < NC; ++c) dk[i][c] = dv[i][c] = 0.f;

  const int dq4 = static_cast<int>((D + 3) / 4) * 4, dv4 = static_cast<int>((Dv + 3) / 4) * 4;
  const float scale = a.scale;
  // Causal: query rows i < j0 see none of these keys (j0 is a multiple of kBwdBQ).
  for (int64_t i0 = a.causal ? j0 : 0; i0 < a.Lq; i0 += kBwdBQ) {
    __syncthreads();  // previous Qs, dOs, Ps, dSs no longer read
    load_tile<kBwdBQ, DMAX, P_>(a.q, qbase, i0, a.Lq - i0, D, Qs);
    load_tile<kBwdBQ, DMAX, P_>(a.dout, dobase, i0, a.Lq - i0, Dv, dOs);
    if (tid < kBwdBQ) {
      const bool ok = i0 + tid < a.Lq;
      lse_s[tid] = ok ? lsebase[(i0 + tid) * a.lse_in.s2] : neg_inf<float>();
      delta_s[tid] = ok ? deltabase[i0 + tid] : 0.f;
    }
    __syncthreads();

    // S = Q K^T and dP = dO V^T for query rows ty*2+r, keys tx+16j.
    float s[2][4], dp[2][4];
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int j = 0; j < 4; ++j) s[r][j] = dp[r][j] = 0.f;
    for (int d = 0; d < dq4; d += 4) {
      float4 qv[2], kv[4];
#pragma unroll
      for (int r = 0; r < 2; ++r) qv[r] = *reinterpret_cast<const float4*>(Qs + (ty * 2 + r) * P_ + d);
#pragma unroll
      for (int j = 0; j < 4; ++j) kv[j] = *reinterpret_cast<const float4*>(Ks + (tx + 16 * j) * P_ + d);
#pragma unroll
      for (int r = 0; r < 2; ++r)
#pragma unroll
        for (int j = 0; j < 4; ++j) s[r][j] += dot4(qv[r], kv[j]);
    }
    for (int d = 0; d < dv4; d += 4) {
      float4 ov[2], vv[4];
#pragma unroll
      for (int r = 0; r < 2; ++r) ov[r] = *reinterpret_cast<const float4*>(dOs + (ty * 2 + r) * P_ + d);
#pragma unroll
      for (int j = 0; j < 4; ++j) vv[j] = *reinterpret_cast<const float4*>(Vs + (tx + 16 * j) * P_ + d);
#pragma unroll
      for (int r = 0; r < 2; ++r)
#pragma unroll
        for (int j = 0; j < 4; ++j) dp[r][j] += dot4(ov[r], vv[j]);
    }
    // P = exp(S * scale + mask - lse);  dS = P o (dP - delta) * scale.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int rr = ty * 2 + r;
      const int64_t qi = i0 + rr;
      const float L = lse_s[rr], dl = delta_s[rr];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t kj = j0 + tx + 16 * j;
        float bias, p = 0.f;
        if (L != neg_inf<float>() && qi < a.Lq && kj < a.Lk && visible(a, b, h, qi, kj, &bias))
          p = fast_exp(s[r][j] * scale + bias - L);
        Ps[rr * SP + tx + 16 * j] = p;
        dSs[rr * SP + tx + 16 * j] = p * (dp[r][j] - dl) * scale;
      }
    }
    __syncthreads();

    // dV += P^T dO, dK += dS^T Q: key rows ty*4+i, columns tx+16c.
    for (int r = 0; r < kBwdBQ; ++r) {
      const float4 pc = *reinterpret_cast<const float4*>(Ps + r * SP + ty * 4);
      const float4 sc = *reinterpret_cast<const float4*>(dSs + r * SP + ty * 4);
      const float pa[4] = {pc.x, pc.y, pc.z, pc.w}, sa[4] = {sc.x, sc.y, sc.z, sc.w};
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const float dov = dOs[r * P_ + tx + 16 * c], qv = Qs[r * P_ + tx + 16 * c];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          dv[i][c] += pa[i] * dov;
          dk[i][c] += sa[i] * qv;
        }
      }
    }
    // dQ (query rows ty*2+r, columns tx+16c) += dS K, added atomically.
    float dq[2][NC];
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int c = 0; c < NC; ++c) dq[r][c] = 0.f;
    for (int kk = 0; kk < kBwdBK; kk += 4) {
      float4 sv[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) sv[r] = *reinterpret_cast<const float4*>(dSs + (ty * 2 + r) * SP + kk);
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const float k0 = Ks[(kk + 0) * P_ + tx + 16 * c], k1 = Ks[(kk + 1) * P_ + tx + 16 * c];
        const float k2 = Ks[(kk + 2) * P_ + tx + 16 * c], k3 = Ks[(kk + 3) * P_ + tx + 16 * c];
#pragma unroll
        for (int r = 0; r < 2; ++r) dq[r][c] += sv[r].x * k0 + sv[r].y * k1 + sv[r].z * k2 + sv[r].w * k3;
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t qi = i0 + ty * 2 + r;
      if (qi >= a.Lq) continue;
      float* dqrow = a.dq + (bh * a.Lq + qi) * D;
#pragma unroll
      for (int c = 0; c < NC; ++c)
        if (tx + 16 * c < D) atomicAdd(dqrow + tx + 16 * c, dq[r][c]);
    }
  }

  // This block owns keys j0 .. j0+63: write dK, dV once.
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t kj = j0 + ty * 4 + i;
    if (kj >= a.Lk) continue;
    float* dkrow = a.dk + (bh * a.Lk + kj) * D;
    float* dvrow = a.dv + (bh * a.Lk + kj) * Dv;
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      if (tx + 16 * c < D) dkrow[tx + 16 * c] = dk[i][c];
      if (tx + 16 * c < Dv) dvrow[tx + 16 * c] = dv[i][c];
    }
  }
}

// ---------------------------------------------------------------------------------------
// Simple kernels (float64, and float32 with kernel="simple"): one warp per row.
// Lane l holds elements d = l, l+32, l+64, l+96 of a head-dim vector (D, Dv <= 128).
// ---------------------------------------------------------------------------------------

constexpr int kLanesPer = kMaxHeadDim / 32;

template <typename T>
__device__ __forceinline__ T warp_sum(T x) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}

// reg[u] = row[(lane + 32u) * stride] (0 past n).
template <typename T>
__device__ __forceinline__ void load_row(const T* row, int64_t stride, int64_t n, int lane,
                                         T (&reg)[kLanesPer]) {
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) {
    const int64_t d = lane + 32 * u;
    reg[u] = d < n ? row[d * stride] : T(0);
  }
}

template <typename T>
__device__ __forceinline__ T warp_dot(const T (&x)[kLanesPer], const T (&y)[kLanesPer]) {
  T s = 0;
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) s += x[u] * y[u];
  return warp_sum(s);
}

// Forward: warp per query row, online softmax over the keys one at a time.
template <typename T>
__global__ void __launch_bounds__(128) simple_forward_kernel(const AttnArgs<T> a) {
  const int lane = threadIdx.x % 32;
  const int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (row >= a.B * a.H * a.Lq) return;  // whole warps exit together
  const int64_t bh = row / a.Lq, i = row % a.Lq, b = bh / a.H, h = bh % a.H;
  T q[kLanesPer], o[kLanesPer], kr[kLanesPer], vr[kLanesPer];
  load_row(a.q.ptr + b * a.q.s0 + h * a.q.s1 + i * a.q.s2, a.q.s3, a.D, lane, q);
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) o[u] = 0;
  T m = neg_inf<T>(), l = 0;
  const int64_t jend = a.causal ? min(a.Lk, i + 1) : a.Lk;
  for (int64_t j = 0; j < jend; ++j) {
    T bias;
    if (!visible(a, b, h, i, j, &bias)) continue;
    load_row(a.k.ptr + b * a.k.s0 + h * a.k.s1 + j * a.k.s2, a.k.s3, a.D, lane, kr);
    const T s = warp_dot(q, kr) * a.scale + bias;
    const T m_new = s > m ? s : m;
    if (m_new == neg_inf<T>()) continue;  // -inf additive mask so far
    const T alpha = fast_exp(m - m_new), p = fast_exp(s - m_new);
    load_row(a.v.ptr + b * a.v.s0 + h * a.v.s1 + j * a.v.s2, a.v.s3, a.Dv, lane, vr);
    l = l * alpha + p;
#pragma unroll
    for (int u = 0; u < kLanesPer; ++u) o[u] = o[u] * alpha + p * vr[u];
    m = m_new;
  }
  const T inv = l > 0 ? T(1) / l : T(0);
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) {
    const int64_t c = lane + 32 * u;
    if (c < a.Dv) a.out[row * a.Dv + c] = o[u] * inv;
  }
  if (lane == 0) a.lse[row] = l > 0 ? m + log(l) : neg_inf<T>();
}

// p_ij and ds_ij of one (query i, key j) pair, given q_i, k_j, dO_i, v_j in registers.
template <typename T>
__device__ __forceinline__ void simple_p_ds(const AttnArgs<T>& a, int64_t b, int64_t h,
                                            int64_t i, int64_t j, T L, T dl,
                                            const T (&q)[kLanesPer], const T (&k)[kLanesPer],
                                            const T (&dout)[kLanesPer],
                                            const T (&v)[kLanesPer], T* p, T* ds) {
  const T s = warp_dot(q, k), dp = warp_dot(dout, v);
  T bias;
  *p = (L != neg_inf<T>() && visible(a, b, h, i, j, &bias))
           ? fast_exp(s * a.scale + bias - L) : T(0);
  *ds = *p * (dp - dl) * a.scale;
}

// dK_j, dV_j: warp per key row j, looping over the queries that can see it.
template <typename T>
__global__ void __launch_bounds__(128) simple_dkdv_kernel(const AttnArgs<T> a) {
  const int lane = threadIdx.x % 32;
  const int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (row >= a.B * a.H * a.Lk) return;
  const int64_t bh = row / a.Lk, j = row % a.Lk, b = bh / a.H, h = bh % a.H;
  T k[kLanesPer], v[kLanesPer], q[kLanesPer], dout[kLanesPer], dk[kLanesPer], dv[kLanesPer];
  load_row(a.k.ptr + b * a.k.s0 + h * a.k.s1 + j * a.k.s2, a.k.s3, a.D, lane, k);
  load_row(a.v.ptr + b * a.v.s0 + h * a.v.s1 + j * a.v.s2, a.v.s3, a.Dv, lane, v);
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) dk[u] = dv[u] = 0;
  for (int64_t i = a.causal ? j : 0; i < a.Lq; ++i) {
    const T L = a.lse_in.ptr[b * a.lse_in.s0 + h * a.lse_in.s1 + i * a.lse_in.s2];
    if (L == neg_inf<T>()) continue;
    load_row(a.q.ptr + b * a.q.s0 + h * a.q.s1 + i * a.q.s2, a.q.s3, a.D, lane, q);
    load_row(a.dout.ptr + b * a.dout.s0 + h * a.dout.s1 + i * a.dout.s2, a.dout.s3, a.Dv,
             lane, dout);
    T p, ds;
    simple_p_ds(a, b, h, i, j, L, a.delta[bh * a.Lq + i], q, k, dout, v, &p, &ds);
#pragma unroll
    for (int u = 0; u < kLanesPer; ++u) {
      dv[u] += p * dout[u];
      dk[u] += ds * q[u];
    }
  }
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) {
    const int64_t c = lane + 32 * u;
    if (c < a.D) a.dk[row * a.D + c] = dk[u];
    if (c < a.Dv) a.dv[row * a.Dv + c] = dv[u];
  }
}

// dQ_i: warp per query row i, looping over the keys it sees (no atomics).
template <typename T>
__global__ void __launch_bounds__(128) simple_dq_kernel(const AttnArgs<T> a) {
  const int lane = threadIdx.x % 32;
  const int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (row >= a.B * a.H * a.Lq) return;
  const int64_t bh = row / a.Lq, i = row % a.Lq, b = bh / a.H, h = bh % a.H;
  T q[kLanesPer], dout[kLanesPer], k[kLanesPer], v[kLanesPer], dq[kLanesPer];
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) dq[u] = 0;
  const T L = a.lse_in.ptr[b * a.lse_in.s0 + h * a.lse_in.s1 + i * a.lse_in.s2];
  if (L != neg_inf<T>()) {
    load_row(a.q.ptr + b * a.q.s0 + h * a.q.s1 + i * a.q.s2, a.q.s3, a.D, lane, q);
    load_row(a.dout.ptr + b * a.dout.s0 + h * a.dout.s1 + i * a.dout.s2, a.dout.s3, a.Dv,
             lane, dout);
    const T dl = a.delta[row];
    const int64_t jend = a.causal ? min(a.Lk, i + 1) : a.Lk;
    for (int64_t j = 0; j < jend; ++j) {
      load_row(a.k.ptr + b * a.k.s0 + h * a.k.s1 + j * a.k.s2, a.k.s3, a.D, lane, k);
      load_row(a.v.ptr + b * a.v.s0 + h * a.v.s1 + j * a.v.s2, a.v.s3, a.Dv, lane, v);
      T p, ds;
      simple_p_ds(a, b, h, i, j, L, dl, q, k, dout, v, &p, &ds);
#pragma unroll
      for (int u = 0; u < kLanesPer; ++u) dq[u] += ds * k[u];
    }
  }
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) {
    const int64_t c = lane + 32 * u;
    if (c < a.D) a.dq[row * a.D + c] = dq[u];
  }
}

// ---------------------------------------------------------------------------------------
// Launchers
// ---------------------------------------------------------------------------------------

unsigned warp_blocks(int64_t rows, int warps_per_block) {
  return static_cast<unsigned>((rows + warps_per_block - 1) / warps_per_block);
}

void check_grid(int64_t blocks) {
  if (blocks > 0x7fffffffLL)
    throw std::runtime_error("scaled_dot_product_attention: the problem is too large for one "
                             "CUDA grid");
}

// Whether a block may opt in to `bytes` of dynamic shared memory on the current device. The
// DMAX=128 flash kernels need ~116 KiB: fine on A100 (163 KiB) and H100 (227 KiB), more than
// sm_86/sm_89 GPUs allow (99 KiB); the DMAX=64 ones need ~69 KiB, more than sm_75's 64 KiB.
// Where they do not fit, the simple kernels run instead (same results, slower).
bool smem_fits(int bytes) {
  static int optin[64] = {};
  return bytes <= cached_attribute(optin, cudaDevAttrMaxSharedMemoryPerBlockOptin);
}

template <int DMAX>
void launch_flash_forward(const AttnArgs<float>& a) {
  const int64_t blocks = a.B * a.H * ((a.Lq + kFwdBQ - 1) / kFwdBQ);
  check_grid(blocks);
  const int smem = fwd_smem_floats<DMAX>() * static_cast<int>(sizeof(float));
  EMBER_CUDA_CHECK(cudaFuncSetAttribute(flash_forward_kernel<DMAX>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  flash_forward_kernel<DMAX><<<static_cast<unsigned>(blocks), kThreads, smem>>>(a);
  EMBER_CUDA_CHECK_LAUNCH("flash_forward_kernel");
}

template <int DMAX>
void launch_flash_backward(const AttnArgs<float>& a) {
  const int64_t blocks = a.B * a.H * ((a.Lk + kBwdBK - 1) / kBwdBK);
  check_grid(blocks);
  const int smem = bwd_smem_floats<DMAX>() * static_cast<int>(sizeof(float));
  EMBER_CUDA_CHECK(cudaFuncSetAttribute(flash_backward_kernel<DMAX>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  flash_backward_kernel<DMAX><<<static_cast<unsigned>(blocks), kThreads, smem>>>(a);
  EMBER_CUDA_CHECK_LAUNCH("flash_backward_kernel");
}

template <typename T>
void run_forward(const AttnArgs<T>& a, bool flash) {
  const int64_t rows = a.B * a.H * a.Lq;
  if (rows == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    const bool small = a.D <= 64 && a.Dv <= 64;
    if (flash && smem_fits(static_cast<int>(sizeof(float)) *
                           (small ? fwd_smem_floats<64>() : fwd_smem_floats<128>()))) {
      if (small) launch_flash_forward<64>(a);
      else launch_flash_forward<128>(a);
      return;
    }
  }
  check_grid(warp_blocks(rows, 4));
  simple_forward_kernel<T><<<warp_blocks(rows, 4), 128>>>(a);
  EMBER_CUDA_CHECK_LAUNCH("simple_forward_kernel");
}

template <typename T>
void run_backward(const AttnArgs<T>& a, bool flash) {
  const int64_t bh = a.B * a.H, qrows = bh * a.Lq, krows = bh * a.Lk;
  if (qrows > 0) {
    attention_delta_kernel<T><<<blocks_for(qrows * 32, 256), 256>>>(a);
    EMBER_CUDA_CHECK_LAUNCH("attention_delta_kernel");
  }
  if constexpr (std::is_same_v<T, float>) {
    const bool small = a.D <= 64 && a.Dv <= 64;
    if (flash && smem_fits(static_cast<int>(sizeof(float)) *
                           (small ? bwd_smem_floats<64>() : bwd_smem_floats<128>()))) {
      if (qrows * a.D > 0)
        EMBER_CUDA_CHECK(cudaMemsetAsync(a.dq, 0, sizeof(float) * qrows * a.D));
      if (krows == 0) return;
      if (small) launch_flash_backward<64>(a);
      else launch_flash_backward<128>(a);
      return;
    }
  }
  if (krows > 0) {
    check_grid(warp_blocks(krows, 4));
    simple_dkdv_kernel<T><<<warp_blocks(krows, 4), 128>>>(a);
    EMBER_CUDA_CHECK_LAUNCH("simple_dkdv_kernel");
  }
  if (qrows > 0) {
    check_grid(warp_blocks(qrows, 4));
    simple_dq_kernel<T><<<warp_blocks(qrows, 4), 128>>>(a);
    EMBER_CUDA_CHECK_LAUNCH("simple_dq_kernel");
  }
}

// ---------------------------------------------------------------------------------------
// Bindings (checks mirror bindings_attention.cpp)
// ---------------------------------------------------------------------------------------

constexpr const char* kOp = "scaled_dot_product_attention";

[[noreturn]] void fail_value(const std::string& what) {
  throw py::value_error(std::string(kOp) + ": " + what);
}
[[noreturn]] void fail_type(const std::string& what) {
  throw py::type_error(std::string(kOp) + ": " + what);
}

std::string describe(const char* name, const DeviceArray& a) {
  return std::string(name) + " " + shape_str(a.shape()) + " " + dtype_name(a.dtype());
}

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }

struct Shapes {
  int64_t b, h, lq, lk, d, dv;
};

Shapes check_qkv(const DeviceArray& q, const DeviceArray& k, const DeviceArray& v) {
  const std::string all = describe("query", q) + ", " + describe("key", k) + ", " +
                          describe("value", v);
  if (!is_float(q.dtype()) || q.dtype() != k.dtype() || q.dtype() != v.dtype())
    fail_type("query, key and value must share one floating dtype (float32 or float64), got " +
              all);
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4)
    fail_value("the kernel expects 4-d query (B, H, Lq, D), key (B, H, Lk, D) and value "
               "(B, H, Lk, Dv), got " + all);
  const auto &qs = q.shape(), &ks = k.shape(), &vs = v.shape();
  if (qs[0] != ks[0] || qs[0] != vs[0] || qs[1] != ks[1] || qs[1] != vs[1])
    fail_value("query, key and value must have the same batch and head dimensions, got " + all);
  if (ks[2] != vs[2]) fail_value("key and value must have the same sequence length, got " + all);
  if (qs[3] != ks[3])
    fail_value("query and key must have the same embedding dimension D, got " + all);
  if (qs[3] > kMaxHeadDim || vs[3] > kMaxHeadDim)
    fail_value("the CUDA kernels support head dimensions D and Dv up to " +
               std::to_string(kMaxHeadDim) + ", got " + all);
  if (q.device() != k.device() || q.device() != v.device())
    fail_value("query, key and value must be on the same device, got cuda:" +
               std::to_string(q.device()) + ", cuda:" + std::to_string(k.device()) +
               " and cuda:" + std::to_string(v.device()));
  return {qs[0], qs[1], qs[2], ks[2], qs[3], vs[3]};
}

// Element strides of an n-d array viewed as 4-d (missing leading dims and size-1 dims: 0).
template <typename T>
View4<T> view4(const DeviceArray& a) {
  View4<T> v;
  v.ptr = a.data_as<T>();
  int64_t s[4] = {0, 0, 0, 0};
  const int lead = 4 - a.ndim();
  for (int d = 0; d < a.ndim(); ++d) s[lead + d] = a.shape()[d] > 1 ? a.strides()[d] : 0;
  v.s0 = s[0];
  v.s1 = s[1];
  v.s2 = s[2];
  v.s3 = s[3];
  const int64_t last = a.ndim() > 0 ? a.shape()[a.ndim() - 1] : 1;
  v.vec = std::is_same_v<T, float> && aligned16(v.ptr) && (v.s3 == 1 || last <= 1) &&
          v.s0 % 4 == 0 && v.s1 % 4 == 0 && v.s2 % 4 == 0;
  return v;
}

template <typename T>
void describe_mask(const std::optional<DeviceArray>& mask_in, const DeviceArray& q,
                   const Shapes& s, AttnArgs<T>* a) {
  a->mask_kind = kMaskNone;
  a->mask_add = nullptr;
  a->mask_bool = nullptr;
  a->msb = a->msh = a->msi = a->msj = 0;
  if (!mask_in) return;
  const DeviceArray& mask = *mask_in;
  if (mask.dtype() != DType::Bool && mask.dtype() != q.dtype())
    fail_type("attn_mask must be bool (True = attend) or the query's dtype " +
              std::string(dtype_name(q.dtype())) + ", got " + describe("attn_mask", mask));
  const int64_t target[4] = {s.b, s.h, s.lq, s.lk};
  std::ostringstream tshape;
  tshape << "(" << s.b << ", " << s.h << ", " << s.lq << ", " << s.lk << ")";
  if (mask.ndim() > 4)
    fail_value("attn_mask " + shape_str(mask.shape()) + " has more than 4 dimensions; it must "
               "be broadcastable to (B, H, Lq, Lk) = " + tshape.str());
  const int lead = 4 - mask.ndim();
  for (int d = 0; d < mask.ndim(); ++d) {
    const int64_t n = mask.shape()[d];
    if (n != 1 && n != target[lead + d])
      fail_value("attn_mask of shape " + shape_str(mask.shape()) + " is not broadcastable to "
                 "(B, H, Lq, Lk) = " + tshape.str() + " (query " + shape_str(q.shape()) + ")");
  }
  if (mask.device() != q.device())
    fail_value("attn_mask is on cuda:" + std::to_string(mask.device()) +
               " but query is on cuda:" + std::to_string(q.device()));
  int64_t st[4] = {0, 0, 0, 0};
  for (int d = 0; d < mask.ndim(); ++d) st[lead + d] = mask.shape()[d] > 1 ? mask.strides()[d] : 0;
  a->msb = st[0];
  a->msh = st[1];
  a->msi = st[2];
  a->msj = st[3];
  if (mask.dtype() == DType::Bool) {
    a->mask_kind = kMaskBool;
    a->mask_bool = mask.data_as<uint8_t>();
  } else {
    a->mask_kind = kMaskAdd;
    a->mask_add = mask.data_as<T>();
  }
}

bool use_flash(const std::string& kernel, DType dtype) {
  if (kernel == "auto") return dtype == DType::Float32;
  if (kernel == "flash") {
    if (dtype != DType::Float32)
      fail_value("kernel 'flash' runs float32 only (float64 uses 'simple')");
    return true;
  }
  if (kernel == "simple") return false;
  fail_value("unknown kernel '" + kernel + "', expected 'auto', 'flash' or 'simple'");
}

template <typename T>
AttnArgs<T> make_args(const DeviceArray& q, const DeviceArray& k, const DeviceArray& v,
                      const std::optional<DeviceArray>& mask, bool is_causal,
                      std::optional<double> scale, const Shapes& s) {
  AttnArgs<T> a{};
  a.B = s.b;
  a.H = s.h;
  a.Lq = s.lq;
  a.Lk = s.lk;
  a.D = s.d;
  a.Dv = s.dv;
  a.q = view4<T>(q);
  a.k = view4<T>(k);
  a.v = view4<T>(v);
  a.causal = is_causal;
  a.scale = static_cast<T>(scale ? *scale
                                 : (s.d > 0 ? 1.0 / std::sqrt(static_cast<double>(s.d)) : 1.0));
  describe_mask<T>(mask, q, s, &a);
  return a;
}

py::tuple attention_forward_binding(const DeviceArray& q, const DeviceArray& k,
                                    const DeviceArray& v, const std::optional<DeviceArray>& mask,
                                    bool is_causal, std::optional<double> scale,
                                    const std::string& kernel) {
  const Shapes s = check_qkv(q, k, v);
  const bool flash = use_flash(kernel, q.dtype());
  DeviceArray out({s.b, s.h, s.lq, s.dv}, q.dtype(), q.device());
  DeviceArray lse({s.b, s.h, s.lq}, q.dtype(), q.device());
  DeviceGuard guard(q.device());
  if (q.dtype() == DType::Float32) {
    AttnArgs<float> a = make_args<float>(q, k, v, mask, is_causal, scale, s);
    a.out = out.data_as<float>();
    a.lse = lse.data_as<float>();
    run_forward(a, flash);
  } else {
    AttnArgs<double> a = make_args<double>(q, k, v, mask, is_causal, scale, s);
    a.out = out.data_as<double>();
    a.lse = lse.data_as<double>();
    run_forward(a, flash);
  }
  return py::make_tuple(out, lse);
}

void check_same(const char* name, const DeviceArray& a, const DeviceArray& q,
                const std::vector<int64_t>& shape) {
  if (a.dtype() != q.dtype())
    fail_type(std::string("backward: ") + name + " must have the query's dtype " +
              dtype_name(q.dtype()) + ", got " + describe(name, a));
  if (a.shape() != shape)
    fail_value(std::string("backward: ") + name + " must have shape " + shape_str(shape) +
               ", got " + describe(name, a));
  if (a.device() != q.device())
    fail_value(std::string("backward: ") + name + " is on cuda:" + std::to_string(a.device()) +
               " but query is on cuda:" + std::to_string(q.device()));
}

py::tuple attention_backward_binding(const DeviceArray& dout, const DeviceArray& q,
                                     const DeviceArray& k, const DeviceArray& v,
                                     const DeviceArray& out, const DeviceArray& lse,
                                     const std::optional<DeviceArray>& mask, bool is_causal,
                                     std::optional<double> scale, const std::string& kernel) {
  const Shapes s = check_qkv(q, k, v);
  check_same("grad_output", dout, q, {s.b, s.h, s.lq, s.dv});
  check_same("out", out, q, {s.b, s.h, s.lq, s.dv});
  check_same("lse", lse, q, {s.b, s.h, s.lq});
  const bool flash = use_flash(kernel, q.dtype());
  DeviceArray dq({s.b, s.h, s.lq, s.d}, q.dtype(), q.device());
  DeviceArray dk({s.b, s.h, s.lk, s.d}, q.dtype(), q.device());
  DeviceArray dv({s.b, s.h, s.lk, s.dv}, q.dtype(), q.device());
  DeviceArray delta({s.b * s.h * s.lq}, q.dtype(), q.device());
  DeviceGuard guard(q.device());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    AttnArgs<T> a = make_args<T>(q, k, v, mask, is_causal, scale, s);
    a.dout = view4<T>(dout);
    a.o = view4<T>(out);
    View4<T> l = view4<T>(lse);  // a 3-d array seen as (1, B, H, Lq): shift the strides
    a.lse_in.ptr = l.ptr;
    a.lse_in.s0 = l.s1;
    a.lse_in.s1 = l.s2;
    a.lse_in.s2 = l.s3;
    a.delta = delta.data_as<T>();
    a.dq = dq.data_as<T>();
    a.dk = dk.data_as<T>();
    a.dv = dv.data_as<T>();
    run_backward(a, flash);
  };
  if (q.dtype() == DType::Float32) run(float{});
  else run(double{});
  // `delta` is freed when this returns, while the kernels may still be running. That is
  // safe as long as the caching allocator hands blocks out in stream order (one stream).
  return py::make_tuple(dq, dk, dv);
}

}  // namespace
}  // namespace ember::cuda

void bind_attention(pybind11::module_& m) {
  using namespace ember::cuda;
  m.def("attention_forward", &attention_forward_binding, py::arg("q"), py::arg("k"),
        py::arg("v"), py::arg("mask") = py::none(), py::arg("is_causal") = false,
        py::arg("scale") = py::none(), py::kw_only(), py::arg("kernel") = "auto",
        "Fused (flash) attention on the GPU: softmax(q k^T * scale + mask) v for q (B, H, Lq,\n"
        "D), k (B, H, Lk, D), v (B, H, Lk, Dv), D and Dv <= 128. mask: None, bool (True =\n"
        "attend) or additive float, broadcastable to (B, H, Lq, Lk). Returns (out, lse);\n"
        "fully masked rows give 0 and lse -inf. kernel: 'auto', 'flash' (float32) or\n"
        "'simple' (warp per row; the float64 path).");
  m.def("attention_backward", &attention_backward_binding, py::arg("dout"), py::arg("q"),
        py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"),
        py::arg("mask") = py::none(), py::arg("is_causal") = false,
        py::arg("scale") = py::none(), py::kw_only(), py::arg("kernel") = "auto",
        "Gradients (dq, dk, dv) of attention_forward given dout and the forward's out and\n"
        "lse (FlashAttention-2 backward: probabilities recomputed tile by tile).");
}
