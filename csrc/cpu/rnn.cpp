// Fused recurrent layers (see rnn.h): the time loop of an LSTM / GRU / RNN layer in C++.
//
// Each step is one small GEMM (h_prev W_hh^T, through ember's packed GEMM) and one pointwise
// loop (the gate nonlinearities and the state update). The pointwise loops are compiled
// for AVX-512, AVX2 and portable SSE2 (isa.h's EMBER_MULTIVERSION; the loader picks), with
// exp/sigmoid/tanh from vec_math.h so they vectorise. The backward walks the steps in the
// opposite order: per step a pointwise loop gives the gate-pre-activation gradients and a
// GEMM (dgates W_hh) the gradient of h_prev; dW_hh and db_hh are reduced over all steps at
// the end with one GEMM. When a step has enough work, the time loop runs on all threads,
// each owning a range of hidden units (see "splitting a layer's hidden units" below).
#include "cpu/rnn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/isa.h"  // EMBER_MULTIVERSION_TEMPLATE: the pointwise loops per ISA
#include "cpu/parallel.h"
#include "cpu/vec_math.h"

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif


namespace ember::cpu {

// ---- reference: one step of each cell, as plain loops --------------------------------------
// The formulas of the fused recurrent ops live here, once; the fast kernels below (and the
// composite Python cells) compute the same and are tested against these loops
// (tests/test_kernel_references.py). Accumulation in double, std::exp / std::tanh.
//
// LSTM (gates i, f, g, o):  a = x_proj[t] + W_hh h_prev + b_hh          (4H pre-activations)
//     i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
//     c = f c_prev + i g,   h = o tanh(c)
// GRU (PyTorch's equations; gates r, z, n):
//     r = sigmoid(x_r + W_hr h_prev + b_hr),  z = sigmoid(x_z + W_hz h_prev + b_hz)
//     hn = W_hn h_prev + b_hn,  n = tanh(x_n + r hn),  h = (1 - z) n + z h_prev
// Elman RNN:  h = act(x_proj[t] + W_hh h_prev + b_hh),  act = tanh or relu.
// Backward (BPTT) through the same equations: rnn.h documents what each kernel writes.
namespace {

double sigmoid_ref(double a) { return 1.0 / (1.0 + std::exp(-a)); }

// a (N, G*H) = x (N, G*H) + h_prev (N, H) W^T (W: (G*H, H)) + b
template <typename T>
void preactivations_ref(int64_t N, int64_t GH, int64_t H, const T* x, const T* w, const T* b,
                        const T* h_prev, std::vector<double>& a) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t u = 0; u < GH; ++u) {
      double acc = double(x[n * GH + u]) + (b ? double(b[u]) : 0.0);
      for (int64_t k = 0; k < H; ++k) acc += double(w[u * H + k]) * double(h_prev[n * H + k]);
      a[n * GH + u] = acc;
    }
}

// The step order: t = 0 .. L-1, or L-1 .. 0 when reverse.
int64_t step_at_ref(const RnnShape& s, int64_t i) { return s.reverse ? s.steps - 1 - i : i; }

}  // namespace

template <typename T>
void lstm_forward_reference(const RnnShape& s, const T* x_proj, const T* w_hh, const T* b_hh,
                            const T* h0, const T* c0, T* hs, T* cs, T* gates) {
  const int64_t N = s.batch, H = s.hidden, G = 4 * H;
  std::vector<double> a(static_cast<size_t>(N * G));
  const T *h_prev = h0, *c_prev = c0;
  for (int64_t i = 0; i < s.steps; ++i) {
    const int64_t t = step_at_ref(s, i);
    preactivations_ref(N, G, H, x_proj + t * N * G, w_hh, b_hh, h_prev, a);
    T *h = hs + t * N * H, *c = cs + t * N * H, *gt = gates + t * N * G;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < H; ++j) {
        const double* an = a.data() + n * G;
        const double ig = sigmoid_ref(an[j]), fg = sigmoid_ref(an[H + j]);
        const double gg = std::tanh(an[2 * H + j]), og = sigmoid_ref(an[3 * H + j]);
        const double cv = fg * double(c_prev[n * H + j]) + ig * gg;
        c[n * H + j] = T(cv);
        h[n * H + j] = T(og * std::tanh(cv));
        gt[n * G + j] = T(ig);
        gt[n * G + H + j] = T(fg);
        gt[n * G + 2 * H + j] = T(gg);
        gt[n * G + 3 * H + j] = T(og);
      }
    h_prev = h;
    c_prev = c;
  }
}

template <typename T>
void gru_forward_reference(const RnnShape& s, const T* x_proj, const T* w_hh, const T* b_hh,
                           const T* h0, T* hs, T* gates) {
  const int64_t N = s.batch, H = s.hidden, G = 3 * H;
  std::vector<double> hh(static_cast<size_t>(N * G));  // W_hh h_prev + b_hh (no x)
  std::vector<T> zeros(static_cast<size_t>(N * G), T(0));
  const T* h_prev = h0;
  for (int64_t i = 0; i < s.steps; ++i) {
    const int64_t t = step_at_ref(s, i);
    preactivations_ref(N, G, H, zeros.data(), w_hh, b_hh, h_prev, hh);
    const T* x = x_proj + t * N * G;
    T *h = hs + t * N * H, *gt = gates + t * N * 4 * H;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < H; ++j) {
        const double* hn_ = hh.data() + n * G;
        const T* xn = x + n * G;
        const double r = sigmoid_ref(double(xn[j]) + hn_[j]);
        const double z = sigmoid_ref(double(xn[H + j]) + hn_[H + j]);
        const double hn = hn_[2 * H + j];
        const double nv = std::tanh(double(xn[2 * H + j]) + r * hn);
        h[n * H + j] = T((1.0 - z) * nv + z * double(h_prev[n * H + j]));
        T* g = gt + n * 4 * H;
        g[j] = T(r);
        g[H + j] = T(z);
        g[2 * H + j] = T(nv);
        g[3 * H + j] = T(hn);
      }
    h_prev = h;
  }
}

template <typename T>
void rnn_forward_reference(const RnnShape& s, bool relu, const T* x_proj, const T* w_hh,
                           const T* b_hh, const T* h0, T* hs) {
  const int64_t N = s.batch, H = s.hidden;
  std::vector<double> a(static_cast<size_t>(N * H));
  const T* h_prev = h0;
  for (int64_t i = 0; i < s.steps; ++i) {
    const int64_t t = step_at_ref(s, i);
    preactivations_ref(N, H, H, x_proj + t * N * H, w_hh, b_hh, h_prev, a);
    T* h = hs + t * N * H;
    for (int64_t e = 0; e < N * H; ++e) h[e] = T(relu ? std::max(a[e], 0.0) : std::tanh(a[e]));
    h_prev = h;
  }
}

namespace {

// ---- small linear-algebra helpers -------------------------------------------------------

// C (m x n, leading dimension ldc) (+)= A (m x k, lda) * B (k x n, ldb), all row-major.
// Tiny m (an unbatched sequence) takes a plain axpy loop: the packed GEMM would re-pack all
// of B for one or two rows of output.
template <typename T>
EMBER_MULTIVERSION_TEMPLATE
void small_matmul(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                  const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (!accumulate) std::memset(ci, 0, sizeof(T) * static_cast<size_t>(n));
    for (int64_t p = 0; p < k; ++p) {
      const T aip = a[i * lda + p];
      const T* bp = b + p * ldb;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
    }
  }
}

template <typename T>
void matmul(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
            T* c, int64_t ldc, bool accumulate = false) {
  if (m <= 2 || k == 0) {
    small_matmul(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    return;
  }
  GemmBatch<T> p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = a;
  p.a_row_stride = lda;
  p.a_col_stride = 1;
  p.b = b;
  p.b_row_stride = ldb;
  p.b_col_stride = 1;
  p.c = c;
  p.c_row_stride = ldc;
  p.accumulate = accumulate;
  gemm(p);
}

// dst (cols x rows, leading dimension ldd) = src (rows x cols, leading dimension lds)^T,
// in 8 x 8 tiles so that both the reads and the writes stay within 8 cache lines: a larger
// tile thrashes L1 when a leading dimension is a multiple of 4 KiB (rows map to one set).
template <typename T>
void transpose(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst, int64_t ldd) {
  constexpr int64_t kTile = 8;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = r0 + kTile < rows ? r0 + kTile : rows;
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = c0 + kTile < cols ? c0 + kTile : cols;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) dst[c * ldd + r] = src[r * lds + c];
    }
  }
}

// Step index of the s-th step processed in the forward direction of the layer.
int64_t step_at(const RnnShape& s, int64_t i) { return s.reverse ? s.steps - 1 - i : i; }

// The hidden state that step t reads: h0 for the first step processed, else the previous one.
template <typename T>
const T* state_before(const RnnShape& s, int64_t t, const T* h0, const T* hs) {
  const int64_t nh = s.batch * s.hidden;
  if (!s.reverse) return t == 0 ? h0 : hs + (t - 1) * nh;
  return t == s.steps - 1 ? h0 : hs + (t + 1) * nh;
}

// W_hh (G*H x H) transposed to (H x G*H), so that each step's h_prev W_hh^T reads B by rows.
template <typename T>
std::vector<T> transposed_weight(const RnnShape& s, int64_t gates, const T* w_hh) {
  const int64_t gh = gates * s.hidden;
  std::vector<T> wt(static_cast<size_t>(gh * s.hidden));
  transpose(gh, s.hidden, w_hh, s.hidden, wt.data(), gh);
  return wt;
}

// The bias b_hh, or zeros when the layer has none (one code path for both).
template <typename T>
std::vector<T> bias_or_zeros(int64_t n, const T* b) {
  std::vector<T> out(static_cast<size_t>(n), T(0));
  if (b) std::memcpy(out.data(), b, sizeof(T) * static_cast<size_t>(n));
  return out;
}

// dW_hh (G*H x H) = sum_t dpre[t]^T h_prev(t) and db_hh (G*H) = sum_t sum_n dpre[t, n], with
// dpre (L, N, G*H) the gradients of the hidden projection W_hh h + b_hh of every step.
// All steps in one GEMM, laid out for speed: dW^T (H x GH) = Hprev^T (H x LN) * dpre (LN x GH)
// with Hprev^T gathered by transposing each step's h_prev, then dW^T transposed back.
template <typename T>
void weight_grads(const RnnShape& s, int64_t gates, const T* dpre, const T* hs, const T* h0,
                  T* dw_hh, T* db_hh) {
  const int64_t H = s.hidden, N = s.batch, gh = gates * H, ln = s.steps * N;
  if (dw_hh) {
    std::vector<T> hprev_t(static_cast<size_t>(H * ln));
    for (int64_t t = 0; t < s.steps; ++t)
      transpose(N, H, state_before(s, t, h0, hs), H, hprev_t.data() + t * N, ln);
    std::vector<T> dw_t(static_cast<size_t>(H * gh));
    matmul(H, gh, ln, hprev_t.data(), ln, dpre, gh, dw_t.data(), gh);
    transpose(H, gh, dw_t.data(), gh, dw_hh, H);
  }
  if (db_hh) {
    std::memset(db_hh, 0, sizeof(T) * static_cast<size_t>(gh));
    for (int64_t r = 0; r < ln; ++r) {
      const T* row = dpre + r * gh;
#pragma omp simd
      for (int64_t j = 0; j < gh; ++j) db_hh[j] += row[j];
    }
  }
}

// ---- splitting a layer's hidden units between threads ------------------------------------
// A layer's time loop runs on several threads when a step has enough work: thread t owns
// the hidden units [j0, j1) and computes, per step, its units' G gate columns of
// h_prev W_hh^T with one GEMM (the columns of W_hh^T are regrouped so that they are
// contiguous), then the pointwise update of its units. Only h crosses threads (every unit's
// gates read all of h_prev), so one barrier per step suffices. The backward is split the
// same way: per step each thread's pointwise gradients, a barrier, and its units' share of
// dh_prev = d(gates) W_hh.

// Units of one thread, and where its gates live in the regrouped layout: gate q of unit j
// is column G j0 + q nb + (j - j0) of each G*H row (nb = j1 - j0). With one thread this is
// the standard [gate 0 | gate 1 | ...] layout.
struct UnitRange {
  int64_t j0 = 0, j1 = 0;
  bool in_team = false;  // one of several threads (which then meet at each step's barrier)
  int64_t nb() const { return j1 - j0; }
  int64_t col(int64_t q, int64_t G) const { return G * j0 + q * nb(); }  // gate q's first
};

// ---- LSTM ---------------------------------------------------------------------------------

// One step's pointwise part for units [j0, j1). hw (row stride 4H, regrouped layout) holds
// h_prev W_hh^T; with a = hw + x_proj + b_hh = [a_i, a_f, a_g, a_o]:
//   i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g);  c = f c_prev + i g;  h = o tanh(c)
// Writes the activations [i, f, g, o] into act (standard layout, row stride 4H), c and h.
template <typename T>
EMBER_MULTIVERSION_TEMPLATE
void lstm_cell_forward(int64_t N, int64_t H, UnitRange u, const T* hw,
                       const T* xp, const T* b, const T* c_prev, T* act, T* c,
                       T* h) {
  const int64_t j0 = u.j0, nb = u.nb();
  for (int64_t n = 0; n < N; ++n) {
    const T* hr = hw + n * 4 * H + u.col(0, 4);  // this thread's block: [i|f|g|o] x nb
    const T* xr = xp + n * 4 * H + j0;
    const T* bj = b + j0;
    const T* cp = c_prev + n * H + j0;
    T* ar = act + n * 4 * H + j0;
    T* cn = c + n * H + j0;
    T* hn = h + n * H + j0;
#pragma omp simd
    for (int64_t j = 0; j < nb; ++j) {
      const T i = sigmoid_fast(hr[j] + xr[j] + bj[j]);
      const T f = sigmoid_fast(hr[nb + j] + xr[H + j] + bj[H + j]);
      const T gg = tanh_fast(hr[2 * nb + j] + xr[2 * H + j] + bj[2 * H + j]);
      const T o = sigmoid_fast(hr[3 * nb + j] + xr[3 * H + j] + bj[3 * H + j]);
      const T cc = f * cp[j] + i * gg;
      ar[j] = i;
      ar[H + j] = f;
      ar[2 * H + j] = gg;
      ar[3 * H + j] = o;
      cn[j] = cc;
      hn[j] = o * tanh_fast(cc);
    }
  }
}

// One step's pointwise backward for units [j0, j1). dh = dh_out + dh_rec (the gradient
// reaching h from the layer's output and from the next step); dc (in/out) is the gradient
// reaching c:
//   dc_total = dc + dh o (1 - tanh(c)^2)
//   da_i = dc_total g i (1 - i);   da_f = dc_total c_prev f (1 - f)
//   da_g = dc_total i (1 - g^2);   da_o = dh tanh(c) o (1 - o);   dc <- dc_total f
// All arrays in the standard layout (gates: row stride 4H, states: row stride H).
template <typename T>
EMBER_MULTIVERSION_TEMPLATE
void lstm_cell_backward(int64_t N, int64_t H, UnitRange u, const T* dh_out,
                        const T* dh_rec, const T* act, const T* c,
                        const T* c_prev, T* dc, T* dgates) {
  const int64_t j0 = u.j0, nb = u.nb();
  for (int64_t n = 0; n < N; ++n) {
    const T* a = act + n * 4 * H + j0;
    T* d = dgates + n * 4 * H + j0;
    const T* dho = dh_out + n * H + j0;
    const T* dhr = dh_rec + n * H + j0;
    const T* cn = c + n * H + j0;
    const T* cp = c_prev + n * H + j0;
    T* dcn = dc + n * H + j0;
#pragma omp simd
    for (int64_t j = 0; j < nb; ++j) {
      const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
      const T dh = dho[j] + dhr[j];
      const T tc = tanh_fast(cn[j]);
      const T dct = dcn[j] + dh * o * (T(1) - tc * tc);
      d[j] = dct * g * i * (T(1) - i);
      d[H + j] = dct * cp[j] * f * (T(1) - f);
      d[2 * H + j] = dct * i * (T(1) - g * g);
      d[3 * H + j] = dh * tc * o * (T(1) - o);
      dcn[j] = dct * f;
    }
  }
}

// ---- GRU ----------------------------------------------------------------------------------

// One step's pointwise part for units [j0, j1). hw (row stride 3H, regrouped layout) holds
// h_prev W_hh^T = [h_r, h_z, h_n] (without b_hh); with x_proj = [x_r, x_z, x_n]:
//   r = sigmoid(x_r + h_r + b_hr);  z = sigmoid(x_z + h_z + b_hz);  hn = h_n + b_hn
//   n = tanh(x_n + r hn);  h = (1 - z) n + z h_prev = n + z (h_prev - n)
// Writes [r, z, n, hn] into act (standard layout, row stride 4H) and h.
template <typename T>
EMBER_MULTIVERSION_TEMPLATE
void gru_cell_forward(int64_t N, int64_t H, UnitRange u, const T* hw,
                      const T* xp, const T* b, const T* h_prev, T* act, T* h) {
  const int64_t j0 = u.j0, nb = u.nb();
  for (int64_t n = 0; n < N; ++n) {
    const T* hr = hw + n * 3 * H + u.col(0, 3);  // this thread's block: [r|z|n] x nb
    const T* xr = xp + n * 3 * H + j0;
    const T* bj = b + j0;
    const T* hp = h_prev + n * H + j0;
    T* ar = act + n * 4 * H + j0;
    T* ho = h + n * H + j0;
#pragma omp simd
    for (int64_t j = 0; j < nb; ++j) {
      const T r = sigmoid_fast(xr[j] + hr[j] + bj[j]);
      const T z = sigmoid_fast(xr[H + j] + hr[nb + j] + bj[H + j]);
      const T hn = hr[2 * nb + j] + bj[2 * H + j];
      const T nn = tanh_fast(xr[2 * H + j] + r * hn);
      ar[j] = r;
      ar[H + j] = z;
      ar[2 * H + j] = nn;
      ar[3 * H + j] = hn;
      ho[j] = nn + z * (hp[j] - nn);
    }
  }
}

// One step's pointwise backward for units [j0, j1), dh = dh_out + dh_rec:
//   dn = dh (1 - z);  dz = dh (h_prev - n);  d(pre_n) = dn (1 - n^2)
//   d(pre_r) = d(pre_n) hn r (1 - r);  d(pre_z) = dz z (1 - z)
//   dx_proj = [d(pre_r), d(pre_z), d(pre_n)];  d(W_hh h + b_hh) = [d(pre_r), d(pre_z), d(pre_n) r]
// dh_rec <- dh z (the direct path to h_prev; the caller adds d(W_hh h + b_hh) W_hh).
template <typename T>
EMBER_MULTIVERSION_TEMPLATE
void gru_cell_backward(int64_t N, int64_t H, UnitRange u, const T* dh_out,
                       T* dh_rec, const T* act, const T* h_prev, T* dx, T* dhp) {
  const int64_t j0 = u.j0, nb = u.nb();
  for (int64_t n = 0; n < N; ++n) {
    const T* a = act + n * 4 * H + j0;
    T* dxr = dx + n * 3 * H + j0;
    T* dhr = dhp + n * 3 * H + j0;
    const T* dho = dh_out + n * H + j0;
    T* drec = dh_rec + n * H + j0;
    const T* hp = h_prev + n * H + j0;
#pragma omp simd
    for (int64_t j = 0; j < nb; ++j) {
      const T r = a[j], z = a[H + j], nn = a[2 * H + j], hn = a[3 * H + j];
      const T dh = dho[j] + drec[j];
      const T dpre_n = dh * (T(1) - z) * (T(1) - nn * nn);
      const T dpre_r = dpre_n * hn * r * (T(1) - r);
      const T dpre_z = dh * (hp[j] - nn) * z * (T(1) - z);
      dxr[j] = dpre_r;
      dxr[H + j] = dpre_z;
      dxr[2 * H + j] = dpre_n;
      dhr[j] = dpre_r;
      dhr[H + j] = dpre_z;
      dhr[2 * H + j] = dpre_n * r;
      drec[j] = dh * z;
    }
  }
}

// ---- Elman RNN ----------------------------------------------------------------------------

// Units [j0, j1) of h (in: h_prev W_hh^T, out: the new state) = act(h + x_proj + b_hh),
// act = tanh or relu. Rows of h and x_proj are H apart.
template <typename T>
EMBER_MULTIVERSION_TEMPLATE
void rnn_cell_forward(int64_t N, int64_t H, UnitRange u, bool relu,
                      const T* xp, const T* b, T* h) {
  for (int64_t n = 0; n < N; ++n) {
    T* hr = h + n * H + u.j0;
    const T* xr = xp + n * H + u.j0;
    const T* bj = b + u.j0;
#pragma omp simd
    for (int64_t j = 0; j < u.nb(); ++j) {
      const T pre = hr[j] + xr[j] + bj[j];
      hr[j] = relu ? (pre > T(0) ? pre : T(0)) : tanh_fast(pre);
    }
  }
}

// Units [j0, j1) of d(pre) = dh act'(pre), from the output h: tanh' = 1 - h^2,
// relu' = [h > 0], with dh = dh_out + dh_rec.
template <typename T>
EMBER_MULTIVERSION_TEMPLATE
void rnn_cell_backward(int64_t N, int64_t H, UnitRange u, bool relu,
                       const T* dh_out, const T* dh_rec, const T* h, T* dpre) {
  for (int64_t n = 0; n < N; ++n) {
    const int64_t o = n * H + u.j0;
#pragma omp simd
    for (int64_t j = 0; j < u.nb(); ++j) {
      const T dh = dh_out[o + j] + dh_rec[o + j];
      dpre[o + j] = relu ? (h[o + j] > T(0) ? dh : T(0)) : dh * (T(1) - h[o + j] * h[o + j]);
    }
  }
}

}  // namespace

// ---- the layer drivers --------------------------------------------------------------------

// How many threads a layer's time loop uses: one per ~256 K multiply-adds of a step's GEMM
// (N x GH x H), each owning at least 16 hidden units; 1 inside another parallel region.
int recurrence_threads(int64_t N, int64_t G, int64_t H) {
  return threads_for(N * G * H * H, H / 16, 64 * 64 * 64);
}

// Thread t's units: near-equal ranges, boundaries on multiples of 16 (whole vectors).
UnitRange unit_range(int64_t H, int t, int threads) {
  auto edge = [&](int k) {
    return k == threads ? H : std::min(H, (H * k / threads + 8) / 16 * 16);
  };
  return {edge(t), edge(t + 1), threads > 1};
}

// Runs body(units) on `threads` threads, each with its own units (one call with all of them
// when threads == 1). Inside, `step_barrier(units)` separates the steps.
template <typename Body>
void on_unit_threads(int64_t H, int threads, Body body) {
#if defined(EMBER_OPENMP)
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    body(unit_range(H, omp_get_thread_num(), omp_get_num_threads()));
    return;
  }
#endif
  (void)threads;
  body(UnitRange{0, H});
}

// Waits until every thread of the layer's team has finished the current step's writes.
// (Only inside the layer's own team: a lone thread may be running inside somebody else's
// parallel region, whose other threads would never arrive.)
inline void step_barrier(const UnitRange& u) {
#if defined(EMBER_OPENMP)
  if (u.in_team) {
#pragma omp barrier
  }
#else
  (void)u;
#endif
}

// Copies this thread's part of W_hh^T (wt: H x GH, standard layout) into `out` with its G
// gate blocks next to each other (UnitRange::col), so that the thread's share of
// h_prev W_hh^T is one GEMM writing contiguous columns.
template <typename T>
void regroup_weight(int64_t H, int64_t G, UnitRange u, const T* wt, T* out) {
  for (int64_t k = 0; k < H; ++k)
    for (int64_t q = 0; q < G; ++q)
      std::memcpy(out + k * G * H + u.col(q, G), wt + k * G * H + q * H + u.j0,
                  sizeof(T) * static_cast<size_t>(u.nb()));
}

template <typename T>
void lstm_forward(const RnnShape& s, const T* x_proj, const T* w_hh, const T* b_hh,
                  const T* h0, const T* c0, T* hs, T* cs, T* gates) {
  const int64_t N = s.batch, H = s.hidden, nh = N * H, g4 = 4 * H;
  const std::vector<T> wt = transposed_weight(s, 4, w_hh);  // (H, 4H), standard layout
  const std::vector<T> bias = bias_or_zeros(g4, b_hh);
  std::vector<T> wr(wt.size());                     // wt regrouped by thread
  std::vector<T> hw(static_cast<size_t>(N * g4));  // one step's h_prev W_hh^T (regrouped)
  on_unit_threads(H, recurrence_threads(N, 4, H), [&](UnitRange u) {
    regroup_weight(H, 4, u, wt.data(), wr.data());  // (each thread only reads its part)
    for (int64_t i = 0; i < s.steps; ++i) {
      const int64_t t = step_at(s, i);
      const T* h_prev = state_before(s, t, h0, hs);
      // this thread's columns: hw[:, 4 j0 : 4 j1] = h_prev W_hh^T[:, those columns]
      matmul(N, 4 * u.nb(), H, h_prev, H, wr.data() + u.col(0, 4), g4,
             hw.data() + u.col(0, 4), g4);
      lstm_cell_forward(N, H, u, hw.data(), x_proj + t * N * g4, bias.data(),
                        state_before(s, t, c0, cs), gates + t * N * g4, cs + t * nh,
                        hs + t * nh);
      step_barrier(u);  // every unit's h is written before any thread reads it as h_prev
    }
  });
}

template <typename T>
void lstm_backward(const RnnShape& s, const T* dhs, const T* dh_n, const T* dc_n, const T* hs,
                   const T* cs, const T* gates, const T* h0, const T* c0, const T* w_hh,
                   T* dx_proj, T* dw_hh, T* db_hh, T* dh0, T* dc0) {
  const int64_t N = s.batch, H = s.hidden, nh = N * H, g4 = 4 * H;
  // dh0 / dc0 carry the running gradient of (h, c) from step to step and end as the answer.
  std::memcpy(dh0, dh_n, sizeof(T) * static_cast<size_t>(nh));
  std::memcpy(dc0, dc_n, sizeof(T) * static_cast<size_t>(nh));
  on_unit_threads(H, recurrence_threads(N, 4, H), [&](UnitRange u) {
    for (int64_t i = s.steps - 1; i >= 0; --i) {
      const int64_t t = step_at(s, i);
      T* dg = dx_proj + t * N * g4;  // d(gates) = d(x_proj) = d(W_hh h_prev + b_hh)
      lstm_cell_backward(N, H, u, dhs + t * nh, dh0, gates + t * N * g4, cs + t * nh,
                         state_before(s, t, c0, cs), dc0, dg);
      step_barrier(u);  // every unit's d(gates) is written before the whole rows are read
      // dh_prev[:, j0:j1] = d(gates) W_hh[:, j0:j1]: this thread's units only
      matmul(N, u.nb(), g4, dg, g4, w_hh + u.j0, H, dh0 + u.j0, H);
    }
  });
  weight_grads(s, 4, dx_proj, hs, h0, dw_hh, db_hh);
}

template <typename T>
void gru_forward(const RnnShape& s, const T* x_proj, const T* w_hh, const T* b_hh,
                 const T* h0, T* hs, T* gates) {
  const int64_t N = s.batch, H = s.hidden, nh = N * H, g3 = 3 * H;
  const std::vector<T> wt = transposed_weight(s, 3, w_hh);  // (H, 3H), standard layout
  const std::vector<T> bias = bias_or_zeros(g3, b_hh);
  std::vector<T> wr(wt.size());
  std::vector<T> hw(static_cast<size_t>(N * g3));  // one step's h_prev W_hh^T (regrouped)
  on_unit_threads(H, recurrence_threads(N, 3, H), [&](UnitRange u) {
    regroup_weight(H, 3, u, wt.data(), wr.data());
    for (int64_t i = 0; i < s.steps; ++i) {
      const int64_t t = step_at(s, i);
      const T* h_prev = state_before(s, t, h0, hs);
      matmul(N, 3 * u.nb(), H, h_prev, H, wr.data() + u.col(0, 3), g3,
             hw.data() + u.col(0, 3), g3);
      gru_cell_forward(N, H, u, hw.data(), x_proj + t * N * g3, bias.data(), h_prev,
                       gates + t * N * 4 * H, hs + t * nh);
      step_barrier(u);
    }
  });
}

template <typename T>
void gru_backward(const RnnShape& s, const T* dhs, const T* dh_n, const T* hs, const T* gates,
                  const T* h0, const T* w_hh, T* dx_proj, T* dw_hh, T* db_hh, T* dh0) {
  const int64_t N = s.batch, H = s.hidden, nh = N * H, g3 = 3 * H;
  std::vector<T> dhp(static_cast<size_t>(s.steps * N * g3));  // d(W_hh h_prev + b_hh)
  std::memcpy(dh0, dh_n, sizeof(T) * static_cast<size_t>(nh));
  on_unit_threads(H, recurrence_threads(N, 3, H), [&](UnitRange u) {
    for (int64_t i = s.steps - 1; i >= 0; --i) {
      const int64_t t = step_at(s, i);
      T* dp = dhp.data() + t * N * g3;
      gru_cell_backward(N, H, u, dhs + t * nh, dh0, gates + t * N * 4 * H,
                        state_before(s, t, h0, hs), dx_proj + t * N * g3, dp);
      step_barrier(u);
      // dh_prev[:, j0:j1] += dp W_hh[:, j0:j1]
      matmul(N, u.nb(), g3, dp, g3, w_hh + u.j0, H, dh0 + u.j0, H, /*accumulate=*/true);
    }
  });
  weight_grads(s, 3, dhp.data(), hs, h0, dw_hh, db_hh);
}

template <typename T>
void rnn_forward(const RnnShape& s, bool relu, const T* x_proj, const T* w_hh, const T* b_hh,
                 const T* h0, T* hs) {
  const int64_t N = s.batch, H = s.hidden, nh = N * H;
  const std::vector<T> wt = transposed_weight(s, 1, w_hh);  // one gate: no regrouping
  const std::vector<T> bias = bias_or_zeros(H, b_hh);
  on_unit_threads(H, recurrence_threads(N, 1, H), [&](UnitRange u) {
    for (int64_t i = 0; i < s.steps; ++i) {
      const int64_t t = step_at(s, i);
      T* h = hs + t * nh;
      matmul(N, u.nb(), H, state_before(s, t, h0, hs), H, wt.data() + u.j0, H, h + u.j0, H);
      rnn_cell_forward(N, H, u, relu, x_proj + t * nh, bias.data(), h);
      step_barrier(u);
    }
  });
}

template <typename T>
void rnn_backward(const RnnShape& s, bool relu, const T* dhs, const T* dh_n, const T* hs,
                  const T* h0, const T* w_hh, T* dx_proj, T* dw_hh, T* db_hh, T* dh0) {
  const int64_t N = s.batch, H = s.hidden, nh = N * H;
  std::memcpy(dh0, dh_n, sizeof(T) * static_cast<size_t>(nh));
  on_unit_threads(H, recurrence_threads(N, 1, H), [&](UnitRange u) {
    for (int64_t i = s.steps - 1; i >= 0; --i) {
      const int64_t t = step_at(s, i);
      T* dpre = dx_proj + t * nh;
      rnn_cell_backward(N, H, u, relu, dhs + t * nh, dh0, hs + t * nh, dpre);
      step_barrier(u);
      // dh_prev[:, j0:j1] = d(pre) W_hh[:, j0:j1]
      matmul(N, u.nb(), H, dpre, H, w_hh + u.j0, H, dh0 + u.j0, H);
    }
  });
  weight_grads(s, 1, dx_proj, hs, h0, dw_hh, db_hh);
}

#define EMBER_RNN_INSTANTIATE(T)                                                              \
  template void lstm_forward<T>(const RnnShape&, const T*, const T*, const T*, const T*,     \
                                const T*, T*, T*, T*);                                        \
  template void lstm_backward<T>(const RnnShape&, const T*, const T*, const T*, const T*,    \
                                 const T*, const T*, const T*, const T*, const T*, T*, T*,    \
                                 T*, T*, T*);                                                 \
  template void gru_forward<T>(const RnnShape&, const T*, const T*, const T*, const T*, T*,  \
                               T*);                                                           \
  template void gru_backward<T>(const RnnShape&, const T*, const T*, const T*, const T*,     \
                                const T*, const T*, T*, T*, T*, T*);                          \
  template void rnn_forward<T>(const RnnShape&, bool, const T*, const T*, const T*,          \
                               const T*, T*);                                                 \
  template void rnn_backward<T>(const RnnShape&, bool, const T*, const T*, const T*,         \
                                const T*, const T*, T*, T*, T*, T*);                          \
  template void lstm_forward_reference<T>(const RnnShape&, const T*, const T*, const T*,     \
                                          const T*, const T*, T*, T*, T*);                    \
  template void gru_forward_reference<T>(const RnnShape&, const T*, const T*, const T*,      \
                                         const T*, T*, T*);                                   \
  template void rnn_forward_reference<T>(const RnnShape&, bool, const T*, const T*,          \
                                         const T*, const T*, T*);

EMBER_RNN_INSTANTIATE(float)
EMBER_RNN_INSTANTIATE(double)
#undef EMBER_RNN_INSTANTIATE

}  // namespace ember::cpu
