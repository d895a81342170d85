// The caching device allocator (see allocator.h) and DeviceArray's Storage.
#include "cuda/allocator.h"

#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/device_array.h"

namespace ember::cuda {

namespace {

// Makes `device` current for a scope and restores the previous one.
struct DeviceGuard {
  int prev = -1;
  explicit DeviceGuard(int device) {
    EMBER_CUDA_CHECK(cudaGetDevice(&prev));
    if (prev != device) EMBER_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() {
    int now = -1;
    if (cudaGetDevice(&now) == cudaSuccess && now != prev && prev >= 0) cudaSetDevice(prev);
  }
};

struct DeviceCache {
  std::map<size_t, std::vector<void*>> free_blocks;  // size class -> unused blocks
  size_t allocated = 0;  // bytes (size classes) in live Storage objects
  size_t reserved = 0;   // bytes obtained from cudaMalloc and not yet cudaFree'd
};

class CachingAllocator {
 public:
  void* allocate(size_t bytes, int device) {
    void* ptr = take_block(bytes, device);
    EMBER_CUDA_EMULATOR_HOOK(block_handed_out(ptr, bytes, round_alloc_size(bytes)));
    return ptr;
  }

  void release(void* ptr, size_t bytes, int device) noexcept {
    if (ptr == nullptr) return;
    EMBER_CUDA_EMULATOR_HOOK(block_returned(ptr, round_alloc_size(bytes)));
    try {
      const size_t size = round_alloc_size(bytes);
      std::lock_guard<std::mutex> lock(mu_);
      DeviceCache& cache = devices_[device];
      cache.free_blocks[size].push_back(ptr);
      cache.allocated -= size;
    } catch (...) {
      // Only a failed lock or push_back can get here; losing one block beats terminating.
    }
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [device, cache] : devices_) free_cached(device, cache);
  }

  size_t allocated(int device) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = devices_.find(device);
    return it == devices_.end() ? 0 : it->second.allocated;
  }

  size_t reserved(int device) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = devices_.find(device);
    return it == devices_.end() ? 0 : it->second.reserved;
  }

 private:
  // A cached block of the size class of `bytes`, or a new one from cudaMalloc (after emptying
  // the cache once if the GPU is full).
  void* take_block(size_t bytes, int device) {
    const size_t size = round_alloc_size(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    DeviceCache& cache = devices_[device];
    auto it = cache.free_blocks.find(size);
    if (it != cache.free_blocks.end() && !it->second.empty()) {
      void* ptr = it->second.back();
      it->second.pop_back();
      cache.allocated += size;
      return ptr;
    }
    DeviceGuard guard(device);
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error before retrying
      free_cached(device, cache);
      err = cudaMalloc(&ptr, size);
      if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        std::ostringstream msg;
        msg << "CUDA out of memory: tried to allocate " << bytes << " bytes ("
            << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB) on cuda:" << device
            << "; " << cache.allocated << " bytes are allocated by ember arrays and "
            << cache.reserved << " bytes reserved (the cache was emptied and the allocation "
            << "retried once)";
        throw std::runtime_error(msg.str());
      }
    }
    if (err != cudaSuccess) throw_cuda_error(err, "cudaMalloc(&ptr, size)", __FILE__, __LINE__);
    cache.allocated += size;
    cache.reserved += size;
    return ptr;
  }

  // cudaFree every cached block of one device (caller holds mu_).
  void free_cached(int device, DeviceCache& cache) {
    DeviceGuard guard(device);
    for (auto& [size, blocks] : cache.free_blocks) {
      for (void* p : blocks) {
        EMBER_CUDA_CHECK(cudaFree(p));
        cache.reserved -= size;
      }
      blocks.clear();
    }
    cache.free_blocks.clear();
  }

  std::mutex mu_;
  std::unordered_map<int, DeviceCache> devices_;
};

// Deliberately never destroyed: arrays may outlive static destruction at interpreter exit,
// and cudaFree after the CUDA runtime has shut down would fail anyway (the OS reclaims it).
CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator();
  return *instance;
}

}  // namespace

size_t round_alloc_size(size_t bytes) {
  if (bytes <= 512) return 512;
  // 2^k < bytes <= 2^(k+1): round up to a multiple of 2^k / 4
  int k = 63;
  const unsigned long long b = static_cast<unsigned long long>(bytes - 1);
  while (k > 0 && !((b >> k) & 1ULL)) --k;
  const size_t step = (static_cast<size_t>(1) << k) / 4;
  return (bytes + step - 1) / step * step;
}

void* device_alloc(size_t bytes, int device) { return allocator().allocate(bytes, device); }

void device_free(void* ptr, size_t bytes, int device) noexcept {
  allocator().release(ptr, bytes, device);
}

void empty_cache() { allocator().empty_cache(); }
size_t memory_allocated(int device) { return allocator().allocated(device); }
size_t memory_reserved(int device) { return allocator().reserved(device); }

// ---- Storage (device_array.h) -------------------------------------------------------------
Storage::Storage(size_t bytes_, int device_) : bytes(bytes_), device(device_) {
  ptr = device_alloc(bytes, device);
}

Storage::~Storage() { device_free(ptr, bytes, device); }

}  // namespace ember::cuda
