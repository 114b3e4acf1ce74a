/* IDM variants for benchmarks/mnist_idm_variants.py (issue 17, round 4).
 *
 * Squared IDM (context radius 1: 3 x 3 patches of vertical then horizontal Sobel values / 8,
 * zeros outside the image) with a displacement penalty: each pixel of image A costs
 *     min over |di|, |dj| <= warp (inside the image) of  |ctxA(p) - ctxB(p + d)|^2 + lam |d|^2
 * and the distance is the sum over A's pixels. Every pair is measured both ways (query -> train
 * = forward, train -> query = reverse) for all n_lam penalties at once; lam = 0 is plain IDM.
 * Single-threaded. Build: gcc -O3 -march=native -shared -fPIC -o lib.so mnist_idm_variants.c
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "idm_context.h"

#define MAX_LAM 16

/* One direction: A's pixels matched into B. out[l] = distance for lams[l]. */
static void one_way(const double *A, const double *B, int h, int w, int warp, const double *lams,
                    int n_lam, double *out)
{
    double total[MAX_LAM] = {0};
    for (int i = 0; i < h; i++) {
        for (int j = 0; j < w; j++) {
            const double *a = A + (size_t)(i * w + j) * NF;
            double best[MAX_LAM];
            for (int l = 0; l < n_lam; l++) best[l] = INFINITY;
            for (int di = -warp; di <= warp; di++) {
                int r = i + di;
                if (r < 0 || r >= h) continue;
                for (int dj = -warp; dj <= warp; dj++) {
                    int c = j + dj;
                    if (c < 0 || c >= w) continue;
                    const double *b = B + (size_t)(r * w + c) * NF;
                    double cost = 0.0;
                    for (int f = 0; f < NF; f++) {
                        double d = a[f] - b[f];
                        cost += d * d;
                    }
                    double disp = (double)(di * di + dj * dj);
                    for (int l = 0; l < n_lam; l++) {
                        double v = cost + lams[l] * disp;
                        if (v < best[l]) best[l] = v;
                    }
                }
            }
            for (int l = 0; l < n_lam; l++) total[l] += best[l];
        }
    }
    for (int l = 0; l < n_lam; l++) out[l] = total[l];
}

/* Forward and reverse distances of each query to its candidates.
 * queries (nq, h*w), train (nt, h*w) float64; cand (nq, nc) int64;
 * fwd, rev (nq, nc, n_lam). Returns 0, or -1 if n_lam > MAX_LAM. */
int idmv_rerank(const double *queries, const double *train, const int64_t *cand, int64_t nq,
                int64_t nc, int h, int w, int warp, const double *lams, int n_lam, double *fwd,
                double *rev)
{
    if (n_lam > MAX_LAM) return -1;
    size_t npix = (size_t)h * w;
    double *cq = malloc(sizeof(double) * npix * NF);
    double *ct = malloc(sizeof(double) * npix * NF);
    for (int64_t q = 0; q < nq; q++) {
        idm_contexts(queries + q * npix, h, w, cq);
        for (int64_t k = 0; k < nc; k++) {
            idm_contexts(train + cand[q * nc + k] * npix, h, w, ct);
            size_t at = ((size_t)q * nc + k) * n_lam;
            one_way(cq, ct, h, w, warp, lams, n_lam, fwd + at);
            one_way(ct, cq, h, w, warp, lams, n_lam, rev + at);
        }
    }
    free(cq);
    free(ct);
    return 0;
}
