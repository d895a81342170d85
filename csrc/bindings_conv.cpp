// pybind11 bindings of the convolution and pooling kernels (part of `ember._C`).
//
// Every function validates its arguments here and raises ValueError / TypeError naming
// the op, the shapes and the dtypes, so the kernels (cpu/conv2d.h, cpu/pool2d.h) can
// assume consistent shapes. Inputs of any strides are accepted (copied to C order when
// needed); the GIL is released while the kernels run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cpu/conv2d.h"
#include "cpu/pool2d.h"

namespace py = pybind11;

namespace {

using Pair = std::array<int64_t, 2>;
using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s) {
  std::ostringstream out;
  out << "(";
  for (size_t d = 0; d < s.size(); ++d) out << (d ? ", " : "") << s[d];
  out << (s.size() == 1 ? ",)" : ")");
  return out.str();
}

Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

std::string describe(const py::array& a) { return shape_str(shape_of(a)) + " " + dtype_name(a); }

std::string pair_str(const Pair& p) {
  return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}

bool is_f32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }
bool is_f64(const py::array& a) { return py::isinstance<py::array_t<double>>(a); }

// Both float32 or both float64, else TypeError. Returns true for float32.
bool check_float_pair(const std::string& op, const py::array& a, const char* a_name,
                      const py::array& b, const char* b_name) {
  const bool af = is_f32(a) || is_f64(a), bf = is_f32(b) || is_f64(b);
  if (!af || !bf || is_f32(a) != is_f32(b))
    throw py::type_error(op + ": expected " + a_name + " and " + b_name +
                         " of the same float dtype (float32 or float64), got " + a_name + " " +
                         describe(a) + " and " + b_name + " " + describe(b));
  return is_f32(a);
}

void check_float(const std::string& op, const py::array& a) {
  if (!is_f32(a) && !is_f64(a))
    throw py::type_error(op + ": expected a float32 or float64 input, got " + describe(a));
}

void check_ndim4(const std::string& op, const Shape& s, const char* what, const char* layout) {
  if (s.size() != 4)
    throw py::value_error(op + ": expected a 4-d " + what + " " + layout + ", got shape " +
                          shape_str(s));
}

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// ---------------------------------------------------------------------------------------
// conv2d
// ---------------------------------------------------------------------------------------

struct ConvArgs {
  Pair stride, padding, dilation;
  int64_t groups;
};

// Validates input/weight shapes and the hyper-parameters; returns the kernel's params.
ember::cpu::Conv2dParams conv_params(const std::string& op, const Shape& x, const Shape& w,
                                     const ConvArgs& a) {
  check_ndim4(op, x, "input", "(N, C_in, H, W)");
  check_ndim4(op, w, "weight", "(C_out, C_in/groups, kH, kW)");
  const std::string shapes = "input " + shape_str(x) + " and weight " + shape_str(w);
  if (a.groups < 1)
    throw py::value_error(op + ": groups must be positive, got " + std::to_string(a.groups));
  if (a.stride[0] < 1 || a.stride[1] < 1)
    throw py::value_error(op + ": stride must be positive, got " + pair_str(a.stride));
  if (a.dilation[0] < 1 || a.dilation[1] < 1)
    throw py::value_error(op + ": dilation must be positive, got " + pair_str(a.dilation));
  if (a.padding[0] < 0 || a.padding[1] < 0)
    throw py::value_error(op + ": padding must be non-negative, got " + pair_str(a.padding));
  for (int d = 0; d < 4; ++d)
    if (x[d] < 0 || w[d] < 0) throw py::value_error(op + ": negative size in " + shapes);
  if (x[1] < 1 || w[0] < 1 || w[2] < 1 || w[3] < 1)
    throw py::value_error(op + ": channels and kernel sizes must be positive, got " + shapes);
  if (x[1] % a.groups != 0 || w[0] % a.groups != 0)
    throw py::value_error(op + ": input channels (" + std::to_string(x[1]) +
                          ") and output channels (" + std::to_string(w[0]) +
                          ") must both be divisible by groups=" + std::to_string(a.groups) +
                          ", got " + shapes);
  if (w[1] != x[1] / a.groups)
    throw py::value_error(op + ": weight expects " + std::to_string(w[1]) +
                          " input channels per group but the input has " +
                          std::to_string(x[1]) + " channels in " + std::to_string(a.groups) +
                          " group(s) (expected weight.shape[1] == " +
                          std::to_string(x[1] / a.groups) + "), got " + shapes);
  ember::cpu::Conv2dParams p;
  p.batch = x[0];
  p.in_channels = x[1];
  p.in_h = x[2];
  p.in_w = x[3];
  p.out_channels = w[0];
  p.kernel_h = w[2];
  p.kernel_w = w[3];
  p.stride_h = a.stride[0];
  p.stride_w = a.stride[1];
  p.pad_h = a.padding[0];
  p.pad_w = a.padding[1];
  p.dilation_h = a.dilation[0];
  p.dilation_w = a.dilation[1];
  p.groups = a.groups;
  p.out_h = ember::cpu::conv2d_out_size(p.in_h, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h);
  p.out_w = ember::cpu::conv2d_out_size(p.in_w, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w);
  if (p.out_h < 1 || p.out_w < 1)
    throw py::value_error(
        op + ": the output would be empty (" + std::to_string(p.out_h) + " x " +
        std::to_string(p.out_w) + "): the dilated kernel (" +
        std::to_string(p.dilation_h * (p.kernel_h - 1) + 1) + " x " +
        std::to_string(p.dilation_w * (p.kernel_w - 1) + 1) +
        ") is larger than the padded input (" + std::to_string(p.in_h + 2 * p.pad_h) + " x " +
        std::to_string(p.in_w + 2 * p.pad_w) + "); " + shapes + ", padding " +
        pair_str(a.padding) + ", dilation " + pair_str(a.dilation));
  return p;
}

// The GEMM micro-kernel a fast conv uses: "auto", "avx512", "avx2" or "generic" (tests).
ember::cpu::GemmIsa conv_isa(const std::string& op, const std::string& kernel) {
  ember::cpu::GemmIsa isa;
  if (!ember::cpu::gemm_parse_isa(kernel, &isa))
    throw py::value_error(op + ": unknown kernel '" + kernel +
                          "' (expected 'auto', 'avx512', 'avx2' or 'generic')");
  if (isa != ember::cpu::GemmIsa::automatic) {
    const auto isas = ember::cpu::gemm_available_isas();
    if (std::find(isas.begin(), isas.end(), isa) == isas.end())
      throw py::value_error(op + ": kernel '" + kernel + "' is not available on this CPU");
  }
  return isa;
}

Shape out_shape(const ember::cpu::Conv2dParams& p) {
  return {p.batch, p.out_channels, p.out_h, p.out_w};
}

void check_dy(const std::string& op, const py::array& dy, const ember::cpu::Conv2dParams& p) {
  if (shape_of(dy) != out_shape(p))
    throw py::value_error(op + ": grad_output has shape " + shape_str(shape_of(dy)) +
                          " but the convolution's output has shape " +
                          shape_str(out_shape(p)));
}

Shape shape_arg(const std::string& op, const Shape& s, const char* what) {
  if (s.size() != 4)
    throw py::value_error(op + ": " + what + " must have 4 entries, got " + shape_str(s));
  return s;
}

// y = conv2d(x, w) + bias by the fast kernel or the reference.
template <bool Reference>
py::array conv2d_forward_binding(const py::array& x, const py::array& w, const Pair& stride,
                                 const Pair& padding, const Pair& dilation, int64_t groups,
                                 const std::string& kernel,
                                 const std::optional<py::array>& bias) {
  const std::string op = Reference ? "conv2d_reference" : "conv2d";
  auto p = conv_params(op, shape_of(x), shape_of(w), {stride, padding, dilation, groups});
  p.isa = conv_isa(op, kernel);
  const bool f32 = check_float_pair(op, x, "input", w, "weight");
  if (bias && (bias->ndim() != 1 || bias->shape(0) != p.out_channels ||
               is_f32(*bias) != f32 || !(is_f32(*bias) || is_f64(*bias))))
    throw py::value_error(op + ": bias has " + describe(*bias) + " but the weight " +
                          describe(w) + " needs (" + std::to_string(p.out_channels) +
                          ",) of its dtype (one per output channel)");
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto xc = CArray<T>::ensure(x);
    auto wc = CArray<T>::ensure(w);
    std::optional<CArray<T>> bc;
    if (bias) bc = CArray<T>::ensure(*bias);
    const T* bp = bc ? bc->data() : nullptr;
    py::array_t<T> y(out_shape(p));
    T* out = y.mutable_data();
    {
      py::gil_scoped_release release;
      if (Reference)
        ember::cpu::conv2d_forward_reference(p, xc.data(), wc.data(), bp, out);
      else
        ember::cpu::conv2d_forward(p, xc.data(), wc.data(), bp, out);
    }
    return y;
  };
  return f32 ? run(float{}) : run(double{});
}

// out (of out_shape) = kernel(a, b, out) on C-contiguous copies of two operands of one float
// dtype (float32 when f32), run without the GIL.
template <typename Kernel>
py::array run_two(bool f32, const py::array& a, const py::array& b, const Shape& out_shape,
                  Kernel kernel) {
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto ac = CArray<T>::ensure(a);
    auto bc = CArray<T>::ensure(b);
    py::array_t<T> out(out_shape);
    T* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      kernel(ac.data(), bc.data(), o);
    }
    return out;
  };
  return f32 ? run(float{}) : run(double{});
}

// dx = conv2d_backward_data(dy, w): the gradient wrt an input of shape input_shape.
template <bool Reference>
py::array conv2d_backward_data_binding(const py::array& dy, const py::array& w,
                                       const Shape& input_shape, const Pair& stride,
                                       const Pair& padding, const Pair& dilation,
                                       int64_t groups, const std::string& kernel) {
  const std::string op = Reference ? "conv2d_backward_data_reference" : "conv2d_backward_data";
  const Shape xs = shape_arg(op, input_shape, "input_shape");
  check_ndim4(op, shape_of(dy), "grad_output", "(N, C_out, OH, OW)");
  auto p = conv_params(op, xs, shape_of(w), {stride, padding, dilation, groups});
  p.isa = conv_isa(op, kernel);
  check_dy(op, dy, p);
  const bool f32 = check_float_pair(op, dy, "grad_output", w, "weight");
  return run_two(f32, dy, w, xs, [&](const auto* a, const auto* b, auto* out) {
    Reference ? ember::cpu::conv2d_backward_data_reference(p, a, b, out)
              : ember::cpu::conv2d_backward_data(p, a, b, out);
  });
}

// dw = conv2d_backward_weight(dy, x): the gradient wrt a weight of shape weight_shape.
template <bool Reference>
py::array conv2d_backward_weight_binding(const py::array& dy, const py::array& x,
                                         const Shape& weight_shape, const Pair& stride,
                                         const Pair& padding, const Pair& dilation,
                                         int64_t groups, const std::string& kernel) {
  const std::string op =
      Reference ? "conv2d_backward_weight_reference" : "conv2d_backward_weight";
  const Shape ws = shape_arg(op, weight_shape, "weight_shape");
  check_ndim4(op, shape_of(dy), "grad_output", "(N, C_out, OH, OW)");
  auto p = conv_params(op, shape_of(x), ws, {stride, padding, dilation, groups});
  p.isa = conv_isa(op, kernel);
  check_dy(op, dy, p);
  const bool f32 = check_float_pair(op, dy, "grad_output", x, "input");
  return run_two(f32, dy, x, ws, [&](const auto* a, const auto* b, auto* out) {
    Reference ? ember::cpu::conv2d_backward_weight_reference(p, a, b, out)
              : ember::cpu::conv2d_backward_weight(p, a, b, out);
  });
}

// ---------------------------------------------------------------------------------------
// pooling
// ---------------------------------------------------------------------------------------

// Validates a pooling configuration for a 4-d input shape and returns the kernel params.
ember::cpu::Pool2dParams pool_params(const std::string& op, const Shape& x, const Pair& kernel,
                                     const Pair& stride, const Pair& padding,
                                     const Pair& dilation, bool ceil_mode) {
  check_ndim4(op, x, "input", "(N, C, H, W)");
  for (int d = 0; d < 4; ++d)
    if (x[d] < 0) throw py::value_error(op + ": negative size in input " + shape_str(x));
  if (kernel[0] < 1 || kernel[1] < 1)
    throw py::value_error(op + ": kernel_size must be positive, got " + pair_str(kernel));
  if (stride[0] < 1 || stride[1] < 1)
    throw py::value_error(op + ": stride must be positive, got " + pair_str(stride));
  if (dilation[0] < 1 || dilation[1] < 1)
    throw py::value_error(op + ": dilation must be positive, got " + pair_str(dilation));
  if (padding[0] < 0 || padding[1] < 0 || padding[0] > kernel[0] / 2 ||
      padding[1] > kernel[1] / 2)
    throw py::value_error(op + ": padding must be non-negative and at most half the kernel "
                          "size, got padding " + pair_str(padding) + " for kernel_size " +
                          pair_str(kernel));
  ember::cpu::Pool2dParams p;
  p.planes = x[0] * x[1];
  p.in_h = x[2];
  p.in_w = x[3];
  p.kernel_h = kernel[0];
  p.kernel_w = kernel[1];
  p.stride_h = stride[0];
  p.stride_w = stride[1];
  p.pad_h = padding[0];
  p.pad_w = padding[1];
  p.dilation_h = dilation[0];
  p.dilation_w = dilation[1];
  p.out_h = ember::cpu::pool2d_out_size(p.in_h, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h,
                                        ceil_mode);
  p.out_w = ember::cpu::pool2d_out_size(p.in_w, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w,
                                        ceil_mode);
  if (p.out_h < 1 || p.out_w < 1)
    throw py::value_error(op + ": the output would be empty (" + std::to_string(p.out_h) +
                          " x " + std::to_string(p.out_w) + ") for input " + shape_str(x) +
                          ", kernel_size " + pair_str(kernel) + ", padding " +
                          pair_str(padding) + ", dilation " + pair_str(dilation) +
                          ": the input is smaller than the window");
  return p;
}

Shape pool_out_shape(const Shape& x, const ember::cpu::Pool2dParams& p) {
  return {x[0], x[1], p.out_h, p.out_w};
}

void check_pool_dy(const std::string& op, const py::array& dy, const Shape& expected) {
  if (shape_of(dy) != expected)
    throw py::value_error(op + ": grad_output has shape " + shape_str(shape_of(dy)) +
                          " but the pooling's output has shape " + shape_str(expected));
}

py::tuple max_pool2d_binding(const py::array& x, const Pair& kernel, const Pair& stride,
                             const Pair& padding, const Pair& dilation, bool ceil_mode) {
  const std::string op = "max_pool2d";
  check_float(op, x);
  const Shape xs = shape_of(x);
  const auto p = pool_params(op, xs, kernel, stride, padding, dilation, ceil_mode);
  auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    auto xc = CArray<T>::ensure(x);
    py::array_t<T> y(pool_out_shape(xs, p));
    py::array_t<int64_t> idx(pool_out_shape(xs, p));
    T* yp = y.mutable_data();
    int64_t* ip = idx.mutable_data();
    {
      py::gil_scoped_release release;
      ember::cpu::max_pool2d_forward(p, xc.data(), yp, ip);
    }
    return py::make_tuple(y, idx);
  };
  return is_f32(x) ? run(float{}) : run(double{});
}

py::array max_pool2d_backward_binding(const py::array& dy, const py::array& indices,
                                      const Shape& input_shape) {
  const std::string op = "max_pool2d_backward";
  check_float(op, dy);
  const Shape xs = shape_arg(op, input_shape, "input_shape");
  check_ndim4(op, shape_of(dy), "grad_output", "(N, C, OH, OW)");
  if (!py::isinstance<py::array_t<int64_t>>(indices))
    throw py::type_error(op + ": indices must be int64, got " + describe(indices));
  if (shape_of(indices) != shape_of(dy) || xs[0] != shape_of(dy)[0] || xs[1] != shape_of(dy)[1])
    throw py::value_error(op + ": grad_output " + describe(dy) + " and indices " +
                          describe(indices) + " must have the same shape (N, C, OH, OW) "
                          "matching input_shape " + shape_str(xs));
  for (int d = 0; d < 4; ++d)
    if (xs[d] < 0) throw py::value_error(op + ": negative size in input_shape " + shape_str(xs));
  ember::cpu::Pool2dParams p;
  p.planes = xs[0] * xs[1];
  p.in_h = xs[2];
  p.in_w = xs[3];
  p.out_h = shape_of(dy)[2];
  p.out_w = shape_of(dy)[3];
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto dyc = CArray<T>::ensure(dy);
    auto ic = CArray<int64_t>::ensure(indices);
    py::array_t<T> dx(xs);
    T* out = dx.mutable_data();
    {
      py::gil_scoped_release release;
      ember::cpu::max_pool2d_backward(p, dyc.data(), ic.data(), out);
    }
    return dx;
  };
  return is_f32(dy) ? run(float{}) : run(double{});
}

py::array avg_pool2d_binding(const py::array& x, const Pair& kernel, const Pair& stride,
                             const Pair& padding, bool ceil_mode, bool count_include_pad,
                             int64_t divisor_override) {
  const std::string op = "avg_pool2d";
  check_float(op, x);
  if (divisor_override < 0)
    throw py::value_error(op + ": divisor_override must be positive (or 0 for none), got " +
                          std::to_string(divisor_override));
  const Shape xs = shape_of(x);
  const auto p = pool_params(op, xs, kernel, stride, padding, {1, 1}, ceil_mode);
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto xc = CArray<T>::ensure(x);
    py::array_t<T> y(pool_out_shape(xs, p));
    T* yp = y.mutable_data();
    {
      py::gil_scoped_release release;
      ember::cpu::avg_pool2d_forward(p, count_include_pad, divisor_override, xc.data(), yp);
    }
    return y;
  };
  return is_f32(x) ? run(float{}) : run(double{});
}

py::array avg_pool2d_backward_binding(const py::array& dy, const Shape& input_shape,
                                      const Pair& kernel, const Pair& stride,
                                      const Pair& padding, bool ceil_mode,
                                      bool count_include_pad, int64_t divisor_override) {
  const std::string op = "avg_pool2d_backward";
  check_float(op, dy);
  if (divisor_override < 0)
    throw py::value_error(op + ": divisor_override must be positive (or 0 for none), got " +
                          std::to_string(divisor_override));
  const Shape xs = shape_arg(op, input_shape, "input_shape");
  const auto p = pool_params(op, xs, kernel, stride, padding, {1, 1}, ceil_mode);
  check_pool_dy(op, dy, pool_out_shape(xs, p));
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto dyc = CArray<T>::ensure(dy);
    py::array_t<T> dx(xs);
    T* out = dx.mutable_data();
    {
      py::gil_scoped_release release;
      ember::cpu::avg_pool2d_backward(p, count_include_pad, divisor_override, dyc.data(), out);
    }
    return dx;
  };
  return is_f32(dy) ? run(float{}) : run(double{});
}

ember::cpu::Pool2dParams adaptive_params(const std::string& op, const Shape& x,
                                         const Pair& output_size) {
  check_ndim4(op, x, "input", "(N, C, H, W)");
  for (int d = 0; d < 4; ++d)
    if (x[d] < 0) throw py::value_error(op + ": negative size in input " + shape_str(x));
  if (output_size[0] < 1 || output_size[1] < 1)
    throw py::value_error(op + ": output_size must be positive, got " + pair_str(output_size));
  if (x[2] < 1 || x[3] < 1)
    throw py::value_error(op + ": the input's spatial size must be positive, got " +
                          shape_str(x));
  ember::cpu::Pool2dParams p;
  p.planes = x[0] * x[1];
  p.in_h = x[2];
  p.in_w = x[3];
  p.out_h = output_size[0];
  p.out_w = output_size[1];
  return p;
}

py::array adaptive_avg_pool2d_binding(const py::array& x, const Pair& output_size) {
  const std::string op = "adaptive_avg_pool2d";
  check_float(op, x);
  const Shape xs = shape_of(x);
  const auto p = adaptive_params(op, xs, output_size);
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto xc = CArray<T>::ensure(x);
    py::array_t<T> y(Shape{xs[0], xs[1], p.out_h, p.out_w});
    T* yp = y.mutable_data();
    {
      py::gil_scoped_release release;
      ember::cpu::adaptive_avg_pool2d_forward(p, xc.data(), yp);
    }
    return y;
  };
  return is_f32(x) ? run(float{}) : run(double{});
}

py::array adaptive_avg_pool2d_backward_binding(const py::array& dy, const Shape& input_shape) {
  const std::string op = "adaptive_avg_pool2d_backward";
  check_float(op, dy);
  const Shape xs = shape_arg(op, input_shape, "input_shape");
  check_ndim4(op, shape_of(dy), "grad_output", "(N, C, OH, OW)");
  const Shape ds = shape_of(dy);
  const auto p = adaptive_params(op, xs, {ds[2], ds[3]});
  check_pool_dy(op, dy, Shape{xs[0], xs[1], ds[2], ds[3]});
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto dyc = CArray<T>::ensure(dy);
    py::array_t<T> dx(xs);
    T* out = dx.mutable_data();
    {
      py::gil_scoped_release release;
      ember::cpu::adaptive_avg_pool2d_backward(p, dyc.data(), out);
    }
    return dx;
  };
  return is_f32(dy) ? run(float{}) : run(double{});
}

}  // namespace

void bind_conv(py::module_& m) {
  const Pair one{1, 1}, zero{0, 0};
  const char* conv_args_doc =
      "stride, padding (symmetric, per side), dilation: (h, w) pairs; groups: int.";

  m.def("conv2d_forward", &conv2d_forward_binding<false>, py::arg("x"), py::arg("w"),
        py::arg("stride") = one, py::arg("padding") = zero, py::arg("dilation") = one,
        py::arg("groups") = 1, py::kw_only(), py::arg("kernel") = "auto",
        py::arg("bias") = py::none(),
        (std::string("y = conv2d(x, w) + bias: x (N, C_in, H, W), w (C_out, C_in/groups, kH, "
                     "kW), bias (C_out,) or None, float32/float64, NCHW. Implicit GEMM on the "
                     "packed GEMM, multi-threaded. ") +
         conv_args_doc + " kernel forces the GEMM micro-kernel ('avx512', 'avx2', 'generic').")
            .c_str());
  m.def("conv2d_backward_data", &conv2d_backward_data_binding<false>, py::arg("dy"),
        py::arg("w"), py::arg("input_shape"), py::arg("stride") = one,
        py::arg("padding") = zero, py::arg("dilation") = one, py::arg("groups") = 1,
        py::kw_only(), py::arg("kernel") = "auto",
        "dx = conv_transpose(dy, w): the gradient of conv2d wrt its input (of input_shape).");
  m.def("conv2d_backward_weight", &conv2d_backward_weight_binding<false>, py::arg("dy"),
        py::arg("x"), py::arg("weight_shape"), py::arg("stride") = one,
        py::arg("padding") = zero, py::arg("dilation") = one, py::arg("groups") = 1,
        py::kw_only(), py::arg("kernel") = "auto",
        "dw = sum_n dy_n (cross-correlated with) x_n: the gradient of conv2d wrt its weight.");
  m.def("conv2d_reference",
        [](const py::array& x, const py::array& w, const Pair& s, const Pair& p, const Pair& d,
           int64_t g, const std::optional<py::array>& bias) {
          return conv2d_forward_binding<true>(x, w, s, p, d, g, "auto", bias);
        },
        py::arg("x"), py::arg("w"),
        py::arg("stride") = one, py::arg("padding") = zero, py::arg("dilation") = one,
        py::arg("groups") = 1, py::kw_only(), py::arg("bias") = py::none(),
        "conv2d by the direct 7-nested loops (slow, single-threaded; the tests' oracle).");
  m.def("conv2d_backward_data_reference",
        [](const py::array& dy, const py::array& w, const Shape& xs, const Pair& s,
           const Pair& p, const Pair& d, int64_t g) {
          return conv2d_backward_data_binding<true>(dy, w, xs, s, p, d, g, "auto");
        },
        py::arg("dy"),
        py::arg("w"), py::arg("input_shape"), py::arg("stride") = one,
        py::arg("padding") = zero, py::arg("dilation") = one, py::arg("groups") = 1,
        "conv2d_backward_data by the direct loops (slow; the tests' oracle).");
  m.def("conv2d_backward_weight_reference",
        [](const py::array& dy, const py::array& x, const Shape& ws, const Pair& s,
           const Pair& p, const Pair& d, int64_t g) {
          return conv2d_backward_weight_binding<true>(dy, x, ws, s, p, d, g, "auto");
        },
        py::arg("dy"), py::arg("x"), py::arg("weight_shape"), py::arg("stride") = one,
        py::arg("padding") = zero, py::arg("dilation") = one, py::arg("groups") = 1,
        "conv2d_backward_weight by the direct loops (slow; the tests' oracle).");

  m.def("max_pool2d", &max_pool2d_binding, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = zero, py::arg("dilation") = one,
        py::arg("ceil_mode") = false,
        "(values, int64 indices into each H*W plane) of 2-d max pooling of (N, C, H, W).");
  m.def("max_pool2d_backward", &max_pool2d_backward_binding, py::arg("dy"), py::arg("indices"),
        py::arg("input_shape"), "dx[n, c].flat[indices] += dy: max pooling's gradient.");
  m.def("avg_pool2d", &avg_pool2d_binding, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = zero, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
        "2-d average pooling of (N, C, H, W); divisor_override 0 means none.");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_binding, py::arg("dy"),
        py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding") = zero, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
        "The gradient of avg_pool2d wrt its input (of input_shape).");
  m.def("adaptive_avg_pool2d", &adaptive_avg_pool2d_binding, py::arg("x"),
        py::arg("output_size"), "Adaptive 2-d average pooling of (N, C, H, W) to output_size.");
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_binding, py::arg("dy"),
        py::arg("input_shape"), "The gradient of adaptive_avg_pool2d wrt its input.");
}
