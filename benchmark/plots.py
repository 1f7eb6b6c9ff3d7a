"""The run's pictures (matplotlib, Agg backend, PNG files in the run folder).

Every function takes plain data (records from ``results.json`` and columns of
``predictions.csv``), writes one PNG atomically and returns its file name, so the
report can be regenerated without retraining.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from dataset import atomic_write_bytes  # noqa: E402

# Fixed metadata keeps PNG bytes identical for identical inputs (no timestamps).
_PNG_METADATA = {"Software": None}


def _save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata=_PNG_METADATA)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path.name


def confusion_matrix_plot(name: str, matrix, path: Path) -> str:
    """Counts and row-normalised rates side by side for one classifier."""
    matrix = np.asarray(matrix, dtype=float)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for ax, values, title, fmt in ((axes[0], matrix, "counts", "{:.0f}"), (axes[1], rates, "rates (per true class)", "{:.1%}")):
        ax.imshow(values, cmap="Blues", vmin=0, vmax=values.max() or 1)
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, fmt.format(v), ha="center", va="center", color="white" if v > values.max() / 2 else "black")
        ax.set_xticks([0, 1], ["negative", "positive"])
        ax.set_yticks([0, 1], ["negative", "positive"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
    fig.suptitle(f"{name}: confusion matrix")
    return _save(fig, path)


def learning_curves_plot(name: str, history: list[dict], path: Path) -> str:
    """Train and validation loss and accuracy per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, [h[f"train_{metric}"] for h in history], marker="o", label="train")
        val = [h[f"val_{metric}"] for h in history]
        if any(v is not None for v in val):
            ax.plot(epochs, [np.nan if v is None else v for v in val], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(epochs)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(f"{name}: learning curves")
    return _save(fig, path)


def tradeoff_plot(records: dict[str, dict], path: Path, metric: str = "accuracy") -> str:
    """Test ``metric`` against single-review p50 latency (log x), marker area by training time."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    train = np.array([r["train_time_s"] for r in records.values()])
    sizes = 60 + 1500 * np.sqrt(train / max(train.max(), 1e-9))
    for (name, r), size in zip(records.items(), sizes, strict=True):
        x, y = r["inference"]["latency_p50_ms"], r["metrics"][metric]
        ax.scatter([x], [y], s=size, alpha=0.6)
        ax.annotate(f"{name}\n(train {r['train_time_s']:.1f} s)", (x, y), textcoords="offset points", xytext=(8, 8))
    ax.set_xscale("log")
    ax.set_xlabel("single-review latency p50 (ms, log scale)")
    ax.set_ylabel(f"test {metric}")
    ax.set_title("quality against cost (marker area: training time)")
    ax.grid(alpha=0.3, which="both")
    ax.margins(x=0.4, y=0.2)
    return _save(fig, path)


def roc_plot(y_true, probabilities: dict[str, np.ndarray], aucs: dict[str, float], path: Path) -> str:
    """ROC curves of all classifiers on one axis."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, proba in probabilities.items():
        fpr, tpr, _ = roc_curve(y_true, proba)
        ax.plot(fpr, tpr, label=f"{name} (AUC {aucs[name]:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curves (test split)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def length_histogram_plot(words, tokens, max_length: int | None, path: Path, title: str = "") -> Path:
    """Review length in words and (when known) in BERT tokens, with the truncation length marked."""
    panels = [(words, "words")] + ([(tokens, "BERT tokens")] if tokens is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (values, label) in zip(axes[0], panels, strict=True):
        upper = max(np.percentile(values, 99.5), 1)
        ax.hist(np.clip(values, 0, upper), bins=50, color="tab:blue", alpha=0.8)
        ax.set_xlabel(f"{label} per review (clipped at the 99.5th percentile)")
        ax.set_ylabel("reviews")
        ax.grid(alpha=0.3)
    if tokens is not None:
        axes[0][1].axvline(max_length, color="tab:red", linestyle="--", label=f"max_length {max_length}")
        axes[0][1].legend()
    fig.suptitle(f"{title}: review lengths".strip(": "))
    _save(fig, path)
    return path
