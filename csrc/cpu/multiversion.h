// EMBER_MULTIVERSION: compile a function three times -- AVX-512 (x86-64-v4), AVX2
// (x86-64-v3) and baseline x86-64 -- and let the dynamic loader pick the best one for the
// CPU (GCC function multi-versioning). A generic wheel then still streams 16 floats per
// instruction on an AVX-512 machine. Put it on the small, hot, loop-only functions; the
// inline helpers they call (vec_math.h) are compiled into each clone.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(EMBER_NO_MULTIVERSION)
#define EMBER_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EMBER_MULTIVERSION
#endif
