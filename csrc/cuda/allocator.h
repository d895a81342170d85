// The caching device allocator behind every DeviceArray's Storage.
//
// cudaMalloc/cudaFree are slow (cudaFree synchronises the device), and a training loop
// frees and re-allocates the same sizes every step. So freed blocks are kept in per-device
// free lists keyed by their rounded size ("size classes", four per power of two: at most
// 25% waste) and handed out again. All work runs on the default stream, so a block freed
// on the host can be reused at once: the next kernel that writes it is queued after every
// kernel that still reads it.
//
// Out of memory: the cache is emptied and cudaMalloc retried once; then a RuntimeError
// names the requested size. Thread-safe (one mutex).
#pragma once

#include <cstddef>

namespace ember::cuda {

// The size class of a request: >= 512 bytes, rounded up to a quarter of its power of two.
size_t round_alloc_size(size_t bytes);

// A block of at least `bytes` on `device` (its size class is round_alloc_size(bytes)).
void* device_alloc(size_t bytes, int device);
// Return a block from device_alloc (never throws; it goes back to the cache).
void device_free(void* ptr, size_t bytes, int device) noexcept;

// cudaFree every cached (unused) block on every device.
void empty_cache();
// Bytes held by live arrays / bytes held from CUDA (live + cached), on `device`.
size_t memory_allocated(int device);
size_t memory_reserved(int device);

}  // namespace ember::cuda
