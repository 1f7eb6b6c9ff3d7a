"""The classifiers in a user's own scikit-learn code: labels of any kind, sklearn's
argument names, sample weights, meta-estimators and scikit-learn's own estimator checks.

The checks feed numeric arrays; :class:`TextAdapter` turns each row into a text of
binned-feature words and passes it on, so that the checks test the classifier behind it.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from classifiers import BowSvmClassifier, Word2VecSvmClassifier

from .._helpers import FAST_PARAMS, require, shared_file

CLASSICAL = {"bow": BowSvmClassifier, "w2v": Word2VecSvmClassifier}


class TextAdapter(ClassifierMixin, BaseEstimator):
    """A sentibench classifier seen through numeric rows: row ``[0.3, 2.1]`` becomes the
    text ``"f0b0 f1b4"`` (feature index and half-unit bin). The only checks the adapter
    makes are about that mapping (rows of the width seen in fit), so the estimator
    checks see the classifier's own validation, labels, weights and errors."""

    def __init__(self, estimator=None, random_state=None):
        self.estimator = estimator
        self.random_state = random_state

    def _texts(self, X, *, fitting=False):
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        if fitting:
            self.width_ = X.shape[1]
        elif X.shape[1] != self.width_:
            raise ValueError(f"rows have {X.shape[1]} features, but the adapter was fitted on {self.width_}")
        return [" ".join(f"f{j}b{int(np.floor(v * 2))}" for j, v in enumerate(row)) for row in X]

    def fit(self, X, y, sample_weight=None):
        inner = clone(self.estimator)
        if self.random_state is not None:
            inner.set_params(random_state=self.random_state)
        self.estimator_ = inner.fit(self._texts(X, fitting=True), y, sample_weight=sample_weight)
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        check_is_fitted(self)
        return self.estimator_.predict(self._texts(X))

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.estimator_.predict_proba(self._texts(X))

    def decision_function(self, X):
        check_is_fitted(self)
        return self.estimator_.decision_function(self._texts(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = self.estimator.__sklearn_tags__().classifier_tags.multi_class
        return tags


_TEXT_ONLY = "a text estimator: its input is a list of strings, so"
#: Checks that cannot apply to an estimator over texts, with the reason.
NOT_FOR_TEXT = {
    "check_n_features_in_after_fitting": f"{_TEXT_ONLY} there is no n_features_in_",
    "check_n_features_in": f"{_TEXT_ONLY} there is no n_features_in_",
    "check_estimators_nan_inf": f"{_TEXT_ONLY} NaN and inf do not exist",
    "check_estimator_sparse_tag": f"{_TEXT_ONLY} sparse matrices do not apply",
    "check_estimator_sparse_array": f"{_TEXT_ONLY} sparse matrices do not apply",
    "check_estimator_sparse_matrix": f"{_TEXT_ONLY} sparse matrices do not apply",
    "check_complex_data": f"{_TEXT_ONLY} complex numbers do not apply",
    "check_dtype_object": f"{_TEXT_ONLY} object arrays of numbers are turned into words by the adapter",
    "check_estimators_empty_data_messages": f"{_TEXT_ONLY} a zero-feature row is just an empty text (0 samples is refused)",
    "check_fit1d": f"{_TEXT_ONLY} 1-D input is a list of texts, the normal case, not an error",
    "check_fit2d_predict1d": f"{_TEXT_ONLY} 1-D input is a list of texts, the normal case, not an error",
}
#: Checks that scikit-learn's own LinearSVC and SVC are expected to fail as well.
_SVM_WEIGHTS = ("liblinear/libsvm do not make weight 2 equal to a repeated sample; scikit-learn marks LinearSVC "
                "and SVC expected-to-fail here too")
SVM_LIMITS = {
    "check_sample_weight_equivalence_on_dense_data": _SVM_WEIGHTS,
    "check_sample_weight_equivalence_on_sparse_data": _SVM_WEIGHTS,  # scikit-learn 1.6 runs it on texts' rows too
}


#: The SVMs decide by their decision values, as LinearSVC and SVC do, and give probabilities
#: from a calibration fitted on held-out scores: near a boundary the most probable class can
#: be another (scikit-learn's own SVC(probability=True) documents the same).
SVM_PROBABILITIES = {
    "check_classifiers_train": "predict follows the SVM's decision values; predict_proba is a separate calibration "
                               "(Platt; a multinomial logistic regression on K scores) whose argmax can differ near a boundary",
}


def _expected_failures(estimator):
    return {**NOT_FOR_TEXT, **SVM_LIMITS, **SVM_PROBABILITIES}


# scikit-learn's check_supervised_y_no_nan feeds NaN targets on purpose (and expects an error).
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@parametrize_with_checks(
    [TextAdapter(BowSvmClassifier(min_df=1)), TextAdapter(Word2VecSvmClassifier(min_count=1, w2v_epochs=5))],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# -- labels -------------------------------------------------------------------------------

LABELS = [
    (np.array(["neg", "pos"]), "strings"),
    (np.array([1, 2]), "one and two"),
    (np.array([-1, 1]), "minus one and one"),
    (np.array([False, True]), "booleans"),
]


@pytest.mark.parametrize("name", sorted(CLASSICAL))
@pytest.mark.parametrize("classes, _", LABELS)
def test_any_two_labels_are_classes(name, classes, _, tiny):
    train_x, train_y, test_x, test_y = tiny
    params = {**FAST_PARAMS[name], "random_state": 0}
    plain = CLASSICAL[name](**params).fit(train_x, train_y)
    clf = CLASSICAL[name](**params).fit(train_x, classes[train_y])
    np.testing.assert_array_equal(clf.classes_, classes)
    # The same model as with 0/1, its predictions in the user's labels.
    pred = clf.predict(test_x)
    assert pred.dtype == classes.dtype
    np.testing.assert_array_equal(pred, classes[plain.predict(test_x)])
    # Column k of predict_proba is classes_[k].
    np.testing.assert_allclose(clf.predict_proba(test_x), plain.predict_proba(test_x), atol=1e-6)


def test_labels_keep_their_meaning_when_sorted_the_other_way(tiny):
    train_x, train_y, test_x, test_y = tiny
    # "bad" < "good": the positive reviews get the larger label, as with 0/1.
    words = np.array(["good", "bad"])  # 0 -> good, 1 -> bad: inverted on purpose
    plain = BowSvmClassifier(min_df=1, random_state=0).fit(train_x, train_y)
    inverted = BowSvmClassifier(min_df=1, random_state=0).fit(train_x, words[train_y])
    np.testing.assert_array_equal(inverted.classes_, ["bad", "good"])
    np.testing.assert_array_equal(inverted.predict(test_x), words[plain.predict(test_x)])
    np.testing.assert_allclose(inverted.predict_proba(test_x)[:, ::-1], plain.predict_proba(test_x), atol=1e-4)


@pytest.mark.parametrize("name", sorted(CLASSICAL))
def test_a_third_label_is_a_third_class(name):
    texts = ["good great", "bad awful", "okay fine"] * 6
    clf = CLASSICAL[name](**FAST_PARAMS[name]).fit(texts, ["pos", "neg", "neutral"] * 6)
    np.testing.assert_array_equal(clf.classes_, ["neg", "neutral", "pos"])
    assert clf.predict_proba(["good great"]).shape == (1, 3)
    assert CLASSICAL[name]().__sklearn_tags__().classifier_tags.multi_class is True


def test_validation_labels_must_be_training_classes(tiny):
    train_x, train_y, test_x, _ = tiny
    labels = np.array(["neg", "pos"])
    with pytest.raises(ValueError, match="not among the training classes"):
        BowSvmClassifier(min_df=1).fit(train_x, labels[train_y], validation=(test_x, ["neg", "other"] * 8))


def test_fit_takes_scikit_learn_argument_names(tiny):
    train_x, train_y, test_x, test_y = tiny
    clf = BowSvmClassifier(min_df=1).fit(X=train_x, y=train_y, validation=(test_x, test_y), sample_weight=None)
    assert clf.predict(test_x).shape == (len(test_x),)


def test_saved_model_keeps_string_classes(tiny, tmp_path):
    from classifiers import SentimentClassifier

    train_x, train_y, test_x, _ = tiny
    labels = np.array(["neg", "pos"])
    clf = Word2VecSvmClassifier(**FAST_PARAMS["w2v"]).fit(train_x, labels[train_y])
    loaded = SentimentClassifier.load(clf.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.classes_, ["neg", "pos"])
    np.testing.assert_array_equal(loaded.predict(test_x), clf.predict(test_x))


# -- sample weights -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLASSICAL))
def test_sample_weight_reaches_the_svm(name, tiny):
    train_x, train_y, test_x, _ = tiny
    params = {**FAST_PARAMS[name], "random_state": 0}
    plain = CLASSICAL[name](**params).fit(train_x, train_y)
    # Positive reviews count a fifth: the decision moves towards the negative class.
    weights = np.where(train_y == 1, 0.2, 1.0)
    weighted = CLASSICAL[name](**params).fit(train_x, train_y, sample_weight=weights)
    assert (weighted.decision_function(test_x) < plain.decision_function(test_x)).mean() > 0.8
    assert (weighted.predict(test_x) == 0).sum() > (plain.predict(test_x) == 0).sum()


@pytest.mark.slow
def test_sample_weight_weights_berts_loss(tiny):
    require("bert")
    from classifiers import BertClassifier

    train_x, train_y, _, _ = tiny
    params = {**FAST_PARAMS["bert"], "epochs": 2, "learning_rate": 2e-4, "verbose": False, "inference": "fp32"}
    weights = np.where(train_y == 1, 0.0, 1.0)
    only_negatives = BertClassifier(**params).fit(train_x, train_y, sample_weight=weights)
    both = BertClassifier(**params).fit(train_x, train_y)
    # With zero weight on every positive review, the loss pushes everything negative.
    assert (only_negatives.predict(train_x) == 0).mean() > 0.9
    assert (both.predict(train_x) == train_y).mean() > 0.8


@pytest.mark.parametrize("weights, match", [(np.ones(3), r"shape \(48,\)"), (-np.ones(48), "non-negative")])
def test_bad_sample_weight_is_a_value_error(weights, match, tiny):
    train_x, train_y = tiny[:2]
    with pytest.raises(ValueError, match=match):
        BowSvmClassifier(min_df=1).fit(train_x, train_y, sample_weight=weights)


# -- meta-estimators ----------------------------------------------------------------------


def test_grid_search_with_string_labels(sample):
    labels = np.array(["negative", "positive"])[sample.labels]
    search = GridSearchCV(BowSvmClassifier(min_df=1), {"C": [0.1, 1.0]}, cv=3).fit(sample.texts, labels)
    # The search scored both candidates on string labels, and refitted the better one.
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and search.best_params_["C"] == (0.1, 1.0)[int(np.argmax(scores))]
    assert search.best_estimator_.C == search.best_params_["C"]
    assert set(search.predict(sample.texts[:10])) <= {"negative", "positive"}


@pytest.mark.parametrize("name", sorted(CLASSICAL))
def test_cross_val_score_with_string_labels(name, sample):
    labels = np.array(["neg", "pos"])[sample.labels]
    scores = cross_val_score(CLASSICAL[name](**FAST_PARAMS[name]), sample.texts, labels, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_pipeline_passes_validation_through(tiny):
    train_x, train_y, test_x, test_y = tiny
    pipe = Pipeline([("clf", BowSvmClassifier(min_df=1))])
    pipe.fit(train_x, train_y, clf__validation=(test_x, test_y))
    direct = BowSvmClassifier(min_df=1).fit(train_x, train_y, validation=(test_x, test_y))
    assert pipe.named_steps["clf"].calibration_ == direct.calibration_
    assert pipe.predict(test_x).shape == (len(test_x),)


def test_calibrated_classifier_cv_and_clone(sample):
    calibrated = CalibratedClassifierCV(BowSvmClassifier(min_df=1), cv=3).fit(sample.texts, sample.labels)
    proba = calibrated.predict_proba(sample.texts[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert clone(BowSvmClassifier(C=2.0)).get_params()["C"] == 2.0


@pytest.mark.shared_data
def test_string_labels_on_real_reviews_in_cross_validation():
    import pandas as pd

    frame = pd.read_csv(shared_file("yelp_sentences.csv")).sample(1500, random_state=0)
    labels = np.where(frame["label"] == 1, "pos", "neg")
    scores = cross_val_score(BowSvmClassifier(), frame["text"].tolist(), labels, cv=3)
    assert scores.mean() > 0.85


def test_labels_of_mixed_types_are_refused_not_merged(tiny):
    train_x, train_y = tiny[:2]
    mixed = [1 if v else "1" for v in train_y]  # np.asarray made both the string '1'
    with pytest.raises(ValueError, match="mixes label types"):
        BowSvmClassifier(min_df=1).fit(train_x, mixed)


@pytest.mark.parametrize("cls", [BowSvmClassifier, Word2VecSvmClassifier])
def test_an_empty_validation_split_is_as_if_none_was_given(cls, tiny):
    train_x, train_y, test_x, _ = tiny
    params = {"min_df": 1, "random_state": 0} if cls is BowSvmClassifier else FAST_PARAMS["w2v"]
    with_empty = cls(**params).fit(train_x, train_y, validation=([], []))  # crashed in the scaler or TF-IDF before
    if cls is BowSvmClassifier:  # deterministic: the very same model (Word2Vec's threads are not)
        without = cls(**params).fit(train_x, train_y)
        np.testing.assert_allclose(with_empty.predict_proba(test_x), without.predict_proba(test_x))
    assert with_empty.predict(test_x).shape == (len(test_x),)


@pytest.mark.parametrize("pattern, needle", [("(", "must be a regular expression"), (r"(a)(b)", "at most one capturing group")])
def test_a_bad_token_pattern_is_a_parameter_error(pattern, needle, tiny):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=needle):
        BowSvmClassifier(min_df=1, token_pattern=pattern).fit(tiny[0], tiny[1])


def test_too_few_reviews_of_a_class_to_calibrate_is_a_data_error():
    from dataset import DataError

    with pytest.raises(DataError, match="2 training reviews of each class"):
        BowSvmClassifier(min_df=1).fit(["good", "bad", "nice"], [1, 0, 1])


class _ArrayOnly:
    """Labels that convert to an array but cannot be iterated (scikit-learn's _NotAnArray)."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)


def test_labels_that_only_convert_to_an_array_are_accepted(tiny):
    train_x, train_y = tiny[:2]
    clf = BowSvmClassifier(min_df=1, random_state=0).fit(train_x, _ArrayOnly(train_y))
    assert clf.classes_.tolist() == [0, 1]


def test_class_weight_takes_balanced_or_none(tiny):
    """A dict would be keyed by sentibench's internal 0/1 codes, not the user's labels."""
    from sklearn.utils._param_validation import InvalidParameterError

    labels = np.array(["neg", "pos"])[tiny[1]]
    with pytest.raises(InvalidParameterError, match="class_weight"):
        BowSvmClassifier(min_df=1, class_weight={"neg": 2.0}).fit(tiny[0], labels)
    assert BowSvmClassifier(min_df=1, class_weight="balanced").fit(tiny[0], labels).classes_.tolist() == ["neg", "pos"]
