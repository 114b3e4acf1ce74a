// Compiled Manhattan and Minkowski estimates (knnvision.search.kernels.lp_estimate).
//
// The sums are estimates, re-checked exactly by the caller, so they need not follow NumPy's
// order; they must only stay within lp_estimate.lp_estimate_rel_error of the exact sum, which
// holds for any order of adding non-negative terms. numba got its speed from letting LLVM
// reassociate; -ffp-contract=off and no -ffast-math forbid that here, so the reassociation is
// written out: each run of at most 128 features is summed in 2 x 64 bytes of independent lanes
// (GCC vector extensions; widening loads by intrinsics on x86), then the lanes are added in a
// fixed tree. The order is the same on
// every code path (the lanes are the same whether the CPU holds them in xmm, ymm or zmm
// registers), so every path gives identical bits.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "_common.hpp"
#include "lp.hpp"  // the metric codes
#include "topk.hpp"

// The 64-byte vector types are internal to always-inlined code; the ABI note is moot.
#pragma GCC diagnostic ignored "-Wpsabi"

#define KNNV_INLINE inline __attribute__((always_inline))

namespace knnv {

namespace {

// Features per step between two checks of the early exit (as the numba kernel).
constexpr int64_t LP_CHUNK = 128;

// 64 bytes of lanes of S (16 floats or 8 doubles). The vector types are declared inside a
// class: GCC drops vector_size from a dependent alias template.
template <class X, int N>
struct VecOf {
  typedef X type __attribute__((vector_size(N * sizeof(X))));
};
template <class S>
constexpr int LANES = 64 / sizeof(S);
template <class S>
using Vec = typename VecOf<S, LANES<S>>::type;

// LANES<S> elements of X from p (unaligned), converted to S exactly (uint8 and float32 widen
// without rounding). The generic form serves the baseline path (and other architectures);
// GCC lowers its widening conversions lane by lane, so the x86 paths widen with intrinsics.
// Those are not always_inline: GCC refuses to force a target function into the (default
// target) chunk_sum; the task wrappers below are `flatten`, which inlines them there.
template <Cpu P, class S, class X>
struct Loader {
  static KNNV_INLINE Vec<S> load(const X* p) {
    typename VecOf<X, LANES<S>>::type v;
    std::memcpy(&v, p, sizeof(v));
    if constexpr (std::is_same_v<S, X>)
      return v;
    else
      return __builtin_convertvector(v, Vec<S>);
  }
};

template <class S, class R>
KNNV_INLINE Vec<S> as_vec(const R* parts) {  // the registers parts[...] as one Vec<S>
  Vec<S> v;
  std::memcpy(&v, parts, sizeof(v));
  return v;
}

#if defined(__x86_64__) || defined(_M_X64)
#define KNNV_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define KNNV_AVX2 __attribute__((target("avx2")))

template <>
struct Loader<Cpu::avx512, float, uint8_t> {
  KNNV_AVX512 static Vec<float> load(const uint8_t* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
    return as_vec<float>(&v);
  }
};
template <>
struct Loader<Cpu::avx512, double, float> {
  KNNV_AVX512 static Vec<double> load(const float* p) {
    const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(p));
    return as_vec<double>(&v);
  }
};
template <>
struct Loader<Cpu::avx512, double, uint8_t> {
  KNNV_AVX512 static Vec<double> load(const uint8_t* p) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    const __m512d v = _mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(bytes));
    return as_vec<double>(&v);
  }
};

template <>
struct Loader<Cpu::avx2, float, uint8_t> {
  KNNV_AVX2 static Vec<float> load(const uint8_t* p) {
    __m256 v[2];
    for (int h = 0; h < 2; ++h) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * h));
      v[h] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    }
    return as_vec<float>(v);
  }
};
template <>
struct Loader<Cpu::avx2, double, float> {
  KNNV_AVX2 static Vec<double> load(const float* p) {
    const __m256d v[2] = {_mm256_cvtps_pd(_mm_loadu_ps(p)), _mm256_cvtps_pd(_mm_loadu_ps(p + 4))};
    return as_vec<double>(v);
  }
};
template <>
struct Loader<Cpu::avx2, double, uint8_t> {
  KNNV_AVX2 static Vec<double> load(const uint8_t* p) {
    __m256d v[2];
    for (int h = 0; h < 2; ++h) {
      int32_t four;
      std::memcpy(&four, p + 4 * h, sizeof(four));
      v[h] = _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(four)));
    }
    return as_vec<double>(v);
  }
};
#endif

template <Cpu P, class S, class X>
KNNV_INLINE Vec<S> load(const X* p) {
  return Loader<P, S, X>::load(p);
}

// |x| by clearing the sign bit, which is what fabs does.
template <class V>
KNNV_INLINE V vabs(V x) {
  using S = std::remove_cv_t<std::remove_reference_t<decltype(x[0])>>;
  using Bits = std::conditional_t<sizeof(S) == 4, uint32_t, uint64_t>;
  using VBits = typename VecOf<Bits, LANES<S>>::type;
  const VBits magnitude = VBits{} + (~Bits(0) >> 1);  // every bit but the sign
  return (V)((VBits)(x) & magnitude);
}

// The terms |x - y|^p; each is rounded as lp_estimate_rel_error assumes (one rounding for the
// difference, then the products or pow). S is the type the terms are summed in.
struct AbsTerm {
  template <class V>
  KNNV_INLINE V vec(V x, V y) const { return vabs(x - y); }
};
struct CubeTerm {
  template <class V>
  KNNV_INLINE V vec(V x, V y) const {
    const V t = vabs(x - y);
    return t * t * t;
  }
};
struct FourthTerm {
  template <class V>
  KNNV_INLINE V vec(V x, V y) const {
    const V t = vabs(x - y);
    const V t2 = t * t;
    return t2 * t2;
  }
};
struct PowTerm {
  double p;
  template <class V>
  KNNV_INLINE V vec(V x, V y) const {
    V t = vabs(x - y);
    for (int u = 0; u < LANES<double>; ++u) t[u] = std::pow(t[u], p);
    return t;
  }
};

// The lanes of v added in halves (lane u with lane u + L/2, and so on down to one).
template <class S, int N>
KNNV_INLINE S sum_lanes(typename VecOf<S, N>::type v) {
  if constexpr (N == 1) {
    return v[0];
  } else {
    typename VecOf<S, N / 2>::type lo, hi;
    std::memcpy(&lo, &v, sizeof(lo));
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(lo), sizeof(hi));
    return sum_lanes<S, N / 2>(lo + hi);
  }
}

// v with its first `skip` lanes set to +0 (by their bits).
template <class S>
KNNV_INLINE Vec<S> without_first(Vec<S> v, int skip) {
  using I = std::conditional_t<sizeof(S) == 4, int32_t, int64_t>;
  using Bits = typename VecOf<I, LANES<S>>::type;
  Bits lane;
  for (int u = 0; u < LANES<S>; ++u) lane[u] = u;
  Bits bits;
  std::memcpy(&bits, &v, sizeof v);
  bits &= lane >= (Bits{} + I(skip));  // all ones where kept
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Sum of the terms over n <= lead + LP_CHUNK features of a and b, from feature `lead` on
// (the features before it may be read, never summed), in S: two vectors of lanes, then the
// lanes added in halves. A last partial vector is the vector that ends at the last feature
// with the lanes already summed set to +0, so no short copy is made (a copy through the
// stack cost 5x on 12 features); with fewer features than a vector behind it, the partial
// vector is copied, zero-padded (a term of two zeros is +0 for every p > 0, the only p a
// Metric takes, and adding +0 leaves a lane as it was).
template <Cpu P, class S, class Term, class Q, class T>
KNNV_INLINE S chunk_sum(const Q* a, const T* b, int64_t lead, int64_t n, const Term& term) {
  constexpr int L = LANES<S>;
  Vec<S> acc0 = {}, acc1 = {};
  int64_t f = lead;
  for (; f + 2 * L <= n; f += 2 * L) {
    acc0 += term.vec(load<P, S>(a + f), load<P, S>(b + f));
    acc1 += term.vec(load<P, S>(a + f + L), load<P, S>(b + f + L));
  }
  if (f + L <= n) {
    acc0 += term.vec(load<P, S>(a + f), load<P, S>(b + f));
    f += L;
  }
  if (f < n && n >= L) {
    const Vec<S> last = term.vec(load<P, S>(a + n - L), load<P, S>(b + n - L));
    acc1 += without_first<S>(last, int(L - (n - f)));
  } else if (f < n) {
    Q a_tail[L] = {};
    T b_tail[L] = {};
    std::memcpy(a_tail, a + f, (n - f) * sizeof(Q));
    std::memcpy(b_tail, b + f, (n - f) * sizeof(T));
    acc1 += term.vec(load<P, S>(a_tail), load<P, S>(b_tail));
  }
  return sum_lanes<S, L>(acc0 + acc1);
}

// sum |a - b|^p over d features, or any value >= worst as soon as the running sum reaches it
// (the terms are non-negative, so the sum can only grow).
template <Cpu P, class S, class Term, class Q, class T>
KNNV_INLINE double lp_estimate(const Q* a, const T* b, int64_t d, const Term& term,
                               double worst) {
  double acc = 0.0;
  for (int64_t lo = 0; lo < d; lo += LP_CHUNK) {
    acc += double(chunk_sum<P, S>(a, b, lo, std::min(lo + LP_CHUNK, d), term));
    if (acc >= worst) return acc;
  }
  return acc;
}

// One task: queries [q0, q1) against training rows [t_lo, t_hi), tile by tile; query i's list
// is row offset + i of part_d / part_i.
struct Task {
  int64_t q0, q1, t_lo, t_hi, t_block, offset;
};

template <Cpu P, class S, class Term, class Q, class T>
KNNV_INLINE void task_body(const Q* queries, const T* train, int64_t d, const Task& t,
                           double* part_d, int64_t* part_i, int64_t k, const Term& term) {
  const int64_t last = k - 1;
  for (int64_t t0 = t.t_lo; t0 < t.t_hi; t0 += t.t_block) {
    const int64_t t1 = std::min(t0 + t.t_block, t.t_hi);
    for (int64_t i = t.q0; i < t.q1; ++i) {
      double* row_d = part_d + (t.offset + i) * k;
      int64_t* row_i = part_i + (t.offset + i) * k;
      const Q* a = queries + i * d;
      for (int64_t j = t0; j < t1; ++j) {
        const double dist = lp_estimate<P, S>(a, train + j * d, d, term, row_d[last]);
        if (dist < row_d[last]) topk_push(row_d, row_i, k, dist, j);
      }
    }
  }
}

// The same body compiled for each code path: only the instructions differ, not the order.
template <class S, class Term, class Q, class T>
void task_baseline(const Q* queries, const T* train, int64_t d, const Task& t,
                   double* part_d, int64_t* part_i, int64_t k, const Term& term) {
  task_body<Cpu::baseline, S>(queries, train, d, t, part_d, part_i, k, term);
}

#if defined(__x86_64__) || defined(_M_X64)
template <class S, class Term, class Q, class T>
KNNV_AVX512 __attribute__((flatten)) void task_avx512(const Q* queries, const T* train,
                                                      int64_t d, const Task& t, double* part_d,
                                                      int64_t* part_i, int64_t k,
                                                      const Term& term) {
  task_body<Cpu::avx512, S>(queries, train, d, t, part_d, part_i, k, term);
}

template <class S, class Term, class Q, class T>
KNNV_AVX2 __attribute__((flatten)) void task_avx2(const Q* queries, const T* train, int64_t d,
                                                  const Task& t, double* part_d,
                                                  int64_t* part_i, int64_t k,
                                                  const Term& term) {
  task_body<Cpu::avx2, S>(queries, train, d, t, part_d, part_i, k, term);
}
#endif

template <class S, class Term, class Q, class T>
void run_tasks(const Q* queries, int64_t n_queries, const T* train, int64_t n_train,
               int64_t d, int64_t q_block, int64_t t_block, int64_t n_parts, double* part_d,
               int64_t* part_i, int64_t k, const Term& term, int n_threads) {
  const int64_t n_blocks = (n_queries + q_block - 1) / q_block;
  const int64_t step = (n_train + n_parts - 1) / n_parts;
  const Cpu level = cpu_level();
#pragma omp parallel for num_threads(n_threads) schedule(dynamic)
  for (int64_t task = 0; task < n_blocks * n_parts; ++task) {
    const int64_t block = task / n_parts, part = task % n_parts;
    Task t;
    t.q0 = block * q_block;
    t.q1 = std::min(t.q0 + q_block, n_queries);
    t.t_lo = part * step;
    t.t_hi = std::min(n_train, (part + 1) * step);
    t.t_block = t_block;
    t.offset = part * n_queries;
#if defined(__x86_64__) || defined(_M_X64)
    if (level == Cpu::avx512) {
      task_avx512<S>(queries, train, d, t, part_d, part_i, k, term);
      continue;
    }
    if (level == Cpu::avx2) {
      task_avx2<S>(queries, train, d, t, part_d, part_i, k, term);
      continue;
    }
#endif
    task_baseline<S>(queries, train, d, t, part_d, part_i, k, term);
  }
}

// The k smallest Manhattan (kind = KIND_MANHATTAN) or Minkowski-p estimates. part_d / part_i
// hold n_parts * n_queries empty lists (inf, int64 max): one per query and range of training
// rows. With n_parts > 1 they are merged, part by part, into best_d / best_i (empty lists
// too); with one part the answer is part_d / part_i and best_* are left alone (the caller may
// pass the same arrays). Manhattan sums run in the rows' common type (float32 for float32
// queries against float32 or uint8 rows, as numba did), Minkowski sums in float64.
template <class Q, class T>
void lp_estimate_topk(int kind, Matrix<const Q> queries, Matrix<const T> train, double p,
                      int64_t q_block, int64_t t_block, int64_t n_parts, Matrix<double> part_d,
                      Matrix<int64_t> part_i, Matrix<double> best_d, Matrix<int64_t> best_i,
                      int n_threads) {
  const int64_t n_queries = queries.shape(0), n_train = train.shape(0), d = queries.shape(1);
  const int64_t k = part_d.shape(1);
  if (train.shape(1) != d) throw std::invalid_argument("rows of different lengths");
  if (q_block < 1 || t_block < 1 || n_parts < 1)
    throw std::invalid_argument("q_block, t_block and n_parts must be positive");
  if (part_d.shape(0) != n_parts * n_queries || part_i.shape(0) != part_d.shape(0) ||
      part_i.shape(1) != k)
    throw std::invalid_argument("part lists of the wrong shape");
  if (n_parts > 1 && (best_d.shape(0) != n_queries || best_i.shape(0) != n_queries ||
                      best_d.shape(1) != k || best_i.shape(1) != k))
    throw std::invalid_argument("top-k lists of the wrong shape");
  if (k < 1 || n_queries == 0) return;
  const Q* q = queries.data();
  const T* t = train.data();
  double* pd = part_d.data();
  int64_t* pi = part_i.data();
  auto run = [&](auto sum_type, const auto& term) {
    using S = decltype(sum_type);
    run_tasks<S>(q, n_queries, t, n_train, d, q_block, t_block, n_parts, pd, pi, k, term,
                 n_threads);
  };
  if (kind == MANHATTAN)
    run(std::common_type_t<Q, T>{}, AbsTerm{});
  else if (p == 3.0)
    run(double{}, CubeTerm{});
  else if (p == 4.0)
    run(double{}, FourthTerm{});
  else
    run(double{}, PowTerm{p});
  if (n_parts == 1) return;
  for (int64_t part = 0; part < n_parts; ++part) {
    for (int64_t r = 0; r < n_queries; ++r) {
      const double* od = pd + (part * n_queries + r) * k;
      const int64_t* oi = pi + (part * n_queries + r) * k;
      double* bd = best_d.data() + r * k;
      int64_t* bi = best_i.data() + r * k;
      // The part's list is sorted: nothing after a rejected entry can enter either.
      for (int64_t c = 0; c < k; ++c)
        if (!topk_push(bd, bi, k, od[c], oi[c])) break;
    }
  }
}

}  // namespace

}  // namespace knnv

NB_MODULE(_lp_estimate, m) {
  using namespace knnv;
  // The (query, training) dtype pairs the brute force passes: float32 queries against float32
  // or uint8 rows (float32 Manhattan sums), float64 queries against any rows.
  m.def("lp_estimate_topk", &lp_estimate_topk<float, float>, ReleaseGil());
  m.def("lp_estimate_topk", &lp_estimate_topk<float, uint8_t>, ReleaseGil());
  m.def("lp_estimate_topk", &lp_estimate_topk<double, double>, ReleaseGil());
  m.def("lp_estimate_topk", &lp_estimate_topk<double, float>, ReleaseGil());
  m.def("lp_estimate_topk", &lp_estimate_topk<double, uint8_t>, ReleaseGil());
}
