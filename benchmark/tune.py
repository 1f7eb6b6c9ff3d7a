"""``run --tune``: each classifier's main hyperparameters searched on the validation split.

Trials fit on the training part and are scored (accuracy) on the validation part only:
these functions never receive the test split, which is used once, after the choice, by
the final fit in :func:`~benchmark.measure.run_one`. The candidates are scikit-learn
``ParameterGrid``s; the classical models re-use what does not change between trials
(TF-IDF is fitted once per vectorizer setting, word vectors once per Word2Vec setting),
and every search stops when its time budget would be exceeded. The default
hyperparameters are always tried first, so tuning never returns something that scores
worse on validation than the defaults.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from sklearn.svm import LinearSVC

from dataset import DataError

logger = logging.getLogger(__name__)

#: The searched values (documented in the README). Word2Vec's gamma is a multiple of
#: scikit-learn's "scale" value, 1 / (n_features * X.var()).
SPACES = {
    "bow": {
        "vectorizer": {"ngram_range": [(1, 1), (1, 2), (1, 3)], "min_df": [1, 2, 3], "sublinear_tf": [True, False]},
        "model": {"C": [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0]},
    },
    "w2v": {
        "vectorizer": {"vector_size": [100, 200], "w2v_epochs": [10, 20]},
        "model": {"C": [1.0, 4.0, 16.0], "gamma_factor": [0.5, 1.0, 2.0]},
    },
    "bert": {"model": {"learning_rate": [2e-5, 3e-5, 5e-5, 1e-4], "epochs": [4]}},
    "embed": {"model": {"C": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]}},
}


class _Budget:
    def __init__(self, seconds: float):
        self.seconds, self.start, self.durations, self.stopped = seconds, time.perf_counter(), [], False

    def allows_another(self) -> bool:
        """Whether one more trial (as long as the mean so far) still fits; remembers a no."""
        spent = time.perf_counter() - self.start
        mean = np.mean(self.durations) if self.durations else 0.0
        self.stopped = self.stopped or spent + mean > self.seconds
        return not self.stopped


def _accuracy(pred, y) -> float:
    return float((np.asarray(pred) == np.asarray(y)).mean())


def tune(name: str, prototype, train, validation, budget_s: float) -> tuple[dict, dict]:
    """Search ``prototype``'s hyperparameters; returns (chosen params, tuning record).

    Parameters
    ----------
    name : str
        Registry name (picks the search space and the re-use strategy).
    prototype : SentimentClassifier
        The classifier with the run's hyperparameters (the defaults of the search).
    train, validation : (texts, labels)
        The only data a search sees.
    budget_s : float
        Seconds the search may take.
    """
    space = SPACES.get(name)
    if space is None:
        return {}, {"skipped": f"no search space for {name}"}
    budget = _Budget(budget_s)
    searcher = {"bow": _bow_trials, "w2v": _w2v_trials, "embed": _embed_trials}.get(name, _generic_trials)
    trials = searcher(prototype, space, train, validation, budget)
    if not trials:
        raise DataError(f"{name}: no candidate of the search could be fitted on this training split")
    # The defaults come first unless they could not be fitted (e.g. min_df on tiny data).
    defaults = _trial(prototype.get_params(deep=False), 0.0, 0.0)["params"]
    default = next((t for t in trials if all(defaults.get(k) == v for k, v in t["params"].items())), None)
    best = max(trials, key=lambda t: (t["val_accuracy"], -trials.index(t)))
    record = {
        "space": {part: {k: [list(v) if isinstance(v, tuple) else v for v in values] for k, values in grid.items()}
                  for part, grid in space.items()},
        "trials": trials,
        "chosen": best["params"],
        "default_val_accuracy": None if default is None else default["val_accuracy"],
        "tuned_val_accuracy": best["val_accuracy"],
        "tuning_time_s": time.perf_counter() - budget.start,
        "budget_s": budget_s,
        "complete": not budget.stopped,  # every candidate tried (else stopped by the budget)
    }
    logger.info("%s tuned: validation accuracy %.4f (defaults %s) with %s; %d trials in %.0f s",
                name, best["val_accuracy"], "not fitted" if default is None else f"{default['val_accuracy']:.4f}",
                best["params"], len(trials), record["tuning_time_s"])
    return dict(best["params"]), record


def _trial(params: dict, accuracy: float, seconds: float) -> dict:
    return {"params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
            "val_accuracy": accuracy, "seconds": seconds}


def _progress(prototype, trials: list[dict], total: int) -> None:
    """A log line per trial that took a second or more (a search can run for minutes)."""
    last = trials[-1]
    logger.log(logging.INFO if last["seconds"] >= 1 else logging.DEBUG,
               "%s: trial %d of %d: validation accuracy %.4f in %.1f s (best so far %.4f)", prototype.name, len(trials),
               total, last["val_accuracy"], last["seconds"], max(t["val_accuracy"] for t in trials))


def _embed_trials(prototype, space, train, validation, budget) -> list[dict]:
    """The frozen encoder runs once over the training and validation texts (fp32, as the
    classifier trains); a logistic regression per C, fitted as ``EmbeddingLogRegClassifier``
    fits it."""
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    clf = clone(prototype)
    clf._load_encoder()
    X, X_val = clf._embed(list(train[0]), "fp32"), clf._embed(list(validation[0]), "fp32")
    classes, y01 = np.unique(np.asarray(train[1]), return_inverse=True)
    prep = time.perf_counter() - start
    base = prototype.get_params()
    Cs = [base["C"]] + [c for c in space["model"]["C"] if c != base["C"]]
    trials = []
    for C in Cs:
        if trials and not budget.allows_another():
            break
        t0 = time.perf_counter()
        logreg = LogisticRegression(C=C, class_weight=base["class_weight"], random_state=base["random_state"], max_iter=1000)
        pred = classes[logreg.fit(X, y01).predict(X_val)]
        seconds = time.perf_counter() - t0 + prep / len(Cs)
        budget.durations.append(seconds)
        trials.append(_trial({"C": C}, _accuracy(pred, validation[1]), seconds))
        _progress(prototype, trials, len(Cs))
    return trials


def _generic_trials(prototype, space, train, validation, budget) -> list[dict]:
    """One fit per candidate of the single grid (BERT); early stopping inside a
    BERT fit picks its best epoch on the same validation split."""
    trials = []
    defaults = {k: prototype.get_params()[k] for k in space["model"]}
    candidates = [defaults] + [p for p in ParameterGrid(space["model"]) if p != defaults]
    # Trials need only the validation score; and never the run's checkpoint folder (a
    # trial's epochs must not be resumed by another trial or by the final fit).
    fast = {k: v for k, v in {"inference": "fp32", "temperature_scaling": False, "verbose": False,
                              "checkpoint_dir": None}.items() if k in prototype.get_params()}
    for params in candidates:
        if trials and not budget.allows_another():
            break
        start = time.perf_counter()
        clf = clone(prototype).set_params(**params, **fast)
        clf.fit(*train, validation=validation)
        history = getattr(clf, "history_", None)
        accuracy = (max(h["val_accuracy"] for h in history) if history and history[0]["val_accuracy"] is not None
                    else _accuracy(clf.predict(validation[0]), validation[1]))
        budget.durations.append(time.perf_counter() - start)
        trials.append(_trial(params, accuracy, budget.durations[-1]))
        _progress(prototype, trials, len(candidates))
    return trials


def _bow_trials(prototype, space, train, validation, budget) -> list[dict]:
    """TF-IDF fitted once per vectorizer setting; a LinearSVC per C on top. Predictions
    are the sign of the SVM's decision function, as in ``BowSvmClassifier.predict``."""
    trials = []
    base = prototype.get_params()
    settings = list(ParameterGrid(space["vectorizer"]))
    defaults = {k: tuple(base[k]) if k == "ngram_range" else base[k] for k in space["vectorizer"]}
    settings = [defaults] + [s for s in settings if s != defaults]
    y = np.asarray(train[1])
    classes, y01 = np.unique(y, return_inverse=True)
    for setting in settings:
        start = time.perf_counter()
        vectorizer = clone(prototype).set_params(**setting)._make_vectorizer()
        try:
            X = vectorizer.fit_transform(train[0])
        except ValueError:
            continue  # min_df leaves no term on tiny data: not a candidate
        X_val = vectorizer.transform(validation[0])
        prep = time.perf_counter() - start
        Cs = [base["C"]] + [c for c in space["model"]["C"] if c != base["C"]]
        for C in Cs:
            if trials and not budget.allows_another():
                return trials
            t0 = time.perf_counter()
            svm = LinearSVC(C=C, class_weight=base["class_weight"], random_state=base["random_state"]).fit(X, y01)
            pred = classes[(svm.decision_function(X_val) > 0).astype(int)]
            seconds = time.perf_counter() - t0 + prep / len(Cs)
            budget.durations.append(seconds)
            trials.append(_trial({**setting, "C": C}, _accuracy(pred, validation[1]), seconds))
            _progress(prototype, trials, len(settings) * len(Cs))
    return trials


def _w2v_trials(prototype, space, train, validation, budget) -> list[dict]:
    """Word vectors trained (and reviews embedded) once per Word2Vec setting; an RBF SVM
    per (C, gamma) on top, fitted exactly as ``Word2VecSvmClassifier`` fits it."""
    from sklearn.preprocessing import StandardScaler

    from classifiers import tokenize

    trials = []
    base = prototype.get_params()
    settings = list(ParameterGrid(space["vectorizer"]))
    defaults = {k: base[k] for k in space["vectorizer"]}
    settings = [defaults] + [s for s in settings if s != defaults]
    y = np.asarray(train[1])
    classes, y01 = np.unique(y, return_inverse=True)
    sentences = [tokenize(t) for t in train[0]]
    for setting in settings:
        start = time.perf_counter()
        if prototype.vectors is not None:  # pretrained vectors: no Word2Vec setting to tune
            setting = {}
        clf = clone(prototype).set_params(**setting)
        clf.wv_ = clf._word_vectors(sentences)
        scaler = StandardScaler().fit(clf._embed(train[0])[0])
        X = scaler.transform(clf._embed(train[0])[0])
        X_val = scaler.transform(clf._embed(validation[0])[0])
        scale = 1.0 / (X.shape[1] * X.var()) if X.var() > 0 else 1.0
        prep = time.perf_counter() - start
        # The run's own C and gamma first (gamma factor 1 keeps its gamma), even off the grid.
        default = {"C": base["C"], "gamma_factor": 1.0}
        grid = [default] + [g for g in ParameterGrid(space["model"]) if g != default]
        for g in grid:
            if trials and not budget.allows_another():
                return trials
            t0 = time.perf_counter()
            gamma = base["gamma"] if g["gamma_factor"] == 1.0 else float(g["gamma_factor"] * scale)
            candidate = clone(clf).set_params(C=g["C"], gamma=gamma)
            svm = candidate._fit_svm(X, y01, None)[0]
            pred = classes[(svm.decision_function(X_val) > 0).astype(int)]
            seconds = time.perf_counter() - t0 + prep / len(grid)
            budget.durations.append(seconds)
            trials.append(_trial({**setting, "C": g["C"], "gamma": gamma}, _accuracy(pred, validation[1]), seconds))
            _progress(prototype, trials, len(settings) * len(grid) if setting else len(grid))
        if not setting:
            break
    return trials
