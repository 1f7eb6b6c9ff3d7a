"""A saved BERT is the model that was measured, in plain Hugging Face too, and says so in
its model card; ``inference="auto"`` chooses its precision on the validation split."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs the bert extra: pip install 'sentibench[bert]'")

import json

import numpy as np
import torch

from benchmark.__main__ import main
from classifiers import BertClassifier, SentimentClassifier
from classifiers.encoder.inference import choose_path

from .._helpers import FAST_PARAMS, run_predictions, shared_file, synthetic_reviews


def fast(**extra):
    return BertClassifier(**{**FAST_PARAMS["bert"], "verbose": False, "epochs": 2, "learning_rate": 2e-4, **extra})


def _hf_predictions(folder, texts):
    """Labels from plain transformers: the pipeline and the Auto model class."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    classify = pipeline("text-classification", model=str(folder), truncation=True, device="cpu")
    piped = [r["label"] for r in classify(texts, batch_size=1)]
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    with torch.no_grad():
        logits = model(**tokenizer(texts, truncation=True, padding=True, return_tensors="pt")).logits
    return piped, logits.numpy(), model.config


@pytest.mark.slow
@pytest.mark.parametrize("labels, names", [((0, 1), ("negative", "positive")), (("neg", "pos"), ("neg", "pos"))])
def test_saved_bert_computes_the_same_model_in_plain_transformers(tiny, tmp_path, labels, names):
    train_x, train_y, test_x, _ = tiny
    classes = np.array(labels)
    clf = fast(inference="fp32").fit(train_x, classes[train_y])
    folder = clf.save(tmp_path / "bert")
    piped, logits, config = _hf_predictions(folder, test_x)
    assert config.id2label == {0: names[0], 1: names[1]}
    assert config.label2id == {names[0]: 0, names[1]: 1}
    ours = clf.predict(test_x)
    assert [names[list(classes).index(p)] for p in ours] == piped
    # Same numbers, not only the same labels: the logits of the Auto class match ours.
    scores = clf.decision_function(test_x)
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], scores, atol=1e-4)
    # sentibench's own metadata sits beside the Hugging Face files.
    assert {"config.json", "model.safetensors", "sentibench.json", "training.json", "README.md"} <= {p.name for p in folder.iterdir()}
    assert SentimentClassifier.load(folder).predict(test_x).tolist() == ours.tolist()


def test_a_three_class_bert_is_the_same_model_in_plain_transformers(tmp_path):
    texts, labels = synthetic_reviews(3, 30, seed=2)
    names = ["negative", "neutral", "positive"]
    clf = fast(inference="fp32").fit(texts[:60], labels[:60], validation=(texts[60:75], labels[60:75]))
    folder = clf.save(tmp_path / "bert", card={"class_names": names})
    test_x = texts[75:]
    piped, logits, config = _hf_predictions(folder, test_x)
    assert config.id2label == dict(enumerate(names)) and config.num_labels == 3
    ours = clf.predict(test_x)
    assert [names[p] for p in ours] == piped
    np.testing.assert_allclose(logits / clf.temperature_, clf.decision_function(test_x), atol=1e-4)
    card = (folder / "README.md").read_text()
    assert "3 classes, in order" in card and "`neutral`" in card


@pytest.mark.slow
def test_mean_pooled_model_is_not_loadable_as_a_different_model(tiny, tmp_path):
    from transformers import pipeline

    train_x, train_y, test_x, _ = tiny
    clf = fast(pooling="mean").fit(train_x, train_y)
    folder = clf.save(tmp_path / "bert")
    # No config.json at the top: plain transformers fails loudly instead of silently
    # computing the [CLS] model that was never trained.
    with pytest.raises((OSError, ValueError)):
        pipeline("text-classification", model=str(folder))
    assert "must be loaded with sentibench" in (folder / "README.md").read_text()
    np.testing.assert_allclose(SentimentClassifier.load(folder).decision_function(test_x), clf.decision_function(test_x), atol=1e-6)


@pytest.mark.slow
def test_run_save_models_writes_a_hugging_face_folder_with_a_model_card(tmp_path):
    from transformers import pipeline

    bert = ["--set", "bert.epochs=1", "--set", "bert.max_length=32", "--set", "bert.verbose=false"]
    assert main(["-q", "run", "--classifiers", "bert", "--save-models", "--latency-calls", "3", "--output", str(tmp_path), *bert]) == 0
    (run_dir,) = tmp_path.iterdir()
    folder = run_dir / "models" / "bert"
    texts = run_predictions(run_dir).texts[:5]
    assert len(pipeline("text-classification", model=str(folder))(texts)) == 5
    card = (folder / "README.md").read_text()
    results = json.loads((run_dir / "results.json").read_text())
    record = results["classifiers"]["bert"]
    for fact in (
        "pipeline_tag: text-classification", "base_model: sentence-transformers/all-MiniLM-L6-v2",
        "sample:pang-lee", f"{results['data']['rows_used']:,} reviews used",
        results["split"]["sha256"], f"| accuracy | {record['metrics']['accuracy']:.4f} | [",
        "| learning_rate |", f"Training time: {record['train_time_s']:.1f} s", "## Intended use and limits",
        "labels are `negative` and `positive`",
    ):
        assert fact in card, fact


def test_choose_path_keeps_int8_only_within_the_tolerance():
    fast_int8 = {"int8": {"val_accuracy": 0.9000, "latency_p50_ms": 1.0},
                 "bf16": {"val_accuracy": 0.9040, "latency_p50_ms": 2.0},
                 "fp32": {"val_accuracy": 0.9025, "latency_p50_ms": 4.0}}
    assert choose_path(fast_int8)[0] == "int8"  # 0.25 points below fp32: allowed
    lossy_int8 = {**fast_int8, "int8": {"val_accuracy": 0.8990, "latency_p50_ms": 1.0}}
    chosen, reason = choose_path(lossy_int8)  # 0.35 points below: the next fastest that keeps it
    assert chosen == "bf16" and "int8 lost more" in reason
    lossy_both = {**lossy_int8, "bf16": {"val_accuracy": 0.8980, "latency_p50_ms": 2.0}}
    assert choose_path(lossy_both)[0] == "fp32"
    no_bf16 = {k: v for k, v in lossy_int8.items() if k != "bf16"}
    assert choose_path(no_bf16)[0] == "fp32"


def test_choose_path_gives_near_ties_to_the_most_exact_path_whichever_measured_faster():
    def measured(int8, bf16, fp32):
        return {path: {"val_accuracy": 0.9, "latency_p50_ms": ms} for path, ms in (("int8", int8), ("bf16", bf16), ("fp32", fp32))}

    # One run measured twice (an uninterrupted fit, a resumed one): int8 and fp32 swap places within noise.
    assert choose_path(measured(1.00, 3.0, 1.10))[0] == choose_path(measured(1.10, 3.0, 1.00))[0] == "fp32"
    chosen, reason = choose_path(measured(1.0, 1.2, 3.0))  # int8 and bf16 as fast: bf16 is the more exact
    assert chosen == "bf16" and "the most exact of bf16 and int8" in reason
    assert choose_path(measured(1.0, 1.3, 3.0))[0] == "int8"  # 30% faster is a real difference


@pytest.mark.slow
def test_auto_inference_is_chosen_on_validation_and_recorded(tiny):
    train_x, train_y, test_x, test_y = tiny
    clf = fast().fit(train_x, train_y, validation=(test_x, test_y))
    choice = clf.inference_choice_
    assert choice["chosen"] in choice["candidates"] and "fp32" in choice["candidates"]
    for candidate in choice["candidates"].values():
        assert 0 <= candidate["val_accuracy"] <= 1 and candidate["latency_p50_ms"] > 0
    fp32_accuracy = choice["candidates"]["fp32"]["val_accuracy"]
    assert choice["candidates"][choice["chosen"]]["val_accuracy"] >= fp32_accuracy - 0.003
    assert clf.compare_inference(test_x, test_y)["inference"] == choice["chosen"]
    # An explicit setting wins over the choice.
    assert clf.set_params(inference="fp32").compare_inference(test_x, test_y)["agreement"] == 1.0


@pytest.mark.shared_data
@pytest.mark.slow
def test_exported_bert_agrees_with_sentibench_on_real_reviews(tmp_path):
    data = shared_file("yelp_sentences.csv")
    args = ["-q", "run", "--classifiers", "bert", "--data", str(data), "--sample-size", "2000", "--save-models",
            "--latency-calls", "5", "--output", str(tmp_path), "--set", "bert.epochs=1", "--set", "bert.verbose=false"]
    assert main(args) == 0
    (run_dir,) = tmp_path.iterdir()
    predictions = run_predictions(run_dir)  # predictions.jsonl: the exact texts, classes as positions
    texts, y = predictions.texts, predictions.labels
    folder = run_dir / "models" / "bert"
    piped, _, _ = _hf_predictions(folder, texts)
    hf = np.array([1 if label == "positive" else 0 for label in piped])
    full_precision = SentimentClassifier.load(folder).set_params(inference="fp32").predict(texts)
    assert (hf == full_precision).mean() >= 0.995
    reported = json.loads((run_dir / "results.json").read_text())["classifiers"]["bert"]["metrics"]["accuracy"]
    assert abs((hf == y).mean() - reported) <= 0.01


def test_a_card_context_with_only_a_source_is_written(tmp_path, tiny):
    """Every card key is optional: a source without a row count wrote '?' through ':,' and crashed."""
    from classifiers import BowSvmClassifier

    clf = BowSvmClassifier(min_df=1).fit(tiny[0], tiny[1])
    card = (clf.save(tmp_path / "m", card={"source": "my_reviews.csv"}) / "README.md").read_text()
    assert "- Source: `my_reviews.csv`." in card
