"""A run option, declared once: the config field carries its flag, help, argparse type and check.

A field of :class:`~benchmark.config.RunConfig` made with :func:`option` is a run option: the
command line's flag (``--sample-size`` for ``sample_size``), its ``--help`` line and group,
how argparse turns the typed text into the value, and the check the value must pass (in the
manner of scikit-learn's ``Interval``/``StrOptions`` constraints and lm-evaluation-harness's
``field(metadata=...)``). :mod:`benchmark.cli` builds the ``run`` and ``curve`` flags from these
declarations, ``--resume`` refuses the same flags, :func:`benchmark.compare` takes the same
names, and :meth:`RunConfig.validate` runs the checks, keeping for itself only the rules
between fields. Adding a run option is adding one field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from dataset import UsageError

__all__ = ["Option", "option", "option_of", "at_least", "between", "positive_finite", "not_blank",
           "Shortcut", "RUN", "CURVE", "BOTH", "DATA", "WHICH", "BUDGETS", "FAILING", "ENGINE"]

#: Which subcommands take an option.
RUN, CURVE = ("run",), ("curve",)
BOTH = ("run", "curve")

#: Titles of the ``--help`` groups (``WHICH``: ``--all`` and ``--classifiers``, one or the other).
WHICH = "which classifiers"
DATA = "data"
BUDGETS = "budgets (for the recommendation; every classifier is still measured)"
FAILING = "how each classifier fails"
ENGINE = "parallel fits and tracking (allowed with --resume; they change no result)"

#: ``check(flag, value)`` raises a one-line UsageError when ``value`` is out of its range.
Check = Callable[[str, object], None]


@dataclass(frozen=True)
class Option:
    """How one config field is given on the command line and what it must be."""

    help: str
    group: str | None = None  # argparse group title; None: the command's own options
    commands: tuple[str, ...] = BOTH
    metavar: str | None = None
    parse: Callable | None = None  # argparse type=; None: from the field type (int, float, str)
    action: type | str | None = None  # argparse action (store_true for a bool field)
    nargs: str | None = None
    choices: tuple | None = None  # also checked for a config made in code or read from JSON
    check: Check | None = None
    requires: str | None = None  # another (bool) field that must be on when this one is given
    flag: str | None = None  # None: --NAME with dashes

    def flag_of(self, name: str) -> str:
        return self.flag or f"--{name.replace('_', '-')}"

    def validate(self, name: str, value) -> None:
        """The value's own check (``None``, an option left out, is never checked)."""
        if value is None:
            return
        if self.choices is not None and value not in self.choices:
            raise UsageError(f"{self.flag_of(name)} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        if self.check is not None:
            self.check(self.flag_of(name), value)


@dataclass(frozen=True)
class Shortcut:
    """A run option that sets one hyperparameter (``param``) of every classifier in the run that has it."""

    param: str
    help: str
    parse: Callable = int
    metavar: str | None = None


def option(default=dataclasses.MISSING, *, default_factory=dataclasses.MISSING, **declared):
    """A dataclass field that is a run option (``declared``: the :class:`Option`'s fields)."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"option": Option(**declared)})


def option_of(field: dataclasses.Field) -> Option | None:
    """The option a config field declares, or ``None`` (a field set some other way)."""
    return field.metadata.get("option")


# -- checks ----------------------------------------------------------------------------------

def at_least(low: int) -> Check:
    def check(flag: str, value) -> None:
        if value < low:
            raise UsageError(f"{flag} must be at least {low}, got {value}")
    return check


def between(low: int, high: int) -> Check:
    def check(flag: str, value) -> None:
        if not low <= value <= high:
            raise UsageError(f"{flag} must be an integer from {low} to {high}, got {value}")
    return check


def positive_finite(flag: str, value) -> None:
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{flag} must be a positive finite number, got {value}")


def not_blank(then: str) -> Check:
    """Text that is not empty; ``then`` says what to give instead."""
    def check(flag: str, value) -> None:
        if not value.strip():
            raise UsageError(f"{flag} is empty; {then}")
    return check
