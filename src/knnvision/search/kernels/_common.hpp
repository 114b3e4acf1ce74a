// What every kernel family shares: array types, thread counts, and the CPU's code path.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

namespace nb = nanobind;

namespace knnv {

// C-contiguous arrays on the CPU; the Python family modules make them so.
template <class T>
using Matrix = nb::ndarray<T, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
template <class T>
using Vector = nb::ndarray<T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

// Code paths, best last. The build targets the baseline of its architecture; functions for a
// better path carry __attribute__((target(...))) and are called only when cpu_level() allows.
enum class Cpu : int { baseline = 0, avx2 = 1, avx512 = 2 };

inline Cpu detect_cpu() {
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__GNUC__) || defined(__clang__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni"))
    return Cpu::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Cpu::avx2;
#endif
#endif
  return Cpu::baseline;
}

// The best path of this CPU, lowered by KNNVISION_CPU=baseline|avx2 (never raised), so the
// tests can run every path on one machine.
inline Cpu cpu_level() {
  static const Cpu level = [] {
    Cpu best = detect_cpu();
    const char* asked = std::getenv("KNNVISION_CPU");
    if (asked == nullptr) return best;
    Cpu wanted = best;
    if (std::strcmp(asked, "baseline") == 0) wanted = Cpu::baseline;
    if (std::strcmp(asked, "avx2") == 0) wanted = Cpu::avx2;
    if (std::strcmp(asked, "avx512") == 0) wanted = Cpu::avx512;
    return static_cast<int>(wanted) < static_cast<int>(best) ? wanted : best;
  }();
  return level;
}

inline const char* cpu_level_name() {
  switch (cpu_level()) {
    case Cpu::avx512: return "avx512";
    case Cpu::avx2: return "avx2";
    default: return "baseline";
  }
}

// Every binding releases the GIL: kernels touch only the arrays they were given.
using ReleaseGil = nb::call_guard<nb::gil_scoped_release>;

}  // namespace knnv
