// Per-ISA kernel variants: one vocabulary and one run-time choice for every CPU kernel.
//
// A kernel that is hand-vectorised (the GEMM micro-kernels, the conv operand packers, the
// fused attention) is compiled once per instruction set, in its own translation unit:
// <name>_avx512.cpp / <name>_avx2.cpp get the -m flags from CMakeLists.txt (the list
// EMBER_AVX512_SOURCES / EMBER_AVX2_SOURCES there) and the portable variant compiles for the
// baseline. Each unit exposes a table of its kernels (a struct of function pointers, nullptr
// where this build or architecture lacks the ISA), and IsaVariants::pick chooses the table:
// the one asked for (tests force each) or the best this CPU runs.
//
// A kernel that the compiler vectorises by itself (elementwise, layer norm, Adam, the
// recurrent cells' pointwise loops) gets the same three variants from GCC's function
// multi-versioning, EMBER_MULTIVERSION below: the dynamic loader picks by the same CPU
// features, with no code to write per ISA.
#pragma once

#include <string>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EMBER_X86_DISPATCH 1
#endif

// Compile a function for AVX-512 (x86-64-v4), AVX2 (x86-64-v3) and baseline x86-64 and let the
// loader pick (GCC target_clones). Put it on small, hot, loop-only functions; the inline
// helpers they call (vec_math.h) are compiled into each clone. On a function template use
// EMBER_MULTIVERSION_TEMPLATE: GCC 12 is the first whose clones of templates link reliably.
// (Its clones name the features the recurrent loops were tuned with: the same three levels.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(EMBER_NO_MULTIVERSION)
#define EMBER_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#if __GNUC__ >= 12 && defined(__linux__)
#define EMBER_MULTIVERSION_TEMPLATE __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#else
#define EMBER_MULTIVERSION
#endif
#ifndef EMBER_MULTIVERSION_TEMPLATE
#define EMBER_MULTIVERSION_TEMPLATE
#endif

namespace ember::cpu {

// The instruction sets a kernel has variants for. `automatic` picks the best available.
enum class Isa { automatic, generic, avx2, avx512 };

// Does this CPU (and OS: libgcc checks that the OS saves the vector registers) run it?
inline bool cpu_runs(Isa isa) {
#if defined(EMBER_X86_DISPATCH)
  __builtin_cpu_init();
  if (isa == Isa::avx512) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return isa == Isa::generic;
}

inline const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::generic: return "generic";
    default: return "auto";
  }
}

// Parses "auto", "generic", "avx2" or "avx512"; returns false for anything else.
inline bool parse_isa(const std::string& name, Isa* isa) {
  for (Isa candidate : {Isa::automatic, Isa::generic, Isa::avx2, Isa::avx512})
    if (name == isa_name(candidate)) {
      *isa = candidate;
      return true;
    }
  return false;
}

// One kernel's tables, one per ISA (nullptr: not in this build). `generic` is always there.
template <typename Table>
struct IsaVariants {
  const Table* generic;
  const Table* avx2;
  const Table* avx512;

  // The table for `isa` if this build has it and this CPU runs it, else nullptr.
  const Table* usable(Isa isa) const {
    if (!cpu_runs(isa)) return nullptr;
    switch (isa) {
      case Isa::avx512: return avx512;
      case Isa::avx2: return avx2;
      case Isa::generic: return generic;
      default: return nullptr;
    }
  }

  // Usable ISAs, best first (generic last, always).
  std::vector<Isa> available() const {
    std::vector<Isa> isas;
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic})
      if (usable(isa) != nullptr) isas.push_back(isa);
    return isas;
  }

  Isa best() const { return available().front(); }

  // The table for `isa`, `automatic` meaning `best_isa` (the caller's cached best(): the CPU
  // does not change while we run); the portable one where that ISA has no variant here.
  const Table& pick(Isa isa, Isa best_isa) const {
    const Table* t = usable(isa == Isa::automatic ? best_isa : isa);
    return t ? *t : *generic;
  }
};

}  // namespace ember::cpu
