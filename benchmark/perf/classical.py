"""``python -m benchmark perf classical``: the classical models against fastText, side by side.

On one split of the data, BoW, Word2Vec and fastText (supervised, word bigrams, when the
optional ``peers`` extra is installed) train on the same training texts and are scored on
the same test texts: accuracy, macro F1, training seconds, single-review latency p50 and
p95 (after warm-up calls, at least 1,000 timed calls) and whole-test-set throughput (the
median of seven passes after three warm-up passes), with every ratio to fastText. fastText is
what a user would pick instead, so it is measured exactly as its own documentation uses it
(``train_supervised``, ``model.predict(text)``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from classifiers import BowSvmClassifier, Word2VecSvmClassifier
from dataset import load_reviews, stratified_split

from ..environment import cpu_features, cpu_model, describe_cpu
from ..timing import measure_latency, stopwatch
from . import perf_data

logger = logging.getLogger(__name__)

#: fastText's settings: word bigrams, 10-dimensional vectors, 10 epochs (a strong,
#: quick baseline for sentiment; Joulin et al., 2017, "Bag of Tricks"). One thread, like
#: the classical models here: fastText's lock-free multi-threaded training is not
#: reproducible with a seed, and it stopped once with "Encountered NaN" on these data.
FASTTEXT_PARAMS = {"wordNgrams": 2, "dim": 10, "epoch": 10, "thread": 1}
#: Whole-test-set passes per recipe: warm-up, then timed ones; the median is reported.
WARMUP_PASSES, THROUGHPUT_PASSES = 3, 7
JSON_KEYS = ("recipe", "accuracy", "f1_macro", "train_s", "latency_p50_ms", "latency_p95_ms", "throughput_per_s")
ADD_FASTTEXT = "fastText is not installed: pip install 'sentibench[peers]' to measure it side by side"


def _fasttext():
    try:
        import fasttext
    except ImportError:
        return None
    return fasttext


class _FastText:
    """fastText supervised, with the same fit/predict shape as the other recipes."""

    def __init__(self, module, seed: int):
        self.module, self.seed = module, seed

    def fit(self, texts, labels):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "train.txt"
            # One review per line: fastText reads whitespace-separated tokens.
            path.write_text("".join(f"__label__{y} {' '.join(t.split())}\n" for t, y in zip(texts, labels, strict=True)),
                            encoding="utf-8")
            try:
                self.model = self.module.train_supervised(str(path), seed=self.seed, verbose=0, **FASTTEXT_PARAMS)
            except RuntimeError as exc:  # "Encountered NaN": seen once in a CI run, on one thread and a seed
                if "NaN" not in str(exc):
                    raise
                logger.warning("fastText's training diverged (%s); training it again with seed %d", exc, self.seed + 1)
                self.model = self.module.train_supervised(str(path), seed=self.seed + 1, verbose=0, **FASTTEXT_PARAMS)
        return self

    def predict_one(self, text: str):
        return self.model.predict(" ".join(text.split()))

    def predict(self, texts) -> np.ndarray:
        labels, _ = self.model.predict([" ".join(t.split()) for t in texts])
        return np.array([int(label[0].removeprefix("__label__")) for label in labels])


def run_perf_classical(data: str | None = None, *, seed: int = 42, latency_calls: int = 2000,
                       text_column: str | None = None, label_column: str | None = None) -> dict:
    """Measure BoW, Word2Vec and (when installed) fastText on one split of ``data`` (any
    number of classes: fastText's supervised mode is K-class, as the two SVMs are)."""
    reviews = load_reviews(perf_data(data), text_column=text_column, label_column=label_column)
    train, _, test = stratified_split(reviews.labels, seed=seed)
    x_train, y_train = [reviews.texts[i] for i in train], reviews.labels[train]
    x_test, y_test = [reviews.texts[i] for i in test], reviews.labels[test]
    recipes = {cls.name: cls(random_state=seed) for cls in (BowSvmClassifier, Word2VecSvmClassifier)}
    fasttext = _fasttext()
    if fasttext is not None:
        # fastText trains first. Trained later in the same process (after the RBF SVM's
        # fit and calibration) it diverged ("Encountered NaN") or lost 40 points of
        # accuracy in our runs, with both NumPy-2 builds of 0.9.2; trained first, it gets
        # its usual accuracy on these data. Rows are reported in the usual order.
        recipes = {"fasttext": _FastText(fasttext, seed), **recipes}
    rows = []
    for name, model in recipes.items():
        logger.info("perf classical: %s on %d training reviews", name, len(x_train))
        with stopwatch() as fit_time:
            model.fit(x_train, y_train)
        one = model.predict_one if name == "fasttext" else (lambda text, m=model: m.predict_proba([text]))
        latency = measure_latency(lambda batch, f=one: f(batch[0]), x_test, n_calls=latency_calls, warmup=50, verbose=False)
        pred = model.predict(x_test)
        for _ in range(WARMUP_PASSES - 1):  # the first passes pay for memory the allocator has not kept yet
            model.predict(x_test)
        passes = []
        for _ in range(THROUGHPUT_PASSES):
            with stopwatch() as test_time:
                model.predict(x_test)
            passes.append(test_time())
        rows.append({
            "recipe": name,
            "accuracy": float(accuracy_score(y_test, pred)),
            "f1_macro": float(f1_score(y_test, pred, average="macro")),
            "train_s": fit_time(),
            "latency_p50_ms": latency["latency_p50_ms"],
            "latency_p95_ms": latency["latency_p95_ms"],
            "throughput_per_s": len(x_test) / float(np.median(passes)),
        })
    order = [BowSvmClassifier.name, Word2VecSvmClassifier.name, "fasttext"]
    rows.sort(key=lambda r: order.index(r["recipe"]))
    return {
        "data": reviews.source, "classes": reviews.classes, "n_train": len(x_train), "n_test": len(x_test), "cpu": cpu_model(),
        "cpu_features": cpu_features(), "cpu_line": describe_cpu(), "threads": os.cpu_count(), "latency_calls": latency_calls,
        "fasttext": None if fasttext is None else dict(FASTTEXT_PARAMS), "rows": rows,
    }


def format_perf_classical(results: dict) -> str:
    from tabulate import tabulate

    rows = results["rows"]
    ft = next((r for r in rows if r["recipe"] == "fasttext"), None)
    def ratio(r, key):
        return f"{r[key] / ft[key]:.2f}x" if ft else ""

    cells = []
    for r in rows:
        cells.append([
            r["recipe"], f"{r['accuracy']:.4f}", f"{r['f1_macro']:.4f}", f"{r['train_s']:.2f}",
            f"{r['latency_p50_ms'] * 1000:.1f}", f"{r['latency_p95_ms'] * 1000:.1f}", f"{r['throughput_per_s']:,.0f}",
            ratio(r, "latency_p50_ms"), ratio(r, "throughput_per_s"),
        ])
    lines = [
        results["cpu_line"],
        f"{results['data']}: {len(results['classes'])} classes, {results['n_train']:,} training / {results['n_test']:,} test reviews; "
        f"{results['latency_calls']:,} timed single-review calls per recipe",
        "",
        tabulate(cells, headers=["recipe", "accuracy", "macro F1", "train s", "p50 us", "p95 us", "reviews/s (test set)",
                                 "p50 / fastText", "throughput / fastText"], tablefmt="github", disable_numparse=True),
    ]
    if ft is None:
        lines += ["", ADD_FASTTEXT]
    return "\n".join(lines)


def json_rows(results: dict) -> list[dict]:
    """The rows with exactly the keys of ``--json``."""
    return [{k: r[k] for k in JSON_KEYS} for r in results["rows"]]

