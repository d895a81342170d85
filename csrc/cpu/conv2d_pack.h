// The convolution's implicit GEMM operands: GemmPacker callbacks (gemm.h) that gather the
// GEMM's packed micro-panels straight from the images, so no im2col matrix is ever written.
//
// Like gemm_driver.h, this header is compiled once per instruction set: conv2d.cpp includes
// it with the portable `Copy` policy, conv2d_avx512.cpp with masked AVX-512 loads and
// stores (a window row of up to 16 floats, padding included, in one load and one store).
// Everything lives in an anonymous namespace and uses no std templates, so no AVX-512 code
// can be merged into the portable build by the linker.
#pragma once
#include <cstdint>

#include "cpu/conv2d.h"

namespace ember::cpu::detail {

// The geometry the packers need (filled by conv2d.cpp from Conv2dParams).
struct ConvGeometry {
  const Conv2dParams* p;
  int64_t cin_g, cout_g;  // channels per group
  int64_t pixels;         // P = OH OW, output pixels of one image
  int64_t plane;          // H W, one input channel plane
  int64_t group;          // the group being computed
};

// Forward's B = col(X_g) of all images side by side: row r = (ci, i, j), column
// c = n P + oy OW + ox, value x[n, g C_in/G + ci, oy sh - ph + i dh, ox sw - pw + j dw]
// (0 in the padding).
template <typename T>
struct WindowMatrix {
  ConvGeometry geo;
  const T* x;        // the whole input batch, NCHW
  int64_t x_elems;   // its size (a SIMD packer may read any lanes inside it)
};

// Backward-weight's operands over a chunk of images (pixel c = n P + q, n from the chunk's
// first image): dY_g (line co, pixel c) and rows(X_g) (line e = (i kW + j) C_in/G + ci,
// pixel c), the latter gathered from a zero-padded channels-last copy of the chunk. Each is
// packed as "lines x pixels", so either can be the GEMM's A or B.
template <typename T>
struct WeightGradOperands {
  ConvGeometry geo;
  const T* dy;        // the chunk's first image of dY, NCHW
  const T* xt;        // xt[n][y][x][c], y < H + 2 ph, x < W + 2 pw
  int64_t xt_elems;   // its size (a SIMD packer may read any lanes inside it)
};

// The packers for one instruction set (GemmPacker::pack signatures).
template <typename T>
using ConvPackFn = void (*)(const void* ctx, int64_t index, int64_t first, int64_t count,
                            int64_t k0, int64_t kc, int64_t width, T* dst);
template <typename T>
struct ConvPackerSet {
  ConvPackFn<T> window_columns;  // ctx: WindowMatrix<T>
  ConvPackFn<T> grad_rows;       // ctx: WeightGradOperands<T>
  ConvPackFn<T> window_rows;     // ctx: WeightGradOperands<T>
};
struct ConvPackers {
  ConvPackerSet<float> f32;
  ConvPackerSet<double> f64;
};
const ConvPackers* conv_avx512_packers();  // nullptr when not built for AVX-512 (the
                                           // portable set lives in conv2d.cpp)

namespace {

inline int64_t conv_min(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t conv_max(int64_t a, int64_t b) { return a > b ? a : b; }

// Output columns [lo, hi) whose input column ox stride + offset lies in [0, width).
struct ColumnRange {
  int64_t lo, hi;
};
inline ColumnRange valid_columns(int64_t offset, int64_t stride, int64_t width, int64_t out) {
  int64_t lo, hi;
  if (stride == 1) {  // the common case, without divisions: this runs once per panel row
    lo = -offset;
    hi = width - offset;
  } else {
    lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    hi = (width - 1 - offset) < 0 ? 0 : (width - 1 - offset) / stride + 1;
  }
  lo = conv_min(conv_max(lo, 0), out);
  return {lo, conv_max(lo, conv_min(hi, out))};
}

// A run of a B micro-panel's columns that share one output row (n, oy): `len` columns from
// output column ox0, landing at panel column l0.
template <typename T>
struct ColumnRun {
  const T* image;  // x[n, g C_in/G]
  int64_t oy, ox0, len, l0;
};

// Rows [k0, k0 + kc) of the columns in `runs`: row r = (ci, i, j) reads input row
// oy sh - ph + i dh of channel ci at columns ox sw - pw + j dw, for each run.
template <typename Copy, typename T>
void pack_window_runs(const WindowMatrix<T>& m, const ColumnRun<T>* runs, int n_runs,
                      int64_t k0, int64_t kc, int64_t width, T* dst) {
  const Conv2dParams& p = *m.geo.p;
  const int64_t taps = p.kernel_h * p.kernel_w;
  int64_t ci = k0 / taps, i = k0 % taps / p.kernel_w, j = k0 % p.kernel_w;
  for (int64_t r = 0; r < kc; ++r) {
    const int64_t off = j * p.dilation_w - p.pad_w;
    const ColumnRange valid = valid_columns(off, p.stride_w, p.in_w, p.out_w);
    const int64_t plane = ci * m.geo.plane, dy = i * p.dilation_h - p.pad_h;
    T* row = dst + r * width;
    for (int u = 0; u < n_runs; ++u) {
      const ColumnRun<T>& run = runs[u];
      const int64_t iy = run.oy * p.stride_h + dy;
      T* out = row + run.l0;
      if (iy < 0 || iy >= p.in_h) {
        Copy::zero(out, run.len);
        continue;
      }
      // out[t] = input[(ox0 + t) sw + off] for ox0 + t in [valid.lo, valid.hi), else 0
      const int64_t lo = conv_min(conv_max(valid.lo - run.ox0, 0), run.len);
      const int64_t hi = conv_max(lo, conv_min(valid.hi - run.ox0, run.len));
      if (lo == hi) {  // the whole run reads padding
        Copy::zero(out, run.len);
        continue;
      }
      const T* in = run.image + plane + iy * p.in_w + (run.ox0 + lo) * p.stride_w + off;
      Copy::window(in, p.stride_w, lo, hi, run.len, out);
    }
    if (++j == p.kernel_w) {  // next (ci, i, j) without dividing
      j = 0;
      if (++i == p.kernel_h) i = 0, ++ci;
    }
  }
}

// GemmPacker::pack for a WindowMatrix: columns [first, first + count) of rows
// [k0, k0 + kc), `width` columns per row, cut into runs of one output row each.
template <typename Copy, typename T>
void pack_window_columns(const void* ctx, int64_t, int64_t first, int64_t count, int64_t k0,
                         int64_t kc, int64_t width, T* dst) {
  const auto& m = *static_cast<const WindowMatrix<T>*>(ctx);
  const Conv2dParams& p = *m.geo.p;
  if (count < width)
    for (int64_t r = 0; r < kc; ++r) Copy::zero(dst + r * width + count, width - count);
  constexpr int kMaxRuns = 64;  // a micro-panel is at most 32 columns wide; any count works
  ColumnRun<T> runs[kMaxRuns];
  int n_runs = 0;
  for (int64_t col = first; col < first + count;) {
    const int64_t n = col / m.geo.pixels, q = col % m.geo.pixels;
    const int64_t ox0 = q % p.out_w, len = conv_min(p.out_w - ox0, first + count - col);
    runs[n_runs++] = {m.x + (n * p.in_channels + m.geo.group * m.geo.cin_g) * m.geo.plane,
                      q / p.out_w, ox0, len, col - first};
    col += len;
    if (n_runs == kMaxRuns || col == first + count) {
      pack_window_runs<Copy>(m, runs, n_runs, k0, kc, width, dst);
      n_runs = 0;
    }
  }
}

// GemmPacker::pack for dY_g: lines (output channels) [first, first + count) over pixels
// [k0, k0 + kc). As the GEMM's B it is packed once per k block for all kH kW C_in/G rows,
// so a plain transposing copy is cheap enough.
template <typename Copy, typename T>
void pack_grad_rows(const void* ctx, int64_t, int64_t first, int64_t count, int64_t k0,
                    int64_t kc, int64_t width, T* dst) {
  const auto& m = *static_cast<const WeightGradOperands<T>*>(ctx);
  const int64_t pixels = m.geo.pixels, channels = m.geo.p->out_channels;
  for (int64_t c = k0; c < k0 + kc;) {  // runs of pixels within one image
    const int64_t n = c / pixels, q = c % pixels, len = conv_min(pixels - q, k0 + kc - c);
    const T* src = m.dy + (n * channels + m.geo.group * m.geo.cout_g + first) * pixels + q;
    T* out = dst + (c - k0) * width;
    for (int64_t t = 0; t < len; ++t) {
      for (int64_t l = 0; l < count; ++l) out[t * width + l] = src[l * pixels + t];
      for (int64_t l = count; l < width; ++l) out[t * width + l] = T(0);
    }
    c += len;
  }
}

// GemmPacker::pack for rows(X_g): lines [first, first + count) over pixels [k0, k0 + kc).
// At one pixel the lines of one tap are adjacent channels of the channels-last copy: one
// contiguous copy per (pixel, tap).
template <typename Copy, typename T>
void pack_window_rows(const void* ctx, int64_t, int64_t first, int64_t count, int64_t k0,
                      int64_t kc, int64_t width, T* dst) {
  const auto& m = *static_cast<const WeightGradOperands<T>*>(ctx);
  const Conv2dParams& p = *m.geo.p;
  const int64_t cin_g = m.geo.cin_g, c = p.in_channels;
  const int64_t wp = p.in_w + 2 * p.pad_w, image = (p.in_h + 2 * p.pad_h) * wp * c;
  if (count < width)
    for (int64_t t = 0; t < kc; ++t) Copy::zero(dst + t * width + count, width - count);
  for (int64_t e = first; e < first + count;) {  // runs of channels within one tap
    const int64_t tap = e / cin_g, ci = e % cin_g;
    const int64_t len = conv_min(cin_g - ci, first + count - e);
    const int64_t i = tap / p.kernel_w, j = tap % p.kernel_w;
    // pixel (n, oy, ox) reads xt[n][oy sh + i dh][ox sw + j dw][g C_in/G + ci ...]
    const T* base =
        m.xt + (i * p.dilation_h * wp + j * p.dilation_w) * c + m.geo.group * cin_g + ci;
    int64_t n = k0 / m.geo.pixels, oy = k0 % m.geo.pixels / p.out_w, ox = k0 % p.out_w;
    for (int64_t t = 0; t < kc; ++t) {
      const T* src = base + n * image + (oy * p.stride_h * wp + ox * p.stride_w) * c;
      Copy::window(src, 1, 0, len, len, dst + t * width + (e - first));
      if (++ox == p.out_w) {
        ox = 0;
        if (++oy == p.out_h) oy = 0, ++n;
      }
    }
    e += len;
  }
}

// The portable copy policy (also the reference for the SIMD ones).
struct PortableCopy {
  template <typename T>
  static void zero(T* out, int64_t len) {
    for (int64_t t = 0; t < len; ++t) out[t] = T(0);
  }
  // out[t] = 0 for t outside [lo, hi); out[t] = in[(t - lo) stride] inside.
  template <typename T>
  static void window(const T* in, int64_t stride, int64_t lo, int64_t hi, int64_t len,
                     T* out) {
    for (int64_t t = 0; t < lo; ++t) out[t] = T(0);
    if (stride == 1) {
      for (int64_t t = lo; t < hi; ++t) out[t] = in[t - lo];
    } else {
      for (int64_t t = lo; t < hi; ++t) out[t] = in[(t - lo) * stride];
    }
    for (int64_t t = hi; t < len; ++t) out[t] = T(0);
  }
};

template <typename Copy, typename T>
constexpr ConvPackerSet<T> conv_packer_set() {
  return {&pack_window_columns<Copy, T>, &pack_grad_rows<Copy, T>,
          &pack_window_rows<Copy, T>};
}

}  // namespace
}  // namespace ember::cpu::detail
