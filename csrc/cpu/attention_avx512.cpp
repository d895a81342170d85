// The fused attention kernels compiled for AVX-512 (this file gets -mavx512f ... -mfma; see
// CMakeLists.txt). Elsewhere it compiles to a stub and the portable kernels are used.
#include "cpu/attention_impl.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__FMA__)
#define EMBER_ATTN_NS avx512
#define EMBER_ATTN_VBYTES 64
#include "cpu/attention_impl.h"  // second pass: the kernels

namespace ember::cpu::attn_detail {
const AttentionKernels* attention_avx512_kernels() { return &avx512::kKernels; }
}  // namespace ember::cpu::attn_detail
#else
namespace ember::cpu::attn_detail {
const AttentionKernels* attention_avx512_kernels() { return nullptr; }
}  // namespace ember::cpu::attn_detail
#endif
