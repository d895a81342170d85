// 2-d convolution on the GPU as implicit GEMM (hand-written, no cuDNN) and its bindings
// `conv2d_forward`, `conv2d_backward_data`, `conv2d_backward_weight` -- same signatures and
// boundary checks (csrc/checks.h) as the CPU ones (bindings_conv.cpp, cpu/conv2d.h), and held
// to the same references: the direct loops `ember._C.conv2d*_reference` (cpu/conv2d.cpp;
// tests/test_kernel_references.py). NCHW, float32 /
// float64, stride, padding, dilation, groups; inputs may be any strided views, outputs are
// new contiguous arrays.
//
// Each pass is one GEMM per group whose operands are gathered from the tensors on the fly
// -- element by element into the shared-memory tiles, never through an im2col buffer:
//
//   forward          Y_g[co, (n,oy,ox)]  = sum_{(ci,i,j)} W_g[co, (ci,i,j)] * X[(ci,i,j), (n,oy,ox)]
//                    X[(ci,i,j), (n,oy,ox)] = x[n, g Cin/G + ci, oy s - p + i d, ox s - p + j d]
//   backward data    dX_g[ci, (n,y,x)]   = sum_{(co,i,j)} W[g Cout/G + co, ci, i, j] * dY[...]
//                    dY[(co,i,j), (n,y,x)] = dy[n, g Cout/G + co, (y + p - i d)/s, (x + p - j d)/s]
//                    when both divisions are exact and in range, else 0 (transposed conv)
//   backward weight  dW_g[co, (ci,i,j)]  = sum_{(n,oy,ox)} dY[co, (n,oy,ox)] * X[(n,oy,ox), (ci,i,j)]
//                    K = N*OH*OW is long and M x N small: split-K over gridDim.y, the
//                    partial tiles added with atomicAdd into a zeroed dW (so the last bits
//                    are not deterministic).
//
// The GEMM core is the tiling of gemm.cu at its 64x64 size: 256 threads, 64x64 block tile,
// BK = 8 k-slices in k-major shared memory, a 4x4 register tile per thread, and a register
// prefetch of the next slice while the current one is multiplied. The thread-to-element
// map of the gathers is chosen so that a thread's column n of B is the same for every
// slice: the (n, oy, ox) -> address work is done once per thread, and only the k index is
// decomposed per slice. Loads are scalar (gathers with bounds and padding tests).
// Not done yet (tuning for a GPU session): float4 paths for 1x1 / stride-1 convolutions,
// a k -> (ci, i, j) offset table in shared memory, larger tiles, skipping the zero taps of
// strided backward-data (a stride^2 waste today).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/device_array.h"
#include "cuda/gemm.cuh"  // sm_count, DeviceGuard

namespace py = pybind11;

namespace ember::cuda {
namespace {

constexpr int kThreads = 256, kBM = 64, kBN = 64, kBK = 8, kPad = 4;

struct ConvDims {
  int nb, cin, h, w, cout, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups, cig, cog;
};

// ---- the three problems: how to gather A, B and where C goes -------------------------
// a_koff(g, k): the part of A's address that depends on k; a_at(g, m, koff): the element.
// b_prep(g, n): per-column context (computed once per thread); b_at(ctx, k): the element.

template <typename T>
struct ConvForward {
  ConvDims s;
  const T* x;
  int64_t xs[4];
  const T* w;
  int64_t ws[4];
  T* y;
  int M, N, K;  // Cout/G, N*OH*OW, Cin/G*kH*kW
  struct BCtx {
    int64_t base;
    int iy0, ix0;
    bool ok;
  };
  __device__ int64_t a_koff(int, int k) const {
    const int khw = s.kh * s.kw, ci = k / khw, r = k - ci * khw, i = r / s.kw, j = r - i * s.kw;
    return ci * ws[1] + i * ws[2] + j * ws[3];
  }
  __device__ T a_at(int g, int m, int64_t koff) const {
    return w[static_cast<int64_t>(g * s.cog + m) * ws[0] + koff];
  }
  __device__ BCtx b_prep(int g, int n) const {
    BCtx c{0, 0, 0, n < N};
    if (!c.ok) return c;
    const int ohw = s.oh * s.ow, b = n / ohw, r = n - b * ohw, oy = r / s.ow, ox = r - oy * s.ow;
    c.base = b * xs[0] + static_cast<int64_t>(g * s.cig) * xs[1];
    c.iy0 = oy * s.sh - s.ph;
    c.ix0 = ox * s.sw - s.pw;
    return c;
  }
  __device__ T b_at(const BCtx& c, int k) const {
    const int khw = s.kh * s.kw, ci = k / khw, r = k - ci * khw, i = r / s.kw, j = r - i * s.kw;
    const int iy = c.iy0 + i * s.dh, ix = c.ix0 + j * s.dw;
    if (!c.ok || iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) return T(0);
    return x[c.base + ci * xs[1] + iy * xs[2] + ix * xs[3]];
  }
  __device__ void store(int g, int m, int n, T v, bool) const {
    const int ohw = s.oh * s.ow, b = n / ohw, r = n - b * ohw;
    y[(static_cast<int64_t>(b) * s.cout + g * s.cog + m) * ohw + r] = v;
  }
};

template <typename T>
struct ConvBackwardData {
  ConvDims s;
  const T* dy;
  int64_t ds[4];
  const T* w;
  int64_t ws[4];
  T* dx;
  int M, N, K;  // Cin/G, N*H*W, Cout/G*kH*kW
  struct BCtx {
    int64_t base;
    int ty0, tx0;
    bool ok;
  };
  __device__ int64_t a_koff(int g, int k) const {  // k = (co, i, j)
    const int khw = s.kh * s.kw, co = k / khw, r = k - co * khw, i = r / s.kw, j = r - i * s.kw;
    return static_cast<int64_t>(g * s.cog + co) * ws[0] + i * ws[2] + j * ws[3];
  }
  __device__ T a_at(int, int m, int64_t koff) const { return w[koff + m * ws[1]]; }
  __device__ BCtx b_prep(int g, int n) const {
    BCtx c{0, 0, 0, n < N};
    if (!c.ok) return c;
    const int hw = s.h * s.w, b = n / hw, r = n - b * hw, y = r / s.w, x = r - y * s.w;
    c.base = b * ds[0] + static_cast<int64_t>(g * s.cog) * ds[1];
    c.ty0 = y + s.ph;
    c.tx0 = x + s.pw;
    return c;
  }
  __device__ T b_at(const BCtx& c, int k) const {
    const int khw = s.kh * s.kw, co = k / khw, r = k - co * khw, i = r / s.kw, j = r - i * s.kw;
    const int ty = c.ty0 - i * s.dh, tx = c.tx0 - j * s.dw;  // = oy * s when x was used
    if (!c.ok || ty < 0 || tx < 0 || ty % s.sh != 0 || tx % s.sw != 0) return T(0);
    const int oy = ty / s.sh, ox = tx / s.sw;
    if (oy >= s.oh || ox >= s.ow) return T(0);
    return dy[c.base + co * ds[1] + oy * ds[2] + ox * ds[3]];
  }
  __device__ void store(int g, int m, int n, T v, bool) const {
    const int hw = s.h * s.w, b = n / hw, r = n - b * hw;
    dx[(static_cast<int64_t>(b) * s.cin + g * s.cig + m) * hw + r] = v;
  }
};

template <typename T>
struct ConvBackwardWeight {
  ConvDims s;
  const T* dy;
  int64_t ds[4];
  const T* x;
  int64_t xs[4];
  T* dw;
  int M, N, K;  // Cout/G, Cin/G*kH*kW, N*OH*OW
  struct BCtx {
    int64_t base;
    int iy_off, ix_off;
    bool ok;
  };
  __device__ int64_t a_koff(int g, int k) const {  // k = (b, oy, ox)
    const int ohw = s.oh * s.ow, b = k / ohw, r = k - b * ohw, oy = r / s.ow, ox = r - oy * s.ow;
    return b * ds[0] + static_cast<int64_t>(g * s.cog) * ds[1] + oy * ds[2] + ox * ds[3];
  }
  __device__ T a_at(int, int m, int64_t koff) const { return dy[koff + m * ds[1]]; }
  __device__ BCtx b_prep(int g, int n) const {  // n = (ci, i, j)
    BCtx c{0, 0, 0, n < N};
    if (!c.ok) return c;
    const int khw = s.kh * s.kw, ci = n / khw, r = n - ci * khw, i = r / s.kw, j = r - i * s.kw;
    c.base = static_cast<int64_t>(g * s.cig + ci) * xs[1];
    c.iy_off = i * s.dh - s.ph;
    c.ix_off = j * s.dw - s.pw;
    return c;
  }
  __device__ T b_at(const BCtx& c, int k) const {
    const int ohw = s.oh * s.ow, b = k / ohw, r = k - b * ohw, oy = r / s.ow, ox = r - oy * s.ow;
    const int iy = oy * s.sh + c.iy_off, ix = ox * s.sw + c.ix_off;
    if (!c.ok || iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) return T(0);
    return x[b * xs[0] + c.base + iy * xs[2] + ix * xs[3]];
  }
  __device__ void store(int g, int m, int n, T v, bool atomic) const {
    T* dst = dw + static_cast<int64_t>(g * s.cog + m) * N + n;
    if (atomic) atomicAdd(dst, v);
    else *dst = v;
  }
};

// ---- the implicit-GEMM kernel --------------------------------------------------------
// Block (tile, split, group) = (blockIdx.x, blockIdx.y, blockIdx.z). Thread t loads
//   A elements (m = t/8 + 32p, k = t%8) and B elements (k = t/64 + 4p, n = t%64), p < 2,
// of each 64 x 8 / 8 x 64 slice, and computes rows ty*4+i, columns tx*4+j of the tile.
template <typename T, typename Problem>
__global__ void __launch_bounds__(kThreads)
    conv_gemm_kernel(const Problem pr, int tiles_n, int k_chunk) {
  __shared__ T As[2][kBK][kBM + kPad];
  __shared__ T Bs[2][kBK][kBN + kPad];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int g = blockIdx.z;
  const int m0 = (blockIdx.x / tiles_n) * kBM, n0 = (blockIdx.x % tiles_n) * kBN;
  const int kbeg = blockIdx.y * k_chunk;
  const int kend = min(pr.K, kbeg + k_chunk);
  const bool split = gridDim.y > 1;

  const int a_m = m0 + tid / 8, a_k = tid % 8;  // A rows a_m, a_m + 32
  const int b_k = tid / 64, b_n = tid % 64;      // B slice rows b_k, b_k + 4
  const typename Problem::BCtx bctx = pr.b_prep(g, n0 + b_n);

  T ra[2], rb[2];
  auto fetch = [&](int k0) {
    const int ka = k0 + a_k;
    const int64_t koff = ka < kend ? pr.a_koff(g, ka) : 0;
#pragma unroll
    for (int p = 0; p < 2; ++p) {
      const int m = a_m + 32 * p;
      ra[p] = (ka < kend && m < pr.M) ? pr.a_at(g, m, koff) : T(0);
      const int kb = k0 + b_k + 4 * p;
      rb[p] = kb < kend ? pr.b_at(bctx, kb) : T(0);
    }
  };
  auto stash = [&](int buf) {
#pragma unroll
    for (int p = 0; p < 2; ++p) {
      As[buf][a_k][tid / 8 + 32 * p] = ra[p];
      Bs[buf][b_k + 4 * p][b_n] = rb[p];
    }
  };

  T acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = T(0);

  const int slices = kend > kbeg ? (kend - kbeg + kBK - 1) / kBK : 0;
  if (slices > 0) {
    fetch(kbeg);
    stash(0);
  }
  __syncthreads();
  for (int sl = 0; sl < slices; ++sl) {
    const int cur = sl & 1;
    const bool more = sl + 1 < slices;
    if (more) fetch(kbeg + (sl + 1) * kBK);  // overlaps the multiply below
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      T fa[4], fb[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) fa[i] = As[cur][kk][ty * 4 + i];
#pragma unroll
      for (int j = 0; j < 4; ++j) fb[j] = Bs[cur][kk][tx * 4 + j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fma(fa[i], fb[j], acc[i][j]);
    }
    if (more) stash(cur ^ 1);  // buffer cur^1 was last read before the previous barrier
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty * 4 + i;
    if (m >= pr.M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int n = n0 + tx * 4 + j;
      if (n < pr.N) pr.store(g, m, n, acc[i][j], split);
    }
  }
}

template <typename T, typename Problem>
void launch_conv(const Problem& pr, int groups, int splits, cudaStream_t stream = 0) {
  const int64_t tm = (pr.M + kBM - 1) / kBM, tn = (pr.N + kBN - 1) / kBN;
  if (tm * tn == 0 || groups == 0) return;
  if (tm * tn > 0x7fffffffLL || groups > 65535)
    throw std::runtime_error("conv2d: the problem is too large for one CUDA grid");
  splits = std::max(1, std::min(splits, 65535));
  int k_chunk = (pr.K + splits - 1) / splits;
  k_chunk = std::max(kBK, (k_chunk + kBK - 1) / kBK * kBK);
  splits = std::max(1, (pr.K + k_chunk - 1) / k_chunk);
  const dim3 grid(static_cast<unsigned>(tm * tn), static_cast<unsigned>(splits),
                  static_cast<unsigned>(groups));
  conv_gemm_kernel<T, Problem><<<grid, kThreads, 0, stream>>>(pr, static_cast<int>(tn), k_chunk);
  EMBER_CUDA_CHECK_LAUNCH("conv_gemm_kernel");
}

// ---- bindings --------------------------------------------------------------------------
// The Python op (ember/ops/conv.py) checks the arguments; the boundary keeps the memory-safety
// checks it shares with the CPU module (csrc/checks.h), plus what only the GPU needs: one
// device, and sizes that fit the kernels' 32-bit indices.

using ember::checks::Pair;
using namespace ember::checks;

void require_same_device(const std::string& op, const char* a_name, const DeviceArray& a,
                         const char* b_name, const DeviceArray& b) {
  if (a.device() != b.device())
    fail_value(op, std::string(a_name) + " is on cuda:" + std::to_string(a.device()) + " but " +
                       b_name + " is on cuda:" + std::to_string(b.device()));
}

ConvDims conv_params(const std::string& op, const Shape& x, const Shape& w, const Pair& stride,
                     const Pair& padding, const Pair& dilation, int64_t groups) {
  const ConvGeometry g = conv2d_geometry(op, x, w, stride, padding, dilation, groups);
  // The kernels index with 32-bit ints: every GEMM dimension and spatial size must fit.
  const int64_t lim = 0x7fffffffLL;
  const int64_t khw = g.kernel_h * g.kernel_w;
  const int64_t dims[] = {g.batch * g.out_h * g.out_w, g.batch * g.in_h * g.in_w,
                          g.in_channels * khw, g.out_channels * khw,
                          stride[0] * g.out_h + dilation[0] * g.kernel_h + g.in_h + 2 * padding[0],
                          stride[1] * g.out_w + dilation[1] * g.kernel_w + g.in_w + 2 * padding[1]};
  for (int64_t v : dims)
    if (v >= lim)
      fail_value(op, "sizes too large for the CUDA kernels (32-bit indices), got input " +
                         shape_str(x) + " and weight " + shape_str(w));
  ConvDims s;
  s.nb = static_cast<int>(g.batch);
  s.cin = static_cast<int>(g.in_channels);
  s.h = static_cast<int>(g.in_h);
  s.w = static_cast<int>(g.in_w);
  s.cout = static_cast<int>(g.out_channels);
  s.kh = static_cast<int>(g.kernel_h);
  s.kw = static_cast<int>(g.kernel_w);
  s.oh = static_cast<int>(g.out_h);
  s.ow = static_cast<int>(g.out_w);
  s.sh = static_cast<int>(stride[0]);
  s.sw = static_cast<int>(stride[1]);
  s.ph = static_cast<int>(padding[0]);
  s.pw = static_cast<int>(padding[1]);
  s.dh = static_cast<int>(dilation[0]);
  s.dw = static_cast<int>(dilation[1]);
  s.groups = static_cast<int>(groups);
  s.cig = static_cast<int>(g.in_channels / groups);
  s.cog = static_cast<int>(g.out_channels / groups);
  return s;
}

Shape out_shape(const ConvDims& s) { return {s.nb, s.cout, s.oh, s.ow}; }

void check_dy(const std::string& op, const DeviceArray& dy, const ConvDims& s) {
  if (dy.shape() != out_shape(s))
    fail_value(op, "grad_output has shape " + shape_str(dy.shape()) +
                       " but the convolution's output has shape " + shape_str(out_shape(s)));
}

void strides_of(const DeviceArray& a, int64_t (&out)[4]) {
  for (int d = 0; d < 4; ++d) out[d] = a.shape()[d] > 1 ? a.strides()[d] : 0;
}

DeviceArray conv2d_forward_binding(const DeviceArray& x, const DeviceArray& w,
                                   const Pair& stride, const Pair& padding,
                                   const Pair& dilation, int64_t groups) {
  const std::string op = "conv2d";
  const ConvDims s = conv_params(op, x.shape(), w.shape(), stride, padding, dilation, groups);
  const bool f32 = require_same_float(op, "input", x, "weight", w);
  require_same_device(op, "input", x, "weight", w);
  DeviceArray y(out_shape(s), x.dtype(), x.device());
  DeviceGuard guard(x.device());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    ConvForward<T> pr{};
    pr.s = s;
    pr.x = x.data_as<T>();
    strides_of(x, pr.xs);
    pr.w = w.data_as<T>();
    strides_of(w, pr.ws);
    pr.y = y.data_as<T>();
    pr.M = s.cog;
    pr.N = s.nb * s.oh * s.ow;
    pr.K = s.cig * s.kh * s.kw;
    launch_conv<T>(pr, s.groups, 1);
  };
  if (f32) run(float{});
  else run(double{});
  return y;
}

DeviceArray conv2d_backward_data_binding(const DeviceArray& dy, const DeviceArray& w,
                                         const Shape& input_shape, const Pair& stride,
                                         const Pair& padding, const Pair& dilation,
                                         int64_t groups) {
  const std::string op = "conv2d_backward_data";
  const Shape& xs = require_shape_arg(op, "input_shape", input_shape, 4);
  const ConvDims s = conv_params(op, xs, w.shape(), stride, padding, dilation, groups);
  check_dy(op, dy, s);
  const bool f32 = require_same_float(op, "grad_output", dy, "weight", w);
  require_same_device(op, "grad_output", dy, "weight", w);
  DeviceArray dx(xs, dy.dtype(), dy.device());
  DeviceGuard guard(dy.device());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    ConvBackwardData<T> pr{};
    pr.s = s;
    pr.dy = dy.data_as<T>();
    strides_of(dy, pr.ds);
    pr.w = w.data_as<T>();
    strides_of(w, pr.ws);
    pr.dx = dx.data_as<T>();
    pr.M = s.cig;
    pr.N = s.nb * s.h * s.w;
    pr.K = s.cog * s.kh * s.kw;
    launch_conv<T>(pr, s.groups, 1);
  };
  if (f32) run(float{});
  else run(double{});
  return dx;
}

DeviceArray conv2d_backward_weight_binding(const DeviceArray& dy, const DeviceArray& x,
                                           const Shape& weight_shape, const Pair& stride,
                                           const Pair& padding, const Pair& dilation,
                                           int64_t groups) {
  const std::string op = "conv2d_backward_weight";
  const Shape& ws = require_shape_arg(op, "weight_shape", weight_shape, 4);
  const ConvDims s = conv_params(op, x.shape(), ws, stride, padding, dilation, groups);
  check_dy(op, dy, s);
  const bool f32 = require_same_float(op, "grad_output", dy, "input", x);
  require_same_device(op, "grad_output", dy, "input", x);
  DeviceArray dw(ws, dy.dtype(), dy.device());
  DeviceGuard guard(dy.device());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    ConvBackwardWeight<T> pr{};
    pr.s = s;
    pr.dy = dy.data_as<T>();
    strides_of(dy, pr.ds);
    pr.x = x.data_as<T>();
    strides_of(x, pr.xs);
    pr.dw = dw.data_as<T>();
    pr.M = s.cog;
    pr.N = s.cig * s.kh * s.kw;
    pr.K = s.nb * s.oh * s.ow;
    // Split K until the grid has ~4 blocks per SM, keeping >= 128 of K per split.
    const int64_t tiles = ((pr.M + kBM - 1) / kBM) * ((pr.N + kBN - 1) / kBN) * s.groups;
    const int64_t want = (4LL * sm_count() + tiles - 1) / std::max<int64_t>(tiles, 1);
    const int64_t most = std::max<int64_t>(1, pr.K / 128);
    const int splits = static_cast<int>(std::max<int64_t>(1, std::min(want, most)));
    // Atomic accumulation needs a zeroed dW (and batch 0 must give zeros anyway).
    EMBER_CUDA_CHECK(cudaMemsetAsync(pr.dw, 0, sizeof(T) * dw.numel()));
    launch_conv<T>(pr, s.groups, splits);
  };
  if (f32) run(float{});
  else run(double{});
  return dw;
}

}  // namespace
}  // namespace ember::cuda

void bind_conv(pybind11::module_& m) {
  using namespace ember::cuda;
  const Pair one{1, 1}, zero{0, 0};
  m.def("conv2d_forward", &conv2d_forward_binding, py::arg("x"), py::arg("w"),
        py::arg("stride") = one, py::arg("padding") = zero, py::arg("dilation") = one,
        py::arg("groups") = 1,
        "y = conv2d(x, w): x (N, C_in, H, W), w (C_out, C_in/groups, kH, kW), float32/float64,\n"
        "NCHW, as an implicit GEMM on the GPU. stride, padding (symmetric, per side),\n"
        "dilation: (h, w) pairs; groups: int.");
  m.def("conv2d_backward_data", &conv2d_backward_data_binding, py::arg("dy"), py::arg("w"),
        py::arg("input_shape"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1,
        "dx = conv_transpose(dy, w): the gradient of conv2d wrt its input (of input_shape).");
  m.def("conv2d_backward_weight", &conv2d_backward_weight_binding, py::arg("dy"), py::arg("x"),
        py::arg("weight_shape"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1,
        "dw = sum_n dy_n (cross-correlated with) x_n: the gradient of conv2d wrt its weight.");
}
