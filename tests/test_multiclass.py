"""Three classes and five: every classifier, the labels of a data file, the metrics and the
command line, on small synthetic reviews (and the shared VADER snippets when present)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, roc_auc_score

from classifiers import REGISTRY, BowSvmClassifier, SentimentClassifier, Word2VecSvmClassifier
from dataset import MAX_CLASSES, DataError, load_reviews

from ._helpers import FAST_PARAMS, shared_file, synthetic_reviews

NAMES = sorted(REGISTRY)
#: BERT learns these words in two epochs at a higher rate; the others with their fast settings.
_K_PARAMS = {**FAST_PARAMS, "bert": {**FAST_PARAMS["bert"], "epochs": 2, "learning_rate": 2e-4, "verbose": False}}


@pytest.fixture(scope="module", params=[3, 5], ids=["K3", "K5"])
def data(request):
    texts, labels = synthetic_reviews(request.param, 30, seed=request.param)
    n = len(texts)
    return request.param, texts[: n * 2 // 3], labels[: n * 2 // 3], texts[n * 2 // 3:], labels[n * 2 // 3:]


@pytest.fixture(scope="module", params=NAMES)
def fitted(request, data):
    k, train_x, train_y, test_x, test_y = data
    names = np.array(["neg", "mid", "pos"] if k == 3 else ["1", "2", "3", "4", "5"])
    clf = REGISTRY[request.param](**_K_PARAMS[request.param])
    clf.fit(train_x, names[train_y], validation=(test_x, names[test_y]))
    return clf, names, data


def test_k_classes_predict_their_names_with_k_probabilities(fitted):
    clf, names, (k, train_x, train_y, test_x, test_y) = fitted
    np.testing.assert_array_equal(clf.classes_, np.sort(names))
    pred = clf.predict(test_x)
    assert set(pred.tolist()) <= set(names.tolist())
    proba = clf.predict_proba(test_x)
    assert proba.shape == (len(test_x), k)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)  # BERT's softmax is float32
    decision = clf.decision_function(test_x)
    assert decision.shape == (len(test_x), k)
    np.testing.assert_array_equal(pred, clf.classes_[decision.argmax(axis=1)])
    assert clf.predict([]).shape == (0,) and clf.predict_proba([]).shape == (0, k)
    assert clf.decision_function([]).shape == (0, k)
    # Better than chance on words that mark the classes.
    assert (pred == names[test_y]).mean() > 1.5 / k


def test_k_class_models_survive_save_and_load(fitted, tmp_path):
    clf, _, (_, _, _, test_x, _) = fitted
    loaded = SentimentClassifier.load(clf.save(tmp_path / "model", card={"class_names": list(clf.classes_)}))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict(test_x), clf.predict(test_x))
    np.testing.assert_allclose(loaded.predict_proba(test_x), clf.predict_proba(test_x), atol=1e-6)
    assert f"{len(clf.classes_)} classes" in (tmp_path / "model" / "README.md").read_text()


@pytest.mark.parametrize("cls", [BowSvmClassifier, Word2VecSvmClassifier])
@pytest.mark.parametrize("k", [3, 5])
def test_fast_paths_give_scikit_learns_k_decision_values(cls, k):
    texts, labels = synthetic_reviews(k, 40, seed=1)
    clf = cls(**FAST_PARAMS[cls.name], random_state=0).fit(texts, labels)
    probe = texts[:20] + ["", "never seen words only", "awful awful amazing"]
    if cls is BowSvmClassifier:
        reference = clf.svm_.decision_function(clf.vectorizer_.transform(probe))
        batch = clf._fast.decisions(probe)
        np.testing.assert_allclose(batch, reference, atol=1e-9, rtol=0)
    else:
        reference = clf.svm_.decision_function(clf.scaler_.transform(clf._embed(probe)[0]))
    one_by_one = np.array([clf.decision_function([t])[0] for t in probe])
    assert one_by_one.shape == (len(probe), k)
    np.testing.assert_allclose(one_by_one, reference, atol=1e-9, rtol=0)
    np.testing.assert_array_equal(clf.predict(probe), reference.argmax(axis=1))


def test_svm_calibration_gives_k_class_probabilities_that_rank_like_the_decision(data):
    k, train_x, train_y, test_x, test_y = data
    clf = BowSvmClassifier(min_df=1).fit(train_x, train_y, validation=(test_x, test_y))
    assert np.asarray(clf.calibration_["coef"]).shape == (k, k)
    proba = clf.predict_proba(test_x)
    # The calibrated probabilities agree with the decision on most reviews.
    assert (proba.argmax(1) == clf.decision_function(test_x).argmax(1)).mean() > 0.8


# -- data -----------------------------------------------------------------------------------


def _csv(tmp_path, rows, header="text,label"):
    path = tmp_path / "reviews.csv"
    path.write_text(header + "\n" + "".join(f"{t},{y}\n" for t, y in rows))
    return path


def test_star_ratings_stay_five_ordered_classes_unless_thresholded(tmp_path):
    path = _csv(tmp_path, [(f"review {i}", 1 + i % 5) for i in range(50)], "text,stars")
    data = load_reviews(str(path))
    assert data.classes == ["1", "2", "3", "4", "5"] and data.ordinal and data.class_values == [1, 2, 3, 4, 5]
    assert data.class_counts() == {k: 10 for k in range(5)}
    binary = load_reviews(str(path), star_threshold=3)
    assert binary.classes == ["negative", "positive"] and binary.dropped == {"neutral star rating (3)": 10}
    assert binary.label_names == {0: "1-2 stars", 1: "4-5 stars"}


def test_sentiment_words_are_three_ordered_classes_and_known_pairs_stay_binary(tmp_path):
    words = load_reviews(str(_csv(tmp_path, [(f"r {i}", ["positive", "neutral", "negative"][i % 3]) for i in range(30)])))
    assert words.classes == ["negative", "neutral", "positive"] and words.ordinal
    assert [words.classes[k] for k in words.labels[:3]] == ["positive", "neutral", "negative"]
    polarity = load_reviews(str(_csv(tmp_path, [(f"r {i}", 1 + i % 2) for i in range(20)])))
    assert polarity.classes == ["negative", "positive"] and polarity.label_names == {0: "1", 1: "2"}


def test_other_names_are_classes_in_sorted_order(tmp_path):
    data = load_reviews(str(_csv(tmp_path, [(f"r {i}", ["sad", "angry", "happy"][i % 3]) for i in range(30)])))
    assert data.classes == ["angry", "happy", "sad"] and not data.ordinal


def test_label_map_groups_are_classes_in_the_order_given(tmp_path):
    path = _csv(tmp_path, [(f"r {i}", 1 + i % 5) for i in range(50)])
    data = load_reviews(str(path), label_map={"negative": ["1", "2"], "neutral": ["3"], "positive": ["4", "5"]})
    assert data.classes == ["negative", "neutral", "positive"] and data.ordinal
    assert data.class_counts() == {0: 20, 1: 10, 2: 20}
    assert data.label_names == {0: "1, 2", 1: "3", 2: "4, 5"}
    older = load_reviews(str(path), label_map={"1": 0, "5": 1})
    assert older.classes == ["negative", "positive"] and older.dropped == {"dropped by label map": 30}


def test_too_many_classes_or_two_label_rules_are_one_line(tmp_path):
    path = _csv(tmp_path, [(f"r {i}", i) for i in range(MAX_CLASSES + 5)])
    with pytest.raises(DataError, match=f"{MAX_CLASSES + 5} numeric label values"):
        load_reviews(str(path))
    with pytest.raises(DataError, match="give one"):
        load_reviews(str(path), star_threshold=3, label_map={"a": ["1"], "b": ["2"]})


# -- metrics --------------------------------------------------------------------------------


def test_k_class_metrics_match_scikit_learn():
    from benchmark.measure import evaluate
    from benchmark.stats import Classes, bootstrap_ci

    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 300)
    pred = np.clip(y + rng.integers(-1, 2, 300), 0, 4)
    proba = rng.dirichlet(np.ones(5), 300)
    classes = Classes(5, True, (1.0, 2.0, 3.0, 4.0, 5.0))
    m = evaluate(y, pred, proba, classes, ["1", "2", "3", "4", "5"])
    assert m["confusion_matrix"] == confusion_matrix(y, pred).tolist()
    assert m["qwk"] == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"))
    assert m["mae"] == pytest.approx(np.abs(y - pred).mean())
    assert m["off_by_one"] == 1.0
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    # Top-label ECE: how far the top probability is from how often the top class is right.
    assert 0 <= m["ece"] <= 1 and m["brier"] == pytest.approx(((proba - np.eye(5)[y]) ** 2).sum(1).mean())
    ci = bootstrap_ci(y, pred, proba, classes=classes, n_resamples=200)
    for key in ("accuracy", "f1_macro", "qwk", "mae", "roc_auc", "ece", "brier", "precision_4", "recall_0", "f1_2"):
        assert ci[key]["low"] <= ci[key]["value"] <= ci[key]["high"], key
    assert ci["qwk"]["value"] == pytest.approx(m["qwk"])


def test_unordered_classes_have_no_ordinal_metrics():
    from benchmark.measure import evaluate
    from benchmark.stats import Classes

    y = np.array([0, 1, 2] * 10)
    m = evaluate(y, y, np.eye(3)[y], Classes(3, False), ["a", "b", "c"])
    assert "qwk" not in m and m["accuracy"] == 1.0 and m["report"]["b"]["f1-score"] == 1.0


# -- the command line -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stars_run(tmp_path_factory):
    from benchmark.__main__ import main

    texts, labels = synthetic_reviews(5, 60, seed=5)
    tmp = tmp_path_factory.mktemp("stars")
    path = tmp / "stars.csv"
    path.write_text("text,stars\n" + "".join(f"{t},{y + 1}\n" for t, y in zip(texts, labels, strict=True)))
    out = tmp / "runs"
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--data", str(path), "--metric", "qwk", "--save-models",
                 "--output", str(out), "--latency-calls", "2", "--set", "w2v.min_count=1", "--set", "w2v.w2v_epochs=5"]) == 0
    (run_dir,) = out.iterdir()
    return run_dir, path


def test_a_five_star_run_reports_ordinal_metrics_per_class_and_names_its_metric(stars_run):
    run_dir, _ = stars_run
    results = json.loads((run_dir / "results.json").read_text())
    assert results["data"]["classes"] == ["1", "2", "3", "4", "5"] and results["data"]["ordinal"]
    record = results["classifiers"]["bow"]
    assert len(record["metrics"]["confusion_matrix"]) == 5 and {"qwk", "mae", "off_by_one"} <= set(record["metrics"])
    assert record["ci"]["qwk"]["low"] <= record["metrics"]["qwk"] <= record["ci"]["qwk"]["high"]
    recommendation = results["recommendation"]
    assert recommendation["metric"] == "qwk" and "QWK" in recommendation["reason"]
    assert results["pareto"]["metric"] == "qwk"
    report = (run_dir / "report.md").read_text()
    assert "## Per class" in report and "quadratic weighted kappa" in report and "top-label" in report
    assert (run_dir / "confusion_bow.png").stat().st_size > 0 and not (run_dir / "roc.png").exists()
    line = json.loads((run_dir / "predictions.jsonl").read_text().splitlines()[0])
    assert len(line["proba"]["w2v"]) == 5 and 0 <= line["pred"]["bow"] < 5
    assert "bow P(5)" in (run_dir / "predictions.csv").read_text().splitlines()[0]


def test_predict_and_report_of_a_five_star_run_speak_class_names(stars_run, capsys):
    from benchmark.__main__ import main

    run_dir, _ = stars_run
    assert main(["predict", "--run", str(run_dir), "--json", "superb perfect food", "", "awful rude staff"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["index"] for r in rows] == [0, 2]
    assert rows[0]["predictions"]["bow"]["label"] == "5" and rows[1]["predictions"]["bow"]["label"] == "1"
    assert set(rows[0]["predictions"]["w2v"]["probabilities"]) == {"1", "2", "3", "4", "5"}
    before = (run_dir / "report.md").read_bytes()
    assert main(["-q", "report", str(run_dir)]) == 0
    assert (run_dir / "report.md").read_bytes() == before


def test_qwk_needs_ordered_classes(tmp_path, capsys):
    from benchmark.__main__ import main

    path = _csv(tmp_path, [(f"word{i % 3} review {i}", ["sad", "angry", "happy"][i % 3]) for i in range(60)])
    assert main(["run", "--classifiers", "bow", "--data", str(path), "--metric", "qwk", "--output", str(tmp_path / "o")]) == 2
    assert "--metric qwk needs three or more ordered classes" in capsys.readouterr().err


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("column", ["stars", "sentiment"])
def test_vader_snippets_run_every_classifier(tmp_path, column):
    from benchmark.__main__ import main

    path = shared_file("vader_amazon_snippets.csv")
    assert main(["-q", "run", "--all", "--data", str(path), "--label-column", column, "--output", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    records = results["classifiers"]
    assert set(records) == {"bow", "w2v", "bert", "embed"}
    ordinal = "qwk" if column == "stars" else "f1_macro"
    assert records["bert"]["metrics"]["accuracy"] > records["bow"]["metrics"]["accuracy"]
    assert records["bert"]["metrics"][ordinal] > records["bow"]["metrics"][ordinal]


# -- two classes: the numbers of the binary version, pinned --------------------------------
# Correct test reviews of each classifier with its defaults, measured before K classes came
# (bundled 200-sentence sample: 30 test reviews; yelp_sentences.csv: 3,325, BERT on 6,000).
BINARY_SAMPLE = {"bow": 16, "w2v": 17, "bert": 16, "embed": 22}
BINARY_YELP = {"bow": 3165, "w2v": 3060, "bert": 3191, "embed": 3108}


def _correct(out) -> dict:
    (run_dir,) = out.iterdir()
    records = json.loads((run_dir / "results.json").read_text())["classifiers"]
    return {n: round(r["metrics"]["accuracy"] * r["metrics"]["n_test"]) for n, r in records.items()}


def test_binary_numbers_of_the_classical_models_are_unchanged(tmp_path):
    from benchmark.__main__ import main

    assert main(["-q", "run", "--classifiers", "bow,w2v", "--data", "sample:pang-lee", "--output", str(tmp_path),
                 "--latency-calls", "2"]) == 0
    assert _correct(tmp_path) == {n: BINARY_SAMPLE[n] for n in ("bow", "w2v")}


@pytest.mark.slow
def test_binary_numbers_of_the_transformers_are_unchanged(tmp_path):
    from benchmark.__main__ import main

    assert main(["-q", "run", "--classifiers", "bert,embed", "--data", "sample:pang-lee", "--output", str(tmp_path),
                 "--latency-calls", "2"]) == 0
    assert _correct(tmp_path) == {n: BINARY_SAMPLE[n] for n in ("bert", "embed")}


@pytest.mark.shared_data
@pytest.mark.slow
def test_binary_numbers_on_yelp_sentences_are_unchanged(tmp_path):
    from benchmark.__main__ import main

    path = shared_file("yelp_sentences.csv")
    assert main(["-q", "run", "--all", "--data", str(path), "--max-train-samples", "6000", "--output", str(tmp_path),
                 "--latency-calls", "2"]) == 0
    assert _correct(tmp_path) == BINARY_YELP
