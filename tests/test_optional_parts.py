"""The rule for tests that need an optional part: skip with the install command on a user's
machine, fail under CI=true (see tests/optional_parts.py)."""

import json

import pytest

from optional_parts import dataset_folder, require, require_module

pytest_plugins = ["pytester"]

INSTALL = 'pip install "knnvision[example]"'


@pytest.fixture
def not_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def ci(monkeypatch):
    monkeypatch.setenv("CI", "true")


def test_available_part_neither_skips_nor_fails(ci):
    require(True, "the example part", INSTALL)
    assert require_module("json", INSTALL) is json


def test_missing_part_skips_with_the_install_command(not_ci):
    with pytest.raises(
        pytest.skip.Exception, match=r"missing the example part; to get it: .*knnvision\[example\]"
    ):
        require(False, "the example part", INSTALL)
    with pytest.raises(pytest.skip.Exception, match="no_such_module_knnvision"):
        require_module("no_such_module_knnvision", INSTALL)


@pytest.mark.parametrize("value", ["true", "True", "1"])
def test_missing_part_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(
        pytest.fail.Exception,
        match=(
            r"CI=true, so this is a failure, not a skip: missing the example part; "
            r".*knnvision\[example\]"
        ),
    ):
        require(False, "the example part", INSTALL)


def test_ci_false_still_skips(monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require(False, "the example part", INSTALL)


MODULE_NEEDING_A_MISSING_PART = f"""
from optional_parts import require
require(False, "the example part", {INSTALL!r})

def test_never_runs():
    raise AssertionError("the module should have been skipped")
"""


def test_module_level_requirement_skips_the_module_not_an_error(pytester, not_ci):
    # The defect this rule fixes: pytest.skip at module level without allow_module_level
    # stopped the whole run at collection with an error.
    pytester.makepyfile(test_needs_part=MODULE_NEEDING_A_MISSING_PART)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    # (fnmatch reads [...] as a character class, hence the ?s)
    result.stdout.fnmatch_lines(['*the example part*pip install "knnvision?example?"*'])


def test_module_level_requirement_is_an_error_under_ci(pytester, ci):
    pytester.makepyfile(test_needs_part=MODULE_NEEDING_A_MISSING_PART)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*CI=true, so this is a failure, not a skip: missing the example part*"]
    )


def test_dataset_folder_needs_all_four_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KNNVISION_DATA", str(tmp_path))
    folder = tmp_path / "example-mnist"
    folder.mkdir()
    stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"]
    for stem in stems:
        (folder / f"{stem}.gz").write_bytes(b"")
    assert dataset_folder("example-mnist") is None
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"")  # raw files count too
    assert dataset_folder("example-mnist") == folder
