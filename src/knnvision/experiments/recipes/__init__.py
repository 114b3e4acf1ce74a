"""The tutorials' experiments as recipes: each one command, its numbers next to the tutorial's.

>>> from knnvision.experiments.recipes import RECIPES, run_recipe
>>> sorted(RECIPES)
['digits-grid', 'digits-quickstart', 'fashion-pca', 'mnist-subset', 'toy-regression']
>>> result = run_recipe("toy-regression")

``knnvision recipe NAME`` runs one and prints it; ``knnvision recipe --list`` lists them.
Recipes that need MNIST or Fashion-MNIST find the files as
:func:`~knnvision.datasets.load_dataset` does (``data_dir``, ``$KNNVISION_DATA``, the user
cache, system folders, then a verified download).
"""

from __future__ import annotations

from ...results.recipe import RecipeOptions, RecipeResult, Row, Table
from . import digits_grid, digits_quickstart, fashion_pca, mnist_subsets, toy_regression
from ._recipe import Recipe

__all__ = ["RECIPES", "Recipe", "RecipeOptions", "RecipeResult", "Row", "Table", "run_recipe"]

#: Every recipe by name, in the order of the tutorials.
RECIPES: dict[str, Recipe] = {
    module.RECIPE.name: module.RECIPE
    for module in (fashion_pca, digits_grid, mnist_subsets, digits_quickstart, toy_regression)
}


def run_recipe(name: str, options: RecipeOptions | None = None) -> RecipeResult:
    """Run the recipe called ``name``.

    Raises
    ------
    ValueError
        If no recipe has that name (the message lists them).
    FileNotFoundError
        If the recipe needs MNIST / Fashion-MNIST files that cannot be found or downloaded.
    """
    if name not in RECIPES:
        raise ValueError(
            f"No recipe named {name!r}; choose one of {', '.join(RECIPES)} "
            "(`knnvision recipe --list` describes them)."
        )
    return RECIPES[name].run(options or RecipeOptions())
