"""``python -m benchmark curve``: accuracy against training-set size.

One split as in ``run``. For each size, each classifier is fitted on a stratified sample
of the training part (BERT fine-tunes from the pretrained checkpoint every time) and
scored on the same test split, with the same validation split for calibration and early
stopping, so the points are comparable. Samples are nested: every size contains the
smaller ones of the same repeat. Sizes below the whole training part are drawn
``repeats`` times.

The run folder holds ``learning_curve.json`` (rewritten atomically after every fit, so
Ctrl-C keeps the finished points and ``curve --resume`` continues), and at the end
``learning_curve.csv``, ``learning_curve.png`` and ``report.md``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from dataset import UsageError, atomic_write_json, atomic_write_text, md_literal

from .config import CurveConfig
from .curve_findings import SizeWords, findings
from .curve_plan import default_sizes, nested_order, sample_orders
from .curve_plan import plan as curve_plan
from .environment import environment
from .lineup import build_classifiers
from .loop import Plan, execute
from .measure import classes_of
from .parallel import make_engine
from .prepare import prepare_data
from .rundir import RunLock, csv_for_people, discard_if_unused, new_run_dir
from .schema import CURVE_FILE, CurvePoint, LearningCurve, RunFolderError
from .stats import BOOTSTRAP_SEED, N_RESAMPLES, Classes, resample_indices, score_by
from .units import PointTask, curve_point, decode_predictions, encode_predictions, score_point

logger = logging.getLogger(__name__)

#: What a finished curve writes besides its JSON file.
CURVE_FILES = ("learning_curve.csv", "learning_curve.png", "report.md", "report.html")

__all__ = ["run_curve", "is_curve_folder", "write_curve_report", "checked_points", "summarise", "findings",
           "nested_order", "default_sizes", "encode_predictions", "decode_predictions"]


def run_curve(cfg: CurveConfig | None, resume: Path | None = None, *, trusted_files=frozenset(),
              progress: bool = False, engine: dict | None = None) -> tuple[Path, LearningCurve]:
    """Measure the learning curves described by ``cfg`` (or continue ``resume``).

    ``trusted_files``: files the user named on the command line, as for ``run``;
    ``progress``: progress bars; ``engine``: ``jobs``, ``cluster`` and ``track`` of a resumed
    curve (never taken from its folder).
    """
    if resume is not None:
        run_dir = Path(resume)
        if not run_dir.is_dir():
            raise UsageError(f"cannot resume {run_dir}: no such folder")
        with RunLock(run_dir, existing=True):
            curve = _load_curve(run_dir)
            cfg = replace(CurveConfig.from_saved(curve["config"], str(run_dir / CURVE_FILE)), **(engine or {}))
            return _measure(cfg, build_classifiers(cfg, progress=progress), run_dir, curve, progress)
    prototypes = build_classifiers(cfg, trusted_files=trusted_files, progress=progress)  # before data or folder
    engine_ = make_engine(cfg.jobs, cfg.cluster)  # a cluster is reached before a folder is made
    run_dir = new_run_dir(cfg.output, cfg.digest(), suffix="-curve")
    try:
        with RunLock(run_dir):
            return _measure(cfg, prototypes, run_dir, None, progress, engine_)
    finally:
        discard_if_unused(run_dir)  # e.g. the data could not be read: no empty folder left


def is_curve_folder(path: Path) -> bool:
    """Whether ``path`` was written by ``curve`` (it has a learning-curve file and no results file)."""
    return (Path(path) / CURVE_FILE).is_file() and not (Path(path) / "results.json").exists()


def write_curve_report(run_dir: Path) -> Path:
    """``report RUN_DIR`` of a finished curve: its csv, plot and report again, from its points
    (checked, and summarised anew: nothing in the file is taken as text for the report)."""
    with RunLock(run_dir):
        curve = _load_curve(run_dir)
        cfg = CurveConfig.from_saved(curve["config"], str(run_dir / CURVE_FILE))
        if curve.get("status") != "complete":
            raise UsageError(f"{run_dir} is a learning curve that has not finished; continue it with "
                             f"python -m benchmark curve --resume {run_dir}")
        split, _ = prepare_data(cfg)  # the test labels the points are scored on
        _check_same_split(run_dir, split, curve)
        plan = curve_plan(cfg, split.labels("train"))
        curve["points"] = checked_points(curve, plan, split.labels("test"), classes_of(split))
        if len(curve["points"]) < len(plan):
            raise UsageError(f"{run_dir} has learning-curve points that cannot be used; python -m benchmark curve --resume "
                             f"{run_dir} fits them again")
        _finish(run_dir, cfg, curve, split)
    return run_dir / "report.md"


def _load_curve(run_dir: Path) -> LearningCurve:
    import json

    path = run_dir / CURVE_FILE
    try:
        curve = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RunFolderError(f"cannot resume {run_dir}: no readable {CURVE_FILE} ({type(exc).__name__})") from None
    if not (isinstance(curve, dict) and isinstance(curve.get("points"), list) and isinstance(curve.get("config"), dict)
            and isinstance(curve.get("split"), dict) and "data_sha256" in curve["split"] and "sha256" in curve["split"]):
        raise RunFolderError(f"cannot resume {run_dir}: {CURVE_FILE} is not a learning-curve file")
    return curve


def _check_same_split(run_dir: Path, split, curve: LearningCurve) -> None:
    manifest = split.manifest()
    if manifest["data_sha256"] != curve["split"]["data_sha256"] or manifest["sha256"] != curve["split"]["sha256"]:
        raise UsageError(f"cannot resume {run_dir}: the data now gives a different split or texts; start a new curve")


def checked_points(curve: LearningCurve, plan: list[tuple[int, int, str]], y_test: np.ndarray, classes: Classes) -> list[CurvePoint]:
    """The points of a curve file that belong to ``plan``, each scored again from its test
    predictions, in plan order. A damaged point (malformed, or numbers that are not its
    predictions'), one outside the plan or a repeat is left out with a warning; the fits of
    the plan it leaves undone are made again."""
    position = {step: k for k, step in enumerate(plan)}
    kept: dict[tuple, CurvePoint] = {}
    dropped = 0
    for p in curve["points"]:
        point = _rescored(p, position, y_test, classes)
        key = None if point is None else (point["train_size"], point["repeat"], point["classifier"])
        if point is None or key in kept:
            dropped += 1
            continue
        kept[key] = point
    if dropped:
        logger.warning("%s: left out %d damaged, repeated or foreign point(s) of %s; their fits are made again",
                       curve.get("run_id", "curve"), dropped, CURVE_FILE)
    return [kept[step] for step in sorted(kept, key=position.__getitem__)]


def _rescored(p, position: dict, y_test: np.ndarray, classes: Classes) -> CurvePoint | None:
    try:
        key = (p["train_size"], p["repeat"], p["classifier"])
        codes, seconds = p["test_predictions"], p["train_time_s"]
        if key not in position or not isinstance(codes, str) or len(codes) != len(y_test):
            return None
        pred = decode_predictions(codes)
        if pred.max(initial=0) >= classes.n or isinstance(seconds, bool) or not (float(seconds) >= 0 and np.isfinite(seconds)):
            return None
        point = score_point(p["classifier"], p["train_size"], p["repeat"], pred, y_test, classes, float(seconds))
        same = all(isinstance(p.get(m), (int, float)) and not isinstance(p.get(m), bool) and abs(p[m] - point[m]) < 1e-9
                   for m in ("accuracy", "f1_macro"))
    except (TypeError, KeyError, ValueError, IndexError):
        return None
    if not same:
        return None
    if isinstance(p.get("where"), dict):
        point["where"] = p["where"]
    return point


def _measure(cfg: CurveConfig, prototypes: dict, run_dir: Path, curve: LearningCurve | None,
             progress: bool, engine=None) -> tuple[Path, LearningCurve]:
    split, data_info = prepare_data(cfg)
    curve, plan, todo = _start(cfg, run_dir, curve, split, data_info)
    orders = sample_orders(cfg, split.labels("train"))
    tasks = [PointTask(name, prototypes[name], size, repeat, split.train[orders[repeat][:size]], split.validation, split.test,
                       classes_of(split)) for size, repeat, name in todo]
    engine = engine or make_engine(cfg.jobs, cfg.cluster)
    execute(_CurvePlan(tasks, todo, plan, run_dir, curve, engine.workers, progress), engine, split.data)
    _finish(run_dir, cfg, curve, split)
    return run_dir, curve


def _start(cfg: CurveConfig, run_dir: Path, curve: LearningCurve | None, split, data_info: dict):
    """The curve (new, or resumed with its points checked), its plan and the fits still to do,
    with ``learning_curve.json`` written."""
    if curve is None:
        curve = {"run_id": run_dir.name, "status": "running", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "config": asdict(cfg), "environment": environment(), "data": data_info, "split": split.manifest(), "points": []}
    else:
        _check_same_split(run_dir, split, curve)
    plan = curve_plan(cfg, split.labels("train"))
    curve["points"] = checked_points(curve, plan, split.labels("test"), classes_of(split))
    done = {(p["train_size"], p["repeat"], p["classifier"]) for p in curve["points"]}
    todo = [step for step in plan if step not in done]
    if not todo and curve["status"] == "complete" and all((run_dir / f).is_file() for f in CURVE_FILES):
        raise UsageError(f"{run_dir} is already complete; nothing to resume (python -m benchmark report {run_dir} "
                         "regenerates its report)")
    if todo:
        curve["status"] = "running"
    atomic_write_json(run_dir / CURVE_FILE, curve)
    logger.info("learning curve: %d fits (%d done), sizes %s", len(plan), len(done), sorted({s for s, _, _ in plan}))
    return curve, plan, todo


class _CurvePlan(Plan):
    """The fits of a learning curve, as units of :func:`~benchmark.loop.execute`: each point goes
    into ``learning_curve.json`` as it returns, in plan order."""

    unit = staticmethod(curve_point)

    def __init__(self, tasks: list[PointTask], todo: list, plan: list, run_dir: Path, curve: LearningCurve,
                 workers: int, progress: bool) -> None:
        self._tasks, self.todo, self.run_dir, self.curve, self.progress = tasks, todo, run_dir, curve, progress
        self.index = {id(task): k for k, task in enumerate(tasks)}  # the engine hands back these very tasks
        self.position = {step: k for k, step in enumerate(plan)}
        self.eta = _Eta(todo, workers, progress)
        self.fitted = 0

    def tasks(self) -> list[PointTask]:
        return self._tasks

    def take(self, task: PointTask, point: CurvePoint) -> None:
        size, repeat, name = self.todo[self.index[id(task)]]
        self.curve["points"] = sorted([*self.curve["points"], point],
                                      key=lambda p: self.position[p["train_size"], p["repeat"], p["classifier"]])
        atomic_write_json(self.run_dir / CURVE_FILE, self.curve)
        self.fitted += 1
        left = self.eta.done(self.index[id(task)], point["train_time_s"])
        if not self.progress:
            logger.info("fit %d of %d: %s on %d reviews (repeat %d), accuracy %.4f; about %.0f s left",
                        self.fitted, len(self._tasks), name, size, repeat + 1, point["accuracy"], left)

    def failed(self, task: PointTask, error) -> None:
        size, _, name = self.todo[self.index[id(task)]]
        self._mark(f"failed: {name} on {size}")

    def stop(self, status: str, task=None) -> None:
        # a mistake (one line) or a bug in a user's classifier (its traceback): "failed"
        if status == "interrupted" or not self.curve["status"].startswith("failed"):
            self._mark(status)

    def _mark(self, status: str) -> None:
        self.curve["status"] = status
        atomic_write_json(self.run_dir / CURVE_FILE, self.curve)


class _Eta:
    """The seconds left, from each classifier's seconds per training review so far, on a progress bar."""

    def __init__(self, todo: list, workers: int, progress: bool) -> None:
        self.todo, self.workers, self.left = todo, workers, set(range(len(todo)))
        self.rate: dict[str, list[float]] = {}  # classifier -> seconds per training review, of the fits so far
        self.bar = tqdm(total=len(todo), desc="learning curve fits", disable=not progress, leave=False)

    def done(self, index: int, seconds: float) -> float:
        size, _, name = self.todo[index]
        self.rate.setdefault(name, []).append(seconds / size)
        self.left.discard(index)
        left = _time_left([self.todo[t] for t in sorted(self.left)], self.rate) / self.workers
        self.bar.update()
        self.bar.set_postfix(left=f"{left:.0f} s", refresh=False)
        return left


def _finish(run_dir: Path, cfg: CurveConfig, curve: LearningCurve, split) -> None:
    """Summary, findings, csv, plot and report, then ``learning_curve.json`` marked complete:
    a curve killed in between still says it has files to write, and ``--resume`` writes them."""
    curve["summary"] = summarise(curve["points"], split.labels("test"), metric=cfg.metric, n_classes=classes_of(split).n)
    words = SizeWords(bool(cfg.per_class), classes_of(split).n)
    curve["findings"] = findings(curve["summary"], len(split.train), cfg.metric, words)
    write_curve_files(run_dir, curve)
    curve["status"] = "complete"
    atomic_write_json(run_dir / CURVE_FILE, curve)


def _time_left(todo: list[tuple[int, int, str]], rate: dict[str, list[float]]) -> float:
    """Seconds the remaining fits should take: each classifier's seconds per training review
    so far, times the review counts still to fit (fits grow with the sample)."""
    fallback = float(np.mean([np.mean(r) for r in rate.values()])) if rate else 0.0
    return float(sum(size * (np.mean(rate[name]) if name in rate else fallback) for size, _, name in todo))


def summarise(points: list[dict], y_test: np.ndarray, *, metric: str = "accuracy", n_classes: int = 2,
              confidence: float = 0.95) -> dict:
    """Per classifier and size, over repeats: the mean, spread (std, min, max) and a bootstrap
    CI of the mean (resampling test items, the same items for every repeat) of accuracy
    (``accuracy_*``) and of ``metric`` when it is another (``f1_macro_*``, ``qwk_*``); the
    mean macro F1 and training time."""
    out: dict = {}
    for name in dict.fromkeys(p["classifier"] for p in points):
        sizes = sorted({p["train_size"] for p in points if p["classifier"] == name})
        out[name] = [_summary_row([p for p in points if p["classifier"] == name and p["train_size"] == size], size, y_test,
                                  metric, n_classes, confidence) for size in sizes]
    return out


def _summary_row(group: list[dict], size: int, y_test: np.ndarray, metric: str, n_classes: int, confidence: float) -> dict:
    """One classifier at one size: over its repeats (``group``), what :func:`summarise` lists."""
    preds = np.stack([decode_predictions(p["test_predictions"]) for p in group])  # (repeats, n_test)
    row = {"train_size": size, "repeats": len(group)}
    for m in dict.fromkeys(("accuracy", metric)):
        values = np.array([p[m] if p.get(m) is not None else np.nan for p in group], dtype=float)
        means = _resampled_means(preds, y_test, m, n_classes)
        low, high = np.nanpercentile(means, [(1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100])
        row.update({
            f"{m}_mean": float(np.nanmean(values)),
            f"{m}_std": float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0,
            f"{m}_min": float(np.nanmin(values)), f"{m}_max": float(np.nanmax(values)), f"{m}_ci": [float(low), float(high)],
        })
    row["f1_macro_mean"] = float(np.mean([p["f1_macro"] for p in group]))
    row["train_time_s_mean"] = float(np.mean([p["train_time_s"] for p in group]))
    return row


def _resampled_means(preds: np.ndarray, y_test: np.ndarray, metric: str = "accuracy", n_classes: int = 2,
                     chunk: int = 100) -> np.ndarray:
    """Per bootstrap resample of the test items (the same resamples for every call), ``metric``
    averaged over repeats (rows of ``preds``); drawn in chunks, so memory stays ``chunk`` x n_test."""
    if metric == "accuracy":
        right = preds == y_test
        return np.concatenate([right[:, idx].mean(axis=2).mean(axis=0)
                               for idx in resample_indices(right.shape[1], N_RESAMPLES, BOOTSTRAP_SEED, chunk)])
    return np.concatenate([np.nanmean([score_by(metric, y_test[idx], p[idx], n_classes) for p in preds], axis=0)
                           for idx in resample_indices(preds.shape[1], N_RESAMPLES, BOOTSTRAP_SEED, chunk)])


def _size_words(curve: dict):
    """How the report shows a training-set size, and how its samples were drawn: with
    ``--per-class`` a size is labels per class times the K classes."""
    per_class = curve["config"].get("per_class")
    sizes = [r["train_size"] for summary in curve["summary"].values() for r in summary]
    if not per_class or not sizes:
        return (lambda size: f"{size:,}"), "samples are nested and stratified"
    k = min(sizes) // min(per_class)
    return ((lambda size: f"{size:,} ({size // k} per class)"),
            f"samples are nested and hold exactly that many of each of the {k} classes (--per-class)")


def write_curve_files(run_dir: Path, curve: dict) -> None:
    """``learning_curve.csv``, ``learning_curve.png`` and ``report.md`` from the finished curve."""
    import pandas as pd

    from .decide import METRIC_WORDS
    from .report import plots, write_pages

    metric = curve["config"].get("metric", "accuracy")
    rows = [{"classifier": name, **{k: v for k, v in r.items() if not k.endswith("_ci")},
             **{f"{k}_{end}": r[k][i] for k in r if k.endswith("_ci") for i, end in enumerate(("low", "high"))}}
            for name, summary in curve["summary"].items() for r in summary]
    atomic_write_text(run_dir / "learning_curve.csv", csv_for_people(pd.DataFrame(rows)))
    plots.learning_curve_plot(curve["summary"], run_dir / "learning_curve.png", metric)
    data, split = curve["data"], curve["split"]
    title = METRIC_WORDS[metric][1].removeprefix("test ")
    shown, sampled = _size_words(curve)
    lines = [
        f"# sentibench learning curve: {md_literal(curve['run_id'])}", "",
        *[f"- {s}" for s in curve["findings"]], "",
        f"Data: {md_literal(data['source'])}, {data['rows_used']:,} reviews; split seed {curve['config']['seed']}: "
        f"{split['sizes']['train']:,} train / {split['sizes']['validation']:,} validation / {split['sizes']['test']:,} test. "
        f"Every point is scored on the same test split; {sampled}.", "",
        "![learning curve](learning_curve.png)", "",
        "The 95% CI is a bootstrap over the test reviews (how much the mean would move with another test "
        "sample); the spread between training samples is the std column.", "",
        f"| classifier | training reviews | repeats | {title} mean | std | 95% CI (test bootstrap) | train s |",
        "|---|---|---|---|---|---|---|",
        *[f"| {name} | {shown(r['train_size'])} | {r['repeats']} | {r[f'{metric}_mean']:.4f} | {r[f'{metric}_std']:.4f} | "
          f"[{r[f'{metric}_ci'][0]:.4f}, {r[f'{metric}_ci'][1]:.4f}] | {r['train_time_s_mean']:.2f} |"
          for name, summary in curve["summary"].items() for r in summary],
        "",
    ]
    write_pages(run_dir, "\n".join(lines), f"sentibench learning curve: {curve['run_id']}")
