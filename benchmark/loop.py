"""The one loop every study runs: ``run``, each seed of ``--seeds``, and ``curve``.

A study is a :class:`Plan`: the units it needs (one fit each, a pure function of its task), what
it does with each unit's result as it returns, what it must do once the engine is closed and
nothing else runs (time the fits that ran beside each other), and how it marks its folder when
it stops. :func:`execute` maps the units through an engine of :mod:`benchmark.parallel` (this
process one at a time, loky processes, or a Dask cluster), in the manner of scikit-learn's
``BaseSearchCV``, which runs every candidate through one ``_fit_and_score`` whatever ``n_jobs``
is, and handles Ctrl-C, a unit's one-line error and any other error in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from dataset import SentibenchError

from .parallel import Engine

__all__ = ["Plan", "execute"]


class Plan:
    """What :func:`execute` runs. ``unit(data, task, where)`` is a module-level function (it
    travels to worker processes); the methods below are called in this process only."""

    unit: Callable

    def tasks(self) -> list:
        """The units still to run."""
        raise NotImplementedError

    def take(self, task, outcome) -> None:
        """One unit's result, as it returns (in the order units finish)."""
        raise NotImplementedError

    def after(self) -> None:
        """Once the engine is closed, with nothing else running."""

    def failed(self, task, error: SentibenchError) -> None:
        """A unit stopped with a one-line error; ``execute`` raises it next."""
        self.stop("failed", task)

    def stop(self, status: str, task=None) -> None:
        """Mark the study ``"interrupted"`` (Ctrl-C) or ``"failed"`` (``task``: the unit that was
        running here when it failed, if one was)."""
        raise NotImplementedError


def execute(plan: Plan, engine: Engine, data) -> None:
    """Run ``plan``'s units through ``engine`` (``data``: what every unit reads), then ``plan.after()``.

    A unit run in this process (an engine that is not parallel) is the one an error stopped;
    Ctrl-C, a unit's one-line error and any other error mark the study before they propagate.
    """
    tasks = plan.tasks()
    left = list(range(len(tasks)))
    failed = None
    try:
        with engine:  # closed before plan.after(): nothing else runs then
            if tasks:
                engine.start(data)
                for index, outcome in engine.map_unordered(plan.unit, tasks):
                    left.remove(index)
                    if isinstance(outcome, SentibenchError):
                        failed = outcome
                        plan.failed(tasks[index], outcome)
                        raise outcome
                    plan.take(tasks[index], outcome)
        plan.after()
    except KeyboardInterrupt:
        plan.stop("interrupted")
        raise
    except Exception as exc:  # the engine's own, a step's, a bug, or the machine out of memory or disk
        if exc is not failed:
            running = tasks[left[0]] if left and not engine.parallel else None
            plan.stop("failed", running)
        raise
