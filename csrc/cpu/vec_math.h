// Vectorisable elementary functions: exp, expm1, sigmoid, tanh and (float) erfc written with plain
// arithmetic, selects and bit casts only (no calls, no branches), so a loop over them
// compiles to SIMD code for whatever instruction set the including file is built for.
//
// Everything here has internal linkage (an anonymous namespace) and uses no std:: template:
// files compiled with different ISA flags (attention_avx2.cpp, attention_avx512.cpp, ...)
// each get their own copy, and the linker can never merge an AVX-512 copy into portable code.
#pragma once
#include <cstdint>

namespace ember::cpu {
namespace {

// (Results are computed unconditionally and then selected: an operation that appears only
// under a condition may trap, so the compiler would not if-convert, hence not vectorise, it.)
// ---------------------------------------------------------------------------------------
// exp(x) = 2^n * exp(r) with n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2], exp(r)
// by its Taylor polynomial (degree 7 for float: relative error < 1e-8; degree 13 for
// double: < 2e-16), and 2^n written straight into the exponent bits. n is rounded by adding
// 1.5 * 2^(mantissa bits): the sum's low bits then hold n.
// expm1_parts returns q = exp(r) - 1 (accurate near 0: no "1 +" is ever added) and 2^n;
// exp(x) = 2^n (1 + q). Below the smallest normal result `under` is set (exp -> 0).
// ---------------------------------------------------------------------------------------
inline float expm1_parts(float x, float* scale, bool* under) {
  *under = x < -87.0f;
  const float xc = x > 88.0f ? 88.0f : (*under ? -87.0f : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23
  const float t = xc * 1.44269504088896341f + magic;
  const float n = t - magic;
  float r = xc - n * 0.693145751953125f;  // ln 2 split in two: n * hi is exact
  r = r - n * 1.42860682030941723212e-6f;
  float poly = 1.0f / 5040.0f;
  poly = poly * r + 1.0f / 720.0f;
  poly = poly * r + 1.0f / 120.0f;
  poly = poly * r + 1.0f / 24.0f;
  poly = poly * r + 1.0f / 6.0f;
  poly = poly * r + 0.5f;
  poly = poly * r + 1.0f;
  int32_t bits;
  __builtin_memcpy(&bits, &t, sizeof bits);
  // (n + bias) << 23, shifted as unsigned: a NaN x gives a garbage scale (and a NaN result)
  // without signed overflow
  bits = static_cast<int32_t>(static_cast<uint32_t>(bits - 0x4B400000 + 127) << 23);
  __builtin_memcpy(scale, &bits, sizeof bits);
  return poly * r;
}

inline double expm1_parts(double x, double* scale, bool* under) {
  *under = x < -708.0;
  const double xc = x > 709.0 ? 709.0 : (*under ? -708.0 : x);
  const double magic = 6755399441055744.0;  // 1.5 * 2^52
  const double t = xc * 1.4426950408889634074 + magic;
  const double n = t - magic;
  double r = xc - n * 6.93147180369123816490e-01;
  r = r - n * 1.90821492927058770002e-10;
  double poly = 1.0 / 6227020800.0;  // 1/13!
  poly = poly * r + 1.0 / 479001600.0;
  poly = poly * r + 1.0 / 39916800.0;
  poly = poly * r + 1.0 / 3628800.0;
  poly = poly * r + 1.0 / 362880.0;
  poly = poly * r + 1.0 / 40320.0;
  poly = poly * r + 1.0 / 5040.0;
  poly = poly * r + 1.0 / 720.0;
  poly = poly * r + 1.0 / 120.0;
  poly = poly * r + 1.0 / 24.0;
  poly = poly * r + 1.0 / 6.0;
  poly = poly * r + 0.5;
  poly = poly * r + 1.0;
  int64_t bits;
  __builtin_memcpy(&bits, &t, sizeof bits);
  bits = static_cast<int64_t>(static_cast<uint64_t>(bits - 0x4338000000000000LL + 1023) << 52);
  __builtin_memcpy(scale, &bits, sizeof bits);
  return poly * r;
}

// exp(x); exactly 0 below the smallest normal result (so exp(-inf) = 0).
template <typename T>
inline T exp_fast(T x) {
  T scale;
  bool under;
  const T q = expm1_parts(x, &scale, &under);
  const T e = scale + scale * q;  // computed unconditionally, so the select vectorises
  return under ? T(0) : e;
}

// exp(x) - 1 without cancellation near 0: 2^n q + (2^n - 1), which is q itself for n = 0.
template <typename T>
inline T expm1_fast(T x) {
  T scale;
  bool under;
  const T q = expm1_parts(x, &scale, &under);
  const T e = scale * q + (scale - T(1));
  return under ? T(-1) : e;
}

// sigmoid(x) = 1 / (1 + exp(-x)): no cancellation anywhere, saturates cleanly to 0 and 1.
template <typename T>
inline T sigmoid_fast(T x) {
  return T(1) / (T(1) + exp_fast(-x));
}

// tanh(|x|) = -m / (2 + m) with m = expm1(-2|x|) in (-1, 0]: accurate for small |x| too
// (m ~ -2|x|), and exactly 1 once exp(-2|x|) underflows. The sign is put back at the end.
template <typename T>
inline T tanh_fast(T x) {
  const T ax = x < T(0) ? -x : x;
  const T m = expm1_fast(T(-2) * ax);
  const T y = (T(0) - m) / (T(2) + m);  // 0 - m: +0 (not -0) for x = 0
  return x < T(0) ? -y : y;
}

// erfc(z) for z >= 0 in float, with small *relative* error even where erfc is tiny:
// Numerical Recipes' Chebyshev fit erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), whose
// fractional error is below 1.2e-7 for all z >= 0 (float rounding of -z^2 adds up to a few
// 1e-6 for z ~ 10). Underflows cleanly to 0 (exp_fast) for z > ~9.3.
inline float erfc_fast_nonneg(float z) {
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  return t * exp_fast(p - z * z);
}

}  // namespace
}  // namespace ember::cpu
