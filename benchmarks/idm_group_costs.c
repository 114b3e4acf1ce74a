/* Benchmark-only kernel (issue 17, fashion_screen_joint_weights.py): the preset's pixel IDM
 * (contexts from idm_context.h, each query pixel takes its cheapest displacement within
 * +-warp inside the candidate), but returning the least costs summed over square groups of
 * `group` x `group` query pixels (float32, groups_y * groups_x per pair, row-major) instead
 * of their total, so that a screen can weight parts of the image. One thread; no early
 * abandoning (every candidate is measured in full).
 * Build: gcc -O3 -march=native -shared -fPIC -o lib.so idm_group_costs.c -lm */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "idm_context.h"

/* queries (n_queries x h*w) and train (n_train x h*w) are float64 images; cand holds
 * n_candidates training rows per query; out is (n_queries, n_candidates, groups). Returns 0,
 * or 1 when memory ran out. */
int idm_group_costs(const double* queries, const double* train, const int64_t* cand,
                    int64_t n_queries, int64_t n_candidates, int64_t h, int64_t w, int64_t warp,
                    int64_t group, float* out) {
  const int64_t pixels = h * w;
  const int64_t groups_y = (h + group - 1) / group, groups_x = (w + group - 1) / group;
  const int64_t n_groups = groups_y * groups_x;
  double* query_context = malloc(sizeof(double) * pixels * NF);
  double* ref_context = malloc(sizeof(double) * pixels * NF);
  double* sums = malloc(sizeof(double) * n_groups);
  if (!query_context || !ref_context || !sums) {
    free(query_context);
    free(ref_context);
    free(sums);
    return 1;
  }
  for (int64_t q = 0; q < n_queries; ++q) {
    idm_contexts(queries + q * pixels, (int)h, (int)w, query_context);
    for (int64_t c = 0; c < n_candidates; ++c) {
      idm_contexts(train + cand[q * n_candidates + c] * pixels, (int)h, (int)w, ref_context);
      for (int64_t g = 0; g < n_groups; ++g) sums[g] = 0.0;
      for (int64_t i = 0; i < h; ++i) {
        for (int64_t j = 0; j < w; ++j) {
          const double* a = query_context + (i * w + j) * NF;
          double best = INFINITY;
          for (int64_t r = i - warp; r <= i + warp; ++r) {
            if (r < 0 || r >= h) continue;
            for (int64_t s = j - warp; s <= j + warp; ++s) {
              if (s < 0 || s >= w) continue;
              const double* b = ref_context + (r * w + s) * NF;
              double cost = 0.0;
              for (int f = 0; f < NF; ++f) {
                const double d = a[f] - b[f];
                cost += d * d;
              }
              if (cost < best) best = cost;
            }
          }
          sums[(i / group) * groups_x + j / group] += best;
        }
      }
      float* row = out + (q * n_candidates + c) * n_groups;
      for (int64_t g = 0; g < n_groups; ++g) row[g] = (float)sums[g];
    }
  }
  free(query_context);
  free(ref_context);
  free(sums);
  return 0;
}
