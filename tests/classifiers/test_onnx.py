"""ONNX Runtime as two more CPU inference paths (onnx-fp32, onnx-int8): the graphs compute the
network, a saved model's ``model.onnx`` runs in plain ONNX Runtime, a graph that is damaged,
reads other files or computes another network is never used, and without ONNX Runtime the
paths are not offered."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs the bert extra: pip install 'sentibench[bert]'")
pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'sentibench[onnx]'")

import numpy as np
import onnx
import torch

from classifiers import BertClassifier, SentimentClassifier
from classifiers._persist import ModelFileError
from classifiers.encoder import inference
from classifiers.encoder import onnx as sb_onnx
from classifiers.encoder.inference import choose_path, inference_net, predict_logits
from classifiers.encoder.network import PooledClassifier, example_batch
from dataset import UsageError

from .._helpers import FAST_PARAMS


def _network(seed: int = 0) -> PooledClassifier:
    from transformers import AutoModelForSequenceClassification

    from classifiers.encoder.hub import bundled_model_path, quiet_transformers

    torch.manual_seed(seed)  # the 2-way head is new: its weights come from the seed
    with quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(bundled_model_path(), num_labels=2)
    return PooledClassifier(model.eval(), "cls").eval()


@pytest.fixture(scope="module")
def network():
    return _network()


def _eager(module, encoded):
    return predict_logits(module, encoded, _cpu(), autocast=False, batch_size=64)


def _cpu():
    from classifiers.encoder.runtime import Runtime

    return Runtime(device="cpu", precision="fp32", pad_id=0, max_length=128)


def _reviews(n=7, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.integers(1000, 5000, size=int(rng.integers(3, 60))).tolist() for _ in range(n)]


def test_the_onnx_paths_compute_the_network_with_its_attention_fused(network):
    encoded = _reviews()
    expected = _eager(network, encoded)
    fp32 = inference_net(network, "onnx-fp32", 0)
    int8 = inference_net(network, "onnx-int8", 0)
    assert isinstance(fp32, sb_onnx.OnnxNet) and isinstance(int8, sb_onnx.OnnxNet)
    # Batched and padded (reviews of 3 to 60 tokens together): fp32 to float rounding.
    torch.testing.assert_close(predict_logits(fp32, encoded, _cpu(), autocast=False, batch_size=64), expected,
                               atol=1e-4, rtol=0)
    got = predict_logits(int8, encoded, _cpu(), autocast=False, batch_size=1)
    assert (got - expected).abs().max() < 5e-2 and not torch.equal(got, expected)
    # The optimizer fused attention: the graph ONNX Runtime runs holds its Attention operator.
    graph = onnx.load_from_string(sb_onnx.optimized(sb_onnx.export(network, example_batch(2, 16, 0)),
                                                    network.net.config))
    assert {"Attention", "SkipLayerNormalization"} <= {node.op_type for node in graph.graph.node}


def test_auto_takes_an_onnx_path_only_when_it_is_really_faster_and_keeps_the_accuracy():
    def measured(**ms):
        return {path: {"val_accuracy": 0.9, "latency_p50_ms": t} for path, t in ms.items()}

    assert choose_path(measured(**{"fp32": 4.0, "int8": 3.0, "onnx-int8": 2.0, "onnx-fp32": 3.5}))[0] == "onnx-int8"
    # fp32 on ONNX Runtime as fast as traced fp32 (within 25%): the traced one, first in the order.
    assert choose_path(measured(**{"fp32": 4.0, "onnx-fp32": 3.4}))[0] == "fp32"
    lossy = {**measured(**{"fp32": 4.0, "onnx-fp32": 3.0, "onnx-int8": 1.0}),
             "onnx-int8": {"val_accuracy": 0.89, "latency_p50_ms": 1.0}}
    chosen, reason = choose_path(lossy)
    assert chosen == "onnx-fp32" and "onnx-int8 lost more" in reason


def test_without_onnx_runtime_the_paths_are_not_offered_and_asking_is_one_line(monkeypatch, network):
    monkeypatch.setattr(inference, "onnx_available", lambda: False)
    assert not set(inference.cpu_paths()) & set(sb_onnx.ONNX_PATHS)
    # A model that chose onnx-int8 where it was fitted predicts with fp32 here.
    assert inference.usable_path({"chosen": "onnx-int8"}, "cpu", gpu_fallback="train") == "fp32"
    with pytest.raises(UsageError, match=r"needs ONNX Runtime: pip install 'sentibench\[onnx\]'"):
        inference_net(network, "onnx-fp32", 0)


@pytest.fixture(scope="module")
def saved_bert(tiny, tmp_path_factory):
    train_x, train_y, _, _ = tiny
    clf = BertClassifier(**{**FAST_PARAMS["bert"], "verbose": False, "inference": "fp32"}).fit(train_x, train_y)
    return clf, clf.save(tmp_path_factory.mktemp("onnx") / "bert")


@pytest.mark.slow
def test_a_saved_bert_writes_model_onnx_that_plain_onnx_runtime_runs(saved_bert, tiny):
    import onnxruntime as ort

    clf, folder = saved_bert
    test_x = tiny[2]
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    tokens = clf.tokenizer_(test_x, truncation=True, max_length=clf.max_length, padding=True, return_tensors="np")
    logits = session.run(None, {"input_ids": tokens["input_ids"].astype(np.int64),
                                "attention_mask": tokens["attention_mask"].astype(np.int64)})[0]
    np.testing.assert_allclose((logits[:, 1] - logits[:, 0]) / clf.temperature_, clf.decision_function(test_x), atol=1e-4)
    # Loaded, the model predicts on ONNX Runtime from that graph, with the same labels.
    loaded = SentimentClassifier.load(folder).set_params(inference="onnx-fp32")
    assert loaded._onnx_file == folder / "model.onnx"
    assert loaded.predict(test_x).tolist() == clf.predict(test_x).tolist()
    assert isinstance(loaded._inference_nets.get("onnx-fp32"), sb_onnx.OnnxNet)


@pytest.mark.slow
def test_a_model_onnx_that_is_damaged_or_reads_other_files_is_refused_at_load(saved_bert, tmp_path):
    import shutil

    _, folder = saved_bert
    damaged = shutil.copytree(folder, tmp_path / "damaged")
    (damaged / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelFileError, match="is not an ONNX graph"):
        SentimentClassifier.load(damaged)
    external = shutil.copytree(folder, tmp_path / "external")
    graph = onnx.load(str(external / "model.onnx"))
    onnx.save_model(graph, str(external / "model.onnx"), save_as_external_data=True, location="weights.bin",
                    size_threshold=1024)
    with pytest.raises(ModelFileError, match="keeps tensors in external files"):
        SentimentClassifier.load(external)


@pytest.mark.slow
def test_a_model_onnx_of_another_network_is_not_used(saved_bert, tiny, tmp_path):
    import shutil

    clf, folder = saved_bert
    other = shutil.copytree(folder, tmp_path / "other")
    (other / "model.onnx").write_bytes(sb_onnx.export(_network(seed=1), example_batch(2, 16, 0)))
    loaded = SentimentClassifier.load(other).set_params(inference="onnx-fp32")
    np.testing.assert_allclose(loaded.decision_function(tiny[2]), clf.decision_function(tiny[2]), atol=1e-4)
