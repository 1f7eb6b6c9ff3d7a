"""Nothing sentibench loads runs code or prompts, and a damaged file is one line.

Each attack plants a payload that would create a marker file if it ever ran: the test
checks both the one-line error and that the marker does not exist.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from benchmark.__main__ import main
from classifiers import BowSvmClassifier, ModelFileError, SentimentClassifier, Word2VecSvmClassifier

from .._helpers import FAST_PARAMS, fast_flags, interrupted_run, one_line_error, require, run_main, tokenizer_calls


class _Payload:
    """Unpickling this creates ``path`` (a harmless stand-in for arbitrary code)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run folder with bow, w2v and bert saved (BERT small and quick)."""
    out = tmp_path_factory.mktemp("runs")
    args = ["-q", "run", "--classifiers", "bow,w2v,bert", "--data", "sample:pang-lee", "--save-models", "--output", str(out),
            *fast_flags("w2v", "bert")]
    assert main(args) == 0
    (run_dir,) = out.iterdir()
    return run_dir


@pytest.fixture
def run_copy(saved_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(saved_run, copy)
    return copy


def _predict_in_process(capsys, run_dir, *extra):
    """``predict`` of one review, in this process."""
    return run_main(capsys, "predict", "--run", str(run_dir), *extra, "great food")


def _predict(run_dir, *extra, stdin="y\n" * 20):
    """``python -m benchmark predict`` in a subprocess that answers "y" to any prompt."""
    return subprocess.run(
        [sys.executable, "-m", "benchmark", "predict", "--run", str(run_dir), *extra, "great food"],
        input=stdin, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.slow
def test_model_folder_asking_for_its_own_code_is_refused_without_a_prompt(run_copy, tmp_path):
    require("bert")
    from classifiers import BertClassifier

    marker = tmp_path / "code-ran"
    folder = run_copy / "models" / "bert"
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="sentibench-evil", auto_map={"AutoConfig": "evil.EvilConfig",
                                                           "AutoModelForSequenceClassification": "evil.EvilModel"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    proc = _predict(run_copy, "--classifiers", "bert")
    one_line_error(proc, "auto_map", "never runs code")
    assert not marker.exists()
    # The same folder as a base checkpoint for training is refused too.
    with pytest.raises(ModelFileError, match="auto_map"):
        BertClassifier(model=str(folder), epochs=1).fit(["good", "bad"], [1, 0])
    assert not marker.exists()


def test_pickled_pytorch_bin_beside_a_garbage_safetensors_is_never_unpickled(run_copy, tmp_path, capsys):
    marker = tmp_path / "unpickled"
    folder = run_copy / "models" / "bert"
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with open(folder / "pytorch_model.bin", "wb") as fh:
        pickle.dump(_Payload(marker), fh)
    one_line_error(_predict_in_process(capsys, run_copy, "--classifiers", "bert"), "cannot load the model")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["not-a-zip", "zip-without-schema", "truncated"])
def test_damaged_skops_file_is_one_line(run_copy, damage, capsys):
    path = run_copy / "models" / "bow" / "model.skops"
    if damage == "not-a-zip":
        path.write_bytes(b"this is not a zip file")
    elif damage == "zip-without-schema":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("other.txt", "hello")
    else:
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    one_line_error(_predict_in_process(capsys, run_copy, "--classifiers", "bow"), "model.skops")


def test_truncated_word2vec_header_is_one_line(run_copy, capsys):
    path = run_copy / "models" / "w2v" / "vectors.w2v.bin"
    path.write_bytes(b"12 ")
    one_line_error(_predict_in_process(capsys, run_copy, "--classifiers", "w2v"), "vectors.w2v.bin")


@pytest.mark.parametrize("meta", [{"params": [1]}, {"classes": [0]}, {"params": {"no_such": 1}}])
def test_malformed_sentibench_json_is_one_line(run_copy, meta, capsys):
    path = run_copy / "models" / "bow" / "sentibench.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **meta}))
    one_line_error(_predict_in_process(capsys, run_copy, "--classifiers", "bow"), "sentibench.json")


def test_truncated_checkpoint_is_one_line(tmp_path, tiny):
    require("bert")
    from classifiers import BertClassifier

    train_x, train_y = tiny[:2]
    folder = tmp_path / "ckpt"
    folder.mkdir()
    # A checkpoint cut off mid-write (the real ones are written atomically).
    from classifiers.bert._checkpoint import save_checkpoint

    save_checkpoint(folder / "checkpoint.pt", {"fingerprint": "x", "state": {}, "model": {"w": np.zeros(1000)}})
    (folder / "checkpoint.pt").write_bytes((folder / "checkpoint.pt").read_bytes()[:200])
    with pytest.raises(ModelFileError, match="checkpoint.pt is damaged") as excinfo:
        BertClassifier(**FAST_PARAMS["bert"], verbose=False, checkpoint_dir=str(folder)).fit(train_x, train_y)
    assert "\n" not in str(excinfo.value)


@pytest.mark.slow
def test_checkpoint_dir_keeps_the_users_folder_and_files(tmp_path, tiny, monkeypatch):
    require("bert")
    from classifiers import BertClassifier

    train_x, train_y = tiny[:2]
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    monkeypatch.chdir(project)
    BertClassifier(**FAST_PARAMS["bert"], verbose=False, checkpoint_dir=".").fit(train_x, train_y)
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt"]
    # A folder the classifier created itself is removed when training ends.
    BertClassifier(**FAST_PARAMS["bert"], verbose=False, checkpoint_dir=str(project / "new")).fit(train_x, train_y)
    assert not (project / "new").exists()


def _pickled_vectors(tmp_path, marker):
    path = tmp_path / "vectors.kv"
    with open(path, "wb") as fh:
        pickle.dump(_Payload(marker), fh)
    return path


def test_resumed_run_never_unpickles_vectors_named_in_its_config(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "unpickled"
    vectors = _pickled_vectors(tmp_path, marker)
    run_dir = interrupted_run(tmp_path / "runs", monkeypatch)
    results = json.loads((run_dir / "results.json").read_text())
    results["config"]["params"]["w2v"] = {"vectors": str(vectors)}
    (run_dir / "results.json").write_text(json.dumps(results))
    one_line_error(run_main(capsys, "run", "--resume", str(run_dir)), "pickle", "--set w2v.vectors=PATH")
    assert not marker.exists()


def _vocabulary(run_dir) -> set[str]:
    from gensim.models import KeyedVectors

    return set(KeyedVectors.load_word2vec_format(str(run_dir / "models" / "w2v" / "vectors.w2v.bin"), binary=True).key_to_index)


def test_a_corpus_is_read_only_when_named_on_the_command_line(tmp_path, monkeypatch, capsys):
    # A corpus's words end up in the saved vectors: a crafted run folder or a shared
    # config file naming one could copy any local text file into a model.
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2 passphrase\n" * 20)
    run_dir = interrupted_run(tmp_path / "runs", monkeypatch, "--save-models", *fast_flags("w2v"))
    results = json.loads((run_dir / "results.json").read_text())
    results["config"]["params"]["w2v"]["corpus"] = str(secret)
    (run_dir / "results.json").write_text(json.dumps(results))
    one_line_error(run_main(capsys, "run", "--resume", str(run_dir)), f"w2v.corpus={secret}", "--set w2v.corpus=PATH")
    assert not (run_dir / "models" / "w2v").exists()
    config = tmp_path / "params.json"
    config.write_text(json.dumps({"w2v": {"corpus": str(secret)}}))
    out = tmp_path / "new"
    one_line_error(run_main(capsys, "run", "--classifiers", "w2v", "--config", str(config), "--output", str(out), *fast_flags("w2v")),
                   "w2v.corpus", "--set w2v.corpus=PATH")
    assert not out.exists() or not any(out.iterdir())
    # Named on the command line, it is read: its words are in the vectors.
    assert main(["-q", "run", "--classifiers", "w2v", "--set", f"w2v.corpus={secret}", "--save-models", "--output", str(out),
                 *fast_flags("w2v")]) == 0
    (new_run,) = out.iterdir()
    assert {"hunter2", "passphrase"} <= _vocabulary(new_run)


def _evil_module(tmp_path, marker):
    """A module that leaves ``marker`` behind when imported, on a path the runs can import from."""
    (tmp_path / "evil_clf.py").write_text(f"open({str(marker)!r}, 'w').close()\nfrom sklearn.dummy import DummyClassifier as Model\n")
    return {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


@pytest.mark.slow
def test_resumed_run_never_imports_code_named_in_its_config(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    run_dir = interrupted_run(tmp_path / "runs", monkeypatch)
    results = json.loads((run_dir / "results.json").read_text())
    results["config"]["classifiers"].append("evil_clf:Model")
    (run_dir / "results.json").write_text(json.dumps(results))
    env = _evil_module(tmp_path, marker)
    proc = subprocess.run([sys.executable, "-m", "benchmark", "run", "--resume", str(run_dir)],
                          capture_output=True, text=True, env=env, timeout=300)
    one_line_error(proc, "'evil_clf:Model'", "does not import code named in a run folder")
    assert not marker.exists()
    results["config"]["seed"] = "42"  # wrong types are refused too, in one line
    results["config"]["classifiers"] = ["bow", "w2v"]
    (run_dir / "results.json").write_text(json.dumps(results))
    proc = subprocess.run([sys.executable, "-m", "benchmark", "run", "--resume", str(run_dir)], capture_output=True, text=True, timeout=300)
    one_line_error(proc, "malformed seed")


def test_resumed_curve_never_imports_code_named_in_its_config(tmp_path):
    out = tmp_path / "curves"
    marker = tmp_path / "imported"
    args = ["-q", "curve", "--classifiers", "bow", "--sizes", "40,80", "--repeats", "1", "--output", str(out)]
    assert main(args) == 0
    (run_dir,) = out.iterdir()
    curve = json.loads((run_dir / "learning_curve.json").read_text())
    curve["status"] = "interrupted"
    curve["config"]["classifiers"] = ["evil_clf:Model"]
    (run_dir / "learning_curve.json").write_text(json.dumps(curve))
    proc = subprocess.run([sys.executable, "-m", "benchmark", "curve", "--resume", str(run_dir)], capture_output=True, text=True,
                          env=_evil_module(tmp_path, marker), timeout=300)
    one_line_error(proc, "'evil_clf:Model'")
    assert not marker.exists()


def test_config_file_naming_pickled_vectors_is_refused(tmp_path):
    marker = tmp_path / "unpickled"
    vectors = _pickled_vectors(tmp_path, marker)
    config = tmp_path / "params.json"
    config.write_text(json.dumps({"w2v": {"vectors": str(vectors)}}))
    assert main(["-q", "run", "--classifiers", "w2v", "--config", str(config), "--output", str(tmp_path / "o")]) == 2
    assert not marker.exists()
    with pytest.raises(ModelFileError, match="pickle"):
        Word2VecSvmClassifier(vectors=str(vectors)).fit(["good food", "bad food"] * 6, [1, 0] * 6)
    assert not marker.exists()


def test_pickled_vectors_named_on_the_command_line_are_used(tmp_path, tiny):
    train_x, train_y = tiny[:2]
    vectors = tmp_path / "vectors.kv"
    Word2VecSvmClassifier(**FAST_PARAMS["w2v"]).fit(train_x, train_y).wv_.save(str(vectors))
    out = tmp_path / "runs"
    assert main(["-q", "run", "--classifiers", "w2v", "--set", f"w2v.vectors={vectors}", "--output", str(out), "--latency-calls", "2"]) == 0
    # curve trusts them the same way (it refused them before).
    assert main(["-q", "curve", "--classifiers", "w2v", "--set", f"w2v.vectors={vectors}", "--sizes", "60",
                 "--repeats", "1", "--output", str(out)]) == 0


def test_saved_bow_state_of_the_wrong_type_is_refused(tmp_path, tiny):
    from classifiers._persist import skops_dump

    train_x, train_y = tiny[:2]
    folder = BowSvmClassifier(min_df=1).fit(train_x, train_y).save(tmp_path / "m")
    skops_dump({"vectorizer": [1, 2], "svm": None, "calibration": [1.0, 0.0]}, folder / "model.skops")
    with pytest.raises(ModelFileError, match="does not hold a BowSvmClassifier"):
        SentimentClassifier.load(folder)


@pytest.mark.slow
def test_nothing_prompts_when_stdin_is_closed(run_copy):
    folder = run_copy / "models" / "bert"
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", "predict", "--run", str(run_copy), "--classifiers", "bert", "x"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env={**os.environ},
    )
    one_line_error(proc, "auto_map")


@pytest.mark.parametrize("cls", ["bert", "embed"])
def test_a_base_checkpoint_with_only_pickled_weights_is_refused(run_copy, tmp_path, cls):
    require("bert")
    from classifiers import BertClassifier, EmbeddingLogRegClassifier

    marker = tmp_path / "unpickled"
    folder = tmp_path / "base"
    shutil.copytree(run_copy / "models" / "bert", folder)
    (folder / "model.safetensors").unlink()
    with open(folder / "pytorch_model.bin", "wb") as fh:
        pickle.dump(_Payload(marker), fh)
    make = BertClassifier if cls == "bert" else EmbeddingLogRegClassifier
    with pytest.raises(ModelFileError):
        make(model=str(folder)).fit(["good", "bad"] * 3, [1, 0] * 3)
    assert not marker.exists()


def test_save_never_replaces_a_folder_that_is_not_a_saved_model(tmp_path, tiny):
    clf = BowSvmClassifier(min_df=1).fit(tiny[0], tiny[1])
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="not a saved sentibench model"):
        clf.save(documents)
    assert (documents / "thesis.tex").read_text() == "years of work"
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    with pytest.raises(FileExistsError):
        clf.save(afile)
    # An empty folder and an earlier model are replaced; ~ is the home folder.
    (tmp_path / "empty").mkdir()
    clf.save(tmp_path / "empty")
    clf.save(tmp_path / "empty")
    assert SentimentClassifier.load(tmp_path / "empty").predict(tiny[2]).tolist() == clf.predict(tiny[2]).tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "empty", "notes.txt"]  # no leftovers


def test_model_paths_expand_the_home_folder(tmp_path, tiny, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    clf = BowSvmClassifier(min_df=1).fit(tiny[0], tiny[1])
    clf.save("~/models/bow")
    assert (tmp_path / "models" / "bow" / "sentibench.json").is_file()
    assert SentimentClassifier.load("~/models/bow").predict(tiny[2]).tolist() == clf.predict(tiny[2]).tolist()


@pytest.mark.parametrize("edit", [
    {"temperature": 0}, {"temperature": "hot"}, {"history": "none"}, {"inference_choice": "int8"},
    {"precision": "fp8"}, {"fit_info": []}, {"best_epoch": True},
])
def test_a_malformed_training_file_is_refused_at_load(run_copy, edit):
    path = run_copy / "models" / "bert" / "training.json"
    training = json.loads(path.read_text())
    training.update(edit)
    path.write_text(json.dumps(training))
    with pytest.raises(ModelFileError, match="training.json is damaged"):
        SentimentClassifier.load(run_copy / "models" / "bert")


@pytest.mark.parametrize("chosen, bf16, expected", [
    ("train", True, "fp32"), ("int8", True, "int8"), ("cuda-only", True, "fp32"), ("bf16", True, "bf16"), ("bf16", False, "fp32"),
])
def test_a_model_saved_elsewhere_predicts_with_a_path_this_machine_has(run_copy, monkeypatch, chosen, bf16, expected):
    import classifiers.encoder.inference as bert_inference

    monkeypatch.setattr(bert_inference, "cpu_supports_bf16", lambda: bf16)
    path = run_copy / "models" / "bert" / "training.json"
    training = json.loads(path.read_text())
    training["inference_choice"] = {"chosen": chosen, "reason": "measured on another machine"}
    path.write_text(json.dumps(training))
    clf = SentimentClassifier.load(run_copy / "models" / "bert")
    assert clf._inference_path() == expected
    assert clf.predict(["great food", "awful"]).shape == (2,)


def test_word_vectors_that_are_not_gzip_are_one_line(tmp_path, capsys):
    bad = tmp_path / "vectors.kv.gz"
    bad.write_bytes(b"not gzip at all")
    proc = run_main(capsys, "-q", "run", "--classifiers", "w2v", "--set", f"w2v.vectors={bad}", "--output", str(tmp_path / "o"))
    one_line_error(proc, "not a readable word2vec text file", "BadGzipFile")


def _pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(), LogisticRegression())


def _set_analyzer(clf, value):
    vectorizer = clf.vectorizer_ if hasattr(clf, "vectorizer_") else clf.estimator_.steps[0][1]
    vectorizer.analyzer = value


@pytest.mark.parametrize("kind, tamper, needles", [
    pytest.param("bow", lambda clf: _set_analyzer(clf, type), ["analyzer", "builtins.type"], id="bow-analyzer-type"),
    pytest.param("bow", lambda clf: setattr(clf.vectorizer_, "tokenizer", str), ["tokenizer", "builtins.str"], id="bow-tokenizer-str"),
    pytest.param("bow", lambda clf: setattr(clf.vectorizer_, "vocabulary_", {"great": 7}), ["vocabulary"], id="bow-vocabulary"),
    pytest.param("bow", lambda clf: setattr(clf.svm_, "coef_", clf.svm_.coef_[:, :3]), ["SVM's weights"], id="bow-weights"),
    pytest.param("external", lambda clf: _set_analyzer(clf, type), ["analyzer", "builtins.type"], id="external-analyzer-type"),
    pytest.param("external", lambda clf: setattr(clf.estimator_.steps[-1][1], "classes_", np.array([1, 2])),
                 ["classes_ are [1, 2]"], id="external-own-classes"),
    pytest.param("w2v", lambda clf: setattr(clf.svm_, "kernel", type), ["kernel", "builtins.type"], id="w2v-kernel-type"),
])
def test_a_saved_state_no_fit_makes_is_refused_at_load_not_at_predict(tmp_path, tiny, kind, tamper, needles):
    from classifiers.external import ExternalClassifier

    train_x, train_y = tiny[:2]
    clf = {
        "bow": lambda: BowSvmClassifier(**FAST_PARAMS["bow"]),
        "w2v": lambda: Word2VecSvmClassifier(**FAST_PARAMS["w2v"]),
        "external": lambda: ExternalClassifier(spec="plugin:pipeline", estimator=_pipeline()),
    }[kind]().fit(train_x, train_y)
    tamper(clf)
    folder = clf.save(tmp_path / "m")  # what a hostile file holds: only types skops loads
    with pytest.raises(ModelFileError) as excinfo:
        SentimentClassifier.load(folder)
    one_line_error(excinfo, ".skops", *needles)


@pytest.mark.slow
def test_a_saved_bert_whose_config_asks_for_5000_layers_is_one_line_within_3_gib(run_copy):
    # Before sentibench checked config.json against the weights, transformers built and
    # initialised 5000 layers: 24 GB until the OOM killer, here a MemoryError traceback.
    import resource

    path = run_copy / "models" / "bert" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "num_hidden_layers": 5000}))
    limit = 3 * 2**30
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", "-q", "predict", "--run", str(run_copy), "--classifiers", "bert", "great food"],
        capture_output=True, text=True, timeout=300, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
    )
    one_line_error(proc, "config.json says num_hidden_layers=5000")


def test_predict_encodes_each_review_once(run_copy, monkeypatch, capsys):
    # Labels and probabilities come from one pass: a huge review was tokenised twice.
    calls = tokenizer_calls(monkeypatch, SentimentClassifier.load(run_copy / "models" / "bert").tokenizer_)
    outcome = run_main(capsys, "predict", "--run", str(run_copy), "--classifiers", "bert", "--json", "great food", "awful")
    assert outcome.returncode == 0 and len(outcome.stdout.splitlines()) == 2
    assert len(calls) == 1
