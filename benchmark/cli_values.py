"""Values of the command line's list options: ``--classifiers``, ``--label-map``, ``--seeds``,
``--sizes``, ``--per-class``, ``--llm-price-per-mtok`` (argparse ``type=`` callables and actions,
named by the options' declarations in :mod:`benchmark.config`)."""

from __future__ import annotations

import argparse
import json

from classifiers import REGISTRY
from dataset import UsageError


def seed_list(text: str) -> list[int]:
    """``--seeds 1,2,3``: at least two different seeds NumPy accepts."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects comma-separated integers such as 1,2,3; got {text!r}") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"needs at least two different seeds, got {text!r}")
    if min(seeds) < 0 or max(seeds) > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"must be integers from 0 to 4294967295, got {text!r}")
    return seeds


def size_list(text: str) -> list[int]:
    """``--sizes 250,500,1000``: training-set sizes, sorted, each once."""
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects comma-separated integers such as 250,500,1000; got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError("is empty; give training-set sizes such as 250,500,1000")
    return sizes


def price_pair(text: str) -> tuple[float, float]:
    """``--llm-price-per-mtok 0.15,0.60``: prices per million tokens in and out."""
    try:
        prices = tuple(float(part) for part in text.split(","))
    except ValueError:
        prices = ()
    if len(prices) != 2 or not all(0 <= p < float("inf") for p in prices):
        raise argparse.ArgumentTypeError(f"expects two prices per million tokens, IN,OUT (e.g. 0.15,0.60); got {text!r}")
    return prices


def classifier_list(text: str) -> list[str]:
    """``--classifiers bow,w2v`` -> ``["bow", "w2v"]`` (names checked by RunConfig)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"is empty; name at least one of: {', '.join(REGISTRY)}")
    return list(dict.fromkeys(names))


class LabelMapAction(argparse.Action):
    """``--label-map negative=1,2 neutral=3 positive=4,5`` (or one JSON object) -> the
    ordered groups ``{"negative": ["1", "2"], "neutral": ["3"], "positive": ["4", "5"]}``;
    the order given is the class order, values left out are dropped."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, self.parse(values))

    @staticmethod
    def parse(items: list[str] | None) -> dict[str, list[str]] | None:
        if not items:
            return None
        text = " ".join(items).strip()
        groups = LabelMapAction._json_groups(text) if text.startswith("{") else LabelMapAction._item_groups(items)
        seen: dict[str, str] = {}
        for name, values in groups.items():
            if not values:
                raise UsageError(f"--label-map: the class {name!r} has no label values")
            for value in values:
                if seen.setdefault(value, name) != name:
                    raise UsageError(f"--label-map puts the label {value!r} in two classes ({seen[value]} and {name})")
        if len(groups) < 2:
            raise UsageError("--label-map must name at least two classes, e.g. negative=1,2 positive=4,5")
        return groups

    @staticmethod
    def _json_groups(text: str) -> dict[str, list[str]]:
        from dataset import label_groups

        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--label-map is not valid JSON ({exc})") from None
        if not isinstance(loaded, dict) or not loaded:
            raise UsageError('--label-map JSON must be an object, e.g. {"negative": [1, 2], "positive": [4, 5]}')
        if all(isinstance(v, list) for v in loaded.values()):
            return {str(k): [str(v) for v in values] for k, values in loaded.items()}
        if all(v in (0, 1, None) and not isinstance(v, bool) for v in loaded.values()):
            return {k: v for k, v in label_groups(loaded).items() if v}  # the older form: label value -> 0 or 1
        raise UsageError('--label-map JSON maps class names to lists of label values, e.g. {"negative": [1, 2], "positive": [4, 5]}')

    @staticmethod
    def _item_groups(items: list[str]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for item in " ".join(items).split():
            name, sep, values = item.partition("=")
            if not sep or not name or not values.strip(","):
                raise UsageError(f"--label-map expects CLASS=VALUES ... (e.g. negative=1,2 neutral=3 positive=4,5), got {item!r}")
            if name in groups:
                raise UsageError(f"--label-map names the class {name!r} twice")
            groups[name] = [v.strip() for v in values.split(",") if v.strip()]
        return groups


def positive_int(text: str) -> int:
    """An integer of at least 1 (``serve --port``, ``--workers``, its limits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def non_negative_number(text: str) -> float:
    """A finite number of at least 0 (``serve --batch-wait-ms``, ``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of at least 0, got {text!r}")
    return value
