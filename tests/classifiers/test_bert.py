"""BertClassifier beyond the shared contract: training loop, batching, truncation, loading."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs the bert extra: pip install 'sentibench[bert]'")

import numpy as np

from classifiers import BertClassifier
from classifiers.bert import _parallel as bert_module
from classifiers.bert._checkpoint import save_checkpoint
from classifiers.encoder.batching import length_grouped_batches, truncate
from classifiers.encoder.hub import ModelNotAvailableError, load_pretrained

from .._helpers import FAST_PARAMS


def fast(**extra):
    return BertClassifier(**{**FAST_PARAMS["bert"], "verbose": False, **extra})


def test_history_records_every_epoch(tiny):
    train_x, train_y, test_x, test_y = tiny
    clf = fast(epochs=2, patience=5).fit(train_x, train_y, validation=(test_x, test_y))
    assert [h["epoch"] for h in clf.history_] == [1, 2]
    for h in clf.history_:
        assert h["train_loss"] > 0
        assert 0 <= h["train_accuracy"] <= 1 and 0 <= h["val_accuracy"] <= 1
        assert h["val_loss"] > 0 and h["samples_per_s"] > 0
    assert clf.best_epoch_ == 1 + int(np.argmax([h["val_accuracy"] for h in clf.history_]))


@pytest.mark.slow
def test_best_checkpoint_is_restored(tiny):
    train_x, train_y = tiny[:2]
    # Validation labels are the training labels flipped: the better the model fits the
    # training data, the worse it scores on validation, so later epochs are not best.
    val_x, val_y = train_x[12:36], 1 - np.asarray(train_y[12:36])
    clf = fast(epochs=3, patience=5, learning_rate=2e-4, precision="fp32", inference="train")
    clf.fit(train_x, train_y, validation=(val_x, val_y))
    recorded = [h["val_accuracy"] for h in clf.history_]
    assert len(recorded) == 3
    returned = float((clf.predict(val_x) == val_y).mean())
    assert returned == pytest.approx(max(recorded))
    assert clf.best_epoch_ == 1 + int(np.argmax(recorded))


@pytest.mark.slow
@pytest.mark.parametrize("patience, epochs_run", [(1, 2), (2, 3)])
def test_early_stopping_after_patience_epochs(tiny, patience, epochs_run):
    train_x, train_y = tiny[:2]
    # Identical validation texts with both labels: accuracy is exactly 0.5 every epoch,
    # so only the first epoch counts as an improvement.
    val_x, val_y = ["the same review"] * 10, [0, 1] * 5
    clf = fast(epochs=5, patience=patience).fit(train_x, train_y, validation=(val_x, val_y))
    assert len(clf.history_) == epochs_run
    assert clf.best_epoch_ == 1


@pytest.mark.slow
def test_fit_without_validation_trains_all_epochs(tiny):
    train_x, train_y = tiny[:2]
    clf = fast(epochs=2).fit(train_x, train_y)
    assert len(clf.history_) == 2
    assert clf.history_[0]["val_accuracy"] is None


@pytest.mark.parametrize("n, batch_size", [(1, 4), (17, 4), (64, 16), (100, 7)])
def test_length_grouped_batches_cover_every_index_once(n, batch_size):
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 120, size=n)
    batches = length_grouped_batches(lengths, batch_size, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(n))
    assert all(len(b) <= batch_size for b in batches)
    # Grouping: the spread of lengths inside a batch is far below a random batch's.
    if n >= 64:
        spread = np.mean([np.ptp(lengths[b]) for b in batches])
        random_spread = np.mean([np.ptp(lengths[b]) for b in np.array_split(rng.permutation(n), len(batches))])
        assert spread < random_spread / 3


def test_length_grouped_batches_change_order_between_epochs():
    lengths = np.repeat([10, 20, 30, 40], 16)
    rng = np.random.default_rng(0)
    first = [b.tolist() for b in length_grouped_batches(lengths, 8, rng)]
    second = [b.tolist() for b in length_grouped_batches(lengths, 8, rng)]
    assert first != second


def test_truncation_strategies_keep_the_right_tokens():
    ids = list(range(20))
    assert truncate(ids, 8, "head") == list(range(8))
    assert truncate(ids, 8, "head+tail") == [0, 1, 14, 15, 16, 17, 18, 19]
    assert truncate(ids[:5], 8, "head+tail") == ids[:5]


@pytest.mark.slow
def test_head_tail_encoding_keeps_start_and_end_of_a_long_review(tiny):
    train_x, train_y = tiny[:2]
    clf = fast(epochs=1, max_length=16, truncation="head+tail").fit(train_x, train_y)
    words = [f"w{i}" for i in range(40)]
    (encoded,) = clf._encode([" ".join(words)])
    tok = clf.tokenizer_
    assert len(encoded) == 16
    assert encoded[0] == tok.cls_token_id and encoded[-1] == tok.sep_token_id
    full = tok(" ".join(words), add_special_tokens=False)["input_ids"]
    assert encoded[1:4] == full[:3]
    assert encoded[4:-1] == full[-11:]


def test_default_model_loads_offline(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    tokenizer, net = load_pretrained(None)
    assert tokenizer.vocab_size == 30522
    assert net.config.num_labels == 2
    assert net.config.id2label == {0: "negative", 1: "positive"}


def test_unknown_model_offline_gives_one_line_error(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotAvailableError) as info:
        fast(model="no-such-org/no-such-model").fit(["good", "bad"], [1, 0])
    message = str(info.value)
    assert "no-such-org/no-such-model" in message and "local" in message
    assert "\n" not in message


def test_missing_model_folder_is_reported():
    with pytest.raises(ModelNotAvailableError, match="not found"):
        fast(model="./no/such/folder").fit(["good", "bad"], [1, 0])


@pytest.mark.parametrize(
    "param, value, match",
    [("precision", "fp8", "'precision' parameter of BertClassifier must be a str among"),
     ("pooling", "max", "'pooling' parameter of BertClassifier must be a str among"),
     ("max_length", 4, "max_length"), ("epochs", 0, "'epochs' parameter of BertClassifier must be an int in the range")],
)
def test_invalid_hyperparameters_raise_value_error(param, value, match):
    with pytest.raises(ValueError, match=match):
        fast(**{param: value}).fit(["good", "bad"], [1, 0])


@pytest.mark.slow
def test_cls_pooling_trains_and_predicts(tiny):
    train_x, train_y, test_x, _ = tiny
    clf = fast(pooling="cls").fit(train_x, train_y)
    proba = clf.predict_proba(test_x)
    assert proba.shape == (len(test_x), 2)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-6)


@pytest.mark.slow
def test_predict_keeps_input_order_across_length_sorted_batches(tiny):
    train_x, train_y, test_x, _ = tiny
    clf = fast(inference="train", precision="fp32").fit(train_x, train_y)
    both = clf.decision_function(test_x)
    one_by_one = np.array([clf.decision_function([t])[0] for t in test_x])
    np.testing.assert_allclose(both, one_by_one, atol=1e-4)


@pytest.mark.slow
def test_int8_inference_matches_batched_and_single_and_tracks_full_precision(tiny):
    train_x, train_y, test_x, _ = tiny
    # Two epochs at a high rate: a model whose scores are well away from zero.
    clf = fast(inference="int8", epochs=2, learning_rate=2e-4).fit(train_x, train_y)
    batched = clf.decision_function(test_x)
    single = np.array([clf.decision_function([t])[0] for t in test_x])
    np.testing.assert_allclose(batched, single, atol=1e-6)
    full = clf.set_params(inference="fp32")
    reference = full.decision_function(test_x)
    assert np.corrcoef(batched, reference)[0, 1] > 0.95


@pytest.mark.slow
def test_compare_inference_reports_both_paths(tiny):
    train_x, train_y, test_x, test_y = tiny
    clf = fast().fit(train_x, train_y)
    report = clf.compare_inference(test_x, test_y)
    # No validation split: nothing to check a faster precision on, so full precision.
    assert report["inference"] == "fp32" and clf.inference_choice_["chosen"] == "fp32"
    # Predicting in fp32 is the fp32 model: the two accuracies are one.
    assert report["agreement"] == 1.0
    assert report["accuracy"] == pytest.approx(float((clf.predict(test_x) == test_y).mean()))
    assert report["accuracy_fp32"] == report["accuracy"]


@pytest.mark.slow
def test_max_train_samples_and_eval_every(tiny):
    train_x, train_y, test_x, test_y = tiny
    clf = fast(epochs=2, batch_size=4, max_train_samples=24, eval_every=2, patience=100)
    clf.fit(train_x, train_y, validation=(test_x, test_y))
    assert {k: clf.fit_info_[k] for k in ("method", "rows", "of_rows")} == {"method": "subsample", "rows": 24, "of_rows": 48}
    assert clf.fit_info_["batch"]["batch_size"] == 4 and clf.fit_info_["compile"]["compile"] is False
    # 24 reviews in batches of 4: 6 steps per epoch, evaluated at steps 2, 4, 6 of each epoch.
    assert [h["epoch"] for h in clf.history_] == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2], abs=1e-3)
    assert clf.best_epoch_ == clf.history_[int(np.argmax([h["val_accuracy"] for h in clf.history_]))]["epoch"]
    info = fast().fit(train_x, train_y).fit_info_
    assert {k: info[k] for k in ("method", "rows", "of_rows")} == {"method": "full", "rows": 48, "of_rows": 48}


@pytest.mark.slow
def test_temperature_scaling_is_fitted_on_validation_and_keeps_predictions(tiny):
    train_x, train_y, test_x, test_y = tiny
    clf = fast(epochs=2, learning_rate=2e-4, inference="fp32").fit(train_x, train_y, validation=(test_x, test_y))
    assert clf.temperature_ > 0 and clf.temperature_ != 1.0
    pred, proba = clf.predict(test_x), clf.predict_proba(test_x)
    temperature = clf.temperature_
    clf.temperature_ = 1.0  # the uncalibrated softmax of the same network
    raw = clf.predict_proba(test_x)
    np.testing.assert_array_equal(clf.predict(test_x), pred)  # dividing logits never flips a label
    # The fitted temperature minimises the validation log-loss, so it cannot be worse than 1.
    log_loss = lambda p: -np.mean(np.log(p[np.arange(len(test_y)), test_y]))  # noqa: E731
    assert log_loss(proba) <= log_loss(raw) + 1e-9
    clf.temperature_ = temperature
    assert fast().fit(train_x, train_y).temperature_ == 1.0  # nothing to fit it on
    assert fast(temperature_scaling=False).fit(train_x, train_y, validation=(test_x, test_y)).temperature_ == 1.0


@pytest.mark.slow
def test_a_set_inference_path_is_not_measured_against_the_others(tiny, monkeypatch):
    """inference='fp32' (as --tune's trials use) must not spend a validation pass per
    candidate path choosing what the user already chose."""
    from classifiers.encoder.inference import InferenceNets

    monkeypatch.setattr(InferenceNets, "choose", lambda *a, **k: pytest.fail("measured the inference paths"))
    clf = fast(inference="fp32").fit(tiny[0], tiny[1], validation=(tiny[2], tiny[3]))
    assert clf.inference_choice_ == {"chosen": "fp32", "reason": "set by inference='fp32'"}
    assert clf.predict(tiny[2]).shape == (len(tiny[2]),)


def test_a_hub_model_with_only_pickled_weights_is_named_as_such(tmp_path, monkeypatch):
    """Found in the cache but without model.safetensors: not "not in the cache"."""
    import shutil

    import huggingface_hub.constants

    from classifiers import ModelFileError
    from classifiers.encoder.hub import bundled_model_path

    repo = tmp_path / "models--someone--binonly"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    for f in bundled_model_path().iterdir():
        if f.is_file() and f.name != "model.safetensors" and not f.name.endswith(".bin"):
            shutil.copy(f, snapshot / f.name)
    (snapshot / "pytorch_model.bin").write_bytes(b"pickled weights")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelFileError, match="no model.safetensors"):
        load_pretrained("someone/binonly")


# -- epoch checkpoints (run --resume continues a fit) --------------------------------------


@pytest.mark.slow
def test_bert_resumes_from_its_last_epoch_checkpoint(tiny, tmp_path, monkeypatch):
    train_x, train_y, test_x, test_y = tiny
    params = {**FAST_PARAMS["bert"], "epochs": 2, "patience": 5, "precision": "fp32", "inference": "train", "verbose": False}
    reference = BertClassifier(**params).fit(train_x, train_y, validation=(test_x, test_y))

    real_batches = bert_module.length_grouped_batches
    calls = []

    def killed_in_second_epoch(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_batches(*args)

    checkpoints = tmp_path / "ckpt"
    monkeypatch.setattr(bert_module, "length_grouped_batches", killed_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        BertClassifier(**params, checkpoint_dir=str(checkpoints)).fit(train_x, train_y, validation=(test_x, test_y))
    assert (checkpoints / "checkpoint.pt").is_file()
    monkeypatch.setattr(bert_module, "length_grouped_batches", real_batches)

    resumed = BertClassifier(**params, checkpoint_dir=str(checkpoints)).fit(train_x, train_y, validation=(test_x, test_y))
    assert [h["epoch"] for h in resumed.history_] == [1, 2]
    untimed = lambda h: {k: v for k, v in h.items() if k not in ("seconds", "samples_per_s")}  # noqa: E731
    assert untimed(resumed.history_[0]) == untimed(reference.history_[0])
    np.testing.assert_allclose(resumed.decision_function(test_x), reference.decision_function(test_x), atol=1e-5)
    assert not checkpoints.exists()  # removed once training finished


@pytest.mark.slow
def test_a_fit_resumed_after_the_inference_choice_keeps_that_choice(tiny, tmp_path, monkeypatch):
    from classifiers.bert import _model
    from classifiers.encoder.inference import InferenceNets

    train_x, train_y, test_x, test_y = tiny
    params = {**FAST_PARAMS["bert"], "epochs": 1, "verbose": False, "checkpoint_dir": str(tmp_path / "ckpt")}
    real_choose = InferenceNets.choose

    def killed(*args):
        raise KeyboardInterrupt

    def choose_then_get_killed(self, *args, **kwargs):
        # A choice that timing alone would not give: only a recorded one can come back.
        choice = {**real_choose(self, *args, **kwargs), "chosen": "int8", "reason": "recorded before the kill"}
        monkeypatch.setattr(_model, "fit_temperature", killed)  # the next step of the fit
        return choice

    monkeypatch.setattr(InferenceNets, "choose", choose_then_get_killed)
    with pytest.raises(KeyboardInterrupt):
        BertClassifier(**params).fit(train_x, train_y, validation=(test_x, test_y))
    monkeypatch.undo()
    monkeypatch.setattr(InferenceNets, "choose", lambda *a, **k: pytest.fail("measured the inference paths again"))
    resumed = BertClassifier(**params).fit(train_x, train_y, validation=(test_x, test_y))
    assert resumed.inference_choice_["chosen"] == "int8" and resumed.inference_choice_["reason"] == "recorded before the kill"
    assert resumed.temperature_ > 0 and not (tmp_path / "ckpt").exists()  # removed once the fit ended


@pytest.mark.slow
def test_bert_ignores_a_checkpoint_of_other_data(tiny, tmp_path):
    train_x, train_y, test_x, test_y = tiny
    params = {**FAST_PARAMS["bert"], "epochs": 1, "verbose": False, "checkpoint_dir": str(tmp_path / "c")}
    clf = BertClassifier(**params)
    clf.fit(train_x, train_y)  # leaves nothing behind
    (tmp_path / "c").mkdir()
    save_checkpoint(tmp_path / "c" / "checkpoint.pt", {"fingerprint": "other", "epoch": 1})
    # Trained from the start: the foreign checkpoint's epoch 1 was not taken as this run's.
    resumed = BertClassifier(**params).fit(train_x, train_y)
    assert [h["epoch"] for h in resumed.history_] == [1] and resumed.history_[0]["seconds"] > 0
    assert not (tmp_path / "c" / "checkpoint.pt").exists()  # this run's training finished: its checkpoint is gone


@pytest.mark.parametrize("cls", ["bert", "embed"])
def test_a_max_length_beyond_the_checkpoints_positions_is_refused_before_training(tiny, cls, monkeypatch):
    # The bundled checkpoint reads 512 positions; short reviews never reached the limit,
    # and the first review longer than 512 tokens failed mid-training with a traceback.
    from classifiers import EmbeddingLogRegClassifier
    from classifiers.bert import _model
    from dataset import UsageError

    from .._helpers import one_line_error

    class Trains(Exception):
        pass

    def train(*args, **kwargs):
        raise Trains

    monkeypatch.setattr(_model, "train", train)
    train_x, train_y = tiny[:2]
    make = (lambda n: fast(max_length=n)) if cls == "bert" else (lambda n: EmbeddingLogRegClassifier(max_length=n))
    with pytest.raises(UsageError) as excinfo:
        make(513).fit(train_x, train_y)
    one_line_error(excinfo, f"{cls}: max_length=513", "(512, from max_position_embeddings", f"{cls}.max_length to at most 512")
    if cls == "bert":
        with pytest.raises(Trains):  # the limit itself is fine
            make(512).fit(train_x, train_y)
    else:
        assert make(512).fit(train_x, train_y).predict(train_x[:2]).shape == (2,)
