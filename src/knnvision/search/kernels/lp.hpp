// Exact float64 distances between two rows, bit-identical to NumPy's reference
// (knnvision.search.metrics.reduced_distances): each term is computed as NumPy computes it and
// the terms are added in NumPy's pairwise order (8 interleaved accumulators on runs of at most
// 128 terms; a longer run is split at half its length rounded down to a multiple of 8).
// Compiled with -ffp-contract=off, so no multiply-add is fused. Header-only: every family that
// measures distances inlines these. NumPy twin: lp.reduced_distance_numpy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace knnv {

enum Kind : int { EUCLIDEAN = 0, MANHATTAN = 1, MINKOWSKI = 2, CHEBYSHEV = 3, COSINE = 4,
                  HAMMING = 5 };

constexpr int64_t PAIRWISE_BLOCK = 128;

// One term of the metric's sum for coordinates x, y (cosine: x, y already divided by norms).
struct SqDiff {
  double operator()(double x, double y) const { double t = std::fabs(x - y); return t * t; }
};
struct AbsDiff {
  double operator()(double x, double y) const { return std::fabs(x - y); }
};
struct PowDiff {
  double p;
  double operator()(double x, double y) const { return std::pow(std::fabs(x - y), p); }
};
struct CosProd {
  double norm_a, norm_b;
  double operator()(double x, double y) const { return (x / norm_a) * (y / norm_b); }
};

// NumPy's pairwise_sum on a run of n <= 128 terms starting at feature lo.
template <class TA, class TB, class Term>
inline double block_sum(const TA* a, const TB* b, int64_t lo, int64_t n, Term term) {
  if (n < 8) {
    double res = 0.0;
    for (int64_t f = lo; f < lo + n; ++f) res += term(double(a[f]), double(b[f]));
    return res;
  }
  double r[8];
  for (int u = 0; u < 8; ++u) r[u] = term(double(a[lo + u]), double(b[lo + u]));
  const int64_t stop = lo + n - (n % 8);
  for (int64_t f = lo + 8; f < stop; f += 8)
    for (int u = 0; u < 8; ++u) r[u] += term(double(a[f + u]), double(b[f + u]));
  double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (int64_t f = stop; f < lo + n; ++f) res += term(double(a[f]), double(b[f]));
  return res;
}

// NumPy's pairwise_sum over features [lo, lo + n).
template <class TA, class TB, class Term>
inline double pairwise_sum(const TA* a, const TB* b, int64_t lo, int64_t n, Term term) {
  if (n <= PAIRWISE_BLOCK) return block_sum(a, b, lo, n, term);
  int64_t half = n / 2;
  half -= half % 8;
  const double left = pairwise_sum(a, b, lo, half, term);
  return left + pairwise_sum(a, b, lo + half, n - half, term);
}

// A maximum is exact in any order, so it runs in 8 independent lanes (which GCC vectorises
// without reassociating anything). The result equals the serial max(res, t) loop bit for bit,
// NaN included: `r < t ? t : r` never lets a NaN in, in a lane or when the lanes meet.
template <class TA, class TB>
inline double chebyshev(const TA* a, const TB* b, int64_t d) {
  double r[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  int64_t f = 0;
  for (; f + 8 <= d; f += 8)
    for (int u = 0; u < 8; ++u) {
      const double t = std::fabs(double(a[f + u]) - double(b[f + u]));
      r[u] = r[u] < t ? t : r[u];
    }
  for (int u = 0; f + u < d; ++u) {
    const double t = std::fabs(double(a[f + u]) - double(b[f + u]));
    r[u] = r[u] < t ? t : r[u];
  }
  double res = 0.0;
  for (int u = 0; u < 8; ++u) res = res < r[u] ? r[u] : res;
  return res;
}

template <class TA, class TB>
inline double hamming(const TA* a, const TB* b, int64_t d) {
  int64_t count = 0;
  for (int64_t f = 0; f < d; ++f) count += double(a[f]) != double(b[f]);
  return double(count) / double(d);
}

// The reduced distance of metric `kind` between rows a and b of d features: squared for
// Euclidean, sum |x - y|^p for Minkowski (an estimate: libm pow, see lp.minkowski_rel_error),
// cosine from the rows' norms (zero norms passed as 1).
template <class TA, class TB>
inline double reduced_distance(int kind, const TA* a, const TB* b, int64_t d, double p,
                               double norm_a, double norm_b) {
  switch (kind) {
    case EUCLIDEAN: return pairwise_sum(a, b, 0, d, SqDiff{});
    case MANHATTAN: return pairwise_sum(a, b, 0, d, AbsDiff{});
    case MINKOWSKI: return pairwise_sum(a, b, 0, d, PowDiff{p});
    case CHEBYSHEV: return chebyshev(a, b, d);
    case HAMMING: return hamming(a, b, d);
    default: {
      const double similarity = pairwise_sum(a, b, 0, d, CosProd{norm_a, norm_b});
      return std::min(std::max(1.0 - similarity, 0.0), 2.0);
    }
  }
}

}  // namespace knnv
