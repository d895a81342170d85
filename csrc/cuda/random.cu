// Random numbers from Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11): a counter-based generator, so thread g simply computes block g of the
// stream -- no state to carry between threads or calls.
//
// Key = the 64-bit seed; counter = (g_lo, g_hi, call_lo, call_hi) with g the group index
// inside this call and `call` a per-generator call counter kept by Python. Each group
// yields 4 x 32 random bits:
//   rand  float32: 4 values (24 bits each)    float64: 2 values (53 bits from 2 words)
//   randn float32: 4 values (2 Box-Muller pairs)  float64: 2 values (1 pair)
//   randint:       2 values (64 bits each, reduced modulo the range)
#include <cmath>
#include <string>

#include "cuda/kernels.h"
#include "cuda/strided.cuh"

namespace ember::cuda {

namespace {

struct U32x4 {
  uint32_t x[4];
};

// Ten Philox rounds: two 32x32->64 multiplies mix the counter; the key is bumped by the
// Weyl constants between rounds (the Random123 reference constants).
__device__ inline U32x4 philox4x32_10(U32x4 c, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = __umulhi(M0, c.x[0]), lo0 = M0 * c.x[0];
    const uint32_t hi1 = __umulhi(M1, c.x[2]), lo1 = M1 * c.x[2];
    c = U32x4{{hi1 ^ c.x[1] ^ k0, lo1, hi0 ^ c.x[3] ^ k1, lo0}};
    k0 += W0;
    k1 += W1;
  }
  return c;
}

__device__ inline U32x4 philox_block(uint64_t seed, uint64_t call, int64_t group) {
  const uint64_t g = static_cast<uint64_t>(group);
  U32x4 ctr{{static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32),
             static_cast<uint32_t>(call), static_cast<uint32_t>(call >> 32)}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// [0, 1) from the top 24 / 53 bits
__device__ inline float u01_float(uint32_t r) { return (r >> 8) * (1.0f / 16777216.0f); }
__device__ inline double u01_double(uint32_t hi, uint32_t lo) {
  const uint64_t r = (static_cast<uint64_t>(hi) << 32) | lo;
  return (r >> 11) * (1.0 / 9007199254740992.0);
}

// Values per Philox group for each (kind, dtype)
template <typename T>
constexpr int per_group() { return std::is_same_v<T, float> ? 4 : 2; }

// out[4g .. 4g+3] (float) or out[2g, 2g+1] (double) from group g; the tail group is partial.
template <typename T>
__global__ void uniform_kernel(T* out, int64_t n, uint64_t seed, uint64_t call) {
  constexpr int P = per_group<T>();
  const int64_t groups = (n + P - 1) / P;
  EMBER_GRID_STRIDE(g, groups) {
    const U32x4 r = philox_block(seed, call, g);
    for (int j = 0; j < P; ++j) {
      const int64_t i = g * P + j;
      if (i >= n) break;
      if constexpr (std::is_same_v<T, float>) out[i] = u01_float(r.x[j]);
      else out[i] = u01_double(r.x[2 * j], r.x[2 * j + 1]);
    }
  }
}

// Box-Muller: u1 in (0, 1], u2 in [0, 1) -> sqrt(-2 log u1) (cos, sin)(2 pi u2): two normals.
template <typename T>
__global__ void normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t call) {
  constexpr int P = per_group<T>();
  const int64_t groups = (n + P - 1) / P;
  EMBER_GRID_STRIDE(g, groups) {
    const U32x4 r = philox_block(seed, call, g);
    T z[4];
    if constexpr (std::is_same_v<T, float>) {
      for (int p = 0; p < 2; ++p) {
        const float u1 = 1.0f - u01_float(r.x[2 * p]);  // (0, 1]: log is finite
        const float u2 = u01_float(r.x[2 * p + 1]);
        const float rad = sqrtf(-2.0f * logf(u1));
        float s, c;
        sincospif(2.0f * u2, &s, &c);
        z[2 * p] = rad * c;
        z[2 * p + 1] = rad * s;
      }
    } else {
      const double u1 = 1.0 - u01_double(r.x[0], r.x[1]);
      const double u2 = u01_double(r.x[2], r.x[3]);
      const double rad = sqrt(-2.0 * log(u1));
      double s, c;
      sincospi(2.0 * u2, &s, &c);
      z[0] = rad * c;
      z[1] = rad * s;
    }
    for (int j = 0; j < P; ++j) {
      const int64_t i = g * P + j;
      if (i >= n) break;
      out[i] = z[j];
    }
  }
}

// low + (64 random bits mod range); range = high - low >= 1 (bias <= range / 2^64).
__global__ void randint_kernel(int64_t* out, int64_t n, int64_t low, uint64_t range,
                               uint64_t seed, uint64_t call) {
  const int64_t groups = (n + 1) / 2;
  EMBER_GRID_STRIDE(g, groups) {
    const U32x4 r = philox_block(seed, call, g);
    for (int j = 0; j < 2; ++j) {
      const int64_t i = g * 2 + j;
      if (i >= n) break;
      const uint64_t bits = (static_cast<uint64_t>(r.x[2 * j]) << 32) | r.x[2 * j + 1];
      out[i] = static_cast<int64_t>(static_cast<uint64_t>(low) + bits % range);
    }
  }
}

}  // namespace

DeviceArray rand_uniform(const Shape& shape, DType dtype, uint64_t seed, uint64_t counter) {
  DeviceArray out = empty(shape, dtype);
  const int64_t n = out.numel();
  dispatch_float(dtype, "rand", [&](auto tag) {
    using T = decltype(tag);
    if (n == 0) return;
    const int64_t groups = (n + per_group<T>() - 1) / per_group<T>();
    uniform_kernel<T><<<blocks_for(groups), 256>>>(out.data_as<T>(), n, seed, counter);
    EMBER_CUDA_CHECK_LAUNCH("uniform_kernel");
  });
  return out;
}

DeviceArray rand_normal(const Shape& shape, DType dtype, uint64_t seed, uint64_t counter) {
  DeviceArray out = empty(shape, dtype);
  const int64_t n = out.numel();
  dispatch_float(dtype, "randn", [&](auto tag) {
    using T = decltype(tag);
    if (n == 0) return;
    const int64_t groups = (n + per_group<T>() - 1) / per_group<T>();
    normal_kernel<T><<<blocks_for(groups), 256>>>(out.data_as<T>(), n, seed, counter);
    EMBER_CUDA_CHECK_LAUNCH("normal_kernel");
  });
  return out;
}

DeviceArray rand_int(int64_t low, int64_t high, const Shape& shape, uint64_t seed,
                     uint64_t counter) {
  if (high <= low)
    throw std::invalid_argument("randint: high (" + std::to_string(high) +
                                ") must be greater than low (" + std::to_string(low) + ")");
  DeviceArray out = empty(shape, DType::Int64);
  const int64_t n = out.numel();
  if (n == 0) return out;
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  randint_kernel<<<blocks_for((n + 1) / 2), 256>>>(out.data_as<int64_t>(), n, low, range, seed,
                                                   counter);
  EMBER_CUDA_CHECK_LAUNCH("randint_kernel");
  return out;
}

}  // namespace ember::cuda
