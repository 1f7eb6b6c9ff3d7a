"""Nothing lost, nothing followed: crafted run folders (links, leftovers of kill -9, a foreign
``models/NAME``) and runs that stop (a full disk, no memory, a plugin's bug, a name that
fails at once)."""

from __future__ import annotations

import errno
import json
import os
import textwrap
from pathlib import Path

import pytest

from benchmark import units
from benchmark.__main__ import main

from .._helpers import FAST, interrupted_curve, interrupted_run, one_line_error, run_main


@pytest.fixture
def stopped(tmp_path, monkeypatch):
    """A run folder of bow and w2v (models saved), interrupted when w2v starts: bow only."""
    return interrupted_run(tmp_path / "runs", monkeypatch, "--save-models", *FAST)


def _status(run_dir: Path) -> tuple[str, list[str]]:
    results = json.loads((run_dir / "results.json").read_text())
    return results["status"], list(results["classifiers"])


# -- links: never followed ------------------------------------------------------------------


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_never_created(stopped, tmp_path, capsys):
    victim = tmp_path / "nologin"
    (stopped / ".lock").unlink()
    (stopped / ".lock").symlink_to(victim)
    outcome = run_main(capsys, "-q", "run", "--resume", str(stopped))
    one_line_error(outcome, ".lock is a symbolic link", "never follows links")
    assert not victim.exists()  # O_CREAT followed the link and created it
    assert _status(stopped) == ("interrupted", ["bow"])


@pytest.mark.parametrize("where", ["models", "predictions.csv", "checkpoints", "models/bow/README.md"])
def test_a_link_anywhere_in_a_run_folder_is_refused_before_anything_is_written(stopped, tmp_path, capsys, where):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    path = stopped / where
    target = outside if where in ("models", "checkpoints") else outside / "keep.txt"
    if path.is_dir():
        os.rename(path, tmp_path / "moved")
    else:
        path.unlink(missing_ok=True)
    path.symlink_to(target)
    before = {p.name: p.stat().st_mtime_ns for p in stopped.iterdir() if not p.is_symlink()}
    outcome = run_main(capsys, "-q", "run", "--resume", str(stopped))
    one_line_error(outcome, f"{where} is a symbolic link")
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"] and (outside / "keep.txt").read_text() == "mine"
    assert {p.name: p.stat().st_mtime_ns for p in stopped.iterdir() if not p.is_symlink()} == before


def test_a_pipe_in_a_run_folder_is_refused_rather_than_read(stopped, capsys):
    (stopped / "predictions.jsonl").unlink()
    os.mkfifo(stopped / "predictions.jsonl")  # reading it would block for ever
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(stopped)), "neither a file nor a folder")


def test_resuming_a_folder_that_is_no_run_folder_writes_nothing_in_it(tmp_path, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / ".notes.abcd1234.tmp").write_text("a user's file that looks like a leftover")
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(plain)), "is not a run folder")
    assert [p.name for p in plain.iterdir()] == [".notes.abcd1234.tmp"]  # no .lock made, nothing removed


# -- leftovers of kill -9 ---------------------------------------------------------------------


def test_resume_removes_what_a_killed_run_left_half_written(stopped):
    leftovers = [stopped / ".results.json.k3j_x9z2.tmp", stopped / "models" / ".w2v.ab12cd34.tmp",
                 stopped / "models" / ".bow.old"]
    leftovers[0].write_text('{"half": ')
    for folder in leftovers[1:]:
        folder.mkdir()
        (folder / "model.skops").write_bytes(b"\0" * 10)
    assert main(["-q", "run", "--resume", str(stopped)]) == 0
    assert not any(p.exists() for p in leftovers)
    assert _status(stopped) == ("complete", ["bow", "w2v"])
    assert sorted(p.name for p in (stopped / "models").iterdir()) == ["bow", "w2v"]


def test_a_folder_killed_before_its_first_results_is_cleaned_and_explained(tmp_path, capsys):
    run_dir = tmp_path / "20260101-000000-abcdef12"
    run_dir.mkdir()
    (run_dir / ".lock").touch()
    (run_dir / ".results.json.a1b2c3d4.tmp").write_text('{"format": 3, "run_id"')  # killed mid-write
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(run_dir)), "stopped before it saved any result",
                   "start a new run")
    assert not run_dir.exists()  # only the lock and a half-written file: nothing to keep


# -- a foreign models/NAME --------------------------------------------------------------------


def test_a_folder_that_is_no_model_at_models_name_is_refused_before_training(stopped, monkeypatch, capsys):
    mine = stopped / "models" / "w2v"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")

    def must_not_train(*args, **kwargs):
        raise AssertionError("trained before refusing models/w2v")

    monkeypatch.setattr(units, "run_one", must_not_train)
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(stopped)), "models/w2v exists and is not a model",
                   "move it away")
    assert (mine / "notes.txt").read_text() == "mine"
    assert _status(stopped) == ("interrupted", ["bow"])


# -- a run that stops: one line, status failed, resumable ------------------------------------


def test_a_full_disk_is_one_line_marks_the_run_failed_and_resume_finishes_it(stopped, monkeypatch, capsys):
    import classifiers.base

    real = classifiers.base.atomic_write_text

    def disk_full_in_w2v(path, text):
        if ".w2v." in str(path):  # the model card of w2v's model folder, being saved
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text)

    monkeypatch.setattr(classifiers.base, "atomic_write_text", disk_full_in_w2v)
    outcome = run_main(capsys, "-q", "run", "--resume", str(stopped))
    line = one_line_error(outcome, "ran out of disk space", "at w2v", f"--resume {stopped}")
    assert "No space left on device" in line
    assert _status(stopped) == ("failed: w2v", ["bow"])
    assert sorted(p.name for p in (stopped / "models").iterdir()) == ["bow"]  # no half-saved model
    monkeypatch.setattr(classifiers.base, "atomic_write_text", real)  # space freed
    assert main(["-q", "run", "--resume", str(stopped)]) == 0
    assert _status(stopped) == ("complete", ["bow", "w2v"])


def test_no_memory_in_a_fit_is_one_line_marks_the_run_failed_and_resume_finishes_it(stopped, monkeypatch, capsys):
    from classifiers.w2v_svm import Word2VecSvmClassifier

    real_fit = Word2VecSvmClassifier._fit

    def out_of_memory(self, *args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(Word2VecSvmClassifier, "_fit", out_of_memory)
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(stopped)), "ran out of memory", "at w2v", "--resume")
    assert _status(stopped) == ("failed: w2v", ["bow"])
    monkeypatch.setattr(Word2VecSvmClassifier, "_fit", real_fit)
    assert main(["-q", "run", "--resume", str(stopped)]) == 0
    assert _status(stopped) == ("complete", ["bow", "w2v"])


def test_no_memory_before_anything_finished_leaves_no_folder_and_says_so(tmp_path, monkeypatch, capsys):
    from classifiers.bow_svm import BowSvmClassifier

    def out_of_memory(self, *args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 4000000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(BowSvmClassifier, "_fit", out_of_memory)  # as torch says it under ulimit -v
    outcome = run_main(capsys, "-q", "run", "--classifiers", "bow", "--output", str(tmp_path), "--latency-calls", "2")
    line = one_line_error(outcome, "ran out of memory", "nothing was kept", "--sample-size")
    assert "--resume" not in line
    assert list(tmp_path.iterdir()) == []


def test_running_out_of_memory_outside_a_run_is_one_line_too(monkeypatch, capsys):
    import dataset

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(dataset, "load_reviews", out_of_memory)
    one_line_error(run_main(capsys, "data", "info", "sample:pang-lee"), "ran out of memory")


PLUGIN = textwrap.dedent('''
    from sklearn.base import BaseEstimator, ClassifierMixin


    class Broken(ClassifierMixin, BaseEstimator):
        """A user's estimator with a bug in fit."""

        def fit(self, X, y):
            raise ZeroDivisionError("a bug in the plugin")

        def predict(self, X):
            return [0] * len(X)

        def predict_proba(self, X):
            return [[1.0, 0.0]] * len(X)
''')


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch):
    (tmp_path / "brokenplugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "brokenplugin:Broken"


def test_a_plugins_bug_marks_the_run_failed_and_keeps_its_traceback(broken_plugin, tmp_path):
    with pytest.raises(ZeroDivisionError, match="a bug in the plugin"):  # a bug: its traceback, not one line
        main(["-q", "run", "--classifiers", f"bow,{broken_plugin}", "--output", str(tmp_path / "runs"), "--latency-calls", "2"])
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert _status(run_dir) == (f"failed: {broken_plugin}", ["bow"])  # was left "running"


@pytest.mark.parametrize("args", [["--classifiers", "bow", "--set", "bow.min_df=1000"], ["--classifiers", "brokenplugin:Broken"]])
def test_a_run_that_fails_before_any_classifier_finished_leaves_no_folder(broken_plugin, tmp_path, capsys, args):
    """A name whose fit fails at once (a user's mistake: one line; a plugin's bug: its traceback)
    leaves nothing behind, as a bad input does, instead of a 'failed' folder of nothing."""
    out = tmp_path / "runs"
    command = ["-q", "run", *args, "--output", str(out), "--latency-calls", "2"]
    if "brokenplugin:Broken" in args:
        with pytest.raises(ZeroDivisionError):
            main(command)
    else:
        one_line_error(run_main(capsys, *command), "no usable terms")
    assert not out.exists() or list(out.iterdir()) == []


def test_resuming_a_complete_run_points_at_its_report(finished_run, capsys):
    line = one_line_error(run_main(capsys, "-q", "run", "--resume", str(finished_run)), "already complete")
    assert f"python -m benchmark report {finished_run}" in line


def test_curve_resume_cleans_leftovers_and_refuses_links_too(tmp_path, monkeypatch, capsys):
    args = ["-q", "curve", "--classifiers", "bow", "--sizes", "40,140", "--repeats", "1", "--output", str(tmp_path)]
    interrupted_curve(monkeypatch, args, at_fit=2)
    (run_dir,) = tmp_path.iterdir()
    leftover = run_dir / ".learning_curve.json.zz9_ab12.tmp"
    leftover.write_text('{"points": [')
    (run_dir / "report.md").symlink_to(tmp_path / "elsewhere.md")
    one_line_error(run_main(capsys, "-q", "curve", "--resume", str(run_dir)), "report.md is a symbolic link")
    (run_dir / "report.md").unlink()
    assert main(["-q", "curve", "--resume", str(run_dir)]) == 0
    assert not leftover.exists() and not (tmp_path / "elsewhere.md").exists()
    assert json.loads((run_dir / "learning_curve.json").read_text())["status"] == "complete"
