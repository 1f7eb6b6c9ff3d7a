"""A fitted BERT as a Hugging Face folder that plain transformers loads and computes alike.

With ``pooling="cls"`` the network *is* a ``*ForSequenceClassification`` model: its
``config.json``, ``model.safetensors`` and tokenizer sit at the top of the saved folder,
so ``pipeline("text-classification", model=folder)`` and
``AutoModelForSequenceClassification.from_pretrained(folder)`` reproduce sentibench's
full-precision predictions, with ``id2label`` naming the classes. A mean-pooled network
has no plain transformers equivalent: its files go into ``encoder/`` instead, so that
plain transformers fails loudly rather than computing a different model.
"""

from __future__ import annotations

import json
from pathlib import Path

from dataset import atomic_write_text, json_text, md_literal

from .._card import render_card
from .._persist import ModelFileError
from ..encoder.hub import BUNDLED_MODEL_NAMES, check_no_remote_code, load_saved, quiet_transformers
from ..encoder.onnx import ONNX_FILE, onnx_available

TRAINING_FILE = "training.json"
#: Sub-folder of a mean-pooled model's Hugging Face files (see the module docstring).
ENCODER_DIR = "encoder"


def hf_folder(folder: Path, pooling: str) -> Path:
    return Path(folder) if pooling == "cls" else Path(folder) / ENCODER_DIR


def label_names(classes, class_names=None) -> dict[int, str]:
    """``id2label`` for ``classes_``: the names the caller gives (the benchmark's class
    names, e.g. negative/neutral/positive for its codes 0, 1, 2), else 0/1 (or False/True)
    as negative and positive, else the labels' own names."""
    values = list(classes)
    if class_names is not None and len(class_names) == len(values):
        return {i: str(n) for i, n in enumerate(class_names)}
    if values == [0, 1]:  # also [False, True] and [0.0, 1.0]
        return {0: "negative", 1: "positive"}
    return {i: str(v) for i, v in enumerate(values)}


def save(folder: Path, model, tokenizer, pooling: str, id2label: dict[int, str], training: dict) -> None:
    """The Hugging Face files (with ``id2label`` naming the classes) and ``training.json``."""
    target = hf_folder(folder, pooling)
    config = model.config
    kept = config.id2label, config.label2id
    config.id2label, config.label2id = dict(id2label), {v: k for k, v in id2label.items()}
    try:
        with quiet_transformers():
            model.save_pretrained(target, safe_serialization=True)
            tokenizer.save_pretrained(target)
    finally:
        config.id2label, config.label2id = kept
    atomic_write_text(Path(folder) / TRAINING_FILE, json_text(training, indent=2, what=TRAINING_FILE))


def _is_number(value) -> bool:
    """Whether ``value`` is a JSON number (an int or a float, not a bool)."""
    return not isinstance(value, bool) and isinstance(value, int | float)


def _is_choice(choice) -> bool:
    """Whether ``choice`` is an ``inference_choice`` record: an object naming its chosen path."""
    return isinstance(choice, dict) and isinstance(choice.get("chosen"), str) and isinstance(choice.get("reason", ""), str)


def _check_training(training) -> None:
    """Raise ``ValueError``/``KeyError``/``TypeError`` unless ``training`` has the shape
    :func:`save` writes (a hand-edited file must not break predictions later)."""
    import math

    if not isinstance(training, dict):
        raise TypeError("not a JSON object")
    history, best, precision = training["history"], training["best_epoch"], training["precision"]
    if not (isinstance(history, list) and all(isinstance(h, dict) for h in history)):
        raise TypeError("history is not a list of objects")
    if not _is_number(best):
        raise TypeError("best_epoch is not a number")
    if precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"unknown precision {precision!r}")
    if not isinstance(training["fit_info"], dict):
        raise TypeError("fit_info is not an object")
    choice = training.get("inference_choice")
    if choice is not None and not _is_choice(choice):
        raise TypeError("inference_choice is not an object with a chosen path")
    temperature = training.get("temperature", 1.0)
    if not (_is_number(temperature) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")


def load(folder: Path, pooling: str):
    """``(tokenizer, model, training)`` of a saved folder; nothing in it is executed.

    Only ``model.safetensors`` is read (never a pickled ``pytorch_model.bin``), custom
    code (``auto_map``) is refused, and any damaged file is a :class:`ModelFileError`.
    """
    from transformers import AutoModelForSequenceClassification

    source = hf_folder(folder, pooling)
    for name in ("config.json", "model.safetensors"):
        if not (source / name).is_file():
            raise ModelFileError(f"{folder} is incomplete: missing {source.relative_to(folder) / name}")
    check_no_remote_code(source)
    try:
        training = json.loads((Path(folder) / TRAINING_FILE).read_text(encoding="utf-8"))
        _check_training(training)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{Path(folder) / TRAINING_FILE} is damaged ({type(exc).__name__}: {exc})") from None
    tokenizer, model = load_saved(source, AutoModelForSequenceClassification, Path(folder))
    return tokenizer, model, training


def front_matter(base_model: str) -> dict:
    return {
        "library_name": "transformers",
        "pipeline_tag": "text-classification",
        "base_model": base_model,
        "tags": ["sentiment-analysis", "text-classification", "sentibench"],
    }


def _and_list(items: list[str]) -> str:
    return " and ".join(items) if len(items) == 2 else ", ".join(items[:-1]) + " and " + items[-1]


def usage_lines(max_length: int, truncation: str, classes, class_names=None) -> list[str]:
    names = label_names(classes, class_names)
    lines = [
        "With plain Hugging Face transformers (no sentibench needed):",
        "",
        "```python",
        "from transformers import pipeline",
        f'classify = pipeline("text-classification", model="THIS_FOLDER", truncation=True)  # max_length {max_length}',
        'classify("The pasta was cold and the waiter rude.")',
        "```",
        "",
        "`truncation=True` cuts reviews to the tokenizer's `model_max_length`, the length used in training. "
        f"The pipeline's labels are {_and_list([md_literal(n) for n in names.values()])} (`id2label` in config.json).",
    ]
    if truncation != "head":
        lines.append(
            f"This model was trained with `truncation={truncation!r}`, which transformers cannot reproduce: "
            "predictions on reviews longer than max_length differ unless you load it with sentibench."
        )
    return lines + [
        "",
        "With sentibench (the same model on its fastest CPU path that kept fp32's validation accuracy; "
        "the evaluation below compares the two):",
        "",
        "```python",
        "from classifiers import SentimentClassifier",
        'clf = SentimentClassifier.load("THIS_FOLDER")',
        "```",
    ]


def model_card(clf, context: dict) -> str:
    """The model card: with Hugging Face metadata and usage when plain transformers can load it."""
    if clf.pooling != "cls":
        return render_card(clf, context)
    base = clf.model if clf.model is not None and str(clf.model) not in BUNDLED_MODEL_NAMES else BUNDLED_MODEL_NAMES[1]
    usage = usage_lines(clf.max_length, clf.truncation, clf.classes_.tolist(), context.get("class_names"))
    return render_card(clf, context, front_matter=front_matter(str(base)), usage=usage)


def card_facts(clf) -> list[str]:
    base = clf.model or f"{BUNDLED_MODEL_NAMES[1]} (bundled with sentibench)"
    best = max((h["val_accuracy"] for h in clf.history_ if h["val_accuracy"] is not None), default=None)
    facts = [
        f"Base checkpoint: `{base}`, fine-tuned for {len(clf.history_)} evaluation(s); the weights of epoch "
        f"{clf.best_epoch_:g} were kept" + (f" (validation accuracy {best:.4f})." if best is not None else "."),
        f"Training precision: {clf.precision_} on {clf.device_}.",
    ]
    choice = clf.inference_choice_
    if choice:
        facts.append(f"sentibench's inference path: {choice['chosen']} ({choice['reason']}).")
    if onnx_available():
        facts.append(
            f"`{hf_folder(Path('.'), clf.pooling) / ONNX_FILE}`: the fp32 network for ONNX Runtime: inputs `input_ids` "
            "and `attention_mask` (int64, reviews x tokens), output `outputs`, the logits before any temperature."
        )
    if clf.temperature_ != 1.0:
        facts.append(
            f"Probabilities: sentibench divides the logits by a temperature of {clf.temperature_:.3f}, fitted on the "
            "validation split; plain transformers' scores are the undivided softmax (same predicted labels)."
        )
    return facts


def card_limits(clf) -> list[str]:
    limits = [f"Reviews longer than {clf.max_length} tokens are cut ({clf.truncation})."]
    if clf.pooling == "mean":
        limits.append(
            "Mean pooling has no plain transformers equivalent: the encoder files are in `encoder/` and the "
            "model must be loaded with sentibench (`SentimentClassifier.load`)."
        )
    return limits
