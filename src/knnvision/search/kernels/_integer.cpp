// Compiled uint8 kernels (knnvision.search.kernels.integer): exact sums of absolute or squared
// byte differences (integer.hpp) and the brute-force top-k loops over them.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
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
}
