// Exact sums of absolute or squared byte differences of uint8 rows, per code path.
//
// The sums are integers, so every path (and every order of summation) gives the same value:
// the paths differ only in speed. Rows are usually padded with zeros to a multiple of kU8Width
// bytes (padding adds nothing to either sum); a tail that is not is summed by plain code, so
// any width gives the exact answer on every path.
//
// Callers pick the path once per kernel call (cpu_level()) and run a whole tile of rows on it:
// a function with a target attribute can only be inlined into one with the same target, so
// the SIMD entry points below work on tiles big enough that one call per tile costs nothing.
#pragma once

#include <cstdint>

#include "_common.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace knnv::u8 {

constexpr int64_t kU8Width = 32;  // bytes per AVX2 chunk; pad_u8 pads rows to a multiple

// -- baseline: plain loops (the compiler vectorises them with the baseline's own SIMD) --------

// 32-bit partial sums stay exact for this many bytes: 255^2 * 32768 < 2^31.
constexpr int64_t kPlainBlock = 32768;

inline int64_t sad_plain(const uint8_t* q, const uint8_t* t, int64_t width) {
  int64_t total = 0;
  for (int64_t f0 = 0; f0 < width; f0 += kPlainBlock) {
    const int64_t f1 = f0 + kPlainBlock < width ? f0 + kPlainBlock : width;
    uint32_t acc = 0;
    for (int64_t f = f0; f < f1; ++f) {
      const int32_t diff = int32_t(q[f]) - int32_t(t[f]);
      acc += uint32_t(diff < 0 ? -diff : diff);
    }
    total += acc;
  }
  return total;
}

inline int64_t sqd_plain(const uint8_t* q, const uint8_t* t, int64_t width) {
  int64_t total = 0;
  for (int64_t f0 = 0; f0 < width; f0 += kPlainBlock) {
    const int64_t f1 = f0 + kPlainBlock < width ? f0 + kPlainBlock : width;
    uint32_t acc = 0;
    for (int64_t f = f0; f < f1; ++f) {
      const int32_t diff = int32_t(q[f]) - int32_t(t[f]);
      acc += uint32_t(diff * diff);
    }
    total += acc;
  }
  return total;
}

#if defined(__x86_64__)
// -- AVX2: psadbw sums absolute byte differences, pmaddwd sums squares of 16-bit pairs ---------

#define KNNV_AVX2 __attribute__((target("avx2"), always_inline)) inline

// The bytes after the last whole chunk (none in padded rows): out of line, so that the plain
// loops do not take the registers of the SIMD loops they would be inlined next to.
__attribute__((noinline)) inline int64_t sad_tail(const uint8_t* q, const uint8_t* t,
                                                  int64_t done, int64_t width) {
  return done < width ? sad_plain(q + done, t + done, width - done) : 0;
}
__attribute__((noinline)) inline int64_t sqd_tail(const uint8_t* q, const uint8_t* t,
                                                  int64_t done, int64_t width) {
  return done < width ? sqd_plain(q + done, t + done, width - done) : 0;
}

KNNV_AVX2 int64_t sum_epi64_avx2(__m256i v) {
  const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_cvtsi128_si64(half) + _mm_extract_epi64(half, 1);
}

KNNV_AVX2 int64_t sum_epi32_avx2(__m256i v) {
  // Lanes are non-negative sums below 2^31: widen before adding so the total cannot wrap.
  const __m256i wide = _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)),
                                        _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)));
  return sum_epi64_avx2(wide);
}

KNNV_AVX2 __m256i load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// sum |q - t| over whole 32-byte chunks, then the tail. Unrolled (as LLVM did for the numba
// kernels): one accumulator per row is enough, the loads are what limits.
KNNV_AVX2 int64_t sad_avx2(const uint8_t* q, const uint8_t* t, int64_t width) {
  const int64_t n_chunks = width / kU8Width;
  __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int64_t c = 0; c < n_chunks; ++c)
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(load32(t + c * kU8Width), load32(q + c * kU8Width)));
  const int64_t done = n_chunks * kU8Width;
  return sum_epi64_avx2(acc) + (done < width ? sad_tail(q, t, done, width) : 0);
}

// The same for two query rows against one training row, loading each training chunk once.
KNNV_AVX2 void sad2_avx2(const uint8_t* q0, const uint8_t* q1, const uint8_t* t, int64_t width,
                         int64_t* d0, int64_t* d1) {
  const int64_t n_chunks = width / kU8Width;
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
#pragma GCC unroll 8
  for (int64_t c = 0; c < n_chunks; ++c) {
    const __m256i tv = load32(t + c * kU8Width);
    acc0 = _mm256_add_epi64(acc0, _mm256_sad_epu8(tv, load32(q0 + c * kU8Width)));
    acc1 = _mm256_add_epi64(acc1, _mm256_sad_epu8(tv, load32(q1 + c * kU8Width)));
  }
  const int64_t done = n_chunks * kU8Width;
  *d0 = sum_epi64_avx2(acc0) + (done < width ? sad_tail(q0, t, done, width) : 0);
  *d1 = sum_epi64_avx2(acc1) + (done < width ? sad_tail(q1, t, done, width) : 0);
}

// A 32-bit lane gains at most 4 * 255^2 per chunk: flushed to 64 bits every 8192 chunks
// (8192 * 260100 < 2^31), so rows of any width stay exact.
constexpr int64_t kSqdFlushChunks = 8192;

// sum (q - t)^2: |q - t| as bytes (max - min cannot wrap), widened to 16 bits against zero,
// squared and pair-summed into 32-bit lanes by pmaddwd.
KNNV_AVX2 int64_t sqd_avx2(const uint8_t* q, const uint8_t* t, int64_t width) {
  const int64_t n_chunks = width / kU8Width;
  const __m256i zero = _mm256_setzero_si256();
  int64_t total = 0;
  for (int64_t c0 = 0; c0 < n_chunks; c0 += kSqdFlushChunks) {
    const int64_t c1 = c0 + kSqdFlushChunks < n_chunks ? c0 + kSqdFlushChunks : n_chunks;
    __m256i acc = zero;
#pragma GCC unroll 4
    for (int64_t c = c0; c < c1; ++c) {
      const __m256i a = load32(q + c * kU8Width), b = load32(t + c * kU8Width);
      const __m256i diff = _mm256_sub_epi8(_mm256_max_epu8(a, b), _mm256_min_epu8(a, b));
      const __m256i lo = _mm256_unpacklo_epi8(diff, zero), hi = _mm256_unpackhi_epi8(diff, zero);
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(lo, lo),
                                                   _mm256_madd_epi16(hi, hi)));
    }
    total += sum_epi32_avx2(acc);
  }
  const int64_t done = n_chunks * kU8Width;
  return total + (done < width ? sqd_tail(q, t, done, width) : 0);
}

#undef KNNV_AVX2
#endif  // __x86_64__

// -- one row pair, path chosen per call (for callers outside a hot tile loop) ----------------

#if defined(__x86_64__)
__attribute__((target("avx2"))) inline int64_t sad_row_avx2(const uint8_t* q, const uint8_t* t,
                                                             int64_t width) {
  return sad_avx2(q, t, width);
}
__attribute__((target("avx2"))) inline int64_t sqd_row_avx2(const uint8_t* q, const uint8_t* t,
                                                             int64_t width) {
  return sqd_avx2(q, t, width);
}
#endif

inline int64_t sad_row(const uint8_t* q, const uint8_t* t, int64_t width) {
#if defined(__x86_64__)
  if (cpu_level() >= Cpu::avx2) return sad_row_avx2(q, t, width);
#endif
  return sad_plain(q, t, width);
}

inline int64_t sqd_row(const uint8_t* q, const uint8_t* t, int64_t width) {
#if defined(__x86_64__)
  if (cpu_level() >= Cpu::avx2) return sqd_row_avx2(q, t, width);
#endif
  return sqd_plain(q, t, width);
}

}  // namespace knnv::u8
