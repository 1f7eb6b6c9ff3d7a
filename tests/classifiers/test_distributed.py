"""Data-parallel BERT fine-tuning with 2 CPU processes (gloo), launched like a user would."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs the bert extra: pip install 'sentibench[bert]'")
pytestmark = pytest.mark.slow  # two processes fine-tune BERT

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from classifiers.bert import BertClassifier
from classifiers.encoder.batching import distributed_length_grouped_batches
from classifiers.encoder.network import PooledClassifier

from .._helpers import unused_port, weights_digest


@pytest.mark.parametrize("n, batch_size, world", [(140, 16, 2), (141, 8, 2), (50, 4, 3), (5, 16, 2)])
def test_distributed_shards_are_disjoint_equal_and_cover_the_epoch(n, batch_size, world):
    lengths = np.random.default_rng(0).integers(3, 60, size=n)
    shards = [distributed_length_grouped_batches(lengths, batch_size, 42, 1, rank, world) for rank in range(world)]
    assert len({len(s) for s in shards}) == 1  # same number of steps on every process
    seen = np.concatenate([np.concatenate(s) for s in shards])
    assert sorted(seen.tolist()) == list(range(n))
    assert all(len(b) <= batch_size for s in shards for b in s)
    again = distributed_length_grouped_batches(lengths, batch_size, 42, 1, 0, world)
    assert [b.tolist() for b in again] == [b.tolist() for b in shards[0]]


def test_distributed_shards_change_between_epochs():
    lengths = np.random.default_rng(0).integers(3, 60, size=140)
    first = distributed_length_grouped_batches(lengths, 16, 42, 1, 0, 2)
    second = distributed_length_grouped_batches(lengths, 16, 42, 2, 0, 2)
    assert [b.tolist() for b in first] != [b.tolist() for b in second]


def test_two_process_run_trains_disjoint_shards_and_writes_once(tmp_path):
    trace, out = tmp_path / "trace", tmp_path / "runs"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [
        str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(unused_port()),
        str(Path(__file__).parents[1] / "_distributed_trace.py"), "-q", "run", "--classifiers", "bert", "--output", str(out),
        "--save-models",
        "--set", "bert.epochs=2", "--set", "bert.max_length=32", "--set", "bert.patience=5",
        "--set", "bert.verbose=false", "--latency-calls", "3",
    ]
    env = {**os.environ, "SENTIBENCH_TEST_TRACE_DIR": str(trace), "SENTIBENCH_DATA": "sample:pang-lee"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = out.iterdir()  # written once, by the main process
    results = json.loads((run_dir / "results.json").read_text())
    assert results["environment"]["world_size"] == 2
    assert results["status"] == "complete"
    history = results["classifiers"]["bert"]["history"]
    assert len(history) == 2
    assert history[0]["samples_per_s_per_process"] == pytest.approx(history[0]["samples_per_s"] / 2)
    # Each epoch: the two processes' training indices are disjoint and cover the training split.
    n_train = results["split"]["sizes"]["train"]
    for epoch in (1, 2):
        shards = [set(json.loads((trace / f"rank{r}-epoch{epoch}.json").read_text())) for r in (0, 1)]
        assert not shards[0] & shards[1]
        assert shards[0] | shards[1] == set(range(n_train))
    # Both processes end with the same weights, and they are what the main process saved.
    digests = {(trace / f"rank{r}-weights.txt").read_text() for r in (0, 1)}
    saved = BertClassifier.load(run_dir / "models" / "bert")
    assert digests == {weights_digest(PooledClassifier(saved.model_, saved.pooling))}
