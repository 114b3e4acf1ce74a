// Compiled exact distances (knnvision.search.kernels.lp): the per-pair helpers the tests and
// the Python module call, and the generic brute-force top-k loop. The arithmetic lives in
// lp.hpp (NumPy's pairwise order, bit-identical to the reference); this file only loops.
#include <algorithm>
#include <stdexcept>
#include <type_traits>

#include "_common.hpp"
#include "lp.hpp"
#include "topk.hpp"

namespace knnv {

namespace {

// Python's row numbering: negative rows count from the end, as numba's indexing did.
int64_t row_of(int64_t i, int64_t rows) {
  const int64_t r = i < 0 ? i + rows : i;
  if (r < 0 || r >= rows) throw nb::index_error("row index out of range");
  return r;
}

template <class TA, class TB>
double pair_distance(int kind, Matrix<const TA> A, int64_t i, Matrix<const TB> B, int64_t j,
                     double p, double norm_a, double norm_b) {
  const int64_t d = A.shape(1);
  if (B.shape(1) != d) throw std::invalid_argument("rows of different lengths");
  const TA* a = A.data() + row_of(i, A.shape(0)) * d;
  const TB* b = B.data() + row_of(j, B.shape(0)) * d;
  return reduced_distance(kind, a, b, d, p, norm_a, norm_b);
}

// One block of queries [q0, q1) against every training row. Training rows are the outer loop
// so that the block's queries stay in cache while the training rows stream past; the metric is
// a template argument so the switch of reduced_distance leaves the inner loop.
template <int K, class Q, class T>
void generic_block(const Q* queries, int64_t q0, int64_t q1, const T* train, int64_t n_train,
                   int64_t d, double p, double* best_d, int64_t* best_i, int64_t k) {
  const int64_t last = k - 1;
  for (int64_t j = 0; j < n_train; ++j) {
    const T* b = train + j * d;
    for (int64_t i = q0; i < q1; ++i) {
      const double dist = reduced_distance(K, queries + i * d, b, d, p, 1.0, 1.0);
      if (dist < best_d[i * k + last]) topk_push(best_d + i * k, best_i + i * k, k, dist, j);
    }
  }
}

template <int K, class Q, class T>
void generic_run(const Q* queries, int64_t n_queries, const T* train, int64_t n_train,
                 int64_t d, double p, int64_t q_block, double* best_d, int64_t* best_i,
                 int64_t k, int n_threads) {
  const int64_t n_blocks = (n_queries + q_block - 1) / q_block;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic)
  for (int64_t block = 0; block < n_blocks; ++block) {
    const int64_t q0 = block * q_block;
    generic_block<K>(queries, q0, std::min(q0 + q_block, n_queries), train, n_train, d, p,
                     best_d, best_i, k);
  }
}

// k nearest training rows by reduced_distance for any metric but cosine; best_d / best_i
// come in filled with empty slots (inf, int64 max) and leave sorted by (distance, index).
template <class Q, class T>
void generic_topk(int kind, Matrix<const Q> queries, Matrix<const T> train, double p,
                  int64_t q_block, Matrix<double> best_d, Matrix<int64_t> best_i,
                  int n_threads) {
  const int64_t n_queries = queries.shape(0), n_train = train.shape(0), d = queries.shape(1);
  const int64_t k = best_d.shape(1);
  if (train.shape(1) != d) throw std::invalid_argument("rows of different lengths");
  if (best_d.shape(0) != n_queries || best_i.shape(0) != n_queries || best_i.shape(1) != k)
    throw std::invalid_argument("top-k lists of the wrong shape");
  if (q_block < 1) throw std::invalid_argument("q_block must be positive");
  if (kind == COSINE) throw std::invalid_argument("generic_topk does not take cosine");
  if (k < 1 || n_queries == 0) return;
  auto run = [&](auto kind_tag) {
    generic_run<decltype(kind_tag)::value>(queries.data(), n_queries, train.data(), n_train,
                                           d, p, q_block, best_d.data(), best_i.data(), k,
                                           n_threads);
  };
  switch (kind) {
    case EUCLIDEAN: return run(std::integral_constant<int, EUCLIDEAN>{});
    case MANHATTAN: return run(std::integral_constant<int, MANHATTAN>{});
    case MINKOWSKI: return run(std::integral_constant<int, MINKOWSKI>{});
    case CHEBYSHEV: return run(std::integral_constant<int, CHEBYSHEV>{});
    case HAMMING: return run(std::integral_constant<int, HAMMING>{});
    default: throw std::invalid_argument("unknown metric code");
  }
}

template <class TA, class TB>
void bind_pair(nb::module_& m) {
  m.def("reduced_distance", &pair_distance<TA, TB>, nb::arg("kind"), nb::arg("A"),
        nb::arg("i"), nb::arg("B"), nb::arg("j"), nb::arg("p"), nb::arg("norm_a"),
        nb::arg("norm_b"), ReleaseGil());
}

template <class TA>
void bind_pairs(nb::module_& m) {
  bind_pair<TA, uint8_t>(m);
  bind_pair<TA, float>(m);
  bind_pair<TA, double>(m);
}

}  // namespace

}  // namespace knnv

NB_MODULE(_lp, m) {
  using namespace knnv;
  bind_pairs<uint8_t>(m);
  bind_pairs<float>(m);
  bind_pairs<double>(m);
  // Queries come as float64 (lp.py widens them: exact, and the kernel widens every element
  // anyway); one variant per training dtype.
  m.def("generic_topk", &generic_topk<double, uint8_t>, ReleaseGil());
  m.def("generic_topk", &generic_topk<double, float>, ReleaseGil());
  m.def("generic_topk", &generic_topk<double, double>, ReleaseGil());
}
