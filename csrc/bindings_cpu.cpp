// pybind11 bindings of the CPU kernels: the module `ember._C`.
//
// The Python ops check their arguments (ember/ops/*.py); the bindings keep only the checks
// that keep memory safe for a direct call (csrc/checks.h, shared with ember._cuda), so the
// kernels behind them can assume valid input (contiguous for erf; any element strides for
// matmul).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "binding_utils.h"
#include "cpu/gemm.h"

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif

namespace py = pybind11;

void bind_adam(py::module_& m);  // bindings_adam.cpp
void bind_conv(py::module_& m);  // bindings_conv.cpp
void bind_attention(py::module_& m);  // bindings_attention.cpp
void bind_rnn(py::module_& m);  // bindings_rnn.cpp
void bind_elementwise(py::module_& m);  // bindings_elementwise.cpp
void bind_norm(py::module_& m);  // bindings_norm.cpp

namespace {

// ---- matmul ----------------------------------------------------------------------------

// A kernel works on element strides; arrays whose byte strides are not whole elements,
// or whose data is misaligned (both only possible through unusual views of raw buffers),
// get one aligned copy here. Ordinary views, including negative and zero strides, don't.
py::array element_addressable(const py::array& a) {
  const auto itemsize = a.itemsize();
  bool ok = reinterpret_cast<std::uintptr_t>(a.data()) % static_cast<std::uintptr_t>(itemsize) == 0;
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    if (a.shape(d) > 1 && a.strides(d) % itemsize != 0) ok = false;
  return ok ? a : py::array(a.attr("copy")());
}

// Element stride of dimension d (0 for a dimension of size 1, whose stride is never used).
int64_t element_stride(const py::array& a, py::ssize_t d) {
  return a.shape(d) > 1 ? static_cast<int64_t>(a.strides(d) / a.itemsize()) : 0;
}

// Element offsets of every matrix of a (..., rows, cols) array in the flattened batch.
std::vector<int64_t> batch_offsets(const py::array& a, int64_t batch) {
  const py::ssize_t batch_dims = a.ndim() - 2;
  std::vector<int64_t> offsets(static_cast<size_t>(batch), 0);
  std::vector<py::ssize_t> index(static_cast<size_t>(batch_dims), 0);
  int64_t offset = 0;
  for (int64_t p = 0; p < batch; ++p) {
    offsets[static_cast<size_t>(p)] = offset;
    // Odometer increment of the batch index, last dimension fastest (C order).
    for (py::ssize_t d = batch_dims - 1; d >= 0; --d) {
      const int64_t stride = element_stride(a, d);
      if (++index[static_cast<size_t>(d)] < a.shape(d)) {
        offset += stride;
        break;
      }
      offset -= stride * (a.shape(d) - 1);
      index[static_cast<size_t>(d)] = 0;
    }
  }
  return offsets;
}

// Shared by matmul and matmul_reference: validate, describe the strided operands to the
// kernel, allocate C, and run `compute` without the GIL.
template <typename T, typename Compute>
py::array matmul_typed(const py::array& a_in, const py::array& b_in, int64_t batch,
                       Compute compute) {
  const py::array a = element_addressable(a_in), b = element_addressable(b_in);
  const py::ssize_t nd = a.ndim();
  std::vector<py::ssize_t> out_shape(a.shape(), a.shape() + nd);
  out_shape[static_cast<size_t>(nd - 1)] = b.shape(nd - 1);
  py::array_t<T> c(out_shape);

  const std::vector<int64_t> a_offsets = batch_offsets(a, batch);
  const std::vector<int64_t> b_offsets = batch_offsets(b, batch);
  ember::cpu::GemmBatch<T> p;
  p.batch = batch;
  p.m = a.shape(nd - 2);
  p.k = a.shape(nd - 1);
  p.n = b.shape(nd - 1);
  p.a = static_cast<const T*>(a.data());
  p.a_offsets = a_offsets.data();
  p.a_row_stride = element_stride(a, nd - 2);
  p.a_col_stride = element_stride(a, nd - 1);
  p.b = static_cast<const T*>(b.data());
  p.b_offsets = b_offsets.data();
  p.b_row_stride = element_stride(b, nd - 2);
  p.b_col_stride = element_stride(b, nd - 1);
  p.c = c.mutable_data();
  {
    py::gil_scoped_release release;
    compute(p);
  }
  return c;
}

template <typename Compute>
py::array matmul_dispatch(const py::array& a, const py::array& b, Compute compute) {
  const int64_t batch = ember::checks::require_matmul_operands(a, b);
  if (ember::checks::kind_of(a) == ember::checks::Kind::Float32)
    return matmul_typed<float>(a, b, batch, compute);
  return matmul_typed<double>(a, b, batch, compute);
}

ember::cpu::Isa parse_kernel(const std::string& name) {
  ember::cpu::Isa isa;
  if (!ember::cpu::parse_isa(name, &isa))
    ember::checks::fail_value("matmul", "unknown kernel '" + name +
                                            "', expected 'auto', 'avx512', 'avx2' or 'generic'");
  if (isa == ember::cpu::Isa::automatic) return isa;
  for (auto available : ember::cpu::gemm_available_isas())
    if (available == isa) return isa;
  ember::checks::fail_value("matmul", "kernel '" + name + "' is not available on this CPU/build");
}

py::array matmul_binding(const py::array& a, const py::array& b, const std::string& kernel) {
  const ember::cpu::Isa isa = parse_kernel(kernel);
  return matmul_dispatch(a, b, [isa](const auto& p) { ember::cpu::gemm(p, isa); });
}

py::array matmul_reference_binding(const py::array& a, const py::array& b) {
  return matmul_dispatch(a, b, [](const auto& p) { ember::cpu::gemm_reference(p); });
}

std::vector<std::string> gemm_kernels() {
  std::vector<std::string> names;
  for (auto isa : ember::cpu::gemm_available_isas()) names.emplace_back(ember::cpu::isa_name(isa));
  return names;
}

int num_threads() {
#if defined(EMBER_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "ember's native CPU kernels";
  // The boundary checks (checks.h) raise checks::TypeError for a wrong dtype.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ember::checks::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });
  bind_adam(m);
  bind_conv(m);
  bind_attention(m);
  bind_rnn(m);
  bind_elementwise(m);
  bind_norm(m);
  m.def("num_threads", &num_threads, "Number of OpenMP threads the kernels use.");
  m.def("matmul", &matmul_binding, py::arg("a"), py::arg("b"), py::kw_only(),
        py::arg("kernel") = "auto",
        "C = a @ b for (..., M, K) x (..., K, N) float32/float64 arrays with identical batch\n"
        "dimensions and any strides; returns a new C-contiguous (..., M, N) array. Packed,\n"
        "multi-threaded SIMD GEMM. `kernel` forces 'avx512', 'avx2' or 'generic' (tests).");
  m.def("matmul_reference", &matmul_reference_binding, py::arg("a"), py::arg("b"),
        "The same product by the plain triple loop (slow; the tests' oracle).");
  m.def("gemm_kernels", &gemm_kernels,
        "GEMM micro-kernels this build and CPU can run, best (the default) first.");
}
