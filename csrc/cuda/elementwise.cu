// Elementwise kernels: unary math, binary arithmetic/comparison with NumPy broadcasting,
// and where(). Inputs are any strided views (broadcast dimensions have stride 0); outputs
// are new contiguous arrays, so the output offset of element i is just i.
#include <sstream>
#include <string>

#include "cuda/kernels.h"
#include "cuda/strided.cuh"

namespace ember::cuda {

namespace {

// float/double overloads of the C math functions (expf vs exp, ...).
#define EMBER_MATH1(name)                                             \
  __device__ inline float m_##name(float x) { return name##f(x); }   \
  __device__ inline double m_##name(double x) { return name(x); }
EMBER_MATH1(exp)
EMBER_MATH1(log)
EMBER_MATH1(log1p)
EMBER_MATH1(sqrt)
EMBER_MATH1(fabs)
EMBER_MATH1(sin)
EMBER_MATH1(cos)
EMBER_MATH1(tanh)
EMBER_MATH1(erf)
EMBER_MATH1(erfc)
#undef EMBER_MATH1
__device__ inline float m_pow(float a, float b) { return powf(a, b); }
__device__ inline double m_pow(double a, double b) { return pow(a, b); }

// int64 arithmetic wraps around like NumPy's (done in uint64_t: signed overflow is UB in C++).
__device__ inline int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
__device__ inline int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
__device__ inline int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// NumPy's floor_divide on int64: rounds toward -inf; x // 0 = 0 (NumPy warns and gives 0).
__device__ inline int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return wrap_sub(0, a);  // INT64_MIN / -1 overflows in C++
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Integer power by squaring; negative exponents give 1/base^-e truncated (0 unless |base| = 1).
__device__ inline int64_t int_pow(int64_t base, int64_t e) {
  if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
  int64_t result = 1;
  while (e) {
    if (e & 1) result = wrap_mul(result, base);
    base = wrap_mul(base, base);
    e >>= 1;
  }
  return result;
}

// ---- unary ------------------------------------------------------------------------------------
// out[i] = f(x[xs.offset(i)])
template <typename T, typename R, typename F>
__global__ void unary_kernel(R* out, const T* x, Strided xs, int64_t n, F f) {
  EMBER_GRID_STRIDE(i, n) { out[i] = f(x[xs.offset(i)]); }
}

struct NegF {
  template <typename T> __device__ T operator()(T x) const {
    if constexpr (std::is_same_v<T, int64_t>) return wrap_sub(0, x);
    else return -x;
  }
};
struct AbsF {
  template <typename T> __device__ T operator()(T x) const {
    if constexpr (std::is_same_v<T, int64_t>) return x < 0 ? wrap_sub(0, x) : x;
    else if constexpr (std::is_same_v<T, bool>) return x;
    else return m_fabs(x);
  }
};
struct SignF {  // -1, 0, 1; NaN stays NaN
  template <typename T> __device__ T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return x;
    else {
      if (x != x) return x;
      return static_cast<T>((x > T(0)) - (x < T(0)));
    }
  }
};
struct ExpF { template <typename T> __device__ T operator()(T x) const { return m_exp(x); } };
struct LogF { template <typename T> __device__ T operator()(T x) const { return m_log(x); } };
struct Log1pF { template <typename T> __device__ T operator()(T x) const { return m_log1p(x); } };
struct SqrtF { template <typename T> __device__ T operator()(T x) const { return m_sqrt(x); } };
struct SinF { template <typename T> __device__ T operator()(T x) const { return m_sin(x); } };
struct CosF { template <typename T> __device__ T operator()(T x) const { return m_cos(x); } };
struct TanhF { template <typename T> __device__ T operator()(T x) const { return m_tanh(x); } };
struct ErfF { template <typename T> __device__ T operator()(T x) const { return m_erf(x); } };
// 1 / (1 + e^-x) from e = e^-|x| <= 1, which never overflows:
// x >= 0 -> 1 / (1 + e),  x < 0 -> e / (1 + e)
struct SigmoidF {
  template <typename T> __device__ T operator()(T x) const {
    const T e = m_exp(-m_fabs(x));
    return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
  }
};
// log(1 + e^z) / beta with z = beta x, as max(z, 0) + log1p(e^-|z|); x itself above threshold
struct SoftplusF {
  double beta, threshold;
  template <typename T> __device__ T operator()(T x) const {
    const T b = static_cast<T>(beta);
    const T z = x * b;
    if (z > static_cast<T>(threshold)) return x;
    return ((z > T(0) ? z : T(0)) + m_log1p(m_exp(-m_fabs(z)))) / b;
  }
};
// ---- GELU (the fused activation; its backward is a binary op below) ----
constexpr double kSqrtHalf = 0.70710678118654752440;     // 1 / sqrt(2)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kGeluCubic = 0.044715;
// Phi(x) = erfc(-x / sqrt 2) / 2, the normal CDF; not (1 + erf(x / sqrt 2)) / 2, which
// cancels to 0 for x below about -5.7 in float (the CPU kernel uses the same formula).
template <typename T> __device__ inline T normal_cdf(T x) {
  return T(0.5) * m_erfc(-x * T(kSqrtHalf));
}
// gelu(x) = x Phi(x)
struct GeluF {
  template <typename T> __device__ T operator()(T x) const { return x * normal_cdf(x); }
};
// tanh approximation: x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
struct GeluTanhF {
  template <typename T> __device__ T operator()(T x) const {
    const T u = T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
    return T(0.5) * x * (T(1) + m_tanh(u));
  }
};
struct NotF {
  template <typename T> __device__ bool operator()(T x) const { return x == T(0); }
};

template <typename T, typename F>
DeviceArray launch_unary(const DeviceArray& x, F f) {
  DeviceArray out(x.shape(), dtype_of<T>(), x.device());
  const int64_t n = x.numel();
  if (n == 0) return out;
  Shape shape = x.shape(), xs = x.strides(), os = out.strides();
  coalesce(shape, {&xs, &os});  // os keeps the merge consistent with out's C order
  unary_kernel<<<blocks_for(n), 256>>>(out.data_as<T>(), x.data_as<T>(),
                                       make_strided(shape, xs, "unary"), n, f);
  EMBER_CUDA_CHECK_LAUNCH("unary_kernel");
  return out;
}

// logical_not: a bool result whatever the input's dtype (x == 0).
template <typename T>
DeviceArray launch_not(const DeviceArray& x) {
  DeviceArray out(x.shape(), DType::Bool, x.device());
  const int64_t n = x.numel();
  if (n == 0) return out;
  Shape shape = x.shape(), xs = x.strides(), os = out.strides();
  coalesce(shape, {&xs, &os});
  unary_kernel<<<blocks_for(n), 256>>>(out.data_as<bool>(), x.data_as<T>(),
                                       make_strided(shape, xs, "logical_not"), n, NotF{});
  EMBER_CUDA_CHECK_LAUNCH("unary_kernel");
  return out;
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Log1p: return "log1p";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Sign: return "sign";
    case UnaryOp::Sin: return "sin";
    case UnaryOp::Cos: return "cos";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Erf: return "erf";
    case UnaryOp::Softplus: return "softplus";
    case UnaryOp::Gelu: return "gelu";
    case UnaryOp::GeluTanh: return "gelu_tanh";
    case UnaryOp::LogicalNot: return "logical_not";
  }
  return "unary";
}

// ---- binary -----------------------------------------------------------------------------------
// out[i] = f(a[as.offset(i)], b[bs.offset(i)]) over the broadcast shape
template <typename T, typename R, typename F>
__global__ void binary_kernel(R* out, const T* a, Strided as, const T* b, Strided bs, int64_t n,
                              F f) {
  EMBER_GRID_STRIDE(i, n) { out[i] = f(a[as.offset(i)], b[bs.offset(i)]); }
}

struct AddF {
  template <typename T> __device__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, int64_t>) return wrap_add(a, b);
    else if constexpr (std::is_same_v<T, bool>) return a || b;
    else return a + b;
  }
};
struct SubF {
  template <typename T> __device__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, int64_t>) return wrap_sub(a, b);
    else return a - b;
  }
};
struct MulF {
  template <typename T> __device__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, int64_t>) return wrap_mul(a, b);
    else if constexpr (std::is_same_v<T, bool>) return a && b;
    else return a * b;
  }
};
struct DivF {
  template <typename T> __device__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, int64_t>) return floor_div(a, b);
    else return a / b;
  }
};
struct PowF {
  template <typename T> __device__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, int64_t>) return int_pow(a, b);
    else return m_pow(a, b);
  }
};
// NumPy's maximum/minimum propagate NaN (unlike fmax/fmin)
struct MaxF {
  template <typename T> __device__ T operator()(T a, T b) const {
    if (a != a) return a;
    if (b != b) return b;
    return a > b ? a : b;
  }
};
struct MinF {
  template <typename T> __device__ T operator()(T a, T b) const {
    if (a != a) return a;
    if (b != b) return b;
    return a < b ? a : b;
  }
};
struct EqF { template <typename T> __device__ bool operator()(T a, T b) const { return a == b; } };
struct NeF { template <typename T> __device__ bool operator()(T a, T b) const { return a != b; } };
struct LtF { template <typename T> __device__ bool operator()(T a, T b) const { return a < b; } };
struct LeF { template <typename T> __device__ bool operator()(T a, T b) const { return a <= b; } };
struct GtF { template <typename T> __device__ bool operator()(T a, T b) const { return a > b; } };
struct GeF { template <typename T> __device__ bool operator()(T a, T b) const { return a >= b; } };
struct AndF {
  template <typename T> __device__ bool operator()(T a, T b) const {
    return (a != T(0)) && (b != T(0));
  }
};
struct OrF {
  template <typename T> __device__ bool operator()(T a, T b) const {
    return (a != T(0)) || (b != T(0));
  }
};
struct XorF {
  template <typename T> __device__ bool operator()(T a, T b) const {
    return (a != T(0)) != (b != T(0));
  }
};

// Backward passes of the fused activations, as binary ops (a = incoming gradient g):
// gelu: g (Phi(x) + x phi(x)), phi(x) = e^(-x^2/2) / sqrt(2 pi)
struct GeluBackwardF {
  template <typename T> __device__ T operator()(T g, T x) const {
    return g * (normal_cdf(x) + x * T(kInvSqrt2Pi) * m_exp(T(-0.5) * x * x));
  }
};
// tanh approximation: g ((1 + t) / 2 + x (1 - t^2) u' / 2), t = tanh(u),
// u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
struct GeluTanhBackwardF {
  template <typename T> __device__ T operator()(T g, T x) const {
    const T x2 = x * x;
    const T t = m_tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x2 * x));
    const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x2);
    return g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du);
  }
};
// relu, from its output y: g where y > 0, else 0
struct ReluBackwardF {
  template <typename T> __device__ T operator()(T g, T y) const { return y > T(0) ? g : T(0); }
};

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
    case BinaryOp::Eq: return "eq";
    case BinaryOp::Ne: return "ne";
    case BinaryOp::Lt: return "lt";
    case BinaryOp::Le: return "le";
    case BinaryOp::Gt: return "gt";
    case BinaryOp::Ge: return "ge";
    case BinaryOp::And: return "and";
    case BinaryOp::Or: return "or";
    case BinaryOp::Xor: return "xor";
    case BinaryOp::GeluBackward: return "gelu_backward";
    case BinaryOp::GeluTanhBackward: return "gelu_tanh_backward";
    case BinaryOp::ReluBackward: return "relu_backward";
  }
  return "binary";
}

// R: the result type (T for arithmetic, bool for comparisons)
template <typename T, typename R, typename F>
DeviceArray launch_binary(const DeviceArray& a, const DeviceArray& b, F f, const char* op) {
  const Shape out_shape = broadcast_shapes({a.shape(), b.shape()}, op);
  DeviceArray out(out_shape, dtype_of<R>(), a.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  Shape shape = out_shape, as = broadcast_strides(a, out_shape),
        bs = broadcast_strides(b, out_shape), os = out.strides();
  coalesce(shape, {&as, &bs, &os});
  binary_kernel<<<blocks_for(n), 256>>>(out.data_as<R>(), a.data_as<T>(),
                                        make_strided(shape, as, op), b.data_as<T>(),
                                        make_strided(shape, bs, op), n, f);
  EMBER_CUDA_CHECK_LAUNCH("binary_kernel");
  return out;
}

[[noreturn]] void bad_dtype(const char* op, DType t) {
  throw TypeError(std::string(op) + ": not supported for " + dtype_name(t) + " arrays");
}

// ---- where ------------------------------------------------------------------------------------
// out[i] = c[cs.offset(i)] ? a[as.offset(i)] : b[bs.offset(i)]
template <typename T>
__global__ void where_kernel(T* out, const bool* c, Strided cs, const T* a, Strided as,
                             const T* b, Strided bs, int64_t n) {
  EMBER_GRID_STRIDE(i, n) { out[i] = c[cs.offset(i)] ? a[as.offset(i)] : b[bs.offset(i)]; }
}

}  // namespace

DeviceArray unary(UnaryOp op, const DeviceArray& x, double p0, double p1) {
  const char* name = unary_name(op);
  DeviceArray out;
  dispatch(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    constexpr bool is_float = std::is_floating_point_v<T>;
    switch (op) {
      case UnaryOp::LogicalNot: out = launch_not<T>(x); return;
      case UnaryOp::Neg:
        if constexpr (std::is_same_v<T, bool>) bad_dtype(name, x.dtype());
        else out = launch_unary<T>(x, NegF{});
        return;
      case UnaryOp::Abs: out = launch_unary<T>(x, AbsF{}); return;
      case UnaryOp::Sign: out = launch_unary<T>(x, SignF{}); return;
      default: break;
    }
    if constexpr (!is_float) {
      bad_dtype(name, x.dtype());
    } else {
      switch (op) {
        case UnaryOp::Exp: out = launch_unary<T>(x, ExpF{}); return;
        case UnaryOp::Log: out = launch_unary<T>(x, LogF{}); return;
        case UnaryOp::Log1p: out = launch_unary<T>(x, Log1pF{}); return;
        case UnaryOp::Sqrt: out = launch_unary<T>(x, SqrtF{}); return;
        case UnaryOp::Sin: out = launch_unary<T>(x, SinF{}); return;
        case UnaryOp::Cos: out = launch_unary<T>(x, CosF{}); return;
        case UnaryOp::Tanh: out = launch_unary<T>(x, TanhF{}); return;
        case UnaryOp::Sigmoid: out = launch_unary<T>(x, SigmoidF{}); return;
        case UnaryOp::Erf: out = launch_unary<T>(x, ErfF{}); return;
        case UnaryOp::Gelu: out = launch_unary<T>(x, GeluF{}); return;
        case UnaryOp::GeluTanh: out = launch_unary<T>(x, GeluTanhF{}); return;
        case UnaryOp::Softplus:
          if (!(p0 != 0.0)) throw std::invalid_argument("softplus: beta must be nonzero");
          out = launch_unary<T>(x, SoftplusF{p0, p1});
          return;
        default: bad_dtype(name, x.dtype());
      }
    }
  });
  return out;
}


DeviceArray binary(BinaryOp op, const DeviceArray& a, const DeviceArray& b) {
  const char* name = binary_name(op);
  if (a.dtype() != b.dtype())
    throw TypeError(std::string(name) + ": both arrays must have one dtype, got " +
                    dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
  DeviceArray out;
  dispatch(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    constexpr bool is_bool = std::is_same_v<T, bool>;
    switch (op) {
      case BinaryOp::Add: out = launch_binary<T, T>(a, b, AddF{}, name); return;
      case BinaryOp::Mul: out = launch_binary<T, T>(a, b, MulF{}, name); return;
      case BinaryOp::Maximum: out = launch_binary<T, T>(a, b, MaxF{}, name); return;
      case BinaryOp::Minimum: out = launch_binary<T, T>(a, b, MinF{}, name); return;
      case BinaryOp::Sub:
      case BinaryOp::Div:
      case BinaryOp::Pow:
        if constexpr (is_bool) {
          bad_dtype(name, a.dtype());
        } else {
          if (op == BinaryOp::Sub) out = launch_binary<T, T>(a, b, SubF{}, name);
          else if (op == BinaryOp::Div) out = launch_binary<T, T>(a, b, DivF{}, name);
          else out = launch_binary<T, T>(a, b, PowF{}, name);
        }
        return;
      case BinaryOp::Eq: out = launch_binary<T, bool>(a, b, EqF{}, name); return;
      case BinaryOp::Ne: out = launch_binary<T, bool>(a, b, NeF{}, name); return;
      case BinaryOp::Lt: out = launch_binary<T, bool>(a, b, LtF{}, name); return;
      case BinaryOp::Le: out = launch_binary<T, bool>(a, b, LeF{}, name); return;
      case BinaryOp::Gt: out = launch_binary<T, bool>(a, b, GtF{}, name); return;
      case BinaryOp::Ge: out = launch_binary<T, bool>(a, b, GeF{}, name); return;
      case BinaryOp::And: out = launch_binary<T, bool>(a, b, AndF{}, name); return;
      case BinaryOp::Or: out = launch_binary<T, bool>(a, b, OrF{}, name); return;
      case BinaryOp::Xor: out = launch_binary<T, bool>(a, b, XorF{}, name); return;
      case BinaryOp::GeluBackward:
      case BinaryOp::GeluTanhBackward:
      case BinaryOp::ReluBackward:
        if constexpr (!std::is_floating_point_v<T>) {
          bad_dtype(name, a.dtype());
        } else {
          if (op == BinaryOp::GeluBackward)
            out = launch_binary<T, T>(a, b, GeluBackwardF{}, name);
          else if (op == BinaryOp::GeluTanhBackward)
            out = launch_binary<T, T>(a, b, GeluTanhBackwardF{}, name);
          else
            out = launch_binary<T, T>(a, b, ReluBackwardF{}, name);
        }
        return;
    }
  });
  return out;
}

DeviceArray where(const DeviceArray& cond, const DeviceArray& a, const DeviceArray& b) {
  if (cond.dtype() != DType::Bool)
    throw TypeError(std::string("where: the condition must be bool, got ") +
                    dtype_name(cond.dtype()));
  if (a.dtype() != b.dtype())
    throw TypeError(std::string("where: both branches must have one dtype, got ") +
                    dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
  const Shape out_shape = broadcast_shapes({cond.shape(), a.shape(), b.shape()}, "where");
  DeviceArray out(out_shape, a.dtype(), a.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  Shape shape = out_shape, cs = broadcast_strides(cond, out_shape),
        as = broadcast_strides(a, out_shape), bs = broadcast_strides(b, out_shape),
        os = out.strides();
  coalesce(shape, {&cs, &as, &bs, &os});
  dispatch(a.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    where_kernel<T><<<blocks_for(n), 256>>>(
        out.data_as<T>(), cond.data_as<bool>(), make_strided(shape, cs, "where"),
        a.data_as<T>(), make_strided(shape, as, "where"), b.data_as<T>(),
        make_strided(shape, bs, "where"), n);
    EMBER_CUDA_CHECK_LAUNCH("where_kernel");
  });
  return out;
}

}  // namespace ember::cuda
