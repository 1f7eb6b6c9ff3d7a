"""Plain sentences on a learning curve, from its measured points only: where the curves
cross, where each flattens, and from how few labels a classifier comes within a point of
the best one at its largest size (where few-shot stops paying)."""

from __future__ import annotations

from dataclasses import dataclass

#: A gain smaller than this (1 point) counts as a plateau; "within reach" is as close.
PLATEAU = 0.01


@dataclass(frozen=True)
class SizeWords:
    """How a finding names a training-set size: reviews, or with ``--per-class`` labels per
    class (the size over the ``k`` classes)."""

    per_class: bool = False
    k: int = 1

    @property
    def unit(self) -> str:
        return "labels per class" if self.per_class else "training reviews"

    def __call__(self, size: int) -> str:
        return f"{size // self.k:,}" if self.per_class else f"{size:,}"


def findings(summary: dict, n_train: int, metric: str = "accuracy", words: SizeWords = SizeWords()) -> list[str]:
    """The sentences, for each pair of classifiers and then for each classifier.

    ``summary`` maps a classifier to its rows (``train_size``, ``{metric}_mean``), in
    increasing size; ``n_train`` is the training split's size (what an extrapolation would
    need, never made without saying so)."""
    means = {n: {r["train_size"]: r[f"{metric}_mean"] for r in rows} for n, rows in summary.items()}
    means = {n: m for n, m in means.items() if m}
    return [*_crossings(means, words), *_plateaus(means, words), *_within_reach(means, words)]


def _crossings(means: dict, words: SizeWords) -> list[str]:
    sentences = []
    names = list(means)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = [s for s in means[a] if s in means[b]]
            if common:
                sentences.append(_crossing(a, b, common, means, words))
    return sentences


def _crossing(a: str, b: str, common: list[int], means: dict, words: SizeWords) -> str:
    largest = common[-1]
    lead, other = (a, b) if means[a][largest] >= means[b][largest] else (b, a)
    ahead = [s for s in common if means[lead][s] > means[other][s]]
    start = next((s for k, s in enumerate(common) if all(t in ahead for t in common[k:])), None)
    if start is None:
        return f"{lead} and {other} are level at the largest size ({words(largest)} {words.unit})."
    if start == common[0]:
        return f"{lead} is ahead of {other} at every measured size ({words(common[0])} to {words(largest)} {words.unit})."
    return f"{lead} is ahead of {other} from about {words(start)} {words.unit} (measured up to {words(largest)})."


def _plateaus(means: dict, words: SizeWords) -> list[str]:
    sentences = []
    for name, points in means.items():
        sizes = list(points)
        full = points[sizes[-1]]
        flat = next((s for s in sizes if full - points[s] < PLATEAU), sizes[-1])
        if flat < sizes[-1]:
            sentences.append(f"{name} gains little past {words(flat)} {words.unit} "
                             f"(less than {PLATEAU * 100:.0f} point up to {words(sizes[-1])}).")
            continue
        step = sizes[-2] if len(sizes) > 1 else None
        sentences.append(
            f"{name} was still gaining at the largest size ({words(sizes[-1])})"
            + (f", {(full - points[step]) * 100:+.1f} points over {words(step)}" if step else "")
            + "; more data would probably help, but that is beyond what was measured."
        )
    return sentences


def _within_reach(means: dict, words: SizeWords) -> list[str]:
    """For each other classifier, the fewest labels with which it comes within a point of
    the best classifier at that classifier's largest size, when that is fewer labels."""
    if len(means) < 2:
        return []
    best = max(means, key=lambda n: (means[n][max(means[n])], -max(means[n])))
    best_size = max(means[best])
    target = means[best][best_size]
    sentences = []
    for name, points in means.items():
        close = next((s for s in points if s < best_size and points[s] >= target - PLATEAU), None)
        if name != best and close is not None:
            sentences.append(
                f"With {words(close)} {words.unit}, {name} is within {PLATEAU * 100:.0f} point of {best} trained on "
                f"{words(best_size)} ({points[close]:.3f} against {target:.3f}): past that, more labels buy little.")
    return sentences
