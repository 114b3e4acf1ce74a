"""Each tutorial's scikit-learn code, run with its scikit-learn neighbours import changed to
knnvision, gives the tutorial's numbers.

The code is that of ``../shared/reference/00*.txt``. Where the scrape lost pieces (the
arguments of ``train_test_split`` and of each ``.fit`` call, ``best_k = ...``), they are
filled in with the obvious ones and marked ``# reconstructed``. Tutorials 000 and 004 use no
scikit-learn (a NumPy KNN from scratch); their experiments are in
``knnvision.experiments.recipes`` and ``tests/test_recipes.py``.
"""

import joblib
import numpy as np
import pytest

from knnvision.datasets import load_dataset, subsample
from optional_parts import require_dataset

# --- tutorial 001: digits, KNN with a kd-tree, grid search over k and p ---------------------

TUTORIAL_001 = """
from sklearn import datasets
digits_datset = datasets.load_digits()

from sklearn.model_selection import train_test_split
(train_data, test_data, train_labels, test_labels) = train_test_split(
    digits_datset.data, digits_datset.target, test_size=0.2, random_state=1337)  # reconstructed

from sklearn.neighbors import KNeighborsClassifier
model = KNeighborsClassifier(n_neighbors=20, algorithm='kd_tree', p=2)
model.fit(train_data, train_labels)  # reconstructed

from sklearn.metrics import accuracy_score
test_predictions = model.predict(test_data)
accuracy = accuracy_score(test_labels, test_predictions)

import pickle
with open('model.pkl','wb') as f:
    pickle.dump(model, f)
with open('model.pkl','rb') as f:
    loaded_model = pickle.load(f)
"""

TUTORIAL_001_GRID = """
from sklearn.model_selection import GridSearchCV
import numpy as np
parameters = {'n_neighbors': np.arange(2, 20, 2), 'p': np.arange(1, 4, 1)}
model = KNeighborsClassifier(algorithm='kd_tree')
grid_search_model = GridSearchCV(model, parameters, scoring='accuracy', n_jobs=-1)
grid_search_model.fit(train_data, train_labels)  # reconstructed

test_predictions = grid_search_model.predict(test_data)
accuracy = accuracy_score(test_labels, test_predictions)
"""

# The one import changed: knnvision's classifier under the tutorial's name.
SKLEARN_CLASSIFIER = "from sklearn.neighbors import KNeighborsClassifier"
KNNVISION_CLASSIFIER = "from knnvision import KNNClassifier as KNeighborsClassifier"


def run_tutorial(source: str, replacements=(), namespace=None) -> dict:
    """Execute tutorial code after the given ``(old, new)`` replacements (each ``old``
    must occur exactly once), in ``namespace``; returns the namespace."""
    for old, new in replacements:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    namespace = {} if namespace is None else namespace
    exec(compile(source, "<tutorial>", "exec"), namespace)  # noqa: S102  (our own test code)
    return namespace


def percent(fraction: float) -> float:
    """As the tutorials print it: a percentage with two decimals."""
    return round(100 * float(fraction), 2)


@pytest.fixture
def tutorial_001(tmp_path, monkeypatch):
    """Tutorial 001's first part run on knnvision (it pickles into the working folder)."""
    monkeypatch.chdir(tmp_path)
    return run_tutorial(TUTORIAL_001, [(SKLEARN_CLASSIFIER, KNNVISION_CLASSIFIER)])


def test_tutorial_001_kd_tree_k20_scores_96_94_percent(tutorial_001, tmp_path, monkeypatch):
    from knnvision import KNNClassifier  # noqa: PLC0415

    ours = tutorial_001
    assert isinstance(ours["model"], KNNClassifier)
    assert ours["model"].effective_algorithm_ == "kd_tree"
    assert percent(ours["accuracy"]) == 96.94
    np.testing.assert_array_equal(
        ours["loaded_model"].predict(ours["test_data"]), ours["test_predictions"]
    )
    (tmp_path / "scikit-learn").mkdir()
    monkeypatch.chdir(tmp_path / "scikit-learn")  # its own model.pkl
    theirs = run_tutorial(TUTORIAL_001)
    np.testing.assert_array_equal(ours["test_predictions"], theirs["test_predictions"])


def test_tutorial_001_grid_with_numpy_ranges_finds_k2_p2_in_grid_search_cv(tutorial_001):
    # The code is unchanged; joblib runs its n_jobs=-1 workers as threads here rather than
    # processes, which would each start and import knnvision on a small machine.
    with joblib.parallel_backend("threading"):
        ours = run_tutorial(TUTORIAL_001_GRID, namespace=tutorial_001)
    search = ours["grid_search_model"]
    assert len(search.cv_results_["params"]) == 27
    assert not np.isnan(search.cv_results_["mean_test_score"]).any()  # no fit failed
    assert search.best_params_ == {"n_neighbors": 2, "p": 2}
    assert percent(search.best_score_) == 98.33
    assert percent(ours["accuracy"]) == 98.33


def test_tutorial_001_grid_runs_unchanged_through_knn_search_cv(tutorial_001):
    knn_search = "from knnvision import KNNSearchCV as GridSearchCV"
    ours = run_tutorial(
        TUTORIAL_001_GRID,
        [("from sklearn.model_selection import GridSearchCV", knn_search)],
        namespace=tutorial_001,
    )
    search = ours["grid_search_model"]
    assert type(search).__name__ == "KNNSearchCV"
    assert search.best_params_ == {"n_neighbors": 2, "p": 2}
    assert percent(search.best_score_) == 98.33
    assert percent(ours["accuracy"]) == 98.33


# --- tutorial 003: IPython Cookbook, digits with the default classifier, a drawn 1 ----------

TUTORIAL_003 = """
import numpy as np
import sklearn
import sklearn.datasets as ds
import sklearn.model_selection as ms
import sklearn.neighbors as nb

digits = ds.load_digits()
X = digits.data
y = digits.target

(X_train, X_test, y_train, y_test) = \\
    ms.train_test_split(X, y, test_size=.25, random_state=0)  # the tutorial's seed is unknown
knc = nb.KNeighborsClassifier()
knc.fit(X_train, y_train)
score = knc.score(X_test, y_test)

# Let's draw a 1.
one = np.zeros((8, 8))
one[1:-1, 4] = 16  # The image values are in [0, 16].
one[2, 3] = 16
drawn = knc.predict(one.reshape((1, -1)))
"""


def test_tutorial_003_scores_98_percent_and_reads_the_drawn_one():
    # The module import, and the class name it is used by, changed to knnvision's.
    ours = run_tutorial(
        TUTORIAL_003,
        [
            ("import sklearn.neighbors as nb", "import knnvision as nb"),
            ("nb.KNeighborsClassifier()", "nb.KNNClassifier()"),
        ],
    )
    assert type(ours["knc"]).__module__.startswith("knnvision")
    assert percent(ours["score"]) == 98.0
    assert list(ours["drawn"]) == [1]
    theirs = run_tutorial(TUTORIAL_003)
    assert ours["score"] == theirs["score"]


# --- tutorial 002: CommonLounge, MNIST 10k/2k/2k, validation accuracy against K -------------

TUTORIAL_002 = """
from sklearn.neighbors import KNeighborsClassifier
val_scores = {}  # reconstructed: the tutorial prints each (k, score)
for k in [1, 3, 5, 9, 15, 25, ]:
    model = KNeighborsClassifier(n_neighbors=k)
    model.fit(trainData, trainLabels)  # reconstructed
    score = model.score(valData, valLabels)
    val_scores[k] = score

best_k = max(val_scores, key=val_scores.get)  # reconstructed: the first best K
model = KNeighborsClassifier(n_neighbors=best_k)
model.fit(trainData, trainLabels)  # reconstructed
score = model.score(testData, testLabels)
predictions = model.predict(testData)

from sklearn.metrics import classification_report
report = classification_report(testLabels, predictions)

from sklearn.metrics import confusion_matrix
matrix = confusion_matrix(testLabels, predictions)
"""


@pytest.fixture(scope="module")
def mnist_10000():
    """The tutorial's mnist_10000.pkl.gz, drawn again: 10,000 training, 2,000 validation and
    2,000 test images from MNIST's training set (stratified, seed 0), pixels scaled to
    0..1 float32 as in the tutorial's pickle."""
    data = load_dataset("mnist", require_dataset("mnist"), download=False)
    parts = subsample(
        data.flat("train"), data.labels, n_train=10_000, n_val=2_000, n_test=2_000, seed=0
    )
    trainData, valData, testData, trainLabels, valLabels, testLabels = parts  # noqa: N806
    scaled = [
        (rows / np.float32(255)).astype(np.float32) for rows in (trainData, valData, testData)
    ]
    return {
        "trainData": scaled[0],
        "valData": scaled[1],
        "testData": scaled[2],
        "trainLabels": trainLabels,
        "valLabels": valLabels,
        "testLabels": testLabels,
    }


def test_tutorial_002_k_sweep_equals_scikit_learns_on_mnist(mnist_10000):
    ours = run_tutorial(
        TUTORIAL_002, [(SKLEARN_CLASSIFIER, KNNVISION_CLASSIFIER)], namespace=dict(mnist_10000)
    )
    theirs = run_tutorial(TUTORIAL_002, namespace=dict(mnist_10000))
    assert type(ours["model"]).__module__.startswith("knnvision")
    assert list(ours["val_scores"]) == [1, 3, 5, 9, 15, 25]
    assert ours["val_scores"] == theirs["val_scores"]
    assert ours["best_k"] == theirs["best_k"]
    assert ours["score"] == theirs["score"]
    np.testing.assert_array_equal(ours["predictions"], theirs["predictions"])
    assert ours["report"] == theirs["report"]
    np.testing.assert_array_equal(ours["matrix"], theirs["matrix"])
    assert 0.9 < ours["val_scores"][ours["best_k"]] < 1.0
