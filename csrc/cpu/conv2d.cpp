// conv2d on ember's packed GEMM: explicit im2col / col2im per (image, group).
//
// Why im2col and not an implicit GEMM: the GEMM (gemm.h) already packs its operands into
// cache-sized panels for the SIMD micro-kernel, and it takes any strides, so a conv only
// has to present the window matrix ("col", K x P with K = C_in/G kH kW, P = OH OW) for one
// image at a time. That buffer is small (one image, reused while hot in cache) and the
// copy costs O(K P) against the GEMM's O(C_out/G K P) multiply-adds. An implicit GEMM would
// have to fold the window gather into the GEMM's own packing routine, i.e. a second GEMM
// driver, to save that one copy. A 1x1, stride-1, unpadded conv needs no copy at all: the
// image *is* its col matrix.
//
// Per (image n, group g), with W_g the (C_out/G, K) weight rows of the group:
//   forward          Y_ng  = W_g   @ col(X_ng)                       (C_out/G x P)
//   backward-data    dX_ng = col2im(W_g^T @ dY_ng)                   (col2im adds overlaps)
//   backward-weight  dW_g  = sum_n dY_ng @ col(X_ng)^T               (C_out/G x K)
//
// Threads: with enough (image, group) tasks each OpenMP thread takes whole tasks with its
// own col buffer and runs single-threaded GEMMs (no synchronisation inside a task); with
// few tasks (batch 1) the tasks run one after another and the threads go into the GEMM
// and the im2col/col2im loops instead. The GEMM itself falls back to one thread when
// called inside a parallel region.
#include "cpu/conv2d.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "cpu/gemm.h"

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif

namespace ember::cpu {

int64_t conv2d_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                        int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  if (span < 0 || stride <= 0) return 0;  // no window fits (floor of a negative ratio)
  return span / stride + 1;
}

namespace {

int max_threads() {
#if defined(EMBER_OPENMP)
  return omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

int thread_id() {
#if defined(EMBER_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Derived sizes shared by the three kernels.
struct Dims {
  int64_t cin_g, cout_g;  // channels per group
  int64_t k;              // rows of col: cin_g * kH * kW
  int64_t p;              // columns of col: OH * OW
  int64_t hw;             // H * W of one input plane
  bool pointwise;         // 1x1, stride 1, no padding: col(X) = X
};

Dims dims_of(const Conv2dParams& p) {
  Dims d;
  d.cin_g = p.in_channels / p.groups;
  d.cout_g = p.out_channels / p.groups;
  d.k = d.cin_g * p.kernel_h * p.kernel_w;
  d.p = p.out_h * p.out_w;
  d.hw = p.in_h * p.in_w;
  d.pointwise = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                p.pad_h == 0 && p.pad_w == 0;
  return d;
}

// Split the (image, group) tasks over threads, or run them one by one with threads inside?
// Whole tasks per thread balance when there are many or they divide evenly.
bool parallel_over_tasks(int64_t tasks, int threads) {
  if (threads < 2 || tasks < 2) return false;
  return tasks % threads == 0 || tasks >= 4 * threads;
}

// For kernel column j: input column ix = ox * stride + offset (offset = j dil - pad) is
// inside [0, width) exactly for ox in [lo, hi). Outside it the window reads padding (0).
struct ValidRange {
  int64_t lo, hi;
};
ValidRange valid_outputs(int64_t offset, int64_t stride, int64_t width, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = (width - 1 - offset) < 0 ? 0 : (width - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  hi = std::max(lo, std::min(hi, out));
  return {lo, hi};
}

// col[(ci kH + i) kW + j, oy OW + ox] = x[ci, oy sh - ph + i dh, ox sw - pw + j dw] (0 outside).
// x points at the group's first channel plane. Rows of one channel are independent, so
// `parallel` splits the channels over threads.
template <typename T>
void im2col(const Conv2dParams& p, const Dims& d, const T* x, T* col, bool parallel) {
  const int64_t kh = p.kernel_h, kw = p.kernel_w, oh = p.out_h, ow = p.out_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (int64_t ci = 0; ci < d.cin_g; ++ci) {
    const T* plane = x + ci * d.hw;
    for (int64_t i = 0; i < kh; ++i) {
      for (int64_t j = 0; j < kw; ++j) {
        T* row = col + ((ci * kh + i) * kw + j) * d.p;
        const int64_t off_w = j * p.dilation_w - p.pad_w;
        const ValidRange r = valid_outputs(off_w, p.stride_w, p.in_w, ow);
        for (int64_t oy = 0; oy < oh; ++oy) {
          T* out = row + oy * ow;
          const int64_t iy = oy * p.stride_h - p.pad_h + i * p.dilation_h;
          if (iy < 0 || iy >= p.in_h) {
            std::fill(out, out + ow, T(0));
            continue;
          }
          const T* src = plane + iy * p.in_w;
          std::fill(out, out + r.lo, T(0));
          if (p.stride_w == 1) {
            if (r.hi > r.lo) std::copy(src + r.lo + off_w, src + r.hi + off_w, out + r.lo);
          } else {
            for (int64_t ox = r.lo; ox < r.hi; ++ox) out[ox] = src[ox * p.stride_w + off_w];
          }
          std::fill(out + r.hi, out + ow, T(0));
        }
      }
    }
  }
  (void)parallel;
}

// The adjoint of im2col: x[ci, iy, ix] += col[...] for every window position that read it.
// x must be zeroed first. Each channel's rows write only that channel's plane, so the
// channels can be split over threads without races.
template <typename T>
void col2im(const Conv2dParams& p, const Dims& d, const T* col, T* x, bool parallel) {
  const int64_t kh = p.kernel_h, kw = p.kernel_w, oh = p.out_h, ow = p.out_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (int64_t ci = 0; ci < d.cin_g; ++ci) {
    T* plane = x + ci * d.hw;
    for (int64_t i = 0; i < kh; ++i) {
      for (int64_t j = 0; j < kw; ++j) {
        const T* row = col + ((ci * kh + i) * kw + j) * d.p;
        const int64_t off_w = j * p.dilation_w - p.pad_w;
        const ValidRange r = valid_outputs(off_w, p.stride_w, p.in_w, ow);
        for (int64_t oy = 0; oy < oh; ++oy) {
          const int64_t iy = oy * p.stride_h - p.pad_h + i * p.dilation_h;
          if (iy < 0 || iy >= p.in_h) continue;
          const T* in = row + oy * ow;
          T* dst = plane + iy * p.in_w;
          for (int64_t ox = r.lo; ox < r.hi; ++ox) dst[ox * p.stride_w + off_w] += in[ox];
        }
      }
    }
  }
  (void)parallel;
}

// An uninitialised buffer (std::vector would zero it for nothing).
template <typename T>
std::unique_ptr<T[]> buffer(int64_t elems) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(elems, 1))]);
}

// Runs task(t, scratch_index, inner_parallel) for t in [0, tasks): whole tasks per thread
// (scratch_index = thread id, inner loops serial) or one task at a time (scratch 0, inner
// loops and GEMM threaded).
template <typename Task>
void for_each_task(int64_t tasks, bool split, const Task& task) {
  if (split) {
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static)
#endif
    for (int64_t t = 0; t < tasks; ++t) task(t, thread_id(), false);
  } else {
    for (int64_t t = 0; t < tasks; ++t) task(t, 0, true);
  }
}

// ---------------------------------------------------------------------------------------
// Forward: Y_ng = W_g @ col(X_ng)
// ---------------------------------------------------------------------------------------
template <typename T>
void forward_impl(const Conv2dParams& p, const T* x, const T* w, T* y) {
  const Dims d = dims_of(p);
  const int64_t tasks = p.batch * p.groups;
  const int threads = max_threads();
  const bool split = parallel_over_tasks(tasks, threads);
  const int slots = split ? threads : 1;
  auto cols = buffer<T>(d.pointwise ? 0 : slots * d.k * d.p);

  for_each_task(tasks, split, [&](int64_t t, int slot, bool inner_parallel) {
    const int64_t n = t / p.groups, g = t % p.groups;
    const T* xg = x + (n * p.in_channels + g * d.cin_g) * d.hw;
    const T* b = xg;
    if (!d.pointwise) {
      T* col = cols.get() + slot * d.k * d.p;
      im2col(p, d, xg, col, inner_parallel);
      b = col;
    }
    GemmBatch<T> gb;
    gb.m = d.cout_g;
    gb.n = d.p;
    gb.k = d.k;
    gb.a = w + g * d.cout_g * d.k;  // W_g: (cout_g, K) row-major
    gb.a_row_stride = d.k;
    gb.a_col_stride = 1;
    gb.b = b;  // col: (K, P) row-major
    gb.b_row_stride = d.p;
    gb.b_col_stride = 1;
    gb.c = y + (n * p.out_channels + g * d.cout_g) * d.p;  // Y_ng is contiguous
    gemm(gb);
  });
}

// ---------------------------------------------------------------------------------------
// Backward-data: dX_ng = col2im(W_g^T @ dY_ng)
// ---------------------------------------------------------------------------------------
template <typename T>
void backward_data_impl(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const Dims d = dims_of(p);
  const int64_t tasks = p.batch * p.groups;
  const int threads = max_threads();
  const bool split = parallel_over_tasks(tasks, threads);
  const int slots = split ? threads : 1;
  auto cols = buffer<T>(d.pointwise ? 0 : slots * d.k * d.p);

  for_each_task(tasks, split, [&](int64_t t, int slot, bool inner_parallel) {
    const int64_t n = t / p.groups, g = t % p.groups;
    T* dxg = dx + (n * p.in_channels + g * d.cin_g) * d.hw;
    T* col = d.pointwise ? dxg : cols.get() + slot * d.k * d.p;
    GemmBatch<T> gb;
    gb.m = d.k;
    gb.n = d.p;
    gb.k = d.cout_g;
    gb.a = w + g * d.cout_g * d.k;  // W_g^T: element (r, co) at co * K + r
    gb.a_row_stride = 1;
    gb.a_col_stride = d.k;
    gb.b = dy + (n * p.out_channels + g * d.cout_g) * d.p;  // dY_ng: (cout_g, P)
    gb.b_row_stride = d.p;
    gb.b_col_stride = 1;
    gb.c = col;
    gemm(gb);
    if (!d.pointwise) {
      std::fill(dxg, dxg + d.cin_g * d.hw, T(0));
      col2im(p, d, col, dxg, inner_parallel);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Backward-weight: dW_g = sum_n dY_ng @ col(X_ng)^T
// ---------------------------------------------------------------------------------------
// The GEMM overwrites its output, so each product lands in a small scratch matrix and is
// added to an accumulator: one per thread when threads take whole images (summed at the
// end), dW itself otherwise.
template <typename T>
void backward_weight_impl(const Conv2dParams& p, const T* dy, const T* x, T* dw) {
  const Dims d = dims_of(p);
  const int64_t tasks = p.batch * p.groups;
  const int64_t w_elems = p.out_channels * d.k;
  const int64_t g_elems = d.cout_g * d.k;
  const int threads = max_threads();
  const bool split = parallel_over_tasks(tasks, threads);
  const int slots = split ? threads : 1;
  auto cols = buffer<T>(d.pointwise ? 0 : slots * d.k * d.p);
  auto products = buffer<T>(slots * g_elems);
  std::unique_ptr<T[]> partial;  // per-thread accumulators (split mode only)
  if (split) {
    partial = buffer<T>(slots * w_elems);
    std::fill(partial.get(), partial.get() + slots * w_elems, T(0));
  }
  std::fill(dw, dw + w_elems, T(0));

  for_each_task(tasks, split, [&](int64_t t, int slot, bool inner_parallel) {
    const int64_t n = t / p.groups, g = t % p.groups;
    const T* xg = x + (n * p.in_channels + g * d.cin_g) * d.hw;
    const T* colp = xg;
    if (!d.pointwise) {
      T* col = cols.get() + slot * d.k * d.p;
      im2col(p, d, xg, col, inner_parallel);
      colp = col;
    }
    // Computed transposed, dW_g^T (K x cout_g) = col (K x P) @ dY_ng^T (P x cout_g): the
    // large K becomes the GEMM's row count (whole micro-panels, little padding waste) and
    // the big operand, col, is packed from its natural row-major layout.
    T* prod = products.get() + slot * g_elems;
    GemmBatch<T> gb;
    gb.m = d.k;
    gb.n = d.cout_g;
    gb.k = d.p;
    gb.a = colp;  // col: (K, P) row-major
    gb.a_row_stride = d.p;
    gb.a_col_stride = 1;
    gb.b = dy + (n * p.out_channels + g * d.cout_g) * d.p;  // dY_ng^T: (q, co) at co P + q
    gb.b_row_stride = 1;
    gb.b_col_stride = d.p;
    gb.c = prod;
    gemm(gb);
    T* acc = (split ? partial.get() + slot * w_elems : dw) + g * g_elems;
    const int64_t cout_g = d.cout_g, kk = d.k;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (inner_parallel && g_elems > 4096)
#endif
    for (int64_t co = 0; co < cout_g; ++co)
      for (int64_t r = 0; r < kk; ++r) acc[co * kk + r] += prod[r * cout_g + co];
  });

  if (split) {
    for (int s = 0; s < slots; ++s) {
      const T* part = partial.get() + s * w_elems;
      for (int64_t e = 0; e < w_elems; ++e) dw[e] += part[e];
    }
  }
}

// ---------------------------------------------------------------------------------------
// References: the definition, one multiply-add at a time
// ---------------------------------------------------------------------------------------
// Visits every (n, co, oy, ox, ci, i, j) term of the convolution sum whose input pixel is
// inside the image, calling f(x index, w index, y index).
template <typename F>
void for_each_term(const Conv2dParams& p, const F& f) {
  const int64_t cin_g = p.in_channels / p.groups, cout_g = p.out_channels / p.groups;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t co = 0; co < p.out_channels; ++co)
      for (int64_t oy = 0; oy < p.out_h; ++oy)
        for (int64_t ox = 0; ox < p.out_w; ++ox)
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t i = 0; i < p.kernel_h; ++i)
              for (int64_t j = 0; j < p.kernel_w; ++j) {
                const int64_t iy = oy * p.stride_h - p.pad_h + i * p.dilation_h;
                const int64_t ix = ox * p.stride_w - p.pad_w + j * p.dilation_w;
                if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) continue;  // padding
                const int64_t c = (co / cout_g) * cin_g + ci;  // input channel in the group
                f(((n * p.in_channels + c) * p.in_h + iy) * p.in_w + ix,
                  ((co * cin_g + ci) * p.kernel_h + i) * p.kernel_w + j,
                  ((n * p.out_channels + co) * p.out_h + oy) * p.out_w + ox);
              }
}

template <typename T>
void store(const std::vector<double>& acc, T* out) {
  for (size_t e = 0; e < acc.size(); ++e) out[e] = static_cast<T>(acc[e]);
}

template <typename T>
void forward_reference_impl(const Conv2dParams& p, const T* x, const T* w, T* y) {
  std::vector<double> acc(static_cast<size_t>(p.batch * p.out_channels * p.out_h * p.out_w));
  for_each_term(p, [&](int64_t xi, int64_t wi, int64_t yi) {
    acc[static_cast<size_t>(yi)] += double(x[xi]) * double(w[wi]);
  });
  store(acc, y);
}

template <typename T>
void backward_data_reference_impl(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  std::vector<double> acc(static_cast<size_t>(p.batch * p.in_channels * p.in_h * p.in_w));
  for_each_term(p, [&](int64_t xi, int64_t wi, int64_t yi) {
    acc[static_cast<size_t>(xi)] += double(dy[yi]) * double(w[wi]);
  });
  store(acc, dx);
}

template <typename T>
void backward_weight_reference_impl(const Conv2dParams& p, const T* dy, const T* x, T* dw) {
  std::vector<double> acc(static_cast<size_t>(p.out_channels * (p.in_channels / p.groups) *
                                              p.kernel_h * p.kernel_w));
  for_each_term(p, [&](int64_t xi, int64_t wi, int64_t yi) {
    acc[static_cast<size_t>(wi)] += double(dy[yi]) * double(x[xi]);
  });
  store(acc, dw);
}

}  // namespace

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, float* y) {
  forward_impl(p, x, w, y);
}
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w, double* y) {
  forward_impl(p, x, w, y);
}
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  backward_data_impl(p, dy, w, dx);
}
void conv2d_backward_data(const Conv2dParams& p, const double* dy, const double* w,
                          double* dx) {
  backward_data_impl(p, dy, w, dx);
}
void conv2d_backward_weight(const Conv2dParams& p, const float* dy, const float* x, float* dw) {
  backward_weight_impl(p, dy, x, dw);
}
void conv2d_backward_weight(const Conv2dParams& p, const double* dy, const double* x,
                            double* dw) {
  backward_weight_impl(p, dy, x, dw);
}

void conv2d_forward_reference(const Conv2dParams& p, const float* x, const float* w, float* y) {
  forward_reference_impl(p, x, w, y);
}
void conv2d_forward_reference(const Conv2dParams& p, const double* x, const double* w,
                              double* y) {
  forward_reference_impl(p, x, w, y);
}
void conv2d_backward_data_reference(const Conv2dParams& p, const float* dy, const float* w,
                                    float* dx) {
  backward_data_reference_impl(p, dy, w, dx);
}
void conv2d_backward_data_reference(const Conv2dParams& p, const double* dy, const double* w,
                                    double* dx) {
  backward_data_reference_impl(p, dy, w, dx);
}
void conv2d_backward_weight_reference(const Conv2dParams& p, const float* dy, const float* x,
                                      float* dw) {
  backward_weight_reference_impl(p, dy, x, dw);
}
void conv2d_backward_weight_reference(const Conv2dParams& p, const double* dy, const double* x,
                                      double* dw) {
  backward_weight_reference_impl(p, dy, x, dw);
}

}  // namespace ember::cpu
