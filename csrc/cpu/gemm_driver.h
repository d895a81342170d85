// The GotoBLAS/BLIS blocking loops around a micro-kernel, shared by the per-ISA files.
//
//   for jc in steps of NC over n:             B panel  (KC x NC) -> L3, shared by the team
//     for pc in steps of KC over k:           pack it once, cooperatively
//       for ic in steps of MC over my rows:   A block  (MC x KC) -> L2, one per thread
//         for jr in steps of NR:              B micro-panel (KC x NR) stays in L1 ...
//           for ir in steps of MR:            ... while A micro-panels stream from L2
//             micro_kernel: C[MR x NR] (+)= A[MR x KC] * B[KC x NR] in registers
//
// Packing copies A and B (whatever their strides: transposed, sliced, reversed, broadcast)
// into the exact order the micro-kernel reads them, zero-padded to whole MR x NR tiles, so
// the kernel only ever sees unit-stride, aligned data and never reads out of bounds.
//
// Everything here lives in an anonymous namespace on purpose: each ISA file includes this
// header and compiles its own private copy with its own flags (-mavx512f, -mavx2, none).
// Shared inline functions would be merged by the linker, and an AVX-512 copy could end up
// called on a CPU without AVX-512. For the same reason this header uses no std templates.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/gemm_kernels.h"

#if defined(EMBER_OPENMP)
#include <omp.h>
#endif

namespace ember::cpu::detail {
namespace {

inline int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t multiple) { return ceil_div(a, multiple) * multiple; }

// Part `index` of `count` items split into `parts` nearly equal, contiguous ranges.
struct Range {
  int64_t begin, end;
};
inline Range split_range(int64_t count, int64_t parts, int64_t index) {
  const int64_t base = count / parts, extra = count % parts;
  const int64_t begin = index * base + min_i64(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

// Waits for the whole team. Called only when team > 1, so a single-threaded call made from
// inside someone else's parallel region (the batch loop) never joins their barrier.
inline void team_barrier(int team) {
#if defined(EMBER_OPENMP)
  if (team > 1) {
#pragma omp barrier
  }
#else
  (void)team;
#endif
}

// ---------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------

// A micro-panel: rows [0, rows) of A (rows <= MR) over k in [0, kc), stored "k-major": for
// each k the MR values A(0..MR-1, k) are contiguous, which is the order the micro-kernel
// broadcasts them in. Rows past `rows` are zero so edge tiles need no special kernel.
template <typename T, int MR>
void pack_a_micro_panel(const T* a, int64_t rsa, int64_t csa, int64_t rows, int64_t kc,
                        T* dst) {
  if (rows == MR && rsa == 1) {  // column-major A (e.g. x.T): each k is MR contiguous values
    for (int64_t p = 0; p < kc; ++p)
      for (int i = 0; i < MR; ++i) dst[p * MR + i] = a[p * csa + i];
    return;
  }
  for (int64_t i = 0; i < rows; ++i) {  // row-major or general: walk each row along k
    const T* row = a + i * rsa;
    if (csa == 1) {
      for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = row[p];
    } else {
      for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = row[p * csa];
    }
  }
  for (int64_t i = rows; i < MR; ++i)
    for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = T(0);
}

// An A block: `mc` rows as consecutive micro-panels of MR rows, each MR * kc long.
template <typename T, int MR>
void pack_a_block(const T* a, int64_t rsa, int64_t csa, int64_t mc, int64_t kc, T* dst) {
  for (int64_t i = 0; i < mc; i += MR)
    pack_a_micro_panel<T, MR>(a + i * rsa, rsa, csa, min_i64(MR, mc - i), kc, dst + i * kc);
}

// A B micro-panel: columns [0, cols) of B (cols <= NR) over k in [0, kc), stored so that
// for each k the NR values B(k, 0..NR-1) are contiguous: one or more full SIMD vectors.
template <typename T, int NR>
void pack_b_micro_panel(const T* b, int64_t rsb, int64_t csb, int64_t cols, int64_t kc,
                        T* dst) {
  if (cols == NR && csb == 1) {  // row-major B: copy NR contiguous values per k
    for (int64_t p = 0; p < kc; ++p)
      for (int j = 0; j < NR; ++j) dst[p * NR + j] = b[p * rsb + j];
    return;
  }
  for (int64_t j = 0; j < cols; ++j) {  // transposed or general: walk each column along k
    const T* col = b + j * csb;
    if (rsb == 1) {
      for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = col[p];
    } else {
      for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = col[p * rsb];
    }
  }
  for (int64_t j = cols; j < NR; ++j)
    for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = T(0);
}

// Prefetches the cache lines of [p, p + count) into L1 (a hint: it never faults).
template <typename T>
inline void prefetch_range(const T* p, int count) {
#if defined(__GNUC__) || defined(__clang__)
  const char* first = reinterpret_cast<const char*>(p);
  const char* last = reinterpret_cast<const char*>(p + count) - 1;
  for (const char* line = first; line < last; line += 64) __builtin_prefetch(line, 1, 3);
  __builtin_prefetch(last, 1, 3);  // p need not be line-aligned: cover the last line too
#else
  (void)p, (void)count;
#endif
}

// ---------------------------------------------------------------------------------------
// A SIMD micro-kernel, written once for any vector type (see VecOps in the ISA files).
// ---------------------------------------------------------------------------------------

// C[MR x NR] (+)= A-panel * B-panel with NR = NV vectors: MR * NV accumulators live in
// registers for the whole k loop; each step loads NV vectors of B, broadcasts MR scalars
// of A and issues MR * NV fused multiply-adds, so loads per FMA stay well under one.
template <typename VecOps, int MR, int NV>
struct SimdTile {
  using T = typename VecOps::T;
  using V = typename VecOps::V;
  static constexpr int W = VecOps::kWidth;
  V acc[MR][NV];

  void set_zero() {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = VecOps::zero();
  }

  // `steps` rank-1 updates acc += A(:, p) * B(p, :), advancing a and b past them.
  void multiply_add(int64_t steps, const T*& a, const T*& b) {
    for (int64_t p = 0; p < steps; ++p) {
      V bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) bv[v] = VecOps::load(b + v * W);
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i) {
        const V ai = VecOps::broadcast(a[i]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = VecOps::fma(ai, bv[v], acc[i][v]);
      }
      a += MR;
      b += NV * W;
    }
  }

  void store(T* c, int64_t ldc, bool accumulate) const {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        T* dst = c + i * ldc + v * W;
        VecOps::storeu(dst, accumulate ? VecOps::add(VecOps::loadu(dst), acc[i][v]) : acc[i][v]);
      }
    }
  }
};

// How many k steps before the end of the loop the C tile is prefetched: enough to hide
// an L2/L3 miss, late enough that the streaming A and B panels don't evict it from L1
// (C rows are ldc apart, often a multiple of 4 KiB, so they all compete for one L1 set).
constexpr int64_t kPrefetchCSteps = 24;

template <typename VecOps, int MR, int NV>
void simd_micro_kernel(int64_t kc, const typename VecOps::T* a, const typename VecOps::T* b,
                       typename VecOps::T* c, int64_t ldc, bool accumulate) {
  SimdTile<VecOps, MR, NV> tile;
  tile.set_zero();
  const int64_t tail = min_i64(kc, kPrefetchCSteps);
  tile.multiply_add(kc - tail, a, b);
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) VecOps::prefetch(c + i * ldc, NV * VecOps::kWidth);
  tile.multiply_add(tail, a, b);
  tile.store(c, ldc, accumulate);
}

// ---------------------------------------------------------------------------------------
// The blocked driver. `Kernel` provides: T, MR, NR, MC, KC, NC and
//   static void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc,
//                            bool accumulate);   // full MR x NR tile, C row stride ldc
// ---------------------------------------------------------------------------------------

template <typename Kernel>
struct BlockedGemm {
  using T = typename Kernel::T;
  static constexpr int MR = Kernel::MR, NR = Kernel::NR;
  static constexpr int64_t MC = Kernel::MC, KC = Kernel::KC, NC = Kernel::NC;
  static_assert(MC % MR == 0 && NC % NR == 0, "cache blocks must hold whole micro-tiles");
  static constexpr std::size_t kAlign = 64;  // cache line and AVX-512 vector

  // Packed-buffer sizes for this problem: clipped to the problem so small products use
  // (and touch) little memory.
  static int64_t b_panel_elems(int64_t n, int64_t k) {
    return min_i64(KC, k) * round_up(min_i64(NC, n), NR);
  }
  static int64_t a_block_elems(int64_t m, int64_t k) {
    return min_i64(MC, round_up(m, MR)) * min_i64(KC, k);
  }
  static std::size_t aligned_bytes(int64_t elems) {
    return static_cast<std::size_t>(round_up(elems * int64_t(sizeof(T)), kAlign));
  }

  // Layout: [shared B panel][A block of thread 0][A block of thread 1]... The B panel region
  // also holds one B micro-panel per thread for the short-A loops (run_thread_short_a).
  static int64_t b_region_elems(int64_t n, int64_t k, int threads) {
    const int64_t micro_panels = threads * min_i64(KC, k) * NR;
    return b_panel_elems(n, k) > micro_panels ? b_panel_elems(n, k) : micro_panels;
  }
  static std::size_t workspace_bytes(int64_t m, int64_t n, int64_t k, int threads) {
    return aligned_bytes(b_region_elems(n, k, threads)) +
           threads * aligned_bytes(a_block_elems(m, k));
  }

  // Where C(row, col) lives: row-major with row stride ldc, the columns optionally cut into
  // groups of c_group_cols that lie c_group_stride apart (one image each in a convolution).
  static T* c_at(const GemmProblem<T>& p, int64_t row, int64_t col) {
    if (p.c_group_cols <= 0) return p.c + row * p.ldc + col;
    return p.c + (col / p.c_group_cols) * p.c_group_stride + row * p.ldc +
           col % p.c_group_cols;
  }
  // Are columns [col, col + cols) adjacent in memory (not split by a group boundary)?
  static bool c_contiguous(const GemmProblem<T>& p, int64_t col, int64_t cols) {
    return p.c_group_cols <= 0 || col % p.c_group_cols + cols <= p.c_group_cols;
  }

  // The MR x NR tile of C at (row, col). Edge tiles, and tiles that straddle a column group,
  // are computed whole into a scratch tile (the packed panels are zero-padded) and only the
  // valid part is written back, column by column.
  static void micro_tile(const GemmProblem<T>& p, int64_t kc, const T* a, const T* b,
                         int64_t row, int64_t col, int64_t rows, int64_t cols,
                         bool accumulate) {
    const bool contiguous = c_contiguous(p, col, cols);
    if (rows == MR && cols == NR && contiguous) {
      Kernel::micro_kernel(kc, a, b, c_at(p, row, col), p.ldc, accumulate);
      return;
    }
    alignas(kAlign) T tile[MR * NR];
    Kernel::micro_kernel(kc, a, b, tile, NR, false);
    for (int64_t j0 = 0; j0 < cols;) {  // runs of columns that are adjacent in C
      int64_t run = cols - j0;
      if (!contiguous) run = min_i64(run, p.c_group_cols - (col + j0) % p.c_group_cols);
      T* c = c_at(p, row, col + j0);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < run; ++j) {
          const T v = tile[i * NR + j0 + j];
          c[i * p.ldc + j] = accumulate ? c[i * p.ldc + j] + v : v;
        }
      j0 += run;
    }
  }

  // C block (rows [row, row + mc) x the B micro-panels [panels.begin, panels.end) of the
  // nc-wide panel starting at column col). jr outside ir: one B micro-panel is reused from
  // L1 against every A micro-panel.
  static void multiply_block(const GemmProblem<T>& p, const T* packed_a, int64_t row,
                             int64_t mc, const T* packed_b, Range panels, int64_t col,
                             int64_t nc, int64_t kc, bool accumulate) {
    for (int64_t jp = panels.begin; jp < panels.end; ++jp) {
      const int64_t cols = min_i64(NR, nc - jp * NR);
      const T* b = packed_b + jp * NR * kc;
      for (int64_t i = 0; i < mc; i += MR)
        micro_tile(p, kc, packed_a + i * kc, b, row + i, col + jp * NR, min_i64(MR, mc - i),
                   cols, accumulate);
    }
  }

  // Packs B micro-panel (columns [col, col + cols), k in [pc, pc + kc)) by strides or by
  // the caller's packer; likewise an A block (rows [row, row + mc)).
  static void pack_b(const GemmProblem<T>& p, int64_t pc, int64_t kc, int64_t col,
                     int64_t cols, T* dst) {
    if (p.b_packer != nullptr) {
      p.b_packer->pack(p.b_packer->ctx, p.index, col, cols, pc, kc, NR, dst);
      return;
    }
    pack_b_micro_panel<T, NR>(p.b + pc * p.rsb + col * p.csb, p.rsb, p.csb, cols, kc, dst);
  }
  static void pack_a(const GemmProblem<T>& p, int64_t row, int64_t mc, int64_t pc, int64_t kc,
                     T* dst) {
    if (p.a_packer == nullptr) {
      pack_a_block<T, MR>(p.a + row * p.rsa + pc * p.csa, p.rsa, p.csa, mc, kc, dst);
      return;
    }
    for (int64_t i = 0; i < mc; i += MR)
      p.a_packer->pack(p.a_packer->ctx, p.index, row + i, min_i64(MR, mc - i), pc, kc, MR,
                       dst + i * kc);
  }

  // How the team tiles C: grid_rows x grid_cols threads. Splitting rows is preferred (the
  // threads then share one packed B panel and each packs only its own A rows); columns are
  // split when there are too few rows, e.g. a short, wide product.
  struct Grid {
    int rows, cols;
  };
  static Grid choose_grid(int team, int64_t m, int64_t n) {
    Grid best{team, 1};
    double best_cost = -1;
    for (int rows = team; rows >= 1; --rows) {
      if (team % rows != 0) continue;
      const int cols = team / rows;
      // Work of the busiest thread (whole tiles, including padding), small penalty for
      // every thread re-packing the same A rows when columns are split.
      const double tile_rows = double(ceil_div(ceil_div(m, MR), rows) * MR);
      const double tile_cols = double(ceil_div(ceil_div(n, NR), cols) * NR);
      const double cost = tile_rows * tile_cols * (cols > 1 ? 1.1 : 1.0);
      if (best_cost < 0 || cost < best_cost) best = {rows, cols}, best_cost = cost;
    }
    return best;
  }

  // Short A (all m rows in one A block) with the threads splitting the columns: a B micro-
  // panel is packed right before its use, into this thread's own slot, and multiplied against
  // the whole A block while it sits in L1 -- instead of packing a KC x NC panel (megabytes)
  // through to L3 and reading it back. With few rows each B value is used only m times, so
  // that round trip, not the multiply, would set the speed (a conv's few output channels).
  // The threads share nothing: no barriers.
  static void run_thread_short_a(const GemmProblem<T>& p, T* packed_b, T* packed_a,
                                 Range my_panels_of_n) {
    const int64_t kc_step = ceil_div(p.k, ceil_div(p.k, KC));
    for (int64_t pc = 0; pc < p.k; pc += kc_step) {
      const int64_t kc = min_i64(kc_step, p.k - pc);
      pack_a(p, 0, p.m, pc, kc, packed_a);
      for (int64_t jp = my_panels_of_n.begin; jp < my_panels_of_n.end; ++jp) {
        const int64_t col = jp * NR, cols = min_i64(NR, p.n - col);
        pack_b(p, pc, kc, col, cols, packed_b);
        for (int64_t i = 0; i < p.m; i += MR)
          micro_tile(p, kc, packed_a + i * kc, packed_b, i, col, min_i64(MR, p.m - i), cols,
                     pc > 0 || p.accumulate);
      }
    }
  }

  // The loops run by each thread of the team (thread = 0 .. team-1).
  static void run_thread(const GemmProblem<T>& p, char* workspace, int thread, int team) {
    T* packed_b = reinterpret_cast<T*>(workspace);
    T* packed_a = reinterpret_cast<T*>(workspace + aligned_bytes(b_region_elems(p.n, p.k, team)) +
                                       thread * aligned_bytes(a_block_elems(p.m, p.k)));
    const Grid grid = choose_grid(team, p.m, p.n);
    if (grid.rows == 1 && p.m <= MC) {
      run_thread_short_a(p, packed_b + thread * min_i64(KC, p.k) * NR, packed_a,
                         split_range(ceil_div(p.n, NR), team, thread));
      return;
    }
    const int grid_row = thread / grid.cols, grid_col = thread % grid.cols;

    // My rows of C, in whole micro-panels, cut into equal MC-sized blocks (no runt block).
    const Range row_panels = split_range(ceil_div(p.m, MR), grid.rows, grid_row);
    const int64_t row_begin = row_panels.begin * MR;
    const int64_t row_end = min_i64(row_panels.end * MR, p.m);
    const int64_t my_rows = row_end - row_begin;
    const int64_t mc_step = my_rows > 0 ? round_up(ceil_div(my_rows, ceil_div(my_rows, MC)), MR)
                                        : MR;
    const int64_t kc_step = ceil_div(p.k, ceil_div(p.k, KC));

    for (int64_t jc = 0; jc < p.n; jc += NC) {
      const int64_t nc = min_i64(NC, p.n - jc);
      const int64_t n_panels = ceil_div(nc, NR);
      const Range my_panels = split_range(n_panels, grid.cols, grid_col);
      for (int64_t pc = 0; pc < p.k; pc += kc_step) {
        const int64_t kc = min_i64(kc_step, p.k - pc);
        // The whole team packs the shared B panel, each thread a share of micro-panels.
        const Range packs = split_range(n_panels, team, thread);
        for (int64_t jp = packs.begin; jp < packs.end; ++jp)
          pack_b(p, pc, kc, jc + jp * NR, min_i64(NR, nc - jp * NR), packed_b + jp * NR * kc);
        team_barrier(team);

        if (my_panels.begin < my_panels.end) {
          for (int64_t ic = row_begin; ic < row_end; ic += mc_step) {
            const int64_t mc = min_i64(mc_step, row_end - ic);
            pack_a(p, ic, mc, pc, kc, packed_a);
            // The first k block writes C, later ones add to it: C needs no zeroing.
            multiply_block(p, packed_a, ic, mc, packed_b, my_panels, jc, nc, kc,
                           pc > 0 || p.accumulate);
          }
        }
        team_barrier(team);  // nobody repacks B while another thread still reads it
      }
    }
  }

  static void multiply(const GemmProblem<T>& p, int threads, void* workspace) {
    if (p.m <= 0 || p.n <= 0 || p.k <= 0) return;
    char* ws = static_cast<char*>(workspace);
#if defined(EMBER_OPENMP)
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
      run_thread(p, ws, omp_get_thread_num(), omp_get_num_threads());
      return;
    }
#else
    (void)threads;
#endif
    run_thread(p, ws, 0, 1);
  }

  static constexpr GemmKernel<T> table_entry() { return {&workspace_bytes, &multiply}; }
};

}  // namespace
}  // namespace ember::cpu::detail
