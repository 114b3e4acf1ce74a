/* Benchmark-only kernel (issue 17, fashion_screen_block_weights.py): the grid IDM of
 * knnvision.search.kernels.idm.grid_idm_pairs, but returning each query block's least cost
 * (float32, one row of blocks_y * blocks_x per pair) instead of their sum, so that a screen can
 * weight the blocks. Each block cost is a float64 sum in order; one thread. */
#include <math.h>
#include <stdint.h>

void grid_block_costs(const float* query_grids, const float* ref_grids, const int64_t* query_rows,
                      const int64_t* ref_rows, int64_t n_pairs, int64_t blocks_y, int64_t blocks_x,
                      int64_t n_features, int64_t warp, float* out) {
  const int64_t n_blocks = blocks_y * blocks_x, n_values = n_blocks * n_features;
  for (int64_t p = 0; p < n_pairs; ++p) {
    const float* query = query_grids + query_rows[p] * n_values;
    const float* ref = ref_grids + ref_rows[p] * n_values;
    for (int64_t y = 0; y < blocks_y; ++y) {
      for (int64_t x = 0; x < blocks_x; ++x) {
        const float* block = query + (y * blocks_x + x) * n_features;
        double best = INFINITY;
        for (int64_t yy = y - warp; yy <= y + warp; ++yy) {
          if (yy < 0 || yy >= blocks_y) continue;
          for (int64_t xx = x - warp; xx <= x + warp; ++xx) {
            if (xx < 0 || xx >= blocks_x) continue;
            const float* other = ref + (yy * blocks_x + xx) * n_features;
            double cost = 0.0;
            for (int64_t f = 0; f < n_features; ++f) {
              const double d = (double)block[f] - (double)other[f];
              cost += d * d;
            }
            if (cost < best) best = cost;
          }
        }
        out[p * n_blocks + y * blocks_x + x] = (float)best;
      }
    }
  }
}
