// How the memory-bound CPU kernels share work among OpenMP threads: contiguous chunks of
// a flat array, or one contiguous range of rows per thread. Without OpenMP both run the
// body once over everything, in the calling thread.
#pragma once
#include <algorithm>
#include <cstdint>

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif

namespace ember::cpu {
// (Internal linkage, as in vec_math.h: a file compiled with AVX-512 flags that includes this
// must never lend its copies to portable code at link time.)
namespace {

// The threads a kernel may start now: all of OpenMP's, or 1 inside another parallel region
// (nested regions are off, so a second team would only be serialised anyway).
inline int available_threads() {
#if defined(EMBER_OPENMP)
  return omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

// This thread's number within the current team (0 outside any parallel region).
inline int thread_id() {
#if defined(EMBER_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// body(lo, len) over [0, n) in static chunks of `chunk` elements (16 K: a multiple of every
// cache line and vector width), one contiguous run of chunks per thread. Single-threaded
// unless there are more than `min_chunks` chunks: starting threads costs microseconds.
template <typename Body>
inline void parallel_chunks(int64_t n, Body body, int64_t chunk = int64_t{1} << 14,
                            int64_t min_chunks = 2) {
  const int64_t chunks = (n + chunk - 1) / chunk;
  (void)min_chunks;
#if defined(EMBER_OPENMP)
#pragma omp parallel for schedule(static) if (chunks > min_chunks)
#endif
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t lo = c * chunk;
    body(lo, std::min(chunk, n - lo));
  }
}

// The number of threads worth starting for `work` elements split into `units` pieces:
// one per `grain` elements, at most one per unit and at most all threads; at least 1, and
// exactly 1 inside another parallel region.
inline int threads_for(int64_t work, int64_t units, int64_t grain = 32768) {
  const int64_t by_work = std::max<int64_t>(1, work / grain);
  const int64_t n = std::min<int64_t>({by_work, units, int64_t{available_threads()}});
  return static_cast<int>(std::max<int64_t>(1, n));
}

// Runs body(t, r0, r1) on `threads` threads, thread t taking rows [r0, r1) of [0, rows):
// contiguous, near-equal ranges, so a thread can keep per-thread partial results at t.
template <typename Body>
inline void parallel_row_ranges(int64_t rows, int threads, Body body) {
#if defined(EMBER_OPENMP)
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    body(t, rows * t / nt, rows * (t + 1) / nt);
  }
#else
  (void)threads;
  body(0, int64_t{0}, rows);
#endif
}

}  // namespace
}  // namespace ember::cpu
