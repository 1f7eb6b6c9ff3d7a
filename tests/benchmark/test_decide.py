"""Answers a person can act on: calibration metrics, the Pareto frontier, the cost of a
million reviews, the recommendation within budgets, and the corrected t-test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.__main__ import main
from benchmark.decide import frontiers, pareto_front, recommend
from benchmark.measure import cost_per_million
from benchmark.stats import bootstrap_ci, brier_score, corrected_resampled_ttest, expected_calibration_error

# -- calibration --------------------------------------------------------------------------
from .._helpers import FAST, interrupted_curve


def test_ece_and_brier_match_hand_computed_values():
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.1, 0.4, 0.6, 0.9, 0.95])
    # 15 bins: 0.1 -> bin 1, 0.4 -> 6, 0.6 -> 9, 0.9 and 0.95 -> 13 and 14.
    # |y - p| per occupied bin, weighted by 1/5 each: (0.1 + 0.4 + 0.4 + 0.1 + 0.05) / 5.
    assert expected_calibration_error(y, p) == pytest.approx(1.05 / 5)
    assert brier_score(y, p) == pytest.approx((0.01 + 0.16 + 0.16 + 0.01 + 0.0025) / 5)
    # Two items in one bin: their gaps cancel before the absolute value, as ECE defines.
    assert expected_calibration_error(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    perfect = bootstrap_ci(y, (p > 0.5).astype(int), p, n_resamples=50)  # P(class 1) of two classes
    assert perfect["ece"]["low"] <= perfect["ece"]["value"] <= perfect["ece"]["high"]
    assert perfect["brier"]["low"] <= perfect["brier"]["value"] <= perfect["brier"]["high"]


# -- frontier and cost --------------------------------------------------------------------


def _record(accuracy, latency, train, size=1.0, cpu_s=None, n_test=1000):
    return {"metrics": {"accuracy": accuracy, "n_test": n_test}, "train_time_s": train, "model_size_mb": size,
            "inference": {"latency_p50_ms": latency, "test_cpu_s": cpu_s}}


def test_pareto_front_keeps_only_undominated_classifiers():
    records = {"fast": _record(0.80, 0.1, 1), "good": _record(0.90, 2.0, 100), "worse_and_slower": _record(0.85, 3.0, 50),
               "tie_but_slower": _record(0.80, 0.2, 2)}
    assert pareto_front(records, lambda r: r["inference"]["latency_p50_ms"]) == ["fast", "good"]
    assert frontiers(records)["train_time"] == ["fast", "good", "worse_and_slower"]


def test_cost_of_a_million_reviews():
    cost = cost_per_million({"test_cpu_s": 2.0}, n_test=1000, cpu_hour_price=0.036)
    assert cost["core_s_per_million"] == pytest.approx(2000.0)
    assert cost["price_per_million"] == pytest.approx(2000 / 3600 * 0.036)
    assert cost_per_million({"test_cpu_s": 2.0}, 1000)["price_per_million"] is None


# -- the recommendation -------------------------------------------------------------------

Y = np.array([0, 1] * 200)


def _predictions(accuracy, seed):
    """Predictions right on exactly ``accuracy`` of Y (wrong items chosen by ``seed``)."""
    pred = Y.copy()
    wrong = np.random.default_rng(seed).choice(len(Y), size=round((1 - accuracy) * len(Y)), replace=False)
    pred[wrong] = 1 - pred[wrong]
    return pred


def test_a_significant_lead_recommends_the_most_accurate():
    records = {"bow": _record(0.80, 0.1, 1), "bert": _record(0.95, 3.0, 100)}
    preds = {"bow": _predictions(0.80, 1), "bert": _predictions(0.95, 2)}
    rec = recommend(records, Y, preds)
    assert rec["classifier"] == "bert" and rec["runner_up"] == "bow"
    assert rec["mcnemar_p"] < 0.05 and rec["difference"]["low"] > 0
    assert "significantly ahead of bow" in rec["reason"]


def test_a_lead_that_is_not_significant_recommends_the_cheaper():
    records = {"bow": _record(0.900, 0.1, 1), "bert": _record(0.905, 3.0, 100)}
    preds = {"bow": _predictions(0.900, 1), "bert": _predictions(0.905, 2)}
    rec = recommend(records, Y, preds)
    assert rec["mcnemar_p"] >= 0.05
    assert rec["classifier"] == "bow" and "not significant" in rec["reason"] and "bow is faster per review than bert" in rec["reason"]


def test_a_tie_goes_to_the_cheaper_and_says_so():
    same = _predictions(0.85, 3)
    records = {"slow": _record(0.85, 5.0, 10), "quick": _record(0.85, 0.5, 10)}
    rec = recommend(records, Y, {"slow": same, "quick": same})
    assert rec["classifier"] == "quick" and rec["mcnemar_p"] == 1.0


def test_budgets_exclude_classifiers_and_nothing_fitting_names_the_closest():
    records = {"bow": _record(0.80, 0.1, 1, size=1), "w2v": _record(0.85, 1.0, 10, size=5), "bert": _record(0.95, 3.0, 100, size=90)}
    preds = {"bow": _predictions(0.80, 1), "w2v": _predictions(0.85, 2), "bert": _predictions(0.95, 3)}
    within = recommend(records, Y, preds, {"max_latency_ms": 2.0})
    assert within["within_budget"] == ["bow", "w2v"] and within["classifier"] in ("w2v", "bow")
    assert within["reason"].startswith("Within the budget (single-review latency at most 2.00 ms)")
    nothing = recommend(records, Y, preds, {"max_latency_ms": 0.05, "max_model_mb": 0.5})
    assert nothing["classifier"] is None and nothing["closest"] == "bow"
    assert nothing["reason"].startswith("No classifier fits the budget") and "bow" in nothing["reason"]
    only = recommend(records, Y, preds, {"max_train_s": 5})
    assert only["classifier"] == "bow" and "only classifier that fits" in only["reason"]


def test_a_classifier_of_unknown_size_is_not_counted_within_a_size_budget():
    """A model that could not be saved has no size: it must not pass --max-model-mb unseen."""
    records = {"bow": _record(0.80, 0.1, 1, size=1), "mine": _record(0.95, 0.2, 1, size=None)}
    preds = {"bow": _predictions(0.80, 1), "mine": _predictions(0.95, 3)}
    rec = recommend(records, Y, preds, {"max_model_mb": 10, "max_latency_ms": 0.05})
    assert rec["within_budget"] == [] and rec["budget_unknown"] == {"mine": ["max_model_mb"]}
    rec = recommend(records, Y, preds, {"max_model_mb": 10})
    assert rec["classifier"] == "bow" and rec["within_budget"] == ["bow"]
    assert rec["reason"].endswith("Not counted, as unknown: the model size of mine.")
    assert "model size at most 10 MB" in rec["reason"]
    # Nothing known to fit: the closest is named and the unknown one is not forgotten.
    slow = {"bow": _record(0.80, 5.0, 1, size=1), "mine": records["mine"]}
    none = recommend(slow, Y, preds, {"max_model_mb": 10, "max_latency_ms": 1.0})
    assert none["classifier"] is None and none["closest"] == "bow"
    assert none["reason"].endswith("Not counted, as unknown: the model size of mine.")
    alone = recommend({"mine": records["mine"]}, Y, {"mine": preds["mine"]}, {"max_model_mb": 10})
    assert alone["classifier"] is None and "model size of mine is unknown" in alone["reason"]
    assert "0.012 ms" in recommend(records, Y, preds, {"max_latency_ms": 0.0123})["reason"]  # format_ms digits


# -- the corrected resampled t-test -------------------------------------------------------


def test_corrected_resampled_ttest_matches_a_hand_computed_example():
    d = np.array([0.02, 0.01, 0.03, 0.00, 0.02])
    # mean 0.016, sample variance 0.00013; corrected variance (1/5 + 0.15/0.70) * 0.00013.
    mean, var = 0.016, 0.00013
    t = mean / np.sqrt((1 / 5 + 0.15 / 0.70) * var)
    result = corrected_resampled_ttest(d, 0.15 / 0.70)
    assert result["mean"] == pytest.approx(mean) and result["t"] == pytest.approx(t)
    assert result["df"] == 4
    from scipy.stats import t as student_t

    assert result["p_value"] == pytest.approx(2 * student_t.sf(t, 4))
    # The correction makes the test more conservative than the plain paired t-test.
    plain = mean / np.sqrt(var / 5)
    assert 2 * student_t.sf(plain, 4) < result["p_value"]
    assert corrected_resampled_ttest([0.0, 0.0], 0.2)["p_value"] == 1.0
    # The same difference on every split is no certainty (p was 0.0).
    assert corrected_resampled_ttest([0.01, 0.01, 0.01], 0.2)["p_value"] is None
    from benchmark.seeds import seed_pairs

    (pair,) = seed_pairs({"bow": {"accuracy": [0.9, 0.91, 0.92]}, "w2v": {"accuracy": [0.89, 0.90, 0.91]}}, 0.2)
    assert pair["p_value"] is None and not pair["significant"]
    assert pair["sentence"].startswith("bow was more accurate than w2v by the same 1.0 points on every split")


# -- end to end ---------------------------------------------------------------------------




def test_run_writes_recommendation_frontier_calibration_and_cost(tmp_path, capsys):
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--output", str(tmp_path), "--cpu-hour-price", "0.05", *FAST]) == 0
    out = capsys.readouterr().out
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    rec = results["recommendation"]
    assert rec["classifier"] in ("bow", "w2v") and rec["reason"] in out
    assert set(results["pareto"]) == {"latency", "train_time", "metric"} and results["pareto"]["latency"]
    assert results["pareto"]["metric"] == "accuracy"
    for record in results["classifiers"].values():
        assert 0 <= record["metrics"]["ece"] <= 1 and 0 <= record["metrics"]["brier"] <= 1
        assert record["inference"]["core_s_per_million"] > 0 and record["inference"]["price_per_million"] > 0
    report = (run_dir / "report.md").read_text()
    assert report.splitlines()[2] == f"**Recommendation.** {rec['reason']}"
    assert "ECE [95% CI]" in report and "![reliability.png](reliability.png)" in report
    assert (run_dir / "reliability.png").read_bytes().startswith(b"\x89PNG")


def test_a_budget_nothing_fits_is_said_in_the_report(tmp_path):
    assert main(["-q", "run", "--classifiers", "bow", "--output", str(tmp_path), "--max-latency-ms", "0.000001", *FAST[-2:]]) == 0
    (run_dir,) = tmp_path.iterdir()
    rec = json.loads((run_dir / "results.json").read_text())["recommendation"]
    assert rec["classifier"] is None and rec["closest"] == "bow"
    assert "No classifier fits the budget" in (run_dir / "report.md").read_text()


@pytest.mark.parametrize("latencies", [
    (0.31, 0.42, 0.63),  # once gave "3x10^-1 4x10^-1 6x10^-1" labels running into each other
    (0.013, 0.076, 5.73),  # microsecond BoW next to BERT: 1-2-5 ticks once ran into each other
])
def test_tradeoff_plot_tick_labels_do_not_overlap(latencies):
    from benchmark.report.plots import tradeoff_figure

    records = {name: _record(acc, ms, train) for name, acc, ms, train in
               zip(["bow", "w2v", "bert"], [0.82, 0.68, 0.91], latencies, [0.04, 0.5, 16], strict=True)}
    cis = {n: {"low": r["metrics"]["accuracy"] - 0.05, "high": r["metrics"]["accuracy"] + 0.05} for n, r in records.items()}
    fig = tradeoff_figure(records, cis=cis, front=["bow", "bert"])
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    shown = [t.label1 for t in ax.xaxis.get_major_ticks() + ax.xaxis.get_minor_ticks()
             if lo <= t.get_loc() <= hi and t.label1.get_visible() and t.label1.get_text()]
    assert len(shown) >= 2, "too few labelled ticks to read the axis"
    boxes = sorted((label.get_window_extent() for label in shown), key=lambda b: b.x0)
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:], strict=False)), [label.get_text() for label in shown]


# -- learning curves ----------------------------------------------------------------------


def test_nested_order_gives_stratified_nested_samples():
    from benchmark.curve import nested_order

    labels = np.array([0] * 300 + [1] * 700)
    order = nested_order(labels, seed=3)
    assert sorted(order.tolist()) == list(range(1000))
    for size in (10, 37, 100, 555):
        share = labels[order[:size]].mean()
        assert abs(share - 0.7) <= 1 / size + 1e-9  # each prefix keeps the class balance
    assert not np.array_equal(order, nested_order(labels, seed=4))  # repeats draw other samples


def test_findings_say_where_curves_cross_and_flatten():
    from benchmark.curve import findings

    def rows(means):
        return [{"train_size": s, "accuracy_mean": m} for s, m in means.items()]

    summary = {
        "bow": rows({100: 0.70, 500: 0.80, 1000: 0.85, 4000: 0.88, 8000: 0.885}),
        "bert": rows({100: 0.60, 500: 0.82, 1000: 0.90, 4000: 0.94, 8000: 0.96}),
    }
    text = findings(summary, 8000)
    assert "bert is ahead of bow from about 500 training reviews (measured up to 8,000)." in text
    assert "bow gains little past 4,000 training reviews (less than 1 point up to 8,000)." in text
    assert any(s.startswith("bert was still gaining at the largest size (8,000), +2.0 points over 4,000") for s in text)


def test_curve_writes_its_files_and_resumes_after_an_interrupt(tmp_path, monkeypatch):
    args = ["-q", "curve", "--classifiers", "bow,w2v", "--sizes", "40,80,140", "--repeats", "2", "--output", str(tmp_path),
            "--set", "w2v.min_count=1", "--set", "w2v.w2v_epochs=2"]
    interrupted_curve(monkeypatch, args, at_fit=3)
    (run_dir,) = tmp_path.iterdir()
    partial = json.loads((run_dir / "learning_curve.json").read_text())
    assert partial["status"] == "interrupted" and len(partial["points"]) == 2
    assert main(["-q", "curve", "--resume", str(run_dir)]) == 0
    curve = json.loads((run_dir / "learning_curve.json").read_text())
    # 40 and 80 reviews twice each, the whole training part (140) once; two classifiers.
    assert curve["status"] == "complete" and len(curve["points"]) == 10
    assert [p["train_size"] for p in curve["points"][:2]] == [40, 40]  # the two kept points came first
    sizes = [r["train_size"] for r in curve["summary"]["bow"]]
    assert sizes == [40, 80, 140] and [r["repeats"] for r in curve["summary"]["bow"]] == [2, 2, 1]
    for name in ("learning_curve.csv", "learning_curve.png", "report.md"):
        assert (run_dir / name).stat().st_size > 0
    assert (run_dir / "report.md").read_text().splitlines()[2].startswith("- ")


def test_curve_bootstrap_in_chunks_draws_the_same_resamples():
    """The curve's CI resamples test items in chunks (memory n_test x chunk, not x 1,000)
    and gets the very numbers of one draw of all resamples."""
    from benchmark.curve import _resampled_means
    from benchmark.stats import BOOTSTRAP_SEED, N_RESAMPLES

    right = np.random.default_rng(1).random((3, 500)) > 0.3
    idx = np.random.default_rng(BOOTSTRAP_SEED).integers(0, 500, size=(N_RESAMPLES, 500))
    preds, y_test = np.where(right, 0, 1), np.zeros(500, dtype=int)  # right where a prediction is 0
    np.testing.assert_array_equal(_resampled_means(preds, y_test, chunk=7), right[:, idx].mean(axis=2).mean(axis=0))


@pytest.mark.parametrize("fits, words", [
    ((1, 0.2), "faster per review than bert (0.10 ms against 3.00 ms) but 5x slower to train (1.0 s against 0.2 s)"),
    ((1, 100), "faster per review than bert (0.10 ms against 3.00 ms) and to train (1.0 s against 100.0 s)"),
])
def test_the_cheaper_pick_says_in_what_it_is_cheaper(fits, words):
    records = {"bow": _record(0.900, 0.1, fits[0]), "bert": _record(0.905, 3.0, fits[1])}
    preds = {"bow": _predictions(0.900, 1), "bert": _predictions(0.905, 2)}
    rec = recommend(records, Y, preds)
    assert rec["classifier"] == "bow" and rec["reason"].endswith(f"and bow is {words}.")
    assert " is cheaper" not in rec["reason"]


@pytest.mark.parametrize("points", [
    # bert and embed on the default data: their labels once overlapped
    {"bow": (0.82, 0.036, 0.1), "w2v": (0.66, 0.10, 1.6), "bert": (0.905, 4.9, 160), "embed": (0.897, 4.6, 30)},
    # four classifiers on one spot, far from a fifth
    {"far": (0.6, 0.01, 0.1), **{n: (0.80 + i * 0.001, 1.0 + i * 0.01, 1.0) for i, n in enumerate(["a", "b", "c", "d"])}},
])
def test_tradeoff_plot_point_labels_never_overlap(points):
    from benchmark.report.plots import tradeoff_figure

    records = {name: _record(acc, ms, train) for name, (acc, ms, train) in points.items()}
    fig = tradeoff_figure(records)
    fig.canvas.draw()
    notes = [t for t in fig.axes[0].texts if t.get_text().split("\n")[0] in points]
    assert sorted(t.get_text().split("\n")[0] for t in notes) == sorted(points)
    boxes = [t.get_window_extent() for t in notes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), [t.get_text() for t in notes]


def test_the_recommendation_says_whether_the_labels_pay():
    y = np.array([0, 1] * 200)
    perfect, close = y.copy(), y.copy()
    close[:4] = 1 - close[:4]  # 4 of 400 wrong: within chance of perfect (McNemar p = 0.125)
    far = y.copy()
    far[:80] = 1 - far[:80]  # 80 wrong
    records = {"bow": _record(1.0, 0.1, 1), "zeroshot": {**_record(0.985, 5.0, 2), "label_free": True}}
    rec = recommend(records, y, {"bow": perfect, "zeroshot": close})
    assert rec["labels"]["trained"] == "bow" and rec["labels"]["label_free"] == "zeroshot"
    assert rec["labels"]["mcnemar_p"] >= 0.05 and not rec["labels"]["needed"]
    assert "No labels needed: zeroshot" in rec["reason"]
    records["zeroshot"] = {**_record(0.8, 5.0, 2), "label_free": True}
    rec = recommend(records, y, {"bow": perfect, "zeroshot": far})
    assert rec["labels"]["needed"] and rec["labels"]["mcnemar_p"] < 1e-6
    assert "The labels pay: bow" in rec["reason"]
    # Only trained contenders (or only label-free ones): nothing to say about labels.
    assert "labels" not in recommend({"bow": records["bow"], "w2v": _record(0.8, 1, 1)}, y, {"bow": perfect, "w2v": far})


def test_per_class_findings_speak_in_labels_per_class_and_say_where_few_shot_stops_paying():
    from benchmark.curve_findings import SizeWords, findings

    def rows(means):
        return [{"train_size": s, "accuracy_mean": m} for s, m in means.items()]

    summary = {
        "setfit": rows({16: 0.80, 64: 0.90, 256: 0.93, 1024: 0.935}),
        "bert": rows({16: 0.62, 64: 0.70, 256: 0.91, 1024: 0.94}),
        "zeroshot": rows({16: 0.80, 64: 0.80, 256: 0.80, 1024: 0.80}),
    }
    text = findings(summary, 5000, words=SizeWords(per_class=True, k=2))
    assert "setfit is ahead of bert from about 8 labels per class (measured up to 512)." not in text
    assert "bert is ahead of setfit from about 512 labels per class (measured up to 512)." in text
    assert "zeroshot gains little past 8 labels per class (less than 1 point up to 512)." in text
    assert ("With 128 labels per class, setfit is within 1 point of bert trained on 512 (0.930 against 0.940): "
            "past that, more labels buy little.") in text
    assert not any(s.startswith("With") and "zeroshot," in s for s in text)  # 14 points short: never within reach
    plain = findings(summary, 5000)  # the same curve in training reviews
    assert "With 256 training reviews, setfit is within 1 point of bert trained on 1,024" in " ".join(plain)
