// LayerNorm over the last axis, fused: one kernel forward, two backward (instead of the
// dozen-odd reductions and broadcasts of the primitive-composed default). Reference: the
// plain loops `ember._C.layer_norm_reference` / `layer_norm_backward_reference` at the top of
// cpu/layer_norm.cpp, where the formulas live (tests/test_kernel_references.py).
//
// x is seen as `rows` rows of length d (a contiguous copy is made if needed); the forward
// writes y, mean and rstd, the backward dx, dweight and dbias, exactly as the CPU kernels
// (cpu/layer_norm.h).
//
// Row kernels: one warp per row; each lane strides over the row and the warp combines its
// partial sums with xor shuffles (the variance in a second pass over the centred values, so
// a large mean does not cancel it). Sums accumulate in double, as on the CPU: the kernels are
// memory-bound, and a float sum of a long row would lose digits. Column sums (dweight, dbias):
// each block sums a chunk of rows for 256 columns into a partial row, then a second kernel
// adds the chunks' partials -- no atomics, so the result is the same on every run.
#include <algorithm>
#include <limits>
#include <string>
#include <tuple>

#include "cuda/kernels.h"

namespace ember::cuda {

namespace {

constexpr int kThreads = 256;               // 8 warps = 8 rows per block
constexpr int kWarps = kThreads / 32;
constexpr int64_t kMinRowsPerChunk = 64;    // rows per block of the column-sum kernel, at least
constexpr int64_t kMaxChunks = 1024;        // ... and at most this many chunks (partial rows)

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

__device__ __forceinline__ float inv_sqrt(float v) { return 1.0f / sqrtf(v); }
__device__ __forceinline__ double inv_sqrt(double v) { return 1.0 / sqrt(v); }

// All lanes of a warp share `row`, so the shuffles below run with the whole warp.
#define EMBER_WARP_PER_ROW(row, rows)                                                          \
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32; row < (rows); \
       row += static_cast<int64_t>(gridDim.x) * kWarps)

template <typename T>
__global__ void __launch_bounds__(kThreads)
    layer_norm_forward_kernel(const T* __restrict__ x, const T* __restrict__ w,
                              const T* __restrict__ b, T* __restrict__ y, T* __restrict__ mean,
                              T* __restrict__ rstd, int64_t rows, int64_t d, double eps) {
  const int lane = threadIdx.x % 32;
  EMBER_WARP_PER_ROW(row, rows) {
    const T* xr = x + row * d;
    double s = 0;
    for (int64_t j = lane; j < d; j += 32) s += xr[j];
    const double mu_d = warp_sum(s) / static_cast<double>(d);
    double ss = 0;
    for (int64_t j = lane; j < d; j += 32) {
      const double c = xr[j] - mu_d;
      ss += c * c;
    }
    const T mu = static_cast<T>(mu_d);
    const T r = static_cast<T>(inv_sqrt(warp_sum(ss) / static_cast<double>(d) + eps));
    T* yr = y + row * d;
    for (int64_t j = lane; j < d; j += 32) {
      T v = (xr[j] - mu) * r;
      if (w) v *= w[j];
      if (b) v += b[j];
      yr[j] = v;
    }
    if (lane == 0) {
      mean[row] = mu;
      rstd[row] = r;
    }
  }
}

// dx = rstd (gh - mean(gh) - xhat mean(gh xhat)), gh = g weight
template <typename T>
__global__ void __launch_bounds__(kThreads)
    layer_norm_dx_kernel(const T* __restrict__ g, const T* __restrict__ x,
                         const T* __restrict__ w, const T* __restrict__ mean,
                         const T* __restrict__ rstd, T* __restrict__ dx, int64_t rows,
                         int64_t d) {
  const int lane = threadIdx.x % 32;
  EMBER_WARP_PER_ROW(row, rows) {
    const T* gr = g + row * d;
    const T* xr = x + row * d;
    const T mu = mean[row], r = rstd[row];
    double s_gh = 0, s_ghx = 0;
    for (int64_t j = lane; j < d; j += 32) {
      const T gh = w ? gr[j] * w[j] : gr[j];
      s_gh += gh;
      s_ghx += static_cast<double>(gh) * ((xr[j] - mu) * r);
    }
    const T mean_gh = static_cast<T>(warp_sum(s_gh) / static_cast<double>(d));
    const T mean_ghx = static_cast<T>(warp_sum(s_ghx) / static_cast<double>(d));
    T* dxr = dx + row * d;
    for (int64_t j = lane; j < d; j += 32) {
      const T gh = w ? gr[j] * w[j] : gr[j];
      dxr[j] = r * (gh - mean_gh - (xr[j] - mu) * r * mean_ghx);
    }
  }
}

// partial[c][j] = sums over rows [c * per_chunk, ...) of g xhat (dw) and g (db);
// grid (column blocks, chunks). Threads of a block read consecutive columns (coalesced).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    layer_norm_column_partials_kernel(const T* __restrict__ g, const T* __restrict__ x,
                                      const T* __restrict__ mean, const T* __restrict__ rstd,
                                      T* __restrict__ part_w, T* __restrict__ part_b,
                                      int64_t rows, int64_t d, int64_t per_chunk) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (j >= d) return;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * per_chunk;
  const int64_t r1 = min(rows, r0 + per_chunk);
  double sw = 0, sb = 0;
  for (int64_t r = r0; r < r1; ++r) {
    const T gv = g[r * d + j];
    sw += static_cast<double>(gv) * ((x[r * d + j] - mean[r]) * rstd[r]);
    sb += gv;
  }
  part_w[blockIdx.y * d + j] = static_cast<T>(sw);
  part_b[blockIdx.y * d + j] = static_cast<T>(sb);
}

// dw[j] = sum over chunks of part_w[c][j]; likewise db.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    layer_norm_column_sums_kernel(const T* __restrict__ part_w, const T* __restrict__ part_b,
                                  T* __restrict__ dw, T* __restrict__ db, int64_t chunks,
                                  int64_t d) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (j >= d) return;
  double sw = 0, sb = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    sw += part_w[c * d + j];
    sb += part_b[c * d + j];
  }
  dw[j] = static_cast<T>(sw);
  db[j] = static_cast<T>(sb);
}

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(std::min<int64_t>((rows + kWarps - 1) / kWarps, 65535LL * 8));
}

unsigned column_blocks(int64_t d) { return static_cast<unsigned>((d + kThreads - 1) / kThreads); }

// ---- boundary checks (csrc/checks.h; the Python op checks the arguments) -----------------
void check_like(const char* op, const char* name, const DeviceArray& a, const DeviceArray& x,
                const Shape& shape) {
  ember::checks::require_dtype_of(op, name, a, "x", x);
  ember::checks::require_shape(op, name, a, shape);
  if (a.device() != x.device())
    ember::checks::fail_value(op, std::string(name) + " is on cuda:" + std::to_string(a.device()) +
                                      " but x is on cuda:" + std::to_string(x.device()));
}

// rows and d of x (which needs at least one dimension and a float dtype).
std::pair<int64_t, int64_t> rows_and_width(const char* op, const DeviceArray& x) {
  ember::checks::require_float(op, "x", x);
  if (x.ndim() == 0) ember::checks::fail_value(op, "x needs at least one dimension");
  const int64_t d = x.shape().back();
  return {d == 0 ? 0 : x.numel() / d, d};
}

Shape stat_shape(const DeviceArray& x) { return Shape(x.shape().begin(), x.shape().end() - 1); }

}  // namespace

std::tuple<DeviceArray, DeviceArray, DeviceArray> layer_norm_forward(
    const DeviceArray& x_in, const std::optional<DeviceArray>& weight,
    const std::optional<DeviceArray>& bias, double eps) {
  constexpr const char* op = "layer_norm";
  int64_t rows, d;  // (not a structured binding: the lambdas below capture them)
  std::tie(rows, d) = rows_and_width(op, x_in);
  const Shape width{d};
  if (weight) check_like(op, "weight", *weight, x_in, width);
  if (bias) check_like(op, "bias", *bias, x_in, width);
  const DeviceArray x = contiguous(x_in);
  const DeviceArray w = weight ? contiguous(*weight) : DeviceArray();
  const DeviceArray b = bias ? contiguous(*bias) : DeviceArray();
  DeviceArray y(x.shape(), x.dtype(), x.device());
  DeviceArray mean(stat_shape(x), x.dtype(), x.device());
  DeviceArray rstd(stat_shape(x), x.dtype(), x.device());
  if (rows > 0 && d > 0) {
    dispatch_float(x.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      layer_norm_forward_kernel<T><<<row_blocks(rows), kThreads>>>(
          x.data_as<T>(), weight ? w.data_as<T>() : nullptr, bias ? b.data_as<T>() : nullptr,
          y.data_as<T>(), mean.data_as<T>(), rstd.data_as<T>(), rows, d, eps);
      EMBER_CUDA_CHECK_LAUNCH("layer_norm_forward_kernel");
    });
  } else if (rows > 0) {  // d == 0: NumPy's mean of nothing is NaN
    fill_(mean, std::numeric_limits<double>::quiet_NaN(), 0);
    fill_(rstd, std::numeric_limits<double>::quiet_NaN(), 0);
  }
  return {y, mean, rstd};
}

std::tuple<DeviceArray, DeviceArray, DeviceArray> layer_norm_backward(
    const DeviceArray& grad, const DeviceArray& x_in, const std::optional<DeviceArray>& weight,
    const DeviceArray& mean_in, const DeviceArray& rstd_in) {
  constexpr const char* op = "layer_norm_backward";
  int64_t rows, d;
  std::tie(rows, d) = rows_and_width(op, x_in);
  check_like(op, "grad", grad, x_in, x_in.shape());
  if (weight) check_like(op, "weight", *weight, x_in, Shape{d});
  check_like(op, "mean", mean_in, x_in, stat_shape(x_in));
  check_like(op, "rstd", rstd_in, x_in, stat_shape(x_in));
  const DeviceArray x = contiguous(x_in), g = contiguous(grad);
  const DeviceArray mean = contiguous(mean_in), rstd = contiguous(rstd_in);
  const DeviceArray w = weight ? contiguous(*weight) : DeviceArray();
  DeviceArray dx(x.shape(), x.dtype(), x.device());
  DeviceArray dw(Shape{d}, x.dtype(), x.device()), db(Shape{d}, x.dtype(), x.device());
  if (d == 0) return {dx, dw, db};
  if (rows == 0) {
    fill_(dw, 0.0, 0);
    fill_(db, 0.0, 0);
    return {dx, dw, db};
  }
  // chunks of at least 64 rows, at most kMaxChunks of them (the second pass loops over them)
  const int64_t per_chunk =
      std::max(kMinRowsPerChunk, (rows + kMaxChunks - 1) / kMaxChunks);
  const int64_t chunks = (rows + per_chunk - 1) / per_chunk;
  DeviceArray part_w(Shape{chunks, d}, x.dtype(), x.device());
  DeviceArray part_b(Shape{chunks, d}, x.dtype(), x.device());
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    layer_norm_dx_kernel<T><<<row_blocks(rows), kThreads>>>(
        g.data_as<T>(), x.data_as<T>(), weight ? w.data_as<T>() : nullptr, mean.data_as<T>(),
        rstd.data_as<T>(), dx.data_as<T>(), rows, d);
    EMBER_CUDA_CHECK_LAUNCH("layer_norm_dx_kernel");
    const dim3 grid(column_blocks(d), static_cast<unsigned>(chunks));
    layer_norm_column_partials_kernel<T><<<grid, kThreads>>>(
        g.data_as<T>(), x.data_as<T>(), mean.data_as<T>(), rstd.data_as<T>(),
        part_w.data_as<T>(), part_b.data_as<T>(), rows, d, per_chunk);
    EMBER_CUDA_CHECK_LAUNCH("layer_norm_column_partials_kernel");
    layer_norm_column_sums_kernel<T><<<column_blocks(d), kThreads>>>(
        part_w.data_as<T>(), part_b.data_as<T>(), dw.data_as<T>(), db.data_as<T>(), chunks, d);
    EMBER_CUDA_CHECK_LAUNCH("layer_norm_column_sums_kernel");
  });
  return {dx, dw, db};
}

}  // namespace ember::cuda
