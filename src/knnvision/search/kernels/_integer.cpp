// Compiled uint8 kernels (knnvision.search.kernels.integer): exact sums of absolute or squared
// byte differences (integer.hpp), the brute-force top-k loops over them, and the conversion of
// float rows on an integer grid (values K / s) to their bytes K.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <nanobind/stl/pair.h>

#include "_common.hpp"
#include "integer.hpp"
#include "topk.hpp"

namespace knnv {
namespace {

using u8::kU8Width;

// Training rows per tile: one call of a path's tile function measures this many rows against
// every query of a block, so the call (a SIMD function cannot be inlined into plain code)
// costs nothing next to the work.
constexpr int64_t kTileRows = 32;

// The rows of a tile, measured the way the numba kernels did: for each training row j, every
// query i in order; absolute sums take the queries two at a time so that each training chunk
// is loaded once per two queries. d[(j - j0) * (i1 - i0) + (i - i0)].
void tile_plain(bool squared, const uint8_t* Q, int64_t i0, int64_t i1, const uint8_t* T,
                int64_t j0, int64_t j1, int64_t width, int64_t* d) {
  const int64_t n_q = i1 - i0;
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* t = T + j * width;
    int64_t* out = d + (j - j0) * n_q;
    for (int64_t i = i0; i < i1; ++i) {
      const uint8_t* q = Q + i * width;
      out[i - i0] = squared ? u8::sqd_plain(q, t, width) : u8::sad_plain(q, t, width);
    }
  }
}

#if defined(__x86_64__)
// One function per sum: the loops then keep their pointers in registers.
template <bool Squared>
__attribute__((target("avx2"))) void tile_avx2(const uint8_t* Q, int64_t i0, int64_t i1,
                                                const uint8_t* T, int64_t j0, int64_t j1,
                                                int64_t width, int64_t* d) {
  const int64_t n_q = i1 - i0;
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* t = T + j * width;
    int64_t* out = d + (j - j0) * n_q;
    int64_t i = i0;
    if (Squared) {
      for (; i < i1; ++i) out[i - i0] = u8::sqd_avx2(Q + i * width, t, width);
      continue;
    }
    for (; i + 1 < i1; i += 2)
      u8::sad2_avx2(Q + i * width, Q + (i + 1) * width, t, width, &out[i - i0], &out[i + 1 - i0]);
    if (i < i1) out[i - i0] = u8::sad_avx2(Q + i * width, t, width);
  }
}
#endif

struct Tile {
  bool simd;
  void operator()(bool squared, const uint8_t* Q, int64_t i0, int64_t i1, const uint8_t* T,
                  int64_t j0, int64_t j1, int64_t width, int64_t* d) const {
#if defined(__x86_64__)
    if (simd && squared) return tile_avx2<true>(Q, i0, i1, T, j0, j1, width, d);
    if (simd) return tile_avx2<false>(Q, i0, i1, T, j0, j1, width, d);
#endif
    tile_plain(squared, Q, i0, i1, T, j0, j1, width, d);
  }
};

bool simd_path() {
#if defined(__x86_64__)
  return cpu_level() >= Cpu::avx2;
#else
  return false;
#endif
}

void check_rows(const Matrix<const uint8_t>& a, const Matrix<const uint8_t>& b) {
  if (a.shape(1) != b.shape(1)) throw std::invalid_argument("rows of different widths");
}

void check_topk(int64_t n_rows, const Matrix<double>& best_d, const Matrix<int64_t>& best_i) {
  if (best_d.shape(0) != size_t(n_rows) || best_i.shape(0) != size_t(n_rows) ||
      best_d.shape(1) != best_i.shape(1) || best_d.shape(1) < 1)
    throw std::invalid_argument("top-k lists of the wrong shape");
}

// -- single rows, for the tests -----------------------------------------------------------

const uint8_t* row(const Matrix<const uint8_t>& a, int64_t r) {
  if (r < 0 || r >= int64_t(a.shape(0))) throw std::out_of_range("row index out of range");
  return a.data() + r * int64_t(a.shape(1));
}

int64_t sad_u8(Matrix<const uint8_t> Q, int64_t i, Matrix<const uint8_t> T, int64_t j) {
  check_rows(Q, T);
  return u8::sad_row(row(Q, i), row(T, j), T.shape(1));
}

int64_t sqd_u8(Matrix<const uint8_t> Q, int64_t i, Matrix<const uint8_t> T, int64_t j) {
  check_rows(Q, T);
  return u8::sqd_row(row(Q, i), row(T, j), T.shape(1));
}

std::pair<int64_t, int64_t> sad_u8_x2(Matrix<const uint8_t> Q, int64_t i,
                                      Matrix<const uint8_t> T, int64_t j) {
  check_rows(Q, T);
  row(Q, i), row(Q, i + 1), row(T, j);  // range checks
  // A tile of two queries and one training row: the code the top-k loops run.
  int64_t d[2];
  Tile{simd_path()}(false, Q.data(), i, i + 2, T.data(), j, j + 1, T.shape(1), d);
  return {d[0], d[1]};
}

// -- top-k loops ----------------------------------------------------------------------------

// Exact k nearest padded uint8 rows by sum of absolute (or squared) byte differences, into
// best_d / best_i (filled with inf / int64 max by the caller). Parallel over blocks of
// q_block queries; each block stays in L1/L2 while every training row streams past it once.
// Training rows are visited in index order and only a strictly smaller distance displaces,
// so ties go to the smaller index.
void u8_topk(bool squared, Matrix<const uint8_t> queries, Matrix<const uint8_t> train,
             int64_t q_block, Matrix<double> best_d, Matrix<int64_t> best_i, int n_threads) {
  check_rows(queries, train);
  const int64_t n_queries = queries.shape(0), n_train = train.shape(0);
  check_topk(n_queries, best_d, best_i);
  if (q_block < 1) throw std::invalid_argument("q_block must be positive");
  const int64_t width = train.shape(1), k = best_d.shape(1), last = k - 1;
  const uint8_t* Q = queries.data();
  const uint8_t* T = train.data();
  double* bd = best_d.data();
  int64_t* bi = best_i.data();
  const Tile tile{simd_path()};
  const int64_t n_blocks = (n_queries + q_block - 1) / q_block;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic)
  for (int64_t block = 0; block < n_blocks; ++block) {
    const int64_t q0 = block * q_block, q1 = std::min(q0 + q_block, n_queries);
    const int64_t n_q = q1 - q0;
    std::vector<int64_t> d(size_t(kTileRows * n_q));
    for (int64_t j0 = 0; j0 < n_train; j0 += kTileRows) {
      const int64_t j1 = std::min(j0 + kTileRows, n_train);
      tile(squared, Q, q0, q1, T, j0, j1, width, d.data());
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t* dj = d.data() + (j - j0) * n_q;
        for (int64_t i = q0; i < q1; ++i) {
          const double dist = double(dj[i - q0]);
          if (dist < bd[i * k + last]) topk_push(bd + i * k, bi + i * k, k, dist, j);
        }
      }
    }
  }
}

// u8_topk for a handful of queries: parallel over n_parts training ranges, each keeping its
// own top-k per query; the ranges are merged in order, which keeps the tie rule. This is the
// single-query fast path (one image against all training images).
void u8_topk_few(bool squared, Matrix<const uint8_t> queries, Matrix<const uint8_t> train,
                 int64_t n_parts, Matrix<double> best_d, Matrix<int64_t> best_i, int n_threads) {
  check_rows(queries, train);
  const int64_t n_queries = queries.shape(0), n_train = train.shape(0);
  check_topk(n_queries, best_d, best_i);
  if (n_parts < 1) throw std::invalid_argument("n_parts must be positive");
  const int64_t width = train.shape(1), k = best_d.shape(1), last = k - 1;
  const uint8_t* Q = queries.data();
  const uint8_t* T = train.data();
  const size_t n_part_rows = size_t(n_parts * n_queries);
  std::vector<double> part_d(n_part_rows * size_t(k), std::numeric_limits<double>::infinity());
  std::vector<int64_t> part_i(n_part_rows * size_t(k), std::numeric_limits<int64_t>::max());
  const Tile tile{simd_path()};
  const int64_t step = (n_train + n_parts - 1) / n_parts;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic)
  for (int64_t part = 0; part < n_parts; ++part) {
    const int64_t lo = std::min(n_train, part * step), hi = std::min(n_train, (part + 1) * step);
    std::vector<int64_t> d(size_t(kTileRows * n_queries));
    for (int64_t j0 = lo; j0 < hi; j0 += kTileRows) {
      const int64_t j1 = std::min(j0 + kTileRows, hi);
      tile(squared, Q, 0, n_queries, T, j0, j1, width, d.data());
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t* dj = d.data() + (j - j0) * n_queries;
        for (int64_t i = 0; i < n_queries; ++i) {
          const double dist = double(dj[i]);
          const size_t r = size_t(part * n_queries + i) * size_t(k);
          if (dist < part_d[r + last]) topk_push(&part_d[r], &part_i[r], k, dist, j);
        }
      }
    }
  }
  double* bd = best_d.data();
  int64_t* bi = best_i.data();
  for (int64_t part = 0; part < n_parts; ++part) {
    for (int64_t i = 0; i < n_queries; ++i) {
      const size_t r = size_t(part * n_queries + i) * size_t(k);
      for (int64_t c = 0; c < k; ++c) {
        // A part's list is sorted: nothing after a rejected entry can enter either.
        if (!topk_push(bd + i * k, bi + i * k, k, part_d[r + c], part_i[r + c])) break;
      }
    }
  }
}


// -- floats on an integer grid ---------------------------------------------------------------

// Rows per step of grid_codes: a thread checks between steps whether another found a value
// off the grid, and stops.
constexpr int64_t kGridStep = 64;

// One value of grid_codes. The test is NumPy's, bit for bit: K = rint(v * s) in float64 (ties
// to even, as np.rint), a byte, and (K / s) rounded to T equal to v (so -0.0 counts as 0).
template <class T>
inline bool grid_value(T v, double scale, int32_t* K) {
  const double g = std::nearbyint(double(v) * scale);
  const bool byte = g >= 0.0 && g <= 255.0;  // false for NaN
  *K = byte ? int32_t(g) : 0;
  return byte && T(double(*K) / scale) == v;
}

// Values c0..d of a row of grid_codes, one at a time; false if one is off the grid.
template <class T, bool Squares>
inline bool grid_tail(const T* v, int64_t c0, int64_t d, double scale, uint8_t flip,
                      uint8_t* out, int64_t* sum) {
  for (int64_t c = c0; c < d; ++c) {
    int32_t K;
    if (!grid_value(v[c], scale, &K)) return false;
    out[c] = uint8_t(K) ^ flip;
    *sum += Squares ? K * K : K;
  }
  return true;
}

template <class T, bool Squares>
bool grid_row_plain(const T* v, int64_t d, double scale, uint8_t flip, uint8_t* out,
                    int64_t* norm) {
  *norm = 0;
  return grid_tail<T, Squares>(v, 0, d, scale, flip, out, norm);
}

#if defined(__x86_64__)
// grid_value on four values at once: the same operations, so the same bits. A value off the
// grid sets its lane of the returned mask and gets K = 0 (so NaN and inf convert safely).
template <class T>
__attribute__((target("avx2"))) inline __m256d grid_value4(const T* v, __m256d scale,
                                                            __m128i* K) {
  __m256d x;
  if constexpr (std::is_same_v<T, float>)
    x = _mm256_cvtps_pd(_mm_loadu_ps(v));
  else
    x = _mm256_loadu_pd(v);
  const __m256d g =
      _mm256_round_pd(_mm256_mul_pd(x, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256d byte = _mm256_and_pd(_mm256_cmp_pd(g, _mm256_setzero_pd(), _CMP_GE_OQ),
                                     _mm256_cmp_pd(g, _mm256_set1_pd(255.0), _CMP_LE_OQ));
  const __m256d kept = _mm256_and_pd(g, byte);
  *K = _mm256_cvttpd_epi32(kept);
  const __m256d back = _mm256_div_pd(kept, scale);
  __m256d differs;
  if constexpr (std::is_same_v<T, float>) {  // compared in float32, as NumPy's astype
    const __m128 ne = _mm_cmp_ps(_mm256_cvtpd_ps(back), _mm_loadu_ps(v), _CMP_NEQ_UQ);
    differs = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm_castps_si128(ne)));
  } else {
    differs = _mm256_cmp_pd(back, x, _CMP_NEQ_UQ);
  }
  return _mm256_or_pd(differs, _mm256_andnot_pd(byte, _mm256_castsi256_pd(_mm256_set1_epi64x(-1))));
}

template <class T, bool Squares>
__attribute__((target("avx2"))) bool grid_row_avx2(const T* v, int64_t d, double scale,
                                                   uint8_t flip, uint8_t* out, int64_t* norm) {
  const __m256d s = _mm256_set1_pd(scale);
  __m256d off = _mm256_setzero_pd();
  __m256i sums = _mm256_setzero_si256();
  int64_t c = 0;
  for (; c + 4 <= d; c += 4) {
    __m128i K;
    off = _mm256_or_pd(off, grid_value4(v + c, s, &K));
    const __m128i term = Squares ? _mm_mullo_epi32(K, K) : K;
    sums = _mm256_add_epi64(sums, _mm256_cvtepi32_epi64(term));
    const __m128i bytes = _mm_packus_epi16(_mm_packus_epi32(K, K), K);
    const uint32_t four = uint32_t(_mm_cvtsi128_si32(bytes)) ^ (uint32_t(flip) * 0x01010101u);
    std::memcpy(out + c, &four, 4);
  }
  if (_mm256_movemask_pd(off)) return false;
  alignas(32) int64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sums);
  *norm = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  return grid_tail<T, Squares>(v, c, d, scale, flip, out, norm);
}
#endif

template <class T>
using GridRow = bool (*)(const T*, int64_t, double, uint8_t, uint8_t*, int64_t*);

// The row function of this CPU's path for T and the sum.
template <class T>
GridRow<T> grid_row_for(bool squares) {
  GridRow<T> row = squares ? grid_row_plain<T, true> : grid_row_plain<T, false>;
#if defined(__x86_64__)
  if (simd_path()) row = squares ? grid_row_avx2<T, true> : grid_row_avx2<T, false>;
#endif
  return row;
}

// Whether every value of rows is exactly K / scale in T for a byte K (grid_row's test). If so,
// out (at least as many rows and columns as rows) holds the bytes K ^ flip (flip 0x80 stores
// K - 128 as int8), zeros in every other column and row, and norms the rows' sum K^2 (squares)
// or sum K. Parallel over rows; stops soon after a value off the grid (out is then undefined).
template <class T>
bool grid_codes(Matrix<const T> rows, double scale, uint8_t flip, bool squares,
                Matrix<uint8_t> out, Vector<int64_t> norms, int n_threads) {
  const int64_t n = rows.shape(0), d = rows.shape(1), width = out.shape(1);
  if (int64_t(out.shape(0)) < n || width < d || int64_t(norms.shape(0)) != n)
    throw std::invalid_argument("grid_codes: output of the wrong shape");
  if (!(scale > 0.0)) throw std::invalid_argument("grid_codes: scale must be positive");
  const GridRow<T> row = grid_row_for<T>(squares);
  const T* data = rows.data();
  uint8_t* codes = out.data();
  int64_t* sums = norms.data();
  std::atomic<bool> off_grid{false};
  const int64_t n_steps = (n + kGridStep - 1) / kGridStep;
// One step (a few queries) runs here: waking the threads would cost more.
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n_steps > 1)
  for (int64_t step = 0; step < n_steps; ++step) {
    if (off_grid.load(std::memory_order_relaxed)) continue;
    for (int64_t r = step * kGridStep; r < std::min(n, (step + 1) * kGridStep); ++r) {
      if (!row(data + r * d, d, scale, flip, codes + r * width, sums + r)) {
        off_grid.store(true, std::memory_order_relaxed);
        break;
      }
      std::memset(codes + r * width + d, 0, size_t(width - d));
    }
  }
  if (off_grid.load()) return false;
  std::memset(codes + n * width, 0, size_t((int64_t(out.shape(0)) - n) * width));
  return true;
}

}  // namespace
}  // namespace knnv

NB_MODULE(_integer, m) {
  m.attr("U8_WIDTH") = knnv::kU8Width;
  m.def("simd_path", &knnv::simd_path,
        "Whether the AVX2 path runs (the CPU has it and KNNVISION_CPU allows it).");
  m.def("sad_u8", &knnv::sad_u8, knnv::ReleaseGil());
  m.def("sqd_u8", &knnv::sqd_u8, knnv::ReleaseGil());
  m.def("sad_u8_x2", &knnv::sad_u8_x2, knnv::ReleaseGil());
  m.def("u8_topk", &knnv::u8_topk, knnv::ReleaseGil());
  m.def("u8_topk_few", &knnv::u8_topk_few, knnv::ReleaseGil());
  m.def("grid_codes", &knnv::grid_codes<double>, knnv::ReleaseGil());
  m.def("grid_codes", &knnv::grid_codes<float>, knnv::ReleaseGil());
}
