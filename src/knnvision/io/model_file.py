"""Model files that are data, never code.

A model file holds the estimator's parameters and fitted state as a JSON header plus raw
arrays, and ends with a checksum of everything before it::

    b"KNNVMDL\\0"                      8 bytes, magic
    format version                     uint32, little-endian
    header length H                    uint64, little-endian
    header                             H bytes of UTF-8 JSON
    array payload                      the arrays' bytes, little-endian, back to back
    sha256                             32 bytes, of all the bytes above

Only knnvision's own estimators (and scikit-learn ``Pipeline`` objects made of them) can be
saved; their state is plain arrays and scalars, and a search index is rebuilt on load rather
than stored. Loading checks the magic, version, checksum and every array's bounds before
building anything, so a truncated, tampered, pickle or foreign file is a clear ``ValueError``.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from .._version import __version__

MAGIC = b"KNNVMDL\0"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sIQ")
_CHECKSUM_BYTES = 32
_MAX_HEADER_BYTES = 16 * 2**20
# Array dtypes a model file may hold: numbers, booleans and fixed-width unicode (labels).
_ALLOWED_DTYPE_KINDS = "biufU"

# The classes a model file may name. A name outside this table is refused, so a file can
# never make the loader construct an arbitrary object. The estimators and transformers add
# themselves (:func:`register_saveable`), so this module, below them, imports none of them;
# ``import knnvision`` imports them all, so the table is full before any file is loaded.
SAVEABLE_ESTIMATORS: dict[str, type[BaseEstimator]] = {}


def register_saveable(cls: type[BaseEstimator]) -> type[BaseEstimator]:
    """Allow model files to hold estimators of ``cls`` (a class decorator).

    The class must keep its fitted state in arrays and plain scalars.
    """
    SAVEABLE_ESTIMATORS[cls.__name__] = cls
    return cls


# --- saving ----------------------------------------------------------------------------------


def save(model: BaseEstimator, path: str | os.PathLike, *, metadata: dict | None = None) -> Path:
    """Write a fitted ``model`` to ``path``; returns the path written.

    Parameters
    ----------
    model : KNNClassifier, KNNRegressor, KNNOutlierDetector or Pipeline of knnvision steps
        A fitted estimator.
    path : str or path-like
        Destination; written atomically (a partial file never replaces a good one).
    metadata : dict, optional
        JSON-serialisable facts to keep with the model (image shape, class names, dataset).
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
        header["arrays"].append(
            {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        )
        offset += array.nbytes
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    body = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes
    digest = hashlib.sha256(body)
    for array in arrays:
        digest.update(array.tobytes())
    return _write_atomically(Path(path), body, arrays, digest.digest())


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
        key: value.item() if isinstance(value, np.generic) else value
        for key, value in model.get_params(deep=False).items()
        if key not in runtime
    }
    for key, value in params.items():
        if callable(value):
            raise ValueError(
                f"Cannot save {name} with {key}={value!r}: model files store data, never "
                f"code. Use a named option (for weights: 'uniform' or 'distance')."
            )
    state = {
        key: _encode_value(value, arrays, f"{name}.{key}")
        for key, value in vars(model).items()
        if key not in params and key not in runtime and key != "_index"
    }
    return {"class": name, "params": _checked_json(params, f"{name} parameters"), "state": state}


def _encode_value(value, arrays: list[np.ndarray], where: str):
    if isinstance(value, np.ndarray):
        if value.dtype == object and all(isinstance(item, str) for item in value.flat):
            value = value.astype(str)  # string labels from pandas arrive as objects
        if value.dtype.kind not in _ALLOWED_DTYPE_KINDS:
            raise ValueError(f"Cannot save {where}: arrays of dtype {value.dtype} are not data.")
        arrays.append(np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")))
        return {"array": len(arrays) - 1}
    if isinstance(value, np.generic):
        value = value.item()
    return {"value": _checked_json(value, where)}


def _checked_json(value, where: str):
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Cannot save {where}: {error}") from None
    return value


def _write_atomically(path: Path, body: bytes, arrays, checksum: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
            for array in arrays:
                out.write(array.tobytes())
            out.write(checksum)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# --- loading ---------------------------------------------------------------------------------


def read_header(path: str | os.PathLike) -> dict:
    """The verified JSON header of a model file (parameters, metadata, versions)."""
    header, _ = _read_verified(Path(path))
    return header


def load(path: str | os.PathLike) -> BaseEstimator:
    """Read a model written by :func:`save`; its ``metadata_`` attribute holds the metadata.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a knnvision model file, is truncated or has been altered.
    """
    path = Path(path)
    header, payload = _read_verified(path)
    arrays = _arrays_from_payload(header, payload, path)
    try:
        model = _build(header["model"], arrays)
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(f"{path} is a damaged knnvision model file ({error!r}).") from None
    model.metadata_ = header.get("metadata", {})
    return model


def _read_verified(path: Path) -> tuple[dict, memoryview]:
    if not path.is_file():
        raise FileNotFoundError(f"Model file not found: {path}")
    data = path.read_bytes()
    _check_magic(data, path)
    _, version, header_length = _PREAMBLE.unpack_from(data)
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in model format {version}, newer than this knnvision "
            f"({__version__}) reads (format {FORMAT_VERSION}); upgrade knnvision."
        )
    header_end = _PREAMBLE.size + header_length
    if header_length > _MAX_HEADER_BYTES or header_end + _CHECKSUM_BYTES > len(data):
        raise ValueError(f"{path} is truncated or damaged: its header runs past the file end.")
    if hashlib.sha256(data[:-_CHECKSUM_BYTES]).digest() != data[-_CHECKSUM_BYTES:]:
        raise ValueError(
            f"{path} failed its checksum: the file is truncated or was altered after saving."
        )
    try:
        header = json.loads(data[_PREAMBLE.size : header_end].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path} has an unreadable header; it is damaged.") from None
    if not isinstance(header, dict) or header.get("format") != "knnvision-model":
        raise ValueError(f"{path} is not a knnvision model file.")
    return header, memoryview(data)[header_end : len(data) - _CHECKSUM_BYTES]


def _check_magic(data: bytes, path: Path) -> None:
    if data[: len(MAGIC)] == MAGIC and len(data) >= _PREAMBLE.size + _CHECKSUM_BYTES:
        return
    if data[:1] == b"\x80" or data[:2] in (b"cc", b"(d", b"(l"):
        kind = "it looks like a Python pickle, which knnvision never loads"
    elif data[:2] == b"PK":
        kind = "it looks like a zip/npz archive"
    elif data[: len(MAGIC)] == MAGIC:
        kind = "it is truncated"
    else:
        kind = "it does not start with the knnvision model signature"
    raise ValueError(
        f"{path} is not a knnvision model file ({kind}). Save models with knnvision.save "
        "or `knnvision fit`."
    )


def _arrays_from_payload(header: dict, payload: memoryview, path: Path) -> list[np.ndarray]:
    arrays = []
    for entry in header.get("arrays", []):
        try:
            dtype = np.dtype(entry["dtype"])
            shape = tuple(int(n) for n in entry["shape"])
            offset = int(entry["offset"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path} describes an array it cannot hold; it is damaged.") from None
        if dtype.kind not in _ALLOWED_DTYPE_KINDS or dtype.hasobject:
            raise ValueError(f"{path} holds an array of dtype {dtype}, which is not data.")
        count = int(np.prod(shape, dtype=np.int64))
        end = offset + count * dtype.itemsize
        if min(shape, default=0) < 0 or offset < 0 or end > len(payload):
            raise ValueError(f"{path} is truncated or damaged: an array runs past the file end.")
        flat = np.frombuffer(payload[offset:end], dtype=dtype, count=count)
        arrays.append(flat.reshape(shape).astype(dtype.newbyteorder("="), copy=True))
    return arrays


def _build(description: dict, arrays: list[np.ndarray]) -> BaseEstimator:
    name = description["class"]
    if name == "Pipeline":
        return Pipeline([(step, _build(part, arrays)) for step, part in description["steps"]])
    if name not in SAVEABLE_ESTIMATORS:
        raise ValueError(f"A model file names class {name!r}, which knnvision does not load.")
    model = SAVEABLE_ESTIMATORS[name](**description["params"])
    state = {key: _decode_value(item, arrays) for key, item in description["state"].items()}
    model.__setstate__(state)  # also rebuilds the search index
    return model


def _decode_value(item: dict, arrays: list[np.ndarray]):
    return arrays[item["array"]] if "array" in item else item["value"]
