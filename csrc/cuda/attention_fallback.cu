// The simple attention kernels -- one warp per row, any float dtype, D and Dv <= 128 -- and
// the choice between them and the flash kernels (attention_flash.cu). They run float64, a
// float32 call with kernel="simple", and float32 on GPUs with too little shared memory for
// the flash tiles (same results, slower). Semantics: attention.cuh.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cuda/attention.cuh"

namespace ember::cuda::attention {
namespace {

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
    const T m_new = (s > m || s != s) ? s : m;  // a NaN score makes m, l and the row NaN
    if (m_new == neg_inf<T>()) continue;  // -inf additive mask so far
    const T alpha = fast_exp(m - m_new), p = fast_exp(s - m_new);
    load_row(a.v.ptr + b * a.v.s0 + h * a.v.s1 + j * a.v.s2, a.v.s3, a.Dv, lane, vr);
    l = l * alpha + p;
#pragma unroll
    for (int u = 0; u < kLanesPer; ++u) o[u] = o[u] * alpha + p * vr[u];
    m = m_new;
  }
  const T inv = l == T(0) ? T(0) : T(1) / l;  // fully masked: 0, not 0/0
#pragma unroll
  for (int u = 0; u < kLanesPer; ++u) {
    const int64_t c = lane + 32 * u;
    if (c < a.Dv) a.out[row * a.Dv + c] = o[u] * inv;
  }
  if (lane == 0) a.lse[row] = l == T(0) ? neg_inf<T>() : m + log(l);
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

template <typename T>
void run_forward_impl(const AttnArgs<T>& a, bool flash) {
  const int64_t rows = a.B * a.H * a.Lq;
  if (rows == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (flash && flash_forward(a)) return;
  }
  check_grid(warp_blocks(rows, 4));
  simple_forward_kernel<T><<<warp_blocks(rows, 4), 128>>>(a);
  EMBER_CUDA_CHECK_LAUNCH("simple_forward_kernel");
}

template <typename T>
void run_backward_impl(const AttnArgs<T>& a, bool flash) {
  const int64_t bh = a.B * a.H, qrows = bh * a.Lq, krows = bh * a.Lk;
  if (qrows > 0) {
    attention_delta_kernel<T><<<blocks_for(qrows * 32, 256), 256>>>(a);
    EMBER_CUDA_CHECK_LAUNCH("attention_delta_kernel");
  }
  if constexpr (std::is_same_v<T, float>) {
    if (flash && flash_backward(a)) return;
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

}  // namespace

void run_forward(const AttnArgs<float>& a, bool flash) { run_forward_impl(a, flash); }
void run_forward(const AttnArgs<double>& a, bool flash) { run_forward_impl(a, flash); }
void run_backward(const AttnArgs<float>& a, bool flash) { run_backward_impl(a, flash); }
void run_backward(const AttnArgs<double>& a, bool flash) { run_backward_impl(a, flash); }

}  // namespace ember::cuda::attention
