// The float32 flash-attention kernels (FlashAttention-2 style; attention.cuh has the
// semantics and the plan of the three attention files). D and Dv <= 128, compiled for
// DMAX = 64 and 128.
//
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
#include <cmath>
#include <cstdint>

#include "cuda/attention.cuh"

namespace ember::cuda::attention {
namespace {

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
      if (m_new == neg_inf<float>()) {  // nothing visible yet: this tile adds nothing,
#pragma unroll                            // unless a score is NaN (fmaxf skips NaN): kept,
        for (int j = 0; j < 4; ++j) s[i][j] = s[i][j] != s[i][j] ? s[i][j] : 0.f;  // NaN sum
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
    const float inv = l == 0.f ? 0.f : 1.f / l;  // fully masked: 0; a NaN score: NaN
    float* orow = a.out + (bh_rows + qi) * Dv;
#pragma unroll
    for (int c = 0; c < NC; ++c)
      if (tx + 16 * c < Dv) orow[tx + 16 * c] = o[i][c] * inv;
    if (tx == 0) a.lse[bh_rows + qi] = l == 0.f ? neg_inf<float>() : row_m[i] + logf(l);
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
// Launchers
// ---------------------------------------------------------------------------------------

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

}  // namespace

bool flash_forward(const AttnArgs<float>& a) {
  const bool small = a.D <= 64 && a.Dv <= 64;
  if (!smem_fits(static_cast<int>(sizeof(float)) *
                 (small ? fwd_smem_floats<64>() : fwd_smem_floats<128>())))
    return false;
  if (small) launch_flash_forward<64>(a);
  else launch_flash_forward<128>(a);
  return true;
}

bool flash_backward(const AttnArgs<float>& a) {
  const bool small = a.D <= 64 && a.Dv <= 64;
  if (!smem_fits(static_cast<int>(sizeof(float)) *
                 (small ? bwd_smem_floats<64>() : bwd_smem_floats<128>())))
    return false;
  const int64_t bh = a.B * a.H, qrows = bh * a.Lq, krows = bh * a.Lk;
  // dQ accumulates by atomics from every key tile
  if (qrows * a.D > 0) EMBER_CUDA_CHECK(cudaMemsetAsync(a.dq, 0, sizeof(float) * qrows * a.D));
  if (krows == 0) return true;
  if (small) launch_flash_backward<64>(a);
  else launch_flash_backward<128>(a);
  return true;
}

}  // namespace ember::cuda::attention
