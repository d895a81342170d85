// Kernels that check the CUDA emulator itself (tests/test_cuda_emulated.py): that it runs
// CUDA's execution model faithfully where ember's kernels rely on it, and that it reports the
// mistakes it promises to report. Plain CUDA: emulator.py translates it like csrc/cuda.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

// Runs a kernel on a device buffer of n floats initialised from `in`; returns the buffer.
template <typename Launch>
std::vector<float> on_device(const std::vector<float>& in, Launch launch) {
  float* d = nullptr;
  if (cudaMalloc(&d, in.size() * sizeof(float)) != cudaSuccess) throw std::runtime_error("malloc");
  cudaMemcpy(d, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice);
  launch(d);
  const cudaError_t err = cudaGetLastError();
  std::vector<float> out(in.size());
  cudaMemcpy(out.data(), d, in.size() * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d);
  if (err != cudaSuccess) throw std::runtime_error(cudaGetErrorName(err));
  return out;
}

// Reverses each block's slice through shared memory; the barrier is what makes it correct.
template <bool Sync>
__global__ void reverse_kernel(float* x) {
  __shared__ float tile[256];
  const unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
  tile[t] = x[base + t];
  if (Sync) __syncthreads();
  x[base + t] = tile[blockDim.x - 1 - t];
}

// Warp sum by xor shuffles, then one value per warp combined through shared memory.
__global__ void block_sum_kernel(float* x) {
  __shared__ float partial[32];
  const unsigned t = threadIdx.x;
  float v = x[t];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  if (t % 32 == 0) partial[t / 32] = v;
  __syncthreads();
  if (t == 0) {
    float s = 0;
    for (unsigned w = 0; w < blockDim.x / 32; ++w) s += partial[w];
    x[0] = s;
  }
}

// Width-limited shuffle: 16-lane segments exchange within themselves.
__global__ void segment_shuffle_kernel(float* x) {
  const unsigned t = threadIdx.x;
  x[t] = __shfl_xor_sync(0xffffffffu, x[t], 1, 16);
}

// Reads shared memory no thread has written: garbage on a GPU, NaN here.
__global__ void unwritten_shared_kernel(float* x) {
  __shared__ float s[64];
  x[blockIdx.x * blockDim.x + threadIdx.x] = s[threadIdx.x];
}

// Over the 48 KiB of static shared memory a block may have.
__global__ void too_much_shared_kernel(float* x) {
  __shared__ float big[13000];
  big[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  x[threadIdx.x] = big[threadIdx.x];
}

// Compiled for at most 64 threads per block.
__global__ void __launch_bounds__(64) bounded_kernel(float* x) { x[threadIdx.x] += 1.0f; }

// Threads of one block counting into one word.
__global__ void atomic_count_kernel(float* x) { atomicAdd(x, 1.0f); }

// Dynamic shared memory: each thread writes its slot, reads its neighbour's.
__global__ void dynamic_shared_kernel(float* x) {
  extern __shared__ float buf[];
  const unsigned t = threadIdx.x;
  buf[t] = x[t];
  __syncthreads();
  x[t] = buf[(t + 1) % blockDim.x];
}

// Half the block waits at a barrier the other half never reaches.
__global__ void divergent_barrier_kernel(float* x) {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
    x[threadIdx.x] = 1;
  } else {
    __shfl_xor_sync(0xffffffffu, x[threadIdx.x], 1);
  }
}

// Threads that return early no longer count at later barriers (as on the hardware).
__global__ void early_exit_kernel(float* x) {
  if (threadIdx.x >= 8) return;
  __shared__ float s[8];
  s[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  x[threadIdx.x] = s[7 - threadIdx.x];
}

// A 3-D grid and block: every thread writes its flattened global index.
__global__ void index_kernel(float* x) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  x[block * blockDim.x * blockDim.y * blockDim.z + thread] = static_cast<float>(
      block * blockDim.x * blockDim.y * blockDim.z + thread);
}

std::vector<float> run_kernel(const std::string& name, std::vector<float> x, int blocks,
                              int threads, int smem) {
  return on_device(x, [&](float* d) {
    const unsigned g = static_cast<unsigned>(blocks), b = static_cast<unsigned>(threads);
    if (name == "reverse") {
      reverse_kernel<true><<<g, b>>>(d);
    } else if (name == "reverse_unsynchronised") {
      reverse_kernel<false><<<g, b>>>(d);
    } else if (name == "block_sum") {
      block_sum_kernel<<<g, b>>>(d);
    } else if (name == "segment_shuffle") {
      segment_shuffle_kernel<<<g, b>>>(d);
    } else if (name == "unwritten_shared") {
      unwritten_shared_kernel<<<g, b>>>(d);
    } else if (name == "too_much_shared") {
      too_much_shared_kernel<<<g, b>>>(d);
    } else if (name == "bounded") {
      bounded_kernel<<<g, b>>>(d);
    } else if (name == "atomic_count") {
      atomic_count_kernel<<<g, b>>>(d);
    } else if (name == "dynamic_shared") {
      dynamic_shared_kernel<<<g, b, static_cast<size_t>(smem)>>>(d);
    } else if (name == "dynamic_shared_opt_in") {
      if (cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               smem) != cudaSuccess)
        throw std::runtime_error("cudaFuncSetAttribute refused");
      dynamic_shared_kernel<<<g, b, static_cast<size_t>(smem)>>>(d);
    } else if (name == "divergent_barrier") {
      divergent_barrier_kernel<<<g, b>>>(d);
    } else if (name == "early_exit") {
      early_exit_kernel<<<g, b>>>(d);
    } else if (name == "index_3d") {
      index_kernel<<<dim3(g, 2, 3), dim3(b, 2, 2)>>>(d);
    } else {
      throw std::invalid_argument("no kernel " + name);
    }
  });
}

}  // namespace

PYBIND11_MODULE(_emulator_selftest, m) {
  m.def("run", &run_kernel, py::arg("name"), py::arg("x"), py::arg("blocks") = 1,
        py::arg("threads") = 32, py::arg("smem") = 0,
        "Runs one of this file's kernels on x; launch errors raise RuntimeError.");
}
