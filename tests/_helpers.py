"""Helpers shared by several test modules (pytest fixtures live in conftest.py)."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

#: Real review data beside the project (absent in a user's fresh clone).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: Hyperparameters that make each classifier fit the tiny corpus in seconds.
FAST_PARAMS = {
    "bow": {"min_df": 1},
    "w2v": {"min_count": 1, "w2v_epochs": 3},
    "bert": {"epochs": 1, "max_length": 32, "batch_size": 8},
    "embed": {"max_length": 32},
    "vader": {},
    "zeroshot": {"max_length": 32},
    "static": {"pca_dims": 32},
    "setfit": {"max_length": 32, "num_iterations": 2},
}
#: Classifiers that load and run a network: their fitting tests run with -m slow.
NETWORK_CLASSIFIERS = ("bert", "embed", "zeroshot", "static", "setfit")
#: Classifiers that need a server to answer: the generic tests leave them out, and
#: tests/classifiers/test_llm.py runs them against a real one.
ENDPOINT_CLASSIFIERS = ("llm",)


def run_predictions(run_dir):
    """The test predictions of a run folder (``predictions.jsonl``), as sentibench reads them."""
    import json

    from benchmark.predictions_file import read_predictions

    results = json.loads((Path(run_dir) / "results.json").read_text())
    return read_predictions(run_dir, results["classifiers"], len(results["data"]["classes"]))


def slow_for_transformers(names) -> list:
    """``names`` as pytest parameters, those that load and run a network marked slow."""
    return [pytest.param(n, marks=pytest.mark.slow) if n in NETWORK_CLASSIFIERS else n for n in names]


def require(name: str) -> None:
    """Skip the calling test when classifier ``name`` needs an optional extra that is not installed."""
    from classifiers import REGISTRY

    extra = REGISTRY.missing_extra(name) if REGISTRY.is_builtin(name) else None
    if extra is not None:
        pytest.skip(f"{name} needs pip install 'sentibench[{extra}]'")


def fast_flags(*names: str, latency_calls: int = 2) -> list[str]:
    """Command-line flags that give the named classifiers their :data:`FAST_PARAMS`, and
    few timed latency calls."""
    flags = [arg for name in names for key, value in FAST_PARAMS[name].items()
             for arg in ("--set", f"{name}.{key}={str(value).lower() if isinstance(value, bool) else value}")]
    return flags + ["--latency-calls", str(latency_calls)]


#: The flags most run tests use: Word2Vec fast on the tiny corpus, two timed calls.
FAST = fast_flags("w2v")


def shared_file(name: str) -> Path:
    """Path of a file in ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not present (real data lives only beside the project)")
    return path


def unused_port() -> int:
    """A loopback port that nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_line_error(outcome, *needles) -> str:
    """The one-line error of a failed call, which must contain every needle.

    ``outcome`` is an exception caught by ``pytest.raises`` (its message is one line), or a
    command's result (a subprocess or :func:`run_main`): exit code 2, no traceback, exactly
    one line starting with ``sentibench: error:``.
    """
    if isinstance(outcome, pytest.ExceptionInfo):
        line = str(outcome.value)
        assert "\n" not in line and "\r" not in line, line
    else:
        assert outcome.returncode == 2, (outcome.returncode, outcome.stderr[-3000:])
        assert "Traceback" not in outcome.stderr
        lines = [ln for ln in outcome.stderr.splitlines() if ln.startswith("sentibench: error:")]
        assert len(lines) == 1, outcome.stderr[-3000:]
        line = lines[0]
    for needle in needles:
        assert needle in line, line
    return line


def run_main(capsys, *args: str):
    """``python -m benchmark ARGS`` in this process: its exit code, stdout and stderr."""
    from types import SimpleNamespace

    from benchmark.__main__ import main

    capsys.readouterr()  # what came before is not this command's
    returncode = main(list(args))
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=returncode, stdout=out, stderr=err)


def weights_digest(net) -> str:
    """SHA-256 over a module's state dict (names, then float32 values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def interrupt_at(monkeypatch, name: str = "w2v"):
    """Make the runner raise KeyboardInterrupt (Ctrl-C) when classifier ``name`` starts;
    returns the real ``run_one`` (to put back)."""
    from benchmark import units

    real_run_one = units.run_one

    def run_one_then_interrupt(clf, split, **kwargs):
        if clf.name == name:
            raise KeyboardInterrupt
        return real_run_one(clf, split, **kwargs)

    monkeypatch.setattr(units, "run_one", run_one_then_interrupt)
    return real_run_one


def interrupted_run(out: Path, monkeypatch, *args: str) -> Path:
    """A ``run --classifiers bow,w2v`` (plus ``args``) into ``out``, interrupted (Ctrl-C) when
    w2v starts: its run folder, holding bow only."""
    from benchmark import units
    from benchmark.__main__ import main

    real_run_one = interrupt_at(monkeypatch)
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--output", str(out), "--latency-calls", "2", *args]) == 130
    monkeypatch.setattr(units, "run_one", real_run_one)
    (run_dir,) = Path(out).iterdir()
    return run_dir


#: Words that mark each of five ordered classes in :func:`synthetic_reviews`.
_CLASS_WORDS = (
    ("awful", "horrible", "disgusting", "worst", "rude"),
    ("poor", "bland", "slow", "disappointing", "meh"),
    ("okay", "average", "decent", "ordinary", "fine"),
    ("good", "tasty", "friendly", "nice", "pleasant"),
    ("amazing", "superb", "perfect", "best", "wonderful"),
)
_FILLER = ("the", "food", "service", "staff", "room", "price", "was", "and", "our", "visit", "really", "quite")


def synthetic_reviews(n_classes: int, per_class: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``per_class`` short reviews of each of ``n_classes`` classes (3: words of classes 0, 2
    and 4 of five), shuffled: class words mixed with filler and, now and then, a word of a
    neighbouring class, so that no classifier is perfect."""
    rng = np.random.default_rng(seed)
    which = {3: (0, 2, 4), 5: (0, 1, 2, 3, 4), 2: (0, 4)}[n_classes]
    texts, labels = [], []
    for label, source in enumerate(which):
        for _ in range(per_class):
            words = list(rng.choice(_FILLER, 4)) + list(rng.choice(_CLASS_WORDS[source], 2))
            if rng.random() < 0.25:
                words.append(rng.choice(_CLASS_WORDS[min(4, max(0, source + rng.choice([-1, 1])))]))
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], np.asarray(labels)[order]


#: Pieces that stress parsers and tokenisers: separators, quotes, every kind of
#: line break str.splitlines knows, BOMs, zero-width and wide spaces, NUL and
#: escape characters, emoji (with modifiers and joiners), several scripts, and
#: strings that pandas would read as missing values without keep_default_na=False.
HOSTILE_PIECES = st.sampled_from(
    [
        "", " ", "  ", "\t", "\n", "\r\n", "\r", "\r\r\n", ",", ";", '"', '""', "'", "\\",
        "\x00", "\x01", "\x1b[31m", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
        "\u2028", "\u2029", "\ufeff", "\u200b", "\u200d", "\u00a0", "\u3000", "\u202e",
        "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "日本語", "中文", "العربية", "עברית", "Ελληνικά",
        "नमस्ते", "ภาษาไทย", "Ｆｕｌｌ", "e\u0301", "ß", "İ",
        "nan", "NaN", "NA", "N/A", "None", "null", "1", "2", "-1", "__label__1", "great", "awful",
    ]
)
#: Arbitrary text: st.text() covers all of Unicode but surrogates, control
#: characters included; SPECIAL pieces make the nasty cases frequent.
HOSTILE_TEXT = st.lists(st.one_of(HOSTILE_PIECES, st.text(max_size=12)), max_size=6).map("".join)


def tokenizer_calls(monkeypatch, tokenizer) -> list[int]:
    """Characters handed to each call of ``tokenizer`` (of any tokenizer of its class) from now on."""
    calls = []
    real = type(tokenizer).__call__

    def spy(self, text, *args, **kwargs):
        calls.append(sum(map(len, text)) if isinstance(text, list) else len(text))
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(type(tokenizer), "__call__", spy)
    return calls


def interrupted_curve(monkeypatch, args: list[str], at_fit: int) -> None:
    """``curve`` with ``args``, interrupted (Ctrl-C) when its ``at_fit``-th fit starts; it
    exits 130 having kept the points before."""
    from benchmark import units  # where a curve's fits clone their classifier
    from benchmark.__main__ import main

    real_clone, calls = units.clone, []

    def clone_then_interrupt(est):
        calls.append(est)
        if len(calls) == at_fit:
            raise KeyboardInterrupt
        return real_clone(est)

    with monkeypatch.context() as patch:
        patch.setattr(units, "clone", clone_then_interrupt)
        assert main(args) == 130
