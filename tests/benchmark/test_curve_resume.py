"""A learning curve killed at its end, or resumed from a damaged file, finishes in one line or
none (issue #20)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.__main__ import main

from .._helpers import one_line_error, run_main

CURVE_ARGS = ["curve", "--data", "sample:pang-lee", "--classifiers", "bow,w2v", "--sizes", "40,80", "--repeats", "2",
              "--set", "w2v.min_count=1", "--set", "w2v.w2v_epochs=2"]
FILES = ("learning_curve.csv", "learning_curve.png", "report.md", "report.html")

# The curve's files are written by write_curve_files: killing the process there stops it just
# before (or, in sentibench before this fix, just after learning_curve.json said "complete").
_KILLED_AT_THE_END = """
import os, signal, sys
import benchmark.curve
from benchmark.__main__ import main

benchmark.curve.write_curve_files = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
main(sys.argv[1:])
"""


def without_timings(points):
    return [{k: v for k, v in p.items() if k not in ("train_time_s", "where")} for p in points]


def read_curve(run_dir: Path) -> dict:
    return json.loads((run_dir / "learning_curve.json").read_text())


@pytest.fixture(scope="module")
def finished_curve(tmp_path_factory):
    out = tmp_path_factory.mktemp("curve")
    assert main(["-q", *CURVE_ARGS, "--output", str(out)]) == 0
    (run_dir,) = out.iterdir()
    return run_dir


def copy_of(run_dir: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / run_dir.name
    shutil.copytree(run_dir, target)
    return target


def test_a_curve_killed_as_it_writes_its_files_resumes_to_finish_them(tmp_path, finished_curve):
    proc = subprocess.run([sys.executable, "-c", _KILLED_AT_THE_END, "-q", *CURVE_ARGS, "--output", str(tmp_path)],
                          capture_output=True, text=True, env={**os.environ, "SENTIBENCH_DATA": "sample:pang-lee"}, timeout=300)
    assert proc.returncode == -9
    (run_dir,) = tmp_path.iterdir()
    assert not any((run_dir / f).exists() for f in FILES)
    assert main(["-q", "curve", "--resume", str(run_dir)]) == 0
    curve = read_curve(run_dir)
    assert curve["status"] == "complete" and all((run_dir / f).stat().st_size > 0 for f in FILES)
    assert without_timings(curve["points"]) == without_timings(read_curve(finished_curve)["points"])  # nothing fitted twice
    assert curve["findings"] == read_curve(finished_curve)["findings"]


def test_a_complete_curve_without_its_files_is_finished_by_resume_and_by_report(tmp_path, finished_curve, capsys):
    for command in (["curve", "--resume"], ["report"]):
        run_dir = copy_of(finished_curve, tmp_path / command[0])
        for name in FILES:
            (run_dir / name).unlink()
        outcome = run_main(capsys, "-q", *command, str(run_dir))
        assert outcome.returncode == 0, outcome.stderr
        assert all((run_dir / f).stat().st_size > 0 for f in FILES)
        assert (run_dir / "report.md").read_bytes() == (finished_curve / "report.md").read_bytes()
    one_line_error(run_main(capsys, "curve", "--resume", str(run_dir)), "already complete", "report")


def test_a_curve_not_finished_is_refused_by_report_in_one_line(tmp_path, finished_curve, capsys):
    run_dir = copy_of(finished_curve, tmp_path)
    curve = read_curve(run_dir)
    curve["status"] = "interrupted"
    (run_dir / "learning_curve.json").write_text(json.dumps(curve))
    one_line_error(run_main(capsys, "report", str(run_dir)), "has not finished", "curve --resume")


def test_damaged_and_foreign_points_never_reach_the_findings(tmp_path, finished_curve, capsys, caplog):
    run_dir = copy_of(finished_curve, tmp_path)
    curve = read_curve(run_dir)
    original = curve["points"]
    points = [dict(p) for p in original]
    points[0]["accuracy"] = 0.99  # numbers that are not its predictions'
    points[1]["test_predictions"] = points[1]["test_predictions"][:-3]  # predictions of another test split
    points[2]["train_size"] = "40"  # malformed
    foreign = {**original[3], "classifier": "evil"}  # not in the run's config
    strange_size = {**original[3], "train_size": 77}  # not in the plan
    points += [foreign, strange_size, "garbage", None, {**original[4], "accuracy": True}, dict(original[5])]
    curve.update(points=points, status="interrupted")
    del curve["summary"], curve["findings"]
    (run_dir / "learning_curve.json").write_text(json.dumps(curve))
    outcome = run_main(capsys, "-q", "curve", "--resume", str(run_dir))
    assert outcome.returncode == 0 and "Traceback" not in outcome.stderr
    resumed = read_curve(run_dir)
    assert without_timings(resumed["points"]) == without_timings(original)  # the damaged fits were made again
    assert resumed["findings"] == read_curve(finished_curve)["findings"]
    assert not any("evil" in s or "77" in s for s in resumed["findings"])
    assert "left out" in caplog.text and "their fits are made again" in caplog.text


def test_a_curve_file_that_is_not_one_is_refused_in_one_line(tmp_path, finished_curve, capsys):
    run_dir = copy_of(finished_curve, tmp_path)
    (run_dir / "learning_curve.json").write_text('{"points": "none", "config": {}}')
    one_line_error(run_main(capsys, "curve", "--resume", str(run_dir)), "is not a learning-curve file")


def test_report_of_a_curve_with_a_damaged_point_is_one_line_and_resume_mends_it(tmp_path, finished_curve, capsys):
    run_dir = copy_of(finished_curve, tmp_path)
    curve = read_curve(run_dir)
    curve["points"][0]["accuracy"] = 1.0  # says it was perfect; its predictions say otherwise
    (run_dir / "learning_curve.json").write_text(json.dumps(curve))
    one_line_error(run_main(capsys, "report", str(run_dir)), "points that cannot be used", "curve --resume")
    assert run_main(capsys, "-q", "curve", "--resume", str(run_dir)).returncode == 0
    assert without_timings(read_curve(run_dir)["points"]) == without_timings(read_curve(finished_curve)["points"])
