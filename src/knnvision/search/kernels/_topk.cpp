// Compiled top-k merging (knnvision.search.kernels.topk), and the CPU path in use.
#include "_common.hpp"
#include "topk.hpp"

namespace knnv {

// Merge the sorted lists `other` into `best`, row by row, with the tie rule.
static void merge_topk_into(Matrix<double> best_d, Matrix<int64_t> best_i,
                            Matrix<const double> other_d, Matrix<const int64_t> other_i) {
  const int64_t rows = best_d.shape(0), k = best_d.shape(1), width = other_d.shape(1);
  for (int64_t r = 0; r < rows; ++r) {
    double* d = best_d.data() + r * k;
    int64_t* i = best_i.data() + r * k;
    for (int64_t c = 0; c < width; ++c) {
      // `other` is sorted: nothing after a rejected entry can enter either.
      if (!topk_push(d, i, k, other_d(r, c), other_i(r, c))) break;
    }
  }
}

// Insert (d, index) into row `row` of the sorted lists; returns whether it entered.
static bool topk_push_row(Matrix<double> best_d, Matrix<int64_t> best_i, int64_t row, double d,
                          int64_t index) {
  const int64_t k = best_d.shape(1);
  return topk_push(best_d.data() + row * k, best_i.data() + row * k, k, d, index);
}

}  // namespace knnv

NB_MODULE(_topk, m) {
  m.def("merge_topk_into", &knnv::merge_topk_into, knnv::ReleaseGil());
  m.def("topk_push", &knnv::topk_push_row, knnv::ReleaseGil());
  m.def("cpu_level", &knnv::cpu_level_name,
        "The code path the kernels take on this CPU (after KNNVISION_CPU).");
}
