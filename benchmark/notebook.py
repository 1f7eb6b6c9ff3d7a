"""The whole comparison from Python: :func:`compare` runs what ``python -m benchmark run``
runs and returns a :class:`~benchmark.comparison.Comparison` of its run folder.

Run options are the command line's, by the same names (``seed``, ``sample_size``,
``latency_calls``, ``save_models``, ``metric``...), with the same defaults and the same
checks: they are turned into a :class:`~benchmark.config.RunConfig` by
:meth:`RunConfig.from_cli`, exactly as the parsed command line is, and never declared again
here. Whatever the command line refuses, :func:`compare` refuses with the same one-line
:class:`~dataset.UsageError`.

A pandas DataFrame reaches the data loader as a file: it is written once, as JSON Lines, to
``OUTPUT/dataframes/<sha256 of the file>.jsonl`` and the run reads that file as
``--data FILE`` would. This is the seam chosen over an in-memory source because every
check the loader makes (columns, empty texts, labels, classes, duplicates) and everything
a run records (its source, the data hash of its manifest) then come from the one code path
the command line uses, and because ``--resume`` re-reads the run's data from
``config.data`` and checks its hash: a frame kept only in memory could not be read back by
a later process, the file can. The same frame gives the same file name, so a second
:func:`compare` of it writes nothing new. JSON Lines keeps a review's text exactly (new
lines, quotes, any Unicode) and a label's type (``1`` stays a number, ``"pos"`` text).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

from dataset import UsageError, atomic_write_bytes

from .comparison import Comparison

logger = logging.getLogger("benchmark")

__all__ = ["compare", "run_options"]

#: Sub-folder of the output folder holding the DataFrames given to :func:`compare`, as files.
FRAMES_DIR = "dataframes"
#: Run options set by :func:`compare`'s own arguments, not by ``**options``.
_OWN = ("data", "text_column", "label_column", "classifiers")


def run_options() -> list[str]:
    """The names :func:`compare` takes as ``**options``: the command line's run options
    (``--sample-size`` is ``sample_size``), ``params`` (what ``--config`` and ``--set`` give:
    classifier name -> hyperparameters) and ``resume``."""
    from .config import SHORTCUTS, RunConfig

    return sorted({*RunConfig.cli_fields(), *SHORTCUTS, "params", "resume"} - set(_OWN))


def compare(data=None, text: str | None = None, label: str | None = None, classifiers=None, *,
            progress: bool = True, **options) -> Comparison:
    """Train and measure ``classifiers`` on one stratified split of ``data``, as ``run`` does.

    Parameters
    ----------
    data : pandas.DataFrame, path or str, optional
        The reviews: a DataFrame (see the module's docstring for how it is read), or any
        source ``--data`` takes (a file, ``sample:uci``, ``yelp-polarity``, ``hf:NAME``).
        ``None``: the command line's default data.
    text, label : str, optional
        The columns holding the review and its label (``--text-column``,
        ``--label-column``); ``None`` finds them as the command line does (a ``text`` and a
        ``label`` column, among other names).
    classifiers : list of str or str, optional
        Registry names or ``MODULE:ATTR``, in run order (``"bow,w2v"`` works too); ``None``:
        every classifier that can run here, as ``--all``.
    progress : bool, default=True
        Progress bars (``tqdm.auto``: widgets in a notebook where ipywidgets is installed).
    **options
        Run options of the command line by their Python names (:func:`run_options`):
        ``seed=7``, ``sample_size=500``, ``save_models=True``, ``params={"bow": {"C": 0.5}}``...
        ``output`` is the parent of the run folder (``results`` by default, as on the
        command line); ``output=None`` puts it in a temporary folder that lives as long as
        the returned :class:`Comparison`. ``resume=RUN_DIR`` continues an interrupted run
        (alone, as ``--resume``).

    Returns
    -------
    Comparison

    Raises
    ------
    dataset.UsageError
        One line, for an unknown option or any value the command line refuses.
    KeyboardInterrupt
        Interrupted (Ctrl-C, the notebook's stop button): the run folder keeps the
        classifiers that finished, as on the command line; ``compare(resume=RUN_DIR)`` or
        ``python -m benchmark run --resume RUN_DIR`` continues it (a warning names it).
    """
    from .runner import run

    unknown = sorted(set(options) - set(run_options()))
    if unknown:
        raise UsageError(f"compare() got unknown option(s) {', '.join(unknown)}; valid options: data, text, label, "
                         f"classifiers, progress, {', '.join(run_options())}")
    state: dict = {}
    resume = options.pop("resume", None)
    if resume is not None:
        _refuse_with_resume(data, text, label, classifiers, options)
        with _interrupt_note(state):
            run_dir, _ = run(None, resume=Path(resume), progress=progress, engine=_engine(options), state=state)
        return Comparison(run_dir, fitted=_fitted(state, options))
    keep = None
    if "output" in options and options["output"] is None:
        keep = tempfile.TemporaryDirectory(prefix="sentibench-")
        options["output"] = keep.name
    cfg = _config(_namespace(data, text, label, classifiers, options))
    if _is_frame(data):  # written once every option is known to be valid
        cfg = replace(cfg, data=frame_file(data, text, label, options))
    with _interrupt_note(state):
        run_dir, _ = run(cfg, trusted_files=_trusted(options), progress=progress, state=state)
    return Comparison(run_dir, fitted=_fitted(state, options), keep=keep)


def _namespace(data, text, label, classifiers, options: dict, config=None) -> argparse.Namespace:
    """The parsed command line these arguments stand for (``None``: an option left out);
    ``config``: the config class whose options they are (``RunConfig`` by default)."""
    from .cli import classifier_list
    from .config import SHORTCUTS, RunConfig

    values = {name: None for name in (*(config or RunConfig).cli_fields(), *SHORTCUTS)}
    values.update({k: v for k, v in options.items() if k != "params"})
    if isinstance(values.get("output"), Path):
        values["output"] = str(values["output"])
    if isinstance(classifiers, str):
        try:
            classifiers = classifier_list(classifiers)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"classifiers {exc}") from None
    values.update(text_column=text, label_column=label, classifiers=classifiers, set=None,
                  config=options.get("params"))
    values["data"] = None if _is_frame(data) else _source(data)
    return argparse.Namespace(**values)


def _config(args: argparse.Namespace, config=None):
    from .commands import engine_options
    from .config import RunConfig

    if args.config is not None and not (isinstance(args.config, dict) and all(isinstance(p, dict) for p in args.config.values())):
        raise UsageError("params must be a dict of classifier name -> {hyperparameter: value}")
    return (config or RunConfig).from_cli(args, **engine_options(args))


def _engine(options: dict) -> dict:
    from .commands import engine_options

    return engine_options(argparse.Namespace(**{k: options.get(k) for k in ("jobs", "cluster", "track")}))


def _refuse_with_resume(data, text, label, classifiers, options: dict) -> None:
    given = [n for n, v in (("data", data), ("text", text), ("label", label), ("classifiers", classifiers)) if v is not None]
    given += [n for n in options if n not in ("jobs", "cluster", "track")]
    if given:
        raise UsageError(f"resume continues a run with the data and settings saved in it; drop {', '.join(given)} "
                         "(or start anew without resume)")


def _trusted(options: dict) -> frozenset[str]:
    """Files named in ``params``, as the command line trusts files named by ``--set``."""
    params = options.get("params") or {}
    return frozenset(v for p in params.values() if isinstance(p, dict) for v in p.values() if isinstance(v, str))


def _fitted(state: dict, options: dict) -> dict:
    """The estimators fitted in this process (none when units ran elsewhere)."""
    if options.get("jobs", 1) not in (None, 1) or options.get("cluster"):
        return {}
    return dict(state.get("classifiers") or {})


def _is_frame(data) -> bool:
    import sys

    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(data, pandas.DataFrame)


def _source(data) -> str | None:
    if data is None or isinstance(data, str):
        return data
    if isinstance(data, Path):
        return str(data)
    raise UsageError(f"data must be a pandas DataFrame, a path or a source --data takes, not {type(data).__name__}")


def frame_file(frame, text: str | None, label: str | None, options: dict) -> str:
    """Write ``frame`` once to ``OUTPUT/dataframes/<sha256>.jsonl`` and return its path (absolute,
    so that a resumed run finds it from any folder)."""
    from .config import RunConfig

    if options.get("format") is not None:
        raise UsageError("format applies to a file; a DataFrame is read as it is (drop format)")
    for what, column in (("text", text), ("label", label), ("group_column", options.get("group_column"))):
        if column is not None and column not in frame.columns:
            columns = ", ".join(map(str, frame.columns[:20]))
            raise UsageError(f"the DataFrame has no column {column!r} ({what}); its columns: {columns}")
    if frame.empty:
        raise UsageError("the DataFrame is empty; pass one with labelled reviews")
    if len(set(map(str, frame.columns))) != len(frame.columns):
        raise UsageError("the DataFrame has two columns of the same name; rename one")
    body = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso", default_handler=str)
    payload = (body if body.endswith("\n") else body + "\n").encode("utf-8")
    output = Path(options.get("output") or RunConfig.__dataclass_fields__["output"].default)
    path = (output / FRAMES_DIR / f"{hashlib.sha256(payload).hexdigest()[:16]}.jsonl").absolute()
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {path.parent}: {exc.strerror or exc}; pass a writable output") from None
        atomic_write_bytes(path, payload)
    return str(path)


class _interrupt_note:
    """On ``KeyboardInterrupt``, a warning naming the run folder to resume; the interrupt goes on."""

    def __init__(self, state: dict):
        self.state = state

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        run_dir = self.state.get("run_dir")
        if kind is KeyboardInterrupt and run_dir is not None and (Path(run_dir) / "results.json").is_file():
            logger.warning("interrupted: results of the classifiers that finished are kept in %s; continue with "
                           "compare(resume=%r) or 'python -m benchmark run --resume %s'", run_dir, str(run_dir), run_dir)
        return False
