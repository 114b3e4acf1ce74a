// Sorted top-k lists with the library's tie rule: order by (distance, index).
#pragma once

#include <cstdint>

namespace knnv {

// Insert (d, index) into the sorted lists of one query (k slots) if it beats the last entry;
// equal distances keep the smaller index. Returns whether it was inserted.
inline bool topk_push(double* best_d, int64_t* best_i, int64_t k, double d, int64_t index) {
  const int64_t last = k - 1;
  if (d > best_d[last] || (d == best_d[last] && index >= best_i[last])) return false;
  int64_t pos = last;
  while (pos > 0 && (best_d[pos - 1] > d || (best_d[pos - 1] == d && best_i[pos - 1] > index))) {
    best_d[pos] = best_d[pos - 1];
    best_i[pos] = best_i[pos - 1];
    --pos;
  }
  best_d[pos] = d;
  best_i[pos] = index;
  return true;
}

}  // namespace knnv
