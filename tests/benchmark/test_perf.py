"""The BERT perf benchmark's data generator and command (timings are not asserted)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs the bert extra: pip install 'sentibench[bert]'")

import json

import numpy as np
from transformers import AutoConfig, AutoTokenizer

from benchmark.__main__ import main
from benchmark.perf.bert import long_reviews, training_flops_per_sample
from classifiers.encoder.hub import bundled_model_path
from dataset import bundled_sample_path


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(bundled_model_path()))


def test_long_reviews_all_exceed_128_tokens_and_keep_one_polarity(sample, tokenizer):
    texts, labels = long_reviews(sample.texts, sample.labels, tokenizer, 12, seed=3)
    assert len(texts) == 12
    assert sorted(set(labels.tolist())) == [0, 1]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    assert min(lengths) > 128
    # Built only from sentences of the review's own class.
    by_label = {c: {t for t, y in zip(sample.texts, sample.labels, strict=True) if y == c} for c in (0, 1)}
    for text, label in zip(texts, labels, strict=True):
        assert any(sentence in text for sentence in by_label[label])
    again, _ = long_reviews(sample.texts, sample.labels, tokenizer, 12, seed=3)
    assert again == texts


def test_training_flops_scale_with_sequence_length():
    config = AutoConfig.from_pretrained(str(bundled_model_path()))
    short, long = training_flops_per_sample(config, 64), training_flops_per_sample(config, 128)
    assert 2 < long / short < 2.2  # linear in tokens, plus a small quadratic attention term
    # MiniLM-L6 at 128 tokens: about 8.6 GFLOP per training sample.
    assert 8e9 < long < 9.5e9


def test_on_a_gpu_perf_bert_also_measures_the_gpu_default_batch():
    from benchmark.perf.bert import recipes_for
    from classifiers.encoder.gpu import GPU_BATCH

    assert {k: b for k, (_, b) in recipes_for("cpu", 16).items()} == {"seed": 16, "trainer": 16, "sentibench": 16}
    on_gpu = {k: b for k, (_, b) in recipes_for("cuda", 16).items()}
    assert on_gpu == {"seed": 16, "trainer": 16, "sentibench": 16, f"trainer@{GPU_BATCH}": GPU_BATCH, "sentibench@auto": "auto"}


@pytest.mark.slow
def test_perf_command_reports_all_recipes(tmp_path, capsys):
    out = tmp_path / "perf.json"
    assert main(["-q", "perf", "bert", "--sentences", "32", "--long", "16", "--latency-calls", "5", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("CPU ") and "(c)/(a)" in printed and "(c)/(b)" in printed and "matmul ceiling" in printed
    results = json.loads(out.read_text())
    for block in results["datasets"].values():
        assert set(block["recipes"]) == {"seed", "trainer", "sentibench"}
        assert all(np.isfinite(r["train_samples_per_s"]) and r["train_samples_per_s"] > 0 for r in block["recipes"].values())
        for r in block["recipes"].values():
            assert r["latency_p95_ms"] >= r["latency_p50_ms"] > 0 and r["batched_per_s"] > 0 and r["batch_size"] == 16
        ours = block["recipes"]["sentibench"]
        assert ours["latency_p50_ms"] == min(ours["latency_p50_ms_by_path"].values())  # the fastest path, named
        assert ours["latency_p50_ms_by_path"][ours["latency_path"]] == ours["latency_p50_ms"]
    pids = [r["process"]["pid"] for block in results["datasets"].values() for r in block["recipes"].values()]
    assert len(set(pids)) == len(pids) == 6  # every recipe in a process of its own
    assert "in its own fresh process" in printed


def test_the_order_of_the_recipes_changes_nothing_a_recipe_starts_with():
    import torch

    from benchmark.perf.isolated import in_own_process, measure_recipe

    from . import _perf_probes as probes

    def measure(name, isolated=True):
        args = (getattr(probes, name), name, "unused", ["good", "bad", "fine"], np.array([1, 0, 1]), 2, {}, 3, "cpu")
        return in_own_process(measure_recipe, *args) if isolated else measure_recipe(*args)

    started = {}
    for order in (("polluter", "probe"), ("probe", "polluter")):
        rows = {name: measure(name) for name in order}
        started[order] = rows["probe"]["process"]["torch_threads_at_start"]
        assert rows["probe"]["process"]["pid"] != rows["polluter"]["process"]["pid"]
    assert started[("polluter", "probe")] == started[("probe", "polluter")] == torch.get_num_threads()
    # In one process, the recipe measured second would have started with what the first left.
    threads = torch.get_num_threads()
    try:
        measure("polluter", isolated=False)
        assert measure("probe", isolated=False)["process"]["torch_threads_at_start"] == 1
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("with_fasttext", [True, False])
def test_perf_classical_writes_rows_and_names_the_cpu(tmp_path, capsys, monkeypatch, with_fasttext):
    import benchmark.perf.classical as perf_classical

    if with_fasttext:
        pytest.importorskip("fasttext")
    else:
        monkeypatch.setattr(perf_classical, "_fasttext", lambda: None)
    out = tmp_path / "rows.json"
    sample = str(bundled_sample_path())
    assert main(["-q", "perf", "classical", "--data", sample, "--latency-calls", "20", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    from benchmark.environment import cpu_features, describe_cpu

    first = printed.splitlines()[0]
    assert first == describe_cpu() and first.startswith("CPU ")
    assert (", AMX," in first) == bool(cpu_features()["amx_bf16"]) and (", no AMX," in first) != bool(cpu_features()["amx_bf16"])
    rows = json.loads(out.read_text())
    expected = ["bow", "w2v", "fasttext"] if with_fasttext else ["bow", "w2v"]
    assert [r["recipe"] for r in rows] == expected
    for r in rows:
        assert set(r) == set(perf_classical.JSON_KEYS)
        assert 0.5 <= r["accuracy"] <= 1 and r["latency_p50_ms"] <= r["latency_p95_ms"] and r["throughput_per_s"] > 0
    assert ("pip install 'sentibench[peers]'" in printed) is (not with_fasttext)
    if with_fasttext:
        assert "p50 / fastText" in printed
