// dtype dispatch and value casts shared by the kernels.
//
//   dispatch(dtype, "op", [&](auto tag) { using T = decltype(tag); kernel<T><<<...>>>(...); });
//
// instantiates the lambda once per element type and calls the one matching `dtype` at run
// time. dispatch_float covers float32/float64 only and raises TypeError for the others.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/common.cuh"

namespace ember::cuda {

// Raised for a wrong dtype; the bindings translate it into Python's TypeError. One type for
// both modules and the shared boundary checks (csrc/checks.h).
using TypeError = ember::checks::TypeError;

template <typename F>
void dispatch(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Bool: f(bool{}); return;
    case DType::Int64: f(int64_t{}); return;
    case DType::Float32: f(float{}); return;
    case DType::Float64: f(double{}); return;
  }
  throw TypeError(std::string(op) + ": unknown dtype code " + std::to_string(int(t)));
}

template <typename F>
void dispatch_float(DType t, const char* op, F&& f) {
  if (t == DType::Float32) return f(float{});
  if (t == DType::Float64) return f(double{});
  throw TypeError(std::string(op) + ": expected a float32 or float64 array, got " +
                  dtype_name(t));
}

template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, bool>) return DType::Bool;
  else if constexpr (std::is_same_v<T, int64_t>) return DType::Int64;
  else if constexpr (std::is_same_v<T, float>) return DType::Float32;
  else return DType::Float64;
}

// NumPy's astype on x86: to bool is `!= 0` (NaN -> true); float -> int64 truncates, and NaN or
// out-of-range values give INT64_MIN (what cvttsd2si does) instead of C++'s undefined behaviour.
template <typename To, typename From>
__host__ __device__ inline To cast_value(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, int64_t> && std::is_floating_point_v<From>) {
    const double d = static_cast<double>(v);
    if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18))  // NaN fails both
      return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(d);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace ember::cuda
