/* The IDM's local context, shared by the benchmark kernels mnist_idm_variants.c and
 * mnist_p2dhmdm.c (issue 17): for each pixel, the 3 x 3 patches of vertical then horizontal
 * Sobel values / 8 around it, zeros outside the image (NF = 18 values), as the package's IDM.
 */
#ifndef KNNVISION_BENCH_IDM_CONTEXT_H
#define KNNVISION_BENCH_IDM_CONTEXT_H

#include <stdlib.h>

#define NF 18

/* Contexts (h * w * NF) of one flat float64 image. */
static void idm_contexts(const double *img, int h, int w, double *out)
{
    double *gy = malloc(sizeof(double) * h * w);
    double *gx = malloc(sizeof(double) * h * w);
    static const double smooth[3] = {1.0, 2.0, 1.0};
    for (int i = 0; i < h; i++) {
        for (int j = 0; j < w; j++) {
            double sy = 0.0, sx = 0.0;
            for (int a = -1; a <= 1; a++) {
                for (int b = -1; b <= 1; b++) {
                    int r = i + a, c = j + b;
                    double v = (r >= 0 && r < h && c >= 0 && c < w) ? img[r * w + c] : 0.0;
                    sy += a * smooth[b + 1] * v;
                    sx += b * smooth[a + 1] * v;
                }
            }
            gy[i * w + j] = sy / 8.0;
            gx[i * w + j] = sx / 8.0;
        }
    }
    for (int i = 0; i < h; i++) {
        for (int j = 0; j < w; j++) {
            double *o = out + (size_t)(i * w + j) * NF;
            int f = 0;
            for (int g = 0; g < 2; g++) {
                const double *grad = g == 0 ? gy : gx;
                for (int a = -1; a <= 1; a++) {
                    for (int b = -1; b <= 1; b++) {
                        int r = i + a, c = j + b;
                        o[f++] = (r >= 0 && r < h && c >= 0 && c < w) ? grad[r * w + c] : 0.0;
                    }
                }
            }
        }
    }
    free(gy);
    free(gx);
}

#endif
