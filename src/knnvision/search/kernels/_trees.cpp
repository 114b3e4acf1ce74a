// Compiled kd-tree and ball-tree queries (knnvision.search.kernels.trees): node bounds, leaf
// scans and the depth-first walk. A port of the former numba kernels, operation for operation:
// the bounds only prune, and the leaf distances come from lp.hpp, bit-identical to NumPy's.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "_common.hpp"
#include "lp.hpp"
#include "topk.hpp"

namespace knnv {

enum TreeKind : int { TREE_KD = 0, TREE_BALL = 1 };

// Lower bound on the reduced distance from query row q to any point of the box [lo, hi].
// The terms are added in feature order, as the numba loop did.
inline double box_bound(int kind, const double* q, const double* lo, const double* hi, int64_t d,
                        double p) {
  double res = 0.0;
  for (int64_t f = 0; f < d; ++f) {
    const double gap = std::max(std::max(lo[f] - q[f], q[f] - hi[f]), 0.0);
    if (kind == EUCLIDEAN) {
      res += gap * gap;
    } else if (kind == MANHATTAN) {
      res += gap;
    } else if (kind == CHEBYSHEV) {
      res = std::max(res, gap);
    } else {
      res += std::pow(gap, p);
    }
  }
  return res;
}

// Lower bound on the reduced distance from q to any point of the ball (center, radius).
// `radius` is a true distance (a coordinate count for Hamming); `shrink` (slightly below 1)
// scales the centre distance down and the radius up before subtracting, because the difference
// of two rounded numbers can lose all relative accuracy.
inline double ball_bound(int kind, const double* q, const double* center, int64_t d,
                         double radius, double p, double shrink) {
  if (kind == HAMMING) {
    const double count = hamming(q, center, d) * double(d);
    return std::max(count - radius, 0.0) / double(d);
  }
  const double reduced = reduced_distance(kind, q, center, d, p, 1.0, 1.0);
  if (kind == MANHATTAN || kind == CHEBYSHEV)
    return std::max(reduced * shrink - radius / shrink, 0.0);
  const double power = kind == EUCLIDEAN ? 2.0 : p;
  const double gap = std::pow(reduced, 1.0 / power) * shrink - radius / shrink;
  return gap > 0.0 ? std::pow(gap, power) : 0.0;
}

// A point found by a radius walk.
struct Found {
  int64_t query, index;
  double distance;
};

// The tree's arrays, as the Python index keeps them.
struct Tree {
  const double* data;
  const int64_t* order;
  const int64_t* starts;
  const int64_t* ends;
  const double* lo;
  const double* hi;
  const double* centers;
  const double* radii;
  int64_t n_nodes, d;
};

// Lower bound on the reduced distance from q to any point of `node`. `shrink` absorbs
// rounding: the bound stays below the computed distance of every point in the node, so
// pruning never drops a true neighbour.
template <int KIND, int TREE>
inline double node_bound(const Tree& t, const double* q, int64_t node, double p, double shrink) {
  const int64_t d = t.d;
  if (TREE == TREE_KD) return box_bound(KIND, q, t.lo + node * d, t.hi + node * d, d, p) * shrink;
  return ball_bound(KIND, q, t.centers + node * d, d, t.radii[node], p, shrink) * shrink;
}

// One query's walk. KIND and TREE are compile-time so the per-feature branches of the bounds
// and of reduced_distance fold away in the hot loops. `stack_node` / `stack_bound` hold
// 2 * n_levels + 2 entries (reused across the queries of a chunk).
template <int KIND, int TREE>
static void query_one(const Tree& t, const double* q, int64_t k, int64_t k_keep, double p,
                      double shrink, double slack, double* best_d, int64_t* best_i,
                      int64_t* stack_node, double* stack_bound) {
  const int64_t first_leaf = t.n_nodes / 2, d = t.d, last = k_keep - 1;
  stack_node[0] = 0;
  stack_bound[0] = 0.0;
  int64_t top = 1;
  while (top > 0) {
    --top;
    const int64_t node = stack_node[top];
    // Prune only when strictly farther than the k-th: a point at exactly the k-th distance
    // with a smaller index must still be found (the tie rule).
    if (stack_bound[top] > best_d[k - 1] * slack) continue;
    if (node >= first_leaf) {
      for (int64_t j = t.starts[node]; j < t.ends[node]; ++j) {
        const double dist = reduced_distance(KIND, q, t.data + j * d, d, p, 1.0, 1.0);
        if (dist <= best_d[last]) topk_push(best_d, best_i, k_keep, dist, t.order[j]);
      }
      continue;
    }
    const int64_t left = 2 * node + 1, right = left + 1;
    const double bound_left = node_bound<KIND, TREE>(t, q, left, p, shrink);
    const double bound_right = node_bound<KIND, TREE>(t, q, right, p, shrink);
    // Push the farther child first so the nearer one is searched first.
    if (bound_left <= bound_right) {
      stack_node[top] = right, stack_bound[top] = bound_right;
      stack_node[top + 1] = left, stack_bound[top + 1] = bound_left;
    } else {
      stack_node[top] = left, stack_bound[top] = bound_left;
      stack_node[top + 1] = right, stack_bound[top + 1] = bound_right;
    }
    top += 2;
  }
}

template <int KIND, int TREE>
static void query_all(const Tree& t, const double* queries, int64_t n_queries, int64_t n_levels,
                      int64_t k, int64_t k_keep, double p, double shrink, double slack,
                      int64_t n_chunks, int n_threads, double* best_d, int64_t* best_i) {
  const int64_t d = t.d;
#pragma omp parallel num_threads(n_threads)
  {
    std::vector<int64_t> stack_node(2 * n_levels + 2);
    std::vector<double> stack_bound(2 * n_levels + 2);
    // Queries are dealt round-robin to the chunks so that slow and fast regions of the space
    // spread evenly over the threads; results do not depend on which thread takes a chunk.
#pragma omp for schedule(dynamic)
    for (int64_t chunk = 0; chunk < n_chunks; ++chunk)
      for (int64_t qi = chunk; qi < n_queries; qi += n_chunks)
        query_one<KIND, TREE>(t, queries + qi * d, k, k_keep, p, shrink, slack,
                              best_d + qi * k_keep, best_i + qi * k_keep, stack_node.data(),
                              stack_bound.data());
  }
}

template <int TREE>
static void dispatch_kind(int kind, const Tree& t, const double* queries, int64_t n_queries,
                          int64_t n_levels, int64_t k, int64_t k_keep, double p, double shrink,
                          double slack, int64_t n_chunks, int n_threads, double* best_d,
                          int64_t* best_i) {
  switch (kind) {
#define KNNV_TREE_CASE(K)                                                                    \
  case K:                                                                                    \
    return query_all<K, TREE>(t, queries, n_queries, n_levels, k, k_keep, p, shrink, slack, \
                              n_chunks, n_threads, best_d, best_i);
    KNNV_TREE_CASE(EUCLIDEAN)
    KNNV_TREE_CASE(MANHATTAN)
    KNNV_TREE_CASE(MINKOWSKI)
    KNNV_TREE_CASE(CHEBYSHEV)
    KNNV_TREE_CASE(HAMMING)
#undef KNNV_TREE_CASE
    default: throw std::invalid_argument("tree_query: unsupported metric code");
  }
}

// k nearest rows of each query (see trees.tree_query); fills best_d / best_i, which the caller
// allocated with k_keep columns and every slot empty.
static void tree_query(int tree_kind, int kind, Matrix<const double> queries,
                       Matrix<const double> data, Vector<const int64_t> order,
                       Vector<const int64_t> starts, Vector<const int64_t> ends,
                       Matrix<const double> lo, Matrix<const double> hi,
                       Matrix<const double> centers, Vector<const double> radii,
                       int64_t n_levels, int64_t k, double p, double shrink, double slack,
                       int64_t n_chunks, int n_threads, Matrix<double> best_d,
                       Matrix<int64_t> best_i) {
  const int64_t n_queries = queries.shape(0), k_keep = best_d.shape(1);
  if (queries.shape(1) != data.shape(1) || best_i.shape(0) != best_d.shape(0) ||
      best_i.shape(1) != k_keep || best_d.shape(0) != n_queries || k < 1 || k > k_keep)
    throw std::invalid_argument("tree_query: inconsistent array shapes");
  if (tree_kind != TREE_KD && tree_kind != TREE_BALL)
    throw std::invalid_argument("tree_query: unknown tree kind");
  Tree t{data.data(), order.data(), starts.data(), ends.data(), lo.data(), hi.data(),
         centers.data(), radii.data(), int64_t(starts.shape(0)), int64_t(data.shape(1))};
  n_chunks = std::max<int64_t>(1, std::min(n_queries, n_chunks));
  if (tree_kind == TREE_KD)
    dispatch_kind<TREE_KD>(kind, t, queries.data(), n_queries, n_levels, k, k_keep, p, shrink,
                           slack, n_chunks, n_threads, best_d.data(), best_i.data());
  else
    dispatch_kind<TREE_BALL>(kind, t, queries.data(), n_queries, n_levels, k, k_keep, p,
                             shrink, slack, n_chunks, n_threads, best_d.data(), best_i.data());
}

// One query's radius walk: every point whose reduced distance is at most `limit`, appended
// to `found` as (query, training index, distance). A node is pruned when its bound is
// strictly above the limit, so points exactly at it are found.
template <int KIND, int TREE>
static void radius_one(const Tree& t, const double* q, int64_t qi, double limit, double p,
                       double shrink, int64_t* stack, std::vector<Found>& found) {
  const int64_t first_leaf = t.n_nodes / 2, d = t.d;
  stack[0] = 0;
  int64_t top = 1;
  while (top > 0) {
    const int64_t node = stack[--top];
    if (node >= first_leaf) {
      for (int64_t j = t.starts[node]; j < t.ends[node]; ++j) {
        const double dist = reduced_distance(KIND, q, t.data + j * d, d, p, 1.0, 1.0);
        if (dist <= limit) found.push_back({qi, t.order[j], dist});
      }
      continue;
    }
    for (int64_t child = 2 * node + 1; child <= 2 * node + 2; ++child)
      if (!(node_bound<KIND, TREE>(t, q, child, p, shrink) > limit)) stack[top++] = child;
  }
}

template <int KIND, int TREE>
static int64_t radius_all(const Tree& t, const double* queries, int64_t n_queries,
                          int64_t n_levels, double limit, double p, double shrink,
                          int64_t n_chunks, int n_threads, int64_t* out_q, int64_t* out_i,
                          double* out_d, int64_t capacity) {
  const int64_t d = t.d;
  int64_t total = 0;
#pragma omp parallel num_threads(n_threads)
  {
    std::vector<int64_t> stack(n_levels + 2);
    std::vector<Found> found;
    // Round-robin chunks, as in query_all; the caller sorts, so the order written here (which
    // depends on the threads) does not matter.
#pragma omp for schedule(dynamic)
    for (int64_t chunk = 0; chunk < n_chunks; ++chunk)
      for (int64_t qi = chunk; qi < n_queries; qi += n_chunks)
        radius_one<KIND, TREE>(t, queries + qi * d, qi, limit, p, shrink, stack.data(), found);
    int64_t offset;
#pragma omp atomic capture
    {
      offset = total;
      total += int64_t(found.size());
    }
    for (size_t f = 0; f < found.size() && offset + int64_t(f) < capacity; ++f) {
      out_q[offset + f] = found[f].query;
      out_i[offset + f] = found[f].index;
      out_d[offset + f] = found[f].distance;
    }
  }
  return total;
}

// Every training point within reduced distance `limit` of each query (see trees.tree_radius):
// writes the first `capacity` (query, index, distance) triples, in no particular order, and
// returns how many there are.
static int64_t tree_radius(int tree_kind, int kind, Matrix<const double> queries,
                           Matrix<const double> data, Vector<const int64_t> order,
                           Vector<const int64_t> starts, Vector<const int64_t> ends,
                           Matrix<const double> lo, Matrix<const double> hi,
                           Matrix<const double> centers, Vector<const double> radii,
                           int64_t n_levels, double limit, double p, double shrink,
                           int64_t n_chunks, int n_threads, Vector<int64_t> out_q,
                           Vector<int64_t> out_i, Vector<double> out_d) {
  const int64_t n_queries = queries.shape(0);
  const int64_t capacity = std::min({out_q.shape(0), out_i.shape(0), out_d.shape(0)});
  if (queries.shape(1) != data.shape(1))
    throw std::invalid_argument("tree_radius: queries and data differ in width");
  if (tree_kind != TREE_KD && tree_kind != TREE_BALL)
    throw std::invalid_argument("tree_radius: unknown tree kind");
  if (n_queries == 0) return 0;
  Tree t{data.data(), order.data(), starts.data(), ends.data(), lo.data(), hi.data(),
         centers.data(), radii.data(), int64_t(starts.shape(0)), int64_t(data.shape(1))};
  n_chunks = std::max<int64_t>(1, std::min(n_queries, n_chunks));
  auto run = [&](auto kind_tag, auto tree_tag) {
    return radius_all<decltype(kind_tag)::value, decltype(tree_tag)::value>(
        t, queries.data(), n_queries, n_levels, limit, p, shrink, n_chunks, n_threads,
        out_q.data(), out_i.data(), out_d.data(), capacity);
  };
  auto with_tree = [&](auto kind_tag) {
    if (tree_kind == TREE_KD) return run(kind_tag, std::integral_constant<int, TREE_KD>{});
    return run(kind_tag, std::integral_constant<int, TREE_BALL>{});
  };
  switch (kind) {
    case EUCLIDEAN: return with_tree(std::integral_constant<int, EUCLIDEAN>{});
    case MANHATTAN: return with_tree(std::integral_constant<int, MANHATTAN>{});
    case MINKOWSKI: return with_tree(std::integral_constant<int, MINKOWSKI>{});
    case CHEBYSHEV: return with_tree(std::integral_constant<int, CHEBYSHEV>{});
    case HAMMING: return with_tree(std::integral_constant<int, HAMMING>{});
    default: throw std::invalid_argument("tree_radius: unsupported metric code");
  }
}

// The bounds for one query row and one node, bound for the tests.
static double box_bound_py(int kind, Matrix<const double> Q, int64_t qi, Matrix<const double> LO,
                           Matrix<const double> HI, int64_t node, double p) {
  const int64_t d = Q.shape(1);
  if (qi < 0 || qi >= int64_t(Q.shape(0)) || node < 0 || node >= int64_t(LO.shape(0)) ||
      LO.shape(1) != Q.shape(1) || HI.shape(0) != LO.shape(0) || HI.shape(1) != LO.shape(1))
    throw std::invalid_argument("box_bound: row or node out of range, or shapes differ");
  return box_bound(kind, Q.data() + qi * d, LO.data() + node * d, HI.data() + node * d, d, p);
}

static double ball_bound_py(int kind, Matrix<const double> Q, int64_t qi,
                            Matrix<const double> centers, int64_t node, double radius, double p,
                            double shrink) {
  const int64_t d = Q.shape(1);
  if (qi < 0 || qi >= int64_t(Q.shape(0)) || node < 0 || node >= int64_t(centers.shape(0)) ||
      centers.shape(1) != Q.shape(1))
    throw std::invalid_argument("ball_bound: row or node out of range, or shapes differ");
  return ball_bound(kind, Q.data() + qi * d, centers.data() + node * d, d, radius, p, shrink);
}

}  // namespace knnv

NB_MODULE(_trees, m) {
  using namespace nb::literals;
  m.attr("TREE_KD") = int(knnv::TREE_KD);
  m.attr("TREE_BALL") = int(knnv::TREE_BALL);
  m.def("tree_query", &knnv::tree_query, "tree_kind"_a, "kind"_a, "queries"_a, "data"_a,
        "order"_a, "starts"_a, "ends"_a, "lo"_a, "hi"_a, "centers"_a, "radii"_a, "n_levels"_a,
        "k"_a, "p"_a, "shrink"_a, "slack"_a, "n_chunks"_a, "n_threads"_a, "best_d"_a,
        "best_i"_a, knnv::ReleaseGil());
  m.def("tree_radius", &knnv::tree_radius, "tree_kind"_a, "kind"_a, "queries"_a, "data"_a,
        "order"_a, "starts"_a, "ends"_a, "lo"_a, "hi"_a, "centers"_a, "radii"_a, "n_levels"_a,
        "limit"_a, "p"_a, "shrink"_a, "n_chunks"_a, "n_threads"_a, "out_q"_a.noconvert(),
        "out_i"_a.noconvert(), "out_d"_a.noconvert(), knnv::ReleaseGil());
  m.def("box_bound", &knnv::box_bound_py, knnv::ReleaseGil());
  m.def("ball_bound", &knnv::ball_bound_py, knnv::ReleaseGil());
}
