"""uint8 rows: exact integer distances with SIMD byte instructions, and their top-k loops.

numba widens small integers to 64 bits before arithmetic, which leaves the compiler 8 lanes
per vector; the x86 instructions made for this job work on 32 bytes at once: ``psadbw``
sums absolute byte differences, ``pmaddwd`` sums products of 16-bit pairs. They are emitted
through numba intrinsics when the CPU has AVX2 (``HAVE_SIMD_U8``), and plain loops stand in
elsewhere. Rows must be C-contiguous and padded with zeros to a multiple of ``U8_WIDTH``
bytes (:func:`pad_u8`; padding adds nothing to either sum).

The sums of absolute or squared byte differences are exact integers, so their float64 value
equals the reference whatever the order of summation. ``u8_topk`` and ``u8_topk_few`` are the
brute-force loops over them.

NumPy twins: :func:`sad_u8_numpy`, :func:`sqd_u8_numpy`; the loops are tested against
:func:`knnvision.search.reference_kneighbors`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .topk import empty_topk, merge_topk_into, topk_push

U8_WIDTH = 32


def _host_has_avx2() -> bool:
    import platform

    from llvmlite import binding
    from numba.core import config

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    # numba sets its config attributes at run time, from the environment: mypy cannot see them.
    if config.CPU_NAME not in (None, "host"):  # type: ignore[attr-defined]
        return False  # compiling for another CPU: stay portable
    try:
        return bool(binding.get_host_cpu_features().get("avx2", False))
    except RuntimeError:
        return False


HAVE_SIMD_U8 = _host_has_avx2()


def _u8_rows_intrinsic(n_rows: int, squared: bool):
    """An intrinsic ``f(q_addr, q_stride, t_addr, n_chunks) -> (sum_0, ..., sum_{n_rows-1})``.

    Sums, over ``n_chunks`` chunks of 32 bytes, ``|q_r - t|`` (``squared=False``) or
    ``(q_r - t)^2`` (``squared=True``) for ``n_rows`` query rows ``q_addr + r * q_stride``
    against one training row ``t_addr``, loading each training chunk once for all rows.
    """
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    bytes_t = ir.VectorType(ir.IntType(8), U8_WIDTH)
    half_t = ir.VectorType(ir.IntType(16), U8_WIDTH // 2)
    if squared:
        acc_t = ir.VectorType(ir.IntType(32), 8)
        op_name, op_type = "llvm.x86.avx2.pmadd.wd", ir.FunctionType(acc_t, [half_t, half_t])
    else:
        acc_t = ir.VectorType(ir.IntType(64), 4)
        op_name, op_type = "llvm.x86.avx2.psad.bw", ir.FunctionType(acc_t, [bytes_t, bytes_t])

    def chunk_sum(builder, op, q, t):
        if not squared:
            return builder.call(op, [q, t])
        # |q - t| as bytes (max - min cannot wrap), widened to 16 bits, squared and pair-summed.
        greater = builder.icmp_unsigned(">", q, t)
        diff = builder.sub(builder.select(greater, q, t), builder.select(greater, t, q))
        wide = builder.zext(diff, ir.VectorType(ir.IntType(16), U8_WIDTH))
        lanes_t = ir.VectorType(ir.IntType(32), U8_WIDTH // 2)
        lo = builder.shuffle_vector(wide, wide, ir.Constant(lanes_t, list(range(U8_WIDTH // 2))))
        hi = builder.shuffle_vector(
            wide, wide, ir.Constant(lanes_t, list(range(U8_WIDTH // 2, U8_WIDTH)))
        )
        return builder.add(builder.call(op, [lo, lo]), builder.call(op, [hi, hi]))

    @intrinsic
    def rows_kernel(typingctx, q_addr, q_stride, t_addr, n_chunks):
        result_type = types.UniTuple(types.int64, n_rows)
        sig = result_type(types.uintp, types.intp, types.uintp, types.intp)

        def codegen(context, builder, signature, args):
            q_int, stride, t_int, n = args
            op = cgutils.get_or_insert_function(builder.module, op_type, op_name)
            ptr_t = bytes_t.as_pointer()
            t_ptr = builder.inttoptr(t_int, ptr_t)
            q_ptrs = [
                builder.inttoptr(
                    builder.add(q_int, builder.mul(stride, ir.Constant(stride.type, r))), ptr_t
                )
                for r in range(n_rows)
            ]
            entry = builder.basic_block
            loop = builder.append_basic_block("u8_loop")
            done = builder.append_basic_block("u8_done")
            zero_i = ir.Constant(n.type, 0)
            zero_acc = ir.Constant(acc_t, None)
            builder.cbranch(builder.icmp_signed(">", n, zero_i), loop, done)
            builder.position_at_end(loop)
            i = builder.phi(n.type)
            accs = [builder.phi(acc_t) for _ in range(n_rows)]
            t_vec = builder.load(builder.gep(t_ptr, [i]), align=1)
            updated = []
            for r in range(n_rows):
                q_vec = builder.load(builder.gep(q_ptrs[r], [i]), align=1)
                updated.append(builder.add(accs[r], chunk_sum(builder, op, q_vec, t_vec)))
            i_next = builder.add(i, ir.Constant(n.type, 1))
            i.add_incoming(zero_i, entry)
            i.add_incoming(i_next, loop)
            for acc, new in zip(accs, updated, strict=True):
                acc.add_incoming(zero_acc, entry)
                acc.add_incoming(new, loop)
            builder.cbranch(builder.icmp_signed("<", i_next, n), loop, done)
            builder.position_at_end(done)
            finals = []
            for new in updated:  # all phi nodes first: LLVM requires them at the block top
                final = builder.phi(acc_t)
                final.add_incoming(zero_acc, entry)
                final.add_incoming(new, loop)
                finals.append(final)
            totals = []
            for final in finals:
                lanes = [
                    builder.extract_element(final, ir.Constant(ir.IntType(32), lane))
                    for lane in range(acc_t.count)
                ]
                total = builder.sext(lanes[0], ir.IntType(64)) if squared else lanes[0]
                for lane in lanes[1:]:
                    total = builder.add(
                        total, builder.sext(lane, ir.IntType(64)) if squared else lane
                    )
                totals.append(total)
            return context.make_tuple(builder, result_type, totals)

        return sig, codegen

    return rows_kernel


if HAVE_SIMD_U8:
    _sad_rows_2 = _u8_rows_intrinsic(2, squared=False)
    _sad_rows_1 = _u8_rows_intrinsic(1, squared=False)
    _sqd_rows_1 = _u8_rows_intrinsic(1, squared=True)

    @njit(cache=True)
    def sad_u8_x2(Q, i, T, j):
        """``(sum |Q[i] - T[j]|, sum |Q[i+1] - T[j]|)``, loading ``T[j]`` once."""
        stride = Q.strides[0]
        return _sad_rows_2(
            Q.ctypes.data + i * stride,
            stride,
            T.ctypes.data + j * T.strides[0],
            T.shape[1] // U8_WIDTH,
        )

    @njit(cache=True)
    def sad_u8(Q, i, T, j):
        """``sum |Q[i] - T[j]|`` for padded uint8 rows, exact."""
        return _sad_rows_1(
            Q.ctypes.data + i * Q.strides[0],
            0,
            T.ctypes.data + j * T.strides[0],
            T.shape[1] // U8_WIDTH,
        )[0]

    @njit(cache=True)
    def sqd_u8(Q, i, T, j):
        """``sum (Q[i] - T[j])^2`` for padded uint8 rows, exact."""
        return _sqd_rows_1(
            Q.ctypes.data + i * Q.strides[0],
            0,
            T.ctypes.data + j * T.strides[0],
            T.shape[1] // U8_WIDTH,
        )[0]

else:  # the same functions as plain loops, for CPUs without AVX2

    @njit(cache=True)
    def sad_u8(Q, i, T, j):
        """``sum |Q[i] - T[j]|`` for uint8 rows, exact."""
        acc = 0
        for f in range(T.shape[1]):
            acc += abs(np.int64(Q[i, f]) - np.int64(T[j, f]))
        return acc

    @njit(cache=True)
    def sad_u8_x2(Q, i, T, j):
        """``(sum |Q[i] - T[j]|, sum |Q[i+1] - T[j]|)`` for uint8 rows."""
        return sad_u8(Q, i, T, j), sad_u8(Q, i + 1, T, j)

    @njit(cache=True)
    def sqd_u8(Q, i, T, j):
        """``sum (Q[i] - T[j])^2`` for uint8 rows, exact."""
        acc = 0
        for f in range(T.shape[1]):
            diff = np.int64(Q[i, f]) - np.int64(T[j, f])
            acc += diff * diff
        return acc


def sad_u8_numpy(q, t):
    """NumPy twin of :func:`sad_u8` for two 1-D rows."""
    return int(np.abs(q.astype(np.int64) - t.astype(np.int64)).sum())


def sqd_u8_numpy(q, t):
    """NumPy twin of :func:`sqd_u8` for two 1-D rows."""
    diff = q.astype(np.int64) - t.astype(np.int64)
    return int((diff * diff).sum())


def pad_u8(rows: np.ndarray) -> np.ndarray:
    """C-contiguous uint8 ``rows`` with zero columns up to a multiple of ``U8_WIDTH``.

    Returns ``rows`` itself when it already qualifies.
    """
    width = max(U8_WIDTH, -(-rows.shape[1] // U8_WIDTH) * U8_WIDTH)
    if width == rows.shape[1] and rows.flags.c_contiguous:
        return rows
    padded = np.zeros((rows.shape[0], width), dtype=np.uint8)
    padded[:, : rows.shape[1]] = rows
    return padded


@njit(cache=True, parallel=True)
def u8_topk(squared, queries, train, k, q_block):
    """Exact k nearest padded uint8 rows by sum of absolute (or squared) byte differences.

    Parallel over blocks of ``q_block`` queries; each block stays in L1/L2 while every
    training row streams past it once, and each training chunk is loaded once per two
    queries. Returns integer-valued float64 distances and int64 indices, ties to the smaller
    index (rows are visited in index order and only a strictly smaller distance displaces).
    """
    n_queries = queries.shape[0]
    best_d, best_i = empty_topk(n_queries, k)
    last = k - 1
    n_blocks = (n_queries + q_block - 1) // q_block
    for block in prange(n_blocks):
        q0 = block * q_block
        q1 = min(q0 + q_block, n_queries)
        for j in range(train.shape[0]):
            i = q0
            while i < q1:
                if squared or i + 1 == q1:
                    d0 = sqd_u8(queries, i, train, j) if squared else sad_u8(queries, i, train, j)
                    if d0 < best_d[i, last]:
                        topk_push(best_d, best_i, i, np.float64(d0), j)
                    i += 1
                    continue
                d0, d1 = sad_u8_x2(queries, i, train, j)
                if d0 < best_d[i, last]:
                    topk_push(best_d, best_i, i, np.float64(d0), j)
                if d1 < best_d[i + 1, last]:
                    topk_push(best_d, best_i, i + 1, np.float64(d1), j)
                i += 2
    return best_d, best_i


@njit(cache=True, parallel=True)
def u8_topk_few(squared, queries, train, k, n_parts):
    """:func:`u8_topk` for a handful of queries: parallel over ``n_parts`` training ranges.

    Each range keeps its own top-k per query; merging the ranges keeps the tie rule. This is
    the single-query fast path (one image against all training images).
    """
    n_queries = queries.shape[0]
    n_train = train.shape[0]
    part_d, part_i = empty_topk(n_parts * n_queries, k)
    step = (n_train + n_parts - 1) // n_parts
    for part in prange(n_parts):
        for j in range(part * step, min(n_train, (part + 1) * step)):
            for i in range(n_queries):
                d = sqd_u8(queries, i, train, j) if squared else sad_u8(queries, i, train, j)
                row = part * n_queries + i
                if d < part_d[row, k - 1]:
                    topk_push(part_d, part_i, row, np.float64(d), j)
    best_d, best_i = empty_topk(n_queries, k)
    for part in range(n_parts):
        rows = slice(part * n_queries, (part + 1) * n_queries)
        merge_topk_into(best_d, best_i, part_d[rows], part_i[rows])
    return best_d, best_i
