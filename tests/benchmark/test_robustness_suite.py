"""``--robustness-suite FILE``: a user's tests and word lists on top of the built-in ones, and
every mistake in the file as one line."""

from __future__ import annotations

import json

import pytest

from benchmark.robustness.suite import load_suite
from dataset import UsageError

from .._helpers import one_line_error, run_main

BUILT_IN = [t.name for t in load_suite().tests]


def write(tmp_path, content) -> str:
    path = tmp_path / "suite.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_the_built_in_suite_ships_as_package_data_with_every_family_the_issue_asks_for():
    suite = load_suite()
    assert suite.source == "built-in" and (suite.max_cases, suite.reviews) == (500, 500)
    families = {t.family for t in suite.tests}
    assert {"vocabulary", "negation", "contrast", "temporal change", "intensity", "comparison", "typos",
            "punctuation and case", "contractions", "names, places and numbers", "irrelevant additions", "added sentiment"} <= families
    assert {t.kind for t in suite.tests} == {"mft", "inv", "dir"}
    assert {"food", "service", "staff", "room", "price", "wait"} <= set(suite.lists["noun"])


def test_the_suite_files_are_declared_package_data():
    import fnmatch
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parents[2]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["benchmark"]
    files = [p.relative_to(root / "benchmark").as_posix() for p in (root / "benchmark" / "robustness" / "data").iterdir()]
    assert sorted(files) == ["robustness/data/lexicon.json", "robustness/data/suite.json"]
    assert all(any(fnmatch.fnmatch(f, pattern) for pattern in declared) for f in files)  # so `pip install .` ships them


def test_a_user_file_adds_replaces_and_drops_tests_and_adds_word_lists(tmp_path):
    suite = load_suite(write(tmp_path, {
        "max_cases": 50,
        "lists": {"dish": ["pasta", "soup"], "noun": ["pasta"]},
        "tests": [
            {"name": "dish praise", "family": "food", "kind": "mft", "expect": {"positive": ["The {dish} was {pos_adj}."]}},
            {"name": "one typo", "kind": "inv", "perturb": "typos", "count": 3},
            {"name": "changed numbers", "drop": True},
        ],
    }))
    names = [t.name for t in suite.tests]
    assert names == [n for n in BUILT_IN if n != "changed numbers"] + ["dish praise"]
    assert next(t for t in suite.tests if t.name == "one typo").count == 3
    assert suite.lists["dish"] == ["pasta", "soup"] and suite.lists["noun"] == ["pasta"]  # a list of the same name is replaced
    assert suite.max_cases == 50 and suite.source.startswith("built-in + ")
    assert suite.sha256 != load_suite().sha256


def test_replace_runs_only_the_users_tests(tmp_path):
    suite = load_suite(write(tmp_path, {"replace": True, "tests": [
        {"name": "polite", "kind": "dir", "perturb": "append", "texts": ["Thank you, {first_name}!"], "must_not": "fall"}]}))
    assert [t.name for t in suite.tests] == ["polite"] and suite.source.endswith("suite.json")


@pytest.mark.parametrize(("content", "needles"), [
    ("{not json", ["is not valid JSON", "line 1"]),
    ("[1, 2]", ["must be a JSON object"]),
    ({"test": []}, ["unknown key(s) 'test'"]),
    ({"replace": "yes"}, ['"replace" must be true or false']),
    ({"replace": True, "tests": []}, ["leaves no test to run"]),
    ({"max_cases": 0}, ["max_cases must be an integer from 1"]),
    ({"tests": [{"kind": "mft"}]}, ['every test is an object with a "name"']),
    ({"tests": [{"name": "x", "kind": "fuzz"}]}, ["test 'x'", '"kind" must be one of mft, inv, dir']),
    ({"tests": [{"name": "x", "kind": "mft", "expect": {"happy": ["a"]}}]}, ["cannot expect 'happy'"]),
    ({"tests": [{"name": "x", "kind": "mft", "expect": {"positive": ["The {colour} was nice."]}}]},
     ["uses {colour}", "no word list is called 'colour'"]),
    ({"tests": [{"name": "x", "kind": "mft", "expect": {"positive": ["The {noun was nice."]}}]}, ["brace"]),
    ({"tests": [{"name": "x", "kind": "mft", "expect": {"positive": []}}]}, ["non-empty list"]),
    ({"tests": [{"name": "x", "kind": "inv", "perturb": "rot13"}]}, ['"perturb" must be one of']),
    ({"tests": [{"name": "x", "kind": "inv", "perturb": "swap"}]}, ['swap needs "words"']),
    ({"tests": [{"name": "x", "kind": "inv", "perturb": "case", "count": 2}]}, ["case takes no 'count'"]),
    ({"tests": [{"name": "x", "kind": "dir", "perturb": "append", "texts": ["Bad."]}]}, ['a dir test needs "must_not"']),
    ({"tests": [{"name": "x", "kind": "mft", "expect": {"positive": ["a"]}, "colour": 1}]}, ["unknown key(s) 'colour'"]),
    ({"tests": [{"name": "nothing", "drop": True}]}, ["cannot drop 'nothing'"]),
    ({"lists": {"a": ["{b}"], "b": ["{a}"]}}, ["refer to each other in a circle", "a -> b -> a"]),
    ({"lists": {"dish1": ["x"]}}, ["not ending in a digit"]),
    ({"lists": {"dish": []}}, ["non-empty list of non-empty strings"]),
])
def test_a_malformed_suite_file_is_one_line(tmp_path, content, needles):
    path = write(tmp_path, content)
    with pytest.raises(UsageError) as info:
        load_suite(path)
    one_line_error(info, f"--robustness-suite {path}", *needles)


def test_a_missing_or_undecodable_suite_file_is_one_line(tmp_path):
    with pytest.raises(UsageError) as info:
        load_suite(tmp_path / "absent.json")
    one_line_error(info, "no such file")
    (tmp_path / "latin1.json").write_bytes('{"about": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(UsageError) as info:
        load_suite(tmp_path / "latin1.json")
    one_line_error(info, "not UTF-8")


def test_run_refuses_a_malformed_suite_before_training_and_leaves_no_folder(tmp_path, capsys):
    path = write(tmp_path, {"tests": [{"name": "x", "kind": "fuzz"}]})
    out = tmp_path / "out"
    result = run_main(capsys, "run", "--classifiers", "bow", "--robustness", "--robustness-suite", path, "--output", str(out))
    one_line_error(result, "test 'x'", '"kind" must be one of')
    assert not out.exists() or not any(out.iterdir())


def test_a_suite_without_robustness_is_refused(tmp_path, capsys):
    path = write(tmp_path, {"tests": []})
    result = run_main(capsys, "run", "--classifiers", "bow", "--robustness-suite", path, "--output", str(tmp_path))
    one_line_error(result, "--robustness-suite applies to --robustness")
    one_line_error(run_main(capsys, "run", "--classifiers", "bow", "--group-column", " ", "--output", str(tmp_path)),
                   "--group-column is empty")
