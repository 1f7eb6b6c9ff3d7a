"""A fair fight: tuning on validation only, the user's own classifiers in the ring, and
significance across splits."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from benchmark.__main__ import main
from classifiers import BowSvmClassifier, SentimentClassifier

from .._helpers import FAST, one_line_error, run_main, run_predictions

PLUGINS = textwrap.dedent('''
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import ComplementNB
    from sklearn.pipeline import make_pipeline

    from classifiers import BowSvmClassifier


    def naive_bayes():
        return make_pipeline(TfidfVectorizer(sublinear_tf=True), ComplementNB())


    class Unigrams(BowSvmClassifier):
        name = "unigrams"

        def __init__(self, *, C=0.5, ngram_range=(1, 1), min_df=1, random_state=None):
            super().__init__(C=C, ngram_range=ngram_range, min_df=min_df, random_state=random_state)
''')


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    (tmp_path / "myplugins.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_users_own_classifiers_are_measured_like_the_built_in_ones(plugins, tmp_path, capsys):
    out = tmp_path / "runs"
    names = "bow,myplugins:naive_bayes,myplugins:Unigrams"
    assert main(["-q", "run", "--classifiers", names, "--save-models", "--output", str(out), "--latency-calls", "3"]) == 0
    (run_dir,) = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["classifiers"]) == names.split(",")
    for name, record in results["classifiers"].items():
        assert 0 <= record["metrics"]["accuracy"] <= 1 and record["inference"]["latency_p50_ms"] > 0, name
        assert record["memory"]["fit_peak_rss_mb"] > 0 and 0 <= record["metrics"]["ece"] <= 1
    # The pipeline holds only scikit-learn types: saved with skops, loaded without its code.
    nb = results["classifiers"]["myplugins:naive_bayes"]
    assert nb["model_saved"] is True and nb["model_size_mb"] > 0
    folder = run_dir / "models" / "myplugins_naive_bayes"
    preds = run_predictions(run_dir)
    texts = preds.texts
    loaded = SentimentClassifier.load(folder)
    np.testing.assert_array_equal(loaded.predict(texts), preds.pred["myplugins:naive_bayes"])
    # A plugin's own SentimentClassifier would need its code to load: not saved, and why.
    unigrams = results["classifiers"]["myplugins:Unigrams"]
    assert unigrams["model_saved"] is False and "needs its code to load" in unigrams["model_not_saved"]
    assert not (run_dir / "models" / "myplugins_Unigrams").exists()
    report = (run_dir / "report.md").read_text()
    assert "myplugins:naive_bayes" in report
    assert (run_dir / "confusion_myplugins_naive_bayes.png").is_file() and not list(run_dir.glob("*:*"))
    capsys.readouterr()
    assert main(["predict", "--run", str(run_dir), "--classifiers", "myplugins:naive_bayes", "--json", "lovely"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"]["myplugins:naive_bayes"]["label"] in ("negative", "positive")


def test_a_plugin_that_is_not_a_classifier_is_one_line(plugins, tmp_path, capsys):
    (plugins / "notaclassifier.py").write_text("def make():\n    return object()\n")
    assert main(["-q", "run", "--classifiers", "notaclassifier:make", "--output", str(tmp_path)]) == 2
    assert "lacks fit, predict" in capsys.readouterr().err
    assert main(["-q", "run", "--classifiers", "nosuchmodule:thing", "--output", str(tmp_path)]) == 2
    assert "cannot import 'nosuchmodule'" in capsys.readouterr().err


def test_a_plugin_without_get_params_is_one_line_not_a_clone_traceback(plugins, tmp_path, capsys):
    # It has fit, predict and predict_proba; scikit-learn's clone raised TypeError mid-run.
    (plugins / "noparams.py").write_text(
        "import numpy as np\n"
        "class Thing:\n"
        "    def fit(self, X, y):\n        return self\n"
        "    def predict(self, X):\n        return np.zeros(len(X), dtype=int)\n"
        "    def predict_proba(self, X):\n        return np.tile([0.4, 0.6], (len(X), 1))\n"
    )
    out = tmp_path / "runs"
    assert main(["-q", "run", "--classifiers", "noparams:Thing", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "lacks get_params, set_params" in err and "BaseEstimator" in err and "Traceback" not in err
    assert not out.exists() or not list(out.iterdir())


BAD_PLUGINS = textwrap.dedent('''
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin


    class WideProba(ClassifierMixin, BaseEstimator):
        """Probabilities with one column more than there are classes."""
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.zeros(len(X), dtype=int)

        def predict_proba(self, X):
            return np.full((len(X), len(self.classes_) + 1), 1 / (len(self.classes_) + 1))


    class OwnLabels(WideProba):
        """Labels of its own (1 and 2 for the classes 0 and 1), scores in their order."""
        def fit(self, X, y):
            self.classes_ = np.unique(y) + 1
            return self

        def predict(self, X):
            return np.full(len(X), self.classes_[-1])

        def predict_proba(self, X):
            return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


    class StrayPredictions(ClassifierMixin, BaseEstimator):
        """No classes_, and predictions outside the classes it was fitted on."""
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.full(len(X), 5)

        def decision_function(self, X):
            return np.zeros(len(X))


    class NaNScores(StrayPredictions):
        def predict(self, X):
            return np.zeros(len(X), dtype=int)

        def decision_function(self, X):
            return np.full(len(X), np.nan)
''')


@pytest.mark.parametrize("plugin, needles", [
    ("WideProba", ["its predict_proba gave shape (1, 3) for 2 classes, not (1, 2)"]),
    ("OwnLabels", ["its classes_ are [1, 2] after fitting on the class positions [0, 1]"]),
    ("StrayPredictions", ["it predicts [5], outside the class positions [0, 1]"]),
    ("NaNScores", ["its decision_function gave values that are not finite numbers"]),
])
def test_plugin_scores_outside_the_training_classes_are_one_line_naming_the_plugin(plugins, tmp_path, capsys, plugin, needles):
    (plugins / "badplugins.py").write_text(BAD_PLUGINS)
    out = tmp_path / "runs"
    spec = f"badplugins:{plugin}"
    one_line_error(run_main(capsys, "-q", "run", "--classifiers", f"bow,{spec}", "--output", str(out), "--latency-calls", "2"),
                   f"error: {spec}: ", *needles)
    (run_dir,) = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == f"failed: {spec}" and list(results["classifiers"]) == ["bow"]


@pytest.mark.slow
def test_installed_plugins_appear_by_name(tmp_path):
    (tmp_path / "myplugins.py").write_text(PLUGINS)
    dist = tmp_path / "myplugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[sentibench.classifiers]\nnb = myplugins:naive_bayes\n")

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    help_text = subprocess.run([sys.executable, "-m", "benchmark", "run", "--help"], capture_output=True, text=True, env=env,
                               timeout=120).stdout
    assert "bow, w2v, bert, embed, vader, zeroshot, static, setfit, llm, nb" in " ".join(help_text.split())
    proc = subprocess.run([sys.executable, "-m", "benchmark", "run", "--classifiers", "nope"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2 and "choose from: bow, w2v, bert, embed, vader, zeroshot, static, setfit, llm, nb" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "benchmark", "-q", "run", "--classifiers", "nb", "--latency-calls", "2",
                           "--output", str(tmp_path / "o")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _install(site, package: str, entry_points: str) -> None:
    """A distribution ``package`` in the folder ``site`` (on sys.path) with this entry_points.txt."""
    dist = site / f"{package}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path to install distributions in; the registry reads plugins afresh."""
    from classifiers import REGISTRY

    site = tmp_path / "site"
    site.mkdir()
    (site / "myplugins.py").write_text(PLUGINS)
    (site / "raising_plugin.py").write_text("raise RuntimeError('a bug in the plugin')\n")
    monkeypatch.syspath_prepend(str(site))
    for attribute in ("_plugins", "_classes", "_broken"):
        monkeypatch.setattr(REGISTRY, attribute, None if attribute == "_plugins" else {}, raising=False)
    return site


def test_a_broken_installed_plugin_is_left_out_of_the_default_run_with_a_warning(site, tmp_path, monkeypatch, capsys):
    from classifiers import REGISTRY

    _install(site, "goodplugins", "[sentibench.classifiers]\nnb = myplugins:naive_bayes\n")
    _install(site, "brokenplugins", "[sentibench.classifiers]\nmissing = nosuchmodule:thing\nraising = raising_plugin:make\n"
                                    "notone = myplugins:PLUGINS\n")
    real = REGISTRY.missing_extra
    networks = ("bert", "embed", "zeroshot", "static", "setfit")  # left out, for speed
    monkeypatch.setattr(REGISTRY, "missing_extra", lambda name: "bert" if name in networks else real(name))
    outcome = run_main(capsys, "run", "--output", str(tmp_path / "runs"), "--latency-calls", "2", *FAST)
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert list(json.loads((run_dir / "results.json").read_text())["classifiers"]) == ["bow", "w2v", "vader", "nb"]
    for needle in ("leaving out missing: the installed plugin missing = nosuchmodule:thing cannot be used (cannot import",
                   "leaving out raising: the installed plugin raising = raising_plugin:make cannot be used (RuntimeError: a bug",
                   "leaving out notone: the installed plugin notone = myplugins:PLUGINS cannot be used"):
        assert needle in outcome.stderr
    # Named on the command line, a plugin that is not there stops the run, in one line (a
    # plugin whose own code raises keeps its traceback: that is a bug to show its author).
    one_line_error(run_main(capsys, "run", "--classifiers", "bow,missing", "--output", str(tmp_path / "o")),
                   "cannot import 'nosuchmodule'")


def test_a_package_whose_entry_points_cannot_be_read_leaves_the_others_usable(site, capsys, caplog):
    from classifiers import REGISTRY

    _install(site, "goodplugins", "[sentibench.classifiers]\nnb = myplugins:naive_bayes\n")
    _install(site, "garbled", "[sentibench.classifiers]\nno equals sign here\n")
    with caplog.at_level(logging.WARNING):
        assert list(REGISTRY) == ["bow", "w2v", "bert", "embed", "vader", "zeroshot", "static", "setfit", "llm", "nb"]
    assert "ignoring the classifiers of package garbled: its entry_points.txt cannot be read" in caplog.text
    assert run_main(capsys, "run", "--classifiers", "nope").returncode == 2  # every command still parses


def test_tuning_sees_training_and_validation_only_and_the_test_split_once(tmp_path, monkeypatch):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from benchmark import runner

    events = []  # ("fit", n) when BowSvmClassifier.fit runs, ("test", n) when test texts are transformed
    test_texts = set()
    real_split = runner.prepare_data

    def remember_test(cfg):
        split, info = real_split(cfg)
        test_texts.update(split.texts("test"))
        return split, info

    from classifiers._fastpath import LinearTextScorer

    real_transform, real_fit, real_fast = TfidfVectorizer.transform, BowSvmClassifier.fit, LinearTextScorer.decision

    def transform(self, raw):
        raw = list(raw)
        if test_texts & set(raw):
            events.append("test")
        return real_transform(self, raw)

    def fast_decision(self, text):  # BoW's path for a few reviews at a time
        if text in test_texts:
            events.append("test")
        return real_fast(self, text)

    def fit(self, X, y, **kwargs):
        events.append("fit")
        return real_fit(self, X, y, **kwargs)

    monkeypatch.setattr(runner, "prepare_data", remember_test)
    monkeypatch.setattr(TfidfVectorizer, "transform", transform)
    monkeypatch.setattr(LinearTextScorer, "decision", fast_decision)
    monkeypatch.setattr(BowSvmClassifier, "fit", fit)
    assert main(["-q", "run", "--classifiers", "bow", "--tune", "--output", str(tmp_path), "--latency-calls", "2"]) == 0
    # The search transformed validation texts many times but never a test review; the one
    # final fit comes before any test review is seen.
    assert events.count("fit") == 1 and "test" in events
    assert events.index("test") > events.index("fit")
    (run_dir,) = tmp_path.iterdir()
    tuning = json.loads((run_dir / "results.json").read_text())["classifiers"]["bow"]["tuning"]
    assert tuning["complete"] and len(tuning["trials"]) == 3 * 3 * 2 * 7  # the whole documented space
    assert tuning["tuned_val_score"] >= tuning["default_val_score"]
    assert tuning["trials"][0]["params"] == {"ngram_range": [1, 2], "min_df": 2, "sublinear_tf": True, "C": 0.5}
    chosen = tuning["chosen"]
    record = json.loads((run_dir / "results.json").read_text())["classifiers"]["bow"]
    assert record["params"]["C"] == chosen["C"] and record["params"]["min_df"] == chosen["min_df"]
    assert "## Tuning" in (run_dir / "report.md").read_text()


def test_tuned_values_reproduce_their_validation_score(tiny, caplog):
    """A trial's score is what fitting the classifier with those values gives; every trial
    is logged (at DEBUG when it took under a second)."""
    from benchmark.tune import tune

    train_x, train_y, val_x, val_y = tiny
    prototype = BowSvmClassifier(min_df=1, random_state=0)
    with caplog.at_level(logging.DEBUG, logger="classifiers._search"):
        chosen, record = tune("bow", prototype, (train_x, train_y), (val_x, val_y), budget_s=60)
    refit = BowSvmClassifier(**{**prototype.get_params(), **chosen}).fit(train_x, train_y)
    assert (refit.predict(val_x) == val_y).mean() == pytest.approx(record["tuned_val_score"])
    n = len(record["trials"])
    assert sum(f"bow: trial {k} of {n}:" in caplog.text for k in range(1, n + 1)) == n


def test_tuning_stops_at_its_budget(tiny):
    from benchmark.tune import tune

    train_x, train_y, val_x, val_y = tiny
    _, record = tune("bow", BowSvmClassifier(min_df=1), (train_x, train_y), (val_x, val_y), budget_s=0.0)
    assert len(record["trials"]) == 1 and record["complete"] is False  # the defaults, then nothing fits


def test_seeds_summary_has_the_corrected_t_test(tmp_path):
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--seeds", "1,2,3", "--output", str(tmp_path), *FAST]) == 0
    (parent,) = tmp_path.iterdir()
    summary = json.loads((parent / "summary.json").read_text())
    (pair,) = summary["pairs"]
    diffs = np.subtract(summary["metrics"]["bow"]["accuracy"]["values"], summary["metrics"]["w2v"]["accuracy"]["values"])
    assert pair["mean"] == pytest.approx(diffs.mean()) and pair["df"] == 2
    assert pair["test_train_ratio"] == pytest.approx(30 / 140)
    text = (parent / "summary.md").read_text()
    assert "corrected resampled t-test" in text and pair["sentence"] in text
    assert "5 or more seeds are better" in text


def test_an_estimator_holding_a_builtin_function_is_not_saved_and_such_a_file_not_loaded(tmp_path):
    """getattr is not among the types a saved estimator may hold: a file that asks for it
    is refused, and an estimator that holds it is reported as not saved."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import ComplementNB
    from sklearn.pipeline import make_pipeline

    from classifiers import ModelFileError
    from classifiers._persist import skops_dump
    from classifiers.external import NotSaved, make_external

    texts, labels = ["good food", "bad food", "great place", "awful place"] * 5, [1, 0, 1, 0] * 5
    clf = make_external("mine:nb", lambda: make_pipeline(TfidfVectorizer(), ComplementNB())).fit(texts, labels)
    clf.save(tmp_path / "ok")
    clf.estimator_.steps[1][1].hook_ = getattr
    with pytest.raises(NotSaved, match="builtins.getattr"):
        clf.save(tmp_path / "hook")
    skops_dump({"estimator": clf.estimator_, "calibration": None}, tmp_path / "ok" / "estimator.skops")
    with pytest.raises(ModelFileError, match="builtins.getattr"):
        SentimentClassifier.load(tmp_path / "ok")


def test_tune_is_refused_in_a_multi_process_run(tmp_path, monkeypatch, capsys):
    from benchmark import runner

    monkeypatch.setattr(runner, "world_size", lambda: 2)
    assert main(["-q", "run", "--classifiers", "bow", "--tune", "--output", str(tmp_path)]) == 2
    assert "--tune runs in one process" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_tuning_failure_is_recorded_as_the_classifiers_failure(tmp_path, monkeypatch):
    from benchmark import units
    from dataset import DataError

    def failing_tune(name, *args, **kwargs):
        if name == "w2v":
            raise DataError("no trial could be fitted")
        return {}, {"space": {}, "trials": [], "chosen": {}}

    monkeypatch.setattr(units, "tune", failing_tune)
    args = ["-q", "run", "--classifiers", "bow,w2v", "--tune", "--output", str(tmp_path), "--latency-calls", "2"]
    assert main(args) == 2
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "failed: w2v" and list(results["classifiers"]) == ["bow"]


def test_a_first_seed_that_fails_after_a_classifier_finished_is_summarised_as_failed(tmp_path, monkeypatch):
    from benchmark import units
    from dataset import DataError

    real_run_one = units.run_one

    def fail_at_w2v(clf, split, **kwargs):
        if clf.name == "w2v":
            raise DataError("w2v cannot be trained on this data")
        return real_run_one(clf, split, **kwargs)

    monkeypatch.setattr(units, "run_one", fail_at_w2v)
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--seeds", "1,2", "--output", str(tmp_path), "--latency-calls", "2"]) == 2
    (parent,) = tmp_path.iterdir()
    assert json.loads((parent / "summary.json").read_text())["status"] == "failed"  # was left "running"


def test_a_saved_estimator_that_cannot_give_scores_is_refused_at_load(tmp_path):
    """Calibration without decision_function made predict_proba and decision_function call
    each other until the recursion limit."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import ComplementNB
    from sklearn.pipeline import make_pipeline

    from classifiers import ModelFileError
    from classifiers._persist import skops_dump
    from classifiers.external import make_external

    texts, labels = ["good food", "bad food", "great place", "awful place"] * 5, [1, 0, 1, 0] * 5
    clf = make_external("mine:nb", lambda: make_pipeline(TfidfVectorizer(), ComplementNB())).fit(texts, labels)
    folder = clf.save(tmp_path / "nb")
    skops_dump({"estimator": clf.estimator_, "calibration": [1.0, 0.0]}, folder / "estimator.skops")
    if hasattr(clf.estimator_, "decision_function"):
        pytest.skip("this scikit-learn's ComplementNB has a decision_function")
    with pytest.raises(ModelFileError, match="cannot score"):
        SentimentClassifier.load(folder)


def test_tuning_whose_defaults_cannot_be_fitted_says_so_and_one_that_fits_nothing_is_one_error(tiny):
    from benchmark.tune import tune
    from dataset import DataError

    train_x, train_y, val_x, val_y = tiny
    # min_df=40 leaves no term in 48 training reviews: the defaults are no candidate.
    chosen, record = tune("bow", BowSvmClassifier(min_df=40, random_state=0), (train_x, train_y), (val_x, val_y), 60)
    assert record["default_val_score"] is None and record["trials"] and chosen["min_df"] != 40
    assert record["trials"][0]["params"]["min_df"] != 40  # no trial is mislabelled as the defaults
    with pytest.raises(DataError, match="no candidate"):
        tune("bow", BowSvmClassifier(random_state=0), (["..."] * 3 + [",,,"] * 3, [0, 0, 0, 1, 1, 1]), (val_x, val_y), 60)


def test_an_external_estimator_is_calibrated_with_the_same_sample_weights(monkeypatch):
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.svm import LinearSVC

    import classifiers.external as external
    from classifiers.external import make_external

    class TextSVC(ClassifierMixin, BaseEstimator):
        """A scikit-learn classifier over raw texts with decision_function only."""

        def fit(self, X, y, sample_weight=None):
            self.vec_ = HashingVectorizer(n_features=256)
            self.svm_ = LinearSVC().fit(self.vec_.transform(X), y, sample_weight=sample_weight)
            self.classes_ = self.svm_.classes_
            return self

        def predict(self, X):
            return self.svm_.predict(self.vec_.transform(X))

        def decision_function(self, X):
            return self.svm_.decision_function(self.vec_.transform(X))

    seen = []
    real = external.calibration_scores
    monkeypatch.setattr(external, "calibration_scores", lambda *a: seen.append(a[5]) or real(*a))
    texts, labels = ["good food", "bad food", "great place", "awful place"] * 5, [1, 0, 1, 0] * 5
    weights = np.linspace(0.5, 2.0, len(texts))
    make_external("mine:svc", TextSVC).fit(texts, labels, sample_weight=weights)
    np.testing.assert_array_equal(seen[0]["sample_weight"], weights)


def test_w2v_tuning_tries_the_runs_own_c_first_even_off_the_grid(tiny):
    from benchmark.tune import tune
    from classifiers import Word2VecSvmClassifier

    train_x, train_y, val_x, val_y = tiny
    prototype = Word2VecSvmClassifier(min_count=1, w2v_epochs=2, C=2.0, random_state=0)
    _, record = tune("w2v", prototype, (train_x, train_y), (val_x, val_y), budget_s=60)
    assert record["trials"][0]["params"]["C"] == 2.0 and record["default_val_score"] is not None


def test_tune_with_seeds_is_refused_in_helper_processes_too(monkeypatch):
    from benchmark import runner, seedrun
    from benchmark.config import RunConfig
    from benchmark.seedrun import run_seeds
    from dataset import UsageError

    monkeypatch.setattr(runner, "world_size", lambda: 2)
    monkeypatch.setattr(runner, "process_rank", lambda: 1)
    monkeypatch.setattr(seedrun, "process_rank", lambda: 1)
    monkeypatch.setattr(runner, "_fit_data_parallel", lambda *a, **k: pytest.fail("a helper went on to train"))
    with pytest.raises(UsageError, match="--tune runs in one process"):
        run_seeds(RunConfig(classifiers=["bow"], tune=True), [1, 2])


@pytest.mark.slow
def test_embed_tuning_encodes_once_and_its_scores_are_what_a_fit_gives(tiny, monkeypatch):
    import classifiers.embed as embed_module
    from benchmark.tune import tune
    from classifiers import EmbeddingLogRegClassifier

    from .._helpers import FAST_PARAMS

    loads = []
    real = embed_module.load_pretrained
    monkeypatch.setattr(embed_module, "load_pretrained", lambda *args: loads.append(args) or real(*args))
    train_x, train_y, val_x, val_y = tiny
    prototype = EmbeddingLogRegClassifier(**FAST_PARAMS["embed"], inference="fp32", random_state=0)
    chosen, record = tune("embed", prototype, (train_x, train_y), (val_x, val_y), budget_s=60)
    assert len(loads) == 1 and len(record["trials"]) == 6 and record["trials"][0]["params"] == {"C": 1.0}
    refit = EmbeddingLogRegClassifier(**{**prototype.get_params(), **chosen}).fit(train_x, train_y)
    assert (refit.predict(val_x) == val_y).mean() == pytest.approx(record["tuned_val_score"])


def test_a_curve_whose_classifier_crashes_is_marked_failed(plugins, tmp_path):
    # A bug in a user's classifier (not one of sentibench's one-line errors) left the curve
    # "running" for ever.
    (plugins / "crashing.py").write_text(
        "from sklearn.naive_bayes import MultinomialNB\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.feature_extraction.text import CountVectorizer\n"
        "class Crash(MultinomialNB):\n"
        "    def fit(self, X, y, sample_weight=None):\n"
        "        raise RuntimeError('a bug in my classifier')\n"
        "def make():\n"
        "    return make_pipeline(CountVectorizer(), Crash())\n"
    )
    out = tmp_path / "curves"
    with pytest.raises(RuntimeError, match="a bug in my classifier"):
        main(["-q", "curve", "--classifiers", "crashing:make", "--sizes", "40,140", "--repeats", "1", "--output", str(out)])
    (run_dir,) = out.iterdir()
    assert json.loads((run_dir / "learning_curve.json").read_text())["status"] == "failed"


def test_a_run_of_a_users_classifier_resumes_when_the_user_names_the_code_again(plugins, tmp_path, monkeypatch, capsys):
    from benchmark import units

    from .._helpers import interrupt_at

    monkeypatch.delitem(sys.modules, "myplugins", raising=False)  # an earlier test's copy, from its own folder
    out = tmp_path / "runs"
    real = interrupt_at(monkeypatch, "unigrams")
    assert main(["-q", "run", "--classifiers", "bow,myplugins:Unigrams", "--output", str(out), "--latency-calls", "2"]) == 130
    monkeypatch.setattr(units, "run_one", real)
    (run_dir,) = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["classifiers"]) == ["bow"] and len(results["plugins"]["myplugins:Unigrams"]) == 64
    # The folder alone names no code to import; a built-in name, or code that changed, is refused.
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(run_dir)), "--classifiers myplugins:Unigrams")
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(run_dir), "--classifiers", "bow"), "drop --classifiers")
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(run_dir), "--classifiers", "myplugins:naive_bayes"),
                   "no classifier 'myplugins:naive_bayes'")
    source = plugins / "myplugins.py"
    source.write_text(PLUGINS + "\n# changed\n")
    monkeypatch.delitem(sys.modules, "myplugins")  # as in a new process
    one_line_error(run_main(capsys, "-q", "run", "--resume", str(run_dir), "--classifiers", "myplugins:Unigrams"),
                   "code of 'myplugins:Unigrams' changed")
    source.write_text(PLUGINS)
    assert main(["-q", "run", "--resume", str(run_dir), "--classifiers", "myplugins:Unigrams"]) == 0
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "complete" and list(results["classifiers"]) == ["bow", "myplugins:Unigrams"]
