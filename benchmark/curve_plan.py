"""Which fits a learning curve makes: its training-set sizes (total, or labels per class) and
the nested samples each size takes from the training part."""

from __future__ import annotations

import numpy as np

from dataset import UsageError

#: Smallest default training-set size; sizes then double up to the whole training part.
FIRST_SIZE = 100


def default_sizes(n_train: int) -> list[int]:
    """A geometric series from about :data:`FIRST_SIZE` to ``n_train`` (both included)."""
    sizes, size = [], FIRST_SIZE
    while size < n_train:
        sizes.append(size)
        size *= 2
    return sizes + [n_train]


def nested_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """An order of ``range(len(labels))`` whose every prefix is a stratified sample.

    Each class is shuffled, and item ``k`` of a class of size ``n_c`` gets the key
    ``(k + u) / n_c`` with ``u`` uniform in [0, 1): sorting by the key interleaves the
    classes in proportion, so a prefix of any length has each class's share to within one
    review, and the prefix of a smaller size is contained in that of a larger one.
    """
    return _order_by(labels, seed, lambda k, _rank, rng: (k + rng.random(len(k))) / len(k))


def balanced_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """An order of ``range(len(labels))`` whose prefix of ``n * K`` reviews holds exactly ``n``
    of each of the K classes (while every class has ``n``): the classes taken in turn, each
    shuffled; a smaller prefix is contained in a larger one (``curve --per-class``)."""
    return _order_by(labels, seed, lambda k, rank, _rng: k + rank)


def _order_by(labels: np.ndarray, seed: int, key) -> np.ndarray:
    """Indices sorted by ``key(k, rank, rng)`` of each class's members in shuffled order:
    ``k`` their positions 0 to n-1 in that order, ``rank`` the class's position over the
    number of classes (in [0, 1))."""
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels))
    classes = np.unique(labels)
    for rank, c in enumerate(classes):
        members = rng.permutation(np.flatnonzero(labels == c))
        keys[members] = key(np.arange(len(members)), rank / len(classes), rng)
    return np.argsort(keys, kind="stable")


def curve_sizes(cfg, train_labels: np.ndarray) -> list[int]:
    """The curve's training-set sizes, smallest first: ``--per-class`` times the number of
    classes, or ``--sizes``, or :func:`default_sizes`."""
    n_train = len(train_labels)
    if cfg.per_class:
        counts = np.unique(train_labels, return_counts=True)[1]
        if max(cfg.per_class) > counts.min():
            raise UsageError(f"--per-class {max(cfg.per_class)} is more than the smallest class of the training part "
                             f"has ({counts.min():,}); give at most {counts.min():,}")
        return sorted({n * len(counts) for n in cfg.per_class})
    sizes = sorted(set(cfg.sizes or default_sizes(n_train)))
    if sizes[-1] > n_train or sizes[0] < 10:
        raise UsageError(
            f"--sizes must lie between 10 and the training part's {n_train:,} reviews; got {', '.join(map(str, sizes))}"
        )
    return sizes


def plan(cfg, train_labels: np.ndarray) -> list[tuple[int, int, str]]:
    """(size, repeat, classifier) of every fit, smallest sizes first."""
    n_train = len(train_labels)
    return [(size, r, name) for size in curve_sizes(cfg, train_labels)
            for r in range(cfg.repeats if size < n_train else 1) for name in cfg.classifiers]


def sample_orders(cfg, train_labels: np.ndarray) -> dict[int, np.ndarray]:
    """Repeat -> the order whose prefixes are that repeat's training samples."""
    order = balanced_order if cfg.per_class else nested_order
    return {r: order(train_labels, cfg.seed + r) for r in range(cfg.repeats)}
