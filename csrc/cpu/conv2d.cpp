// conv2d on ember's packed GEMM, as *implicit* GEMMs: the window matrix col(X) is never
// materialised. The GEMM (gemm.h) packs its operands into micro-panels anyway, so the conv
// hands it packers (conv2d_pack.h; AVX-512 versions in conv2d_avx512.cpp) that gather each
// panel straight from the images: one pass over the data instead of an im2col write, a
// re-read and a pack.
//
// One GEMM per group covers the whole batch: the images' pixels sit side by side along the
// GEMM's n (or k) dimension. Each product is then big enough for both cores to share it,
// and the weights are packed once per k block instead of once per image. Per group g,
// with P = OH OW:
//   forward          Y_g (C_out/G x N P) = W_g @ [col(X_0g) | col(X_1g) | ...], written
//                    straight into y through the GEMM's column groups (one per image)
//   backward-data    stride 1 and >= 16 channels per group: a forward conv of dY with the
//                    flipped, transposed weight (the "full" correlation), no col2im;
//                    otherwise per image dX_ng = col2im(W_g^T @ dY_ng)
//   backward-weight  >= 16 channels per group: dW_g^T (kH kW C_in/G x C_out/G) =
//                    rows(X_g)^T @ dY_g^T, the sum over images being the GEMM's own k loop;
//                    rows(X) (pixel x (i, j, ci)) is gathered from a zero-padded
//                    channels-last copy of X, where a micro-panel's channels are adjacent.
//                    Fewer channels (a first layer's 3 colours): per-image im2col + GEMM.
//
// Memory (beyond the GEMM's packing workspace): forward and the stride-1 backward-data need
// none (the flipped weight aside). Backward-weight holds the padded channels-last copy of
// a chunk of images, at most kChunkElems elements (or one image, if larger) plus dW^T; the
// col2im / im2col fallbacks hold one image's col matrix per thread.
#include "cpu/conv2d.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "cpu/conv2d_pack.h"
#include "cpu/gemm.h"
#include "cpu/parallel.h"

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif

namespace ember::cpu {

namespace {

// Backward-weight's channels-last copy holds at most this many elements (or one image).
constexpr int64_t kChunkElems = int64_t(1) << 21;
// The implicit backward paths gather runs of channels (or need that many GEMM rows); below
// this many channels per group they lose to the per-image GEMM + col2im/im2col paths.
constexpr int64_t kMinChannelsImplicit = 16;
// The portable packers (conv2d_avx512.cpp has the AVX-512 ones).
constexpr detail::ConvPackers kGenericPackers = {
    detail::conv_packer_set<detail::PortableCopy, float>(),
    detail::conv_packer_set<detail::PortableCopy, double>()};


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
// Whole tasks per thread balance when there are many or they divide evenly -- and only
// when there is work enough (~4 MFLOP a thread): on a loaded machine a parallel region's
// barrier can wait a scheduler slice (milliseconds) for a tiny convolution.
bool parallel_over_tasks(int64_t tasks, int threads, int64_t flops_per_task) {
  if (threads < 2 || tasks < 2 || tasks * flops_per_task < (int64_t{threads} << 22)) return false;
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

// The adjoint of im2col: x[ci, iy, ix] += col[...] for every window position that read it.
// x must be zeroed first. Each channel's rows write only that channel's plane, so the
// channels can be split over threads without races.
template <typename T>
void col2im(const Conv2dParams& p, const Dims& d, const T* col, T* x, bool parallel) {
  const int64_t kh = p.kernel_h, kw = p.kernel_w, oh = p.out_h, ow = p.out_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (parallel && d.k * d.p >= (int64_t{1} << 16))
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

// The operand packers for this call's micro-kernel (isa.h): the AVX-512 build when the GEMM
// runs AVX-512 (both are then picked for the same CPU), else the portable one.
template <typename T>
const detail::ConvPackerSet<T>& packers(Isa isa) {
  static const IsaVariants<detail::ConvPackers> variants{&kGenericPackers, nullptr,
                                                         detail::conv_avx512_packers()};
  const detail::ConvPackers& set = variants.pick(isa, gemm_best_isa());
  if constexpr (sizeof(T) == sizeof(float)) return set.f32;
  else return set.f64;
}

detail::ConvGeometry geometry(const Conv2dParams& p, const Dims& d, int64_t group) {
  return {&p, d.cin_g, d.cout_g, d.p, d.hw, group};
}

// ---------------------------------------------------------------------------------------
// Forward: Y_g = W_g @ [col(X_0g) | col(X_1g) | ...], every image in one GEMM
// ---------------------------------------------------------------------------------------
template <typename T>
void forward_impl(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y) {
  const Dims d = dims_of(p);
  if (p.batch <= 0) return;
  if (bias) {  // y starts as the bias of each output plane; the GEMMs then add W_g @ col
    const int64_t planes = p.batch * p.out_channels;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (planes * d.p > (1 << 16))
#endif
    for (int64_t plane = 0; plane < planes; ++plane)
      std::fill(y + plane * d.p, y + (plane + 1) * d.p, bias[plane % p.out_channels]);
  }
  for (int64_t g = 0; g < p.groups; ++g) {
    const detail::WindowMatrix<T> window{geometry(p, d, g), x,
                                         p.batch * p.in_channels * d.hw};
    GemmPacker<T> packer;
    packer.pack = packers<T>(p.isa).window_columns;
    packer.ctx = &window;
    GemmBatch<T> gb;
    gb.m = d.cout_g;
    gb.n = p.batch * d.p;
    gb.k = d.k;
    gb.a = w + g * d.cout_g * d.k;  // W_g: (cout_g, K) row-major
    gb.a_row_stride = d.k;
    gb.a_col_stride = 1;
    gb.b_packer = &packer;
    // Y_g's column n P + q is y[n, g cout_g + co, q]: one column group per image.
    gb.c = y + g * d.cout_g * d.p;
    gb.c_row_stride = d.p;
    gb.c_group_cols = d.p;
    gb.c_group_stride = p.out_channels * d.p;
    gb.accumulate = bias != nullptr;
    gemm(gb, p.isa);
  }
}

// ---------------------------------------------------------------------------------------
// Backward-data
// ---------------------------------------------------------------------------------------
// With stride 1, dx[ci, y, x] = sum_{co, i, j} dy[co, y + p - i d, x + p - j d] w[co, ci, i, j]
// is a forward conv of dY (C_out channels) with w'[ci, co, i', j'] = w[co, ci, kH-1-i',
// kW-1-j'] and padding d (k - 1) - p. It needs that padding to be >= 0, and its GEMM has
// C_in/G rows, so it pays off only with enough input channels (a 3-channel image's dx
// would waste most of each 14-row micro-tile); the rest takes the col2im path.
bool backward_data_as_forward(const Conv2dParams& p, const Dims& d) {
  return p.stride_h == 1 && p.stride_w == 1 && p.pad_h <= p.dilation_h * (p.kernel_h - 1) &&
         p.pad_w <= p.dilation_w * (p.kernel_w - 1) && d.cin_g >= kMinChannelsImplicit;
}

template <typename T>
void backward_data_by_forward(const Conv2dParams& p, const Dims& d, const T* dy, const T* w,
                              T* dx) {
  const int64_t kh = p.kernel_h, kw = p.kernel_w;
  auto flipped = buffer<T>(p.in_channels * d.cout_g * kh * kw);  // (C_in, C_out/G, kH, kW)
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t co = 0; co < d.cout_g; ++co)
      for (int64_t ci = 0; ci < d.cin_g; ++ci)
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j)
            flipped[(((g * d.cin_g + ci) * d.cout_g + co) * kh + kh - 1 - i) * kw + kw - 1 - j] =
                w[(((g * d.cout_g + co) * d.cin_g + ci) * kh + i) * kw + j];
  Conv2dParams q = p;
  q.in_channels = p.out_channels;
  q.in_h = p.out_h;
  q.in_w = p.out_w;
  q.out_channels = p.in_channels;
  q.out_h = p.in_h;
  q.out_w = p.in_w;
  q.pad_h = p.dilation_h * (kh - 1) - p.pad_h;
  q.pad_w = p.dilation_w * (kw - 1) - p.pad_w;
  forward_impl(q, dy, flipped.get(), static_cast<const T*>(nullptr), dx);
}

// dX_ng = col2im(W_g^T @ dY_ng), one (image, group) task at a time per thread.
template <typename T>
void backward_data_by_col2im(const Conv2dParams& p, const Dims& d, const T* dy, const T* w,
                             T* dx) {
  const int64_t tasks = p.batch * p.groups;
  const int threads = available_threads();
  const bool split = parallel_over_tasks(tasks, threads, 2 * d.k * d.p * d.cout_g);
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
    gemm(gb, p.isa);
    if (!d.pointwise) {
      std::fill(dxg, dxg + d.cin_g * d.hw, T(0));
      col2im(p, d, col, dxg, inner_parallel);
    }
  });
}

template <typename T>
void backward_data_impl(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const Dims d = dims_of(p);
  if (p.batch <= 0) return;
  if (backward_data_as_forward(p, d))
    backward_data_by_forward(p, d, dy, w, dx);
  else
    backward_data_by_col2im(p, d, dy, w, dx);
}

// ---------------------------------------------------------------------------------------
// Backward-weight
// ---------------------------------------------------------------------------------------
// Implicit: dW_g^T ((tap, ci) x cout_g) = rows(X_g)^T @ dY_g^T, the sum over the images
// (pixels) being the GEMM's own k loop; chunks of images add to it. The big side, kH kW C_in/G,
// is the GEMM's m (whole 14-row micro-panels, each thread packing only its own rows), and A's
// packer copies runs of C_in/G adjacent channels, so it needs enough of them; see
// backward_weight_by_im2col.
bool backward_weight_implicit(const Dims& d) { return d.cin_g >= kMinChannelsImplicit; }

// The padded channels-last copy of images [n0, n0 + count): xt[n][y][x][c] with
// y in [0, H + 2 ph), x in [0, W + 2 pw), zero in the border.
template <typename T>
void to_padded_channels_last(const Conv2dParams& p, const T* x, int64_t n0, int64_t count,
                             T* xt) {
  const int64_t wp = p.in_w + 2 * p.pad_w, c = p.in_channels;
  const int64_t image = (p.in_h + 2 * p.pad_h) * wp * c;
  const bool parallel = available_threads() > 1 && count > 1 && count * image >= (int64_t(1) << 16);
  (void)parallel;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (int64_t n = 0; n < count; ++n) {
    T* out = xt + n * image;
    std::fill(out, out + image, T(0));
    const T* in = x + (n0 + n) * c * p.in_h * p.in_w;
    for (int64_t y = 0; y < p.in_h; ++y) {
      T* row = out + ((y + p.pad_h) * wp + p.pad_w) * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        const T* src = in + (ch * p.in_h + y) * p.in_w;
        for (int64_t xx = 0; xx < p.in_w; ++xx) row[xx * c + ch] = src[xx];
      }
    }
  }
}

// dW_g^T += rows(X_g)^T @ dY_g^T over images [n0, n0 + count) (already in xt) into dwt.
template <typename T>
void weight_grad_gemms(const Conv2dParams& p, const Dims& d, const T* dy, const T* xt,
                       int64_t n0, int64_t count, T* dwt) {
  const int64_t image = (p.in_h + 2 * p.pad_h) * (p.in_w + 2 * p.pad_w) * p.in_channels;
  const detail::ConvPackerSet<T>& pack = packers<T>(p.isa);
  for (int64_t g = 0; g < p.groups; ++g) {
    const detail::WeightGradOperands<T> ops{geometry(p, d, g), dy + n0 * p.out_channels * d.p,
                                            xt, count * image};
    // Both operands are implicit; their packers take (lines, pixels) either way round.
    GemmPacker<T> a_packer, b_packer;
    a_packer.pack = pack.window_rows;  // rows(X_g)^T: line (tap, ci), k = pixel
    a_packer.ctx = &ops;
    b_packer.pack = pack.grad_rows;    // dY_g^T: line co, k = pixel
    b_packer.ctx = &ops;
    GemmBatch<T> gb;
    gb.m = d.k;
    gb.n = d.cout_g;
    gb.k = count * d.p;
    gb.a_packer = &a_packer;
    gb.b_packer = &b_packer;
    gb.c = dwt + g * d.k * d.cout_g;
    gb.accumulate = true;
    gemm(gb, p.isa);
  }
}

// Threads split each chunk's images, each summing its share into its own dW^T with a
// single-threaded GEMM: the GEMM's k (pixels) is the long side, so this needs no barrier
// per k block (under contention each one can cost a scheduler time slice); the partial
// sums are added at the end. One image per chunk: the threads go inside the GEMM instead.
template <typename T>
void backward_weight_implicit_impl(const Conv2dParams& p, const Dims& d, const T* dy,
                                   const T* x, T* dw) {
  const int64_t taps = p.kernel_h * p.kernel_w, w_elems = p.out_channels * d.k;
  const int64_t image = (p.in_h + 2 * p.pad_h) * (p.in_w + 2 * p.pad_w) * p.in_channels;
  const int64_t chunk = std::clamp<int64_t>(kChunkElems / std::max<int64_t>(image, 1), 1,
                                            p.batch);
  const int team = static_cast<int>(std::min<int64_t>(available_threads(), chunk));
  auto xt = buffer<T>(chunk * image);
  auto dwt = buffer<T>(team * w_elems);  // per thread, per group dW^T ((tap, ci) x co)
  std::fill(dwt.get(), dwt.get() + team * w_elems, T(0));
  for (int64_t n0 = 0; n0 < p.batch; n0 += chunk) {
    const int64_t count = std::min(chunk, p.batch - n0);
    to_padded_channels_last(p, x, n0, count, xt.get());
    if (team < 2) {
      weight_grad_gemms(p, d, dy, xt.get(), n0, count, dwt.get());
      continue;
    }
#if defined(EMBER_OPENMP)
#pragma omp parallel num_threads(team)
    {
      const int t = omp_get_thread_num(), threads = omp_get_num_threads();
      const int64_t base = count / threads, extra = count % threads;
      const int64_t first = t * base + std::min<int64_t>(t, extra);
      const int64_t mine = base + (t < extra ? 1 : 0);
      if (mine > 0)
        weight_grad_gemms(p, d, dy, xt.get() + first * image, n0 + first, mine,
                          dwt.get() + t * w_elems);
    }
#endif
  }
  // sum the threads' partials; per group ((tap, ci), co) -> (co, (ci, tap)), w's layout
  for (int s = 1; s < team; ++s)
    for (int64_t e = 0; e < w_elems; ++e) dwt[e] += dwt[s * w_elems + e];
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t co = 0; co < d.cout_g; ++co)
      for (int64_t ci = 0; ci < d.cin_g; ++ci)
        for (int64_t tap = 0; tap < taps; ++tap)
          dw[((g * d.cout_g + co) * d.cin_g + ci) * taps + tap] =
              dwt[(g * d.k + tap * d.cin_g + ci) * d.cout_g + co];
}

// col[(ci kH + i) kW + j, oy OW + ox] = x[ci, oy sh - ph + i dh, ox sw - pw + j dw] (0 outside).
// x points at the group's first channel plane.
template <typename T>
void im2col(const Conv2dParams& p, const Dims& d, const T* x, T* col) {
  const int64_t kh = p.kernel_h, kw = p.kernel_w, oh = p.out_h, ow = p.out_w;
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
          for (int64_t ox = 0; ox < r.lo; ++ox) out[ox] = T(0);
          for (int64_t ox = r.lo; ox < r.hi; ++ox) out[ox] = src[ox * p.stride_w + off_w];
          for (int64_t ox = r.hi; ox < ow; ++ox) out[ox] = T(0);
        }
      }
    }
  }
}

// Few channels per group (a network's first layer: 3 colours): K = C_in/G kH kW is tiny, and
// dW_g^T (K x cout_g) = sum_n col(X_ng) (K x P) @ dY_ng^T (P x cout_g) per image, each
// thread with its own col buffer and accumulator (summed at the end), costs less than
// gathering 3-channel runs.
template <typename T>
void backward_weight_by_im2col(const Conv2dParams& p, const Dims& d, const T* dy, const T* x,
                               T* dw) {
  const int64_t tasks = p.batch * p.groups;
  const int64_t w_elems = p.out_channels * d.k, g_elems = d.cout_g * d.k;
  const int threads = available_threads();
  const bool split = parallel_over_tasks(tasks, threads, 2 * d.k * d.p * d.cout_g);
  const int slots = split ? threads : 1;
  auto cols = buffer<T>(d.pointwise ? 0 : slots * d.k * d.p);
  auto partial = buffer<T>(slots * w_elems);  // per-slot accumulators, dW^T per group
  std::fill(partial.get(), partial.get() + slots * w_elems, T(0));

  for_each_task(tasks, split, [&](int64_t t, int slot, bool) {
    const int64_t n = t / p.groups, g = t % p.groups;
    const T* xg = x + (n * p.in_channels + g * d.cin_g) * d.hw;
    const T* colp = xg;
    if (!d.pointwise) {
      T* col = cols.get() + slot * d.k * d.p;
      im2col(p, d, xg, col);
      colp = col;
    }
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
    gb.c = partial.get() + slot * w_elems + g * g_elems;
    gb.accumulate = true;
    gemm(gb, p.isa);
  });
  // sum the slots and transpose each group's (K x cout_g) back to (cout_g x K)
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t co = 0; co < d.cout_g; ++co)
      for (int64_t r = 0; r < d.k; ++r) {
        T sum = 0;
        for (int s = 0; s < slots; ++s) sum += partial[s * w_elems + g * g_elems + r * d.cout_g + co];
        dw[(g * d.cout_g + co) * d.k + r] = sum;
      }
}

template <typename T>
void backward_weight_impl(const Conv2dParams& p, const T* dy, const T* x, T* dw) {
  const Dims d = dims_of(p);
  if (p.batch <= 0) {
    std::fill(dw, dw + p.out_channels * d.k, T(0));
    return;
  }
  if (backward_weight_implicit(d))
    backward_weight_implicit_impl(p, d, dy, x, dw);
  else
    backward_weight_by_im2col(p, d, dy, x, dw);
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
void forward_reference_impl(const Conv2dParams& p, const T* x, const T* w, const T* bias,
                            T* y) {
  const int64_t plane = p.out_h * p.out_w;
  std::vector<double> acc(static_cast<size_t>(p.batch * p.out_channels * plane));
  for (size_t e = 0; bias && e < acc.size(); ++e)
    acc[e] = double(bias[(static_cast<int64_t>(e) / plane) % p.out_channels]);
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

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y) {
  forward_impl(p, x, w, bias, y);
}
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w,
                    const double* bias, double* y) {
  forward_impl(p, x, w, bias, y);
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

void conv2d_forward_reference(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y) {
  forward_reference_impl(p, x, w, bias, y);
}
void conv2d_forward_reference(const Conv2dParams& p, const double* x, const double* w,
                              const double* bias, double* y) {
  forward_reference_impl(p, x, w, bias, y);
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
