// Compiled projection filter for few Euclidean queries (knnvision.search.kernels.projection):
// lower bounds through an orthonormal projection, then an exact top-k over the rows in order
// of their bound.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "_common.hpp"
#include "integer.hpp"
#include "lp.hpp"
#include "topk.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace knnv {

// The projected squared distance of one row, summed in NumPy's pairwise order for a run of
// <= 128 terms: 8 interleaved accumulators, ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)),
// then the tail in order (for the usual 32 directions: four terms per accumulator). Written
// here rather than taken from lp.hpp's block_sum because it must be always_inline to be
// compiled into the AVX2 function below, whose own loop adds in this same order (GCC does not
// inline plain functions into functions with a target attribute). The numba kernel let LLVM reassociate this sum; a fixed order
// gives the same bits on every path and is still a sum of m non-negative terms, so its
// relative error is below (m - 1) * 2^-53, far inside the caller's shrink (1e-9) and margin.
// It also equals the NumPy twin's ((proj - q)**2).sum(axis=1) bit for bit.
template <class TP>
__attribute__((always_inline)) inline double projected_sq(const TP* x, const double* q,
                                                          int64_t m) {
  if (m > PAIRWISE_BLOCK) return pairwise_sum(x, q, 0, m, SqDiff{});
  auto sq = [&](int64_t f) {
    const double diff = double(x[f]) - q[f];
    return diff * diff;
  };
  if (m < 8) {
    double res = 0.0;
    for (int64_t f = 0; f < m; ++f) res += sq(f);
    return res;
  }
  double r[8];
  for (int u = 0; u < 8; ++u) r[u] = sq(u);
  const int64_t stop = m - (m % 8);
  for (int64_t f = 8; f < stop; f += 8)
    for (int u = 0; u < 8; ++u) r[u] += sq(f + u);
  double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (int64_t f = stop; f < m; ++f) res += sq(f);
  return res;
}

// Bounds of rows [0, n): the projected part, then the residual gap.
template <class TP>
__attribute__((always_inline)) inline void bounds_rows(const TP* proj, const double* residuals,
                                                       const double* query_proj,
                                                       double query_residual, double slack,
                                                       int64_t n, int64_t m, double* out) {
  for (int64_t j = 0; j < n; ++j) {
    const double gap = std::max(std::fabs(residuals[j] - query_residual) - slack, 0.0);
    out[j] = projected_sq(proj + j * m, query_proj, m) + gap * gap;
  }
}

// One instance per code path; every path adds in the same order, so every path gives the
// same bits.
template <class TP>
void bounds_rows_plain(const TP* proj, const double* residuals, const double* query_proj,
                       double qr, double slack, int64_t n, int64_t m, double* out) {
  bounds_rows(proj, residuals, query_proj, qr, slack, n, m, out);
}
#if defined(__x86_64__)
// AVX2, for widths that are a multiple of 8 up to 128 (the brute force uses 32): the
// accumulators r0..r3 live in one register and r4..r7 in another, and the final
// ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)) is done by hadd (r0 + r1, r4 + r5 | r2 + r3,
// r6 + r7) and one add of the halves: the same additions as projected_sq, in the same order.
__attribute__((target("avx2"))) inline __m256d load4_avx2(const float* x) {
  return _mm256_cvtps_pd(_mm_loadu_ps(x));
}
__attribute__((target("avx2"))) inline __m256d load4_avx2(const double* x) {
  return _mm256_loadu_pd(x);
}

template <class TP>
__attribute__((target("avx2"))) void bounds_rows_avx2(const TP* proj, const double* residuals,
                                                      const double* query_proj, double qr,
                                                      double slack, int64_t n, int64_t m,
                                                      double* out) {
  if (m < 8 || m > PAIRWISE_BLOCK || m % 8 != 0)
    return bounds_rows(proj, residuals, query_proj, qr, slack, n, m, out);
  for (int64_t j = 0; j < n; ++j) {
    const TP* x = proj + j * m;
    __m256d d0 = _mm256_sub_pd(load4_avx2(x), _mm256_loadu_pd(query_proj));
    __m256d d1 = _mm256_sub_pd(load4_avx2(x + 4), _mm256_loadu_pd(query_proj + 4));
    __m256d r03 = _mm256_mul_pd(d0, d0), r47 = _mm256_mul_pd(d1, d1);
    for (int64_t f = 8; f < m; f += 8) {
      d0 = _mm256_sub_pd(load4_avx2(x + f), _mm256_loadu_pd(query_proj + f));
      d1 = _mm256_sub_pd(load4_avx2(x + f + 4), _mm256_loadu_pd(query_proj + f + 4));
      r03 = _mm256_add_pd(r03, _mm256_mul_pd(d0, d0));
      r47 = _mm256_add_pd(r47, _mm256_mul_pd(d1, d1));
    }
    const __m256d pairs = _mm256_hadd_pd(r03, r47);
    const __m128d halves =
        _mm_add_pd(_mm256_castpd256_pd128(pairs), _mm256_extractf128_pd(pairs, 1));
    const double acc = _mm_cvtsd_f64(halves) + _mm_cvtsd_f64(_mm_unpackhi_pd(halves, halves));
    const double gap = std::max(std::fabs(residuals[j] - qr) - slack, 0.0);
    out[j] = acc + gap * gap;
  }
}
#endif

template <class TP>
static void projected_bounds(Matrix<const TP> proj, Vector<const double> residuals,
                             Vector<const double> query_proj, double query_residual, double slack,
                             Vector<double> out) {
  const int64_t n = proj.shape(0), m = proj.shape(1);
  if (int64_t(residuals.shape(0)) != n || int64_t(out.shape(0)) != n ||
      int64_t(query_proj.shape(0)) != m)
    throw std::invalid_argument("projected_bounds: inconsistent array shapes");
  const TP* p = proj.data();
  const double* r = residuals.data();
  const double* q = query_proj.data();
  double* o = out.data();
#if defined(__x86_64__)
  // AVX-512 machines take the AVX2 loop: a 512-bit version (r0..r7 in one register) measured
  // no faster, the row's final horizontal sum dominating at 32 directions.
  if (cpu_level() >= Cpu::avx2) return bounds_rows_avx2(p, r, q, query_residual, slack, n, m, o);
#endif
  bounds_rows_plain(p, r, q, query_residual, slack, n, m, o);
}

// Exact k nearest rows of queries[qi] by squared Euclidean distance over `candidates` (sorted
// by `bounds`), stopping at the first bound that, shrunk for rounding, exceeds the current k-th
// distance. Fills best_d / best_i (k slots, empty on entry) and returns the rows measured.
template <class TQ, class TT>
static int64_t filtered_euclidean_topk(Matrix<const TQ> queries, int64_t qi,
                                       Matrix<const TT> train, Vector<const double> bounds,
                                       Vector<const int64_t> candidates, double shrink,
                                       double margin, bool use_u8, Vector<double> best_d,
                                       Vector<int64_t> best_i) {
  const int64_t d = train.shape(1), k = best_d.shape(0), n_train = train.shape(0);
  if (int64_t(queries.shape(1)) != d || qi < 0 || qi >= int64_t(queries.shape(0)) || k < 1 ||
      int64_t(best_i.shape(0)) != k || int64_t(bounds.shape(0)) != n_train)
    throw std::invalid_argument("filtered_euclidean_topk: inconsistent arguments");
  constexpr bool both_u8 = std::is_same_v<TQ, uint8_t> && std::is_same_v<TT, uint8_t>;
  if (use_u8 && !both_u8)
    throw std::invalid_argument("filtered_euclidean_topk: use_u8 needs uint8 rows");
  const TQ* q = queries.data() + qi * d;
  const double* b = bounds.data();
  double* bd = best_d.data();
  int64_t* bi = best_i.data();
  int64_t measured = 0;
  for (int64_t c = 0; c < int64_t(candidates.shape(0)); ++c) {
    const int64_t j = candidates(c);
    if (j < 0 || j >= n_train)
      throw std::invalid_argument("filtered_euclidean_topk: candidate out of range");
    if (b[j] * shrink - margin > bd[k - 1]) break;
    double dist;
    if constexpr (both_u8) {
      dist = use_u8 ? double(u8::sqd_row(q, train.data() + j * d, d))
                    : reduced_distance(EUCLIDEAN, q, train.data() + j * d, d, 2.0, 1.0, 1.0);
    } else {
      dist = reduced_distance(EUCLIDEAN, q, train.data() + j * d, d, 2.0, 1.0, 1.0);
    }
    ++measured;
    topk_push(bd, bi, k, dist, j);
  }
  return measured;
}

}  // namespace knnv

NB_MODULE(_projection, m) {
  using namespace knnv;
  m.def("projected_bounds", &projected_bounds<float>, ReleaseGil());
  m.def("projected_bounds", &projected_bounds<double>, ReleaseGil());
  // (query, train) pairs of brute.py's filter: padded uint8 pairs, or float64 queries against
  // the stored rows of any dtype.
  m.def("filtered_euclidean_topk", &filtered_euclidean_topk<uint8_t, uint8_t>, ReleaseGil());
  m.def("filtered_euclidean_topk", &filtered_euclidean_topk<double, double>, ReleaseGil());
  m.def("filtered_euclidean_topk", &filtered_euclidean_topk<double, float>, ReleaseGil());
  m.def("filtered_euclidean_topk", &filtered_euclidean_topk<double, uint8_t>, ReleaseGil());
}
