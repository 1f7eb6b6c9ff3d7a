"""The run's pictures (matplotlib, Agg backend, PNG files in the run folder).

Every function takes plain data (records from ``results.json`` and columns of
``predictions.csv``), writes one PNG atomically and returns its file name, so the
report can be regenerated without retraining.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

if not os.environ.get("MPLBACKEND"):  # a notebook kernel (or the user) chose one: keep it
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from dataset import atomic_write_bytes  # noqa: E402

from ..predictions_file import Predictions  # noqa: E402
from ..schema import folder_name, latency_p50_ms, metric_value, train_time_s  # noqa: E402
from ..stats import calibration_view, reliability_bins  # noqa: E402

# Fixed metadata keeps PNG bytes identical for identical inputs (no timestamps).
_PNG_METADATA = {"Software": None}


def _save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata=_PNG_METADATA)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path.name


def confusion_matrix_plot(name: str, matrix, path: Path, class_names: list[str] | None = None) -> str:
    """Counts and row-normalised rates side by side for one classifier (K x K)."""
    return _save(confusion_matrix_figure(name, matrix, class_names), path)


def confusion_matrix_figure(name: str, matrix, class_names: list[str] | None = None):
    """The figure of :func:`confusion_matrix_plot`."""
    matrix = np.asarray(matrix, dtype=float)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    k = len(matrix)
    names = [_short_label(n) for n in (class_names or ["negative", "positive"])]
    side = 3.5 + 0.45 * max(k - 2, 0)
    fig, axes = plt.subplots(1, 2, figsize=(2 * side + 1, side))
    for ax, values, title, fmt in ((axes[0], matrix, "counts", "{:.0f}"), (axes[1], rates, "rates (per true class)", "{:.1%}")):
        ax.imshow(values, cmap="Blues", vmin=0, vmax=values.max() or 1)
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, fmt.format(v), ha="center", va="center", color="white" if v > values.max() / 2 else "black")
        ax.set_xticks(range(k), names, rotation=30 if k > 3 else 0)
        ax.set_yticks(range(k), names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
    fig.suptitle(f"{name}: confusion matrix")
    return fig


def learning_curves_plot(name: str, history: list[dict], path: Path) -> str:
    """Train and validation loss and accuracy per epoch."""
    return _save(learning_curves_figure(name, history), path)


def learning_curves_figure(name: str, history: list[dict]):
    """The figure of :func:`learning_curves_plot`."""
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
    return fig


def tradeoff_figure(records: dict[str, dict], *, cis: dict | None = None, front: list[str] | None = None,
                    metric: str = "accuracy"):
    """The figure of :func:`tradeoff_plot` (returned, not saved, so tests can inspect it)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    train = np.array([train_time_s(r) for r in records.values()])
    sizes = 60 + 1500 * np.sqrt(train / max(train.max(), 1e-9))
    labels = []
    for (name, r), size in zip(records.items(), sizes, strict=True):
        x, y = latency_p50_ms(r), metric_value(r, metric)
        points = ax.scatter([x], [y], s=size, alpha=0.6, zorder=3)
        ci = (cis or {}).get(name)
        if ci and ci.get("low") is not None:
            ax.errorbar([x], [y], yerr=[[y - ci["low"]], [ci["high"] - y]], fmt="none", capsize=4,
                        color=points.get_facecolor()[0], alpha=0.9, zorder=2)
        labels.append((f"{name}\n(train {train_time_s(r):.1f} s)", (x, y)))
    if front:
        order = sorted(front, key=lambda n: latency_p50_ms(records[n]))
        ax.plot([latency_p50_ms(records[n]) for n in order], [metric_value(records[n], metric) for n in order],
                linestyle="--", color="grey", linewidth=1, zorder=1, label="Pareto frontier")
        ax.legend(loc="lower right")
    ax.set_xscale("log")
    ax.margins(x=0.4, y=0.2)
    # Plain labels, no minor labels: on a narrow log range matplotlib's default
    # "3x10^-1 4x10^-1 6x10^-1" labels run into each other. 1-2-5 steps where the axis
    # spans few decades, 1-3 or powers of ten where it spans more (microsecond-fast BoW
    # next to BERT) so the labels keep their room.
    lo, hi = ax.get_xlim()
    decades = np.log10(hi / lo)
    subs = (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0, 3.0) if decades <= 4 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("single-review latency p50 (ms, log scale)")
    ax.set_ylabel(f"test {metric} (bars: 95% CI)")
    ax.set_title("quality against cost (marker area: training time)")
    ax.grid(alpha=0.3, which="both")
    place_labels(ax, labels)
    return fig


#: Where a point's label may go, in points from the point, tried in this order.
_LABEL_OFFSETS = [(8, 8), (8, -30), (-8, 8), (-8, -30), (8, 34), (-8, 34), (8, -56), (-8, -56)]


def place_labels(ax, labels: list[tuple[str, tuple[float, float]]]) -> list:
    """Annotate each ``(text, (x, y))`` of ``ax`` where its box overlaps no label placed before
    it: the corners around the point first, then further above and below (the axes' limits
    must be final). Returns the annotations."""
    ax.figure.draw_without_rendering()  # the layout, so that text boxes are where they will be drawn
    renderer = ax.figure.canvas.get_renderer() if hasattr(ax.figure.canvas, "get_renderer") else None
    placed, boxes = [], []
    for text, xy in labels:
        note = box = None
        for dx, dy in _label_offsets(len(labels)):
            if note is not None:
                note.remove()
            note = ax.annotate(text, xy, textcoords="offset points", xytext=(dx, dy),
                               ha="left" if dx > 0 else "right", va="bottom" if dy > 0 else "top")
            box = note.get_window_extent(renderer).expanded(1.04, 1.08)
            if not any(box.overlaps(other) for other in boxes):
                break
        placed.append(note)
        boxes.append(box)
    return placed


def _label_offsets(n_labels: int):
    for step in range(n_labels + 1):
        for dx, dy in _LABEL_OFFSETS:
            yield dx, dy + 26 * step * (1 if dy > 0 else -1)


def tradeoff_plot(records: dict[str, dict], path: Path, *, cis: dict | None = None, front: list[str] | None = None,
                  metric: str = "accuracy") -> str:
    """Test ``metric`` against single-review p50 latency (log x), marker area by training
    time, accuracy confidence intervals as error bars and the Pareto frontier dashed."""
    return _save(tradeoff_figure(records, cis=cis, front=front, metric=metric), path)


def reliability_plot(bins: dict[str, dict], eces: dict[str, float | None], path: Path, *, top_label: bool = False) -> str:
    """Reliability diagram of every classifier (observed rate against mean predicted
    probability per bin), with the number of test reviews in each bin below: of the second
    class for two classes, top-label (how often the most probable class is right) above."""
    return _save(reliability_figure(bins, eces, top_label=top_label), path)


def reliability_figure(bins: dict[str, dict], eces: dict[str, float | None], *, top_label: bool = False):
    """The figure of :func:`reliability_plot`."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    names = list(bins)
    edges = np.asarray(next(iter(bins.values()))["edges"]) if bins else np.linspace(0, 1, 16)
    width = (edges[1] - edges[0]) / max(len(names), 1)
    for k, name in enumerate(names):
        b = bins[name]
        keep = [i for i, c in enumerate(b["count"]) if c]
        ece = eces.get(name)
        label = f"{name} (ECE {ece:.3f})" if ece is not None else name
        line = top.plot([b["mean_predicted"][i] for i in keep], [b["observed"][i] for i in keep], marker="o", label=label)
        bottom.bar(edges[:-1] + k * width, b["count"], width=width, align="edge", color=line[0].get_color(), alpha=0.7)
    top.set_ylabel("share where the most probable class is right" if top_label else "observed share of the second class")
    top.set_title("reliability, top-label (test split)" if top_label else "reliability (test split)")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.set_xlabel("probability of the most probable class" if top_label else "predicted probability of the second class")
    bottom.set_ylabel("reviews per bin")
    bottom.set_xlim(0, 1)
    bottom.grid(alpha=0.3)
    return fig


def learning_curve_plot(summary: dict[str, list[dict]], path: Path, metric: str = "accuracy") -> str:
    return _save(learning_curve_figure(summary, metric), path)


def learning_curve_figure(summary: dict[str, list[dict]], metric: str = "accuracy"):
    """Mean test ``metric`` against training-set size (log x) per classifier, with a band
    for the 95% confidence interval of the mean."""
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, rows in summary.items():
        x = [r["train_size"] for r in rows]
        line = ax.plot(x, [r[f"{metric}_mean"] for r in rows], marker="o", label=name)
        ax.fill_between(x, [r[f"{metric}_ci"][0] for r in rows], [r[f"{metric}_ci"][1] for r in rows],
                        color=line[0].get_color(), alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("training reviews (log scale)")
    ax.set_ylabel(f"test {metric} (band: 95% test-bootstrap CI)")
    ax.set_title(f"{metric} against training-set size")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3, which="both")
    return fig


def roc_plot(y_true, probabilities: dict[str, np.ndarray], aucs: dict[str, float | None], path: Path) -> str:
    """ROC curves of all classifiers on one axis (two classes: of the second class)."""
    return _save(roc_figure(y_true, probabilities, aucs), path)


def roc_figure(y_true, probabilities: dict[str, np.ndarray], aucs: dict[str, float | None]):
    """The figure of :func:`roc_plot`."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, proba in probabilities.items():
        fpr, tpr, _ = roc_curve(y_true, proba)
        auc = aucs.get(name)
        ax.plot(fpr, tpr, label=name if auc is None else f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curves (test split)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


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


def _short_label(name: str, limit: int = 14) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


#: What :func:`run_figure` draws: per classifier (``confusion``, ``learning``) or of the whole run.
FIGURE_KINDS = ("confusion", "learning", "tradeoff", "reliability", "roc")


def run_figure(results: dict, predictions: Predictions, kind: str, name: str | None = None):
    """One figure of the report, not saved: ``kind`` of :data:`FIGURE_KINDS`, ``name`` the
    classifier of a per-classifier kind; ``None`` where the run has nothing to draw
    (no epochs to show, no ROC curve of more than two classes)."""
    records = results["classifiers"]
    if kind == "confusion":
        return confusion_matrix_figure(name, metric_value(records[name], "confusion_matrix"), results["data"]["classes"])
    if kind == "learning":
        return learning_curves_figure(name, records[name]["history"]) if records[name].get("history") else None
    return _overview_figure(results, predictions, kind)


def _overview_figure(results: dict, predictions: Predictions, kind: str):
    records = results["classifiers"]
    classes = results["data"]["classes"]
    metric = results.get("config", {}).get("metric", "accuracy")
    names = [n for n in records if n in predictions.proba]
    y = predictions.labels
    if kind == "tradeoff":
        return tradeoff_figure({n: records[n] for n in names}, cis={n: records[n]["ci"].get(metric) for n in names},
                               front=results.get("pareto", {}).get("latency", []), metric=metric)
    if kind == "reliability":
        return reliability_figure({n: reliability_bins(*calibration_view(y, predictions.proba[n])) for n in names},
                                  {n: metric_value(records[n], "ece") for n in names}, top_label=len(classes) > 2)
    if kind == "roc" and len(classes) == 2 and len(np.unique(y)) == 2:
        return roc_figure(y, {n: predictions.proba[n][:, 1] for n in names}, {n: metric_value(records[n], "roc_auc") for n in names})
    return None


def make_plots(run_dir: Path, results: dict, predictions: Predictions) -> dict[str, list[str]]:
    """Write every PNG of the run; returns section -> file names (confidence intervals of
    the run's metric, from the records, drawn as error bars)."""
    names = [n for n in results["classifiers"] if n in predictions.proba]
    files: dict[str, list[str]] = {"confusion": [], "learning": [], "overview": []}
    for name in names:
        stem = folder_name(name)  # a MODULE:ATTR name has a colon, no file name should
        for kind in ("confusion", "learning"):
            fig = run_figure(results, predictions, kind, name)
            if fig is not None:
                files[kind].append(_save(fig, run_dir / f"{'confusion' if kind == 'confusion' else 'learning_curves'}_{stem}.png"))
    if not names:
        return files
    for kind in ("tradeoff", "reliability", "roc"):
        fig = run_figure(results, predictions, kind)
        if fig is not None:
            files["overview"].append(_save(fig, run_dir / f"{kind}.png"))
    return files
