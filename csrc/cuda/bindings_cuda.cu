// The `ember._cuda` module: DeviceArray and the CUDA backend's primitives, bound with
// pybind11. The kernels live in plain C++ files (kernels.h); this file only converts
// between Python and them. python/ember/backend/cuda.py builds NumPy's semantics
// (indexing rules, scalars, dtype promotion) on top of these functions.
//
// The GEMM, conv2d, attention and fused Adam modules register themselves through bind_gemm /
// bind_conv / bind_attention / bind_adam (gemm.cu, conv2d.cu, attention_bindings.cu, adam.cu).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "cuda/allocator.h"
#include "cuda/kernels.h"

namespace py = pybind11;
using namespace ember::cuda;

void bind_gemm(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_attention(pybind11::module_& m);
void bind_adam(pybind11::module_& m);

namespace {

DType dtype_from_py(const py::object& obj) {
  const py::dtype dt = py::dtype::from_args(obj);
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'b' && size == 1) return DType::Bool;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  throw TypeError("CUDA arrays hold bool, int64, float32 or float64, got " +
                  py::str(dt).cast<std::string>());
}

py::dtype dtype_to_py(DType t) {
  switch (t) {
    case DType::Bool: return py::dtype::of<bool>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Float32: return py::dtype::of<float>();
    case DType::Float64: return py::dtype::of<double>();
  }
  throw TypeError("unknown dtype");
}

py::tuple to_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

std::string repr(const DeviceArray& a) {
  return "<ember._cuda.DeviceArray shape=" + shape_str(a.shape()) + " dtype=" +
         dtype_name(a.dtype()) + " device=cuda:" + std::to_string(a.device()) + ">";
}

DeviceArray from_numpy(const py::array& arr) {
  if (!(arr.flags() & py::array::c_style))
    throw std::invalid_argument("from_numpy: the array must be C-contiguous "
                                "(numpy.ascontiguousarray it first)");
  const DType dt = dtype_from_py(arr.dtype());
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  return from_host(arr.data(), shape, dt);
}

py::array to_numpy(const DeviceArray& x) {
  py::array out(dtype_to_py(x.dtype()), x.shape());
  to_host(x, out.mutable_data());
  return out;
}

UnaryOp unary_op(const std::string& name) {
  static const std::pair<const char*, UnaryOp> table[] = {
      {"neg", UnaryOp::Neg},     {"exp", UnaryOp::Exp},         {"log", UnaryOp::Log},
      {"log1p", UnaryOp::Log1p}, {"sqrt", UnaryOp::Sqrt},       {"abs", UnaryOp::Abs},
      {"sign", UnaryOp::Sign},   {"sin", UnaryOp::Sin},         {"cos", UnaryOp::Cos},
      {"tanh", UnaryOp::Tanh},   {"sigmoid", UnaryOp::Sigmoid}, {"erf", UnaryOp::Erf},
      {"not", UnaryOp::LogicalNot}, {"gelu", UnaryOp::Gelu},  {"gelu_tanh", UnaryOp::GeluTanh}};
  for (const auto& [n, op] : table)
    if (name == n) return op;
  throw std::invalid_argument("unary: unknown op '" + name + "'");
}

BinaryOp binary_op(const std::string& name) {
  static const std::pair<const char*, BinaryOp> table[] = {
      {"add", BinaryOp::Add}, {"sub", BinaryOp::Sub},         {"mul", BinaryOp::Mul},
      {"div", BinaryOp::Div}, {"pow", BinaryOp::Pow},         {"maximum", BinaryOp::Maximum},
      {"minimum", BinaryOp::Minimum}, {"eq", BinaryOp::Eq},   {"ne", BinaryOp::Ne},
      {"lt", BinaryOp::Lt},   {"le", BinaryOp::Le},           {"gt", BinaryOp::Gt},
      {"ge", BinaryOp::Ge},   {"and", BinaryOp::And},         {"or", BinaryOp::Or},
      {"xor", BinaryOp::Xor},
      {"gelu_backward", BinaryOp::GeluBackward},
      {"gelu_tanh_backward", BinaryOp::GeluTanhBackward},
      {"relu_backward", BinaryOp::ReluBackward}};
  for (const auto& [n, op] : table)
    if (name == n) return op;
  throw std::invalid_argument("binary: unknown op '" + name + "'");
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  EMBER_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "ember's CUDA backend: device arrays and kernels (see ember/backend/cuda.py)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });

  // ---- devices and memory ----------------------------------------------------------------------
  m.def("device_count", &device_count, "Visible GPUs; 0 without a driver or GPU (never raises).");
  m.def("current_device", &current_device);
  m.def("set_device", [](int d) { EMBER_CUDA_CHECK(cudaSetDevice(d)); });
  m.def("synchronize", &synchronize, "Wait for every queued kernel (cudaDeviceSynchronize).");
  m.def("get_device_name", &device_name, py::arg("device") = 0);
  m.def("empty_cache", &empty_cache, "Return the allocator's cached blocks to CUDA.");
  m.def("memory_allocated", &memory_allocated, py::arg("device") = 0,
        "Bytes held by live arrays (size classes).");
  m.def("memory_reserved", &memory_reserved, py::arg("device") = 0,
        "Bytes held from CUDA: live plus cached.");
  m.def("round_alloc_size", &round_alloc_size, "The allocator's size class for a request.");

  // ---- the array -------------------------------------------------------------------------------
  py::class_<DeviceArray>(m, "DeviceArray",
                          "A strided view of device memory: shape, strides (in elements), dtype.")
      .def_property_readonly("shape", [](const DeviceArray& a) { return to_tuple(a.shape()); })
      .def_property_readonly("strides", [](const DeviceArray& a) { return to_tuple(a.strides()); },
                             "Strides in elements (not bytes); 0 on broadcast dimensions.")
      .def_property_readonly("ndim", &DeviceArray::ndim)
      .def_property_readonly("dtype", [](const DeviceArray& a) { return dtype_to_py(a.dtype()); })
      .def_property_readonly("size", &DeviceArray::numel)
      .def_property_readonly("offset", &DeviceArray::offset)
      .def_property_readonly("itemsize",
                             [](const DeviceArray& a) { return itemsize(a.dtype()); })
      .def_property_readonly("nbytes", [](const DeviceArray& a) {
        return static_cast<size_t>(a.numel()) * itemsize(a.dtype());
      })
      .def_property_readonly("device", &DeviceArray::device)
      .def_property_readonly("data_ptr", [](const DeviceArray& a) {
        return reinterpret_cast<uintptr_t>(a.data());
      })
      .def("is_contiguous", &DeviceArray::is_contiguous)
      .def_property_readonly("flags", [](const DeviceArray& a) {
        // the subset of numpy's ndarray.flags that ember reads (Tensor.is_contiguous)
        py::dict f;
        f["C_CONTIGUOUS"] = a.is_contiguous();
        f["c_contiguous"] = a.is_contiguous();
        return f;
      })
      .def("shares_storage", [](const DeviceArray& a, const DeviceArray& b) {
        return a.storage() == b.storage();
      })
      .def("__len__", [](const DeviceArray& a) {
        if (a.ndim() == 0) throw TypeError("len() of a 0-d array");
        return a.shape()[0];
      })
      .def("__repr__", &repr);

  m.def("empty", [](const Shape& shape, const py::object& dtype) {
    return empty(shape, dtype_from_py(dtype));
  }, py::arg("shape"), py::arg("dtype"));
  m.def("view", &make_view, py::arg("x"), py::arg("offset"), py::arg("shape"),
        py::arg("strides"), "A view of x's memory (offset and strides in elements, checked).");

  // ---- copies, casts, creation -----------------------------------------------------------------
  m.def("from_numpy", &from_numpy, "A new device array holding a C-contiguous numpy array.");
  m.def("to_numpy", &to_numpy, "A new numpy array with the values of any view.");
  m.def("copy_", &copy_, py::arg("dst"), py::arg("src"),
        "dst[...] = src (same shapes; casts dtype; any strides).");
  m.def("contiguous", &contiguous);
  m.def("astype", [](const DeviceArray& x, const py::object& dtype) {
    return astype(x, dtype_from_py(dtype));
  });
  m.def("fill_", &fill_, py::arg("dst"), py::arg("fvalue"), py::arg("ivalue"));
  m.def("arange", [](double start, double step, int64_t istart, int64_t istep, int64_t n,
                     const py::object& dtype) {
    return arange(start, step, istart, istep, n, dtype_from_py(dtype));
  });
  m.def("linspace", [](double start, double stop, int64_t n, const py::object& dtype) {
    return linspace(start, stop, n, dtype_from_py(dtype));
  });
  m.def("eye", [](int64_t n, int64_t k, const py::object& dtype) {
    return eye(n, k, dtype_from_py(dtype));
  });

  // ---- elementwise -----------------------------------------------------------------------------
  m.def("unary", [](const std::string& op, const DeviceArray& x) { return unary(unary_op(op), x); },
        "op in neg exp log log1p sqrt abs sign sin cos tanh sigmoid erf not gelu gelu_tanh.");
  m.def("softplus", [](const DeviceArray& x, double beta, double threshold) {
    return unary(UnaryOp::Softplus, x, beta, threshold);
  });
  m.def("binary", [](const std::string& op, const DeviceArray& a, const DeviceArray& b) {
    return binary(binary_op(op), a, b);
  }, "op in add sub mul div pow maximum minimum eq ne lt le gt ge and or xor, and the fused "
     "activations' backward gelu_backward gelu_tanh_backward relu_backward (a = the incoming "
     "gradient); broadcasts.");
  m.def("where", &where);

  // ---- layer normalisation ---------------------------------------------------------------------
  m.def("layer_norm_forward", &layer_norm_forward, py::arg("x"), py::arg("weight"),
        py::arg("bias"), py::arg("eps"),
        "LayerNorm over the last axis: (y, mean, rstd), mean/rstd of shape x.shape[:-1].");
  m.def("layer_norm_backward", &layer_norm_backward, py::arg("grad"), py::arg("x"),
        py::arg("weight"), py::arg("mean"), py::arg("rstd"),
        "(dx, dweight, dbias) of layer_norm_forward; dweight/dbias have shape (d,).");

  // ---- reductions ------------------------------------------------------------------------------
  m.def("reduce", [](const std::string& op, const DeviceArray& x, const Shape& axes,
                     bool keepdims) {
    const ReduceOp r = op == "sum" ? ReduceOp::Sum : op == "max" ? ReduceOp::Max
                       : op == "min" ? ReduceOp::Min
                                     : throw std::invalid_argument("reduce: unknown op " + op);
    return reduce(r, x, axes, keepdims);
  });
  m.def("arg_reduce", [](const std::string& op, const DeviceArray& x, int64_t axis,
                         bool keepdims) {
    if (op != "argmax" && op != "argmin")
      throw std::invalid_argument("arg_reduce: unknown op " + op);
    return arg_reduce(op == "argmax", x, axis, keepdims);
  }, "axis -1: over all elements.");

  // ---- indexing --------------------------------------------------------------------------------
  m.def("index", [](const std::string& mode, const DeviceArray& target, const DeviceArray& values,
                    const Shape& base_strides, const std::vector<DeviceArray>& idx,
                    const Shape& target_strides, const Shape& sizes) {
    const IndexMode md = mode == "gather" ? IndexMode::Gather : mode == "put" ? IndexMode::Put
                         : mode == "add" ? IndexMode::Add
                                         : throw std::invalid_argument("index: unknown mode " + mode);
    index_kernel(md, target, values, base_strides, idx, target_strides, sizes);
  }, py::arg("mode"), py::arg("target"), py::arg("values"), py::arg("base_strides"),
        py::arg("idx"), py::arg("target_strides"), py::arg("sizes"),
        "Gather/put/add through index arrays (see kernels.h: index_kernel).");

  // ---- random ----------------------------------------------------------------------------------
  m.def("rand", [](const Shape& shape, const py::object& dtype, uint64_t seed, uint64_t counter) {
    return rand_uniform(shape, dtype_from_py(dtype), seed, counter);
  });
  m.def("randn", [](const Shape& shape, const py::object& dtype, uint64_t seed, uint64_t counter) {
    return rand_normal(shape, dtype_from_py(dtype), seed, counter);
  });
  m.def("randint", &rand_int, py::arg("low"), py::arg("high"), py::arg("shape"), py::arg("seed"),
        py::arg("counter"));

  // ---- pooling (same names and arguments as ember._C's) ------------------------------------------
  m.def("max_pool2d", [](const DeviceArray& x, Pair k, Pair s, Pair p, Pair d, bool ceil_mode) {
    auto [y, idx] = max_pool2d(x, k, s, p, d, ceil_mode);
    return py::make_tuple(y, idx);
  }, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("ceil_mode"));
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("dy"), py::arg("indices"),
        py::arg("input_shape"));
  m.def("avg_pool2d", &avg_pool2d, py::arg("x"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        py::arg("divisor_override"));
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("dy"), py::arg("input_shape"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
        py::arg("count_include_pad"), py::arg("divisor_override"));
  m.def("adaptive_avg_pool2d", &adaptive_avg_pool2d, py::arg("x"), py::arg("output_size"));
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward, py::arg("dy"),
        py::arg("input_shape"));

  // ---- GEMM, convolution, attention, fused Adam ----------------------------------------------
  bind_gemm(m);
  bind_conv(m);
  bind_attention(m);
  bind_adam(m);
}
