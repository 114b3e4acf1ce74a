// Compiled image distortion model kernels (knnvision.search.kernels.idm): Sobel gradients,
// gradient contexts, IDM distances and the parallel re-rank. Every sum is added in the order
// of the Python source (no reassociation, no fused multiply-add), so the distances equal the
// numba kernels' bit for bit.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "_common.hpp"

#define KNNV_INLINE inline __attribute__((always_inline))

namespace knnv {

constexpr double INF = std::numeric_limits<double>::infinity();

// Sobel derivatives of a flat height x width image (zeros outside), divided by 8.
template <class T>
KNNV_INLINE void sobel_into(const T* image, int64_t height, int64_t width, double* gy,
                            double* gx) {
  for (int64_t i = 0; i < height; ++i) {
    for (int64_t j = 0; j < width; ++j) {
      double total_y = 0.0, total_x = 0.0;
      for (int64_t a = -1; a < 2; ++a) {
        const int64_t ii = i + a;
        if (ii < 0 || ii >= height) continue;
        for (int64_t b = -1; b < 2; ++b) {
          const int64_t jj = j + b;
          if (jj < 0 || jj >= width) continue;
          const double value = double(image[ii * width + jj]);
          // Sobel weights: 1 2 1 across the derivative, -1 0 1 along it (exact integers).
          total_y += double(a * (2 - b * b)) * value;
          total_x += double(b * (2 - a * a)) * value;
        }
      }
      gy[i * width + j] = total_y / 8.0;
      gx[i * width + j] = total_x / 8.0;
    }
  }
}

// Gradient context of every pixel: out[(i, j), :] holds the (2 radius + 1)^2 vertical then
// horizontal Sobel values around pixel (i, j) (zeros outside), energy[i, j] their sum of
// squares. gy, gx are scratch of height * width values.
template <class T>
KNNV_INLINE void contexts_into(const T* image, int64_t height, int64_t width, int64_t radius,
                               double* gy, double* gx, double* out, double* energy) {
  sobel_into(image, height, width, gy, gx);
  const int64_t side = 2 * radius + 1, patch = side * side, n_values = 2 * patch;
  for (int64_t i = 0; i < height; ++i) {
    for (int64_t j = 0; j < width; ++j) {
      double* ctx = out + (i * width + j) * n_values;
      double total = 0.0;
      for (int64_t a = 0; a < side; ++a) {
        const int64_t ii = i + a - radius;
        for (int64_t b = 0; b < side; ++b) {
          const int64_t jj = j + b - radius;
          double vy = 0.0, vx = 0.0;
          if (0 <= ii && ii < height && 0 <= jj && jj < width) {
            vy = gy[ii * width + jj];
            vx = gx[ii * width + jj];
          }
          ctx[a * side + b] = vy;
          ctx[patch + a * side + b] = vx;
          total += vy * vy + vx * vx;
        }
      }
      energy[i * width + j] = total;
    }
  }
}

// IDM distance from two images' contexts, each query pixel's least cost times its entry of
// pixel_weights (non-negative; 1 leaves the bits as they are); stops (returning a value >
// limit) once the running total, checked after each image row, exceeds limit.
KNNV_INLINE double idm_from_contexts(const double* query_ctx, const double* query_energy,
                                     const double* ref_ctx, const double* ref_energy,
                                     const double* pixel_weights, int64_t height, int64_t width,
                                     int64_t n_values, int64_t warp, double limit) {
  double total = 0.0;
  for (int64_t i = 0; i < height; ++i) {
    const int64_t i_lo = std::max<int64_t>(0, i - warp), i_hi = std::min(height, i + warp + 1);
    for (int64_t j = 0; j < width; ++j) {
      const int64_t j_lo = std::max<int64_t>(0, j - warp), j_hi = std::min(width, j + warp + 1);
      double best = INF;
      if (query_energy[i * width + j] == 0.0) {
        // All-zero context: the cost of a match is the reference context's energy.
        for (int64_t ii = i_lo; ii < i_hi; ++ii)
          for (int64_t jj = j_lo; jj < j_hi; ++jj)
            if (ref_energy[ii * width + jj] < best) best = ref_energy[ii * width + jj];
      } else {
        const double* q = query_ctx + (i * width + j) * n_values;
        for (int64_t ii = i_lo; ii < i_hi; ++ii) {
          for (int64_t jj = j_lo; jj < j_hi; ++jj) {
            // No early exit inside the sum: the branch-free loop vectorises (the additions
            // stay in order).
            const double* r = ref_ctx + (ii * width + jj) * n_values;
            double cost = 0.0;
            for (int64_t v = 0; v < n_values; ++v) {
              const double diff = q[v] - r[v];
              cost += diff * diff;
            }
            if (cost < best) best = cost;
          }
        }
      }
      total += pixel_weights[i * width + j] * best;
    }
    if (total > limit) return total;
  }
  return total;
}

// Scratch of one comparison: Sobel derivatives (reused per image), both images' contexts and
// energies.
struct IdmBuffers {
  std::vector<double> gy, gx, query_ctx, ref_ctx, query_energy, ref_energy;
  IdmBuffers(int64_t height, int64_t width, int64_t n_values)
      : gy(height * width), gx(height * width), query_ctx(height * width * n_values),
        ref_ctx(height * width * n_values), query_energy(height * width),
        ref_energy(height * width) {}
};

inline int64_t context_values(int64_t context) {
  const int64_t side = 2 * context + 1;
  return 2 * side * side;
}

// The re-rank of one block of queries (see idm.idm_rerank). One code path for every CPU: the
// hot loop is an in-order sum (bit-identical to numba's), which the compiler vectorises with
// 2-wide vectors on every target; AVX2 / AVX-512 builds of it measured no faster.
template <class TQ, class TT>
static void rerank_impl(const TQ* queries, const TT* train, const int64_t* candidates,
                        const double* pixel_weights, int64_t n_queries, int64_t n_candidates,
                        int64_t height, int64_t width, int64_t warp, int64_t context,
                        int64_t k_keep, double* result, int n_threads) {
  const int64_t pixels = height * width, n_values = context_values(context);
#pragma omp parallel num_threads(n_threads)
  {
    // Per thread: queries must not share scratch.
    IdmBuffers buf(height, width, n_values);
    std::vector<double> kept(k_keep);  // the k_keep smallest complete distances, ascending
#pragma omp for schedule(dynamic)
    for (int64_t q = 0; q < n_queries; ++q) {
      std::fill(kept.begin(), kept.end(), INF);
      contexts_into(queries + q * pixels, height, width, context, buf.gy.data(), buf.gx.data(),
                    buf.query_ctx.data(), buf.query_energy.data());
      for (int64_t c = 0; c < n_candidates; ++c) {
        const int64_t j = candidates[q * n_candidates + c];
        contexts_into(train + j * pixels, height, width, context, buf.gy.data(), buf.gx.data(),
                      buf.ref_ctx.data(), buf.ref_energy.data());
        const double limit = kept[k_keep - 1];
        const double distance =
            idm_from_contexts(buf.query_ctx.data(), buf.query_energy.data(), buf.ref_ctx.data(),
                              buf.ref_energy.data(), pixel_weights, height, width, n_values,
                              warp, limit);
        if (distance > limit) {
          result[q * n_candidates + c] = INF;
          continue;
        }
        result[q * n_candidates + c] = distance;
        int64_t position = k_keep - 1;
        while (position > 0 && kept[position - 1] > distance) {
          kept[position] = kept[position - 1];
          --position;
        }
        kept[position] = distance;
      }
    }
  }
}

static void check_geometry(int64_t height, int64_t width, int64_t warp, int64_t context) {
  if (height < 0 || width < 0 || warp < 0 || context < 0)
    throw std::invalid_argument("height, width, warp and context must be >= 0");
}

template <class TQ, class TT>
static void idm_rerank(Matrix<const TQ> queries, Matrix<const TT> train,
                       Matrix<const int64_t> candidates, int64_t height, int64_t width,
                       int64_t warp, int64_t context, int64_t k_keep,
                       Vector<const double> pixel_weights, Matrix<double> result,
                       int n_threads) {
  check_geometry(height, width, warp, context);
  const int64_t n_queries = candidates.shape(0), n_candidates = candidates.shape(1);
  if (k_keep < 1) throw std::invalid_argument("k_keep must be >= 1");
  if (queries.shape(0) != size_t(n_queries) || queries.shape(1) != size_t(height * width) ||
      train.shape(1) != size_t(height * width) || result.shape(0) != size_t(n_queries) ||
      result.shape(1) != size_t(n_candidates))
    throw std::invalid_argument("idm_rerank: inconsistent shapes");
  if (pixel_weights.shape(0) != size_t(height * width))
    throw std::invalid_argument("idm_rerank: pixel_weights must hold height * width values");
  const int64_t n_train = train.shape(0);
  const int64_t* cand = candidates.data();
  for (int64_t e = 0; e < n_queries * n_candidates; ++e)
    if (cand[e] < 0 || cand[e] >= n_train)
      throw std::out_of_range("idm_rerank: a candidate index is outside the training rows");
  rerank_impl(queries.data(), train.data(), cand, pixel_weights.data(), n_queries, n_candidates,
              height, width, warp, context, k_keep, result.data(), n_threads);
}

template <class TA, class TB>
static double idm_distance(Vector<const TA> query, Vector<const TB> reference, int64_t height,
                           int64_t width, int64_t warp, int64_t context) {
  check_geometry(height, width, warp, context);
  if (query.shape(0) != size_t(height * width) || reference.shape(0) != size_t(height * width))
    throw std::invalid_argument("idm_distance: the images must hold height * width values");
  const int64_t n_values = context_values(context);
  IdmBuffers buf(height, width, n_values);
  contexts_into(query.data(), height, width, context, buf.gy.data(), buf.gx.data(),
                buf.query_ctx.data(), buf.query_energy.data());
  contexts_into(reference.data(), height, width, context, buf.gy.data(), buf.gx.data(),
                buf.ref_ctx.data(), buf.ref_energy.data());
  const std::vector<double> unweighted(height * width, 1.0);
  return idm_from_contexts(buf.query_ctx.data(), buf.query_energy.data(), buf.ref_ctx.data(),
                           buf.ref_energy.data(), unweighted.data(), height, width, n_values,
                           warp, INF);
}

template <class T>
static void context_features(Vector<const T> image, int64_t height, int64_t width,
                             int64_t radius, nb::ndarray<double, nb::ndim<3>, nb::c_contig,
                                                         nb::device::cpu> out) {
  check_geometry(height, width, 0, radius);
  if (image.shape(0) != size_t(height * width) || out.shape(0) != size_t(height) ||
      out.shape(1) != size_t(width) || out.shape(2) != size_t(context_values(radius)))
    throw std::invalid_argument("context_features: inconsistent shapes");
  std::vector<double> gy(height * width), gx(height * width), energy(height * width);
  contexts_into(image.data(), height, width, radius, gy.data(), gx.data(), out.data(),
                energy.data());
}

// IDM on grids of feature blocks (see idm.grid_idm_pairs). Pair p compares the query grid
// query_rows[p] with the reference grid ref_rows[p]: every block of the query, in row-major
// order, is matched to the reference block within `warp` blocks (inside the grid) whose
// features differ least in squared Euclidean distance (float64); the distance is the sum of
// those least differences, each times its block's weight, added in row-major order.

// The squared difference of two blocks of n features, summed in NumPy's pairwise order for
// a run of 8 to 128 terms: 8 interleaved accumulators, ((r0 + r1) + (r2 + r3)) + ((r4 + r5) +
// (r6 + r7)), then the tail in order (fewer than 8 terms: in order from 0). That equals the
// twin's ((query - ref) ** 2).sum(axis=-1) bit for bit for blocks of up to 128 features, and
// the independent accumulators let the compiler use vector registers on every path with the
// same bits (no fused multiply-add, no reassociation).
template <class T>
KNNV_INLINE double block_cost(const T* a, const T* b, int64_t n) {
  if (n < 8) {
    double total = 0.0;
    for (int64_t f = 0; f < n; ++f) {
      const double d = double(a[f]) - double(b[f]);
      total += d * d;
    }
    return total;
  }
  double r[8];
  for (int l = 0; l < 8; ++l) {
    const double d = double(a[l]) - double(b[l]);
    r[l] = d * d;
  }
  int64_t f = 8;
  for (; f + 8 <= n; f += 8) {
    for (int l = 0; l < 8; ++l) {
      const double d = double(a[f + l]) - double(b[f + l]);
      r[l] += d * d;
    }
  }
  double total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (; f < n; ++f) {
    const double d = double(a[f]) - double(b[f]);
    total += d * d;
  }
  return total;
}

template <class T>
KNNV_INLINE double grid_idm_one(const T* query, const T* ref, const double* weights,
                                int64_t blocks_y, int64_t blocks_x, int64_t warp,
                                int64_t n_features) {
  double total = 0.0;
  for (int64_t y = 0; y < blocks_y; ++y) {
    for (int64_t x = 0; x < blocks_x; ++x) {
      const T* block = query + (y * blocks_x + x) * n_features;
      double best = INF;
      for (int64_t yy = std::max<int64_t>(y - warp, 0); yy <= std::min(y + warp, blocks_y - 1);
           ++yy) {
        for (int64_t xx = std::max<int64_t>(x - warp, 0); xx <= std::min(x + warp, blocks_x - 1);
             ++xx) {
          const T* other = ref + (yy * blocks_x + xx) * n_features;
          best = std::min(best, block_cost(block, other, n_features));
        }
      }
      total += weights[y * blocks_x + x] * best;
    }
  }
  return total;
}

// One function per code path, the same source: the AVX2 one lets the compiler hold the eight
// accumulators in two 256-bit registers; the bits are the baseline's.
template <class T>
static void grid_idm_range(const T* queries, const T* refs, const double* weights,
                           const int64_t* qrow, const int64_t* rrow, int64_t begin, int64_t end,
                           int64_t n_values, int64_t blocks_y, int64_t blocks_x, int64_t warp,
                           int64_t n_features, double* out) {
  for (int64_t p = begin; p < end; ++p)
    out[p] = grid_idm_one(queries + qrow[p] * n_values, refs + rrow[p] * n_values, weights,
                          blocks_y, blocks_x, warp, n_features);
}

#if defined(__x86_64__)
template <class T>
__attribute__((target("avx2"))) static void grid_idm_range_avx2(
    const T* queries, const T* refs, const double* weights, const int64_t* qrow,
    const int64_t* rrow, int64_t begin, int64_t end, int64_t n_values, int64_t blocks_y,
    int64_t blocks_x, int64_t warp, int64_t n_features, double* out) {
  for (int64_t p = begin; p < end; ++p)
    out[p] = grid_idm_one(queries + qrow[p] * n_values, refs + rrow[p] * n_values, weights,
                          blocks_y, blocks_x, warp, n_features);
}
#endif

template <class T>
static void grid_idm_pairs(Matrix<const T> query_grids, Matrix<const T> ref_grids,
                           Vector<const int64_t> query_rows, Vector<const int64_t> ref_rows,
                           int64_t blocks_y, int64_t blocks_x, int64_t warp,
                           Vector<const double> block_weights, Vector<double> result,
                           int n_threads) {
  if (blocks_y < 1 || blocks_x < 1 || warp < 0)
    throw std::invalid_argument("grid_idm_pairs: blocks must be >= 1 and warp >= 0");
  const int64_t n_pairs = query_rows.shape(0), n_values = query_grids.shape(1);
  if (n_values % (blocks_y * blocks_x) != 0 || ref_grids.shape(1) != size_t(n_values) ||
      ref_rows.shape(0) != size_t(n_pairs) || result.shape(0) != size_t(n_pairs) ||
      block_weights.shape(0) != size_t(blocks_y * blocks_x))
    throw std::invalid_argument("grid_idm_pairs: inconsistent shapes");
  const int64_t n_features = n_values / (blocks_y * blocks_x);
  const int64_t n_queries = query_grids.shape(0), n_refs = ref_grids.shape(0);
  const int64_t *qrow = query_rows.data(), *rrow = ref_rows.data();
  for (int64_t p = 0; p < n_pairs; ++p)
    if (qrow[p] < 0 || qrow[p] >= n_queries || rrow[p] < 0 || rrow[p] >= n_refs)
      throw std::out_of_range("grid_idm_pairs: a row index is outside its grids");
  const T *queries = query_grids.data(), *refs = ref_grids.data();
  const double* weights = block_weights.data();
  double* out = result.data();
  const bool avx2 = cpu_level() != Cpu::baseline;
  constexpr int64_t kSpan = 64;  // pairs per scheduled piece
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
  for (int64_t begin = 0; begin < n_pairs; begin += kSpan) {
    const int64_t end = std::min(begin + kSpan, n_pairs);
#if defined(__x86_64__)
    if (avx2) {
      grid_idm_range_avx2(queries, refs, weights, qrow, rrow, begin, end, n_values, blocks_y,
                          blocks_x, warp, n_features, out);
      continue;
    }
#endif
    grid_idm_range(queries, refs, weights, qrow, rrow, begin, end, n_values, blocks_y, blocks_x,
                   warp, n_features, out);
  }
}

}  // namespace knnv

NB_MODULE(_idm, m) {
  using namespace nb::literals;
  // .noconvert() on the images: the overload is chosen by dtype, and nanobind would otherwise
  // convert to the first overload's; on the output: a copy would be filled instead. The Python
  // module passes exactly these dtypes.
#define KNNV_PAIR(TA, TB)                                                                     \
  m.def("idm_rerank", &knnv::idm_rerank<TA, TB>, "queries"_a.noconvert(),                     \
        "train"_a.noconvert(), "candidates"_a, "height"_a, "width"_a, "warp"_a, "context"_a,  \
        "k_keep"_a, "pixel_weights"_a, "result"_a.noconvert(), "n_threads"_a,                 \
        knnv::ReleaseGil());                                                                  \
  m.def("idm_distance", &knnv::idm_distance<TA, TB>, "query"_a.noconvert(),                   \
        "reference"_a.noconvert(), "height"_a, "width"_a, "warp"_a, "context"_a,              \
        knnv::ReleaseGil())
#define KNNV_ROW(TA) KNNV_PAIR(TA, uint8_t); KNNV_PAIR(TA, float); KNNV_PAIR(TA, double)
  KNNV_ROW(uint8_t);
  KNNV_ROW(float);
  KNNV_ROW(double);
#undef KNNV_ROW
#undef KNNV_PAIR
#define KNNV_CONTEXTS(T)                                                                      \
  m.def("context_features", &knnv::context_features<T>, "image"_a.noconvert(), "height"_a,    \
        "width"_a, "radius"_a, "out"_a.noconvert(), knnv::ReleaseGil())
  KNNV_CONTEXTS(uint8_t);
  KNNV_CONTEXTS(float);
  KNNV_CONTEXTS(double);
#undef KNNV_CONTEXTS
#define KNNV_GRID(T)                                                                          \
  m.def("grid_idm_pairs", &knnv::grid_idm_pairs<T>, "query_grids"_a.noconvert(),              \
        "ref_grids"_a.noconvert(), "query_rows"_a, "ref_rows"_a, "blocks_y"_a, "blocks_x"_a,  \
        "warp"_a, "block_weights"_a, "result"_a.noconvert(), "n_threads"_a, knnv::ReleaseGil())
  KNNV_GRID(float);
  KNNV_GRID(double);
#undef KNNV_GRID
}
