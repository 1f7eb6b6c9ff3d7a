"""Runs in MLflow: logged to a real local store and read back with mlflow.search_runs, nested
runs for --seeds and curve, an MLflow server over HTTP, and a failure that loses nothing."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")

from benchmark.__main__ import main

from .._helpers import FAST, one_line_error, run_main, unused_port

SAMPLE = ["--data", "sample:pang-lee"]


def expected_metrics(results: dict) -> dict[str, float]:
    """Every number of every record of results.json, named as the issue asks (bow.accuracy...)."""
    out = {}
    for name, record in results["classifiers"].items():
        for part in ("metrics", "inference", "memory"):
            for key, value in record[part].items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    out[f"{name}.{key}"] = value
        for key, interval in record["ci"].items():
            if isinstance(interval, dict):
                out[f"{name}.{key}_ci_low"], out[f"{name}.{key}_ci_high"] = interval["low"], interval["high"]
        out[f"{name}.train_time_s"] = record["train_time_s"]
        out[f"{name}.model_size_mb"] = record["model_size_mb"]
    return out


def logged_metrics(row) -> dict[str, float]:
    return {k.removeprefix("metrics."): v for k, v in row.items() if k.startswith("metrics.") and not _missing(v)}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A run, a --seeds run and a curve, each with --track mlflow, into one output folder (one store)."""
    out = tmp_path_factory.mktemp("tracked")
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    cwd = os.getcwd()
    os.chdir(out)  # MLflow's own default would put artifacts in ./mlruns: there must be none
    try:
        common = ["-q", "--track", "mlflow", "--output", str(out / "results"), *SAMPLE]
        assert main(["run", *common, "--classifiers", "bow,w2v", *FAST]) == 0
        assert main(["run", *common, "--classifiers", "bow", "--seeds", "1,2", "--latency-calls", "2"]) == 0
        assert main(["curve", *common, "--classifiers", "bow", "--sizes", "40,80", "--repeats", "2"]) == 0
    finally:
        os.chdir(cwd)
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    return out


@pytest.fixture
def store(tracked, monkeypatch):
    """mlflow.search_runs over the default store of ``tracked``: a DataFrame per filter."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tracked / 'results' / 'mlflow.db'}")

    def search(kind: str):
        return mlflow.search_runs(experiment_names=["sentibench"], filter_string=f"tags.`sentibench.kind` = '{kind}'")

    return search


def folder(tracked: Path, suffix: str = "") -> Path:
    """The run folder (``suffix`` ""), the ``-seeds`` folder or the ``-curve`` folder of ``tracked``."""
    runs = [p for p in (tracked / "results").iterdir() if (p / "results.json").is_file() or p.name.endswith(("-seeds", "-curve"))]
    (found,) = [p for p in runs if p.name.endswith(suffix)] if suffix else [p for p in runs if (p / "results.json").is_file()]
    return found


@pytest.mark.slow  # a store with runs, seeds and a curve: about 6 s
def test_a_run_reads_back_with_every_metric_of_its_results(tracked, store):
    run_dir = folder(tracked)
    results = json.loads((run_dir / "results.json").read_text())
    (row,) = [r for _, r in store("run").iterrows()]
    expected = expected_metrics(results)
    assert logged_metrics(row) == pytest.approx(expected)
    assert {"bow.accuracy", "w2v.latency_p50_ms", "bow.accuracy_ci_low", "w2v.train_time_s"} <= set(expected)
    assert row["params.classifiers"] == "bow,w2v" and row["params.seed"] == "42"
    assert row["params.bow.C"] == json.dumps(results["classifiers"]["bow"]["params"]["C"])
    assert row["tags.sentibench.split_sha256"] == results["split"]["sha256"]
    assert row["tags.sentibench.data_sha256"] == results["split"]["data_sha256"]
    assert row["tags.sentibench.version"] == results["environment"]["sentibench_version"]
    assert row["tags.sentibench.cpu"] == results["environment"]["cpu"] and row["tags.mlflow.runName"] == run_dir.name
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(row["run_id"])}
    assert {"results.json", "report.md", "predictions.csv", "tradeoff.png"} <= artifacts
    assert (tracked / "results" / "mlartifacts").is_dir() and not (tracked / "mlruns").exists()  # all in the output folder


@pytest.mark.slow  # a store with runs, seeds and a curve: about 6 s
def test_seeds_and_curves_are_nested_runs(tracked, store):
    (parent,) = [r for _, r in store("seeds").iterrows()]
    seeds = store("seed")
    assert len(seeds) == 2 and set(seeds["tags.mlflow.parentRunId"]) == {parent["run_id"]}
    summary = json.loads((folder(tracked, "-seeds") / "summary.json").read_text())
    assert parent["metrics.bow.accuracy_mean"] == pytest.approx(summary["metrics"]["bow"]["accuracy"]["mean"])
    assert sorted(seeds["metrics.bow.accuracy"]) == sorted(summary["metrics"]["bow"]["accuracy"]["values"])

    (curve_run,) = [r for _, r in store("curve").iterrows()]
    points = store("curve point")
    curve = json.loads((folder(tracked, "-curve") / "learning_curve.json").read_text())
    assert len(points) == len(curve["points"]) == 4 and set(points["tags.mlflow.parentRunId"]) == {curve_run["run_id"]}
    history = mlflow.MlflowClient().get_metric_history(curve_run["run_id"], "bow.accuracy_mean")
    history = sorted(history, key=lambda m: m.step)
    assert [m.step for m in history] == [r["train_size"] for r in curve["summary"]["bow"]] == [40, 80]
    assert [m.value for m in history] == pytest.approx([r["accuracy_mean"] for r in curve["summary"]["bow"]])


@pytest.mark.slow  # a store with runs, seeds and a curve: about 6 s
def test_track_logs_a_finished_folder_again_and_refuses_an_unfinished_one(tracked, store, tmp_path, capsys):
    outcome = run_main(capsys, "track", str(folder(tracked)))
    assert outcome.returncode == 0 and "logged" in outcome.stdout
    assert len(store("run")) == 2
    unfinished = tmp_path / folder(tracked).name
    shutil.copytree(folder(tracked), unfinished)
    results = json.loads((unfinished / "results.json").read_text())
    results["status"] = "interrupted"
    (unfinished / "results.json").write_text(json.dumps(results))
    one_line_error(run_main(capsys, "track", str(unfinished)), "has not finished", "resume it first")
    one_line_error(run_main(capsys, "track", str(tmp_path / "nowhere")), "cannot log")


def test_a_tracking_failure_is_one_warning_and_the_run_is_kept(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{unused_port()}")  # nothing listens there
    outcome = run_main(capsys, "-q", "run", *SAMPLE, "--classifiers", "bow", "--track", "mlflow", "--output", str(tmp_path),
                       "--latency-calls", "2")
    assert outcome.returncode == 0 and "Traceback" not in outcome.stderr
    warnings = [line for line in outcome.stderr.splitlines() if "MLflow tracking failed" in line]
    assert len(warnings) == 1 and "python -m benchmark track" in warnings[0]
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "results.json").read_text())["status"] == "complete" and (run_dir / "report.md").is_file()


def test_track_without_mlflow_names_what_to_install(finished_run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # as if the extra were not installed
    one_line_error(run_main(capsys, "track", str(finished_run)), "pip install 'sentibench[mlflow]'")


def _get(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow  # an MLflow server takes 10-30 s to start
def test_a_run_logged_to_an_mlflow_server_over_http_reads_back_through_its_rest_api(finished_run, tmp_path, monkeypatch, capsys):
    port = unused_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", str(tmp_path / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the MLflow server did not start"
            time.sleep(0.5)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", base)
        assert run_main(capsys, "-q", "track", str(finished_run)).returncode == 0
        experiment = _get(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=sentibench")["experiment"]
        (run,) = _get(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment["experiment_id"]]})["runs"]
        logged = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        results = json.loads((finished_run / "results.json").read_text())
        assert logged == pytest.approx(expected_metrics(results))
        files = _get(f"{base}/api/2.0/mlflow/artifacts/list?run_id={run['info']['run_id']}")["files"]
        assert {"results.json", "report.md", "predictions.csv"} <= {f["path"] for f in files}
    finally:
        server.terminate()
        server.wait(30)
