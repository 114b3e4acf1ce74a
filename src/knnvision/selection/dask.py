"""Model selection on a Dask cluster: the folds and searches of a grid spread over workers.

:class:`~knnvision.KNNSearchCV` (and ``knnvision run``) score a grid with one neighbour
search per fold and per search setting (a distance, say), at the largest k. When the
classifier being tuned has ``backend="dask"``, each of those (fold, search) pairs becomes a
Dask task, and so does each fold's preprocessing (a PCA fitted on the training part), which
the fold's searches then share on the worker. The data are sent to every worker once.
Tasks run the ordinary single-machine code (``knnvision.selection.search_cv``'s own scoring), so
the scores are exactly those of the local path; Dask re-runs a task lost with a worker.
"""

from __future__ import annotations

import time

import distributed
import numpy as np
from sklearn.base import clone

from .. import progress
from ..search.dask.cluster import get_client, one_thread_per_task
from .grid_scoring import (
    GridPlan,
    SplitScores,
    as_array,
    classifier_prefix,
    preprocess_fold,
    score_group,
)


def on_dask(estimator, scheduler: str | None):
    """A copy of ``estimator`` (a KNNClassifier or a Pipeline ending in one) that searches, and
    is tuned by :class:`~knnvision.KNNSearchCV`, on the Dask cluster ``scheduler`` (an address,
    ``"local"`` or ``None``, as for :func:`knnvision.search.dask.get_client`)."""
    return _with_classifier_params(estimator, backend="dask", scheduler=scheduler)


def _with_classifier_params(estimator, **params):
    prefix = classifier_prefix(estimator)
    return clone(estimator).set_params(**{prefix + key: value for key, value in params.items()})


def grid_fold_scores_on_dask(estimator, candidates: list[dict], X, y, folds, description: str):
    """``(scores, fit_times, score_times)``, each ``(n_candidates, n_folds)``, computed on Dask.

    The cluster is the one named by the classifier's ``scheduler`` parameter. On the workers
    the classifier searches locally, one thread per task.
    """
    client = get_client(GridPlan.classifier(estimator).scheduler)
    plan = GridPlan(
        _with_classifier_params(estimator, backend="local", scheduler=None, n_jobs=1), candidates
    )
    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    # Every worker gets the data once, kept until the end: a task lost with a worker is re-run
    # from the copies left.
    data = client.scatter(as_array(X), broadcast=True, hash=False)
    futures = _submit_folds(client, plan, data, codes, folds, len(candidates), len(classes))
    parts = [SplitScores(*(np.zeros(len(candidates)) for _ in range(3))) for _ in folds]
    with progress.track(total=len(futures), description=description) as task:
        done = distributed.as_completed(futures, loop=client.loop, with_results=True)
        for future, result in done:
            part = parts[futures[future]]
            for name in ("scores", "fit_times", "score_times"):
                getattr(part, name)[:] += getattr(result, name)  # each group fills its own rows
            task.advance()
    return tuple(
        np.stack([getattr(p, name) for p in parts], axis=1)
        for name in ("scores", "fit_times", "score_times")
    )


def _submit_folds(client, plan, data, codes, folds, n_candidates, n_classes) -> dict:
    """One task per (fold, preprocessing) and one per (fold, search); returns
    ``{search future: fold}``."""
    futures = {}
    for fold, (train, test) in enumerate(folds):
        for bundle in plan.prefix_sets():
            features = client.submit(
                _fold_features, plan.configured(bundle[0]), data, codes, train, test, pure=False
            )
            for group in bundle:
                future = client.submit(
                    _group_scores,
                    plan,
                    group,
                    features,
                    n_candidates,
                    len(bundle),
                    n_classes,
                    pure=False,
                )
                futures[future] = fold
    return futures


def _fold_features(configured, X, codes, train, test):
    """The fold's (train features, train codes, test features, test codes, seconds)."""
    started = time.perf_counter()
    with one_thread_per_task():
        train_features, test_features = preprocess_fold(configured, X[train], codes[train], X[test])
    return train_features, codes[train], test_features, codes[test], time.perf_counter() - started


def _group_scores(plan, group, features, n_candidates, bundle_size, n_classes) -> SplitScores:
    """Scores of one group's candidates on one fold, zero elsewhere."""
    train_features, y_train, test_features, y_test, prefix_seconds = features
    result = SplitScores(*(np.zeros(n_candidates) for _ in range(3)))
    with one_thread_per_task():
        score_group(
            plan,
            group,
            train_features,
            y_train,
            test_features,
            y_test,
            n_classes,
            prefix_seconds / bundle_size,
            result,
        )
    return result
