// The convolution's operand packers (conv2d_pack.h) with AVX-512 copies (compiled with
// -mavx512f -mavx512bw -mavx512vl; used only on CPUs that have them). A window row of up to
// one vector, padding included, is one masked load and two masked stores: masked-off lanes
// are neither read (no fault past the image) nor written.
#include "cpu/conv2d_pack.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>

#include <cstdint>

namespace ember::cpu::detail {
namespace {

// Lanes [0, count) of a 16-lane mask (count clipped to [0, 16]).
inline __mmask16 first_lanes(int64_t count) {
  if (count <= 0) return 0;
  return count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1u);
}

// Lanes [lo, hi) of a 16-lane mask.
inline __mmask16 lanes_between(int64_t lo, int64_t hi) {
  return __mmask16(first_lanes(hi) & ~first_lanes(lo));
}

// out[t] = in[t - lo] for t in [lo, hi), 0 for the rest of [0, len): each vector of output
// is one zero-masked load from where lane 0 *would* read (lanes before lo are masked off,
// so nothing before `in` is ever touched; the address is formed as an integer because the
// pointer itself may lie before the array) and, for whole vectors, a plain store.
template <typename V, typename T, int W, typename LoadAll, typename Load, typename Store,
          typename StoreMasked>
inline void window_simd(const T* in, int64_t lo, int64_t hi, int64_t len, T* out,
                        LoadAll load_all, Load load, Store store, StoreMasked store_masked) {
  const std::uintptr_t lane0 = reinterpret_cast<std::uintptr_t>(in) - std::uintptr_t(lo) * sizeof(T);
  for (int64_t t = 0; t < len; t += W) {
    const __mmask16 valid = __mmask16(lanes_between(lo - t, hi - t) & first_lanes(W));
    const T* src = reinterpret_cast<const T*>(lane0 + std::uintptr_t(t) * sizeof(T));
    // A full vector inside the image takes a plain load: masked loads are far slower on
    // some CPUs (Zen 5 among them) even when every lane is enabled.
    const V v = valid == first_lanes(W) ? load_all(src) : load(valid, src);
    if (len - t >= W)
      store(out + t, v);
    else
      store_masked(out + t, first_lanes(len - t), v);
  }
}

struct Avx512Copy {
  // float: 16 lanes
  static void zero(float* out, int64_t len) {
    for (int64_t t = 0; t < len; t += 16)
      _mm512_mask_storeu_ps(out + t, first_lanes(len - t), _mm512_setzero_ps());
  }
  static void window(const float* in, int64_t stride, int64_t lo, int64_t hi, int64_t len,
                     float* out) {
    if (stride != 1) {
      PortableCopy::window(in, stride, lo, hi, len, out);
      return;
    }
    window_simd<__m512, float, 16>(
        in, lo, hi, len, out, [](const float* p) { return _mm512_loadu_ps(p); },
        [](__mmask16 k, const float* p) { return _mm512_maskz_loadu_ps(k, p); },
        [](float* p, __m512 v) { _mm512_storeu_ps(p, v); },
        [](float* p, __mmask16 k, __m512 v) { _mm512_mask_storeu_ps(p, k, v); });
  }
  // double: 8 lanes (the low 8 bits of each mask)
  static void zero(double* out, int64_t len) {
    for (int64_t t = 0; t < len; t += 8)
      _mm512_mask_storeu_pd(out + t, __mmask8(first_lanes(len - t)), _mm512_setzero_pd());
  }
  static void window(const double* in, int64_t stride, int64_t lo, int64_t hi, int64_t len,
                     double* out) {
    if (stride != 1) {
      PortableCopy::window(in, stride, lo, hi, len, out);
      return;
    }
    window_simd<__m512d, double, 8>(
        in, lo, hi, len, out, [](const double* p) { return _mm512_loadu_pd(p); },
        [](__mmask16 k, const double* p) { return _mm512_maskz_loadu_pd(__mmask8(k), p); },
        [](double* p, __m512d v) { _mm512_storeu_pd(p, v); },
        [](double* p, __mmask16 k, __m512d v) { _mm512_mask_storeu_pd(p, __mmask8(k), v); });
  }
};

// The forward packer's fast path (stride 1 along the width, the common case). A micro-panel
// is cut into segments of at most one vector that share an output row; for every kernel tap
// the segment's source offset and lane mask (padding columns and padding rows masked off)
// are computed once per panel. Each of the panel's rows (ci, i, j) is then just one masked
// load and one store per segment, for every channel.
template <typename T>
struct TapSegment {
  int64_t offset;  // where lane 0 reads, from the image's channel-ci plane (may be < 0)
  __mmask16 mask;  // lanes that read inside the image
};

constexpr int kMaxTaps = 64, kMaxSegments = 8;

template <typename T, int W, typename LoadAll, typename Load, typename Store,
          typename StoreMasked>
bool pack_window_columns_by_taps(const WindowMatrix<T>& m, int64_t first, int64_t count,
                                 int64_t k0, int64_t kc, int64_t width, T* dst,
                                 LoadAll load_all, Load load, Store store,
                                 StoreMasked store_masked) {
  const Conv2dParams& p = *m.geo.p;
  const int64_t taps = p.kernel_h * p.kernel_w;
  if (p.stride_w != 1 || taps > kMaxTaps) return false;
  // segments: (image, output row, first column, length <= W, panel column)
  const T* image[kMaxSegments];
  int64_t oy[kMaxSegments], ox0[kMaxSegments], len[kMaxSegments], l0[kMaxSegments];
  int n_seg = 0;
  for (int64_t col = first; col < first + count; ++n_seg) {
    if (n_seg == kMaxSegments) return false;
    const int64_t n = col / m.geo.pixels, q = col % m.geo.pixels;
    ox0[n_seg] = q % p.out_w;
    oy[n_seg] = q / p.out_w;
    len[n_seg] = conv_min(conv_min(p.out_w - ox0[n_seg], first + count - col), W);
    l0[n_seg] = col - first;
    image[n_seg] = m.x + (n * p.in_channels + m.geo.group * m.geo.cin_g) * m.geo.plane;
    col += len[n_seg];
  }
  TapSegment<T> table[kMaxTaps][kMaxSegments];
  for (int64_t tap = 0; tap < taps; ++tap) {
    const int64_t i = tap / p.kernel_w, j = tap % p.kernel_w;
    const int64_t off = j * p.dilation_w - p.pad_w;
    const ColumnRange valid = valid_columns(off, 1, p.in_w, p.out_w);
    for (int u = 0; u < n_seg; ++u) {
      const int64_t iy = oy[u] * p.stride_h - p.pad_h + i * p.dilation_h;
      const int64_t lo = conv_min(conv_max(valid.lo - ox0[u], 0), len[u]);
      const int64_t hi = conv_max(lo, conv_min(valid.hi - ox0[u], len[u]));
      const bool row_inside = iy >= 0 && iy < p.in_h;
      table[tap][u].mask = row_inside ? lanes_between(lo, hi) : __mmask16(0);
      table[tap][u].offset = row_inside ? iy * p.in_w + ox0[u] + off : 0;
    }
  }
  // Lane 0 of a segment reads element `at` of x. A vector wholly inside x is read by a plain
  // load and then masked (masked loads with a partial mask are slow on some CPUs, Zen 5
  // among them); only at x's two ends does a masked load keep the reads inside it. The
  // address is formed as an integer: lane 0 may lie before x (masked off, never read).
  const std::uintptr_t x0 = reinterpret_cast<std::uintptr_t>(m.x);
  // The next panel reads the input rows this many rows further down: prefetch them now,
  // as the jumps between channel planes defeat the hardware prefetcher (the input of a big
  // layer streams from L3).
  const int64_t ahead = ((width + p.out_w - 1) / p.out_w) * p.stride_h * p.in_w;
  int64_t ci = k0 / taps, tap = k0 % taps;
  for (int64_t r = 0; r < kc; ++r) {
    const TapSegment<T>* seg = table[tap];
    T* row = dst + r * width;
    for (int u = 0; u < n_seg; ++u) {
      const int64_t at = (image[u] - m.x) + ci * m.geo.plane + seg[u].offset;
      const auto src = reinterpret_cast<const T*>(x0 + std::uintptr_t(at) * sizeof(T));
      const auto v = at >= 0 && at + W <= m.x_elems ? load_all(seg[u].mask, src)
                                                    : load(seg[u].mask, src);
      _mm_prefetch(reinterpret_cast<const char*>(x0 + std::uintptr_t(at + ahead) * sizeof(T)),
                   _MM_HINT_T0);
      if (len[u] == W)
        store(row + l0[u], v);
      else
        store_masked(row + l0[u], first_lanes(len[u]), v);
    }
    if (++tap == taps) tap = 0, ++ci;
  }
  if (count < width)
    for (int64_t r = 0; r < kc; ++r) Avx512Copy::zero(dst + r * width + count, width - count);
  return true;
}

void pack_window_columns_f32(const void* ctx, int64_t index, int64_t first, int64_t count,
                             int64_t k0, int64_t kc, int64_t width, float* dst) {
  const auto& m = *static_cast<const WindowMatrix<float>*>(ctx);
  if (!pack_window_columns_by_taps<float, 16>(
          m, first, count, k0, kc, width, dst,
          [](__mmask16 k, const float* p) { return _mm512_maskz_mov_ps(k, _mm512_loadu_ps(p)); },
          [](__mmask16 k, const float* p) { return _mm512_maskz_loadu_ps(k, p); },
          [](float* p, __m512 v) { _mm512_storeu_ps(p, v); },
          [](float* p, __mmask16 k, __m512 v) { _mm512_mask_storeu_ps(p, k, v); }))
    pack_window_columns<Avx512Copy, float>(ctx, index, first, count, k0, kc, width, dst);
}

void pack_window_columns_f64(const void* ctx, int64_t index, int64_t first, int64_t count,
                             int64_t k0, int64_t kc, int64_t width, double* dst) {
  const auto& m = *static_cast<const WindowMatrix<double>*>(ctx);
  if (!pack_window_columns_by_taps<double, 8>(
          m, first, count, k0, kc, width, dst,
          [](__mmask16 k, const double* p) {
            return _mm512_maskz_mov_pd(__mmask8(k), _mm512_loadu_pd(p));
          },
          [](__mmask16 k, const double* p) { return _mm512_maskz_loadu_pd(__mmask8(k), p); },
          [](double* p, __m512d v) { _mm512_storeu_pd(p, v); },
          [](double* p, __mmask16 k, __m512d v) { _mm512_mask_storeu_pd(p, __mmask8(k), v); }))
    pack_window_columns<Avx512Copy, double>(ctx, index, first, count, k0, kc, width, dst);
}

// Backward-weight's rows(X_g) packer with one vector per (pixel, run of channels): a run
// of up to W adjacent channels of one tap is one load and one store per pixel.
template <typename T, int W, typename LoadAll, typename Load, typename Store,
          typename StoreMasked>
bool pack_window_rows_simd(const WeightGradOperands<T>& m, int64_t first, int64_t count,
                           int64_t k0, int64_t kc, int64_t width, T* dst, LoadAll load_all,
                           Load load, Store store, StoreMasked store_masked) {
  const Conv2dParams& p = *m.geo.p;
  const int64_t cin_g = m.geo.cin_g, c = p.in_channels;
  if (count > W) return false;
  const int64_t wp = p.in_w + 2 * p.pad_w, image = (p.in_h + 2 * p.pad_h) * wp * c;
  if (count < width)
    for (int64_t t = 0; t < kc; ++t) Avx512Copy::zero(dst + t * width + count, width - count);
  for (int64_t e = first; e < first + count;) {  // runs of channels within one tap
    const int64_t tap = e / cin_g, ci = e % cin_g;
    const int64_t len = conv_min(cin_g - ci, first + count - e), l0 = e - first;
    const int64_t i = tap / p.kernel_w, j = tap % p.kernel_w;
    const int64_t base = (i * p.dilation_h * wp + j * p.dilation_w) * c + m.geo.group * cin_g + ci;
    const __mmask16 mask = first_lanes(len);
    // A run that is the whole row may store a full vector: the extra W - len lanes spill
    // onto the start of row t + 1 (the same run's, written next), never further.
    const bool whole_row = l0 == 0 && len == width && W - len <= width;
    int64_t n = k0 / m.geo.pixels, oy = k0 % m.geo.pixels / p.out_w, ox = k0 % p.out_w;
    for (int64_t t = 0; t < kc; ++t) {
      const int64_t at = base + n * image + (oy * p.stride_h * wp + ox * p.stride_w) * c;
      const T* src = m.xt + at;
      const auto v = at + W <= m.xt_elems ? load_all(src) : load(mask, src);
      T* out = dst + t * width + l0;
      if (whole_row && t + 1 < kc)
        store(out, v);
      else
        store_masked(out, mask, v);
      if (++ox == p.out_w) {
        ox = 0;
        if (++oy == p.out_h) oy = 0, ++n;
      }
    }
    e += len;
  }
  return true;
}

void pack_window_rows_f32(const void* ctx, int64_t index, int64_t first, int64_t count,
                          int64_t k0, int64_t kc, int64_t width, float* dst) {
  const auto& m = *static_cast<const WeightGradOperands<float>*>(ctx);
  if (!pack_window_rows_simd<float, 16>(
          m, first, count, k0, kc, width, dst, [](const float* p) { return _mm512_loadu_ps(p); },
          [](__mmask16 k, const float* p) { return _mm512_maskz_loadu_ps(k, p); },
          [](float* p, __m512 v) { _mm512_storeu_ps(p, v); },
          [](float* p, __mmask16 k, __m512 v) { _mm512_mask_storeu_ps(p, k, v); }))
    pack_window_rows<Avx512Copy, float>(ctx, index, first, count, k0, kc, width, dst);
}

void pack_window_rows_f64(const void* ctx, int64_t index, int64_t first, int64_t count,
                          int64_t k0, int64_t kc, int64_t width, double* dst) {
  const auto& m = *static_cast<const WeightGradOperands<double>*>(ctx);
  if (!pack_window_rows_simd<double, 8>(
          m, first, count, k0, kc, width, dst,
          [](const double* p) { return _mm512_loadu_pd(p); },
          [](__mmask16 k, const double* p) { return _mm512_maskz_loadu_pd(__mmask8(k), p); },
          [](double* p, __m512d v) { _mm512_storeu_pd(p, v); },
          [](double* p, __mmask16 k, __m512d v) { _mm512_mask_storeu_pd(p, __mmask8(k), v); }))
    pack_window_rows<Avx512Copy, double>(ctx, index, first, count, k0, kc, width, dst);
}

constexpr ConvPackers make_avx512_packers() {
  ConvPackers packers = {conv_packer_set<Avx512Copy, float>(),
                         conv_packer_set<Avx512Copy, double>()};
  packers.f32.window_columns = &pack_window_columns_f32;
  packers.f64.window_columns = &pack_window_columns_f64;
  packers.f32.window_rows = &pack_window_rows_f32;
  packers.f64.window_rows = &pack_window_rows_f64;
  return packers;
}

constexpr ConvPackers kAvx512Packers = make_avx512_packers();

}  // namespace

const ConvPackers* conv_avx512_packers() { return &kAvx512Packers; }

}  // namespace ember::cpu::detail

#else  // not built for AVX-512

namespace ember::cpu::detail {
const ConvPackers* conv_avx512_packers() { return nullptr; }
}  // namespace ember::cpu::detail

#endif
