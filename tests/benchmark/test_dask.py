"""Units on a Dask cluster: a real distributed.LocalCluster (two worker processes on loopback)
gives the records of the sequential run, and survives a worker killed mid-unit."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from .._helpers import FAST, one_line_error, run_main, unused_port
from .test_seeds_resume import seed_runs
from .test_units import assert_same_records

LOST_WORKER_TIMEOUT = "180s"


@pytest.fixture(scope="module")
def cluster():
    import dask
    from distributed import Client, LocalCluster

    # A LocalCluster closes the nanny of a worker that is not back within lost-worker-timeout (15 s by default):
    # on a loaded CI machine a killed worker's restart can take longer, and the cluster would stay one worker short.
    with dask.config.set({"distributed.deploy.lost-worker-timeout": LOST_WORKER_TIMEOUT}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                         silence_logs=40) as local, Client(local, set_as_default=False) as client:
        yield local, client


@pytest.mark.slow
def test_seeds_on_a_cluster_give_the_records_of_one_after_another(tmp_path, capsys, cluster):
    local, _ = cluster
    args = ["-q", "run", "--classifiers", "bow,w2v", "--seeds", "1,2", *FAST]
    assert run_main(capsys, *args, "--output", str(tmp_path / "one")).returncode == 0
    assert run_main(capsys, *args, "--output", str(tmp_path / "dask"), "--cluster", local.scheduler_address).returncode == 0
    (one,), (dask,) = (tmp_path / "one").iterdir(), (tmp_path / "dask").iterdir()
    for seed, run_dir in seed_runs(dask).items():
        assert_same_records(seed_runs(one)[seed], run_dir)
        for record in json.loads((run_dir / "results.json").read_text())["classifiers"].values():
            assert record["where"]["fit"]["engine"] == "dask" and record["where"]["fit"]["worker"].startswith("tcp://127.0.0.1:")
            assert record["where"]["inference"]["pid"] == os.getpid()  # timed here, alone
    assert json.loads((dask / "summary.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_a_curve_goes_to_the_scheduler_named_in_the_environment(tmp_path, capsys, cluster, monkeypatch):
    local, _ = cluster
    args = ["-q", "curve", "--classifiers", "bow", "--sizes", "40,80", "--repeats", "2"]
    assert run_main(capsys, *args, "--output", str(tmp_path / "one")).returncode == 0
    monkeypatch.setenv("SENTIBENCH_DASK_SCHEDULER", local.scheduler_address)
    assert run_main(capsys, *args, "--output", str(tmp_path / "dask")).returncode == 0
    one, dask = (json.loads(next((tmp_path / d).iterdir()).joinpath("learning_curve.json").read_text()) for d in ("one", "dask"))
    strip = [{k: v for k, v in p.items() if k not in ("train_time_s", "where")} for p in one["points"]]
    assert strip == [{k: v for k, v in p.items() if k not in ("train_time_s", "where")} for p in dask["points"]]
    assert {p["where"]["engine"] for p in dask["points"]} == {"dask"}


def _executing(dask_worker):
    return [str(task.key) for task in dask_worker.state.executing if str(task.key).startswith("sentibench-")]


def _kill_mid_unit(client, killed: dict, stop: threading.Event, every: bool) -> None:
    """Wait until a worker is running a sentibench unit, let it run a moment, then kill -9 it
    (``every``: kill every worker then, and with them every copy of the run's data)."""
    while not stop.is_set():
        busy = {addr: keys for addr, keys in client.run(_executing).items() if keys}
        if busy:
            addr, keys = next(iter(busy.items()))
            pids = client.run(os.getpid) if every else client.run(os.getpid, workers=[addr])
            time.sleep(0.3)
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
            killed.update(address=addr, key=keys[0], pids=list(pids.values()))
            return
        time.sleep(0.05)


@pytest.mark.slow  # about 35 s each: a reference run, then units long enough to be killed mid-way
@pytest.mark.parametrize("every", [False, True], ids=["one worker", "every worker, and every copy of the data"])
def test_a_worker_killed_mid_unit_costs_that_unit_only(tmp_path, capsys, cluster, every):
    local, client = cluster
    args = ["-q", "run", "--classifiers", "w2v", "--seeds", "1,2,3", "--set", "w2v.min_count=1", "--set", "w2v.w2v_epochs=60",
            "--latency-calls", "2"]
    assert run_main(capsys, *args, "--output", str(tmp_path / "one")).returncode == 0
    killed: dict = {}
    stop = threading.Event()
    killer = threading.Thread(target=_kill_mid_unit, args=(client, killed, stop, every), daemon=True)
    killer.start()
    try:
        outcome = run_main(capsys, *args, "--output", str(tmp_path / "dask"), "--cluster", local.scheduler_address)
    finally:
        stop.set()
        killer.join(30)
    assert killed, "no worker was killed while running a unit"
    assert outcome.returncode == 0, outcome.stderr
    if every:  # the scheduler cannot recompute scattered data: it was sent again, with the units it held up
        assert "died with the run's data; sending the data and" in outcome.stderr
    for pid in killed["pids"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the killed worker processes are gone
    (one,), (dask,) = (tmp_path / "one").iterdir(), (tmp_path / "dask").iterdir()
    runs = seed_runs(dask)
    for seed, run_dir in runs.items():
        assert_same_records(seed_runs(one)[seed], run_dir)
    unit = int(killed["key"].split("-")[2])  # sentibench-RUN-UNIT: units are numbered in seed order
    redone = json.loads((runs[[1, 2, 3][unit]] / "results.json").read_text())["classifiers"]["w2v"]
    assert redone["where"]["fit"]["worker"] != killed["address"]  # it ran again on another worker
    deadline = time.monotonic() + 150  # within LOST_WORKER_TIMEOUT, after which the cluster gives the worker up
    while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # the nanny restarts the killed worker
    assert len(client.scheduler_info()["workers"]) == 2


def test_an_unreachable_scheduler_is_one_line(tmp_path, capsys, monkeypatch):
    from benchmark import parallel

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 2)
    address = f"tcp://127.0.0.1:{unused_port()}"
    outcome = run_main(capsys, "run", "--classifiers", "bow", "--output", str(tmp_path), "--cluster", address)
    one_line_error(outcome, "cannot reach the Dask scheduler at", address)
    assert list(Path(tmp_path).iterdir()) == []


@pytest.mark.slow  # about 20 s: units long enough to be killed mid-way, on a cluster of its own
def test_a_cluster_that_loses_every_worker_for_good_ends_the_run_with_one_line(tmp_path, capsys, monkeypatch):
    import dask
    from distributed import Client, LocalCluster

    from benchmark import parallel

    monkeypatch.setattr(parallel, "SCATTER_TIMEOUT_S", 5)
    # this LocalCluster's scheduler runs in this process: its own log (a traceback of the failed scatter) would be
    # on the scheduler's machine, not in sentibench's stderr
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("distributed")]:
        monkeypatch.setattr(logging.getLogger(name), "disabled", True)
    args = ["run", "--classifiers", "w2v", "--seeds", "1,2,3", "--set", "w2v.min_count=1", "--set", "w2v.w2v_epochs=60",
            "--latency-calls", "2", "--output", str(tmp_path)]
    killed: dict = {}
    stop = threading.Event()
    # a lost-worker-timeout shorter than a restart: the cluster gives its killed workers up, and none come back
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "0.1s"}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                         silence_logs=50) as local, Client(local, set_as_default=False) as client:
        killer = threading.Thread(target=_kill_mid_unit, args=(client, killed, stop, True), daemon=True)
        killer.start()
        try:
            outcome = run_main(capsys, *args, "--cluster", local.scheduler_address)
        finally:
            stop.set()
            killer.join(30)
    assert killed, "no worker was killed while running a unit"
    one_line_error(outcome, "Dask", local.scheduler_address)
    (parent,) = tmp_path.iterdir()
    assert json.loads((parent / "summary.json").read_text())["status"] == "failed"
