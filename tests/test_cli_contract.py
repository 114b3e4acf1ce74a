"""What every command promises (issue 12, section 3): names the user gave are printed as they
were given, a missing optional extra is one line with its install command, usage errors exit
2 and user errors exit 1, help is wrapped and never cut, and nothing is replaced silently.

Each test runs the real entry point in-process (the ``cli`` fixture of tests/conftest.py).
"""

import re
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

import knnvision

# Fast settings for commands that tune: two values of k, two folds, no report.
QUICK_RUN = ("--k", "1,3", "--cv", "2", "--no-report")


def _fit(cli, path="m.knnv", *args):
    status, out, err = cli("fit", "--out", path, *args)
    assert status == 0, err
    return out


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _save_digit_png(path, index=0):
    """A digits image as a person draws it: dark ink on a light background, 8x8."""
    image = load_digits().images[index]
    Image.fromarray(255 - np.rint(image * (255 / 16)).astype(np.uint8)).save(path)


# --- 1. bracketed names are printed literally (not read as rich markup) ------------------
# (Names like out[v1]: rich reads [v1], [red], [web] as style tags, but not [1].)


def test_fit_info_evaluate_report_print_bracketed_paths_literally(cli):
    assert "Saved m[v1].knnv" in _fit(cli, "m[v1].knnv")

    status, out, _ = cli("info", "m[v1].knnv")
    assert status == 0 and "m[v1].knnv" in out

    status, out, err = cli("evaluate", "m[v1].knnv", "--out", "eval[v1]")
    assert status == 0, err
    assert "Saved eval[v1]/results.json" in out
    assert "Report: eval[v1]/report.html" in out

    status, out, err = cli("report", "eval[v1]")
    assert status == 0, err
    assert "Report: eval[v1]/report.html" in out


@pytest.mark.parametrize("command", ["run", "tune"])
def test_run_and_tune_print_a_bracketed_out_folder_literally(cli, command):
    status, out, err = cli(command, *QUICK_RUN, "--out", "out[v1]")
    assert status == 0, err
    assert "Saved out[v1]/model.knnv and out[v1]/results.json" in out


def test_recipe_prints_a_bracketed_out_folder_literally(cli):
    status, out, err = cli(
        "recipe", "digits-quickstart", "--no-check", "--no-report", "--out", "recipe[v1]"
    )
    assert status == 0, err
    assert "recipe[v1]/results.json" in out


def test_class_names_from_folder_names_are_printed_literally(cli, tmp_path):
    digits = load_digits()
    for label, folder in ((0, "zero[a]"), (1, "one[b]")):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for number, index in enumerate(np.flatnonzero(digits.target == label)[:10]):
            _save_digit_png(tmp_path / "data" / folder / f"{number}.png", index)
    status, out, err = cli("run", "--dataset", "data", "--k", "1", *QUICK_RUN[2:], "--out", "o")
    assert status == 0, err
    report_rows = [line for line in out.splitlines() if "zero[a]" in line or "one[b]" in line]
    assert len(report_rows) >= 4  # both classes in the per-class report and the matrix


def test_predict_names_bracketed_files_literally(cli, tmp_path):
    _fit(cli)
    status, _, err = cli("predict", "m.knnv", "scan[red].png")
    assert status == 1
    assert "scan[red].png" in _one_line_error(err)

    _save_digit_png(tmp_path / "seven[red].png", 7)
    status, out, err = cli("predict", "m.knnv", "seven[red].png")
    assert status == 0, err
    assert "seven[red].png" in out


def test_errors_quote_bracketed_names_literally(cli):
    status, _, err = cli("run", "--dataset", "no[such]")
    assert status == 1 and "'no[such]'" in _one_line_error(err)

    status, _, err = cli("evaluate", "missing[v1].knnv")
    assert status == 1 and "missing[v1].knnv" in _one_line_error(err)


def test_serve_prints_its_model_path_literally(cli, monkeypatch):
    pytest.importorskip("fastapi", reason="serve needs the web extra: pip install -e '.[web]'")
    from knnvision.web import server

    _fit(cli, "m[v1].knnv")
    served = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: served.append(options))
    status, out, err = cli("serve", "m[v1].knnv", "--port", "8123")
    assert status == 0, err
    assert served and served[0]["port"] == 8123
    assert "Loaded m[v1].knnv" in out

    status, _, err = cli("serve", "missing[v1].knnv")
    assert status == 1 and "missing[v1].knnv" in _one_line_error(err)


# --- 2. a missing optional extra: one line, its install command, exit 1 ------------------


def _hide_module(monkeypatch, name: str, *importers: str) -> None:
    """Make ``import name`` fail, and forget ``importers`` so that they import it again."""
    monkeypatch.setitem(sys.modules, name, None)
    for module in list(sys.modules):
        if any(module == root or module.startswith(root + ".") for root in importers):
            monkeypatch.delitem(sys.modules, module)


@pytest.mark.parametrize("command", ["run", "tune"])
def test_scheduler_without_dask_says_what_to_install(cli, monkeypatch, command):
    _hide_module(monkeypatch, "distributed", "knnvision.search.dask")
    status, out, err = cli(command, "--scheduler", "local", *QUICK_RUN)
    assert status == 1
    assert 'pip install "knnvision[dask]"' in _one_line_error(err)
    assert "Traceback" not in out + err


def test_serve_without_the_web_extra_says_what_to_install(cli, monkeypatch):
    _hide_module(monkeypatch, "fastapi", "knnvision.web")
    status, out, err = cli("serve")
    assert status == 1
    assert 'pip install "knnvision[web]"' in _one_line_error(err)
    assert "Traceback" not in out + err


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_torch_model_without_torch_says_what_to_install(cli, monkeypatch, tmp_path, command):
    from knnvision.search import torch_index

    digits = load_digits()
    model = knnvision.KNNClassifier(3).fit(digits.data[:100], digits.target[:100])
    knnvision.save(model.set_params(algorithm="torch"), tmp_path / "t.knnv")
    monkeypatch.setattr(torch_index, "torch", None)  # as on a machine without PyTorch
    _save_digit_png(tmp_path / "d.png")
    args = {
        "evaluate": ["evaluate", "t.knnv", "--dataset", "digits"],
        "predict": ["predict", "t.knnv", "d.png"],
    }[command]
    status, out, err = cli(*args)
    assert status == 1
    assert 'pip install "knnvision[torch]"' in _one_line_error(err)
    assert "Traceback" not in out + err


# --- 3. usage errors exit 2 and name the option; user errors exit 1 ----------------------


@pytest.mark.parametrize(
    "args,option",
    [
        (["run", "--k", "0"], "--k"),
        (["tune", "--k", "0"], "--k"),
        (["fit", "--k", "0"], "--k"),
        (["run", "--k", "three"], "--k"),
        (["run", "--metric", "euclidian"], "--metric"),
        (["tune", "--metric", "euclidian"], "--metric"),
        (["fit", "--metric", "euclidian"], "--metric"),
        (["fit", "--metric", "euclidean,manhattan"], "--metric"),
        (["run", "--weights", "heavy"], "--weights"),
        (["fit", "--weights", "heavy"], "--weights"),
        (["tune", "--pca", "many"], "--pca"),
        (["run", "--cv", "1"], "--cv"),
        (["tune", "--cv", "1"], "--cv"),
        (["run", "--test-size", "2"], "--test-size"),
        (["predict", "m.knnv", "x.png", "--invert", "maybe"], "--invert"),
        (["evaluate", "m.knnv", "--nosuch"], "--nosuch"),
        (["serve", "--port", "0"], "--port"),
        (["recipe", "digits-quickstart", "--max-train", "0"], "--max-train"),
        (["run", "--preset", "best", "--k", "3"], "--k"),
        (["run", "--preset", "best", "--metric", "manhattan", "--cv", "3"], "--cv"),
    ],
)
def test_usage_errors_exit_2_and_name_the_option(cli, args, option):
    status, out, err = cli(*args)
    assert status == 2
    assert option in err
    assert "Traceback" not in out + err
    assert "╭" not in err  # a few plain lines, not a box
    assert len(err.strip().splitlines()) <= 4


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--dataset", "nosuch"],
        ["tune", "--dataset", "nosuch"],
        ["fit", "--dataset", "nosuch"],
        ["evaluate", "missing.knnv"],
        ["predict", "missing.knnv", "x.png"],
        ["info", "missing.knnv"],
        ["report", "missing-folder"],
        ["recipe", "nosuch"],
    ],
)
def test_user_errors_exit_1_with_one_line(cli, args):
    status, out, err = cli(*args)
    assert status == 1
    assert err.startswith("Error: ") and err.count("\n") == 1  # not even a blank line
    assert "Traceback" not in out + err


def test_preset_alone_is_not_refused_as_a_mix(cli):
    # Only flags typed next to --preset are refused: alone, it reaches the preset lookup.
    status, _, err = cli("run", "--preset", "nosuch")
    assert status == 1 and "--k" not in err


# --- 4. --version, -h, and help that is wrapped, never cut -------------------------------


def test_version_option_and_short_help(cli):
    status, out, _ = cli("--version")
    assert status == 0 and out.strip() == knnvision.__version__
    status, out, _ = cli("version")
    assert status == 0 and out.strip() == knnvision.__version__
    status, out, _ = cli("-h")
    assert status == 0 and "Commands" in out and "run" in out
    status, out, _ = cli("run", "-h")
    assert status == 0 and "--k" in out


def _commands():
    import typer.main

    from knnvision.cli import app

    return typer.main.get_command(app).commands


def _squeezed(text: str) -> str:
    """Text without any whitespace: wrapping may break lines anywhere, even after a hyphen,
    but must not drop or cut a single character."""
    return "".join(text.split())


@pytest.mark.parametrize("columns", ["80", "40"])
@pytest.mark.parametrize("name", sorted(_commands()))
def test_help_holds_every_option_sentence_in_full(cli, monkeypatch, columns, name):
    monkeypatch.setenv("COLUMNS", columns)
    status, out, _ = cli(name, "--help")
    assert status == 0
    assert "…" not in out
    assert not re.search(r"<[a-z][\w\[\], ]*>", out), out  # no <int>, <list[Path]>, ...
    shown = _squeezed(out)
    for param in _commands()[name].params:
        if param.help:
            assert _squeezed(param.help) in shown, (param.name, out)


@pytest.mark.parametrize("columns", ["80", "40"])
def test_command_list_shows_each_summary_in_full(cli, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    status, out, _ = cli("--help")
    command_list = out.split("Commands:")[1]
    assert status == 0 and "..." not in command_list and "…" not in command_list
    shown = _squeezed(command_list)
    for name, command in _commands().items():
        summary = command.help.split("\n\n")[0]
        assert _squeezed(name + summary) in shown, (name, out)


def test_run_help_keeps_the_split_and_the_preset_notes(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = cli("run", "--help")
    text = " ".join(out.split())
    assert "train_test_split(test_size=..., random_state=SEED)" in text
    assert "--k/--metric/--weights/--cv" in _squeezed(out)  # --preset's note, to its end
    assert out.startswith("Usage: knnvision run ")
    assert max(len(line) for line in out.splitlines()) <= 80


# --- 5. values the data cannot support are refused where they are given ------------------


def test_fit_refuses_more_neighbours_than_training_images(cli, tmp_path):
    status, _, err = cli("fit", "--k", "100000", "--out", "m.knnv")
    assert status == 1
    line = _one_line_error(err)
    assert "n_neighbors=100000 is larger than the training data allows" in line
    assert not (tmp_path / "m.knnv").exists()


@pytest.mark.parametrize("command", ["run", "tune"])
def test_too_many_folds_for_a_small_class_is_a_hint_naming_cv(cli, tmp_path, command):
    # Five images of each of three classes: four of each in the training part, too few for
    # five stratified folds (scikit-learn only warns while some class has enough).
    digits = load_digits()
    rows = np.concatenate([np.flatnonzero(digits.target == label)[:5] for label in range(3)])
    images = np.rint(digits.images[rows] * (255 / 16)).astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", X=images, y=digits.target[rows])
    status, out, err = cli(
        command, "--dataset", "tiny.npz", "--k", "1", "--cv", "5", "--no-report", "--out", "o"
    )
    assert status == 1
    line = _one_line_error(err)
    assert "--cv" in line and "n_splits" not in line
    assert "Traceback" not in out + err


# --- 6. results are not replaced without a word ------------------------------------------


@pytest.mark.parametrize(
    "args,folder",
    [
        (["run", *QUICK_RUN, "--out", "res"], "res"),
        (["tune", *QUICK_RUN, "--out", "res"], "res"),
        (["evaluate", "m.knnv", "--no-report", "--out", "res"], "res"),
        (["recipe", "digits-quickstart", "--no-check", "--no-report", "--out", "res"], "res"),
        (["fit", "--out", "res/other.knnv"], "res/other.knnv"),
    ],
)
def test_writing_over_earlier_results_says_so(cli, tmp_path, args, folder):
    (tmp_path / "res").mkdir()
    _fit(cli)
    status, first, err = cli(*args)
    assert status == 0, err
    assert "Replacing" not in first + err
    status, second, err = cli(*args)
    assert status == 0, err
    notices = [line for line in (second + err).splitlines() if line.startswith("Replacing")]
    assert len(notices) == 1 and folder in notices[0]
