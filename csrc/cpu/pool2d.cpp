// Pooling kernels: plain loops over each output's window, threads over the N*C planes
// (planes never share memory, so forward and backward need no atomics).
#include "cpu/pool2d.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace ember::cpu {

// ---- reference: one output at a time, every window offset tested against the input --------
// The tests' oracle for the kernels below (tests/test_kernel_references.py); the backward
// kernels are checked against these through the adjoint identity <P x, g> = <x, P^T g>.
// Window of output (oy, ox): input rows oy*stride_h - pad_h + i*dilation_h (i < kernel_h),
// likewise columns; positions outside the input are padding.
template <typename T>
void max_pool2d_forward_reference(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
  for (int64_t c = 0; c < p.planes; ++c)
    for (int64_t oy = 0; oy < p.out_h; ++oy)
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        T best = -std::numeric_limits<T>::infinity();  // padding never wins
        int64_t at = -1;
        for (int64_t i = 0; i < p.kernel_h; ++i)
          for (int64_t j = 0; j < p.kernel_w; ++j) {
            const int64_t iy = oy * p.stride_h - p.pad_h + i * p.dilation_h;
            const int64_t ix = ox * p.stride_w - p.pad_w + j * p.dilation_w;
            if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) continue;
            const T v = x[(c * p.in_h + iy) * p.in_w + ix];
            if (at < 0 || v > best || std::isnan(v)) {  // the first max; a NaN wins (PyTorch)
              best = v;
              at = iy * p.in_w + ix;
            }
          }
        y[(c * p.out_h + oy) * p.out_w + ox] = best;
        idx[(c * p.out_h + oy) * p.out_w + ox] = at;
      }
}

// divisor = divisor_override if > 0; else the window clipped to the padded input
// (count_include_pad) or to the input itself.
template <typename T>
void avg_pool2d_forward_reference(const Pool2dParams& p, bool count_include_pad,
                                  int64_t divisor_override, const T* x, T* y) {
  for (int64_t c = 0; c < p.planes; ++c)
    for (int64_t oy = 0; oy < p.out_h; ++oy)
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        double sum = 0;
        int64_t inside = 0, padded = 0;
        for (int64_t i = 0; i < p.kernel_h; ++i)
          for (int64_t j = 0; j < p.kernel_w; ++j) {
            const int64_t iy = oy * p.stride_h - p.pad_h + i;
            const int64_t ix = ox * p.stride_w - p.pad_w + j;
            if (iy < p.in_h + p.pad_h && ix < p.in_w + p.pad_w) ++padded;
            if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) continue;
            sum += double(x[(c * p.in_h + iy) * p.in_w + ix]);
            ++inside;
          }
        const int64_t divisor =
            divisor_override > 0 ? divisor_override : (count_include_pad ? padded : inside);
        y[(c * p.out_h + oy) * p.out_w + ox] = divisor > 0 ? T(sum / double(divisor)) : T(0);
      }
}

// Output cell (oy, ox) averages rows [floor(oy H / OH), ceil((oy + 1) H / OH)), likewise
// columns.
template <typename T>
void adaptive_avg_pool2d_forward_reference(const Pool2dParams& p, const T* x, T* y) {
  for (int64_t c = 0; c < p.planes; ++c)
    for (int64_t oy = 0; oy < p.out_h; ++oy)
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const int64_t y0 = oy * p.in_h / p.out_h, y1 = ((oy + 1) * p.in_h + p.out_h - 1) / p.out_h;
        const int64_t x0 = ox * p.in_w / p.out_w, x1 = ((ox + 1) * p.in_w + p.out_w - 1) / p.out_w;
        double sum = 0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) sum += double(x[(c * p.in_h + iy) * p.in_w + ix]);
        y[(c * p.out_h + oy) * p.out_w + ox] = T(sum / double((y1 - y0) * (x1 - x0)));
      }
}

#define EMBER_POOL_REFERENCE(T)                                                                \
  template void max_pool2d_forward_reference<T>(const Pool2dParams&, const T*, T*, int64_t*); \
  template void avg_pool2d_forward_reference<T>(const Pool2dParams&, bool, int64_t, const T*,  \
                                                T*);                                           \
  template void adaptive_avg_pool2d_forward_reference<T>(const Pool2dParams&, const T*, T*);
EMBER_POOL_REFERENCE(float)
EMBER_POOL_REFERENCE(double)
#undef EMBER_POOL_REFERENCE

namespace {

// ---- max -------------------------------------------------------------------------------
// Threads only pay off for real work: a parallel region costs microseconds on an idle
// machine and a whole time slice when another process holds the other core.
inline bool worth_threads(const Pool2dParams& p) {
  return p.planes * (p.in_h * p.in_w + p.out_h * p.out_w) > (1 << 16);
}

// take ? a : b, computed with a bit mask. GCC compiles a plain `?:` between values just
// loaded into compare-and-jump, and on random data (activations) such jumps mispredict
// about half the time: ~4x slower than this for max pooling.
template <typename T>
inline T branchless_select(bool take, T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  Bits ab, bb;
  std::memcpy(&ab, &a, sizeof(T));
  std::memcpy(&bb, &b, sizeof(T));
  const Bits mask = Bits{0} - static_cast<Bits>(take);  // all ones when take
  const Bits out = (ab & mask) | (bb & ~mask);
  T result;
  std::memcpy(&result, &out, sizeof(T));
  return result;
}

// The CNN workhorse -- 2x2 windows, stride 2, no padding or dilation -- with the window
// unrolled: four loads and compares per output instead of the general loops' bounds and
// stride arithmetic. The same comparison rule, so the same values and indices.
template <typename T>
inline bool is_plain_2x2(const Pool2dParams& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 &&
         p.pad_h == 0 && p.pad_w == 0 && p.dilation_h == 1 && p.dilation_w == 1 &&
         2 * p.out_h <= p.in_h && 2 * p.out_w <= p.in_w;
}

template <typename T>
void max_forward_2x2(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
  // (sizes copied to locals: the int64 index stores could otherwise alias p's fields)
  const int64_t out_h = p.out_h, out_w = p.out_w, w = p.in_w;
  const int64_t out_plane = out_h * out_w, in_plane = p.in_h * w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (worth_threads(p))
#endif
  for (int64_t c = 0; c < p.planes; ++c) {
    const T* xp = x + c * in_plane;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const int64_t r0 = 2 * oy * w, r1 = r0 + w;
      T* yo = y + c * out_plane + oy * out_w;
      int64_t* io = idx + c * out_plane + oy * out_w;
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const int64_t at[4] = {r0 + 2 * ox, r0 + 2 * ox + 1, r1 + 2 * ox, r1 + 2 * ox + 1};
        // The general path's rule (a larger value or a NaN wins; a later NaN beats an
        // earlier one) as selects: `|` rather than `||`, so nothing short-circuits into a
        // data-dependent branch (on random data those mispredict about half the time).
        T best = xp[at[0]];
        int64_t best_at = at[0];
        for (int k = 1; k < 4; ++k) {
          const T v = xp[at[k]];
          const bool take = (v > best) | (v != v);  // v != v: v is NaN
          best = branchless_select(take, v, best);
          best_at = branchless_select(take, at[k], best_at);
        }
        yo[ox] = best;
        io[ox] = best_at;
      }
    }
  }
}

template <typename T>
void max_forward_impl(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
  if (is_plain_2x2<T>(p)) {
    max_forward_2x2(p, x, y, idx);
    return;
  }
  const int64_t out_plane = p.out_h * p.out_w, in_plane = p.in_h * p.in_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (worth_threads(p))
#endif
  for (int64_t c = 0; c < p.planes; ++c) {
    const T* xp = x + c * in_plane;
    for (int64_t oy = 0; oy < p.out_h; ++oy) {
      int64_t y0 = oy * p.stride_h - p.pad_h;
      const int64_t y1 = std::min(y0 + (p.kernel_h - 1) * p.dilation_h + 1, p.in_h);
      while (y0 < 0) y0 += p.dilation_h;  // skip the rows that are padding
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        int64_t x0 = ox * p.stride_w - p.pad_w;
        const int64_t x1 = std::min(x0 + (p.kernel_w - 1) * p.dilation_w + 1, p.in_w);
        while (x0 < 0) x0 += p.dilation_w;
        T best = -std::numeric_limits<T>::infinity();
        int64_t best_at = y0 * p.in_w + x0;
        for (int64_t iy = y0; iy < y1; iy += p.dilation_h) {
          for (int64_t ix = x0; ix < x1; ix += p.dilation_w) {
            const T v = xp[iy * p.in_w + ix];
            if (v > best || std::isnan(v)) {
              best = v;
              best_at = iy * p.in_w + ix;
            }
          }
        }
        const int64_t o = c * out_plane + oy * p.out_w + ox;
        y[o] = best;
        idx[o] = best_at;
      }
    }
  }
}

template <typename T>
void max_backward_impl(const Pool2dParams& p, const T* dy, const int64_t* idx, T* dx) {
  const int64_t out_plane = p.out_h * p.out_w, in_plane = p.in_h * p.in_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (worth_threads(p))
#endif
  for (int64_t c = 0; c < p.planes; ++c) {
    T* dxp = dx + c * in_plane;
    std::fill(dxp, dxp + in_plane, T(0));
    for (int64_t o = 0; o < out_plane; ++o) {
      const int64_t at = idx[c * out_plane + o];
      if (at >= 0 && at < in_plane) dxp[at] += dy[c * out_plane + o];  // bounds: never trust
    }
  }
}

// ---- average -----------------------------------------------------------------------------
// The window of output (oy, ox) clipped to the input, and its divisor.
struct AvgWindow {
  int64_t y0, y1, x0, x1, divisor;
};
AvgWindow avg_window(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override,
                     int64_t oy, int64_t ox) {
  int64_t y0 = oy * p.stride_h - p.pad_h, x0 = ox * p.stride_w - p.pad_w;
  int64_t y1 = std::min(y0 + p.kernel_h, p.in_h + p.pad_h);
  int64_t x1 = std::min(x0 + p.kernel_w, p.in_w + p.pad_w);
  const int64_t padded_size = (y1 - y0) * (x1 - x0);
  y0 = std::max<int64_t>(y0, 0);
  x0 = std::max<int64_t>(x0, 0);
  y1 = std::min(y1, p.in_h);
  x1 = std::min(x1, p.in_w);
  int64_t divisor = divisor_override > 0 ? divisor_override
                    : count_include_pad  ? padded_size
                                         : (y1 - y0) * (x1 - x0);
  return {y0, y1, x0, x1, divisor};
}

template <typename T>
void avg_forward_impl(const Pool2dParams& p, bool include_pad, int64_t override_, const T* x,
                      T* y) {
  const int64_t out_plane = p.out_h * p.out_w, in_plane = p.in_h * p.in_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (worth_threads(p))
#endif
  for (int64_t c = 0; c < p.planes; ++c) {
    const T* xp = x + c * in_plane;
    for (int64_t oy = 0; oy < p.out_h; ++oy) {
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const AvgWindow w = avg_window(p, include_pad, override_, oy, ox);
        T sum = 0;
        for (int64_t iy = w.y0; iy < w.y1; ++iy)
          for (int64_t ix = w.x0; ix < w.x1; ++ix) sum += xp[iy * p.in_w + ix];
        const bool empty = w.y0 >= w.y1 || w.x0 >= w.x1 || w.divisor <= 0;
        y[c * out_plane + oy * p.out_w + ox] = empty ? T(0) : sum / static_cast<T>(w.divisor);
      }
    }
  }
}

template <typename T>
void avg_backward_impl(const Pool2dParams& p, bool include_pad, int64_t override_, const T* dy,
                       T* dx) {
  const int64_t out_plane = p.out_h * p.out_w, in_plane = p.in_h * p.in_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (worth_threads(p))
#endif
  for (int64_t c = 0; c < p.planes; ++c) {
    T* dxp = dx + c * in_plane;
    std::fill(dxp, dxp + in_plane, T(0));
    for (int64_t oy = 0; oy < p.out_h; ++oy) {
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const AvgWindow w = avg_window(p, include_pad, override_, oy, ox);
        if (w.y0 >= w.y1 || w.x0 >= w.x1 || w.divisor <= 0) continue;
        const T g = dy[c * out_plane + oy * p.out_w + ox] / static_cast<T>(w.divisor);
        for (int64_t iy = w.y0; iy < w.y1; ++iy)
          for (int64_t ix = w.x0; ix < w.x1; ++ix) dxp[iy * p.in_w + ix] += g;
      }
    }
  }
}

// ---- adaptive average ----------------------------------------------------------------------
inline int64_t start_index(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
inline int64_t end_index(int64_t o, int64_t out, int64_t in) {
  return ((o + 1) * in + out - 1) / out;
}

template <typename T>
void adaptive_forward_impl(const Pool2dParams& p, const T* x, T* y) {
  const int64_t out_plane = p.out_h * p.out_w, in_plane = p.in_h * p.in_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (worth_threads(p))
#endif
  for (int64_t c = 0; c < p.planes; ++c) {
    const T* xp = x + c * in_plane;
    for (int64_t oy = 0; oy < p.out_h; ++oy) {
      const int64_t y0 = start_index(oy, p.out_h, p.in_h), y1 = end_index(oy, p.out_h, p.in_h);
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const int64_t x0 = start_index(ox, p.out_w, p.in_w);
        const int64_t x1 = end_index(ox, p.out_w, p.in_w);
        T sum = 0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) sum += xp[iy * p.in_w + ix];
        y[c * out_plane + oy * p.out_w + ox] = sum / static_cast<T>((y1 - y0) * (x1 - x0));
      }
    }
  }
}

template <typename T>
void adaptive_backward_impl(const Pool2dParams& p, const T* dy, T* dx) {
  const int64_t out_plane = p.out_h * p.out_w, in_plane = p.in_h * p.in_w;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (worth_threads(p))
#endif
  for (int64_t c = 0; c < p.planes; ++c) {
    T* dxp = dx + c * in_plane;
    std::fill(dxp, dxp + in_plane, T(0));
    for (int64_t oy = 0; oy < p.out_h; ++oy) {
      const int64_t y0 = start_index(oy, p.out_h, p.in_h), y1 = end_index(oy, p.out_h, p.in_h);
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        const int64_t x0 = start_index(ox, p.out_w, p.in_w);
        const int64_t x1 = end_index(ox, p.out_w, p.in_w);
        const T g = dy[c * out_plane + oy * p.out_w + ox] /
                    static_cast<T>((y1 - y0) * (x1 - x0));
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) dxp[iy * p.in_w + ix] += g;
      }
    }
  }
}

}  // namespace

void max_pool2d_forward(const Pool2dParams& p, const float* x, float* y, int64_t* idx) {
  max_forward_impl(p, x, y, idx);
}
void max_pool2d_forward(const Pool2dParams& p, const double* x, double* y, int64_t* idx) {
  max_forward_impl(p, x, y, idx);
}
void max_pool2d_backward(const Pool2dParams& p, const float* dy, const int64_t* idx, float* dx) {
  max_backward_impl(p, dy, idx, dx);
}
void max_pool2d_backward(const Pool2dParams& p, const double* dy, const int64_t* idx,
                         double* dx) {
  max_backward_impl(p, dy, idx, dx);
}
void avg_pool2d_forward(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override,
                        const float* x, float* y) {
  avg_forward_impl(p, count_include_pad, divisor_override, x, y);
}
void avg_pool2d_forward(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override,
                        const double* x, double* y) {
  avg_forward_impl(p, count_include_pad, divisor_override, x, y);
}
void avg_pool2d_backward(const Pool2dParams& p, bool count_include_pad,
                         int64_t divisor_override, const float* dy, float* dx) {
  avg_backward_impl(p, count_include_pad, divisor_override, dy, dx);
}
void avg_pool2d_backward(const Pool2dParams& p, bool count_include_pad,
                         int64_t divisor_override, const double* dy, double* dx) {
  avg_backward_impl(p, count_include_pad, divisor_override, dy, dx);
}
void adaptive_avg_pool2d_forward(const Pool2dParams& p, const float* x, float* y) {
  adaptive_forward_impl(p, x, y);
}
void adaptive_avg_pool2d_forward(const Pool2dParams& p, const double* x, double* y) {
  adaptive_forward_impl(p, x, y);
}
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const float* dy, float* dx) {
  adaptive_backward_impl(p, dy, dx);
}
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const double* dy, double* dx) {
  adaptive_backward_impl(p, dy, dx);
}

}  // namespace ember::cpu
