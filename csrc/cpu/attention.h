// Scaled-dot-product attention on the CPU: out = softmax(Q K^T * scale + mask) V.
//
// attention_forward / attention_backward are the fused, FlashAttention-2 style kernels:
// they walk the keys block by block with an online softmax, so the Lq x Lk score matrix
// is never stored (memory is O(block) per thread plus the O(L) outputs). The forward also
// returns the per-row logsumexp, which is all the backward needs to rebuild any block of
// the probabilities exactly.
//
// attention_reference_forward / _backward are the slow, obviously-correct versions: they
// materialise the whole Lq x Lk matrix of one (batch, head) at a time, follow the
// textbook formulas line by line, and are the tests' oracle (and the place to start
// reading). The SIMD kernels live in attention_impl.h, compiled once per instruction set
// (attention.cpp, attention_avx2.cpp, attention_avx512.cpp) and picked at run time.
//
// Fully masked rows (every key masked out by the boolean mask, by -inf in a float mask,
// or an empty key sequence) produce an output of 0 and a gradient of 0, and a logsumexp
// of -inf. This is a deliberate choice: a padded query row then contributes nothing instead
// of poisoning the loss with NaN. It agrees with PyTorch's fused SDPA kernels (2.5+);
// PyTorch's explicit-softmax paths (older math backend, MultiheadAttention with
// need_weights=True) give NaN there. A NaN score, on the other hand, is propagated, as in
// PyTorch: its row's output and logsumexp are NaN (never quietly 0).
#pragma once
#include <cstdint>

#include <vector>

#include "cpu/isa.h"

namespace ember::cpu {

enum class AttentionMask { none, boolean, additive };

// One attention problem. q is (B, H, Lq, D), k is (B, H, Lk, D), v is (B, H, Lk, Dv), all
// C-contiguous. The optional mask is addressed through element strides for its view as
// (B, H, Lq, Lk) (stride 0 along broadcast dimensions): element (b, h, i, j) lives at
// mask[b * mask_sb + h * mask_sh + i * mask_si + j * mask_sj]. A boolean mask holds 1 where
// the query may attend the key; an additive mask is added to the scaled scores.
// causal: query i attends key j only when j <= i (top-left aligned, as PyTorch's
// is_causal), on top of the mask.
template <typename T>
struct AttentionParams {
  int64_t batch = 0, heads = 0, lq = 0, lk = 0, d = 0, dv = 0;
  const T* q = nullptr;
  const T* k = nullptr;
  const T* v = nullptr;
  AttentionMask mask_kind = AttentionMask::none;
  const T* mask_add = nullptr;         // additive mask (same dtype as q)
  const uint8_t* mask_bool = nullptr;  // boolean mask (NumPy bool: one byte, 0 or 1)
  int64_t mask_sb = 0, mask_sh = 0, mask_si = 0, mask_sj = 0;
  bool causal = false;
  T scale = 1;
};


// out (B, H, Lq, Dv) and lse (B, H, Lq) are written in full. Multi-threaded (OpenMP) over
// (batch * heads) x query blocks.
void attention_forward(const AttentionParams<float>& p, float* out, float* lse,
                       Isa isa = Isa::automatic);
void attention_forward(const AttentionParams<double>& p, double* out, double* lse,
                       Isa isa = Isa::automatic);

// Given dout = dL/dout and the forward's out and lse, writes dq, dk, dv in full.
// Multi-threaded over (batch * heads), or over (batch * heads) x key blocks with
// per-thread dq accumulators when there are fewer heads than threads.
void attention_backward(const AttentionParams<float>& p, const float* dout, const float* out,
                        const float* lse, float* dq, float* dk, float* dv,
                        Isa isa = Isa::automatic);
void attention_backward(const AttentionParams<double>& p, const double* dout,
                        const double* out, const double* lse, double* dq, double* dk,
                        double* dv, Isa isa = Isa::automatic);

// The slow references (single-threaded, O(Lq * Lk) memory). Same contracts as above.
void attention_reference_forward(const AttentionParams<float>& p, float* out, float* lse);
void attention_reference_forward(const AttentionParams<double>& p, double* out, double* lse);
void attention_reference_backward(const AttentionParams<float>& p, const float* dout,
                                  const float* out, const float* lse, float* dq, float* dk,
                                  float* dv);
void attention_reference_backward(const AttentionParams<double>& p, const double* dout,
                                  const double* out, const double* lse, double* dq,
                                  double* dk, double* dv);

// Which kernels this build and CPU can run (isa.h), best first.
std::vector<Isa> attention_available_isas();

}  // namespace ember::cpu
