"""What experiments record and the report reads: results of runs and of recipes.

Below both :mod:`knnvision.experiments` (which fills them) and :mod:`knnvision.report` (which
draws pages from them), so a report never needs the code that ran the experiment.
"""

from .experiment import ExperimentConfig, ExperimentResult
from .recipe import RecipeOptions, RecipeResult, Row, Table

__all__ = ["ExperimentConfig", "ExperimentResult", "RecipeOptions", "RecipeResult", "Row", "Table"]
