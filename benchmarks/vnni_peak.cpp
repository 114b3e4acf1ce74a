// The machine's AVX-512 VNNI peak: vpdpbusd on 16 independent accumulators, so the loop is
// bound by the instruction's throughput, not its latency. Written in assembly because the
// compiler merges accumulators whose inputs it can see are equal.
// Usage: vnni_peak THREADS ITERATIONS -> "THREADS G_MULTIPLY_ADDS_PER_SECOND"
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

__attribute__((noinline)) void spin(long long iterations) {
  for (long long i = 0; i < iterations; ++i) {
    __asm__ volatile(
        "vpdpbusd %%zmm17, %%zmm16, %%zmm0\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm1\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm2\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm3\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm4\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm5\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm6\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm7\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm8\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm9\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm10\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm11\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm12\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm13\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm14\n\t"
        "vpdpbusd %%zmm17, %%zmm16, %%zmm15\n\t"
        :
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: vnni_peak THREADS ITERATIONS\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  const long long iterations = std::atoll(argv[2]);
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {  // the fastest of five: a shared machine
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    spin(iterations);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (took.count() < best) best = took.count();
  }
  // Each instruction: 64 unsigned x signed byte products added into 16 lanes.
  std::printf("%d %.1f\n", threads, 16.0 * 64.0 * double(iterations) * threads / best / 1e9);
  return 0;
}
