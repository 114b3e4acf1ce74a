"""Numba-compiled loops that NumPy cannot express fast, one module per family.

Each family module holds its compiled functions (small, flat, typed, jitted with
``cache=True``) and their pure-NumPy twins (suffix ``_numpy``), which the tests use as
oracles; ``tests/test_kernels_<family>.py`` tests each one. Call sites import the family they
use (``from .kernels import lp, topk``); nothing is re-exported here.

* ``metric_kinds``: the metric codes (``KIND_*``, ``KIND_OF_METRIC``) every family shares.
* ``lp``: exact float64 distances in NumPy's pairwise order (bit-identical to the reference),
  the Minkowski estimate, the scratch buffer, and the generic brute-force top-k loop.
* ``topk``: sorted top-k lists with the tie rule (distance, then index), and their merge.
* ``trees``: kd-tree box bounds, ball-tree bounds and the tree query loop.
* ``integer``: exact sums of absolute or squared byte differences of uint8 rows (AVX2
  ``psadbw`` / ``pmaddwd``, plain loops elsewhere), padding, and their top-k loops.
* ``lp_estimate``: Manhattan and Minkowski estimates summed in any order, with their error
  bound, for the brute force to re-check.
* ``candidates``: folding float32 matrix-product tiles into top-k estimates, and the exact
  re-check of the candidates kept.
* ``projection``: projection lower bounds and the filtered exact search for a few queries.
* ``dot_u8``: exact uint8 Euclidean from AVX-512 VNNI integer dot products.
* ``idm``: the image distortion model distance used to re-rank candidates.

Conventions that keep the loops fast: kernels take whole 2-D arrays plus row numbers
(``A, i, B, j``) rather than row views. A view taken inside a parallel loop updates the
parent array's reference count atomically, and two cores doing that on one array cost
hundreds of nanoseconds per pair. Top-k state is likewise 2-D, one row per query.

numba's disk cache notices an edit only in the file of the cached function itself, not in the
files of the kernels it calls (a tree query compiles the ``lp`` distances into itself): after
editing a family, delete the ``__pycache__`` folder here before timing or testing the others.
"""
