"""Nothing lost: resuming interrupted runs, BERT epoch checkpoints, atomic files under kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from benchmark import units
from benchmark.__main__ import main
from dataset import UsageError

from .._helpers import FAST, interrupt_at, run_predictions
from .._helpers import interrupted_run as _interrupted


def interrupted_run(tmp_path, monkeypatch):
    return _interrupted(tmp_path, monkeypatch, *FAST)


@pytest.fixture(scope="module")
def one_interrupted_run(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        return interrupted_run(tmp_path_factory.mktemp("interrupted"), monkeypatch)


def test_interrupt_keeps_finished_classifiers(tmp_path, monkeypatch, capsys):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "interrupted"
    assert list(results["classifiers"]) == ["bow"]
    assert pd.read_csv(run_dir / "comparison.csv")["classifier"].tolist() == ["bow"]
    assert "run --resume RUN_DIR" in capsys.readouterr().err


def test_resume_skips_finished_classifiers_and_completes(tmp_path, monkeypatch):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    before = json.loads((run_dir / "results.json").read_text())
    assert main(["-q", "run", "--resume", str(run_dir)]) == 0
    after = json.loads((run_dir / "results.json").read_text())
    assert after["status"] == "complete"
    assert list(after["classifiers"]) == ["bow", "w2v"]
    assert after["classifiers"]["bow"] == before["classifiers"]["bow"]  # kept, not retrained
    preds = run_predictions(run_dir)
    assert set(preds.pred) == {"bow", "w2v"} and len(preds.texts) == 30
    assert (run_dir / "report.md").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [run_dir.name]  # no new run folder


def test_resume_refuses_a_different_split_and_a_complete_run(tmp_path, monkeypatch, capsys):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    results = json.loads((run_dir / "results.json").read_text())
    results["split"]["sha256"] = "0" * 64
    (run_dir / "results.json").write_text(json.dumps(results))
    assert main(["-q", "run", "--resume", str(run_dir)]) == 2
    assert "different split" in capsys.readouterr().err
    results["status"] = "complete"
    (run_dir / "results.json").write_text(json.dumps(results))
    assert main(["-q", "run", "--resume", str(run_dir)]) == 2
    assert "already complete" in capsys.readouterr().err
    assert main(["-q", "run", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "not a readable run folder" in capsys.readouterr().err


def _check_every_file_parses(run_dir):
    for path in run_dir.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue  # hidden .tmp files are unfinished writes, never read
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            pd.read_csv(path)
        elif path.suffix == ".md":
            assert path.read_text().startswith("# ")
        elif path.suffix == ".png":
            import matplotlib.image

            assert matplotlib.image.imread(path).size > 0


@pytest.mark.parametrize("delay", [0.0, 0.5, pytest.param(1.5, marks=pytest.mark.slow), pytest.param(3.0, marks=pytest.mark.slow)])
def test_kill_9_at_any_moment_leaves_only_whole_files(tmp_path, delay):
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark", "-q", "run", "--classifiers", "bow,w2v", "--save-models",
         "--output", str(tmp_path), "--latency-calls", "300", "--set", "w2v.min_count=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "SENTIBENCH_DATA": "sample:pang-lee"},
    )
    # Kill only once the run folder exists: `delay` seconds into writing it.
    deadline = time.monotonic() + 60
    while not any(tmp_path.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "results.json").is_file() or delay == 0.0  # written right after the folder
    _check_every_file_parses(run_dir)


def _interrupted_run_on(tmp_path, monkeypatch, data):
    return _interrupted(tmp_path / "runs", monkeypatch, "--data", str(data), *FAST)


def test_resume_refuses_data_whose_texts_changed(tmp_path, monkeypatch, capsys, sample):
    data = tmp_path / "reviews.csv"
    frame = pd.DataFrame({"text": sample.texts, "label": sample.labels})
    frame.to_csv(data, index=False)
    run_dir = _interrupted_run_on(tmp_path, monkeypatch, data)
    # Same rows, same labels, other words: the old manifest (indices and labels) matches.
    frame.assign(text=[f"rewritten review number {i}" for i in range(len(frame))]).to_csv(data, index=False)
    capsys.readouterr()
    assert main(["-q", "run", "--resume", str(run_dir)]) == 2
    assert "different texts or labels" in capsys.readouterr().err
    assert list(json.loads((run_dir / "results.json").read_text())["classifiers"]) == ["bow"]


@pytest.mark.parametrize(
    "extra",
    [["--classifiers", "bow"], ["--seed", "7"], ["--data", "x.csv"], ["--set", "bow.C=2"], ["--all"],
     ["--save-models"], ["--latency-calls", "3"], ["--output", "elsewhere"], ["--sample-size", "50"], ["--dedupe"]],
)
def test_resume_refuses_options_that_would_be_ignored(one_interrupted_run, capsys, extra):
    run_dir = one_interrupted_run  # refused before the folder is touched: one run serves every option
    capsys.readouterr()
    assert main(["-q", "run", "--resume", str(run_dir), *extra]) == 2
    err = capsys.readouterr().err
    assert f"drop {extra[0]}" in err and "Traceback" not in err


def test_a_second_resume_of_the_same_folder_is_refused(tmp_path, monkeypatch, capsys):
    from benchmark.rundir import RunLock

    run_dir = interrupted_run(tmp_path, monkeypatch)
    capsys.readouterr()
    with RunLock(run_dir):  # another process is resuming it
        assert main(["-q", "run", "--resume", str(run_dir)]) == 2
        assert "in use by another sentibench process" in capsys.readouterr().err
    assert main(["-q", "run", "--resume", str(run_dir)]) == 0


_HOLD_LOCK = """
import sys, time
from benchmark.rundir import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_killed_process_leaves_no_stuck_lock(tmp_path):
    from benchmark.rundir import RunLock

    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(UsageError, match="in use"):
        with RunLock(tmp_path):
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with RunLock(tmp_path):  # the kernel released it with the process
        pass


def _make_run_dirs(args):
    parent, barrier = args
    from benchmark.rundir import new_run_dir

    barrier.wait()
    return [new_run_dir(parent, "same-config").name for _ in range(3)]


def test_run_folders_created_by_8_processes_at_once_are_distinct(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for trial in range(5):
        parent = tmp_path / f"trial{trial}"
        with ctx.Manager() as manager:
            barrier = manager.Barrier(8)
            with ctx.Pool(8) as pool:
                names = [n for names in pool.map(_make_run_dirs, [(parent, barrier)] * 8) for n in names]
        assert len(names) == len(set(names)) == 24
        assert sorted(p.name for p in parent.iterdir()) == sorted(names)


def test_resume_of_a_folder_without_a_split_is_one_line(tmp_path, monkeypatch, capsys):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    results = json.loads((run_dir / "results.json").read_text())
    del results["split"]
    (run_dir / "results.json").write_text(json.dumps(results))
    capsys.readouterr()
    assert main(["-q", "run", "--resume", str(run_dir)]) == 2
    assert "no valid 'split'" in capsys.readouterr().err


def test_results_json_is_written_after_the_files_it_describes(tmp_path, monkeypatch):
    """Killed between two files, a run folder must not hold a results.json that claims a
    classifier whose predictions were never written (resume then refused the folder)."""
    import dataset._io

    written = []
    real_write = dataset._io.atomic_write_bytes

    def remember(path, data):
        written.append(path.name)
        real_write(path, data)

    monkeypatch.setattr(dataset._io, "atomic_write_bytes", remember)
    assert main(["-q", "run", "--classifiers", "bow", "--output", str(tmp_path), "--latency-calls", "2"]) == 0
    order = [name for name in written if name in ("predictions.csv", "results.json")]
    assert order and order == ["predictions.csv", "results.json"] * (len(order) // 2), order


def test_a_run_resumed_on_another_cpu_says_so_and_records_it(tmp_path, monkeypatch, caplog):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    results = json.loads((run_dir / "results.json").read_text())
    results["environment"]["cpu"] = "Some Other CPU 9000"
    (run_dir / "results.json").write_text(json.dumps(results))
    assert main(["-q", "run", "--resume", str(run_dir)]) == 0
    after = json.loads((run_dir / "results.json").read_text())
    assert after["environment"]["cpu"] == "Some Other CPU 9000"
    assert after["environment"]["resumed_on_cpus"] and after["environment"]["resumed_on_cpus"][0] != "Some Other CPU 9000"
    assert "the classifiers that finished ran on Some Other CPU 9000" in caplog.text


def test_an_interrupted_seeds_run_says_what_was_kept(tmp_path, monkeypatch, capsys):
    real_run_one = units.run_one
    calls = []

    def interrupt_in_the_second_seed(clf, split, **kwargs):
        calls.append(clf.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_one(clf, split, **kwargs)

    monkeypatch.setattr(units, "run_one", interrupt_in_the_second_seed)
    assert main(["-q", "run", "--classifiers", "bow", "--seeds", "1,2", "--output", str(tmp_path), "--latency-calls", "2"]) == 130
    assert "the seeds that finished are kept" in capsys.readouterr().err
    (parent,) = tmp_path.iterdir()
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["status"] == "interrupted" and list(summary["runs"]) == ["1"]


def test_resuming_twice_on_the_same_other_cpu_records_it_once(tmp_path, monkeypatch):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    results = json.loads((run_dir / "results.json").read_text())
    results["environment"]["cpu"] = "Some Other CPU 9000"
    (run_dir / "results.json").write_text(json.dumps(results))
    interrupt_at(monkeypatch, "w2v")
    for _ in range(2):
        assert main(["-q", "run", "--resume", str(run_dir)]) == 130
    cpus = json.loads((run_dir / "results.json").read_text())["environment"]["resumed_on_cpus"]
    assert len(cpus) == 1 and cpus[0] != "Some Other CPU 9000"


def test_a_run_killed_between_complete_and_its_report_resumes_into_the_report(finished_run, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / finished_run.name
    shutil.copytree(finished_run, run_dir)
    before = (run_dir / "report.md").read_bytes()
    for name in ("report.md", "report.html"):
        (run_dir / name).unlink()
    assert main(["-q", "run", "--resume", str(run_dir)]) == 0
    assert (run_dir / "report.md").read_bytes() == before and (run_dir / "report.html").is_file()
    assert main(["-q", "run", "--resume", str(run_dir)]) == 2
    assert "already complete" in capsys.readouterr().err


def test_report_of_a_folder_a_live_run_holds_is_refused_not_raced(finished_run, capsys):
    from benchmark.rundir import RunLock

    with RunLock(finished_run):
        capsys.readouterr()
        assert main(["-q", "report", str(finished_run)]) == 2
        assert "in use by another sentibench process" in capsys.readouterr().err
    assert main(["-q", "report", str(finished_run)]) == 0
