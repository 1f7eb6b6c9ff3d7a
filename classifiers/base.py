"""The interface every sentibench classifier implements.

A classifier is a scikit-learn estimator over raw review texts: hyperparameters go in
``__init__`` (no logic there), ``fit(X, y, validation=None, sample_weight=None)`` learns
attributes ending in ``_`` and returns ``self``, and ``predict``/``predict_proba``/
``decision_function`` take a list, numpy array or pandas Series of ``str``. Labels are
any K >= 2 distinct values (``0``/``1``, ``"neg"``/``"neutral"``/``"pos"``, star ratings
1 to 5, booleans); ``classes_`` holds them sorted. As in scikit-learn,
``decision_function`` is of shape (n,) for two classes (positive values predict
``classes_[1]``) and (n, K) above; ``predict_proba`` is (n, K) in ``classes_`` order.

Saved models are folders with a ``sentibench.json`` metadata file next to the
classifier's own files, written in formats that do not execute code when loaded.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from dataset import atomic_write_text, temp_folder_beside

from ._card import render_card
from ._inputs import check_sample_weight, check_texts, decision_to_codes, encode_labels
from ._persist import FORMAT_VERSION, METADATA_FILE, ModelFileError, params_from_json, params_to_json, read_metadata, write_metadata
from ._search import Scorer, SearchBudget, Trials, accuracy, defaults_first

__all__ = ["ModelFileError", "SentimentClassifier", "check_texts", "decision_to_codes", "encode_labels"]


class SentimentClassifier(ClassifierMixin, BaseEstimator):
    """Base class of sentibench's sentiment classifiers (two classes or more).

    Subclasses set ``name`` and ``_parameter_constraints`` and implement ``_fit``,
    ``_decision_function``, ``_predict_proba``, ``_save_files`` and ``_load_files``;
    they see labels as positions (0 to K - 1) in ``classes_``. Everything a user calls (input
    and label checks, ``predict``, ``save``/``load``) lives here, once.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted.
    fit_time_s_ : float
        Wall-clock seconds of the last ``fit``.
    """

    #: Short name used by the registry and the command line.
    name: ClassVar[str] = ""
    #: Files ``_save_files`` writes, checked by ``load`` so that a broken folder fails early.
    model_files: ClassVar[tuple[str, ...]] = ()
    #: Trains data-parallel when launched with ``torchrun``/``accelerate launch``.
    supports_distributed: ClassVar[bool] = False
    #: Has a ``checkpoint_dir`` hyperparameter: an interrupted fit continues from it.
    supports_checkpoints: ClassVar[bool] = False
    #: Name of the hyperparameter that switches the classifier's own progress bars, if any.
    progress_param: ClassVar[str | None] = None
    #: Name of the hyperparameter that sets how many threads the classifier starts itself, if
    #: any (its native libraries' pools are capped from outside); ``--jobs`` caps it too.
    threads_param: ClassVar[str | None] = None
    #: Labels many reviews in one call far faster per review than one at a time (a neural
    #: encoder): ``serve`` gathers the requests that arrive within a few ms into one batch.
    batches_well: ClassVar[bool] = False
    #: scikit-learn's declarative hyperparameter checks, run at the start of ``fit``.
    _parameter_constraints: ClassVar[dict] = {}
    #: Hyperparameter -> values that ``run --tune`` tries (README lists them); empty: not tuned.
    search_space: ClassVar[dict[str, list]] = {}

    # -- public API -------------------------------------------------------------------

    def fit(self, X, y, validation=None, sample_weight=None):
        """Fit the classifier.

        Parameters
        ----------
        X : list, numpy array or pandas Series of str of shape (n_samples,)
            Training reviews.
        y : array-like of shape (n_samples,)
            Two or more distinct labels (e.g. 0/1, "neg"/"neutral"/"pos", 1 to 5 stars).
        validation : tuple (texts, labels), optional
            Held-out data: used for probability calibration and, for BERT, model
            selection and early stopping. Never used as training data.
        sample_weight : array-like of shape (n_samples,), optional
            Per-review weights of the training loss.

        Returns
        -------
        self
        """
        self._validate_params()
        texts = check_texts(X)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        classes, codes = encode_labels(y, len(texts))
        weights = check_sample_weight(sample_weight, len(texts))
        if validation is not None:
            try:
                val_texts, val_labels = validation
            except (TypeError, ValueError):
                raise TypeError("validation must be a (texts, labels) tuple or None") from None
            val_texts = check_texts(val_texts, argument="validation texts")
            _, val_codes = encode_labels(val_labels, len(val_texts), classes=classes)
            validation = (val_texts, val_codes) if val_texts else None  # empty: as if none was given
        self.classes_ = classes
        start = time.perf_counter()
        self._fit(texts, codes, validation, weights)
        self.fit_time_s_ = time.perf_counter() - start
        return self

    def decision_function(self, X) -> np.ndarray:
        """Confidence scores, as scikit-learn's classifiers give them.

        Returns
        -------
        ndarray of shape (n_samples,) for two classes, (n_samples, n_classes) above
            With two classes, positive values predict ``classes_[1]``; above, the largest
            column is the predicted class.
        """
        self._check_fitted()
        texts = check_texts(X)
        if not texts:
            return np.zeros(0) if len(self.classes_) == 2 else np.zeros((0, len(self.classes_)))
        return np.asarray(self._decision_function(texts), dtype=np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to 1.
        """
        self._check_fitted()
        texts = check_texts(X)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return np.asarray(self._predict_proba(texts), dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        """Predicted labels.

        Returns
        -------
        ndarray of shape (n_samples,)
            Values of ``classes_``: where ``decision_function`` is positive (two classes) or largest.
        """
        codes = decision_to_codes(self.decision_function(X))  # checks that it is fitted first
        return self.classes_[codes]

    def predict_with_proba(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``predict(X)`` and ``predict_proba(X)`` at once, from one pass over the reviews
        where the classifier can share it (BERT and embed encode each review once).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            As :meth:`predict` gives them.
        proba : ndarray of shape (n_samples, n_classes)
            As :meth:`predict_proba` gives them.
        """
        self._check_fitted()
        texts = check_texts(X)
        if not texts:
            return self.classes_[:0], np.zeros((0, len(self.classes_)))
        decision, proba = self._decision_and_proba(texts)
        return self.classes_[decision_to_codes(decision)], np.asarray(proba, dtype=np.float64)

    def _check_fitted(self) -> None:
        """scikit-learn's ``check_is_fitted``, without rebuilding the estimator tags on every
        call (a large share of a single review's prediction time)."""
        if "classes_" not in self.__dict__:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments "
                "before using this estimator."
            )

    def __sklearn_is_fitted__(self) -> bool:
        return "classes_" in self.__dict__

    def extra_record(self, test=None) -> dict:
        """Classifier-specific entries for the benchmark's record of this fit.

        Parameters
        ----------
        test : tuple (texts, labels, predictions), optional
            The test split and this classifier's predictions on it, for entries that
            measure something on it.

        Returns
        -------
        dict
            JSON-serialisable entries (e.g. ``fit_info``, ``history``, ``top_terms``);
            empty by default.
        """
        return {}

    def request_latency(self) -> dict | None:
        """``latency_p50_ms``, ``latency_p95_ms`` and ``latency_mean_ms`` of the requests this
        classifier sent, when its single-review calls do not show what a review costs (an
        endpoint's cached answers); ``None``: the timed calls do."""
        return None

    def check_params(self) -> None:
        """Check the hyperparameters as ``fit`` does first, without fitting.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            A ``ValueError`` naming the parameter and what it accepts.
        """
        self._validate_params()

    @classmethod
    def checked_params(cls, params: dict, *, trusted_files: frozenset[str] = frozenset()) -> dict:
        """Hyperparameters from the command line, a config file or a run folder, made safe to set.

        A classifier whose hyperparameters can name files overrides this: a file that loading
        could run code from, or whose content would end up in the model, is accepted only
        when the user named it on the command line (``trusted_files``). Default: unchanged.
        """
        return params

    def search(self, train, validation, budget: SearchBudget, score: Scorer = accuracy) -> list[dict]:
        """Try values of :attr:`search_space` on the validation split (``run --tune``).

        This classifier's own hyperparameters come first. By default each candidate is one
        fit of a clone; classifiers override this to share what does not change between
        trials (a vectorizer, word vectors, an encoder pass).

        Parameters
        ----------
        train, validation : tuple (texts, labels)
            The only data a search sees.
        budget : SearchBudget
            When to stop trying.
        score : callable
            ``score(y_true, y_pred)``, higher is better.

        Returns
        -------
        list of dict
            One per trial, in order: ``params``, ``val_score``, ``seconds``.
        """
        from sklearn.base import clone
        from sklearn.model_selection import ParameterGrid

        defaults = {k: self.get_params()[k] for k in self.search_space}
        candidates = defaults_first(defaults, ParameterGrid(self.search_space))
        trials = Trials(self.name, budget, len(candidates))
        for params in candidates:
            if not trials.allows_another():
                break
            start = time.perf_counter()
            fitted = clone(self).set_params(**params, **self._trial_settings()).fit(*train, validation=validation)
            trials.add(params, fitted._validation_score(validation, score), time.perf_counter() - start)
        return trials.records

    def _trial_settings(self) -> dict:
        """Hyperparameters every trial of :meth:`search` sets (what only the final fit needs is off)."""
        return {}

    def _validation_score(self, validation, score: Scorer) -> float:
        """This fitted classifier's validation score in a :meth:`search`."""
        return score(np.asarray(validation[1]), self.predict(validation[0]))

    def save(self, path, *, card: dict | None = None) -> Path:
        """Save the fitted classifier into the folder ``path`` (created or replaced).

        The folder is written next to its final place and renamed into it at the end,
        so an interrupted save never leaves a half-written model behind. It holds a
        model card (``README.md``).

        Parameters
        ----------
        path : str or path
        card : dict, optional
            Facts for the model card that the classifier cannot know (data source,
            split manifest, test metrics; see ``classifiers._card.CONTEXT_KEYS``).
        """
        check_is_fitted(self)
        path = Path(path).expanduser()
        if not can_save_to(path):
            raise FileExistsError(f"{path} exists and is not a saved sentibench model; refusing to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_folder_beside(path)
        try:
            self._save_files(tmp, card or {})
            atomic_write_text(tmp / "README.md", self._model_card(card or {}))
            write_metadata(tmp, {
                "sentibench_format": FORMAT_VERSION,
                "classifier": self.name,
                "class": type(self).__name__,
                "classes": self.classes_.tolist(),
                "params": params_to_json(self.get_params(deep=False)),
            })
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                path.rename(old)
                try:
                    tmp.rename(path)
                except BaseException:
                    old.rename(path)  # the earlier model stays where it was
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path) -> SentimentClassifier:
        """Load a classifier saved with :meth:`save`.

        ``SentimentClassifier.load`` returns whichever classifier the folder holds;
        ``BowSvmClassifier.load`` (say) also checks that it holds that kind. Nothing
        in the folder is executed.

        Raises
        ------
        ModelFileError
            If the folder is missing, incomplete, damaged, from another sentibench
            format version, or holds a different classifier than asked for.
        """
        from ._registry import REGISTRY

        path = Path(path).expanduser()
        meta = read_metadata(path)
        target = REGISTRY.class_of_saved(meta, path)
        if cls is not SentimentClassifier and not issubclass(target, cls):
            raise ModelFileError(f"{path} holds a {target.__name__}, not a {cls.__name__}")
        missing = [f for f in target.model_files if not (path / f).exists()]
        if missing:
            raise ModelFileError(f"{path} is incomplete: missing {', '.join(missing)}")
        try:
            est = target(**params_from_json(target, meta["params"], strict=True))
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"{path / 'sentibench.json'} has a parameter {target.__name__} does not take ({exc})") from None
        est.classes_ = np.asarray(meta["classes"])
        est._load_files(path)
        return est

    # -- model card (override to add facts) ---------------------------------------------

    def _model_card(self, context: dict) -> str:
        return render_card(self, context)

    def _card_facts(self) -> list[str]:
        """Lines about how this model was trained, for the model card."""
        return []

    def _card_limits(self) -> list[str]:
        """Limits specific to this kind of model, for the model card."""
        return []

    # -- to implement -------------------------------------------------------------------

    def _fit(self, texts: list[str], y: np.ndarray, validation, sample_weight) -> None:
        raise NotImplementedError

    def _decision_function(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _decision_and_proba(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Decision values and probabilities of ``texts``; override to compute both in one pass."""
        return np.asarray(self._decision_function(texts), dtype=np.float64), self._predict_proba(texts)

    def _save_files(self, folder: Path, context: dict) -> None:
        """Write the fitted state into ``folder``; ``context`` is the model card's (class names...)."""
        raise NotImplementedError

    def _load_files(self, folder: Path) -> None:
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.classifier_tags.multi_class = True
        return tags


def can_save_to(path) -> bool:
    """Whether :meth:`SentimentClassifier.save` may write ``path``: nothing there yet, an
    empty folder or one that holds a saved model (never a user's folder of other files,
    nor a file)."""
    path = Path(path)
    return not path.exists() or path.is_dir() and (not any(path.iterdir()) or (path / METADATA_FILE).is_file())
