"""Whole experiments: ``knnvision run``, its presets, the tutorials' recipes, the benchmark.

- :mod:`.run`: :func:`run_experiment` (load -> split -> tune -> evaluate -> save, report).
- :mod:`.presets`: named models per dataset (``--preset best``), tuned on validation splits.
- :mod:`.recipes`: each tutorial's experiment, its numbers next to the tutorial's.
- :mod:`.bench`: ``knnvision bench``, the search against scikit-learn and faiss.

What an experiment records lives below, in :mod:`knnvision.results`, for the report to read.
"""

from ..results.experiment import ExperimentConfig, ExperimentResult
from .run import run_experiment

__all__ = ["ExperimentConfig", "ExperimentResult", "run_experiment"]
