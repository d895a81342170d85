// Attention front end: the run-time choice of the SIMD kernels (attention_impl.h, compiled
// here for portable SSE2 and in attention_avx2.cpp / attention_avx512.cpp), and the slow
// reference implementations -- the tests' oracle and the place to start reading.
#include "cpu/attention.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#define EMBER_ATTN_NS generic
#define EMBER_ATTN_VBYTES 16
#include "cpu/attention_impl.h"
#undef EMBER_ATTN_NS
#undef EMBER_ATTN_VBYTES


namespace ember::cpu {

namespace attn_detail {
const AttentionKernels* attention_generic_kernels() { return &generic::kKernels; }
}  // namespace attn_detail

namespace {

using attn_detail::AttentionKernels;

// The fused kernels of each ISA (attention_impl.h compiled here for SSE2 and in
// attention_avx2.cpp / attention_avx512.cpp).
const IsaVariants<AttentionKernels>& variants() {
  static const IsaVariants<AttentionKernels> v{attn_detail::attention_generic_kernels(),
                                               attn_detail::attention_avx2_kernels(),
                                               attn_detail::attention_avx512_kernels()};
  return v;
}

const AttentionKernels& kernels_for(Isa isa) {
  static const Isa best = variants().best();
  return variants().pick(isa, best);
}

// ---------------------------------------------------------------------------------------
// Reference: for each (batch, head), the whole Lq x Lk matrix, textbook formulas,
// accumulated in double.
// ---------------------------------------------------------------------------------------

// Is key j visible to query i, and what is added to its score?
template <typename T>
bool visible(const AttentionParams<T>& p, int64_t b, int64_t h, int64_t i, int64_t j,
             double* bias) {
  *bias = 0;
  if (p.causal && j > i) return false;
  const int64_t off = b * p.mask_sb + h * p.mask_sh + i * p.mask_si + j * p.mask_sj;
  if (p.mask_kind == AttentionMask::boolean) return p.mask_bool[off] != 0;
  if (p.mask_kind == AttentionMask::additive) *bias = static_cast<double>(p.mask_add[off]);
  return true;
}

// P (Lq x Lk) = softmax(Q K^T * scale + mask) of head (b, h); fills lse; fully masked
// rows are all-zero with lse = -inf.
template <typename T>
void reference_probabilities(const AttentionParams<T>& p, int64_t bh, std::vector<double>& P,
                             T* lse) {
  const int64_t b = bh / p.heads, h = bh % p.heads;
  const T* Q = p.q + bh * p.lq * p.d;
  const T* K = p.k + bh * p.lk * p.d;
  const double ninf = -std::numeric_limits<double>::infinity();
  P.assign(static_cast<size_t>(p.lq * p.lk), 0.0);
  for (int64_t i = 0; i < p.lq; ++i) {
    double* row = P.data() + i * p.lk;
    double mx = ninf;
    for (int64_t j = 0; j < p.lk; ++j) {
      double bias;
      if (!visible(p, b, h, i, j, &bias)) {
        row[j] = ninf;
        continue;
      }
      double s = 0;
      for (int64_t c = 0; c < p.d; ++c)
        s += static_cast<double>(Q[i * p.d + c]) * static_cast<double>(K[j * p.d + c]);
      row[j] = s * static_cast<double>(p.scale) + bias;
      if (row[j] > mx || row[j] != row[j]) mx = row[j];  // a NaN score: the row is NaN
    }
    if (mx == ninf) {  // fully masked: zero probabilities (see attention.h)
      for (int64_t j = 0; j < p.lk; ++j) row[j] = 0;
      lse[bh * p.lq + i] = static_cast<T>(ninf);
      continue;
    }
    double sum = 0;
    for (int64_t j = 0; j < p.lk; ++j) sum += (row[j] = std::exp(row[j] - mx));
    for (int64_t j = 0; j < p.lk; ++j) row[j] /= sum;
    lse[bh * p.lq + i] = static_cast<T>(mx + std::log(sum));
  }
}

template <typename T>
void reference_forward(const AttentionParams<T>& p, T* out, T* lse) {
  std::vector<double> P;
  for (int64_t bh = 0; bh < p.batch * p.heads; ++bh) {
    reference_probabilities(p, bh, P, lse);
    const T* V = p.v + bh * p.lk * p.dv;
    for (int64_t i = 0; i < p.lq; ++i)
      for (int64_t c = 0; c < p.dv; ++c) {  // out = P V
        double s = 0;
        for (int64_t j = 0; j < p.lk; ++j)
          s += P[static_cast<size_t>(i * p.lk + j)] * static_cast<double>(V[j * p.dv + c]);
        out[(bh * p.lq + i) * p.dv + c] = static_cast<T>(s);
      }
  }
}

// dV = P^T dO;  dP = dO V^T;  dS = P o (dP - rowsum(P o dP));  dQ = dS K * scale;
// dK = dS^T Q * scale.  (The reference recomputes P and ignores out/lse.)
template <typename T>
void reference_backward(const AttentionParams<T>& p, const T* dout, T* dq, T* dk, T* dv) {
  std::vector<double> P, dS(static_cast<size_t>(p.lq * p.lk));
  std::vector<T> lse(static_cast<size_t>(p.batch * p.heads * p.lq));
  for (int64_t bh = 0; bh < p.batch * p.heads; ++bh) {
    reference_probabilities(p, bh, P, lse.data());
    const T* Q = p.q + bh * p.lq * p.d;
    const T* K = p.k + bh * p.lk * p.d;
    const T* V = p.v + bh * p.lk * p.dv;
    const T* dO = dout + bh * p.lq * p.dv;
    for (int64_t i = 0; i < p.lq; ++i) {
      double rowdot = 0;
      for (int64_t j = 0; j < p.lk; ++j) {
        double dp = 0;
        for (int64_t c = 0; c < p.dv; ++c)
          dp += static_cast<double>(dO[i * p.dv + c]) * static_cast<double>(V[j * p.dv + c]);
        dS[static_cast<size_t>(i * p.lk + j)] = dp;
        rowdot += P[static_cast<size_t>(i * p.lk + j)] * dp;
      }
      for (int64_t j = 0; j < p.lk; ++j) {
        const size_t e = static_cast<size_t>(i * p.lk + j);
        dS[e] = P[e] * (dS[e] - rowdot);
      }
    }
    const double scale = static_cast<double>(p.scale);
    for (int64_t i = 0; i < p.lq; ++i)
      for (int64_t c = 0; c < p.d; ++c) {
        double s = 0;
        for (int64_t j = 0; j < p.lk; ++j)
          s += dS[static_cast<size_t>(i * p.lk + j)] * static_cast<double>(K[j * p.d + c]);
        dq[(bh * p.lq + i) * p.d + c] = static_cast<T>(s * scale);
      }
    for (int64_t j = 0; j < p.lk; ++j) {
      for (int64_t c = 0; c < p.d; ++c) {
        double s = 0;
        for (int64_t i = 0; i < p.lq; ++i)
          s += dS[static_cast<size_t>(i * p.lk + j)] * static_cast<double>(Q[i * p.d + c]);
        dk[(bh * p.lk + j) * p.d + c] = static_cast<T>(s * scale);
      }
      for (int64_t c = 0; c < p.dv; ++c) {
        double s = 0;
        for (int64_t i = 0; i < p.lq; ++i)
          s += P[static_cast<size_t>(i * p.lk + j)] * static_cast<double>(dO[i * p.dv + c]);
        dv[(bh * p.lk + j) * p.dv + c] = static_cast<T>(s);
      }
    }
  }
}

}  // namespace

void attention_forward(const AttentionParams<float>& p, float* out, float* lse,
                       Isa isa) {
  kernels_for(isa).forward_f32(p, out, lse);
}
void attention_forward(const AttentionParams<double>& p, double* out, double* lse,
                       Isa isa) {
  kernels_for(isa).forward_f64(p, out, lse);
}
void attention_backward(const AttentionParams<float>& p, const float* dout, const float* out,
                        const float* lse, float* dq, float* dk, float* dv, Isa isa) {
  kernels_for(isa).backward_f32(p, dout, out, lse, dq, dk, dv);
}
void attention_backward(const AttentionParams<double>& p, const double* dout,
                        const double* out, const double* lse, double* dq, double* dk,
                        double* dv, Isa isa) {
  kernels_for(isa).backward_f64(p, dout, out, lse, dq, dk, dv);
}

void attention_reference_forward(const AttentionParams<float>& p, float* out, float* lse) {
  reference_forward(p, out, lse);
}
void attention_reference_forward(const AttentionParams<double>& p, double* out, double* lse) {
  reference_forward(p, out, lse);
}
void attention_reference_backward(const AttentionParams<float>& p, const float* dout,
                                  const float*, const float*, float* dq, float* dk,
                                  float* dv) {
  reference_backward(p, dout, dq, dk, dv);
}
void attention_reference_backward(const AttentionParams<double>& p, const double* dout,
                                  const double*, const double*, double* dq, double* dk,
                                  double* dv) {
  reference_backward(p, dout, dq, dk, dv);
}

std::vector<Isa> attention_available_isas() { return variants().available(); }

}  // namespace ember::cpu
