/* Pseudo-2D hidden Markov distortion models for benchmarks/mnist_p2dhmdm.py (issue 17).
 *
 * Local costs as the preset's IDM (contexts from idm_context.h):
 * cost(p, d) = |ctxA(p) - ctxB(p + d)|^2 for displacements d with
 * |d_row|, |d_col| <= warp inside the image (infinite outside). Image A (the query) is matched
 * into image B (the candidate). Four distances per pair, all from the same cost table:
 *
 *   out[0] IDM: every pixel takes its cheapest displacement on its own (the preset's IDM);
 *   out[1] P2DHMDM: each row i of A has a row offset r_i, |r_i - r_(i-1)| <= 1; within the row
 *          each pixel has a column offset c_j, |c_j - c_(j-1)| <= 1; each pixel may further
 *          deviate one row from r_i (its row offset r_i + e, |e| <= 1, kept within the warp);
 *   out[2] P2DHMM: the same without the deviation (e = 0);
 *   out[3] column HMM: the column offsets as above, the row offset free per pixel.
 *
 * Each distance is the minimum total cost over the allowed offsets (dynamic programming over
 * the 2 warp + 1 offsets of each chain). Single-threaded.
 * Build: gcc -O3 -march=native -shared -fPIC -o lib.so mnist_p2dhmdm.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idm_context.h"

#define MAXW 5 /* 2 * warp + 1 for warp <= 2 */
#define N_OUT 4
#define MAXSIDE 64

/* cost[(i * w + j) * n * n + dr * n + dc], offsets dr, dc in 0..n-1 standing for -warp..warp. */
static void cost_table(const double *A, const double *B, int h, int w, int warp, double *cost)
{
    int n = 2 * warp + 1;
    for (int i = 0; i < h; i++) {
        for (int j = 0; j < w; j++) {
            const double *a = A + (size_t)(i * w + j) * NF;
            double *t = cost + (size_t)(i * w + j) * n * n;
            for (int dr = 0; dr < n; dr++) {
                int r = i + dr - warp;
                for (int dc = 0; dc < n; dc++) {
                    int c = j + dc - warp;
                    if (r < 0 || r >= h || c < 0 || c >= w) {
                        t[dr * n + dc] = INFINITY;
                        continue;
                    }
                    const double *b = B + (size_t)(r * w + c) * NF;
                    double s = 0.0;
                    for (int f = 0; f < NF; f++) {
                        double d = a[f] - b[f];
                        s += d * d;
                    }
                    t[dr * n + dc] = s;
                }
            }
        }
    }
}

/* Cheapest chain through e[0..len-1][0..n-1] with steps of at most 1 between states. */
static double chain(const double *e, int len, int n)
{
    double prev[MAXW], next[MAXW];
    for (int s = 0; s < n; s++) prev[s] = e[s];
    for (int j = 1; j < len; j++) {
        for (int s = 0; s < n; s++) {
            double best = prev[s];
            if (s > 0 && prev[s - 1] < best) best = prev[s - 1];
            if (s + 1 < n && prev[s + 1] < best) best = prev[s + 1];
            next[s] = best + e[j * n + s];
        }
        memcpy(prev, next, sizeof(double) * n);
    }
    double best = INFINITY;
    for (int s = 0; s < n; s++)
        if (prev[s] < best) best = prev[s];
    return best;
}

/* The four distances of one pair from its cost table. */
static void distances(const double *cost, int h, int w, int warp, double *out)
{
    int n = 2 * warp + 1;
    double col[MAXSIDE * MAXW];   /* per column and column offset, the row part chosen */
    double rows[MAXSIDE * MAXW];  /* per row and row offset (P2DHMDM) */
    double rows0[MAXSIDE * MAXW]; /* the same without the deviation (P2DHMM) */
    double idm = 0.0, column_hmm = 0.0;
    for (int i = 0; i < h; i++) {
        const double *t = cost + (size_t)i * w * n * n;
        /* IDM and column HMM: the row offset free per pixel. */
        for (int j = 0; j < w; j++) {
            double best = INFINITY;
            for (int dc = 0; dc < n; dc++) {
                double m = INFINITY;
                for (int dr = 0; dr < n; dr++) {
                    double v = t[(size_t)j * n * n + dr * n + dc];
                    if (v < m) m = v;
                }
                col[j * n + dc] = m;
                if (m < best) best = m;
            }
            idm += best;
        }
        column_hmm += chain(col, w, n);
        /* P2DHMDM and P2DHMM: for each row offset, the best column chain. */
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < w; j++) {
                for (int dc = 0; dc < n; dc++) {
                    double m = INFINITY;
                    for (int dr = r - 1; dr <= r + 1; dr++) {
                        if (dr < 0 || dr >= n) continue;
                        double v = t[(size_t)j * n * n + dr * n + dc];
                        if (v < m) m = v;
                    }
                    col[j * n + dc] = m;
                }
            }
            rows[i * n + r] = chain(col, w, n);
            for (int j = 0; j < w; j++)
                for (int dc = 0; dc < n; dc++) col[j * n + dc] = t[(size_t)j * n * n + r * n + dc];
            rows0[i * n + r] = chain(col, w, n);
        }
    }
    out[0] = idm;
    out[1] = chain(rows, h, n);
    out[2] = chain(rows0, h, n);
    out[3] = column_hmm;
}

/* queries (nq, h*w), train (nt, h*w) float64; cand (nq, nc) int64; out (nq, nc, 4).
 * Returns 0, or -1 if warp > 2 or a side exceeds MAXSIDE. */
int p2d_rerank(const double *queries, const double *train, const int64_t *cand, int64_t nq,
               int64_t nc, int h, int w, int warp, double *out)
{
    if (warp < 0 || 2 * warp + 1 > MAXW || h > MAXSIDE || w > MAXSIDE) return -1;
    int n = 2 * warp + 1;
    size_t npix = (size_t)h * w;
    double *cq = malloc(sizeof(double) * npix * NF);
    double *ct = malloc(sizeof(double) * npix * NF);
    double *cost = malloc(sizeof(double) * npix * n * n);
    for (int64_t q = 0; q < nq; q++) {
        idm_contexts(queries + q * npix, h, w, cq);
        for (int64_t k = 0; k < nc; k++) {
            idm_contexts(train + cand[q * nc + k] * npix, h, w, ct);
            cost_table(cq, ct, h, w, warp, cost);
            distances(cost, h, w, warp, out + ((size_t)q * nc + k) * N_OUT);
        }
    }
    free(cq);
    free(ct);
    free(cost);
    return 0;
}
