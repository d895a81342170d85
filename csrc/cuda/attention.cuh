// Fused scaled-dot-product attention on the GPU (hand-written, FlashAttention-2 style): what
// its three files share. The semantics are the CPU kernel's (cpu/attention.h, whose
// attention_reference in ember._C is the plain loop both are tested against):
//
//   out = softmax(q k^T * scale + mask) v,  q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv)
//   mask: None, bool (True = attend) or additive (q's dtype), broadcastable to (B, H, Lq, Lk)
//   is_causal: query i sees keys j <= i (top-left aligned, as PyTorch). scale: 1/sqrt(D).
//   Fully masked rows: out = 0, lse = -inf, gradient 0 (never NaN); a NaN score makes its
//   row's out and lse NaN (propagated, as PyTorch does, never turned into 0).
// q, k, v, dout, out and lse may be any strided views (no copies); outputs are contiguous.
//
//   attention_flash.cu     the float32 flash kernels (D, Dv <= 128), tiled in shared memory
//   attention_fallback.cu  the simple warp-per-row kernels (float64, kernel="simple", or a GPU
//                          with too little shared memory for the flash tiles), and the choice
//                          between the two (run_forward / run_backward)
//   attention_bindings.cu  ember._cuda.attention_forward / attention_backward
#pragma once

#include <cstdint>
#include <stdexcept>

#include "cuda/device_array.h"
#include "cuda/gemm.cuh"  // DeviceGuard, aligned16, cached_attribute

namespace ember::cuda::attention {

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

inline unsigned warp_blocks(int64_t rows, int warps_per_block) {
  return static_cast<unsigned>((rows + warps_per_block - 1) / warps_per_block);
}

inline void check_grid(int64_t blocks) {
  if (blocks > 0x7fffffffLL)
    throw std::runtime_error("scaled_dot_product_attention: the problem is too large for one "
                             "CUDA grid");
}

// attention_flash.cu: launch the float32 flash kernels and return true, or return false
// (nothing launched) when the GPU cannot give a block their shared memory. The backward needs
// a.delta computed first (run_backward does it).
bool flash_forward(const AttnArgs<float>& a);
bool flash_backward(const AttnArgs<float>& a);

// attention_fallback.cu: out and lse (forward) or dq, dk, dv (backward), by the flash kernels
// when `flash` asks for them and they fit, else by the simple kernels.
void run_forward(const AttnArgs<float>& a, bool flash);
void run_forward(const AttnArgs<double>& a, bool flash);
void run_backward(const AttnArgs<float>& a, bool flash);
void run_backward(const AttnArgs<double>& a, bool flash);

}  // namespace ember::cuda::attention
