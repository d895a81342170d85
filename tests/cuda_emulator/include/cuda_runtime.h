// CUDA on the CPU: just enough of the CUDA runtime and of the device-side language to compile
// ember's kernels (csrc/cuda) with g++ and run them, unchanged, in a test without a GPU.
//
// How a GPU runs a kernel, and how this file imitates it:
//
//   launch  kernel<<<grid, block, smem>>>(args)  ->  ::cuda_emu::launch(kernel, grid, block,
//           smem)(args)  (tests/cuda_emulator/translate.py rewrites the syntax). Blocks run one
//           after another; inside a block every GPU thread is a *fiber* (a ucontext with its
//           own stack), all on the calling OS thread.
//   __syncthreads()  the fiber parks at the block's barrier and the scheduler runs the other
//           fibers of the block until all live ones have arrived. A barrier that can never
//           complete (threads of the block waiting at different barriers) is reported as an
//           error, as are warp shuffles whose lanes disagree on the mask. Fibers are visited
//           in thread order, or reversed or shuffled (CUDA_EMU_SCHEDULE=reverse|shuffle).
//   __shared__  emulator.py rewrites each static shared array into a reference to a buffer of
//           the launch (static_shared), and extern __shared__ to the dynamic buffer; both are
//           refilled with NaN bytes for every block, so that a read before a write shows up
//           in the results, and their sizes are held to the hardware's limits. (`__shared__`
//           itself is `static`, for anything the translator does not rewrite.)
//   __shfl_xor_sync  each lane writes its value, the warp meets at a barrier, each lane reads
//           its partner's value, the warp meets again.
//   atomics  plain read-modify-write: only one fiber runs at any moment.
//   cudaMalloc  host memory, filled with 0xFF bytes (NaN for floats) as freshly allocated
//           device memory may hold anything; an emulated 8 GiB device runs out of memory.
//           ember's caching allocator refills every block it hands out, and under
//           AddressSanitizer makes a block's slack and released blocks unaddressable.
//   launch checks  block size (<= 1024 threads), grid limits and the dynamic shared memory
//           limit (48 KiB unless raised with cudaFuncSetAttribute, up to an H100's 227 KiB)
//           fail the launch with cudaGetLastError like a real GPU's; a kernel launched with
//           more threads than its __launch_bounds__ stops with an error (emulator.py adds
//           the check to the kernel's body).
//
// What it cannot find: performance problems, races between blocks (they run one after
// another), or code relying on lock-step warps. A race inside a block -- a missing barrier --
// shows up as wrong results when the scheduling order lets the reader run first (a fiber runs
// until it waits), which thread order or a shuffled order does for most such bugs.
// Build it with -fsanitize=address to catch out-of-bounds reads and writes of global memory.
#pragma once

#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CUDA_EMU_ASAN 1
#else
#define CUDA_EMU_ASAN 0
#endif

// ---- the language's keywords -----------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __trap() std::abort()
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static

// ---- built-in vector types ----------------------------------------------------------------------
struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1)
      : x(x_), y(y_), z(z_) {}
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
constexpr int warpSize = 32;

// ---- the runtime API's types ----------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;
using cudaStream_t = struct CUstream_st*;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaDeviceAttr {
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int warpSize;
  int maxThreadsPerBlock;
  int multiProcessorCount;
  int major;
  int minor;
};

namespace cuda_emu {

// The emulated device: an H100's limits.
constexpr size_t kDeviceMemory = size_t(8) << 30;
constexpr size_t kSharedDefault = 48 * 1024;
constexpr size_t kSharedOptin = 227 * 1024;
constexpr int kMultiprocessors = 132;
constexpr size_t kFiberStack = 256 * 1024;

[[noreturn]] inline void fail(const std::string& what) {
  throw std::runtime_error("CUDA emulator: " + what);
}

// Process-wide state of the emulated device (all under one mutex: launches use statics).
struct Device {
  std::recursive_mutex mu;
  std::map<const void*, size_t> allocations;  // pointer -> bytes
  size_t allocated = 0;
  cudaError_t last_error = cudaSuccess;
  std::map<const void*, size_t> max_dynamic_smem;  // kernel -> cudaFuncSetAttribute value
};
inline Device& device() {
  static Device d;
  return d;
}
inline cudaError_t set_error(cudaError_t e) {
  if (e != cudaSuccess) device().last_error = e;
  return e;
}

// ---- the caching allocator's hooks (csrc/cuda/common.cuh, EMBER_CUDA_EMULATOR_HOOK) ---------
// A block handed out for an array of `bytes` gets fresh garbage (NaN bytes) and, under
// AddressSanitizer, the rest of its size class becomes unaddressable; a block taken back is
// unaddressable as a whole until it is handed out again.
inline void block_handed_out(void* p, size_t bytes, size_t capacity) {
#if CUDA_EMU_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, capacity);
#endif
  std::memset(p, 0xFF, bytes);
#if CUDA_EMU_ASAN
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + bytes, capacity - bytes);
#endif
}
inline void block_returned(void* p, size_t capacity) {
#if CUDA_EMU_ASAN
  ASAN_POISON_MEMORY_REGION(p, capacity);
#else
  (void)p;
  (void)capacity;
#endif
}

// ---- fibers: one per GPU thread of the running block -----------------------------------------
struct Barrier {
  unsigned arrived = 0;
  unsigned generation = 0;
  unsigned expected = 0;  // warp barriers: lanes named by the mask
  unsigned mask = 0;
};

struct Fiber {
  ucontext_t context;
  uint3 idx{};
  unsigned linear = 0;  // threadIdx flattened
  bool done = false;
  Barrier* waiting_on = nullptr;
  unsigned wait_generation = 0;
  uint64_t exchange = 0;  // a warp shuffle's value
};

// A fiber's stack, with a guard page below it so that an overflow faults at once instead of
// corrupting the neighbouring stack.
class Stack {
 public:
  Stack() {
    void* p = mmap(nullptr, kFiberStack + kGuard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("cannot map a fiber stack");
    mprotect(p, kGuard, PROT_NONE);
    mapping_ = static_cast<char*>(p);
  }
  ~Stack() { munmap(mapping_, kFiberStack + kGuard); }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  char* base() const { return mapping_ + kGuard; }

 private:
  static constexpr size_t kGuard = 4096;
  char* mapping_;
};

enum class Schedule { Forward, Reverse, Shuffle };

struct Launch {
  Schedule schedule = Schedule::Forward;
  dim3 grid, block;
  uint3 block_idx{};
  std::vector<Fiber> fibers;
  std::vector<Barrier> warp_barriers;
  Barrier block_barrier;
  unsigned live = 0;
  Fiber* current = nullptr;
  ucontext_t scheduler;
  std::function<void()> body;
  std::vector<unsigned char> dynamic_smem;
  // static __shared__ arrays: one buffer per declaration (keyed by its site), refilled with
  // NaN bytes for every block
  struct SharedArray {
    std::unique_ptr<unsigned char[]> storage;
    unsigned char* data;  // aligned, inside storage
    size_t bytes;
  };
  std::map<const void*, SharedArray> static_smem;
  size_t static_smem_total = 0;
  size_t smem_limit = 0;  // static + dynamic
  std::string error;  // set by a fiber that hit a misuse; the launch then fails
#if CUDA_EMU_ASAN
  void* fake_stack = nullptr;
  const void* scheduler_stack_bottom = nullptr;
  size_t scheduler_stack_size = 0;
#endif
};

inline Launch*& active() {
  static Launch* launch = nullptr;
  return launch;
}
inline Launch& state() {
  Launch* l = active();
  if (!l) fail("device code called outside a kernel launch");
  return *l;
}
inline Fiber& this_thread() { return *state().current; }
inline void* dynamic_shared_memory() { return state().dynamic_smem.data(); }

inline std::vector<std::unique_ptr<Stack>>& stack_pool() {
  static std::vector<std::unique_ptr<Stack>> pool;
  return pool;
}

// Switch from the running fiber back to the scheduler.
inline void yield_to_scheduler() {
  Launch& l = state();
  Fiber& f = *l.current;
#if CUDA_EMU_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, l.scheduler_stack_bottom, l.scheduler_stack_size);
#endif
  swapcontext(&f.context, &l.scheduler);
#if CUDA_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

// A fiber that detected a misuse stops here for good; the launch reports the message.
[[noreturn]] inline void abort_thread(const std::string& why) {
  Launch& l = state();
  if (l.error.empty()) l.error = why;
  l.current->done = true;
  yield_to_scheduler();
  std::abort();  // never resumed
}

inline void wait_at(Barrier& b) {
  Launch& l = state();
  Fiber& f = *l.current;
  const unsigned generation = b.generation;
  if (++b.arrived >= b.expected) {  // the last one in opens the barrier
    b.arrived = 0;
    ++b.generation;
    return;
  }
  f.waiting_on = &b;
  f.wait_generation = generation;
  yield_to_scheduler();
  f.waiting_on = nullptr;
}

// The block's buffer for the static __shared__ array declared at `site` (the translator's
// rewrite of `__shared__ T name[...]`). Static shared memory is limited to 48 KiB, and static
// plus dynamic to the kernel's limit, as on the GPU.
inline void* static_shared(const void* site, size_t bytes, size_t align) {
  Launch& l = state();
  auto it = l.static_smem.find(site);
  if (it != l.static_smem.end()) return it->second.data;
  l.static_smem_total += bytes;
  if (l.static_smem_total > kSharedDefault)
    abort_thread("static __shared__ arrays of " + std::to_string(l.static_smem_total) +
                 " bytes, over the 48 KiB limit");
  if (l.static_smem_total + l.dynamic_smem.size() > l.smem_limit)
    abort_thread("static + dynamic shared memory of " +
                 std::to_string(l.static_smem_total + l.dynamic_smem.size()) +
                 " bytes, over the kernel's limit of " + std::to_string(l.smem_limit));
  auto buffer = std::make_unique<unsigned char[]>(bytes + align);
  auto* p = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<std::uintptr_t>(buffer.get()) + align - 1) / align * align);
  std::memset(p, 0xFF, bytes);
  l.static_smem[site] = Launch::SharedArray{std::move(buffer), p, bytes};
  return p;
}

// First statement of a kernel declared __launch_bounds__(max_threads): a launch with more
// threads per block fails on a GPU (the kernel's registers were budgeted for max_threads).
inline void check_launch_bounds(unsigned max_threads) {
  const Launch& l = state();
  const unsigned threads = l.block.x * l.block.y * l.block.z;
  if (threads > max_threads)
    abort_thread("launched with " + std::to_string(threads) + " threads per block, over its "
                 "__launch_bounds__(" + std::to_string(max_threads) + ")");
}

inline void fiber_main() {
  Launch& l = state();
#if CUDA_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &l.scheduler_stack_bottom, &l.scheduler_stack_size);
#endif
  l.body();
  l.current->done = true;
#if CUDA_EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, l.scheduler_stack_bottom, l.scheduler_stack_size);
#endif
  // returning resumes uc_link, the scheduler
}

// Runs one block: every fiber until it finishes, parking at barriers.
inline void run_block(Launch& l) {
  const unsigned n = l.block.x * l.block.y * l.block.z;
  auto& pool = stack_pool();
  while (pool.size() < n) pool.push_back(std::make_unique<Stack>());
  l.fibers.assign(n, Fiber{});
  l.warp_barriers.assign((n + 31) / 32, Barrier{});
  l.block_barrier = Barrier{};
  l.live = n;
  for (unsigned t = 0; t < n; ++t) {
    Fiber& f = l.fibers[t];
    f.linear = t;
    f.idx = {t % l.block.x, (t / l.block.x) % l.block.y, t / (l.block.x * l.block.y)};
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = pool[t]->base();
    f.context.uc_stack.ss_size = kFiberStack;
    f.context.uc_link = &l.scheduler;
    makecontext(&f.context, fiber_main, 0);
  }
  // The order the scheduler visits the fibers in (CUDA_EMU_SCHEDULE): thread order, or
  // reversed, or a shuffle seeded by the block -- a missing barrier between a writer and a
  // reader shows up in at least one of them whichever thread index is the writer's.
  std::vector<unsigned> order(n);
  for (unsigned t = 0; t < n; ++t) order[t] = t;
  if (l.schedule == Schedule::Reverse) {
    std::reverse(order.begin(), order.end());
  } else if (l.schedule == Schedule::Shuffle) {
    uint64_t state = 0x9E3779B97F4A7C15ull ^ (uint64_t(l.block_idx.x) << 32 ^ l.block_idx.y);
    for (unsigned t = n; t > 1; --t) {  // Fisher-Yates with a splitmix64 stream
      state += 0x9E3779B97F4A7C15ull;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      std::swap(order[t - 1], order[(z ^ (z >> 31)) % t]);
    }
  }
  while (l.live > 0) {
    bool progressed = false;
    for (unsigned t : order) {
      Fiber& f = l.fibers[t];
      if (f.done) continue;
      if (f.waiting_on && f.waiting_on->generation == f.wait_generation) continue;
      l.current = &f;
#if CUDA_EMU_ASAN
      __sanitizer_start_switch_fiber(&l.fake_stack, pool[f.linear]->base(), kFiberStack);
#endif
      swapcontext(&l.scheduler, &f.context);
#if CUDA_EMU_ASAN
      __sanitizer_finish_switch_fiber(l.fake_stack, nullptr, nullptr);
#endif
      progressed = true;
      if (!l.error.empty()) return;
      if (f.done) {
        --l.live;
        // Exited threads no longer count at __syncthreads (what the hardware does).
        l.block_barrier.expected = l.live;
        if (l.live > 0 && l.block_barrier.arrived > 0 &&
            l.block_barrier.arrived >= l.block_barrier.expected) {
          l.block_barrier.arrived = 0;
          ++l.block_barrier.generation;
        }
      }
    }
    if (!progressed) {
      l.error = "deadlock: the block's live threads wait at barriers that cannot complete "
                "(a __syncthreads or __shfl_*_sync not reached by every thread it waits for)";
      return;
    }
  }
}

inline std::string dims(dim3 d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}

// Validates the configuration like the driver does, then runs every block.
inline void run(const char* name, const void* kernel, dim3 grid, dim3 block, size_t smem,
                std::function<void()> body) {
  Device& dev = device();
  std::lock_guard<std::recursive_mutex> lock(dev.mu);
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  // Dynamic shared memory: up to 48 KiB, or what cudaFuncSetAttribute allowed; static plus
  // dynamic: up to 48 KiB, or the opt-in maximum once the attribute is set.
  size_t smem_limit = kSharedDefault, total_limit = kSharedDefault;
  if (auto it = dev.max_dynamic_smem.find(kernel); it != dev.max_dynamic_smem.end()) {
    smem_limit = it->second;
    total_limit = kSharedOptin;
  }
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 ||
      grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    std::fprintf(stderr, "CUDA emulator: invalid launch grid %s block %s\n", dims(grid).c_str(),
                 dims(block).c_str());
    set_error(cudaErrorInvalidConfiguration);
    return;
  }
  if (smem > smem_limit) {
    std::fprintf(stderr, "CUDA emulator: %zu bytes of dynamic shared memory, limit %zu\n", smem,
                 smem_limit);
    set_error(cudaErrorInvalidValue);
    return;
  }
  if (active()) fail("a kernel launched from inside a kernel");
  if (std::getenv("CUDA_EMU_TRACE"))
    std::fprintf(stderr, "CUDA emulator: %s<<<%s, %s, %zu>>>\n", name, dims(grid).c_str(),
                 dims(block).c_str(), smem);
  Launch l;
  if (const char* s = std::getenv("CUDA_EMU_SCHEDULE")) {
    const std::string v = s;
    if (v == "reverse") l.schedule = Schedule::Reverse;
    else if (v == "shuffle") l.schedule = Schedule::Shuffle;
    else if (v != "forward" && !v.empty())
      fail("CUDA_EMU_SCHEDULE must be forward, reverse or shuffle, got '" + v + "'");
  }
  l.grid = grid;
  l.block = block;
  l.body = std::move(body);
  l.dynamic_smem.assign(smem, 0xFF);
  l.smem_limit = total_limit;
  active() = &l;
  struct Reset {
    ~Reset() { active() = nullptr; }
  } reset;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        l.block_idx = {x, y, z};
        std::fill(l.dynamic_smem.begin(), l.dynamic_smem.end(), 0xFF);
        for (auto& [site, a] : l.static_smem) std::memset(a.data, 0xFF, a.bytes);
        run_block(l);
        if (!l.error.empty())
          fail(std::string(name) + ", block (" + std::to_string(x) + ", " + std::to_string(y) + ", " +
               std::to_string(z) + ") of a launch with grid " + dims(grid) + " block " +
               dims(block) + ": " + l.error);
      }
}

// kernel<<<grid, block, smem, stream>>>(args...) is written
//     launch("kernel", id, [](auto&... a) { kernel(a...); }, grid, block, smem, stream)(args...)
// The arguments are copied once, as a launch copies them, and each GPU thread calls the kernel
// on them (so it gets its own copies of the parameters, deduces template arguments from them
// as the <<<>>> syntax does). `id` is &kernel when the launch names the template arguments,
// the key cudaFuncSetAttribute uses, or nullptr.
template <typename Body>
struct Launcher {
  const char* name;
  const void* id;
  Body body;
  dim3 grid, block;
  size_t smem;

  template <typename... Args>
  void operator()(Args&&... args) const {
    std::tuple<std::decay_t<Args>...> params(std::forward<Args>(args)...);
    run(name, id, grid, block, smem, [this, &params] { std::apply(body, params); });
  }
};

template <typename Body>
Launcher<Body> launch(const char* name, const void* id, Body body, dim3 grid, dim3 block,
                      size_t smem = 0, cudaStream_t = nullptr) {
  return {name, id, body, grid, block, smem};
}

}  // namespace cuda_emu

// ---- device-side built-ins --------------------------------------------------------------------
#define threadIdx (::cuda_emu::this_thread().idx)
#define blockIdx (::cuda_emu::state().block_idx)
#define blockDim (::cuda_emu::state().block)
#define gridDim (::cuda_emu::state().grid)

inline void __syncthreads() {
  cuda_emu::Launch& l = cuda_emu::state();
  l.block_barrier.expected = l.live;
  cuda_emu::wait_at(l.block_barrier);
}

namespace cuda_emu {
// The lanes named by `mask` meet at their warp's barrier (`what` names the primitive in errors).
inline void warp_meet(unsigned mask, const char* what) {
  Launch& l = state();
  const unsigned lane = l.current->linear % 32, warp = l.current->linear / 32, first = warp * 32;
  if (!(mask >> lane & 1u)) abort_thread(std::string(what) + " from a lane outside its mask");
  unsigned expected = 0;
  for (unsigned i = 0; i < 32; ++i)
    if ((mask >> i & 1u) && first + i < l.fibers.size()) ++expected;
  Barrier& b = l.warp_barriers[warp];
  if (b.arrived == 0) {
    b.mask = mask;
    b.expected = expected;
  } else if (b.mask != mask) {
    abort_thread(std::string("lanes of one warp called ") + what + " with different masks");
  }
  wait_at(b);
}
}  // namespace cuda_emu

template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "__shfl_xor_sync: value wider than 64 bits");
  cuda_emu::Launch& l = cuda_emu::state();
  cuda_emu::Fiber& me = *l.current;
  const unsigned lane = me.linear % 32, first = me.linear / 32 * 32;
  std::memcpy(&me.exchange, &value, sizeof(T));
  cuda_emu::warp_meet(mask, "__shfl_xor_sync");  // every lane has written its value
  unsigned src = lane ^ static_cast<unsigned>(lane_mask);
  if (src / width > lane / width) src = lane;  // beyond this lane's segment: own value
  if (!(mask >> src & 1u) || first + src >= l.fibers.size())
    cuda_emu::abort_thread("__shfl_xor_sync reads a lane outside the mask");
  T out;
  std::memcpy(&out, &l.fibers[first + src].exchange, sizeof(T));
  cuda_emu::warp_meet(mask, "__shfl_xor_sync");  // every lane has read before slots are reused
  return out;
}

// The lanes of `mask` meet; on the GPU also a memory fence among them.
inline void __syncwarp(unsigned mask = 0xffffffffu) { cuda_emu::warp_meet(mask, "__syncwarp"); }

// One fiber runs at a time, so a plain read-modify-write is atomic.
template <typename T>
T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  T old = *address;
  if (old == compare) *address = value;
  return old;
}

inline float __expf(float x) { return std::exp(x); }
inline float __int_as_float(int x) {
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}
inline int __float_as_int(float x) {
  int i;
  std::memcpy(&i, &x, sizeof i);
  return i;
}
inline double __longlong_as_double(long long x) {
  double d;
  std::memcpy(&d, &x, sizeof d);
  return d;
}
inline long long __double_as_longlong(double x) {
  long long i;
  std::memcpy(&i, &x, sizeof i);
  return i;
}
// sin(pi x) and cos(pi x) together (CUDA computes them without rounding pi x first; the
// emulator's double product is accurate enough for tests).
inline void sincospif(float x, float* s, float* c) {
  const double a = 3.14159265358979323846 * static_cast<double>(x);
  *s = static_cast<float>(std::sin(a));
  *c = static_cast<float>(std::cos(a));
}
inline void sincospi(double x, double* s, double* c) {
  const long double a = 3.14159265358979323846264338327950288L * x;
  *s = static_cast<double>(std::sin(a));
  *c = static_cast<double>(std::cos(a));
}
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return static_cast<unsigned int>((static_cast<uint64_t>(a) * b) >> 32);
}

// CUDA's global min/max overloads for device code.
#define CUDA_EMU_MINMAX(T)                          \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
CUDA_EMU_MINMAX(int)
CUDA_EMU_MINMAX(unsigned int)
CUDA_EMU_MINMAX(long)
CUDA_EMU_MINMAX(unsigned long)
CUDA_EMU_MINMAX(long long)
CUDA_EMU_MINMAX(unsigned long long)
#undef CUDA_EMU_MINMAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

// ---- warp matrix multiply-accumulate (nvcuda::wmma, mma.h), TF32 only -------------------------
// On the GPU a fragment is spread over the 32 lanes of a warp in an unspecified layout, and
// load/store/mma are warp-wide operations. Here every lane holds the whole tile (row-major in
// x[]) and loads and multiplies it itself: the same results, 32 times the work. Code may only
// touch x[] element by element (num_elements), as on the hardware. Each operation first
// meets the whole warp (all 32 lanes must call it, as on the GPU); a store writes only this
// lane's share of the tile, so reading other lanes' elements needs a __syncwarp, as on the
// GPU. mma_sync reads only the TF32 bits of its inputs (the low 13 mantissa bits are
// ignored), as the tensor cores do.
namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K> struct tile_shape;  // rows x cols of a fragment
template <int M, int N, int K> struct tile_shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K> struct tile_shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K> struct tile_shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 8, "the emulator knows the m16n16k8 TF32 shape");
  static constexpr int rows = tile_shape<Use, M, N, K>::rows;
  static constexpr int cols = tile_shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  float x[num_elements];
};

template <typename Frag>
inline void fill_fragment(Frag& f, float v) {
  for (float& e : f.x) e = v;
}

template <typename Use, int M, int N, int K, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const float* p, unsigned ldm) {
  using F = fragment<Use, M, N, K, T, Layout>;
  static_assert(!std::is_void_v<Layout>, "matrix_a/matrix_b fragments name their layout");
  cuda_emu::warp_meet(0xffffffffu, "wmma::load_matrix_sync");
  if (reinterpret_cast<std::uintptr_t>(p) % 32 != 0 || ldm % 4 != 0)
    cuda_emu::abort_thread("wmma::load_matrix_sync: pointer not 256-bit aligned or ldm not a "
                           "multiple of 4 floats");
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] =
          std::is_same_v<Layout, row_major> ? p[r * ldm + c] : p[c * ldm + r];
}

template <int M, int N, int K, typename T>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm,
                              layout_t layout) {
  using F = fragment<accumulator, M, N, K, T>;
  cuda_emu::warp_meet(0xffffffffu, "wmma::store_matrix_sync");
  if (reinterpret_cast<std::uintptr_t>(p) % 32 != 0 || ldm % 4 != 0)
    cuda_emu::abort_thread("wmma::store_matrix_sync: pointer not 256-bit aligned or ldm not a "
                           "multiple of 4 floats");
  // This lane's share: a run of num_elements / 32 consecutive elements (so that a warp
  // reading the stored tile element e by lane e % 32 needs a __syncwarp first, as on the GPU).
  const int lane = static_cast<int>(cuda_emu::this_thread().linear % 32);
  constexpr int kShare = F::num_elements / 32;
  for (int e = lane * kShare; e < (lane + 1) * kShare; ++e) {
    const int r = e / F::cols, c = e % F::cols;
    (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[e];
  }
}

inline float tf32_bits(float v) {  // the bits a tensor core reads: 1 + 8 + 10
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u &= 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

// Round to TF32, to nearest with ties away from zero (cvt.rna.tf32.f32); inf/NaN unchanged.
inline float __float_to_tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

// d = a b + c, accumulated in float
template <int M, int N, int K, typename La, typename Lb, typename T>
inline void mma_sync(fragment<accumulator, M, N, K, T>& d,
                     const fragment<matrix_a, M, N, K, precision::tf32, La>& a,
                     const fragment<matrix_b, M, N, K, precision::tf32, Lb>& b,
                     const fragment<accumulator, M, N, K, T>& c) {
  cuda_emu::warp_meet(0xffffffffu, "wmma::mma_sync");
  float out[M * N];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = c.x[i * N + j];
      for (int k = 0; k < K; ++k) acc += tf32_bits(a.x[i * K + k]) * tf32_bits(b.x[k * N + j]);
      out[i * N + j] = acc;
    }
  std::memcpy(d.x, out, sizeof out);
}
}  // namespace nvcuda::wmma

// ---- the runtime API --------------------------------------------------------------------------
inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

inline cudaError_t cudaGetLastError() {
  auto& d = cuda_emu::device();
  std::lock_guard<std::recursive_mutex> lock(d.mu);
  cudaError_t e = d.last_error;
  d.last_error = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return cuda_emu::device().last_error; }

inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) {
  return d == 0 ? cudaSuccess : cuda_emu::set_error(cudaErrorInvalidDevice);
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d != 0) return cuda_emu::set_error(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "ember CUDA emulator (CPU)");
  p->totalGlobalMem = cuda_emu::kDeviceMemory;
  p->sharedMemPerBlock = cuda_emu::kSharedDefault;
  p->sharedMemPerBlockOptin = cuda_emu::kSharedOptin;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->multiProcessorCount = cuda_emu::kMultiprocessors;
  p->major = 9;
  p->minor = 0;
  return cudaSuccess;
}

inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int d) {
  if (d != 0) return cuda_emu::set_error(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMultiProcessorCount: *value = cuda_emu::kMultiprocessors; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(cuda_emu::kSharedOptin);
      return cudaSuccess;
  }
  return cuda_emu::set_error(cudaErrorInvalidValue);
}

template <typename Kernel>
cudaError_t cudaFuncSetAttribute(Kernel* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      static_cast<size_t>(value) > cuda_emu::kSharedOptin)
    return cuda_emu::set_error(cudaErrorInvalidValue);
  auto& d = cuda_emu::device();
  std::lock_guard<std::recursive_mutex> lock(d.mu);
  d.max_dynamic_smem[reinterpret_cast<const void*>(kernel)] = static_cast<size_t>(value);
  return cudaSuccess;
}

inline cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  auto& d = cuda_emu::device();
  std::lock_guard<std::recursive_mutex> lock(d.mu);
  *ptr = nullptr;
  if (bytes > cuda_emu::kDeviceMemory - d.allocated)
    return cuda_emu::set_error(cudaErrorMemoryAllocation);
  void* p = std::malloc(bytes ? bytes : 1);
  if (!p) return cuda_emu::set_error(cudaErrorMemoryAllocation);
  std::memset(p, 0xFF, bytes);  // fresh device memory holds garbage: NaN here
  d.allocations[p] = bytes;
  d.allocated += bytes;
  *ptr = p;
  return cudaSuccess;
}
template <typename T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}

inline cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  auto& d = cuda_emu::device();
  std::lock_guard<std::recursive_mutex> lock(d.mu);
  auto it = d.allocations.find(ptr);
  if (it == d.allocations.end()) return cuda_emu::set_error(cudaErrorInvalidDevicePointer);
  d.allocated -= it->second;
  d.allocations.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                                   cudaStream_t = nullptr) {
  return cudaMemcpy(dst, src, bytes, kind);
}
inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t = nullptr) {
  if (bytes) std::memset(dst, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  return cudaMemsetAsync(dst, value, bytes);
}
