// Compiled uint8 Euclidean and cosine in bulk (knnvision.search.kernels.dot_u8): exact integer
// dot products of uint8 query rows with int8 training rows (y - 128), 4 x 4 rows at a time,
// each 4 x 4 block tested against the rows' limits at once (EuclideanTest, CosineTest).
//
// AVX-512 VNNI's vpdpbusd multiplies 64 unsigned bytes by 64 signed bytes and adds each group
// of four products into a 32-bit lane; without VNNI the same products come from plain loops.
// Both are exact integers, so both paths give the same top-k lists.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "_common.hpp"
#include "topk.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace knnv {
namespace {

constexpr int64_t kRows = 4;    // query rows per block
constexpr int64_t kCols = 4;    // training rows per block
constexpr int64_t kWidth = 64;  // bytes per VNNI chunk

// |x (y - 128)| <= 255 * 128 per byte, so a 32-bit sum is exact over this many bytes
// (65536 * 32640 < 2^31); longer rows are summed in groups of it, in 64 bits.
constexpr int64_t kGroupBytes = 65536;

// The 16 products of rows q + r * q_step (uint8) with rows t + c * t_step (int8), r, c < 4,
// added to out[r * 4 + c].
void dot_block_plain(const uint8_t* q, int64_t q_step, const int8_t* t, int64_t t_step,
                     int64_t width, int64_t* out) {
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < kCols; ++c) {
      const uint8_t* a = q + r * q_step;
      const int8_t* b = t + c * t_step;
      int64_t total = 0;
      for (int64_t f0 = 0; f0 < width; f0 += kGroupBytes) {
        const int64_t f1 = std::min(f0 + kGroupBytes, width);
        int32_t acc = 0;
        for (int64_t f = f0; f < f1; ++f) acc += int32_t(a[f]) * int32_t(b[f]);
        total += acc;
      }
      out[r * kCols + c] = total;
    }
  }
}

// Per block of four query rows: the byte offsets of the whole chunks in which some row of the
// block is nonzero (`stride` slots a block) and how many there are. Over the other chunks
// x.(y - 128) is 0, so the VNNI products skip them: MNIST digits leave their first and last
// image rows blank, about a fifth of a block's chunks.
struct ChunkLists {
  std::vector<int64_t> offsets, counts;
  int64_t stride;
};

ChunkLists nonzero_chunks(const uint8_t* Q, int64_t q_step, int64_t q0, int64_t q1,
                          int64_t width) {
  const int64_t n_chunks = width / kWidth, n_blocks = (q1 - q0 + kRows - 1) / kRows;
  ChunkLists lists{std::vector<int64_t>(size_t(n_blocks * n_chunks)),
                   std::vector<int64_t>(size_t(n_blocks), 0), n_chunks};
  for (int64_t block = 0; block < n_blocks; ++block) {
    const int64_t i = q0 + block * kRows, rows = std::min(kRows, q1 - i);
    for (int64_t ch = 0; ch < n_chunks; ++ch) {
      bool nonzero = false;
      for (int64_t r = 0; r < rows && !nonzero; ++r) {
        const uint8_t* x = Q + (i + r) * q_step + ch * kWidth;
        for (int64_t f = 0; f < kWidth; ++f) nonzero |= x[f] != 0;
      }
      if (nonzero) lists.offsets[size_t(block * n_chunks + lists.counts[size_t(block)]++)] =
          ch * kWidth;
    }
  }
  return lists;
}

#if defined(__x86_64__)
#define KNNV_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

// Sum each of 16 vectors into one lane: lane L of the result is the sum of v[L]. Pairs are
// folded (half of each vector's lanes added to the other's) in four rounds of shuffles and
// adds, instead of 16 full horizontal sums.
KNNV_VNNI inline __attribute__((always_inline)) __m512i fold16(__m512i* v) {
  __m512i pairs[8], quads[4], halves[2];
  for (int m = 0; m < 8; ++m)  // per 128-bit block: [a0+a2, b0+b2, a1+a3, b1+b3]
    pairs[m] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * m], v[2 * m + 1]),
                                _mm512_unpackhi_epi32(v[2 * m], v[2 * m + 1]));
  for (int m = 0; m < 4; ++m)  // per 128-bit block: the block sums of four vectors
    quads[m] = _mm512_add_epi32(_mm512_unpacklo_epi64(pairs[2 * m], pairs[2 * m + 1]),
                                _mm512_unpackhi_epi64(pairs[2 * m], pairs[2 * m + 1]));
  for (int m = 0; m < 2; ++m)  // blocks 0+1 and 2+3 of two quads
    halves[m] = _mm512_add_epi32(
        _mm512_shuffle_i32x4(quads[2 * m], quads[2 * m + 1], _MM_SHUFFLE(2, 0, 2, 0)),
        _mm512_shuffle_i32x4(quads[2 * m], quads[2 * m + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(halves[0], halves[1], _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_i32x4(halves[0], halves[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// The 16 products over the n_chunks whole chunks at byte offsets chunks[0 .. n_chunks), as
// int32 (exact: n_chunks * 64 <= kGroupBytes), into sums[r * 4 + c]. 16 accumulators stay in
// registers and each 64-byte chunk of a row is loaded once for four products. Not inlined:
// inlined into its caller's loops, GCC copies every accumulator between registers twice per
// chunk.
KNNV_VNNI __attribute__((noinline)) void dot_group_vnni(const uint8_t* q, int64_t q_step,
                                                        const int8_t* t, int64_t t_step,
                                                        const int64_t* chunks, int64_t n_chunks,
                                                        int32_t* sums) {
  // Named accumulators, not an array: GCC then keeps all 16 in registers without copies.
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
  for (int64_t ch = 0; ch < n_chunks; ++ch) {
    const uint8_t* q0 = q + chunks[ch];
    const int8_t* t0 = t + chunks[ch];
    const __m512i x0 = _mm512_loadu_si512(q0), x1 = _mm512_loadu_si512(q0 + q_step),
                  x2 = _mm512_loadu_si512(q0 + 2 * q_step),
                  x3 = _mm512_loadu_si512(q0 + 3 * q_step);
    const __m512i y0 = _mm512_loadu_si512(t0), y1 = _mm512_loadu_si512(t0 + t_step),
                  y2 = _mm512_loadu_si512(t0 + 2 * t_step),
                  y3 = _mm512_loadu_si512(t0 + 3 * t_step);
    a0 = _mm512_dpbusd_epi32(a0, x0, y0), a1 = _mm512_dpbusd_epi32(a1, x0, y1);
    a2 = _mm512_dpbusd_epi32(a2, x0, y2), a3 = _mm512_dpbusd_epi32(a3, x0, y3);
    a4 = _mm512_dpbusd_epi32(a4, x1, y0), a5 = _mm512_dpbusd_epi32(a5, x1, y1);
    a6 = _mm512_dpbusd_epi32(a6, x1, y2), a7 = _mm512_dpbusd_epi32(a7, x1, y3);
    a8 = _mm512_dpbusd_epi32(a8, x2, y0), a9 = _mm512_dpbusd_epi32(a9, x2, y1);
    a10 = _mm512_dpbusd_epi32(a10, x2, y2), a11 = _mm512_dpbusd_epi32(a11, x2, y3);
    a12 = _mm512_dpbusd_epi32(a12, x3, y0), a13 = _mm512_dpbusd_epi32(a13, x3, y1);
    a14 = _mm512_dpbusd_epi32(a14, x3, y2), a15 = _mm512_dpbusd_epi32(a15, x3, y3);
  }
  __m512i acc[kRows * kCols] = {a0, a1, a2, a3, a4, a5, a6, a7,
                                a8, a9, a10, a11, a12, a13, a14, a15};
  _mm512_storeu_si512(sums, fold16(acc));
}

// dot_block_plain with VNNI over the whole chunks at byte offsets chunks[0 .. n_chunks) (those
// where some query row of the block is nonzero: the others add 0), in groups short enough for
// exact int32 sums; a tail shorter than a chunk is summed plainly.
KNNV_VNNI inline __attribute__((always_inline)) void dot_block_vnni(
    const uint8_t* q, int64_t q_step, const int8_t* t, int64_t t_step, int64_t width,
    const int64_t* chunks, int64_t n_chunks, int64_t* out) {
  const int64_t group = kGroupBytes / kWidth;
  for (int64_t i = 0; i < kRows * kCols; ++i) out[i] = 0;
  for (int64_t c0 = 0; c0 < n_chunks; c0 += group) {
    int32_t sums[kRows * kCols];
    dot_group_vnni(q, q_step, t, t_step, chunks + c0, std::min(group, n_chunks - c0), sums);
    for (int64_t i = 0; i < kRows * kCols; ++i) out[i] += sums[i];
  }
  const int64_t done = width / kWidth * kWidth;
  if (done < width) {
    int64_t tail[kRows * kCols];
    dot_block_plain(q + done, q_step, t + done, t_step, width - done, tail);
    for (int64_t i = 0; i < kRows * kCols; ++i) out[i] += tail[i];
  }
}

// The blocks of query rows i0, i0 + 4, ... < i1 against training rows j .. j + 3: products
// into out[16 * block + r * 4 + c] and, where all 16 pairs are real (full_cols and four
// query rows), hit[block]: whether any pair's estimate is below its row's limit
// (test.block_below_vnni). Blocks hold distinct query rows, so their limits can be read
// before any block's results are pushed.
template <class Test>
KNNV_VNNI void dot_tile_vnni(const uint8_t* Q, int64_t q_step, int64_t i0, int64_t i1,
                             const int8_t* T, int64_t t_step, int64_t j, int64_t width,
                             const ChunkLists& chunks, const Test& test, bool full_cols,
                             int64_t* out, uint8_t* hit) {
  for (int64_t i = i0; i < i1; i += kRows) {
    const int64_t block = (i - i0) / kRows;
    int64_t* dots = out + block * kRows * kCols;
    dot_block_vnni(Q + i * q_step, q_step, T + j * t_step, t_step, width,
                   chunks.offsets.data() + block * chunks.stride, chunks.counts[size_t(block)],
                   dots);
    if (!full_cols || i + kRows > i1) continue;
    hit[block] = test.block_below_vnni(i - i0, j, dots);
  }
}

// Lane r * 4 + c of a 4 x 4 block holds row r's value: the per-row vectors of four spread over
// the two halves of a block (rows 0-1, rows 2-3).
KNNV_VNNI inline __m512i block_rows(int half) {
  return half == 0 ? _mm512_setr_epi64(0, 0, 0, 0, 1, 1, 1, 1)
                   : _mm512_setr_epi64(2, 2, 2, 2, 3, 3, 3, 3);
}

// int64 lanes as float64, exactly for |v| < 2^51 (integer dots of bytes are far below): v is
// added to the bits of 1.5 * 2^52, whose unit in the last place is 1, and 1.5 * 2^52 taken
// away. AVX-512F only (the direct conversion needs AVX-512DQ).
KNNV_VNNI inline __m512d exact_to_double(__m512i v) {
  const __m512i magic_bits = _mm512_set1_epi64(0x4338000000000000LL);
  const __m512d magic = _mm512_set1_pd(6755399441055744.0);
  return _mm512_sub_pd(_mm512_castsi512_pd(_mm512_add_epi64(v, magic_bits)), magic);
}
#endif

// Euclidean: the estimate is e = ||y||^2 - 2 x.(y - 128), the squared distance less the
// query row's own part; exact integers against an integer limit per query row.
struct EuclideanTest {
  const int64_t* train_sq;  // ||y||^2 per training row
  const int64_t* limit;     // per query row of the block range (whole blocks of four)

  int64_t estimate(int64_t row, int64_t j, int64_t dot) const { return train_sq[j] - 2 * dot; }
  bool below(int64_t row, int64_t e) const { return e < limit[row]; }
#if defined(__x86_64__)
  // Whether any pair of the block of rows row .. row + 3 and training rows j .. j + 3 is below
  // its row's limit, in 64-bit lanes.
  KNNV_VNNI bool block_below_vnni(int64_t row, int64_t j, const int64_t* dots) const {
    const __m512i norms =
        _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)(train_sq + j)));
    const __m512i limits =
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)(limit + row)));
    __mmask8 below = 0;
    for (int half = 0; half < 2; ++half) {
      const __m512i d = _mm512_loadu_si512(dots + 8 * half);
      below |= _mm512_cmplt_epi64_mask(_mm512_sub_epi64(norms, _mm512_add_epi64(d, d)),
                                       _mm512_permutexvar_epi64(block_rows(half), limits));
    }
    return below != 0;
  }
#endif
};

// Cosine: the estimate is 1 - ((x.y) / ||y||) / ||x|| in float64, from the exact integer
// x.y = x.(y - 128) + 128 sum(x) and reciprocal norms (1 for zero rows, as the reference's
// unit rows); the vector test computes it with the same operations in the same order, so it
// agrees with the scalar one bit for bit.
struct CosineTest {
  const double* inv_train;  // 1 / ||y|| per training row
  const double* inv_query;  // 1 / ||x|| per query row of the block range (whole blocks)
  const int64_t* shift;     // 128 sum(x) per query row of the block range
  const double* limit;      // per query row of the block range

  double estimate(int64_t row, int64_t j, int64_t dot) const {
    return 1.0 - (double(dot + shift[row]) * inv_train[j]) * inv_query[row];
  }
  bool below(int64_t row, double e) const { return e < limit[row]; }
#if defined(__x86_64__)
  KNNV_VNNI bool block_below_vnni(int64_t row, int64_t j, const int64_t* dots) const {
    const __m512i shifts =
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)(shift + row)));
    const __m512d inv_q = _mm512_castpd256_pd512(_mm256_loadu_pd(inv_query + row));
    const __m512d limits = _mm512_castpd256_pd512(_mm256_loadu_pd(limit + row));
    const __m512d inv_t = _mm512_broadcast_f64x4(_mm256_loadu_pd(inv_train + j));
    const __m512d one = _mm512_set1_pd(1.0);
    __mmask8 below = 0;
    for (int half = 0; half < 2; ++half) {
      const __m512i rows = block_rows(half);
      const __m512i exact = _mm512_add_epi64(_mm512_loadu_si512(dots + 8 * half),
                                             _mm512_permutexvar_epi64(rows, shifts));
      const __m512d scaled = _mm512_mul_pd(exact_to_double(exact), inv_t);
      const __m512d e =
          _mm512_sub_pd(one, _mm512_mul_pd(scaled, _mm512_permutexvar_pd(rows, inv_q)));
      below |= _mm512_cmp_pd_mask(e, _mm512_permutexvar_pd(rows, limits), _CMP_LT_OQ);
    }
    return below != 0;
  }
#endif
};

// dot_tile_vnni with plain loops: the same products and the same hit flags.
template <class Test>
void dot_tile_plain(const uint8_t* Q, int64_t q_step, int64_t i0, int64_t i1, const int8_t* T,
                    int64_t t_step, int64_t j, int64_t width, const Test& test, bool full_cols,
                    int64_t* out, uint8_t* hit) {
  for (int64_t i = i0; i < i1; i += kRows) {
    const int64_t block = (i - i0) / kRows;
    int64_t* dots = out + block * kRows * kCols;
    dot_block_plain(Q + i * q_step, q_step, T + j * t_step, t_step, width, dots);
    if (!full_cols || i + kRows > i1) continue;
    bool below = false;
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t c = 0; c < kCols; ++c)
        below |= test.below(i - i0 + r, test.estimate(i - i0 + r, j + c, dots[r * kCols + c]));
    hit[block] = below;
  }
}

bool vnni_path() {
#if defined(__x86_64__)
  return cpu_level() == Cpu::avx512;
#else
  return false;
#endif
}

// The limit as an integer: for integer e, double(e) < limit exactly when e < ceil(limit)
// (the numba loop compared in float64); an empty list's infinite limit admits everything.
inline int64_t integer_limit(double limit) {
  return limit == std::numeric_limits<double>::infinity() ? std::numeric_limits<int64_t>::max()
                                                          : int64_t(std::ceil(limit));
}

// Per query row of [q0, q1): ||x||^2 - 256 sum(x), the part of the distance not in the
// products, so that ||x - y||^2 = base + ||y||^2 - 2 x.(y - 128).
std::vector<int64_t> distance_bases(const uint8_t* Q, int64_t q_step, int64_t q0, int64_t q1,
                                    int64_t width) {
  std::vector<int64_t> base(size_t(q1 - q0), 0);
  for (int64_t i = q0; i < q1; ++i) {
    const uint8_t* q = Q + i * q_step;
    int64_t acc = 0;
    for (int64_t f = 0; f < width; ++f) {
      const int64_t x = q[f];
      acc += x * x - 256 * x;
    }
    base[i - q0] = acc;
  }
  return base;
}

// Queries [q0, q1) against every training row, four training rows at a time: for each pair
// whose estimate e (test.estimate, from x.(y - 128)) is below its row's limit (test.below,
// rows counted from q0), hit(row, training index, e), which may lower that limit. The test's
// per-row arrays hold whole blocks of four (read four at once). Pairs come in the numba
// loop's order (training rows outer, queries inner).
template <class Test, class Hit>
void dot_scan_rows(bool vnni, const uint8_t* Q, int64_t q_step, int64_t q0, int64_t q1,
                   const int8_t* T, int64_t t_step, int64_t n_train, int64_t width,
                   const Test& test, Hit hit) {
  const int64_t n_blocks = (q1 - q0 + kRows - 1) / kRows;
  std::vector<int64_t> out(size_t(n_blocks * kRows * kCols));
  std::vector<uint8_t> hits(static_cast<size_t>(n_blocks));
  const ChunkLists chunks = vnni ? nonzero_chunks(Q, q_step, q0, q1, width) : ChunkLists{};
  for (int64_t j = 0; j < n_train; j += kCols) {
    const bool full_cols = j + kCols <= n_train;
#if defined(__x86_64__)
    if (vnni)
      dot_tile_vnni(Q, q_step, q0, q1, T, t_step, j, width, chunks, test, full_cols,
                    out.data(), hits.data());
    else
#endif
      dot_tile_plain(Q, q_step, q0, q1, T, t_step, j, width, test, full_cols, out.data(),
                     hits.data());
    for (int64_t i = q0; i < q1; i += kRows) {
      const int64_t block = (i - q0) / kRows;
      if (full_cols && i + kRows <= q1 && !hits[size_t(block)]) continue;
      const int64_t* dots = out.data() + block * kRows * kCols;
      for (int64_t r = 0; r < std::min(kRows, q1 - i); ++r) {
        const int64_t row = i + r;
        for (int64_t c = 0; c < std::min(kCols, n_train - j); ++c) {
          const auto e = test.estimate(row - q0, j + c, dots[r * kCols + c]);
          if (test.below(row - q0, e)) hit(row, j + c, e);
        }
      }
    }
  }
}

// One block of queries [q0, q1) against every training row, into the top-k lists: a product
// beats a list when e < the k-th distance minus the row's base.
void dot_block_rows(bool vnni, const uint8_t* Q, int64_t q_step, int64_t q0, int64_t q1,
                    const int8_t* T, int64_t t_step, int64_t n_train, const int64_t* train_sq,
                    int64_t width, double* bd, int64_t* bi, int64_t k) {
  const int64_t last = k - 1;
  const std::vector<int64_t> base = distance_bases(Q, q_step, q0, q1, width);
  std::vector<int64_t> limit(size_t((q1 - q0 + kRows - 1) / kRows * kRows), 0);
  for (int64_t i = q0; i < q1; ++i)
    limit[i - q0] = integer_limit(bd[i * k + last] - double(base[i - q0]));
  dot_scan_rows(vnni, Q, q_step, q0, q1, T, t_step, n_train, width,
                EuclideanTest{train_sq, limit.data()}, [&](int64_t row, int64_t index, int64_t e) {
                  topk_push(bd + row * k, bi + row * k, k, double(base[row - q0] + e), index);
                  limit[row - q0] = integer_limit(bd[row * k + last] - double(base[row - q0]));
                });
}

inline int64_t round_up_rows(int64_t n) { return (n + kRows - 1) / kRows * kRows; }

// The layout both scans need (see u8_dot_topk): rows of one width, padded to 4-row
// multiples, a norm per training row, and blocks of a positive multiple of 4 queries.
void check_dot_inputs(const Matrix<const uint8_t>& queries, int64_t n_queries,
                      const Matrix<const int8_t>& train, int64_t n_train,
                      const Vector<const int64_t>& train_sq, int64_t q_block) {
  if (queries.shape(1) != train.shape(1)) throw std::invalid_argument("rows of different widths");
  if (n_queries < 0 || n_train < 0 || int64_t(queries.shape(0)) < round_up_rows(n_queries) ||
      int64_t(train.shape(0)) < round_up_rows(n_train) || int64_t(train_sq.shape(0)) < n_train)
    throw std::invalid_argument("rows not padded to a multiple of 4, or too few norms");
  if (q_block < kRows || q_block % kRows != 0)
    throw std::invalid_argument("q_block must be a positive multiple of 4");
}

// Top-k lists with one row per query and at least one column.
void check_topk_lists(int64_t n_queries, const Matrix<double>& best_d,
                      const Matrix<int64_t>& best_i) {
  if (best_d.shape(0) != size_t(n_queries) || best_i.shape(0) != size_t(n_queries) ||
      best_d.shape(1) != best_i.shape(1) || best_d.shape(1) < 1)
    throw std::invalid_argument("top-k lists of the wrong shape");
}

// block_rows(q0, q1) for the blocks of q_block queries, in parallel (each block's lists are
// its own, so the results do not depend on which thread takes a block).
template <class BlockRows>
void over_query_blocks(int64_t n_queries, int64_t q_block, int n_threads, BlockRows block_rows) {
  const int64_t n_blocks = (n_queries + q_block - 1) / q_block;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic)
  for (int64_t block = 0; block < n_blocks; ++block) {
    const int64_t q0 = block * q_block;
    block_rows(q0, std::min(q0 + q_block, n_queries));
  }
}

// Exact k nearest rows by squared Euclidean distance, via dot products, into best_d / best_i
// (filled with inf / int64 max by the caller). queries (uint8) and train (int8, y - 128) are
// padded to 4-row multiples (and, for speed, 64-byte columns); only the first n_queries /
// n_train rows count. train_sq holds ||y||^2 of the real training rows. Parallel over blocks
// of q_block queries (a multiple of 4); training rows are visited in index order and only a
// strictly smaller distance displaces, so ties go to the smaller index.
void u8_dot_topk(Matrix<const uint8_t> queries, int64_t n_queries, Matrix<const int8_t> train,
                 int64_t n_train, Vector<const int64_t> train_sq, int64_t q_block,
                 Matrix<double> best_d, Matrix<int64_t> best_i, int n_threads) {
  check_dot_inputs(queries, n_queries, train, n_train, train_sq, q_block);
  check_topk_lists(n_queries, best_d, best_i);
  const int64_t width = train.shape(1), k = best_d.shape(1);
  const bool vnni = vnni_path();
  over_query_blocks(n_queries, q_block, n_threads, [&](int64_t q0, int64_t q1) {
    dot_block_rows(vnni, queries.data(), width, q0, q1, train.data(), width, n_train,
                   train_sq.data(), width, best_d.data(), best_i.data(), k);
  });
}

// 1 / sqrt(n) for exact squared norms n (float64: both operations correctly rounded), 1 for
// a zero row, as the reference's unit rows; one entry per row of a whole number of blocks.
std::vector<double> inverse_norms(const int64_t* squared, int64_t n) {
  std::vector<double> inverse(size_t(round_up_rows(n)), 1.0);
  for (int64_t i = 0; i < n; ++i)
    if (squared[i] != 0) inverse[size_t(i)] = 1.0 / std::sqrt(double(squared[i]));
  return inverse;
}

// --- Euclidean on training tiles ---------------------------------------------------------
// The row-major scan above sums each 4 x 4 block of products across the lanes of 16 vectors
// at the end, and can skip only whole 64-byte chunks. Here the training rows are stored in
// tiles of 16 rows interleaved by 4-byte groups (tile t, group g: bytes 4g .. 4g + 3 of rows
// 16t .. 16t + 15, 64 bytes), so lane l of one vpdpbusd is row l's product with a broadcast
// group of one query: no sums across lanes, and each block of queries skips every 4-byte group
// blank in all its rows (on MNIST, sorted as tile_query_order sorts them, 39% of the groups
// stay, against 72% of the 64-byte chunks).
constexpr int64_t kTileRows = 16;                       // training rows per tile (one lane each)
constexpr int64_t kLaneBytes = 4;                       // bytes of a row per lane and group
constexpr int64_t kPanelTiles = 4;                      // tiles per register block
constexpr int64_t kPanelQueries = 6;                    // queries per register block
constexpr int64_t kPanelRows = kPanelTiles * kTileRows;  // training rows per register block
// int32 lanes stay exact for rows up to this width: |x.(y - 128)| <= 255 * 128 * width and
// ||y||^2 - 2 x.(y - 128) = ||x - y||^2 - (||x||^2 - 256 sum x) <= (255^2 + 128^2) * width.
constexpr int64_t kTileMaxWidth = 16384;

// Per block of kPanelQueries query rows: the 4-byte groups in which some row is nonzero, as
// group numbers (`stride` slots a block), and how many there are.
struct GroupLists {
  std::vector<int32_t> groups;
  std::vector<int64_t> counts;
  int64_t stride;
};

GroupLists nonzero_groups(const uint8_t* Q, int64_t q_step, int64_t q0, int64_t q1,
                          int64_t width) {
  const int64_t n_groups = width / kLaneBytes;
  const int64_t n_blocks = (q1 - q0 + kPanelQueries - 1) / kPanelQueries;
  GroupLists lists{std::vector<int32_t>(size_t(n_blocks * n_groups)),
                   std::vector<int64_t>(size_t(n_blocks), 0), n_groups};
  for (int64_t block = 0; block < n_blocks; ++block) {
    const int64_t i = q0 + block * kPanelQueries;
    const int64_t rows = std::min(kPanelQueries, q1 - i);
    for (int64_t g = 0; g < n_groups; ++g) {
      uint32_t any = 0;
      for (int64_t r = 0; r < rows; ++r) {
        uint32_t word;
        std::memcpy(&word, Q + (i + r) * q_step + g * kLaneBytes, sizeof word);
        any |= word;
      }
      if (any != 0)
        lists.groups[size_t(block * n_groups + lists.counts[size_t(block)]++)] = int32_t(g);
    }
  }
  return lists;
}

#if defined(__x86_64__)
// The products x.(y - 128) of kPanelQueries query rows (q, q + q_step, ...) with the
// kPanelRows training rows of the tiles at t (tile_step bytes apart), over the listed groups,
// handed to test.panel as acc[r * kPanelTiles + c] (lane l: training row c * 16 + l), which
// writes the pairs' estimates and which lanes are below their row's limit. Not inlined, and
// with 24 named accumulators: with an array of them GCC copies every accumulator through the
// stack once per group.
static_assert(kPanelQueries == 6 && kPanelTiles == 4, "panel_products_vnni names 6 x 4");
template <class Test>
KNNV_VNNI __attribute__((noinline)) void panel_products_vnni(
    const uint8_t* q, int64_t q_step, const int8_t* t, int64_t tile_step, const int32_t* groups,
    int64_t n_groups, const Test& test, int64_t j0, int64_t row,
    typename Test::Estimate* e, uint16_t* below) {
#define KNNV_ROW_ACC(r) \
  __m512i a##r##0 = _mm512_setzero_si512(), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0;
  KNNV_ROW_ACC(0) KNNV_ROW_ACC(1) KNNV_ROW_ACC(2) KNNV_ROW_ACC(3) KNNV_ROW_ACC(4) KNNV_ROW_ACC(5)
#undef KNNV_ROW_ACC
  const int64_t t2 = 2 * tile_step, t3 = 3 * tile_step;
  for (int64_t n = 0; n < n_groups; ++n) {
    const int64_t g = groups[n];
    const int8_t* tg = t + g * kTileRows * kLaneBytes;
    const uint8_t* qg = q + g * kLaneBytes;
    const __m512i y0 = _mm512_loadu_si512(tg), y1 = _mm512_loadu_si512(tg + tile_step),
                  y2 = _mm512_loadu_si512(tg + t2), y3 = _mm512_loadu_si512(tg + t3);
#define KNNV_ROW_DOTS(r)                                                        \
  {                                                                             \
    int32_t word;                                                               \
    std::memcpy(&word, qg + r * q_step, sizeof word);                           \
    const __m512i x = _mm512_set1_epi32(word);                                  \
    a##r##0 = _mm512_dpbusd_epi32(a##r##0, x, y0);                              \
    a##r##1 = _mm512_dpbusd_epi32(a##r##1, x, y1);                              \
    a##r##2 = _mm512_dpbusd_epi32(a##r##2, x, y2);                              \
    a##r##3 = _mm512_dpbusd_epi32(a##r##3, x, y3);                              \
  }
    KNNV_ROW_DOTS(0) KNNV_ROW_DOTS(1) KNNV_ROW_DOTS(2) KNNV_ROW_DOTS(3) KNNV_ROW_DOTS(4)
    KNNV_ROW_DOTS(5)
#undef KNNV_ROW_DOTS
  }
  const __m512i acc[kPanelQueries * kPanelTiles] = {
      a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23,
      a30, a31, a32, a33, a40, a41, a42, a43, a50, a51, a52, a53};
  test.panel(acc, j0, row, e, below);
}
#endif

// A limit for int32 estimates, clamped: every estimate is below 2^31 - 1, so a limit above it
// admits the same estimates as 2^31 - 1 does.
inline int32_t clamp_limit(int64_t limit) {
  return int32_t(std::min<int64_t>(limit, std::numeric_limits<int32_t>::max()));
}

// Euclidean on tiles: the estimate is e = ||y||^2 - 2 x.(y - 128) in int32 lanes (exact up to
// kTileMaxWidth), against per-row integer limits from the k-th distance less the row's base.
struct TileEuclidean {
  using Estimate = int32_t;
  using Stats = int32_t;
  const int32_t* train_sq;     // per training row, whole panels (padding: 2^31 - 1)
  std::vector<int64_t> base;   // ||x||^2 - 256 sum(x) per query row of the block
  std::vector<int64_t> limit;  // exact, per query row of the block
  std::vector<int32_t> limit32;  // clamped; rows past the block's end: nothing is below

  TileEuclidean(const int32_t* train_sq_, const uint8_t* Q, int64_t q_step, int64_t q0,
                int64_t q1, int64_t n_rows, int64_t width, const double* bd, int64_t k)
      : train_sq(train_sq_), base(distance_bases(Q, q_step, q0, q1, width)),
        limit(size_t(q1 - q0)),
        limit32(size_t(n_rows), std::numeric_limits<int32_t>::min()) {
    for (int64_t i = 0; i < q1 - q0; ++i) update(i, bd[(q0 + i) * k + k - 1]);
  }
  void update(int64_t row, double kth) {
    limit[size_t(row)] = integer_limit(kth - double(base[size_t(row)]));
    limit32[size_t(row)] = clamp_limit(limit[size_t(row)]);
  }
  double distance(int64_t row, int64_t, Estimate e) const { return double(base[size_t(row)] + e); }
#if defined(__x86_64__)
  KNNV_VNNI inline __attribute__((always_inline)) void panel(const __m512i* acc, int64_t j0,
                                                             int64_t row, Estimate* e,
                                                             uint16_t* below) const {
    for (int64_t c = 0; c < kPanelTiles; ++c) {
      const __m512i norms = _mm512_loadu_si512(train_sq + j0 + c * kTileRows);
      for (int64_t r = 0; r < kPanelQueries; ++r) {
        const int64_t a = r * kPanelTiles + c;
        const __m512i estimate = _mm512_sub_epi32(norms, _mm512_add_epi32(acc[a], acc[a]));
        _mm512_storeu_si512(e + a * kTileRows, estimate);
        below[a] = _mm512_cmplt_epi32_mask(estimate, _mm512_set1_epi32(limit32[size_t(row + r)]));
      }
    }
  }
#endif
};

#if defined(__x86_64__)
// Lanes 0-7 (half 0) or 8-15 (half 1) of 16 int32 lanes.
KNNV_VNNI inline __m256i half_lanes(__m512i v, int half) {
  return half == 0 ? _mm512_castsi512_si256(v) : _mm512_extracti64x4_epi64(v, 1);
}
#endif

// Cosine on tiles: the estimate is CosineTest's, 1 - ((x.y) / ||y||) / ||x|| in float64 with
// x.y = x.(y - 128) + 128 sum(x) exact in int32 (up to kTileMaxWidth), in the same operations
// and order, so it agrees with the NumPy twin bit for bit.
struct TileCosine {
  using Estimate = double;
  using Stats = double;
  const double* inv_train;        // 1 / ||y|| per training row, whole panels
  std::vector<int32_t> shift;     // 128 sum(x) per query row of the block (whole blocks)
  std::vector<double> inv_query;  // 1 / ||x|| per query row (whole blocks)
  std::vector<double> limit;      // per query row; rows past the block's end: -inf

  TileCosine(const double* inv_train_, const uint8_t* Q, int64_t q_step, int64_t q0,
             int64_t q1, int64_t n_rows, int64_t width, const double* bd, int64_t k)
      : inv_train(inv_train_), shift(size_t(n_rows), 0),
        limit(size_t(n_rows), -std::numeric_limits<double>::infinity()) {
    std::vector<int64_t> squared(size_t(n_rows), 0);
    for (int64_t i = q0; i < q1; ++i) {
      const uint8_t* q = Q + i * q_step;
      int64_t sum = 0, sq = 0;
      for (int64_t f = 0; f < width; ++f) sum += q[f], sq += int64_t(q[f]) * q[f];
      shift[size_t(i - q0)] = int32_t(128 * sum);
      squared[size_t(i - q0)] = sq;
      limit[size_t(i - q0)] = bd[i * k + k - 1];
    }
    inv_query = inverse_norms(squared.data(), n_rows);
  }
  void update(int64_t row, double kth) { limit[size_t(row)] = kth; }
  double distance(int64_t, int64_t, Estimate e) const { return e; }
#if defined(__x86_64__)
  KNNV_VNNI inline __attribute__((always_inline)) void panel(const __m512i* acc, int64_t j0,
                                                             int64_t row, Estimate* e,
                                                             uint16_t* below) const {
    const __m512d one = _mm512_set1_pd(1.0);
    for (int64_t r = 0; r < kPanelQueries; ++r) {
      const __m512i shifts = _mm512_set1_epi32(shift[size_t(row + r)]);
      const __m512d inv_q = _mm512_set1_pd(inv_query[size_t(row + r)]);
      const __m512d limits = _mm512_set1_pd(limit[size_t(row + r)]);
      for (int64_t c = 0; c < kPanelTiles; ++c) {
        const int64_t a = r * kPanelTiles + c;
        const __m512i exact = _mm512_add_epi32(acc[a], shifts);
        uint32_t mask = 0;
        for (int half = 0; half < 2; ++half) {
          const __m256i lanes = half_lanes(exact, half);
          const __m512d inv_t = _mm512_loadu_pd(inv_train + j0 + c * kTileRows + 8 * half);
          const __m512d scaled = _mm512_mul_pd(_mm512_cvtepi32_pd(lanes), inv_t);
          const __m512d estimate = _mm512_sub_pd(one, _mm512_mul_pd(scaled, inv_q));
          _mm512_storeu_pd(e + a * kTileRows + 8 * half, estimate);
          mask |= uint32_t(_mm512_cmp_pd_mask(estimate, limits, _CMP_LT_OQ)) << (8 * half);
        }
        below[a] = uint16_t(mask);
      }
    }
  }
#endif
};

// Float rows off any byte grid (Euclidean): each row x is stored as bytes q = round(x / s)
// with its own scale s = max |x| / 127, so x^ = s q is within the residual r = ||x - x^||
// (computed, rounded up, by dot_u8.quantize_rows) of x, and by the triangle inequality the
// distance d = ||x - y|| is at least ||x^ - y^|| - r_x - r_y. The estimate of a pair is
// that lower bound: ||x^ - y^||^2 = s_x^2 ||q_x||^2 + s_y^2 ||q_y||^2 - 2 s_x s_y q_x.q_y
// from the exact int32 q_x.q_y, less a bound on its own rounding, then its square root less
// the residuals, rounded down. Ranking by lower bounds keeps every candidate a re-check needs
// (BruteIndex._query_quantized).
struct QuantizedRows {
  const double* scale;     // s per row
  const double* norm_sq;   // s^2 ||q||^2 per row (training padding: +inf)
  const double* residual;  // r per row, rounded up
  const int32_t* col_sum;  // 128 sum(q) per training row (the queries' bytes are q + 128)
};

struct QuantizedStats {
  QuantizedRows train, query;  // query rows indexed from 0 (the caller's rows)
};

struct TileQuantized {
  using Estimate = double;  // the lower bound of ||x^ - y^||^2
  using Stats = QuantizedStats;
  static constexpr double kUnit = 0x1p-53;
  const QuantizedStats* stats;
  int64_t q0;
  std::vector<double> limit;  // the k-th lower bound per query row; past the block: -inf

  TileQuantized(const QuantizedStats* stats_, const uint8_t*, int64_t, int64_t q0_, int64_t q1,
                int64_t n_rows, int64_t, const double* bd, int64_t k)
      : stats(stats_), q0(q0_), limit(size_t(n_rows), -std::numeric_limits<double>::infinity()) {
    for (int64_t i = q0; i < q1; ++i) limit[size_t(i - q0)] = bd[i * k + k - 1];
  }
  void update(int64_t row, double kth) { limit[size_t(row)] = kth; }
  // The lower bound of d from the lower bound e of ||x^ - y^||^2, rounded down.
  double distance(int64_t row, int64_t j, Estimate e) const {
    const double root = std::sqrt(std::max(e, 0.0)), rx = stats->query.residual[q0 + row];
    const double ry = stats->train.residual[j];
    return (root - (rx + ry)) - 4 * kUnit * (root + rx + ry);
  }
#if defined(__x86_64__)
  KNNV_VNNI inline __attribute__((always_inline)) void panel(const __m512i* acc, int64_t j0,
                                                             int64_t row, Estimate* e,
                                                             uint16_t* below) const {
    const QuantizedRows& t = stats->train;
    const QuantizedRows& q = stats->query;
    const __m512d margin = _mm512_set1_pd(8 * kUnit), widen = _mm512_set1_pd(1 + 8 * kUnit);
    const __m512d zero = _mm512_setzero_pd();
    for (int64_t c = 0; c < kPanelTiles; ++c) {
      const int64_t j = j0 + c * kTileRows;
      const __m512i col_sum = _mm512_loadu_si512(t.col_sum + j);
      for (int half = 0; half < 2; ++half) {
        const int64_t jh = j + 8 * half;
        const __m512d sy = _mm512_loadu_pd(t.scale + jh), ny = _mm512_loadu_pd(t.norm_sq + jh);
        const __m512d ry = _mm512_loadu_pd(t.residual + jh);
        for (int64_t r = 0; r < kPanelQueries; ++r) {
          const int64_t i = q0 + row + r, a = r * kPanelTiles + c;
          const __m256i dots = half_lanes(_mm512_sub_epi32(acc[a], col_sum), half);
          const __m512d p = _mm512_mul_pd(_mm512_set1_pd(q.scale[i]),
                                          _mm512_mul_pd(sy, _mm512_cvtepi32_pd(dots)));
          const __m512d norms = _mm512_add_pd(_mm512_set1_pd(q.norm_sq[i]), ny);
          const __m512d twice = _mm512_add_pd(p, p);
          const __m512d size = _mm512_add_pd(norms, _mm512_abs_pd(twice));
          const __m512d low = _mm512_sub_pd(_mm512_sub_pd(norms, twice), _mm512_mul_pd(margin, size));
          _mm512_storeu_pd(e + a * kTileRows + 8 * half, low);
          // d's bound is below the limit only if ||x^ - y^|| < limit + r_x + r_y =: t.
          const __m512d reach = _mm512_add_pd(_mm512_set1_pd(limit[size_t(row + r)] + q.residual[i]), ry);
          const __m512d wide = _mm512_mul_pd(_mm512_mul_pd(reach, reach), widen);
          const __mmask8 hit = _mm512_cmp_pd_mask(low, wide, _CMP_LT_OQ) &
                               _mm512_cmp_pd_mask(reach, zero, _CMP_GT_OQ);
          below[a] = half == 0 ? uint16_t(hit) : uint16_t(below[a] | (uint32_t(hit) << 8));
        }
      }
    }
  }
#endif
};

// One block of queries [q0, q1) against every training tile, into the top-k lists of the
// smallest estimates (Test: TileEuclidean, TileCosine, TileQuantized), in the training rows'
// index order
// per query (panels in order, then tiles, then lanes), so ties go to the smaller index.
template <class Test>
void tiles_block_rows(const uint8_t* Q, int64_t q_step, int64_t q0, int64_t q1,
                      const int8_t* tiles, int64_t tile_step, int64_t n_panels, int64_t n_train,
                      const typename Test::Stats* train_stats, int64_t width, double* bd,
                      int64_t* bi,
                      int64_t k) {
#if defined(__x86_64__)
  const int64_t n_rows = (q1 - q0 + kPanelQueries - 1) / kPanelQueries * kPanelQueries;
  Test test(train_stats, Q, q_step, q0, q1, n_rows, width, bd, k);
  const GroupLists lists = nonzero_groups(Q, q_step, q0, q1, width);
  alignas(64) typename Test::Estimate e[kPanelQueries * kPanelTiles * kTileRows];
  uint16_t below[kPanelQueries * kPanelTiles];
  for (int64_t p = 0; p < n_panels; ++p) {
    const int8_t* panel = tiles + p * kPanelTiles * tile_step;
    const int64_t j0 = p * kPanelRows;
    for (int64_t i = q0; i < q1; i += kPanelQueries) {
      const int64_t block = (i - q0) / kPanelQueries;
      panel_products_vnni(Q + i * q_step, q_step, panel, tile_step,
                          lists.groups.data() + block * lists.stride, lists.counts[size_t(block)],
                          test, j0, i - q0, e, below);
      for (int64_t r = 0; r < kPanelQueries && i + r < q1; ++r) {
        const int64_t row = i + r - q0;
        double* row_d = bd + (i + r) * k;
        int64_t* row_i = bi + (i + r) * k;
        for (int64_t c = 0; c < kPanelTiles; ++c) {
          for (uint32_t lanes = below[r * kPanelTiles + c]; lanes != 0; lanes &= lanes - 1) {
            const int64_t lane = __builtin_ctz(lanes);
            const int64_t j = j0 + c * kTileRows + lane;
            const auto estimate = e[(r * kPanelTiles + c) * kTileRows + lane];
            if (j < n_train && topk_push(row_d, row_i, k, test.distance(row, j, estimate), j))
              test.update(row, row_d[k - 1]);
          }
        }
      }
    }
  }
#else
  throw std::runtime_error("the tile kernel needs AVX-512 VNNI");
#endif
}

// The layout u8_tiles_topk and u8_tiles_cosine_topk read, and per training row stats (norms
// or reciprocal norms) of whole panels.
template <class Stats>
void check_tile_inputs(const Matrix<const uint8_t>& queries, int64_t n_queries,
                       const Matrix<const int8_t>& tiles, int64_t n_train,
                       const Vector<const Stats>& stats, int64_t q_block) {
  const int64_t width = queries.shape(1), n_tiles = tiles.shape(0);
  if (!vnni_path()) throw std::invalid_argument("the tile kernel needs AVX-512 VNNI");
  if (width % kWidth != 0 || width > kTileMaxWidth ||
      int64_t(tiles.shape(1)) != width * kTileRows)
    throw std::invalid_argument("tiles and queries of different or unsupported widths");
  if (n_tiles % kPanelTiles != 0 || n_tiles * kTileRows < n_train ||
      int64_t(stats.shape(0)) != n_tiles * kTileRows)
    throw std::invalid_argument("tiles or norms not padded to whole panels");
  if (n_queries < 0 || int64_t(queries.shape(0)) <
                           (n_queries + kPanelQueries - 1) / kPanelQueries * kPanelQueries)
    throw std::invalid_argument("queries not padded to a multiple of 6 rows");
  if (q_block < kPanelQueries || q_block % kPanelQueries != 0)
    throw std::invalid_argument("q_block must be a positive multiple of 6");
}

template <class Test>
void tiles_topk(const Matrix<const uint8_t>& queries, int64_t n_queries,
                const Matrix<const int8_t>& tiles, int64_t n_train,
                const typename Test::Stats* stats, int64_t q_block, Matrix<double>& best_d,
                Matrix<int64_t>& best_i, int n_threads) {
  check_topk_lists(n_queries, best_d, best_i);
  const int64_t width = queries.shape(1), k = best_d.shape(1);
  over_query_blocks(n_queries, q_block, n_threads, [&](int64_t q0, int64_t q1) {
    tiles_block_rows<Test>(queries.data(), width, q0, q1, tiles.data(), width * kTileRows,
                           int64_t(tiles.shape(0)) / kPanelTiles, n_train, stats, width,
                           best_d.data(), best_i.data(), k);
  });
}

// u8_dot_topk on training tiles (the layout of dot_u8.tile_rows): tiles has one row per tile,
// kTileRows * width bytes, in panels of kPanelTiles tiles; train_sq holds ||y||^2 per
// training row as int32, padded to whole panels with 2^31 - 1. queries are padded to a
// multiple of kPanelQueries rows and q_block is a multiple of it. Needs the VNNI path
// (vnni_path()) and width <= kTileMaxWidth.
void u8_tiles_topk(Matrix<const uint8_t> queries, int64_t n_queries, Matrix<const int8_t> tiles,
                   int64_t n_train, Vector<const int32_t> train_sq, int64_t q_block,
                   Matrix<double> best_d, Matrix<int64_t> best_i, int n_threads) {
  check_tile_inputs(queries, n_queries, tiles, n_train, train_sq, q_block);
  tiles_topk<TileEuclidean>(queries, n_queries, tiles, n_train, train_sq.data(), q_block, best_d,
                            best_i, n_threads);
}

// u8_dot_cosine_topk on training tiles: inputs as for u8_tiles_topk, but inv_train holds the
// reciprocal norms 1 / ||y|| (1 for zero rows and padding) per training row.
void u8_tiles_cosine_topk(Matrix<const uint8_t> queries, int64_t n_queries,
                          Matrix<const int8_t> tiles, int64_t n_train,
                          Vector<const double> inv_train, int64_t q_block, Matrix<double> best_d,
                          Matrix<int64_t> best_i, int n_threads) {
  check_tile_inputs(queries, n_queries, tiles, n_train, inv_train, q_block);
  tiles_topk<TileCosine>(queries, n_queries, tiles, n_train, inv_train.data(), q_block, best_d,
                         best_i, n_threads);
}

// Lower bounds of the k_keep smallest Euclidean distances of float rows stored as bytes with
// a scale per row (TileQuantized; dot_u8.quantize_rows), into best_d / best_i. queries holds
// the query bytes q + 128, the query arrays one entry per padded query row, the training
// arrays (and tiles, of the training bytes q) whole panels.
void u8_tiles_quantized_topk(Matrix<const uint8_t> queries, int64_t n_queries,
                             Matrix<const int8_t> tiles, int64_t n_train,
                             Vector<const double> train_scale, Vector<const double> train_norm_sq,
                             Vector<const double> train_residual,
                             Vector<const int32_t> train_col_sum, Vector<const double> query_scale,
                             Vector<const double> query_norm_sq,
                             Vector<const double> query_residual, int64_t q_block,
                             Matrix<double> best_d, Matrix<int64_t> best_i, int n_threads) {
  check_tile_inputs(queries, n_queries, tiles, n_train, train_scale, q_block);
  const size_t n_panel_rows = train_scale.shape(0), n_query_rows = queries.shape(0);
  if (train_norm_sq.shape(0) != n_panel_rows || train_residual.shape(0) != n_panel_rows ||
      train_col_sum.shape(0) != n_panel_rows || query_scale.shape(0) < n_query_rows ||
      query_norm_sq.shape(0) < n_query_rows || query_residual.shape(0) < n_query_rows)
    throw std::invalid_argument("row statistics of the wrong lengths");
  const QuantizedStats stats{
      {train_scale.data(), train_norm_sq.data(), train_residual.data(), train_col_sum.data()},
      {query_scale.data(), query_norm_sq.data(), query_residual.data(), nullptr}};
  tiles_topk<TileQuantized>(queries, n_queries, tiles, n_train, &stats, q_block, best_d, best_i,
                            n_threads);
}

// Float rows as bytes with a scale per row (see TileQuantized and dot_u8.quantize_rows, which
// states the bounds): row i gets s = max |x| / 127 (1 for a zero row), q = round(x / s) in
// [-127, 127] (ties to even, as NumPy's rint), written as q + 128 into `bytes` (queries) or
// as q into tile row i of `tiles` (training; the other is empty), and its scale, s^2 ||q||^2,
// residual bound and 128 sum(q) (training only) into the stats. Parallel over rows.
template <class X>
void quantize_rows_into(const X* rows, int64_t n_rows, int64_t n_cols, uint8_t* bytes,
                        int64_t byte_step, int8_t* tiles, int64_t tile_step, double* scale,
                        double* norm_sq, double* residual, int32_t* col_sum, int n_threads) {
  constexpr double kUnit = 0x1p-53;
  const double lost = double(n_cols) * 0x1p-1000, spread = 128 * kUnit * std::sqrt(double(n_cols));
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (int64_t i = 0; i < n_rows; ++i) {
    const X* x = rows + i * n_cols;
    double top = 0.0;
    for (int64_t f = 0; f < n_cols; ++f) top = std::max(top, std::fabs(double(x[f])));
    const double s = top > 0 ? top / 127.0 : 1.0;
    double errors = 0.0;
    int64_t squares = 0, sum = 0;
    for (int64_t f = 0; f < n_cols; ++f) {
      const double y = double(x[f]) / s;
      // Round to nearest, ties to even (|y| <= 127 + 2^-40, far below 2^51): adding and
      // taking away 1.5 * 2^52 leaves the integer; no libm call on the baseline path.
      const double q = std::min(127.0, std::max(-127.0, (y + 0x1.8p52) - 0x1.8p52));
      const double e = y - q;  // exact (Sterbenz)
      errors += e * e;
      const int64_t code = int64_t(q);
      squares += code * code;
      sum += code;
      if (bytes != nullptr)
        bytes[i * byte_step + f] = uint8_t(code + 128);
      else
        tiles[(i / kTileRows) * tile_step + (i % kTileRows) * kLaneBytes +
              (f / kLaneBytes) * kTileRows * kLaneBytes + f % kLaneBytes] = int8_t(code);
    }
    scale[i] = s;
    norm_sq[i] = s * s * double(squares);
    residual[i] = top > 0 ? s * (std::sqrt(errors + lost) + spread) * (1 + double(n_cols + 8) * kUnit) +
                                0x1p-1070
                          : 0.0;
    if (col_sum != nullptr) col_sum[i] = int32_t(128 * sum);
  }
}

template <class X>
void quantize_rows(Matrix<const X> rows, Matrix<uint8_t> bytes, Matrix<int8_t> tiles,
                   Vector<double> scale, Vector<double> norm_sq, Vector<double> residual,
                   Vector<int32_t> col_sum, int n_threads) {
  const int64_t n_rows = rows.shape(0), n_cols = rows.shape(1);
  const bool queries = bytes.shape(0) > 0;
  if (n_cols > kTileMaxWidth) throw std::invalid_argument("rows wider than the tile kernels take");
  if (queries ? (int64_t(bytes.shape(0)) < n_rows || int64_t(bytes.shape(1)) < n_cols)
              : (int64_t(tiles.shape(0)) * kTileRows < n_rows ||
                 int64_t(tiles.shape(1)) < n_cols * kTileRows || int64_t(col_sum.shape(0)) < n_rows))
    throw std::invalid_argument("outputs too small for the rows");
  if (int64_t(scale.shape(0)) < n_rows || int64_t(norm_sq.shape(0)) < n_rows ||
      int64_t(residual.shape(0)) < n_rows)
    throw std::invalid_argument("row statistics too short");
  quantize_rows_into(rows.data(), n_rows, n_cols, queries ? bytes.data() : nullptr,
                     int64_t(bytes.shape(1)), queries ? nullptr : tiles.data(),
                     int64_t(tiles.shape(1)), scale.data(), norm_sq.data(), residual.data(),
                     queries ? nullptr : col_sum.data(), n_threads);
}

// 1 / ||y|| of rows with exact squared norms (see inverse_norms), into out.
void inverse_norms_of(Vector<const int64_t> squared, Vector<double> out) {
  if (out.shape(0) < squared.shape(0)) throw std::invalid_argument("output too short");
  const std::vector<double> inverse = inverse_norms(squared.data(), int64_t(squared.shape(0)));
  for (size_t i = 0; i < squared.shape(0); ++i) out(i) = inverse[i];
}

// Rows of bytes (rows.shape(1) <= width) into the tile layout of u8_tiles_topk, each byte
// less `shift` (mod 256, so int8 rows viewed as bytes copy as they are with shift 0); tiles
// (zeroed by the caller) has width * kTileRows bytes a tile.
void tile_rows(Matrix<const uint8_t> rows, int shift, Matrix<int8_t> tiles) {
  const int64_t n_rows = rows.shape(0), n_cols = rows.shape(1);
  const int64_t width = int64_t(tiles.shape(1)) / kTileRows;
  if (width * kTileRows != int64_t(tiles.shape(1)) || width % kLaneBytes != 0 ||
      n_cols > width || int64_t(tiles.shape(0)) * kTileRows < n_rows)
    throw std::invalid_argument("tiles too small for the rows");
  for (int64_t i = 0; i < n_rows; ++i) {
    const uint8_t* row = rows.data() + i * n_cols;
    int8_t* tile = tiles.data() + (i / kTileRows) * width * kTileRows + (i % kTileRows) * kLaneBytes;
    // Less 128 mod 256 flips the top bit of every byte: a whole group at once.
    const uint32_t flip = shift == 128 ? 0x80808080u : 0u;
    int64_t f = 0;
    for (; f + kLaneBytes <= n_cols; f += kLaneBytes) {
      uint32_t word;
      std::memcpy(&word, row + f, sizeof word);
      word ^= flip;
      std::memcpy(tile + f * kTileRows, &word, sizeof word);
    }
    for (; f < n_cols; ++f)
      tile[(f / kLaneBytes) * kTileRows * kLaneBytes + f % kLaneBytes] =
          int8_t(uint8_t(row[f] - shift));
  }
}

// One block of queries [q0, q1) against every training row, into the lists of the smallest
// cosine estimates (CosineTest).
void dot_cosine_block_rows(bool vnni, const uint8_t* Q, int64_t q_step, int64_t q0, int64_t q1,
                           const int8_t* T, int64_t t_step, int64_t n_train,
                           const double* inv_train, int64_t width, double* bd, int64_t* bi,
                           int64_t k) {
  const int64_t last = k - 1, n_rows = round_up_rows(q1 - q0);
  std::vector<int64_t> shift(size_t(n_rows), 0), squared(size_t(n_rows), 0);
  std::vector<double> limit(size_t(n_rows), -std::numeric_limits<double>::infinity());
  for (int64_t i = q0; i < q1; ++i) {
    const uint8_t* q = Q + i * q_step;
    int64_t sum = 0, sq = 0;
    for (int64_t f = 0; f < width; ++f) sum += q[f], sq += int64_t(q[f]) * q[f];
    shift[size_t(i - q0)] = 128 * sum;
    squared[size_t(i - q0)] = sq;
    limit[size_t(i - q0)] = bd[i * k + last];
  }
  const std::vector<double> inv_query = inverse_norms(squared.data(), q1 - q0);
  dot_scan_rows(vnni, Q, q_step, q0, q1, T, t_step, n_train, width,
                CosineTest{inv_train, inv_query.data(), shift.data(), limit.data()},
                [&](int64_t row, int64_t index, double e) {
                  topk_push(bd + row * k, bi + row * k, k, e, index);
                  limit[size_t(row - q0)] = bd[row * k + last];
                });
}

// The k smallest cosine estimates 1 - ((x.y) / ||y||) / ||x|| (float64, from exact integer
// dot products and correctly rounded reciprocal norms; zero rows: norm 1, estimate 1) per
// query, into best_d / best_i (filled with inf / int64 max by the caller). Inputs as for
// u8_dot_topk; train_sq gives the training norms. Ties go to the smaller index.
void u8_dot_cosine_topk(Matrix<const uint8_t> queries, int64_t n_queries,
                        Matrix<const int8_t> train, int64_t n_train,
                        Vector<const int64_t> train_sq, int64_t q_block, Matrix<double> best_d,
                        Matrix<int64_t> best_i, int n_threads) {
  check_dot_inputs(queries, n_queries, train, n_train, train_sq, q_block);
  check_topk_lists(n_queries, best_d, best_i);
  const int64_t width = train.shape(1), k = best_d.shape(1);
  const bool vnni = vnni_path();
  const std::vector<double> inv_train = inverse_norms(train_sq.data(), n_train);
  over_query_blocks(n_queries, q_block, n_threads, [&](int64_t q0, int64_t q1) {
    dot_cosine_block_rows(vnni, queries.data(), width, q0, q1, train.data(), width, n_train,
                          inv_train.data(), width, best_d.data(), best_i.data(), k);
  });
}

// Every pair with squared distance at most `limit` (see dot_u8.u8_dot_radius): the first
// `capacity` (query, training index, exact squared distance) triples and how many there are.
// Each block's pairs are sorted by (query, distance, index) before they are written, so each
// query's pairs are contiguous and in the result's order; blocks come in no particular order
// (a stable sort by query puts them in place). Parallel over blocks of q_block queries.
struct RadiusHit {
  int64_t query, index;
  double squared;
};

int64_t u8_dot_radius(Matrix<const uint8_t> queries, int64_t n_queries,
                      Matrix<const int8_t> train, int64_t n_train, Vector<const int64_t> train_sq,
                      int64_t q_block, double limit, Vector<int64_t> out_q, Vector<int64_t> out_i,
                      Vector<double> out_d, int n_threads) {
  check_dot_inputs(queries, n_queries, train, n_train, train_sq, q_block);
  const int64_t capacity = std::min({out_q.shape(0), out_i.shape(0), out_d.shape(0)});
  const int64_t width = train.shape(1);
  const bool vnni = vnni_path();
  const int64_t n_blocks = (n_queries + q_block - 1) / q_block;
  int64_t total = 0;
#pragma omp parallel num_threads(n_threads)
  {
    std::vector<RadiusHit> found;
#pragma omp for schedule(dynamic)
    for (int64_t block = 0; block < n_blocks; ++block) {
      const int64_t q0 = block * q_block, q1 = std::min(q0 + q_block, n_queries);
      const std::vector<int64_t> base = distance_bases(queries.data(), width, q0, q1, width);
      // base + e <= limit, for integers: e < floor(limit - base) + 1.
      std::vector<int64_t> row_limit(size_t(round_up_rows(q1 - q0)), 0);
      for (int64_t i = q0; i < q1; ++i) {
        const double room = std::floor(limit - double(base[i - q0]));
        row_limit[i - q0] = room >= 9.0e18 ? std::numeric_limits<int64_t>::max()
                                           : int64_t(room) + 1;
      }
      const size_t block_start = found.size();
      dot_scan_rows(vnni, queries.data(), width, q0, q1, train.data(), width, n_train, width,
                    EuclideanTest{train_sq.data(), row_limit.data()},
                    [&](int64_t row, int64_t index, int64_t e) {
                      found.push_back({row, index, double(base[row - q0] + e)});
                    });
      std::sort(found.begin() + std::ptrdiff_t(block_start), found.end(),
                [](const RadiusHit& a, const RadiusHit& b) {
                  if (a.query != b.query) return a.query < b.query;
                  if (a.squared != b.squared) return a.squared < b.squared;
                  return a.index < b.index;
                });
    }
    int64_t offset;
#pragma omp atomic capture
    {
      offset = total;
      total += int64_t(found.size());
    }
    for (size_t f = 0; f < found.size() && offset + int64_t(f) < capacity; ++f) {
      out_q.data()[offset + f] = found[f].query;
      out_i.data()[offset + f] = found[f].index;
      out_d.data()[offset + f] = found[f].squared;
    }
  }
  return total;
}

// Exact ||row||^2 of every uint8 row, into out (int64).
void squared_norms_u8(Matrix<const uint8_t> rows, Vector<int64_t> out) {
  if (out.shape(0) != rows.shape(0)) throw std::invalid_argument("output of the wrong length");
  const int64_t n = rows.shape(0), width = rows.shape(1);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* x = rows.data() + r * width;
    int64_t acc = 0;
    for (int64_t f = 0; f < width; ++f) acc += int64_t(x[f]) * int64_t(x[f]);
    out(r) = acc;
  }
}

}  // namespace
}  // namespace knnv

NB_MODULE(_dot_u8, m) {
  m.attr("DOT_ROWS") = knnv::kRows;
  m.attr("DOT_COLS") = knnv::kCols;
  m.attr("DOT_WIDTH") = knnv::kWidth;
  m.def("vnni_path", &knnv::vnni_path,
        "Whether the AVX-512 VNNI path runs (the CPU has it and KNNVISION_CPU allows it).");
  m.def("u8_dot_topk", &knnv::u8_dot_topk, knnv::ReleaseGil());
  m.attr("TILE_ROWS") = knnv::kTileRows;
  m.attr("PANEL_TILES") = knnv::kPanelTiles;
  m.attr("PANEL_QUERIES") = knnv::kPanelQueries;
  m.attr("TILE_MAX_WIDTH") = knnv::kTileMaxWidth;
  m.def("tile_rows", &knnv::tile_rows, knnv::ReleaseGil());
  m.def("u8_tiles_topk", &knnv::u8_tiles_topk, knnv::ReleaseGil());
  m.def("u8_tiles_cosine_topk", &knnv::u8_tiles_cosine_topk, knnv::ReleaseGil());
  m.def("u8_tiles_quantized_topk", &knnv::u8_tiles_quantized_topk, knnv::ReleaseGil());
  m.def("quantize_rows", &knnv::quantize_rows<double>, knnv::ReleaseGil());
  m.def("quantize_rows", &knnv::quantize_rows<float>, knnv::ReleaseGil());
  m.def("inverse_norms", &knnv::inverse_norms_of, knnv::ReleaseGil());
  m.def("u8_dot_cosine_topk", &knnv::u8_dot_cosine_topk, knnv::ReleaseGil());
  m.def("u8_dot_radius", &knnv::u8_dot_radius, knnv::ReleaseGil());
  m.def("squared_norms_u8", &knnv::squared_norms_u8, knnv::ReleaseGil());
}
