"""Units of work run in parallel (--jobs): the same records as one after another, latency timed
alone afterwards, thread caps recorded, fits kept across a kill."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .._helpers import FAST, run_main

#: What depends on the machine and the moment: left out when records are compared. (A saved
#: model's size counts its card, which states the training time: compared to within 1%.)
TIMINGS = ("train_time_s", "inference", "memory", "where", "model_size_mb")


def comparable(record: dict) -> dict:
    """A record without its timings (and without where it ran)."""
    out = {k: v for k, v in record.items() if k not in TIMINGS}
    if "tuning" in out:
        tuning = {k: v for k, v in out["tuning"].items() if k != "tuning_time_s"}
        tuning["trials"] = [{k: v for k, v in t.items() if k != "seconds"} for t in tuning["trials"]]
        out["tuning"] = tuning
    return out


def results_of(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text())


def assert_same_records(a: Path, b: Path) -> None:
    """Two run folders with the same records (timings aside) and byte-identical predictions."""
    ra, rb = results_of(a), results_of(b)
    assert list(ra["classifiers"]) == list(rb["classifiers"])
    for name in ra["classifiers"]:
        assert comparable(ra["classifiers"][name]) == comparable(rb["classifiers"][name]), name
        assert ra["classifiers"][name]["model_size_mb"] == pytest.approx(rb["classifiers"][name]["model_size_mb"], rel=0.01)
    assert ra["split"] == rb["split"] and ra["recommendation"]["classifier"] == rb["recommendation"]["classifier"]
    assert (a / "predictions.jsonl").read_bytes() == (b / "predictions.jsonl").read_bytes()


def only_child(folder: Path) -> Path:
    (child,) = [p for p in folder.iterdir() if p.is_dir()]
    return child


@pytest.mark.slow
def test_jobs_2_gives_the_records_of_one_after_another_and_says_where_each_ran(tmp_path, capsys):
    args = ["-q", "run", "--classifiers", "bow,w2v", "--tune", "--tune-budget-min", "2", "--robustness", *FAST]
    assert run_main(capsys, *args, "--output", str(tmp_path / "one")).returncode == 0
    assert run_main(capsys, *args, "--output", str(tmp_path / "two"), "--jobs", "2").returncode == 0
    one, two = only_child(tmp_path / "one"), only_child(tmp_path / "two")
    assert_same_records(one, two)
    assert results_of(one)["slices"] == results_of(two)["slices"]
    scored = [{name: {k: v for k, v in scores.items() if k != "seconds"}
               for name, scores in json.loads((d / "robustness.json").read_text())["classifiers"].items()} for d in (one, two)]
    assert scored[0] == scored[1] and set(scored[1]) == {"bow", "w2v"}  # behavioural tests scored on the timed models
    assert results_of(two)["status"] == "complete" and (two / "report.md").is_file()
    assert not (two / "pending").exists()  # every fitted unit was timed and written
    cap = max(1, (os.cpu_count() or 1) // 2)
    for name, record in results_of(two)["classifiers"].items():
        fit, timing = record["where"]["fit"], record["where"]["inference"]
        assert fit["engine"] == "loky" and fit["thread_cap"] == cap and fit["pid"] != os.getpid(), name
        assert all(n <= cap for n in fit["threads"].values()), fit["threads"]  # the cap held inside the worker
        assert timing["engine"].startswith("main process") and timing["pid"] == os.getpid()
        assert record["inference"]["latency_calls"] == 2 and record["inference"]["latency_p50_ms"] > 0
    sequential = results_of(one)["classifiers"]["bow"]["where"]
    assert sequential["fit"]["engine"] == "sequential" and sequential["fit"]["thread_cap"] is None


@pytest.mark.slow
def test_latency_is_timed_only_after_every_fit_has_returned(tmp_path, monkeypatch, caplog):
    from benchmark import schedule

    events = []
    real = schedule.time_prediction

    def timed(clf, texts, how, name):
        events.append(("timed", name))
        return real(clf, texts, how, name)

    real_keep = schedule._keep_pending

    def kept(state, name, result):
        events.append(("fitted", name))
        return real_keep(state, name, result)

    monkeypatch.setattr(schedule, "time_prediction", timed)
    monkeypatch.setattr(schedule, "_keep_pending", kept)
    from benchmark.__main__ import main

    assert main(["-q", "run", "--classifiers", "bow,w2v", "--seeds", "1,2", "--jobs", "2", "--output", str(tmp_path), *FAST]) == 0
    kinds = [kind for kind, _ in events]
    assert kinds == ["fitted"] * 4 + ["timed"] * 4, events
    assert [name for kind, name in events if kind == "timed"] == ["bow", "w2v", "bow", "w2v"]  # seed by seed, in run order


@pytest.mark.slow
def test_a_parallel_run_stopped_before_timing_keeps_its_fits_and_resume_times_them(tmp_path, monkeypatch, capsys):
    """Ctrl-C (or a kill) between the fits and their timing: the fitted units wait in
    RUN_DIR/pending and --resume times them without fitting again, even one job at a time."""
    from benchmark import schedule

    args = ["-q", "run", "--classifiers", "bow,w2v", "--save-models", *FAST]
    assert run_main(capsys, *args, "--output", str(tmp_path / "reference")).returncode == 0

    real = schedule.time_prediction
    monkeypatch.setattr(schedule, "time_prediction", _interrupt)
    outcome = run_main(capsys, *args, "--output", str(tmp_path / "runs"), "--jobs", "2")
    assert outcome.returncode == 130 and "run --resume" in outcome.stderr
    run_dir = only_child(tmp_path / "runs")
    assert results_of(run_dir)["status"] == "interrupted" and results_of(run_dir)["classifiers"] == {}
    assert sorted(p.name for p in (run_dir / "pending").iterdir()) == ["bow", "w2v"]

    monkeypatch.setattr(schedule, "time_prediction", real)
    monkeypatch.setattr(schedule, "measure_unit", lambda *a: pytest.fail("a fitted unit was fitted again"))
    assert run_main(capsys, "-q", "run", "--resume", str(run_dir)).returncode == 0
    assert results_of(run_dir)["status"] == "complete" and not (run_dir / "pending").exists()
    assert_same_records(only_child(tmp_path / "reference"), run_dir)
    assert sorted(p.name for p in (run_dir / "models").iterdir()) == ["bow", "w2v"]
    from classifiers import SentimentClassifier

    assert SentimentClassifier.load(run_dir / "models" / "w2v").predict(["a great movie"]).shape == (1,)


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.slow
def test_a_damaged_pending_unit_is_fitted_again(tmp_path, monkeypatch, capsys, caplog):
    from benchmark import schedule

    real = schedule.time_prediction
    monkeypatch.setattr(schedule, "time_prediction", _interrupt)
    args = ["-q", "run", "--classifiers", "bow", "--jobs", "2", "--output", str(tmp_path), "--latency-calls", "2"]
    assert run_main(capsys, *args).returncode == 130
    monkeypatch.setattr(schedule, "time_prediction", real)
    run_dir = only_child(tmp_path)
    unit = run_dir / "pending" / "bow" / "unit.json"
    saved = json.loads(unit.read_text())
    saved["pred"] = saved["pred"][:-1]  # one test prediction short
    unit.write_text(json.dumps(saved))
    assert run_main(capsys, "-q", "run", "--resume", str(run_dir)).returncode == 0
    assert "is not usable" in caplog.text or "does not match this run" in caplog.text
    assert len(results_of(run_dir)["classifiers"]["bow"]["metrics"]["confusion_matrix"]) == 2


def test_curve_with_jobs_gives_the_points_of_one_after_another(tmp_path, capsys):
    args = ["-q", "curve", "--classifiers", "bow,w2v", "--sizes", "40,80,140", "--repeats", "2",
            "--set", "w2v.min_count=1", "--set", "w2v.w2v_epochs=2"]
    assert run_main(capsys, *args, "--output", str(tmp_path / "one")).returncode == 0
    assert run_main(capsys, *args, "--output", str(tmp_path / "two"), "--jobs", "2").returncode == 0
    one, two = (json.loads((only_child(tmp_path / d) / "learning_curve.json").read_text()) for d in ("one", "two"))

    def points(curve):
        return [{k: v for k, v in p.items() if k not in ("train_time_s", "where")} for p in curve["points"]]

    assert len(points(one)) == 10 and points(one) == points(two)  # the same fits, in the plan's order
    assert one["findings"] == two["findings"] and two["status"] == "complete"
    assert {p["where"]["engine"] for p in two["points"]} == {"loky"}


@pytest.mark.parametrize(("flags", "needle"), [
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--cluster", "localhost:8786"], "--cluster expects a Dask scheduler address such as tcp://HOST:8786"),
    (["--cluster", "tcp://127.0.0.1:8786", "--jobs", "2"], "--jobs and --cluster exclude each other"),
    (["--track", "wandb"], "argument --track: invalid choice"),
])
def test_engine_options_are_checked_in_one_line(tmp_path, capsys, flags, needle):
    from .._helpers import one_line_error

    one_line_error(run_main(capsys, "run", "--classifiers", "bow", "--output", str(tmp_path), *flags), needle)
    assert list(tmp_path.iterdir()) == []


def test_engine_options_change_no_digest_and_are_never_taken_from_a_run_folder():
    from benchmark.config import RunConfig

    plain = RunConfig(classifiers=["bow"])
    busy = RunConfig(classifiers=["bow"], jobs=4, track="mlflow")
    assert plain.digest() == busy.digest()
    saved = {**busy.__dict__, "cluster": "tcp://somewhere.example:8786"}
    restored = RunConfig.from_saved(saved, "results.json")
    assert (restored.jobs, restored.cluster, restored.track) == (1, None, None)


@pytest.mark.slow
def test_resume_takes_jobs_from_its_command_line(tmp_path, monkeypatch, capsys):
    from .._helpers import interrupted_run

    run_dir = interrupted_run(tmp_path, monkeypatch, *FAST)
    assert run_main(capsys, "-q", "run", "--resume", str(run_dir), "--jobs", "2").returncode == 0
    record = results_of(run_dir)["classifiers"]["w2v"]
    assert record["where"]["fit"]["engine"] == "loky"


def test_cluster_without_dask_names_what_to_install(tmp_path, monkeypatch, capsys):
    from .._helpers import one_line_error

    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # as if dask were not installed
    outcome = run_main(capsys, "run", "--classifiers", "bow", "--output", str(tmp_path), "--cluster", "tcp://127.0.0.1:8786")
    one_line_error(outcome, "pip install 'sentibench[dask]'")
    assert list(tmp_path.iterdir()) == []


def test_gensim_threads_are_capped_with_the_other_pools(tiny):
    from benchmark.units import _capped
    from classifiers import Word2VecSvmClassifier

    assert _capped(Word2VecSvmClassifier(workers=8), 2).workers == 2
    assert _capped(Word2VecSvmClassifier(workers=1), 2).workers == 1
    assert _capped(Word2VecSvmClassifier(workers=8), None).workers == 8


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_run_stopped_after_its_last_record_is_completed_by_a_resume_with_either_engine(tmp_path, capsys, jobs):
    # Killed after the last record was written, before "complete": nothing is left to fit. The
    # one loop completes it with any engine (with --jobs it was left "running", without a report).
    assert run_main(capsys, "-q", "run", "--classifiers", "bow", "--output", str(tmp_path), "--latency-calls", "2").returncode == 0
    run_dir = only_child(tmp_path)
    results = results_of(run_dir)
    (run_dir / "results.json").write_text(json.dumps({**results, "status": "interrupted"}))
    (run_dir / "report.md").unlink()
    assert run_main(capsys, "-q", "run", "--resume", str(run_dir), "--jobs", jobs).returncode == 0
    after = results_of(run_dir)
    assert after["status"] == "complete" and (run_dir / "report.md").is_file()
    assert after["classifiers"] == results["classifiers"]  # kept as it was, not fitted again
