"""A --seeds run resumes as a whole, and its summary is written as seeds finish (issue #20)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark import units
from benchmark.__main__ import main

from .._helpers import FAST, one_line_error, run_main
from .test_units import assert_same_records

SEEDS_ARGS = ["--classifiers", "bow,w2v", "--seeds", "1,2,3", "--set", "w2v.min_count=1", "--set", "w2v.w2v_epochs=3"]


def seed_runs(parent: Path) -> dict[int, Path]:
    runs = {}
    for child in parent.iterdir():
        if (child / "results.json").is_file():
            runs[json.loads((child / "results.json").read_text())["config"]["seed"]] = child
    return runs


def finished_seeds(parent: Path) -> int:
    done = 0
    for child in parent.iterdir() if parent.is_dir() else ():
        try:
            done += json.loads((child / "results.json").read_text())["status"] == "complete"
        except (OSError, ValueError):
            pass
    return done


@pytest.mark.slow
def test_a_seeds_run_killed_with_9_keeps_a_summary_and_resumes_as_a_whole(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark", "-q", "run", *SEEDS_ARGS, "--latency-calls", "300", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "SENTIBENCH_DATA": "sample:pang-lee"},
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not any(finished_seeds(p) for p in out.glob("*-seeds")):
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)  # the first seed is finished, the second under way
    proc.wait()
    (parent,) = out.iterdir()
    summary = json.loads((parent / "summary.json").read_text())  # written when the run started
    assert summary["status"] == "running" and summary["seeds"] == [1, 2, 3]

    assert main(["-q", "run", "--resume", str(parent)]) == 0
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["status"] == "complete" and sorted(summary["runs"]) == ["1", "2", "3"]
    assert "over 3 runs (complete)" in (parent / "summary.md").read_text()
    killed = seed_runs(parent)
    assert sorted(killed) == [1, 2, 3] and len([p for p in parent.iterdir() if p.is_dir()]) == 3

    assert main(["-q", "run", *SEEDS_ARGS, "--latency-calls", "2", "--output", str(tmp_path / "whole")]) == 0
    (whole,) = (tmp_path / "whole").iterdir()
    reference = seed_runs(whole)
    for seed in (1, 2, 3):
        assert_same_records(killed[seed], reference[seed])
    expected = json.loads((whole / "summary.json").read_text())["metrics"]["w2v"]["accuracy"]["values"]
    assert summary["metrics"]["w2v"]["accuracy"]["values"] == expected


def _interrupt_at_call(monkeypatch, n: int):
    """Ctrl-C at the n-th classifier a run starts; returns the real ``run_one`` (to put back)."""
    real_run_one = units.run_one
    calls = []

    def run_one(clf, split, **kwargs):
        calls.append(clf.name)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real_run_one(clf, split, **kwargs)

    monkeypatch.setattr(units, "run_one", run_one)
    return real_run_one


def test_resuming_one_seeds_run_folder_updates_the_summary(tmp_path, monkeypatch):
    real = _interrupt_at_call(monkeypatch, 4)  # seed 1: bow, w2v; seed 2: bow, then Ctrl-C at w2v
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--seeds", "1,2", "--output", str(tmp_path), *FAST]) == 130
    monkeypatch.setattr(units, "run_one", real)
    (parent,) = tmp_path.iterdir()
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["status"] == "interrupted" and list(summary["runs"]) == ["1"]
    assert main(["-q", "run", "--resume", str(seed_runs(parent)[2])]) == 0
    summary = json.loads((parent / "summary.json").read_text())
    assert list(summary["runs"]) == ["1", "2"] and summary["status"] == "complete"
    assert len(summary["metrics"]["bow"]["accuracy"]["values"]) == 2


@pytest.mark.slow
def test_a_seeds_folder_resumes_with_jobs_and_refuses_once_complete(tmp_path, monkeypatch, capsys):
    real = _interrupt_at_call(monkeypatch, 2)  # seed 1's w2v: no seed finished
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--seeds", "1,2", "--output", str(tmp_path), *FAST]) == 130
    monkeypatch.setattr(units, "run_one", real)
    (parent,) = tmp_path.iterdir()
    assert json.loads((parent / "summary.json").read_text())["runs"] == {}
    assert run_main(capsys, "-q", "run", "--resume", str(parent), "--jobs", "2").returncode == 0
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["status"] == "complete" and list(summary["runs"]) == ["1", "2"]
    runs = seed_runs(parent)
    bow = json.loads((runs[1] / "results.json").read_text())["classifiers"]["bow"]
    assert bow["where"]["fit"]["engine"] == "sequential"  # kept from before the interruption
    assert json.loads((runs[2] / "results.json").read_text())["classifiers"]["w2v"]["where"]["fit"]["engine"] == "loky"
    one_line_error(run_main(capsys, "run", "--resume", str(parent)), "already complete")


def test_a_seeds_folder_without_a_readable_summary_is_one_line(tmp_path, capsys):
    parent = tmp_path / "20260101-000000-abcdef12-seeds"
    parent.mkdir()
    (parent / "summary.json").write_text('{"seeds": "1,2"}')
    one_line_error(run_main(capsys, "run", "--resume", str(parent)), "is not the summary of a --seeds run")
