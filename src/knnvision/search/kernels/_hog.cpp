// Compiled gradient histograms (knnvision.search.kernels.hog): the HOG features of
// knnvision.transforms.preprocessing.GradientHistograms, one image at a time in one pass, so no
// (n, height, width) temporaries are made. The steps and their float64 arithmetic follow the
// NumPy twin (hog.gradient_histograms_numpy) step by step; only the sums of the block norms
// are added in order here (NumPy adds them pairwise), and atan2 / hypot come from the C
// library (NumPy may use its own SIMD versions), so the two agree to a few units in the last
// place of float64, far below the float32 the features are usually stored in.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "_common.hpp"

namespace knnv {

// np.pi (M_PI is not standard C++).
constexpr double kPi = 3.141592653589793;

// Python's (and NumPy's) float modulo: the result has the sign of `span`.
inline double floor_mod(double value, double span) {
  double result = std::fmod(value, span);
  if (result != 0.0) {
    if ((span < 0) != (result < 0)) result += span;
  } else {
    result = std::copysign(0.0, span);
  }
  return result;
}

inline int64_t bin_of(double bin, int64_t n_bins) {
  return int64_t(floor_mod(bin, double(n_bins)));
}

struct HogShape {
  int64_t height, width, cell, n_bins, block;
  bool signed_bins;
  int64_t cells_y() const { return (height + cell - 1) / cell; }
  int64_t cells_x() const { return (width + cell - 1) / cell; }
  int64_t size_y() const { return std::min(block, cells_y()); }
  int64_t size_x() const { return std::min(block, cells_x()); }
  int64_t n_outputs() const {
    return (cells_y() - size_y() + 1) * (cells_x() - size_x() + 1) * size_y() * size_x() *
           n_bins;
  }
};

// Magnitude-weighted orientation votes of each cell: each pixel votes for its two nearest
// bins; `lower` and `upper` collect the two votes separately, each in raster order, and the
// histogram is their sum (as the twin's two bincounts are).
inline void cell_histograms(const double* image, const HogShape& s, double* lower,
                            double* upper) {
  const int64_t cells_x = s.cells_x(), n_values = s.cells_y() * cells_x * s.n_bins;
  std::fill(lower, lower + n_values, 0.0);
  std::fill(upper, upper + n_values, 0.0);
  const double span = s.signed_bins ? 2.0 * kPi : kPi;
  auto pixel = [&](int64_t y, int64_t x) {
    return (y < 0 || y >= s.height || x < 0 || x >= s.width) ? 0.0 : image[y * s.width + x];
  };
  for (int64_t y = 0; y < s.height; ++y) {
    for (int64_t x = 0; x < s.width; ++x) {
      const double gy = (pixel(y + 1, x) - pixel(y - 1, x)) / 2.0;
      const double gx = (pixel(y, x + 1) - pixel(y, x - 1)) / 2.0;
      const double magnitude = std::hypot(gy, gx);
      const double angle = floor_mod(std::atan2(gy, gx), span);
      const double position = angle / span * double(s.n_bins) - 0.5;  // bin centres at integers
      const double below = std::floor(position);
      const double upper_share = position - below;
      const int64_t cell = (y / s.cell) * cells_x + x / s.cell;
      lower[cell * s.n_bins + bin_of(below, s.n_bins)] += magnitude * (1.0 - upper_share);
      upper[cell * s.n_bins + bin_of(below + 1.0, s.n_bins)] += magnitude * upper_share;
    }
  }
  for (int64_t i = 0; i < n_values; ++i) lower[i] += upper[i];
}

inline void l2_normalise(double* values, int64_t n) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += values[i] * values[i];
  const double norm = std::sqrt(total) + 1e-6;
  for (int64_t i = 0; i < n; ++i) values[i] /= norm;
}

// Every size_y x size_x block of cells (stride one cell, row-major), its values in (cell row,
// cell column, bin) order, L2-normalised, clipped at 0.2 and normalised again (L2-Hys).
template <class TO>
inline void normalised_blocks(const double* histograms, const HogShape& s, double* block,
                              TO* out) {
  const int64_t cells_x = s.cells_x(), size_y = s.size_y(), size_x = s.size_x();
  const int64_t n_block = size_y * size_x * s.n_bins;
  for (int64_t by = 0; by + size_y <= s.cells_y(); ++by) {
    for (int64_t bx = 0; bx + size_x <= cells_x; ++bx) {
      double* value = block;
      for (int64_t cy = by; cy < by + size_y; ++cy)
        for (int64_t cx = bx; cx < bx + size_x; ++cx)
          for (int64_t b = 0; b < s.n_bins; ++b)
            *value++ = histograms[(cy * cells_x + cx) * s.n_bins + b];
      l2_normalise(block, n_block);
      for (int64_t i = 0; i < n_block; ++i) block[i] = std::min(block[i], 0.2);
      l2_normalise(block, n_block);
      for (int64_t i = 0; i < n_block; ++i) *out++ = TO(block[i]);
    }
  }
}

// HOG features of each flat height x width image (rows of `images`) into the rows of `out`.
template <class TO>
static void gradient_histograms(Matrix<const double> images, int64_t height, int64_t width,
                                int64_t cell, int64_t n_bins, int64_t block, bool signed_bins,
                                Matrix<TO> out, int n_threads) {
  if (height < 1 || width < 1 || cell < 1 || n_bins < 2 || block < 1)
    throw std::invalid_argument("gradient_histograms: sizes must be >= 1 (bins >= 2)");
  const HogShape s{height, width, cell, n_bins, block, signed_bins};
  const int64_t n = images.shape(0);
  if (int64_t(images.shape(1)) != height * width || int64_t(out.shape(0)) != n ||
      int64_t(out.shape(1)) != s.n_outputs())
    throw std::invalid_argument("gradient_histograms: inconsistent shapes");
  const double* pixels = images.data();
  TO* features = out.data();
  const int64_t n_cell_values = s.cells_y() * s.cells_x() * n_bins;
#pragma omp parallel num_threads(n_threads)
  {
    std::vector<double> lower(n_cell_values), upper(n_cell_values);
    std::vector<double> block_values(s.size_y() * s.size_x() * n_bins);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      cell_histograms(pixels + i * height * width, s, lower.data(), upper.data());
      normalised_blocks(lower.data(), s, block_values.data(), features + i * s.n_outputs());
    }
  }
}

}  // namespace knnv

NB_MODULE(_hog, m) {
  using namespace nb::literals;
  // .noconvert() on the output: a converted copy would be filled instead.
  m.def("gradient_histograms", &knnv::gradient_histograms<float>, "images"_a, "height"_a,
        "width"_a, "cell"_a, "n_bins"_a, "block"_a, "signed_bins"_a, "out"_a.noconvert(),
        "n_threads"_a, knnv::ReleaseGil());
  m.def("gradient_histograms", &knnv::gradient_histograms<double>, "images"_a, "height"_a,
        "width"_a, "cell"_a, "n_bins"_a, "block"_a, "signed_bins"_a, "out"_a.noconvert(),
        "n_threads"_a, knnv::ReleaseGil());
}
