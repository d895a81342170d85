// The fused attention kernels compiled for AVX2 + FMA (this file gets -mavx2 -mfma; see
// CMakeLists.txt). Elsewhere it compiles to a stub and the portable kernels are used.
#include "cpu/attention_impl.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define EMBER_ATTN_NS avx2
#define EMBER_ATTN_VBYTES 32
#include "cpu/attention_impl.h"  // second pass: the kernels

namespace ember::cpu::attn_detail {
const AttentionKernels* attention_avx2_kernels() { return &avx2::kKernels; }
}  // namespace ember::cpu::attn_detail
#else
namespace ember::cpu::attn_detail {
const AttentionKernels* attention_avx2_kernels() { return nullptr; }
}  // namespace ember::cpu::attn_detail
#endif
