"""Reading and writing knnvision's own files."""

from .model_file import load, read_header, register_saveable, save

__all__ = ["load", "read_header", "register_saveable", "save"]
