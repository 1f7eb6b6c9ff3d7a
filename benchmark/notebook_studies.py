"""The notebook counterparts of ``python -m benchmark curve`` and ``robustness``.

``learning_curve(data, ...)`` takes the options of the ``curve`` command by their Python names (the
same checks, the same one-line refusals) and writes the same curve folder; it returns a
:class:`LearningCurve` read back from that folder. ``Comparison.robustness()`` (through
:func:`run_robustness`) runs the behavioural tests of a finished run's saved models, as
``python -m benchmark robustness RUN_DIR`` does, and returns their failure table. (The names
``curve`` and ``robustness`` are taken by modules of this package.)
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from dataset import UsageError

__all__ = ["LearningCurve", "curve_options", "learning_curve", "run_robustness"]

#: Options of the command line's ``curve`` that are not options of a curve (how it is logged).
_NOT_OPTIONS = ("command", "all", "classifiers", "data", "text_column", "label_column", "set", "config")


def curve_options() -> list[str]:
    """The names :func:`learning_curve` takes as ``**options``: the ``curve`` command's options by their
    Python names (``--sizes`` is ``sizes``), ``params`` (classifier -> hyperparameters) and ``resume``."""
    from .cli import build_parser

    given = vars(build_parser().parse_args(["curve"]))
    return sorted({*given, "params"} - set(_NOT_OPTIONS))


def learning_curve(data=None, text: str | None = None, label: str | None = None, classifiers=None, *,
          progress: bool = True, **options) -> LearningCurve:
    """Learning curves of ``classifiers`` on ``data``, as ``python -m benchmark curve`` measures them.

    The arguments are those of :func:`benchmark.compare`; ``**options`` are the curve
    command's (:func:`curve_options`): ``sizes=[100, 200, 400]``, ``repeats=3``, ``metric``,
    ``seed``, ``output`` (``None``: a temporary folder), ``resume=CURVE_DIR`` (alone)...
    ``KeyboardInterrupt`` keeps the finished points; ``learning_curve(resume=CURVE_DIR)`` continues.
    """
    from .config import CurveConfig
    from .curve import run_curve
    from .notebook import _config, _engine, _is_frame, _namespace, _refuse_with_resume, _trusted, frame_file

    unknown = sorted(set(options) - set(curve_options()))
    if unknown:
        raise UsageError(f"learning_curve() got unknown option(s) {', '.join(unknown)}; valid options: data, text, label, "
                         f"classifiers, progress, {', '.join(curve_options())}")
    resume = options.pop("resume", None)
    if resume is not None:
        _refuse_with_resume(data, text, label, classifiers, options)
        run_dir, _ = run_curve(None, resume=Path(resume), progress=progress, engine=_engine(options))
        return LearningCurve(run_dir)
    keep = None
    if "output" in options and options["output"] is None:
        keep = tempfile.TemporaryDirectory(prefix="sentibench-curve-")
        options["output"] = keep.name
    cfg = _config(_namespace(data, text, label, classifiers, options, CurveConfig), CurveConfig)
    if _is_frame(data):
        cfg = replace(cfg, data=frame_file(data, text, label, options))
    run_dir, _ = run_curve(cfg, trusted_files=_trusted(options), progress=progress)
    return LearningCurve(run_dir, keep=keep)


class LearningCurve:
    """A finished curve folder seen from Python: ``.table`` (a DataFrame, one row per
    classifier and size, with 95% CIs), ``.findings`` (the sentences the command line prints),
    ``.plot()`` (a matplotlib Figure) and the report inline in a notebook."""

    def __init__(self, run_dir, *, keep=None):
        from .curve import _load_curve, is_curve_folder

        self.run_dir = Path(run_dir)
        if not is_curve_folder(self.run_dir):
            raise UsageError(f"{self.run_dir} is not a folder written by 'curve' (no learning_curve.json)")
        self.curve = _load_curve(self.run_dir)
        self._keep = keep  # a temporary folder lives as long as this object

    @classmethod
    def load(cls, run_dir) -> LearningCurve:
        return cls(run_dir)

    def __repr__(self) -> str:
        return f"LearningCurve({str(self.run_dir)!r}, status={self.curve.get('status')!r})"

    @property
    def findings(self) -> list[str]:
        return list(self.curve.get("findings") or [])

    @property
    def table(self):
        import pandas as pd

        path = self.run_dir / "learning_curve.csv"
        if not path.is_file():
            raise UsageError(f"{self.run_dir} has no learning_curve.csv (the curve has not finished)")
        return pd.read_csv(path)

    def plot(self):
        """The learning-curve figure of the report (not saved, not left open in pyplot)."""
        from .comparison import _detached
        from .report.plots import learning_curve_figure

        metric = self.curve["config"].get("metric", "accuracy")
        return _detached(learning_curve_figure(self.curve.get("summary") or {}, metric))

    def _repr_html_(self) -> str:
        from .comparison import report_main
        from .report import REPORT_PAGE

        return report_main((self.run_dir / REPORT_PAGE).read_text(encoding="utf-8"))


def run_robustness(run, suite: str | None = None):
    """Behavioural tests of the models a finished run saved (``save_models=True``), as
    ``python -m benchmark robustness RUN_DIR`` runs them: ``robustness.json`` and the report
    are written again, and the failure rates (Wilson 95% CIs) come back as a DataFrame.

    ``run``: a :class:`benchmark.Comparison` or its run folder; ``suite``: a suite file
    (``--robustness-suite``), by default the run's own or the built-in one.
    """
    import pandas as pd

    from .report import write_report
    from .robustness.run import score_saved_run
    from .robustness.section import failure_rows

    run_dir = Path(getattr(run, "run_dir", run))
    found = score_saved_run(run_dir, suite)
    write_report(run_dir)
    rows, headers = failure_rows(found)
    return pd.DataFrame(rows, columns=headers)
