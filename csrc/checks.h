// The checks that stay at the native boundary, shared by ember._C (NumPy arrays) and
// ember._cuda (DeviceArray).
//
// Arguments are validated once, in the Python op (ember/ops/*.py), which raises the error a
// user reads: the op, the shapes, the dtypes, the devices and what was expected. The native
// functions trust that caller; what they still check here is only what keeps memory safe when
// they are called directly (tests, a learner at the prompt): dtypes, contiguity, and sizes
// that must agree or a kernel would read or write outside an array (a conv's channels, a
// grad_output's shape, a stride of 0 that would divide by zero). A failed check throws
// std::invalid_argument (-> ValueError) or checks::TypeError (-> TypeError), naming the op.
//
// No pybind11 here: the CUDA kernel files include this header and compile without it. Each
// array kind says how to read its shape, dtype and layout through ArrayTraits, specialised
// beside the array (py::array: csrc/binding_utils.h; DeviceArray: csrc/cuda/device_array.h).
#pragma once

#include <array>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember::checks {

using Shape = std::vector<int64_t>;
using Pair = std::array<int64_t, 2>;  // (h, w)

// Raised for a wrong dtype; each module's bindings translate it into Python's TypeError.
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail_value(const std::string& op, const std::string& what) {
  throw std::invalid_argument(op + ": " + what);
}
[[noreturn]] inline void fail_type(const std::string& op, const std::string& what) {
  throw TypeError(op + ": " + what);
}

// A shape as Python prints a tuple: "(2, 3)", "(4,)", "()".
inline std::string shape_str(const Shape& s) {
  std::ostringstream out;
  out << "(";
  for (size_t d = 0; d < s.size(); ++d) out << (d ? ", " : "") << s[d];
  out << (s.size() == 1 ? ",)" : ")");
  return out.str();
}

inline std::string pair_str(const Pair& p) {
  return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}

// The element types the kernels take; everything else is Other.
enum class Kind { Bool, Int64, Float32, Float64, Other };

// How the checks read an array of kind A: static Shape shape(const A&), Kind kind(const A&),
// std::string dtype_name(const A&), bool contiguous(const A&) (C order).
template <typename A>
struct ArrayTraits;

template <typename A>
Shape shape_of(const A& a) { return ArrayTraits<A>::shape(a); }
template <typename A>
Kind kind_of(const A& a) { return ArrayTraits<A>::kind(a); }
template <typename A>
int64_t numel(const A& a) {
  int64_t n = 1;
  for (int64_t s : shape_of(a)) n *= s;
  return n;
}
template <typename A>
bool is_float(const A& a) {
  const Kind k = kind_of(a);
  return k == Kind::Float32 || k == Kind::Float64;
}

// "(2, 3) float32"; with a name, "query (2, 3) float32".
template <typename A>
std::string describe(const A& a) {
  return shape_str(shape_of(a)) + " " + ArrayTraits<A>::dtype_name(a);
}
template <typename A>
std::string describe(const std::string& name, const A& a) {
  return name + " " + describe(a);
}

// a is float32 or float64.
template <typename A>
void require_float(const std::string& op, const std::string& name, const A& a) {
  if (!is_float(a)) fail_type(op, "expected a float32 or float64 " + name + ", got " + describe(a));
}

// a and b hold the same float dtype; returns whether it is float32.
template <typename A, typename B>
bool require_same_float(const std::string& op, const std::string& a_name, const A& a,
                        const std::string& b_name, const B& b) {
  if (!is_float(a) || kind_of(a) != kind_of(b))
    fail_type(op, "expected " + a_name + " and " + b_name + " of the same float dtype (float32 "
                  "or float64), got " + describe(a_name, a) + " and " + describe(b_name, b));
  return kind_of(a) == Kind::Float32;
}

// b holds a's dtype (whatever it is).
template <typename A, typename B>
void require_dtype_of(const std::string& op, const std::string& name, const B& b,
                      const std::string& like_name, const A& like) {
  if (kind_of(b) != kind_of(like))
    fail_type(op, name + " must have " + like_name + "'s dtype " +
                  ArrayTraits<A>::dtype_name(like) + ", got " + describe(name, b));
}

template <typename A>
void require_kind(const std::string& op, const std::string& name, const A& a, Kind kind,
                  const char* kind_name) {
  if (kind_of(a) != kind) fail_type(op, name + " must be " + kind_name + ", got " + describe(a));
}

template <typename A>
void require_ndim(const std::string& op, const std::string& name, const A& a, size_t ndim,
                  const char* layout) {
  if (shape_of(a).size() != ndim)
    fail_value(op, "expected a " + std::to_string(ndim) + "-d " + name + " " + layout +
                       ", got shape " + shape_str(shape_of(a)));
}

template <typename A>
void require_shape(const std::string& op, const std::string& name, const A& a,
                   const Shape& expected) {
  if (shape_of(a) != expected)
    fail_value(op, name + " must have shape " + shape_str(expected) + ", got " +
                       describe(name, a));
}

// An array the kernel writes in place (or reads by flat index) must be C-contiguous.
template <typename A>
void require_contiguous(const std::string& op, const std::string& name, const A& a) {
  if (!ArrayTraits<A>::contiguous(a))
    fail_value(op, name + " must be a contiguous array, got a strided view " + describe(a));
}

// A shape passed as a list (input_shape, weight_shape) with `ndim` non-negative entries.
inline const Shape& require_shape_arg(const std::string& op, const char* name, const Shape& s,
                                      size_t ndim) {
  if (s.size() != ndim)
    fail_value(op, std::string(name) + " must have " + std::to_string(ndim) + " entries, got " +
                       shape_str(s));
  for (int64_t v : s)
    if (v < 0) fail_value(op, std::string("negative size in ") + name + " " + shape_str(s));
  return s;
}

// ---- matmul (CPU: bindings_cpu.cpp, CUDA: cuda/gemm.cu) --------------------------------
// (..., M, K) x (..., K, N) of one float dtype with identical batch dimensions (the Python
// side broadcasts them). Returns the batch size.
template <typename A>
int64_t require_matmul_operands(const A& a, const A& b) {
  const Shape as = shape_of(a), bs = shape_of(b);
  auto operands = [&] {
    return "shapes " + shape_str(as) + " and " + shape_str(bs) + " (dtypes " +
           ArrayTraits<A>::dtype_name(a) + " and " + ArrayTraits<A>::dtype_name(b) + ")";
  };
  if (!is_float(a) || !is_float(b))
    fail_type("matmul", "expected float32 or float64 arrays, got " + operands());
  if (kind_of(a) != kind_of(b))
    fail_type("matmul", "both operands must have the same dtype, got " + operands());
  if (as.size() < 2 || bs.size() < 2)
    fail_value("matmul", "both operands need at least 2 dimensions (..., M, K) and (..., K, N), "
                         "got " + operands());
  if (as.size() != bs.size())
    fail_value("matmul", "both operands need the same number of dimensions (broadcast the "
                         "batch dimensions first), got " + operands());
  const size_t nd = as.size();
  if (as[nd - 1] != bs[nd - 2])
    fail_value("matmul", operands() + " are not aligned: the last dimension of the first (" +
                             std::to_string(as[nd - 1]) + ") must equal the second-to-last "
                             "dimension of the second (" + std::to_string(bs[nd - 2]) + ")");
  int64_t batch = 1;
  for (size_t d = 0; d + 2 < nd; ++d) {
    if (as[d] != bs[d])
      fail_value("matmul", "batch dimensions must be identical (broadcast them first), got " +
                               operands());
    batch *= as[d];
  }
  return batch;
}

// ---- fused Adam (CPU: bindings_adam.cpp, CUDA: cuda/adam.cu) ----------------------------
// The step updates param and its state in place, by flat index: each must be contiguous and
// have param's float dtype and element count. grad is only read (any layout is copied).
template <typename A>
void require_adam_operands(const A& param, const A& grad, const A& exp_avg, const A& exp_avg_sq,
                           const A* max_exp_avg_sq, bool amsgrad, int64_t step) {
  const std::string op = "adam_step";
  // the bias corrections divide by 1 - beta^step
  if (step < 1) fail_value(op, "step must be >= 1, got " + std::to_string(step));
  if (!is_float(param)) fail_type(op, "param has " + describe(param) + "; expected float32 or float64");
  const int64_t n = numel(param);
  if (kind_of(grad) != kind_of(param) || numel(grad) != n)
    fail_value(op, "grad has shape " + describe(grad) + " but param has shape " + describe(param));
  auto state = [&](const std::string& name, const A& a) {
    if (kind_of(a) != kind_of(param))
      fail_type(op, name + " has " + describe(a) + "; expected the parameter's dtype");
    if (numel(a) != n)
      fail_value(op, name + " has shape " + describe(a) + " but the parameter has " +
                         std::to_string(n) + " elements");
    require_contiguous(op, name, a);
  };
  state("param", param);
  state("exp_avg", exp_avg);
  state("exp_avg_sq", exp_avg_sq);
  if (amsgrad) {
    if (!max_exp_avg_sq) fail_value(op, "amsgrad=True needs max_exp_avg_sq");
    state("max_exp_avg_sq", *max_exp_avg_sq);
  }
}

// ---- attention (CPU: bindings_attention.cpp, CUDA: cuda/attention_bindings.cu) -----------
struct AttentionShapes {
  int64_t b, h, lq, lk, d, dv;  // q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv)
};

template <typename A>
AttentionShapes attention_shapes(const A& q, const A& k, const A& v) {
  const std::string op = "scaled_dot_product_attention";
  const std::string all = describe("query", q) + ", " + describe("key", k) + ", " +
                          describe("value", v);
  if (!is_float(q) || kind_of(q) != kind_of(k) || kind_of(q) != kind_of(v))
    fail_type(op, "query, key and value must share one floating dtype (float32 or float64), "
                  "got " + all);
  const Shape qs = shape_of(q), ks = shape_of(k), vs = shape_of(v);
  if (qs.size() != 4 || ks.size() != 4 || vs.size() != 4)
    fail_value(op, "the kernel expects 4-d query (B, H, Lq, D), key (B, H, Lk, D) and value "
                   "(B, H, Lk, Dv), got " + all);
  if (qs[0] != ks[0] || qs[0] != vs[0] || qs[1] != ks[1] || qs[1] != vs[1])
    fail_value(op, "query, key and value must have the same batch and head dimensions, got " + all);
  if (ks[2] != vs[2]) fail_value(op, "key and value must have the same sequence length, got " + all);
  if (qs[3] != ks[3])
    fail_value(op, "query and key must have the same embedding dimension D, got " + all);
  return {qs[0], qs[1], qs[2], ks[2], qs[3], vs[3]};
}

// A mask is bool (True = attend) or additive in the query's dtype, broadcastable to
// (B, H, Lq, Lk): the kernels read it through broadcast (0) strides.
template <typename A>
void require_attention_mask(const A& mask, const A& q, const AttentionShapes& s) {
  const std::string op = "scaled_dot_product_attention";
  if (kind_of(mask) != Kind::Bool && kind_of(mask) != kind_of(q))
    fail_type(op, "attn_mask must be bool (True = attend) or the query's dtype " +
                  ArrayTraits<A>::dtype_name(q) + ", got " + describe("attn_mask", mask));
  const Shape target = {s.b, s.h, s.lq, s.lk}, ms = shape_of(mask);
  if (ms.size() > 4)
    fail_value(op, "attn_mask " + shape_str(ms) + " has more than 4 dimensions; it must be "
                   "broadcastable to (B, H, Lq, Lk) = " + shape_str(target));
  const size_t lead = 4 - ms.size();
  for (size_t d = 0; d < ms.size(); ++d)
    if (ms[d] != 1 && ms[d] != target[lead + d])
      fail_value(op, "attn_mask of shape " + shape_str(ms) + " is not broadcastable to (B, H, "
                     "Lq, Lk) = " + shape_str(target) + " (query " + shape_str(shape_of(q)) + ")");
}

// The backward's saved or incoming arrays (grad_output, out, lse): the query's dtype, `shape`.
template <typename A>
void require_like_query(const std::string& name, const A& a, const A& q, const Shape& shape) {
  const std::string op = "scaled_dot_product_attention";
  if (kind_of(a) != kind_of(q))
    fail_type(op, "backward: " + name + " must have the query's dtype " +
                  ArrayTraits<A>::dtype_name(q) + ", got " + describe(name, a));
  if (shape_of(a) != shape)
    fail_value(op, "backward: " + name + " must have shape " + shape_str(shape) + ", got " +
                   describe(name, a));
}

// ---- convolution (CPU: bindings_conv.cpp, CUDA: cuda/conv2d.cu) --------------------------
// The geometry of y = conv2d(x, w): x (N, C_in, H, W), w (C_out, C_in/groups, kH, kW),
// y (N, C_out, OH, OW) with OH = floor((H + 2 pad - dil (kH - 1) - 1) / stride) + 1.
struct ConvGeometry {
  int64_t batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w, out_h, out_w;
  Pair stride, padding, dilation;
  int64_t groups;
  Shape output_shape() const { return {batch, out_channels, out_h, out_w}; }
};

// Output size of one spatial dimension; 0 when no window fits.
inline int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                             int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return (span < 0 || stride <= 0) ? 0 : span / stride + 1;
}

// The sizes a conv kernel relies on: every one would make it divide by zero or index outside
// x, w or y. (ops/conv.py gives the user-facing errors; this is the boundary's safety net.)
inline ConvGeometry conv2d_geometry(const std::string& op, const Shape& x, const Shape& w,
                                    const Pair& stride, const Pair& padding,
                                    const Pair& dilation, int64_t groups) {
  if (x.size() != 4) fail_value(op, "expected a 4-d input (N, C_in, H, W), got shape " + shape_str(x));
  if (w.size() != 4)
    fail_value(op, "expected a 4-d weight (C_out, C_in/groups, kH, kW), got shape " + shape_str(w));
  const std::string shapes = "input " + shape_str(x) + " and weight " + shape_str(w);
  if (groups < 1) fail_value(op, "groups must be positive, got " + std::to_string(groups));
  if (stride[0] < 1 || stride[1] < 1) fail_value(op, "stride must be positive, got " + pair_str(stride));
  if (dilation[0] < 1 || dilation[1] < 1)
    fail_value(op, "dilation must be positive, got " + pair_str(dilation));
  if (padding[0] < 0 || padding[1] < 0)
    fail_value(op, "padding must be non-negative, got " + pair_str(padding));
  for (int d = 0; d < 4; ++d)
    if (x[d] < 0 || w[d] < 0) fail_value(op, "negative size in " + shapes);
  if (x[1] < 1 || w[0] < 1 || w[2] < 1 || w[3] < 1)
    fail_value(op, "channels and kernel sizes must be positive, got " + shapes);
  if (x[1] % groups != 0 || w[0] % groups != 0)
    fail_value(op, "input channels (" + std::to_string(x[1]) + ") and output channels (" +
                       std::to_string(w[0]) + ") must both be divisible by groups=" +
                       std::to_string(groups) + ", got " + shapes);
  if (w[1] != x[1] / groups)
    fail_value(op, "weight expects " + std::to_string(w[1]) + " input channels per group, "
                   "expected weight.shape[1] == " + std::to_string(x[1] / groups) + ", got " +
                   shapes);
  ConvGeometry g{x[0], x[1], x[2], x[3], w[0], w[2], w[3],
                 conv_out_size(x[2], w[2], stride[0], padding[0], dilation[0]),
                 conv_out_size(x[3], w[3], stride[1], padding[1], dilation[1]),
                 stride, padding, dilation, groups};
  if (g.out_h < 1 || g.out_w < 1)
    fail_value(op, "the output would be empty (" + std::to_string(g.out_h) + " x " +
                       std::to_string(g.out_w) + "): the dilated kernel is larger than the "
                       "padded input; " + shapes + ", padding " + pair_str(padding) +
                       ", dilation " + pair_str(dilation));
  return g;
}

// ---- pooling (CPU: bindings_conv.cpp, CUDA: cuda/pool.cu) --------------------------------
// Planes of (N, C, H, W) pooled to (N, C, OH, OW).
struct PoolGeometry {
  int64_t planes, in_h, in_w, out_h, out_w;
  Pair kernel, stride, padding, dilation;
};

// PyTorch's output size; with ceil_mode the last window must start inside the input or its
// left padding.
inline int64_t pool_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                             int64_t dilation, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  if (span < 0 || stride <= 0) return 0;
  int64_t out = span / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

inline PoolGeometry pool2d_geometry(const std::string& op, const Shape& x, const Pair& kernel,
                                    const Pair& stride, const Pair& padding,
                                    const Pair& dilation, bool ceil_mode) {
  if (x.size() != 4) fail_value(op, "expected a 4-d input (N, C, H, W), got shape " + shape_str(x));
  for (int64_t s : x)
    if (s < 0) fail_value(op, "negative size in input " + shape_str(x));
  if (kernel[0] < 1 || kernel[1] < 1)
    fail_value(op, "kernel_size must be positive, got " + pair_str(kernel));
  if (stride[0] < 1 || stride[1] < 1) fail_value(op, "stride must be positive, got " + pair_str(stride));
  if (dilation[0] < 1 || dilation[1] < 1)
    fail_value(op, "dilation must be positive, got " + pair_str(dilation));
  // a window entirely in the padding would have no element (max of nothing, 0/0 average)
  if (padding[0] < 0 || padding[1] < 0 || padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2)
    fail_value(op, "padding must be non-negative and at most half the kernel size, got "
                   "padding " + pair_str(padding) + " for kernel_size " + pair_str(kernel));
  PoolGeometry g{x[0] * x[1], x[2], x[3],
                 pool_out_size(x[2], kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
                 pool_out_size(x[3], kernel[1], stride[1], padding[1], dilation[1], ceil_mode),
                 kernel, stride, padding, dilation};
  if (g.out_h < 1 || g.out_w < 1)
    fail_value(op, "the output would be empty (" + std::to_string(g.out_h) + " x " +
                       std::to_string(g.out_w) + ") for input " + shape_str(x) +
                       ", kernel_size " + pair_str(kernel) + ", padding " + pair_str(padding) +
                       ", dilation " + pair_str(dilation) + ": the input is smaller than the window");
  return g;
}

// Adaptive pooling of (N, C, H, W) to output_size: every output cell needs a non-empty window.
inline PoolGeometry adaptive_pool2d_geometry(const std::string& op, const Shape& x,
                                             const Pair& output_size) {
  if (x.size() != 4) fail_value(op, "expected a 4-d input (N, C, H, W), got shape " + shape_str(x));
  for (int64_t s : x)
    if (s < 0) fail_value(op, "negative size in input " + shape_str(x));
  if (output_size[0] < 1 || output_size[1] < 1)
    fail_value(op, "output_size must be positive, got " + pair_str(output_size));
  if (x[2] < 1 || x[3] < 1)
    fail_value(op, "the input's spatial size must be positive, got " + shape_str(x));
  return {x[0] * x[1], x[2], x[3], output_size[0], output_size[1], {1, 1}, {1, 1}, {0, 0}, {1, 1}};
}

}  // namespace ember::checks
