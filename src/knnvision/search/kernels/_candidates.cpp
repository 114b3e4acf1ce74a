// Compiled scans of matrix-product tiles and the exact re-check of their candidates
// (knnvision.search.kernels.candidates).
#include <stdexcept>

#include "_common.hpp"
#include "lp.hpp"
#include "topk.hpp"

#define KNNV_INLINE inline __attribute__((always_inline))

namespace knnv {

// A tile of products: rows may be strided (the torch index hands over column slices of its
// tiles), columns must be adjacent (the Python module makes them so).
template <class P>
using Tile = nb::ndarray<const P, nb::ndim<2>, nb::device::cpu>;

constexpr int64_t SCAN_CHUNK = 64;

// How many estimates offsets[c] + scale * products[c] of a run beat `worst`. Branch-free, so
// the compiler vectorises it; the estimate is a multiply then an add (never fused), exactly as
// the push below computes it.
template <class P>
KNNV_INLINE int64_t count_below(const double* offsets, double scale, const P* products, int64_t n,
                                double worst) {
  int64_t hits = 0;
  for (int64_t c = 0; c < n; ++c) hits += (offsets[c] + scale * double(products[c])) < worst;
  return hits;
}

// One tile folded into the running top-k lists (see candidates.scan_products). Most rows hold
// nothing better than their current worst entry: a count over the whole row, then over
// 64-column chunks, skips them without a branch per element.
template <class P>
KNNV_INLINE void scan_tile(const P* products, int64_t row_stride, int64_t n_rows, int64_t n_cols,
                           const double* offsets, double scale, int64_t first_index,
                           double* best_e, int64_t* best_i, int64_t k) {
  const int64_t last = k - 1;
  for (int64_t r = 0; r < n_rows; ++r) {
    const P* row = products + r * row_stride;
    double* e_row = best_e + r * k;
    int64_t* i_row = best_i + r * k;
    double worst = e_row[last];
    if (count_below(offsets, scale, row, n_cols, worst) == 0) continue;
    for (int64_t c0 = 0; c0 < n_cols; c0 += SCAN_CHUNK) {
      const int64_t width = std::min(SCAN_CHUNK, n_cols - c0);
      if (count_below(offsets + c0, scale, row + c0, width, worst) == 0) continue;
      for (int64_t c = c0; c < c0 + width; ++c) {
        const double e = offsets[c] + scale * double(row[c]);
        if (e < worst) {
          topk_push(e_row, i_row, k, e, first_index + c);
          worst = e_row[last];
        }
      }
    }
  }
}

// The same loop compiled for each code path: only the vector width of the counts differs,
// the arithmetic (and so every estimate) is the same on all of them.
template <class P>
static void scan_baseline(const P* p, int64_t rs, int64_t nr, int64_t nc, const double* off,
                          double s, int64_t first, double* be, int64_t* bi, int64_t k) {
  scan_tile(p, rs, nr, nc, off, s, first, be, bi, k);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KNNV_X86_PATHS 1
template <class P>
__attribute__((target("avx2"))) static void scan_avx2(const P* p, int64_t rs, int64_t nr,
                                                      int64_t nc, const double* off, double s,
                                                      int64_t first, double* be, int64_t* bi,
                                                      int64_t k) {
  scan_tile(p, rs, nr, nc, off, s, first, be, bi, k);
}

template <class P>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void scan_avx512(
    const P* p, int64_t rs, int64_t nr, int64_t nc, const double* off, double s, int64_t first,
    double* be, int64_t* bi, int64_t k) {
  scan_tile(p, rs, nr, nc, off, s, first, be, bi, k);
}
#endif

template <class P>
static void scan_products(Tile<P> products, Vector<const double> offsets, double scale,
                          int64_t first_index, Matrix<double> best_e, Matrix<int64_t> best_i) {
  const int64_t n_rows = products.shape(0), n_cols = products.shape(1), k = best_e.shape(1);
  if (best_i.shape(0) != best_e.shape(0) || best_i.shape(1) != size_t(k))
    throw std::invalid_argument("best_e and best_i must have the same shape");
  if (best_e.shape(0) < size_t(n_rows)) throw std::invalid_argument("fewer lists than tile rows");
  if (offsets.shape(0) < size_t(n_cols)) throw std::invalid_argument("fewer offsets than columns");
  if (n_rows == 0 || n_cols == 0 || k == 0) return;
  if (n_cols > 1 && products.stride(1) != 1)
    throw std::invalid_argument("the columns of products must be adjacent");
  const int64_t rs = products.stride(0);
  const P* p = products.data();
  const double* off = offsets.data();
#ifdef KNNV_X86_PATHS
  switch (cpu_level()) {
    case Cpu::avx512:
      return scan_avx512(p, rs, n_rows, n_cols, off, scale, first_index, best_e.data(),
                         best_i.data(), k);
    case Cpu::avx2:
      return scan_avx2(p, rs, n_rows, n_cols, off, scale, first_index, best_e.data(),
                       best_i.data(), k);
    default: break;
  }
#endif
  scan_baseline(p, rs, n_rows, n_cols, off, scale, first_index, best_e.data(), best_i.data(), k);
}

// Exact top-k of one query among its candidates whose estimate is at most `limit` (they are
// sorted by estimate), measured with lp.hpp's reduced_distance. Returns false (and stops) at
// a candidate index outside the n_train training rows.
template <class TT>
KNNV_INLINE bool recheck_row(int kind, const double* q, const TT* t, int64_t n_train, int64_t d,
                             const double* ce, const int64_t* ci, int64_t width, double limit,
                             double p, double norm_q, const double* tn, double* bd, int64_t* bi,
                             int64_t k) {
  for (int64_t c = 0; c < width; ++c) {
    if (ce[c] > limit) break;  // candidates are sorted by estimate
    const int64_t j = ci[c];
    if (j < 0 || j >= n_train) return false;
    const double norm_t = tn != nullptr ? tn[j] : 1.0;
    topk_push(bd, bi, k, reduced_distance(kind, q, t + j * d, d, p, norm_q, norm_t), j);
  }
  return true;
}

// One query's re-check compiled for each code path: the 8 accumulators of NumPy's pairwise
// order are independent, so wider vectors hold more of them, and every lane does the same
// operations in the same order (no fused multiply-add): identical results on every path.
// (Per row, not per call: an OpenMP region is outlined before inlining and would lose the
// target attribute.)
template <class TT>
using RecheckRow = bool (*)(int, const double*, const TT*, int64_t, int64_t, const double*,
                            const int64_t*, int64_t, double, double, double, const double*,
                            double*, int64_t*, int64_t);

template <class TT>
static bool recheck_row_baseline(int kind, const double* q, const TT* t, int64_t n, int64_t d,
                                 const double* ce, const int64_t* ci, int64_t w, double lim,
                                 double p, double nq, const double* tn, double* bd, int64_t* bi,
                                 int64_t k) {
  return recheck_row(kind, q, t, n, d, ce, ci, w, lim, p, nq, tn, bd, bi, k);
}

#ifdef KNNV_X86_PATHS
template <class TT>
__attribute__((target("avx2"))) static bool recheck_row_avx2(
    int kind, const double* q, const TT* t, int64_t n, int64_t d, const double* ce,
    const int64_t* ci, int64_t w, double lim, double p, double nq, const double* tn, double* bd,
    int64_t* bi, int64_t k) {
  return recheck_row(kind, q, t, n, d, ce, ci, w, lim, p, nq, tn, bd, bi, k);
}

template <class TT>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static bool recheck_row_avx512(
    int kind, const double* q, const TT* t, int64_t n, int64_t d, const double* ce,
    const int64_t* ci, int64_t w, double lim, double p, double nq, const double* tn, double* bd,
    int64_t* bi, int64_t k) {
  return recheck_row(kind, q, t, n, d, ce, ci, w, lim, p, nq, tn, bd, bi, k);
}
#endif

// Exact top-k among each query's candidates whose estimate is at most limits[row]. Parallel
// over queries; each query's lists are its own, so the partition does not change the result.
template <class TT>
static void recheck_candidates(int kind, Matrix<const double> queries, Matrix<const TT> train,
                               Matrix<const double> cand_e, Matrix<const int64_t> cand_i,
                               Vector<const double> limits, double p,
                               Vector<const double> query_norms, Vector<const double> train_norms,
                               Matrix<double> best_d, Matrix<int64_t> best_i, int n_threads) {
  const int64_t n_queries = queries.shape(0), d = queries.shape(1), width = cand_e.shape(1);
  const int64_t k = best_d.shape(1);
  if (train.shape(1) != size_t(d)) throw std::invalid_argument("queries and train differ in width");
  if (cand_i.shape(0) != cand_e.shape(0) || cand_i.shape(1) != size_t(width) ||
      cand_e.shape(0) != size_t(n_queries) || limits.shape(0) < size_t(n_queries) ||
      best_d.shape(0) != size_t(n_queries) || best_i.shape(0) != size_t(n_queries) ||
      best_i.shape(1) != size_t(k))
    throw std::invalid_argument("recheck_candidates: inconsistent shapes");
  if (k == 0) return;
  // Empty norm arrays stand for norms of 1 (every metric but cosine).
  const double* qn = query_norms.shape(0) > 0 ? query_norms.data() : nullptr;
  const double* tn = train_norms.shape(0) > 0 ? train_norms.data() : nullptr;
  RecheckRow<TT> row_kernel = recheck_row_baseline<TT>;
#ifdef KNNV_X86_PATHS
  if (cpu_level() == Cpu::avx512) row_kernel = recheck_row_avx512<TT>;
  if (cpu_level() == Cpu::avx2) row_kernel = recheck_row_avx2<TT>;
#endif
  const double* q = queries.data();
  const TT* t = train.data();
  const double* ce = cand_e.data();
  const int64_t* ci = cand_i.data();
  const double* lim = limits.data();
  double* bd = best_d.data();
  int64_t* bi = best_i.data();
  const int64_t n_train = train.shape(0);
  bool all_in_range = true;  // no exception may leave an OpenMP region: raised after it
#pragma omp parallel for num_threads(n_threads) schedule(dynamic) reduction(&& : all_in_range)
  for (int64_t row = 0; row < n_queries; ++row)
    all_in_range = row_kernel(kind, q + row * d, t, n_train, d, ce + row * width, ci + row * width,
                              width, lim[row], p, qn != nullptr ? qn[row] : 1.0, tn, bd + row * k,
                              bi + row * k, k) && all_in_range;
  if (!all_in_range)
    throw std::out_of_range("recheck_candidates: a candidate index is outside the training rows");
}


// -- radius search ------------------------------------------------------------------------

// How many estimates of a run are at most `limit` (branch-free, as count_below).
template <class P>
KNNV_INLINE int64_t count_within(const double* offsets, double scale, const P* products,
                                 int64_t n, double limit) {
  int64_t hits = 0;
  for (int64_t c = 0; c < n; ++c) hits += (offsets[c] + scale * double(products[c])) <= limit;
  return hits;
}

// Every (row, column) of a tile whose estimate is at most its row's limit, in row-major order
// (see candidates.scan_within). Writes the first `capacity` and returns how many there are.
template <class P>
KNNV_INLINE int64_t within_tile(const P* products, int64_t row_stride, int64_t n_rows,
                                int64_t n_cols, const double* offsets, double scale,
                                const double* limits, int64_t* hit_rows, int64_t* hit_cols,
                                int64_t capacity) {
  int64_t found = 0;
  for (int64_t r = 0; r < n_rows; ++r) {
    const P* row = products + r * row_stride;
    const double limit = limits[r];
    if (count_within(offsets, scale, row, n_cols, limit) == 0) continue;
    for (int64_t c0 = 0; c0 < n_cols; c0 += SCAN_CHUNK) {
      const int64_t width = std::min(SCAN_CHUNK, n_cols - c0);
      if (count_within(offsets + c0, scale, row + c0, width, limit) == 0) continue;
      for (int64_t c = c0; c < c0 + width; ++c) {
        if (offsets[c] + scale * double(row[c]) > limit) continue;
        if (found < capacity) hit_rows[found] = r, hit_cols[found] = c;
        ++found;
      }
    }
  }
  return found;
}

template <class P>
static int64_t within_baseline(const P* p, int64_t rs, int64_t nr, int64_t nc, const double* off,
                               double s, const double* lim, int64_t* hr, int64_t* hc,
                               int64_t cap) {
  return within_tile(p, rs, nr, nc, off, s, lim, hr, hc, cap);
}

#ifdef KNNV_X86_PATHS
template <class P>
__attribute__((target("avx2"))) static int64_t within_avx2(const P* p, int64_t rs, int64_t nr,
                                                          int64_t nc, const double* off,
                                                          double s, const double* lim,
                                                          int64_t* hr, int64_t* hc,
                                                          int64_t cap) {
  return within_tile(p, rs, nr, nc, off, s, lim, hr, hc, cap);
}

template <class P>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static int64_t within_avx512(
    const P* p, int64_t rs, int64_t nr, int64_t nc, const double* off, double s,
    const double* lim, int64_t* hr, int64_t* hc, int64_t cap) {
  return within_tile(p, rs, nr, nc, off, s, lim, hr, hc, cap);
}
#endif

template <class P>
static int64_t scan_within(Tile<P> products, Vector<const double> offsets, double scale,
                           Vector<const double> limits, Vector<int64_t> hit_rows,
                           Vector<int64_t> hit_cols) {
  const int64_t n_rows = products.shape(0), n_cols = products.shape(1);
  const int64_t capacity = std::min(hit_rows.shape(0), hit_cols.shape(0));
  if (limits.shape(0) < size_t(n_rows)) throw std::invalid_argument("fewer limits than rows");
  if (offsets.shape(0) < size_t(n_cols)) throw std::invalid_argument("fewer offsets than columns");
  if (n_rows == 0 || n_cols == 0) return 0;
  if (n_cols > 1 && products.stride(1) != 1)
    throw std::invalid_argument("the columns of products must be adjacent");
  const int64_t rs = products.stride(0);
  const P* p = products.data();
  const double* off = offsets.data();
  const double* lim = limits.data();
  int64_t* hr = hit_rows.data();
  int64_t* hc = hit_cols.data();
#ifdef KNNV_X86_PATHS
  switch (cpu_level()) {
    case Cpu::avx512: return within_avx512(p, rs, n_rows, n_cols, off, scale, lim, hr, hc, capacity);
    case Cpu::avx2: return within_avx2(p, rs, n_rows, n_cols, off, scale, lim, hr, hc, capacity);
    default: break;
  }
#endif
  return within_baseline(p, rs, n_rows, n_cols, off, scale, lim, hr, hc, capacity);
}

// Exact reduced distances of the pairs [lo, hi): query rows[i] against training cols[i].
template <class TT>
KNNV_INLINE void pairs_run(int kind, const double* q, const TT* t, int64_t d, const int64_t* qr,
                           const int64_t* tr, int64_t lo, int64_t hi, double p, const double* qn,
                           const double* tn, double* out) {
  for (int64_t i = lo; i < hi; ++i)
    out[i] = reduced_distance(kind, q + qr[i] * d, t + tr[i] * d, d, p,
                              qn != nullptr ? qn[qr[i]] : 1.0, tn != nullptr ? tn[tr[i]] : 1.0);
}

template <class TT>
using PairsRun = void (*)(int, const double*, const TT*, int64_t, const int64_t*, const int64_t*,
                          int64_t, int64_t, double, const double*, const double*, double*);

template <class TT>
static void pairs_baseline(int kind, const double* q, const TT* t, int64_t d, const int64_t* qr,
                           const int64_t* tr, int64_t lo, int64_t hi, double p, const double* qn,
                           const double* tn, double* out) {
  pairs_run(kind, q, t, d, qr, tr, lo, hi, p, qn, tn, out);
}

#ifdef KNNV_X86_PATHS
template <class TT>
__attribute__((target("avx2"))) static void pairs_avx2(int kind, const double* q, const TT* t,
                                                      int64_t d, const int64_t* qr,
                                                      const int64_t* tr, int64_t lo, int64_t hi,
                                                      double p, const double* qn,
                                                      const double* tn, double* out) {
  pairs_run(kind, q, t, d, qr, tr, lo, hi, p, qn, tn, out);
}

template <class TT>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void pairs_avx512(
    int kind, const double* q, const TT* t, int64_t d, const int64_t* qr, const int64_t* tr,
    int64_t lo, int64_t hi, double p, const double* qn, const double* tn, double* out) {
  pairs_run(kind, q, t, d, qr, tr, lo, hi, p, qn, tn, out);
}
#endif

template <class TT>
static PairsRun<TT> pairs_kernel() {
#ifdef KNNV_X86_PATHS
  if (cpu_level() == Cpu::avx512) return pairs_avx512<TT>;
  if (cpu_level() == Cpu::avx2) return pairs_avx2<TT>;
#endif
  return pairs_baseline<TT>;
}

// out[i] = the reduced distance of queries[rows[i]] and train[cols[i]] (see
// candidates.pair_distances). Parallel over runs of pairs; each pair is measured alone.
template <class TT>
static void pair_distances(int kind, Matrix<const double> queries, Matrix<const TT> train,
                           Vector<const int64_t> rows, Vector<const int64_t> cols, double p,
                           Vector<const double> query_norms, Vector<const double> train_norms,
                           Vector<double> out, int n_threads) {
  const int64_t n = rows.shape(0), d = queries.shape(1);
  const int64_t n_queries = queries.shape(0), n_train = train.shape(0);
  if (train.shape(1) != size_t(d)) throw std::invalid_argument("queries and train differ in width");
  if (cols.shape(0) != size_t(n) || out.shape(0) != size_t(n))
    throw std::invalid_argument("pair_distances: rows, cols and out differ in length");
  const double* qn = query_norms.shape(0) > 0 ? query_norms.data() : nullptr;
  const double* tn = train_norms.shape(0) > 0 ? train_norms.data() : nullptr;
  if ((qn != nullptr && query_norms.shape(0) < size_t(n_queries)) ||
      (tn != nullptr && train_norms.shape(0) < size_t(n_train)))
    throw std::invalid_argument("pair_distances: fewer norms than rows");
  const int64_t* qr = rows.data();
  const int64_t* tr = cols.data();
  for (int64_t i = 0; i < n; ++i)
    if (qr[i] < 0 || qr[i] >= n_queries || tr[i] < 0 || tr[i] >= n_train)
      throw std::out_of_range("pair_distances: a pair names a row outside its array");
  const PairsRun<TT> run = pairs_kernel<TT>();
  constexpr int64_t RUN = 256;
  const int64_t n_runs = (n + RUN - 1) / RUN;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic)
  for (int64_t r = 0; r < n_runs; ++r)
    run(kind, queries.data(), train.data(), d, qr, tr, r * RUN, std::min(n, (r + 1) * RUN), p, qn,
        tn, out.data());
}

// out[i, j] = the reduced distance of queries[i] and train[j], a block of exact distances
// (Minkowski: estimates). Parallel over groups of queries that stay in cache while the
// training rows stream past.
template <class TT>
static void distance_block(int kind, Matrix<const double> queries, Matrix<const TT> train,
                           double p, Vector<const double> query_norms,
                           Vector<const double> train_norms, Matrix<double> out, int n_threads) {
  const int64_t n_queries = queries.shape(0), n_train = train.shape(0), d = queries.shape(1);
  if (train.shape(1) != size_t(d)) throw std::invalid_argument("queries and train differ in width");
  if (out.shape(0) != size_t(n_queries) || out.shape(1) != size_t(n_train))
    throw std::invalid_argument("distance_block: out must be (n_queries, n_train)");
  const double* qn = query_norms.shape(0) >= size_t(n_queries) && n_queries > 0
                         ? query_norms.data() : nullptr;
  const double* tn = train_norms.shape(0) >= size_t(n_train) && n_train > 0
                         ? train_norms.data() : nullptr;
  const PairsRun<TT> run = pairs_kernel<TT>();
  constexpr int64_t GROUP = 8;
  const int64_t n_groups = (n_queries + GROUP - 1) / GROUP;
#pragma omp parallel num_threads(n_threads)
  {
    // The pairs of one group against one training row, as the pair runner takes them.
    int64_t qr[GROUP], tr[GROUP];
    double dist[GROUP];
#pragma omp for schedule(dynamic)
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t q0 = g * GROUP, width = std::min(GROUP, n_queries - q0);
      for (int64_t i = 0; i < width; ++i) qr[i] = q0 + i;
      for (int64_t j = 0; j < n_train; ++j) {
        for (int64_t i = 0; i < width; ++i) tr[i] = j;
        run(kind, queries.data(), train.data(), d, qr, tr, 0, width, p, qn, tn, dist);
        for (int64_t i = 0; i < width; ++i) out.data()[(q0 + i) * n_train + j] = dist[i];
      }
    }
  }
}

}  // namespace knnv

NB_MODULE(_candidates, m) {
  using namespace nb::literals;
  // .noconvert() where the overload is chosen by dtype (nanobind would otherwise convert to the
  // first overload's dtype) and on the lists filled in place (a copy would be filled instead);
  // the Python module passes exactly these dtypes.
#define KNNV_SCAN(P)                                                                      \
  m.def("scan_products", &knnv::scan_products<P>, "products"_a.noconvert(), "offsets"_a,  \
        "scale"_a, "first_index"_a, "best_e"_a.noconvert(), "best_i"_a.noconvert(),       \
        knnv::ReleaseGil())
  KNNV_SCAN(float);
  KNNV_SCAN(int32_t);
  KNNV_SCAN(double);
#undef KNNV_SCAN
#define KNNV_RECHECK(T)                                                                     \
  m.def("recheck_candidates", &knnv::recheck_candidates<T>, "kind"_a, "queries"_a,          \
        "train"_a.noconvert(), "cand_e"_a, "cand_i"_a, "limits"_a, "p"_a, "query_norms"_a,  \
        "train_norms"_a, "best_d"_a.noconvert(), "best_i"_a.noconvert(), "n_threads"_a,     \
        knnv::ReleaseGil())
  KNNV_RECHECK(uint8_t);
  KNNV_RECHECK(float);
  KNNV_RECHECK(double);
#undef KNNV_RECHECK
#define KNNV_WITHIN(P)                                                                  \
  m.def("scan_within", &knnv::scan_within<P>, "products"_a.noconvert(), "offsets"_a,      \
        "scale"_a, "limits"_a, "hit_rows"_a.noconvert(), "hit_cols"_a.noconvert(),        \
        knnv::ReleaseGil())
  KNNV_WITHIN(float);
  KNNV_WITHIN(int32_t);
  KNNV_WITHIN(double);
#undef KNNV_WITHIN
#define KNNV_PAIRS(T)                                                                       \
  m.def("pair_distances", &knnv::pair_distances<T>, "kind"_a, "queries"_a,                  \
        "train"_a.noconvert(), "rows"_a, "cols"_a, "p"_a, "query_norms"_a, "train_norms"_a, \
        "out"_a.noconvert(), "n_threads"_a, knnv::ReleaseGil());                            \
  m.def("distance_block", &knnv::distance_block<T>, "kind"_a, "queries"_a,                  \
        "train"_a.noconvert(), "p"_a, "query_norms"_a, "train_norms"_a, "out"_a.noconvert(), \
        "n_threads"_a, knnv::ReleaseGil())
  KNNV_PAIRS(uint8_t);
  KNNV_PAIRS(float);
  KNNV_PAIRS(double);
#undef KNNV_PAIRS
}
