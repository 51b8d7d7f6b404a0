#include "engine/runtime/byte_table.h"

#include <immintrin.h>

#include <algorithm>

namespace quantd::engine {
namespace {

void ApplyScalar(const ByteTable& table, const uint8_t* src, uint8_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = table.entries[src[i]];
}

// 64 lookups per iteration: two 128-entry permutes (the low 7 bits of each
// index pick within a half) and a blend on the top bit.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void ApplyVbmi(const ByteTable& table,
                                                                       const uint8_t* src,
                                                                       uint8_t* dst, size_t n) {
  const uint8_t* t = table.entries.data();
  const __m512i t0 = _mm512_loadu_si512(t);
  const __m512i t1 = _mm512_loadu_si512(t + 64);
  const __m512i t2 = _mm512_loadu_si512(t + 128);
  const __m512i t3 = _mm512_loadu_si512(t + 192);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i index = _mm512_loadu_si512(src + i);
    const __m512i low = _mm512_permutex2var_epi8(t0, index, t1);
    const __m512i high = _mm512_permutex2var_epi8(t2, index, t3);
    const __mmask64 upper = _mm512_movepi8_mask(index);
    _mm512_storeu_si512(dst + i, _mm512_mask_blend_epi8(upper, low, high));
  }
  ApplyScalar(table, src + i, dst + i, n - i);
}

bool HasVbmi() {
  static const bool has = __builtin_cpu_supports("avx512vbmi") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f");
  return has;
}

}  // namespace

void ApplyByteTable(const ByteTable& table, const uint8_t* src, uint8_t* dst, size_t n) {
  // Slices of 64 KiB (a multiple of the vector width) spread over the
  // threads; small tensors run on one.
  constexpr size_t kSlice = size_t{64} << 10;
  const size_t slices = (n + kSlice - 1) / kSlice;
  const bool vbmi = HasVbmi();
#pragma omp parallel for schedule(static) if (slices > 1)
  for (size_t s = 0; s < slices; ++s) {
    const size_t begin = s * kSlice, size = std::min(kSlice, n - begin);
    if (vbmi) {
      ApplyVbmi(table, src + begin, dst + begin, size);
    } else {
      ApplyScalar(table, src + begin, dst + begin, size);
    }
  }
}

}  // namespace quantd::engine
