// pybind11 bindings of the convolution and pooling kernels (part of `ember._C`).
//
// The Python ops (ember/ops/conv.py, ops/pool.py) check their arguments; these bindings
// keep the boundary's memory-safety checks (csrc/checks.h, shared with the CUDA module's
// conv2d.cu and pool.cu), so the kernels (cpu/conv2d.h, cpu/pool2d.h) can assume consistent
// shapes. Inputs of any strides are accepted (copied to C order when needed); the GIL is
// released while the kernels run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "binding_utils.h"
#include "cpu/conv2d.h"
#include "cpu/pool2d.h"

namespace py = pybind11;

namespace {

using namespace ember::checks;

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// ---------------------------------------------------------------------------------------
// conv2d
// ---------------------------------------------------------------------------------------

struct ConvArgs {
  Pair stride, padding, dilation;
  int64_t groups;
};

// The kernel's params from the boundary's geometry check (checks.h, shared with ember._cuda).
ember::cpu::Conv2dParams conv_params(const std::string& op, const Shape& x, const Shape& w,
                                     const ConvArgs& a) {
  const ConvGeometry g = conv2d_geometry(op, x, w, a.stride, a.padding, a.dilation, a.groups);
  ember::cpu::Conv2dParams p;
  p.batch = g.batch;
  p.in_channels = g.in_channels;
  p.in_h = g.in_h;
  p.in_w = g.in_w;
  p.out_channels = g.out_channels;
  p.kernel_h = g.kernel_h;
  p.kernel_w = g.kernel_w;
  p.stride_h = g.stride[0];
  p.stride_w = g.stride[1];
  p.pad_h = g.padding[0];
  p.pad_w = g.padding[1];
  p.dilation_h = g.dilation[0];
  p.dilation_w = g.dilation[1];
  p.groups = g.groups;
  p.out_h = g.out_h;
  p.out_w = g.out_w;
  return p;
}

// The GEMM micro-kernel a fast conv uses: "auto", "avx512", "avx2" or "generic" (tests).
ember::cpu::Isa conv_isa(const std::string& op, const std::string& kernel) {
  ember::cpu::Isa isa;
  if (!ember::cpu::parse_isa(kernel, &isa))
    fail_value(op, "unknown kernel '" + kernel + "' (expected 'auto', 'avx512', 'avx2' or 'generic')");
  if (isa != ember::cpu::Isa::automatic) {
    const auto isas = ember::cpu::gemm_available_isas();
    if (std::find(isas.begin(), isas.end(), isa) == isas.end())
      fail_value(op, "kernel '" + kernel + "' is not available on this CPU");
  }
  return isa;
}

Shape out_shape(const ember::cpu::Conv2dParams& p) {
  return {p.batch, p.out_channels, p.out_h, p.out_w};
}

void check_dy(const std::string& op, const py::array& dy, const ember::cpu::Conv2dParams& p) {
  if (shape_of(dy) != out_shape(p))
    fail_value(op, "grad_output has shape " + shape_str(shape_of(dy)) +
                       " but the convolution's output has shape " + shape_str(out_shape(p)));
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
  const bool f32 = require_same_float(op, "input", x, "weight", w);
  if (bias && (shape_of(*bias) != Shape{p.out_channels} || kind_of(*bias) != kind_of(w)))
    fail_value(op, "bias has " + describe(*bias) + " but the weight " + describe(w) + " needs (" +
                       std::to_string(p.out_channels) + ",) of its dtype (one per output channel)");
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
  const Shape& xs = require_shape_arg(op, "input_shape", input_shape, 4);
  auto p = conv_params(op, xs, shape_of(w), {stride, padding, dilation, groups});
  p.isa = conv_isa(op, kernel);
  check_dy(op, dy, p);
  const bool f32 = require_same_float(op, "grad_output", dy, "weight", w);
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
  const Shape& ws = require_shape_arg(op, "weight_shape", weight_shape, 4);
  auto p = conv_params(op, shape_of(x), ws, {stride, padding, dilation, groups});
  p.isa = conv_isa(op, kernel);
  check_dy(op, dy, p);
  const bool f32 = require_same_float(op, "grad_output", dy, "input", x);
  return run_two(f32, dy, x, ws, [&](const auto* a, const auto* b, auto* out) {
    Reference ? ember::cpu::conv2d_backward_weight_reference(p, a, b, out)
              : ember::cpu::conv2d_backward_weight(p, a, b, out);
  });
}

// ---------------------------------------------------------------------------------------
// pooling
// ---------------------------------------------------------------------------------------

// The kernel's params from the boundary's geometry check (checks.h, shared with ember._cuda).
ember::cpu::Pool2dParams pool_params(const PoolGeometry& g) {
  ember::cpu::Pool2dParams p;
  p.planes = g.planes;
  p.in_h = g.in_h;
  p.in_w = g.in_w;
  p.out_h = g.out_h;
  p.out_w = g.out_w;
  p.kernel_h = g.kernel[0];
  p.kernel_w = g.kernel[1];
  p.stride_h = g.stride[0];
  p.stride_w = g.stride[1];
  p.pad_h = g.padding[0];
  p.pad_w = g.padding[1];
  p.dilation_h = g.dilation[0];
  p.dilation_w = g.dilation[1];
  return p;
}

ember::cpu::Pool2dParams pool_params(const std::string& op, const Shape& x, const Pair& kernel,
                                     const Pair& stride, const Pair& padding,
                                     const Pair& dilation, bool ceil_mode) {
  return pool_params(pool2d_geometry(op, x, kernel, stride, padding, dilation, ceil_mode));
}

Shape pool_out_shape(const Shape& x, const ember::cpu::Pool2dParams& p) {
  return {x[0], x[1], p.out_h, p.out_w};
}

void check_pool_dy(const std::string& op, const py::array& dy, const Shape& expected) {
  if (shape_of(dy) != expected)
    fail_value(op, "grad_output has shape " + shape_str(shape_of(dy)) +
                       " but the pooling's output has shape " + shape_str(expected));
}

template <bool Reference>
py::tuple max_pool2d_binding(const py::array& x, const Pair& kernel, const Pair& stride,
                             const Pair& padding, const Pair& dilation, bool ceil_mode) {
  const std::string op = "max_pool2d";
  require_float(op, "input", x);
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
      if (Reference) ember::cpu::max_pool2d_forward_reference<T>(p, xc.data(), yp, ip);
      else ember::cpu::max_pool2d_forward(p, xc.data(), yp, ip);
    }
    return py::make_tuple(y, idx);
  };
  return kind_of(x) == Kind::Float32 ? run(float{}) : run(double{});
}

py::array max_pool2d_backward_binding(const py::array& dy, const py::array& indices,
                                      const Shape& input_shape) {
  const std::string op = "max_pool2d_backward";
  require_float(op, "grad_output", dy);
  const Shape& xs = require_shape_arg(op, "input_shape", input_shape, 4);
  require_ndim(op, "grad_output", dy, 4, "(N, C, OH, OW)");
  require_kind(op, "indices", indices, Kind::Int64, "int64");
  if (shape_of(indices) != shape_of(dy) || xs[0] != shape_of(dy)[0] || xs[1] != shape_of(dy)[1])
    fail_value(op, "grad_output " + describe(dy) + " and indices " + describe(indices) +
                       " must have the same shape (N, C, OH, OW) matching input_shape " +
                       shape_str(xs));
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
  return kind_of(dy) == Kind::Float32 ? run(float{}) : run(double{});
}

template <bool Reference>
py::array avg_pool2d_binding(const py::array& x, const Pair& kernel, const Pair& stride,
                             const Pair& padding, bool ceil_mode, bool count_include_pad,
                             int64_t divisor_override) {
  const std::string op = "avg_pool2d";
  require_float(op, "input", x);
  if (divisor_override < 0)
    fail_value(op, "divisor_override must be positive (or 0 for none), got " +
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
      if (Reference)
        ember::cpu::avg_pool2d_forward_reference<T>(p, count_include_pad, divisor_override,
                                                    xc.data(), yp);
      else
        ember::cpu::avg_pool2d_forward(p, count_include_pad, divisor_override, xc.data(), yp);
    }
    return y;
  };
  return kind_of(x) == Kind::Float32 ? run(float{}) : run(double{});
}

py::array avg_pool2d_backward_binding(const py::array& dy, const Shape& input_shape,
                                      const Pair& kernel, const Pair& stride,
                                      const Pair& padding, bool ceil_mode,
                                      bool count_include_pad, int64_t divisor_override) {
  const std::string op = "avg_pool2d_backward";
  require_float(op, "grad_output", dy);
  if (divisor_override < 0)
    fail_value(op, "divisor_override must be positive (or 0 for none), got " +
                       std::to_string(divisor_override));
  const Shape& xs = require_shape_arg(op, "input_shape", input_shape, 4);
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
  return kind_of(dy) == Kind::Float32 ? run(float{}) : run(double{});
}

ember::cpu::Pool2dParams adaptive_params(const std::string& op, const Shape& x,
                                         const Pair& output_size) {
  return pool_params(adaptive_pool2d_geometry(op, x, output_size));
}

template <bool Reference>
py::array adaptive_avg_pool2d_binding(const py::array& x, const Pair& output_size) {
  const std::string op = "adaptive_avg_pool2d";
  require_float(op, "input", x);
  const Shape xs = shape_of(x);
  const auto p = adaptive_params(op, xs, output_size);
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    auto xc = CArray<T>::ensure(x);
    py::array_t<T> y(Shape{xs[0], xs[1], p.out_h, p.out_w});
    T* yp = y.mutable_data();
    {
      py::gil_scoped_release release;
      if (Reference) ember::cpu::adaptive_avg_pool2d_forward_reference<T>(p, xc.data(), yp);
      else ember::cpu::adaptive_avg_pool2d_forward(p, xc.data(), yp);
    }
    return y;
  };
  return kind_of(x) == Kind::Float32 ? run(float{}) : run(double{});
}

py::array adaptive_avg_pool2d_backward_binding(const py::array& dy, const Shape& input_shape) {
  const std::string op = "adaptive_avg_pool2d_backward";
  require_float(op, "grad_output", dy);
  const Shape& xs = require_shape_arg(op, "input_shape", input_shape, 4);
  require_ndim(op, "grad_output", dy, 4, "(N, C, OH, OW)");
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
  return kind_of(dy) == Kind::Float32 ? run(float{}) : run(double{});
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

  m.def("max_pool2d", &max_pool2d_binding<false>, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = zero, py::arg("dilation") = one,
        py::arg("ceil_mode") = false,
        "(values, int64 indices into each H*W plane) of 2-d max pooling of (N, C, H, W).");
  m.def("max_pool2d_backward", &max_pool2d_backward_binding, py::arg("dy"), py::arg("indices"),
        py::arg("input_shape"), "dx[n, c].flat[indices] += dy: max pooling's gradient.");
  m.def("avg_pool2d", &avg_pool2d_binding<false>, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = zero, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
        "2-d average pooling of (N, C, H, W); divisor_override 0 means none.");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_binding, py::arg("dy"),
        py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding") = zero, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
        "The gradient of avg_pool2d wrt its input (of input_shape).");
  m.def("adaptive_avg_pool2d", &adaptive_avg_pool2d_binding<false>, py::arg("x"),
        py::arg("output_size"), "Adaptive 2-d average pooling of (N, C, H, W) to output_size.");
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_binding, py::arg("dy"),
        py::arg("input_shape"), "The gradient of adaptive_avg_pool2d wrt its input.");
  m.def("max_pool2d_reference", &max_pool2d_binding<true>, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = zero, py::arg("dilation") = one,
        py::arg("ceil_mode") = false, "max_pool2d by plain loops (slow; the tests' oracle).");
  m.def("avg_pool2d_reference", &avg_pool2d_binding<true>, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = zero, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
        "avg_pool2d by plain loops (slow; the tests' oracle).");
  m.def("adaptive_avg_pool2d_reference", &adaptive_avg_pool2d_binding<true>, py::arg("x"),
        py::arg("output_size"), "adaptive_avg_pool2d by plain loops (slow; the tests' oracle).");
}
