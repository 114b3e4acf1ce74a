"""The compiled loops of the search, one family per module, each with its NumPy twins.

Each family is a C++ extension (``_<family>.cpp``, built ahead of time by ``pip install``
through ``CMakeLists.txt``) wrapped by a Python module of the same name, which allocates the
outputs, passes the thread count (:func:`knnvision.search.threads.get_num_threads`) and holds
the pure-NumPy twins (suffix ``_numpy``) the tests use as oracles;
``tests/test_kernels_<family>.py`` tests each one. Call sites import the family they use
(``from .kernels import lp, topk``); nothing is re-exported here. Shared C++ headers:
``_common.hpp`` (array types, the run-time CPU path, GIL release), ``lp.hpp`` (exact float64
distances in NumPy's pairwise order), ``topk.hpp`` (the tie rule), ``integer.hpp`` (uint8
row sums).

* ``metric_kinds``: the metric codes (``KIND_*``, ``KIND_OF_METRIC``) every family shares.
* ``lp``: exact float64 distances (bit-identical to the reference), the Minkowski estimate,
  and the generic brute-force top-k loop.
* ``topk``: sorted top-k lists with the tie rule (distance, then index), and their merge.
* ``trees``: kd-tree box bounds, ball-tree bounds and the tree query loop.
* ``integer``: exact sums of absolute or squared byte differences of uint8 rows (AVX2
  ``psadbw`` / ``pmaddwd``, plain loops elsewhere), padding, and their top-k loops.
* ``lp_estimate``: Manhattan and Minkowski estimates summed in a fixed lane order, with their
  error bound, for the brute force to re-check.
* ``candidates``: folding float32 matrix-product tiles into top-k estimates, and the exact
  re-check of the candidates kept.
* ``projection``: projection lower bounds and the filtered exact search for a few queries.
* ``dot_u8``: exact uint8 Euclidean from AVX-512 VNNI integer dot products.
* ``idm``: the image distortion model distance used to re-rank candidates.

Code paths: every SIMD function exists for the baseline of the architecture and, on x86-64,
for AVX2 and AVX-512 (VNNI), chosen at run time by CPU detection; ``KNNVISION_CPU=baseline``
or ``avx2`` forces a lower path (``_topk.cpu_level()`` says which runs). Every path gives the
same bits. Kernels release the GIL and split work over OpenMP threads.
"""
