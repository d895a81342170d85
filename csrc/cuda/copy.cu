// Device management, views, host<->device copies, strided copies/casts and creation kernels.
#include <cmath>
#include <sstream>
#include <string>

#include "cuda/kernels.h"
#include "cuda/strided.cuh"

namespace ember::cuda {

namespace {

// dst[ds.offset(i)] = cast(src[ss.offset(i)]) for every position i of the (shared) shape.
template <typename To, typename From>
__global__ void copy_kernel(To* dst, Strided ds, const From* src, Strided ss, int64_t n) {
  EMBER_GRID_STRIDE(i, n) { dst[ds.offset(i)] = cast_value<To>(src[ss.offset(i)]); }
}

// dst[ds.offset(i)] = value for every position i.
template <typename T>
__global__ void fill_kernel(T* dst, Strided ds, T value, int64_t n) {
  EMBER_GRID_STRIDE(i, n) { dst[ds.offset(i)] = value; }
}

// out[i] = start + i * step, computed in double (float dtypes) like NumPy.
template <typename T>
__global__ void arange_float_kernel(T* out, double start, double step, int64_t n) {
  EMBER_GRID_STRIDE(i, n) { out[i] = static_cast<T>(start + static_cast<double>(i) * step); }
}

// out[i] = start + i * step in exact integer arithmetic (int64 / bool dtypes).
template <typename T>
__global__ void arange_int_kernel(T* out, int64_t start, int64_t step, int64_t n) {
  EMBER_GRID_STRIDE(i, n) { out[i] = cast_value<T>(start + i * step); }
}

// NumPy's linspace: start + i * (stop - start) / (n - 1), the last value exactly `stop`;
// integer dtypes floor the float value (NumPy >= 2).
template <typename T>
__global__ void linspace_kernel(T* out, double start, double stop, int64_t n) {
  EMBER_GRID_STRIDE(i, n) {
    double v = start;
    if (n > 1) v = (i == n - 1) ? stop : start + static_cast<double>(i) * ((stop - start) / (n - 1));
    if constexpr (std::is_same_v<T, int64_t>) v = floor(v);
    out[i] = cast_value<T>(v);
  }
}

// The n x m identity: element i is at row i / m, column i % m.
template <typename T>
__global__ void eye_kernel(T* out, int64_t m, int64_t total) {
  EMBER_GRID_STRIDE(i, total) { out[i] = cast_value<T>((i / m) == (i % m) ? 1 : 0); }
}

// A contiguous copy with its own storage, even when x is contiguous.
DeviceArray clone(const DeviceArray& x) {
  DeviceArray out(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  return out;
}

}  // namespace

// ---- device management ----------------------------------------------------------------------
int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // no driver / no device: clear the error, report none
    return 0;
  }
  return n;
}

int current_device() {
  int d = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

void synchronize() { EMBER_CUDA_CHECK(cudaDeviceSynchronize()); }

// ---- arrays and views -----------------------------------------------------------------------
DeviceArray empty(const Shape& shape, DType dtype) {
  try {
    return DeviceArray(shape, dtype, current_device());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("empty: ") + e.what());
  }
}

DeviceArray make_view(const DeviceArray& x, int64_t offset, const Shape& shape,
                      const Shape& strides) {
  if (shape.size() != strides.size())
    throw std::invalid_argument("view: shape " + shape_str(shape) + " and strides " +
                                shape_str(strides) + " differ in length");
  const int64_t capacity =
      static_cast<int64_t>(x.storage()->bytes / itemsize(x.dtype()));  // elements
  int64_t lo = offset, hi = offset, n = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) throw std::invalid_argument("view: negative size in " + shape_str(shape));
    n *= shape[d];
    if (shape[d] > 0) {
      const int64_t span = (shape[d] - 1) * strides[d];
      (span < 0 ? lo : hi) += span;
    }
  }
  // An empty view reads nothing, wherever its offset points (slicing an empty array gives
  // such offsets): it gets the storage's start, so no pointer is formed past the end.
  if (n == 0 && offset >= 0) offset = 0;
  if (offset < 0 || offset > capacity || (n > 0 && (lo < 0 || hi >= capacity)))
    throw std::out_of_range("view: offset " + std::to_string(offset) + ", shape " +
                            shape_str(shape) + ", strides " + shape_str(strides) +
                            " reach outside the array's memory of " +
                            std::to_string(capacity) + " elements");
  return DeviceArray(x, offset, shape, strides);
}

Shape broadcast_shapes(const std::vector<Shape>& shapes, const char* op) {
  size_t nd = 0;
  for (const Shape& s : shapes) nd = std::max(nd, s.size());
  Shape out(nd, 1);
  for (const Shape& s : shapes) {
    const size_t lead = nd - s.size();
    for (size_t d = 0; d < s.size(); ++d) {
      int64_t& o = out[lead + d];
      if (s[d] == o || s[d] == 1) continue;
      if (o == 1) {
        o = s[d];
        continue;
      }
      std::string all;
      for (const Shape& t : shapes) all += (all.empty() ? "" : " and ") + shape_str(t);
      throw std::invalid_argument(std::string(op) + ": shapes " + all +
                                  " cannot be broadcast together");
    }
  }
  return out;
}

Shape broadcast_strides(const DeviceArray& x, const Shape& shape) {
  const size_t lead = shape.size() - x.shape().size();
  Shape st(shape.size(), 0);
  for (size_t d = 0; d < x.shape().size(); ++d)
    st[lead + d] = x.shape()[d] == 1 && shape[lead + d] != 1 ? 0 : x.strides()[d];
  return st;
}

// ---- host <-> device ------------------------------------------------------------------------
DeviceArray from_host(const void* data, const Shape& shape, DType dtype) {
  DeviceArray out = empty(shape, dtype);
  const size_t bytes = static_cast<size_t>(out.numel()) * itemsize(dtype);
  if (bytes) EMBER_CUDA_CHECK(cudaMemcpy(out.data(), data, bytes, cudaMemcpyHostToDevice));
  return out;
}

void to_host(const DeviceArray& x, void* out) {
  const size_t bytes = static_cast<size_t>(x.numel()) * itemsize(x.dtype());
  if (!bytes) return;
  const DeviceArray c = contiguous(x);
  // cudaMemcpy waits for the kernels queued before it on the default stream
  EMBER_CUDA_CHECK(cudaMemcpy(out, c.data(), bytes, cudaMemcpyDeviceToHost));
}

// ---- copies and casts -----------------------------------------------------------------------
void copy_(const DeviceArray& dst, const DeviceArray& src_in) {
  if (dst.shape() != src_in.shape())
    throw std::invalid_argument("copy: destination shape " + shape_str(dst.shape()) +
                                " differs from source shape " + shape_str(src_in.shape()));
  const int64_t n = dst.numel();
  if (n == 0) return;
  // A source sharing the destination's memory (x[1:] = x[:-1]) is read from a copy first,
  // so no element is overwritten before it is read.
  const DeviceArray src = dst.storage() == src_in.storage() ? clone(src_in) : src_in;
  Shape shape = dst.shape(), ds = dst.strides(), ss = src.strides();
  coalesce(shape, {&ds, &ss});
  const bool flat = shape.size() <= 1 && (shape.empty() || (ds[0] == 1 && ss[0] == 1));
  if (flat && dst.dtype() == src.dtype()) {
    EMBER_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(),
                                     static_cast<size_t>(n) * itemsize(dst.dtype()),
                                     cudaMemcpyDeviceToDevice, 0));
    return;
  }
  const Strided dstr = make_strided(shape, ds, "copy"), sstr = make_strided(shape, ss, "copy");
  dispatch(dst.dtype(), "copy", [&](auto dtag) {
    using To = decltype(dtag);
    dispatch(src.dtype(), "copy", [&](auto stag) {
      using From = decltype(stag);
      copy_kernel<To, From><<<blocks_for(n), 256>>>(dst.data_as<To>(), dstr,
                                                    src.data_as<From>(), sstr, n);
      EMBER_CUDA_CHECK_LAUNCH("copy_kernel");
    });
  });
}

DeviceArray contiguous(const DeviceArray& x) { return x.is_contiguous() ? x : clone(x); }

DeviceArray astype(const DeviceArray& x, DType dtype) {
  DeviceArray out(x.shape(), dtype, x.device());
  copy_(out, x);
  return out;
}

// ---- creation -------------------------------------------------------------------------------
void fill_(const DeviceArray& dst, double fvalue, int64_t ivalue) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  Shape shape = dst.shape(), ds = dst.strides();
  coalesce(shape, {&ds});
  const Strided dstr = make_strided(shape, ds, "fill");
  dispatch(dst.dtype(), "fill", [&](auto tag) {
    using T = decltype(tag);
    const T value = std::is_floating_point_v<T> ? static_cast<T>(fvalue) : cast_value<T>(ivalue);
    fill_kernel<T><<<blocks_for(n), 256>>>(dst.data_as<T>(), dstr, value, n);
    EMBER_CUDA_CHECK_LAUNCH("fill_kernel");
  });
}

DeviceArray arange(double start, double step, int64_t istart, int64_t istep, int64_t n,
                   DType dtype) {
  if (n < 0) throw std::invalid_argument("arange: negative length " + std::to_string(n));
  DeviceArray out = empty({n}, dtype);
  if (n == 0) return out;
  dispatch(dtype, "arange", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>)
      arange_float_kernel<T><<<blocks_for(n), 256>>>(out.data_as<T>(), start, step, n);
    else
      arange_int_kernel<T><<<blocks_for(n), 256>>>(out.data_as<T>(), istart, istep, n);
    EMBER_CUDA_CHECK_LAUNCH("arange_kernel");
  });
  return out;
}

DeviceArray linspace(double start, double stop, int64_t n, DType dtype) {
  if (n < 0) throw std::invalid_argument("linspace: steps must be non-negative");
  DeviceArray out = empty({n}, dtype);
  if (n == 0) return out;
  dispatch(dtype, "linspace", [&](auto tag) {
    using T = decltype(tag);
    linspace_kernel<T><<<blocks_for(n), 256>>>(out.data_as<T>(), start, stop, n);
    EMBER_CUDA_CHECK_LAUNCH("linspace_kernel");
  });
  return out;
}

DeviceArray eye(int64_t n, int64_t m, DType dtype) {
  if (n < 0 || m < 0) throw std::invalid_argument("eye: negative size");
  DeviceArray out = empty({n, m}, dtype);
  const int64_t total = n * m;
  if (total == 0) return out;
  dispatch(dtype, "eye", [&](auto tag) {
    using T = decltype(tag);
    eye_kernel<T><<<blocks_for(total), 256>>>(out.data_as<T>(), m, total);
    EMBER_CUDA_CHECK_LAUNCH("eye_kernel");
  });
  return out;
}

}  // namespace ember::cuda
