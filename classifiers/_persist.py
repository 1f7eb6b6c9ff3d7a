"""Saved model folders: metadata, hyperparameters as JSON, and skops files.

Nothing here executes code from a file: metadata is plain JSON checked field by field,
scikit-learn objects go through skops with a type allowlist, and every malformed file
becomes a one-line :class:`ModelFileError`.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import sys
import zipfile
from contextlib import contextmanager
from numbers import Real
from pathlib import Path

import numpy as np

from dataset import SentibenchError, atomic_write_bytes, json_text

from ._skops_limits import Refused, check_archive

logger = logging.getLogger(__name__)

#: Version of the on-disk model folder layout; a folder with another version is refused.
FORMAT_VERSION = 2
METADATA_FILE = "sentibench.json"
#: More classes than this in a saved folder is damage (or a hostile file), not a model.
MAX_SAVED_CLASSES = 1000


class ModelFileError(SentibenchError, ValueError):
    """A saved model folder is missing, incomplete, damaged or from an incompatible version."""


@contextmanager
def state_file(path: Path):
    """Around reading a classifier's JSON state file and taking its fields apart: a file that
    cannot be read or parsed, or lacks a field, is one ``ModelFileError`` naming it."""
    try:
        yield
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelFileError(f"{path} is damaged ({type(exc).__name__}: {exc}); save the model again") from None


def params_to_json(params: dict) -> dict:
    """Hyperparameters as JSON values: tuples become lists, paths strings, numpy scalars Python."""
    out = {}
    for key, value in params.items():
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, np.generic):
            value = value.item()
        elif not isinstance(value, (str, int, float, bool, list, dict, type(None))):
            value = f"<{type(value).__name__}>"  # an object passed in code (e.g. loaded word vectors)
        out[key] = value
    return out


def params_from_json(cls, params: dict, *, strict: bool = False) -> dict:
    """Undo :func:`params_to_json`: lists go back to tuples where the default is a tuple.

    Unknown names are dropped with a warning, or raise ``KeyError`` with ``strict``.
    """
    signature = inspect.signature(cls.__init__).parameters
    out = {}
    for key, value in params.items():
        if key not in signature or key == "self":
            if strict:
                raise KeyError(key)
            logger.warning("ignoring unknown saved parameter %s=%r", key, value)
            continue
        if isinstance(signature[key].default, tuple) and isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out


def write_metadata(folder: Path, meta: dict) -> None:
    atomic_write_bytes(folder / METADATA_FILE, json_text(meta, indent=2, what=METADATA_FILE).encode("utf-8"))


def read_metadata(folder: Path) -> dict:
    """The checked metadata of a saved model folder.

    Returns
    -------
    dict
        ``classifier`` (str), ``params`` (dict) and ``classes`` (list of two or more labels).
    """
    meta_path = Path(folder) / METADATA_FILE
    if not meta_path.is_file():
        raise ModelFileError(f"{folder} is not a saved sentibench model (no {METADATA_FILE})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{meta_path} is not valid sentibench metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{meta_path} is not valid sentibench metadata (not a JSON object)")
    version = meta.get("sentibench_format")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{folder} was saved in model format {version!r}; this sentibench reads format "
            f"{FORMAT_VERSION}: retrain it or use the sentibench version that saved it"
        )
    problems = []
    if not isinstance(meta.get("classifier"), str):
        problems.append("'classifier' must be a string")
    if not isinstance(meta.get("params"), dict):
        problems.append("'params' must be an object")
    classes = meta.get("classes")
    if not (
        isinstance(classes, list) and 2 <= len(classes) <= MAX_SAVED_CLASSES
        and all(isinstance(c, (str, Real)) for c in classes) and len(set(classes)) == len(classes)
    ):
        problems.append(f"'classes' must be a list of 2 to {MAX_SAVED_CLASSES} different labels")
    if problems:
        raise ModelFileError(f"{meta_path} is not valid sentibench metadata: {'; '.join(problems)}")
    return meta


def _skops_io():
    """``skops.io``, imported without importing torch.

    skops lists its trusted types with scikit-learn's ``all_estimators()``, whose
    ``pkgutil.walk_packages`` imports every sub-package of sklearn, including
    ``sklearn.externals.array_api_compat.torch`` and so torch itself: a second of start-up
    for the classical models, which need no torch. A ``None`` entry in ``sys.modules``
    makes that one import fail, which ``walk_packages`` ignores; it is removed right after,
    so scikit-learn's array-API support still finds torch later if anything asks for it.
    """
    name = "sklearn.externals.array_api_compat.torch"
    block = "skops.io" not in sys.modules and "torch" not in sys.modules and name not in sys.modules
    if block:
        sys.modules[name] = None
    try:
        import skops.io as sio
    finally:
        if block and sys.modules.get(name, 0) is None:
            del sys.modules[name]
    return sio


class UntrustedTypes(Exception):
    """Objects that a file could only hold by trusting types beyond skops' safe defaults."""


def skops_dump(obj, path: Path, allowed: frozenset[str] | None = None) -> None:
    """Save scikit-learn objects with skops, a format that does not run code on load.

    With ``allowed``, refuse (:class:`UntrustedTypes` naming them) when the objects hold types
    outside skops' defaults and ``allowed``: a file :func:`skops_load` would refuse.
    """
    sio = _skops_io()
    data = sio.dumps(obj)
    if allowed is not None:
        untrusted = sorted(set(sio.get_untrusted_types(data=data)) - allowed)
        if untrusted:
            raise UntrustedTypes(", ".join(untrusted))
    atomic_write_bytes(path, data)


def skops_load(path: Path, allowed: frozenset[str]):
    """Load a skops file, refusing any type outside ``allowed`` and skops' own defaults.

    skops reports the types it would have to trust beyond its safe defaults; loading a
    file that asks for anything else (a file we did not write) raises ModelFileError, as
    does a damaged file.
    """
    sio = _skops_io()
    try:
        data = Path(path).read_bytes()
        # skops reads members and recurses while it lists the types: the limits come first.
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            check_archive(zf, len(data))
        untrusted = sio.get_untrusted_types(data=data)
        refused = sorted(set(untrusted) - allowed)
        if refused:
            raise ModelFileError(f"{path} asks to load untrusted types {refused}; refusing (not written by sentibench?)")
        return sio.loads(data, trusted=untrusted)
    except ModelFileError:
        raise
    except Refused as exc:
        raise ModelFileError(f"refusing {path} before loading it: {exc}; sentibench never writes such a file") from None
    except RecursionError:  # a last resort: the depth check above sees every nesting skops recurses on
        raise ModelFileError(f"refusing {path}: it nests too deep to load; sentibench never writes such a file") from None
    except (OSError, zipfile.BadZipFile, ValueError, KeyError, TypeError, AttributeError, EOFError) as exc:
        raise ModelFileError(f"{path} is damaged or not a skops file ({type(exc).__name__}: {exc}); save the model again") from None


#: Types a hyperparameter may hold after loading: a dtype (``dtype=np.float64``). Any other
#: type in a hyperparameter (an ``analyzer`` that is ``builtins.type``, say) is a hostile
#: file's way to make ``predict`` call something no fit ever set.
_DTYPE_TYPES = (np.generic, bool, int, float, complex)


def check_estimator(estimator, where) -> None:
    """Refuse a loaded scikit-learn estimator (nested ones included) whose hyperparameters
    no fit could have set: values outside its own constraints, or a type anywhere but as
    a numeric ``dtype``.

    Raises
    ------
    ModelFileError
        Naming ``where`` (the file), the estimator and the parameter.
    """
    from sklearn.base import BaseEstimator

    if not isinstance(estimator, BaseEstimator):
        raise ModelFileError(f"{where} holds a {type(estimator).__name__} where a scikit-learn estimator belongs")
    try:
        params = estimator.get_params(deep=True)
        for key, value in params.items():
            if isinstance(value, type) and not (key.split("__")[-1] == "dtype" and issubclass(value, _DTYPE_TYPES)):
                raise ModelFileError(
                    f"{where} holds a {type(estimator).__name__} whose {key} is the type {value.__module__}.{value.__qualname__}; "
                    "no fitted model holds that (damaged, or not written by sentibench)"
                )
        for est in [estimator, *(v for v in params.values() if isinstance(v, BaseEstimator))]:
            if hasattr(est, "_validate_params") and hasattr(est, "_parameter_constraints"):
                est._validate_params()
    except ModelFileError:
        raise
    except (AttributeError, TypeError, ValueError) as exc:  # InvalidParameterError is a ValueError
        detail = " ".join(str(exc).split())[:300]
        raise ModelFileError(f"{where} holds a {type(estimator).__name__} with invalid hyperparameters ({detail})") from None


#: The review a loaded classifier must be able to score before ``load`` returns it.
#: The review a loaded model must score before it is accepted.
PROBE_REVIEW = "A probe review: the food was good."


def check_predicts(clf, where) -> None:
    """Refuse a classifier loaded from a file unless it scores one review, so that a state
    no fit could produce fails at ``load``, in one line, never later inside ``predict``."""
    try:
        clf.decision_function([PROBE_REVIEW])
        clf.predict_proba([PROBE_REVIEW])
    except ModelFileError:
        raise
    except SentibenchError as exc:  # e.g. a wrapped estimator's scores of the wrong shape
        raise ModelFileError(f"{where} holds a model that cannot score a review as saved ({exc})") from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ModelFileError(
            f"{where} holds a state that cannot score a review ({type(exc).__name__}: {detail}); save the model again"
        ) from None
