#include "cpu/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/isa.h"  // EMBER_MULTIVERSION: the loops are compiled per ISA
#include "cpu/parallel.h"

namespace ember::cpu {

// ---- reference: llm.c's layernorm_forward / layernorm_backward, as plain loops -------------
// The formulas of the fused op live here (layer_norm.h states them too, as the kernels'
// contract); the fast kernels below and the composite Python backward compute the same and
// are tested against these loops (tests/test_kernel_references.py). Accumulation in double.
template <typename T>
void layer_norm_forward_reference(const T* x, const T* weight, const T* bias, T* y, T* mean,
                                  T* rstd, int64_t rows, int64_t d, double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * d;
    double m = 0;  // mean = sum(x) / d
    for (int64_t j = 0; j < d; ++j) m += double(xr[j]);
    m /= double(d);
    double v = 0;  // var = sum((x - mean)^2) / d  (biased)
    for (int64_t j = 0; j < d; ++j) v += (double(xr[j]) - m) * (double(xr[j]) - m);
    v /= double(d);
    const double s = 1.0 / std::sqrt(v + eps);  // rstd
    for (int64_t j = 0; j < d; ++j) {
      const double w = weight ? double(weight[j]) : 1.0, b = bias ? double(bias[j]) : 0.0;
      y[r * d + j] = T((double(xr[j]) - m) * s * w + b);  // y = xhat * weight + bias
    }
    mean[r] = T(m);
    rstd[r] = T(s);
  }
}

template <typename T>
void layer_norm_backward_reference(const T* g, const T* x, const T* weight, const T* mean,
                                   const T* rstd, T* dx, T* dweight, T* dbias, int64_t rows,
                                   int64_t d) {
  std::vector<double> dw(static_cast<size_t>(d), 0.0), db(static_cast<size_t>(d), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const double m = double(mean[r]), s = double(rstd[r]);
    double mean_gh = 0, mean_gh_xhat = 0;  // over the row: mean(gh), mean(gh * xhat)
    for (int64_t j = 0; j < d; ++j) {
      const double xhat = (double(x[r * d + j]) - m) * s;
      const double gh = double(g[r * d + j]) * (weight ? double(weight[j]) : 1.0);
      mean_gh += gh;
      mean_gh_xhat += gh * xhat;
      dw[j] += double(g[r * d + j]) * xhat;  // dweight = sum over rows of g * xhat
      db[j] += double(g[r * d + j]);         // dbias = sum over rows of g
    }
    mean_gh /= double(d);
    mean_gh_xhat /= double(d);
    for (int64_t j = 0; j < d; ++j) {  // dx = rstd * (gh - mean(gh) - xhat * mean(gh xhat))
      const double xhat = (double(x[r * d + j]) - m) * s;
      const double gh = double(g[r * d + j]) * (weight ? double(weight[j]) : 1.0);
      dx[r * d + j] = T(s * (gh - mean_gh - xhat * mean_gh_xhat));
    }
  }
  for (int64_t j = 0; j < d; ++j) {
    dweight[j] = T(dw[j]);
    dbias[j] = T(db[j]);
  }
}

template void layer_norm_forward_reference<float>(const float*, const float*, const float*,
                                                  float*, float*, float*, int64_t, int64_t,
                                                  double);
template void layer_norm_forward_reference<double>(const double*, const double*, const double*,
                                                   double*, double*, double*, int64_t, int64_t,
                                                   double);
template void layer_norm_backward_reference<float>(const float*, const float*, const float*,
                                                   const float*, const float*, float*, float*,
                                                   float*, int64_t, int64_t);
template void layer_norm_backward_reference<double>(const double*, const double*, const double*,
                                                    const double*, const double*, double*,
                                                    double*, double*, int64_t, int64_t);

namespace {

// Row sums accumulate in double, vectorised (the pragma allows the reassociation): rows can
// be long (GroupNorm sends C/G * H * W values per row), and float sums of a million values
// would lose about four digits. The kernel is memory-bound, so this costs nothing.
#if defined(EMBER_OPENMP)
#define EMBER_PRAGMA(text) _Pragma(#text)
#define EMBER_SIMD_SUM(var) EMBER_PRAGMA(omp simd reduction(+ : var))
#else
#define EMBER_SIMD_SUM(var)
#endif

template <typename T>
inline __attribute__((always_inline)) void forward_row(const T* __restrict x,
                                                       const T* __restrict w,
                                                       const T* __restrict b, T* __restrict y,
                                                       T* mean_out, T* rstd_out, int64_t d,
                                                       double eps) {
  double sum = 0;
  EMBER_SIMD_SUM(sum)
  for (int64_t j = 0; j < d; ++j) sum += double(x[j]);
  const double mean = sum / double(d);
  double sq = 0;  // two passes: the centred sum of squares does not cancel catastrophically
  EMBER_SIMD_SUM(sq)
  for (int64_t j = 0; j < d; ++j) sq += (double(x[j]) - mean) * (double(x[j]) - mean);
  const T mean_t = T(mean), rstd = T(1.0 / std::sqrt(sq / double(d) + eps));
  for (int64_t j = 0; j < d; ++j) y[j] = (x[j] - mean_t) * rstd * w[j] + b[j];
  *mean_out = mean_t;
  *rstd_out = rstd;
}

EMBER_MULTIVERSION void forward_rows(const float* x, const float* w, const float* b, float* y,
                                     float* mean, float* rstd, int64_t r0, int64_t r1,
                                     int64_t d, double eps) {
  for (int64_t r = r0; r < r1; ++r)
    forward_row(x + r * d, w, b, y + r * d, mean + r, rstd + r, d, eps);
}
EMBER_MULTIVERSION void forward_rows(const double* x, const double* w, const double* b,
                                     double* y, double* mean, double* rstd, int64_t r0,
                                     int64_t r1, int64_t d, double eps) {
  for (int64_t r = r0; r < r1; ++r)
    forward_row(x + r * d, w, b, y + r * d, mean + r, rstd + r, d, eps);
}

// One row of the backward; adds this row's share of dweight and dbias into dw, db.
template <typename T>
inline __attribute__((always_inline)) void backward_row(const T* __restrict g,
                                                        const T* __restrict x,
                                                        const T* __restrict w, T mean,
                                                        T rstd, T* __restrict dx,
                                                        T* __restrict dw, T* __restrict db,
                                                        int64_t d) {
  double sum_gh = 0, sum_gh_xhat = 0;
  EMBER_SIMD_SUM(sum_gh)
  for (int64_t j = 0; j < d; ++j) sum_gh += double(g[j] * w[j]);
  EMBER_SIMD_SUM(sum_gh_xhat)
  for (int64_t j = 0; j < d; ++j) sum_gh_xhat += double(g[j] * w[j] * (x[j] - mean) * rstd);
  const T mean_gh = T(sum_gh / double(d)), mean_gh_xhat = T(sum_gh_xhat / double(d));
  for (int64_t j = 0; j < d; ++j) {
    const T xhat = (x[j] - mean) * rstd;
    const T gh = g[j] * w[j];
    dx[j] = rstd * (gh - mean_gh - xhat * mean_gh_xhat);
    dw[j] += g[j] * xhat;
    db[j] += g[j];
  }
}

EMBER_MULTIVERSION void backward_rows(const float* g, const float* x, const float* w,
                                      const float* mean, const float* rstd, float* dx,
                                      float* dw, float* db, int64_t r0, int64_t r1,
                                      int64_t d) {
  for (int64_t r = r0; r < r1; ++r)
    backward_row(g + r * d, x + r * d, w, mean[r], rstd[r], dx + r * d, dw, db, d);
}
EMBER_MULTIVERSION void backward_rows(const double* g, const double* x, const double* w,
                                      const double* mean, const double* rstd, double* dx,
                                      double* dw, double* db, int64_t r0, int64_t r1,
                                      int64_t d) {
  for (int64_t r = r0; r < r1; ++r)
    backward_row(g + r * d, x + r * d, w, mean[r], rstd[r], dx + r * d, dw, db, d);
}

template <typename T>
void forward_impl(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows,
                  int64_t d, double eps) {
  // A missing weight is a row of ones, a missing bias a row of zeros: one branch-free loop.
  const auto len = static_cast<size_t>(d);
  std::vector<T> ones(w ? 0 : len, T(1)), zeros(b ? 0 : len, T(0));
  if (!w) w = ones.data();
  if (!b) b = zeros.data();
  parallel_row_ranges(rows, threads_for(rows * d, rows), [&](int, int64_t r0, int64_t r1) {
    forward_rows(x, w, b, y, mean, rstd, r0, r1, d, eps);
  });
}

template <typename T>
void backward_impl(const T* g, const T* x, const T* w, const T* mean, const T* rstd, T* dx,
                   T* dw, T* db, int64_t rows, int64_t d) {
  // Each thread sums dweight/dbias over its own rows into a private buffer; the buffers are
  // then added in thread order, so for a given thread count the result is reproducible.
  std::vector<T> ones(w ? 0 : static_cast<size_t>(d), T(1));
  if (!w) w = ones.data();
  const int threads = threads_for(rows * d, rows);
  const auto len = static_cast<size_t>(d);
  std::vector<T> partial(static_cast<size_t>(threads) * 2 * len, T(0));  // [t][dw | db]
  parallel_row_ranges(rows, threads, [&](int t, int64_t r0, int64_t r1) {
    T* pw = partial.data() + static_cast<size_t>(t) * 2 * len;
    backward_rows(g, x, w, mean, rstd, dx, pw, pw + d, r0, r1, d);
  });
  for (size_t j = 0; j < len; ++j) {
    T sw = 0, sb = 0;
    for (size_t t = 0; t < static_cast<size_t>(threads); ++t) {
      sw += partial[t * 2 * len + j];
      sb += partial[t * 2 * len + len + j];
    }
    dw[j] = sw;
    db[j] = sb;
  }
}

}  // namespace

void layer_norm_forward(const float* x, const float* weight, const float* bias, float* y,
                        float* mean, float* rstd, int64_t rows, int64_t d, double eps) {
  forward_impl(x, weight, bias, y, mean, rstd, rows, d, eps);
}
void layer_norm_forward(const double* x, const double* weight, const double* bias, double* y,
                        double* mean, double* rstd, int64_t rows, int64_t d, double eps) {
  forward_impl(x, weight, bias, y, mean, rstd, rows, d, eps);
}
void layer_norm_backward(const float* g, const float* x, const float* weight,
                         const float* mean, const float* rstd, float* dx, float* dweight,
                         float* dbias, int64_t rows, int64_t d) {
  backward_impl(g, x, weight, mean, rstd, dx, dweight, dbias, rows, d);
}
void layer_norm_backward(const double* g, const double* x, const double* weight,
                         const double* mean, const double* rstd, double* dx, double* dweight,
                         double* dbias, int64_t rows, int64_t d) {
  backward_impl(g, x, weight, mean, rstd, dx, dweight, dbias, rows, d);
}

}  // namespace ember::cpu
