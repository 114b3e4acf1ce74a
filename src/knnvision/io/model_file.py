"""Model files that are data, never code.

A model file holds the estimator's parameters and fitted state as a JSON header plus raw
arrays, and ends with a checksum of everything before it. Format 2, written today::

    b"KNNVMDL\\0"                      8 bytes, magic
    format version                     uint32, little-endian (2)
    header length H                    uint64, little-endian
    header                             H bytes of UTF-8 JSON, padded with spaces so that the
                                       payload starts at a multiple of 64 bytes
    array payload                      the arrays' bytes, little-endian, each at its header
                                       "offset" (a multiple of 64 from the payload start),
                                       zero bytes between them
    sha256                             32 bytes, of all the bytes above

Format 1 (knnvision before issue 15) is the same without the padding: arrays back to back;
it is still read, every array copied, as before.

The header's ``"model"`` describes the estimator: ``"class"``, ``"params"`` (what
``get_params`` returns) and ``"state"`` (its fitted attributes), or ``"steps"`` for a
``Pipeline``. A value that JSON holds exactly (a string, bool, int, finite float, None, or a
list of those) is written as it is; anything else as a JSON object tagging what it is:
``{"array": i}`` (the i-th array of the payload), ``{"sparse": "csr" | "csc", ...}`` (a SciPy
CSR/CSC matrix or array, from three payload arrays), ``{"float": "nan" | "inf" | "-inf"}``,
``{"list": [...]}``, ``{"tuple": [...]}``, ``{"dict": {...}}`` (string keys), ``{"dtype": str}``
and ``{"estimator": {...}}`` (a saveable estimator held in the state). Every state entry is
such an object, ``{"value": v}`` for a plain one. Anything else (a function, a class, an
arbitrary object) cannot be saved: a ``ValueError`` names the attribute.

Only knnvision's own estimators (and scikit-learn ``Pipeline`` objects made of them) can be
saved; a search index is rebuilt on load rather than stored. Loading checks the magic, version,
the checksum (read in 1 MiB chunks, so checking takes bounded memory) and every array's bounds
before building anything, so a truncated, tampered, pickle or foreign file is a clear
``ValueError``.

**Large models are mapped, not copied.** In a format-2 file, an array of 1 MiB or more (the
training rows) is a read-only view of a memory map of the file, so loading needs almost no
memory of its own and the operating system pages the rows in as the search reads them. Smaller
arrays are copied. Keep the file in place, unchanged, while a model loaded from it is in use:
:func:`save` never rewrites a file in place (it writes a new one and renames it), and on
Windows a mapped file cannot be deleted or replaced until the model is gone.

**skops.** knnvision's estimators also round-trip through ``skops.io.dump`` / ``skops.io.load``
(the search index is rebuilt by ``__setstate__``). skops asks the user to trust each type it
does not know; for knnvision models (and Pipelines of them) those are among the types in
:data:`SKOPS_TRUSTED_TYPES`: the qualified names of the saveable classes (for example
``"knnvision.neighbors.classifier.KNNClassifier"``) and of SciPy's CSR/CSC matrices and
arrays (for example ``"scipy.sparse._csr.csr_matrix"``), held by a model fitted on sparse rows
or a precomputed neighbours graph::

    skops.io.load(path, trusted=knnvision.io.SKOPS_TRUSTED_TYPES)
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import struct
import tempfile
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from .._version import __version__

MAGIC = b"KNNVMDL\0"
FORMAT_VERSION = 2
_PREAMBLE = struct.Struct("<8sIQ")
_CHECKSUM_BYTES = 32
_MAX_HEADER_BYTES = 16 * 2**20
# Array dtypes a model file may hold: numbers, booleans and fixed-width unicode (labels).
_ALLOWED_DTYPE_KINDS = "biufU"
# Format 2 starts the payload and every array at a multiple of this many bytes, so that a
# mapped array is aligned for any dtype (and for SIMD loads).
_ALIGNMENT = 64
# Arrays at least this large are mapped from the file when loaded; smaller ones are copied.
_MAP_MIN_BYTES = 2**20
# The checksum is computed over chunks of this size, so verifying takes bounded memory.
_CHUNK_BYTES = 2**20
_SPARSE_FORMATS = {
    ("csr", "matrix"): sparse.csr_matrix,
    ("csr", "array"): sparse.csr_array,
    ("csc", "matrix"): sparse.csc_matrix,
    ("csc", "array"): sparse.csc_array,
}
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}

# The classes a model file may name. A name outside this table is refused, so a file can
# never make the loader construct an arbitrary object. The estimators and transformers add
# themselves (:func:`register_saveable`), so this module, below them, imports none of them;
# ``import knnvision`` imports them all, so the table is full before any file is loaded.
SAVEABLE_ESTIMATORS: dict[str, type[BaseEstimator]] = {}

#: The types to pass as ``trusted=`` to ``skops.io.load`` for a knnvision model or a Pipeline
#: of knnvision steps: SciPy's CSR/CSC classes (sparse training rows, precomputed graphs),
#: which skops does not trust by default, and every saveable class (added as they register).
SKOPS_TRUSTED_TYPES: list[str] = [
    f"{kind.__module__}.{kind.__qualname__}" for kind in _SPARSE_FORMATS.values()
]


def register_saveable(cls: type[BaseEstimator]) -> type[BaseEstimator]:
    """Allow model files to hold estimators of ``cls`` (a class decorator).

    The class's fitted state (its ``__getstate__``, without the parameters) must be data:
    arrays, SciPy CSR/CSC matrices, numbers, strings, None, and lists, tuples and dicts of
    them. Its qualified name joins :data:`SKOPS_TRUSTED_TYPES`.
    """
    SAVEABLE_ESTIMATORS[cls.__name__] = cls
    qualified_name = f"{cls.__module__}.{cls.__qualname__}"
    if qualified_name not in SKOPS_TRUSTED_TYPES:
        SKOPS_TRUSTED_TYPES.append(qualified_name)
    return cls


# --- saving ----------------------------------------------------------------------------------


def save(model: BaseEstimator, path: str | os.PathLike, *, metadata: dict | None = None) -> Path:
    """Write a fitted ``model`` to ``path``; returns the path written.

    Parameters
    ----------
    model : knnvision estimator or Pipeline of knnvision steps
        A fitted estimator of a class in ``SAVEABLE_ESTIMATORS``.
    path : str or path-like
        Destination; written atomically (a partial file never replaces a good one).
    metadata : dict, optional
        JSON-serialisable facts to keep with the model (image shape, class names, dataset).

    Raises
    ------
    ValueError
        If ``model`` is not a knnvision estimator, or holds something that is not data (a
        callable metric or weights, say); the message names the attribute.
    """
    arrays: list[np.ndarray] = []
    header = {
        "format": "knnvision-model",
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model": _describe(model, arrays),
        "metadata": _checked_json(metadata or {}, "metadata"),
        "arrays": [],
    }
    offset = 0
    for array in arrays:
        offset = _aligned(offset)
        header["arrays"].append(
            {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        )
        offset += array.nbytes
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    unpadded_end = _PREAMBLE.size + len(header_bytes)
    header_bytes += b" " * (_aligned(unpadded_end) - unpadded_end)  # JSON ignores the spaces
    chunks: list[bytes | memoryview] = [
        _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes
    ]
    written = 0
    for array, entry in zip(arrays, header["arrays"], strict=True):
        chunks.append(b"\0" * (entry["offset"] - written))
        chunks.append(array.reshape(-1).view(np.uint8).data)  # the bytes, not a copy
        written = entry["offset"] + array.nbytes
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return _write_atomically(Path(path), [*chunks, digest.digest()])


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGNMENT) * _ALIGNMENT


def _describe(model, arrays: list[np.ndarray]) -> dict:
    """JSON description of ``model``; its arrays are appended to ``arrays`` and referenced."""
    if isinstance(model, Pipeline):
        return {
            "class": "Pipeline",
            "steps": [[name, _describe(step, arrays)] for name, step in model.steps],
        }
    name = type(model).__name__
    if SAVEABLE_ESTIMATORS.get(name) is not type(model):
        raise ValueError(
            f"Cannot save a {name}: model files hold knnvision estimators only "
            f"({', '.join(sorted(SAVEABLE_ESTIMATORS))}, or a Pipeline of them)."
        )
    # Where the search ran (a Dask scheduler, say) is no part of the model: left out.
    runtime = getattr(model, "_RUNTIME_PARAMS", ())
    params = {
        key: value for key, value in model.get_params(deep=False).items() if key not in runtime
    }
    for key, value in params.items():
        if callable(value):
            raise ValueError(
                f"Cannot save {name} with {key}={value!r}: model files store data, never "
                f"code. Use a named option (a metric's name; weights 'uniform' or 'distance')."
            )
    # The class's own __getstate__ says what its state is (the search index is left out).
    state = {
        key: _as_tag(_encode_value(value, arrays, f"{name}.{key}"))
        for key, value in model.__getstate__().items()
        if key not in params and key not in runtime and key != "_index"
    }
    encoded_params = {
        key: _encode_value(value, arrays, f"{name}.{key}") for key, value in params.items()
    }
    return {"class": name, "params": encoded_params, "state": state}


def _encode_value(value, arrays: list[np.ndarray], where: str):
    """``value`` as JSON: itself when JSON holds it exactly, else a tagged JSON object (see
    the module docstring); arrays are appended to ``arrays``."""
    if isinstance(value, np.generic):
        value = value.item()
    if _is_plain(value):
        return value
    if isinstance(value, float):  # NaN or an infinity: not in strict JSON
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, np.ndarray):
        return {"array": _add_array(value, arrays, where)}
    if sparse.issparse(value):
        return _encode_sparse(value, arrays, where)
    if isinstance(value, list | tuple):
        items = [_encode_value(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]
        return {"tuple" if isinstance(value, tuple) else "list": items}
    if isinstance(value, dict):
        return {"dict": _encode_dict(value, arrays, where)}
    if isinstance(value, np.dtype):
        return {"dtype": _check_data_dtype(value, where).str}
    if isinstance(value, BaseEstimator):
        return {"estimator": _describe(value, arrays)}
    if callable(value):
        raise ValueError(
            f"Cannot save {where} ({value!r}): it is code, and model files store data, never code."
        )
    raise ValueError(
        f"Cannot save {where}: a {type(value).__name__} is not data a model file holds "
        f"(arrays, CSR/CSC matrices, numbers, strings, None, and lists, tuples and dicts of them)."
    )


def _is_plain(value) -> bool:
    """Whether JSON holds ``value`` exactly (the same type and value come back)."""
    if value is None or type(value) in (str, bool, int):
        return True
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is list and all(_is_plain(item) for item in value)


def _as_tag(encoded):
    """A state entry is always a JSON object: plain values are wrapped as ``{"value": v}``."""
    return encoded if isinstance(encoded, dict) else {"value": encoded}


def _add_array(value: np.ndarray, arrays: list[np.ndarray], where: str) -> int:
    if value.dtype == object and all(isinstance(item, str) for item in value.flat):
        value = value.astype(str)  # string labels from pandas arrive as objects
    _check_data_dtype(value.dtype, where)
    arrays.append(np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")))
    return len(arrays) - 1


def _check_data_dtype(dtype: np.dtype, where: str) -> np.dtype:
    if dtype.kind not in _ALLOWED_DTYPE_KINDS or dtype.hasobject:
        raise ValueError(f"Cannot save {where}: arrays of dtype {dtype} are not data.")
    return dtype


def _encode_sparse(value, arrays: list[np.ndarray], where: str) -> dict:
    container = "array" if isinstance(value, sparse.sparray) else "matrix"
    if (value.format, container) not in _SPARSE_FORMATS:
        raise ValueError(
            f"Cannot save {where}: a {value.format.upper()} sparse {container}; model files "
            "hold CSR and CSC (convert it with .tocsr())."
        )
    return {
        "sparse": value.format,
        "container": container,
        "shape": [int(n) for n in value.shape],
        **{
            part: _add_array(getattr(value, part), arrays, f"{where}.{part}")
            for part in ("data", "indices", "indptr")
        },
    }


def _encode_dict(value: dict, arrays: list[np.ndarray], where: str) -> dict:
    encoded = {}
    for key, item in value.items():
        if type(key) is not str:
            raise ValueError(
                f"Cannot save {where}: its key {key!r} is not a string (model files hold "
                "dicts with string keys)."
            )
        encoded[key] = _encode_value(item, arrays, f"{where}[{key!r}]")
    return encoded


def _checked_json(value, where: str):
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Cannot save {where}: {error}") from None
    return value


def _write_atomically(path: Path, chunks: list[bytes | memoryview]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Payload:
    """Where a verified file's arrays lie: ``length`` bytes from byte ``start`` of ``file``."""

    file: BufferedReader
    path: Path
    version: int
    start: int
    length: int


def read_header(path: str | os.PathLike) -> dict:
    """The verified JSON header of a model file (parameters, metadata, versions)."""
    path = _existing(path)
    with path.open("rb") as file:
        header, _ = _read_verified(file, path)
    return header


def shown_params(description: dict) -> dict:
    """The parameters of one model description of a header, as values to show a person
    (``knnvision info``): tuples as lists, NaN and infinities as floats; arrays, sparse
    matrices and estimators, which live in the payload, as ``"<array>"`` and the like."""
    return {key: _shown(value) for key, value in description.get("params", {}).items()}


def _shown(item):
    if not isinstance(item, dict):
        return item
    if "value" in item:
        return item["value"]
    if "float" in item:
        return _SPECIAL_FLOATS.get(item["float"])
    if "list" in item or "tuple" in item:
        return [_shown(part) for part in item.get("list", item.get("tuple", []))]
    if "dict" in item:
        return {key: _shown(part) for key, part in item["dict"].items()}
    return f"<{next(iter(item))}>"


def load(path: str | os.PathLike) -> BaseEstimator:
    """Read a model written by :func:`save`; its ``metadata_`` attribute holds the metadata.

    Large arrays (the training rows) are read-only views of a memory map of the file (see
    the module docstring), so loading takes little memory beyond the search index.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a knnvision model file, is truncated or has been altered.
    """
    path = _existing(path)
    with path.open("rb") as file:
        header, payload = _read_verified(file, path)
        arrays = _arrays_from_payload(header, payload)
    try:
        model = _build(header["model"], arrays, payload.version)
    except (KeyError, TypeError, IndexError, AttributeError) as error:
        raise ValueError(f"{path} is a damaged knnvision model file ({error!r}).") from None
    model.metadata_ = header.get("metadata", {})
    return model


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Model file not found: {path}")
    return path


def _read_verified(file: BufferedReader, path: Path) -> tuple[dict, _Payload]:
    size = os.fstat(file.fileno()).st_size
    start = file.read(_PREAMBLE.size + _CHECKSUM_BYTES)
    _check_magic(start, path)
    _, version, header_length = _PREAMBLE.unpack_from(start)
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in model format {version}, newer than this knnvision "
            f"({__version__}) reads (format {FORMAT_VERSION}); upgrade knnvision."
        )
    header_end = _PREAMBLE.size + header_length
    if header_length > _MAX_HEADER_BYTES or header_end + _CHECKSUM_BYTES > size:
        raise ValueError(f"{path} is truncated or damaged: its header runs past the file end.")
    if not _checksum_matches(file, size):
        raise ValueError(
            f"{path} failed its checksum: the file is truncated or was altered after saving."
        )
    file.seek(_PREAMBLE.size)
    try:
        header = json.loads(file.read(header_length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path} has an unreadable header; it is damaged.") from None
    if not isinstance(header, dict) or header.get("format") != "knnvision-model":
        raise ValueError(f"{path} is not a knnvision model file.")
    return header, _Payload(file, path, version, header_end, size - _CHECKSUM_BYTES - header_end)


def _checksum_matches(file: BufferedReader, size: int) -> bool:
    """Whether the file's last 32 bytes are the sha256 of the rest, read in bounded chunks."""
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(_CHUNK_BYTES))
    file.seek(0)
    remaining = size - _CHECKSUM_BYTES
    while remaining > 0:
        count = file.readinto(buffer[: min(_CHUNK_BYTES, remaining)])
        if not count:
            return False  # the file shrank while being read
        digest.update(buffer[:count])
        remaining -= count
    return digest.digest() == file.read(_CHECKSUM_BYTES)


def _check_magic(start: bytes, path: Path) -> None:
    if start[: len(MAGIC)] == MAGIC and len(start) >= _PREAMBLE.size + _CHECKSUM_BYTES:
        return
    if start[:1] == b"\x80" or start[:2] in (b"cc", b"(d", b"(l"):
        kind = "it looks like a Python pickle, which knnvision never loads"
    elif start[:2] == b"PK":
        kind = "it looks like a zip/npz archive"
    elif start[: len(MAGIC)] == MAGIC:
        kind = "it is truncated"
    else:
        kind = "it does not start with the knnvision model signature"
    raise ValueError(
        f"{path} is not a knnvision model file ({kind}). Save models with knnvision.save "
        "or `knnvision fit`."
    )


def _arrays_from_payload(header: dict, payload: _Payload) -> list[np.ndarray]:
    """Every array of the header, bounds-checked: large ones mapped, the others copied."""
    arrays = []
    mapping = None
    for entry in header.get("arrays", []):
        dtype, shape, offset = _array_entry(entry, payload.path)
        count = int(np.prod(shape, dtype=np.int64))
        end = offset + count * dtype.itemsize
        if min(shape, default=0) < 0 or offset < 0 or end > payload.length:
            raise ValueError(
                f"{payload.path} is truncated or damaged: an array runs past the file end."
            )
        if _is_mappable(dtype, count, payload.start + offset, payload.version):
            if mapping is None:
                mapping = mmap.mmap(payload.file.fileno(), 0, access=mmap.ACCESS_READ)
            flat = np.frombuffer(mapping, dtype, count, offset=payload.start + offset)
        else:
            flat = _read_copy(payload, offset, dtype, count)
        arrays.append(flat.reshape(shape))
    return arrays


def _array_entry(entry, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    try:
        dtype = np.dtype(entry["dtype"])
        shape = tuple(int(n) for n in entry["shape"])
        offset = int(entry["offset"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path} describes an array it cannot hold; it is damaged.") from None
    if dtype.kind not in _ALLOWED_DTYPE_KINDS or dtype.hasobject:
        raise ValueError(f"{path} holds an array of dtype {dtype}, which is not data.")
    return dtype, shape, offset


def _is_mappable(dtype: np.dtype, count: int, file_offset: int, version: int) -> bool:
    """Format-2 arrays of at least 1 MiB, aligned and in this machine's byte order."""
    return (
        version >= 2
        and count * dtype.itemsize >= _MAP_MIN_BYTES
        and dtype.isnative
        and file_offset % dtype.alignment == 0
    )


def _read_copy(payload: _Payload, offset: int, dtype: np.dtype, count: int) -> np.ndarray:
    """A fresh, writable array of the bytes at ``offset``, in this machine's byte order."""
    array = np.empty(count, dtype=dtype)
    payload.file.seek(payload.start + offset)
    if payload.file.readinto(array.view(np.uint8).data) != array.nbytes:
        raise ValueError(f"{payload.path} changed while it was being read; load it again.")
    return array.astype(dtype.newbyteorder("="), copy=False)


def _build(description: dict, arrays: list[np.ndarray], version: int) -> BaseEstimator:
    name = description["class"]
    if name == "Pipeline":
        return Pipeline(
            [(step, _build(part, arrays, version)) for step, part in description["steps"]]
        )
    if name not in SAVEABLE_ESTIMATORS:
        raise ValueError(f"A model file names class {name!r}, which knnvision does not load.")
    params = description["params"]
    if version >= 2:  # format 1 wrote plain JSON parameters
        params = {key: _decode_value(value, arrays, version) for key, value in params.items()}
    model = SAVEABLE_ESTIMATORS[name](**params)
    state = {
        key: _decode_value(item, arrays, version) for key, item in description["state"].items()
    }
    model.__setstate__(state)  # also rebuilds the search index
    return model


def _decode_value(item, arrays: list[np.ndarray], version: int):
    """The value :func:`_encode_value` wrote as ``item``."""
    if not isinstance(item, dict):
        return item
    if "value" in item:
        return item["value"]
    if "array" in item:
        return arrays[item["array"]]
    if "float" in item:
        return _SPECIAL_FLOATS[item["float"]]
    if "list" in item:
        return [_decode_value(part, arrays, version) for part in item["list"]]
    if "tuple" in item:
        return tuple(_decode_value(part, arrays, version) for part in item["tuple"])
    if "dict" in item:
        return {key: _decode_value(part, arrays, version) for key, part in item["dict"].items()}
    if "sparse" in item:
        return _decode_sparse(item, arrays)
    if "dtype" in item:
        return _check_data_dtype(np.dtype(item["dtype"]), "a model file's dtype")
    if "estimator" in item:
        return _build(item["estimator"], arrays, version)
    raise ValueError(f"A model file holds a value it cannot read (tagged {sorted(item)}).")


def _decode_sparse(item: dict, arrays: list[np.ndarray]):
    """A CSR/CSC matrix from its three arrays, its indices checked before it is used."""
    kind = _SPARSE_FORMATS[(item["sparse"], item["container"])]
    data, indices, indptr = (arrays[item[part]] for part in ("data", "indices", "indptr"))
    try:
        matrix = kind((data, indices, indptr), shape=tuple(int(n) for n in item["shape"]))
        matrix.check_format(full_check=True)
    except ValueError as error:
        raise ValueError(f"A model file holds a damaged sparse matrix ({error}).") from None
    # SciPy narrows int64 indices that fit in int32; keep the saved ones (checked above).
    matrix.indices, matrix.indptr = indices, indptr
    return matrix
