"""Reading and writing knnvision's own files."""

from .model_file import (
    SKOPS_TRUSTED_TYPES,
    load,
    read_header,
    register_saveable,
    save,
    shown_params,
)

__all__ = [
    "SKOPS_TRUSTED_TYPES",
    "load",
    "read_header",
    "register_saveable",
    "save",
    "shown_params",
]
