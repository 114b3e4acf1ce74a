"""The strict IDX reader and the IDX writer, on files written in tmp_path."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from knnvision.datasets.idx import read_idx, write_idx

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]
CODES = {
    "uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E
}  # fmt: skip


def _sample(dtype: str, shape=(3, 4, 5)) -> np.ndarray:
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is None:
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def _idx_bytes(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_dtype(tmp_path, dtype, suffix):
    array = _sample(dtype)
    path = tmp_path / f"data-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.flags.writeable
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 3, 4), (1, 2, 3, 4), (0, 28, 28)])
def test_round_trip_every_rank(tmp_path, shape):
    array = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    write_idx(tmp_path / "a.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)


def test_written_bytes_follow_the_format(tmp_path):
    write_idx(tmp_path / "a", np.array([[1, 2], [3, 258]], dtype=np.int16))
    expected = _idx_bytes(0x0B, (2, 2), struct.pack(">4h", 1, 2, 3, 258))
    assert (tmp_path / "a").read_bytes() == expected


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = _sample("uint8")
    write_idx(tmp_path / "compressed.idx", array, compress=True)
    write_idx(tmp_path / "raw.gz", array, compress=False)
    assert (tmp_path / "compressed.idx").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "raw.gz").read_bytes()[:2] == b"\x00\x00"
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed.idx"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw.gz"), array)


def test_write_leaves_no_temporary_file(tmp_path):
    write_idx(tmp_path / "a.gz", _sample("uint8"))
    assert [p.name for p in tmp_path.iterdir()] == ["a.gz"]


def _write(path, data: bytes, compress: bool) -> None:
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_payload_is_refused(tmp_path, compress):
    data = _idx_bytes(0x08, (2, 3, 3), bytes(18))[:-5]
    _write(tmp_path / "t", data, compress)
    with pytest.raises(ValueError, match=r"t: .*announces 18 bytes .* holds 13 \(truncated\)"):
        read_idx(tmp_path / "t")


@pytest.mark.parametrize("compress", [False, True])
def test_trailing_bytes_are_refused(tmp_path, compress):
    data = _idx_bytes(0x0C, (2,), bytes(8)) + b"junk"
    _write(tmp_path / "t", data, compress)
    with pytest.raises(ValueError, match=r"announces 8 bytes .* holds 12 \(followed by .*trailing"):
        read_idx(tmp_path / "t")


@pytest.mark.parametrize("compress", [False, True])
def test_bad_magic_is_refused(tmp_path, compress):
    _write(tmp_path / "m", b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", compress)
    with pytest.raises(ValueError, match=r"m is not an IDX file: bad magic number 0x01000801"):
        read_idx(tmp_path / "m")


@pytest.mark.parametrize("compress", [False, True])
def test_unknown_type_code_is_refused(tmp_path, compress):
    _write(tmp_path / "c", _idx_bytes(0x0A, (1,), b"\x00"), compress)
    with pytest.raises(ValueError, match=r"unknown IDX type code 0x0A"):
        read_idx(tmp_path / "c")


@pytest.mark.parametrize("ndim", [0, 5])
def test_unsupported_rank_is_refused(tmp_path, ndim):
    (tmp_path / "r").write_bytes(bytes([0, 0, 8, ndim]) + struct.pack(f">{ndim}I", *[1] * ndim))
    with pytest.raises(ValueError, match=rf"declares {ndim} dimensions"):
        read_idx(tmp_path / "r")


def test_truncated_header_is_refused(tmp_path):
    (tmp_path / "h").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">2I", 2, 2))
    with pytest.raises(ValueError, match=r"truncated inside its header"):
        read_idx(tmp_path / "h")


def test_too_short_file_is_refused(tmp_path):
    (tmp_path / "s").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match=r"too short to be an IDX file"):
        read_idx(tmp_path / "s")


def test_corrupt_gzip_stream_is_a_value_error(tmp_path):
    compressed = bytearray(gzip.compress(_idx_bytes(0x08, (64, 64), bytes(range(256)) * 16)))
    compressed[20:30] = b"\xff" * 10
    (tmp_path / "bad.gz").write_bytes(bytes(compressed))
    with pytest.raises(ValueError, match=r"bad.gz is a corrupt gzip file"):
        read_idx(tmp_path / "bad.gz")


def test_cut_gzip_stream_is_a_value_error(tmp_path):
    compressed = gzip.compress(_idx_bytes(0x08, (100,), bytes(100)))
    (tmp_path / "cut.gz").write_bytes(compressed[:-6])
    with pytest.raises(ValueError, match=r"cut.gz is a corrupt gzip file"):
        read_idx(tmp_path / "cut.gz")


def test_garbage_after_gzip_stream_is_a_value_error(tmp_path):
    compressed = gzip.compress(_idx_bytes(0x08, (4,), bytes(4)))
    (tmp_path / "g.gz").write_bytes(compressed + b"garbage")
    with pytest.raises(ValueError, match=r"corrupt gzip file"):
        read_idx(tmp_path / "g.gz")


def test_a_lying_header_does_not_allocate_its_claim(tmp_path):
    # 4 dimensions of 2**32 - 1 announce ~3e38 bytes; the file holds 10.
    header = bytes([0, 0, 0x0E, 4]) + struct.pack(">4I", *[2**32 - 1] * 4)
    _write(tmp_path / "lie", header + bytes(10), compress=True)
    with pytest.raises(ValueError, match=r"holds 10 \(truncated\)"):
        read_idx(tmp_path / "lie")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere"):
        read_idx(tmp_path / "nothere")


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros(3, dtype=np.int64), r"cannot store dtype int64"),
        (np.zeros(3, dtype=bool), r"cannot store dtype bool"),
        (np.float32(1.0), r"1 to 4 dimensions"),
        (np.zeros((1,) * 5, dtype=np.uint8), r"1 to 4 dimensions"),
    ],
)
def test_write_refuses_what_idx_cannot_hold(tmp_path, array, message):
    with pytest.raises(ValueError, match=message):
        write_idx(tmp_path / "x", array)
    assert list(tmp_path.iterdir()) == []


def test_big_endian_and_non_contiguous_input(tmp_path):
    array = np.arange(12, dtype=">i4").reshape(3, 4)[:, ::2]
    write_idx(tmp_path / "a", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


def test_codes_match_the_format(tmp_path):
    for dtype, code in CODES.items():
        write_idx(tmp_path / dtype, np.zeros(1, dtype=dtype))
        assert (tmp_path / dtype).read_bytes()[2] == code
