"""Nothing sentibench loads or predicts exhausts the machine: a hostile model file is
refused from what it declares (zip directory, schema text, array headers, config.json
against the safetensors header) before anything is expanded, and a huge review costs
about what a long one does.

The attacks that would really take gigabytes run in a child process under a small
address-space limit (``RLIMIT_AS``): without the checks the child dies of MemoryError.
"""

from __future__ import annotations

import io
import json
import resource
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from classifiers import ModelFileError, SentimentClassifier

from .._helpers import one_line_error, tokenizer_calls

#: Address space of a child that loads a model: sklearn and skops need well under this.
CHILD_LIMIT = 2 * 2**30


def _limited(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def _predict_limited(run_dir, name: str, limit: int = CHILD_LIMIT):
    """``predict`` with one saved model, in a child process that may map ``limit`` bytes."""
    return subprocess.run(
        [sys.executable, "-m", "benchmark", "-q", "predict", "--run", str(run_dir), "--classifiers", name, "great food"],
        capture_output=True, text=True, timeout=300, preexec_fn=_limited(limit),
    )


@pytest.fixture
def bow_run(finished_run, tmp_path):
    """A copy of the finished run; its bow model is the one the tests rewrite."""
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def _protocol(path) -> int:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("schema.json"))["protocol"]


def _rewrite(path, members: dict[str, bytes | str]) -> None:
    """Replace the skops file ``path`` by ``members``; ``schema.json`` (JSON text of an
    object) gets the protocol of the file it replaces, without being parsed."""
    protocol = _protocol(path)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data if name != "schema.json" else f'{{"protocol": {protocol}, {data[1:]}')


def _array_node(file: str) -> dict:
    return {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy", "file": file}


def _list_node(items: list) -> dict:
    return {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": items}


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_an_array_header_declaring_745_gib_is_refused(bow_run):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
    path = bow_run / "models" / "bow" / "model.skops"
    _rewrite(path, {"a.npy": header.getvalue() + bytes(32), "schema.json": json.dumps(_array_node("a.npy"))})
    with pytest.raises(ModelFileError) as excinfo:
        SentimentClassifier.load(path.parent)
    one_line_error(excinfo, "model.skops", "(100000000000,)", "holds 32 bytes")


@pytest.mark.parametrize("where", ["schema", "json value"])
def test_a_schema_nested_200k_deep_is_refused(bow_run, where):
    depth = 200_000
    nested = "[" * depth + "]" * depth
    if where == "schema":
        schema = '{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": ' + nested + "}"
    else:  # a JsonNode holds its value as JSON text, which skops decodes with json.loads
        schema = json.dumps({"__class__": "list", "__module__": "builtins", "__loader__": "JsonNode", "content": nested,
                             "is_json": True})
    path = bow_run / "models" / "bow" / "model.skops"
    _rewrite(path, {"schema.json": schema})
    with pytest.raises(ModelFileError) as excinfo:
        SentimentClassifier.load(path.parent)
    one_line_error(excinfo, "model.skops", "levels deep (at most 100)")


def test_a_three_megabyte_file_that_expands_to_gigabytes_is_refused_before_it_is_read(bow_run):
    # One 3 MiB array that 1000 nodes name: skops reads it once per node, 3 GiB in all.
    path = bow_run / "models" / "bow" / "model.skops"
    schema = _list_node([_array_node("a.npy")] * 1000)
    _rewrite(path, {"a.npy": _npy(np.zeros(3 * 2**20 // 8)), "schema.json": json.dumps(schema)})
    assert path.stat().st_size < 4 * 2**20
    line = one_line_error(_predict_limited(bow_run, "bow"), "model.skops", "expands to", "1000 references")
    assert "MemoryError" not in line


def test_a_compressed_member_declaring_far_more_than_the_file_is_refused(bow_run):
    # schema.json deflated from 256 MiB to a few hundred KiB (a zip bomb).
    path = bow_run / "models" / "bow" / "model.skops"
    protocol = _protocol(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("schema.json", "w", force_zip64=True) as fh:
        fh.write(b'{"protocol": %d, "__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": "' % protocol)
        chunk = b" " * 2**20
        for _ in range(256):
            fh.write(chunk)
        fh.write(b'", "is_json": true}')
    assert path.stat().st_size < 2**20
    with pytest.raises(ModelFileError) as excinfo:
        SentimentClassifier.load(path.parent)
    one_line_error(excinfo, "model.skops", "schema.json declares")


def test_the_limits_leave_every_saved_classical_model_loadable(finished_run, tiny):
    for name in ("bow", "w2v"):
        loaded = SentimentClassifier.load(finished_run / "models" / name)
        assert loaded.predict(tiny[2]).shape == (len(tiny[2]),)


@pytest.fixture
def small_checkpoint(tmp_path):
    """A Hugging Face folder as sentibench saves one (safetensors, the bundled tokenizer):
    a 2-layer, 32-wide BERT with a two-class head, never trained."""
    pytest.importorskip("transformers")
    from transformers import BertConfig, BertForSequenceClassification

    from classifiers.encoder.hub import bundled_tokenizer

    folder = tmp_path / "checkpoint"
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertForSequenceClassification(config).save_pretrained(folder, safe_serialization=True)
    bundled_tokenizer().save_pretrained(folder)
    return folder


def _edit_config(folder, **changes) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _loaders():
    """(name, load) of each way sentibench reads a checkpoint folder: a saved BERT, embed's
    saved encoder, and a base checkpoint to fine-tune or embed with."""
    from transformers import AutoModel, AutoModelForSequenceClassification

    from classifiers.encoder.hub import load_pretrained, load_saved

    return {
        "saved bert": lambda folder: load_saved(folder, AutoModelForSequenceClassification, folder),
        "saved embed encoder": lambda folder: load_saved(folder, AutoModel, folder),
        "base checkpoint": lambda folder: load_pretrained(str(folder)),
        "base encoder": lambda folder: load_pretrained(str(folder), AutoModel),
    }


@pytest.mark.parametrize("loader", ["saved bert", "saved embed encoder", "base checkpoint", "base encoder"])
@pytest.mark.parametrize("changes, needles", [
    pytest.param({"num_hidden_layers": 5000}, ["num_hidden_layers=5000", "tensors in all"], id="5000-layers"),
    pytest.param({"vocab_size": 10 * 30522}, ["config.json describes a network of"], id="vocabulary"),
    pytest.param({"intermediate_size": 64 * 4096}, ["config.json describes a network of"], id="wide"),
])
def test_a_config_asking_for_more_than_its_weights_is_refused_before_anything_is_built(
        small_checkpoint, monkeypatch, loader, changes, needles):
    import transformers

    load = _loaders()[loader]
    assert load(small_checkpoint)[1].config.num_hidden_layers == 2  # the folder as saved loads
    _edit_config(small_checkpoint, **changes)

    def build(*args, **kwargs):
        raise AssertionError("the network was built from the tampered config")

    for auto in (transformers.AutoModel, transformers.AutoModelForSequenceClassification):
        monkeypatch.setattr(auto, "from_pretrained", build)
    with pytest.raises(ModelFileError) as excinfo:
        load(small_checkpoint)
    one_line_error(excinfo, str(small_checkpoint), *needles)


def test_a_damaged_safetensors_header_of_a_base_checkpoint_is_one_line(small_checkpoint):
    from classifiers.encoder.hub import load_pretrained

    (small_checkpoint / "model.safetensors").write_bytes(b"\xff" * 8 + b"{not json")
    with pytest.raises(ModelFileError) as excinfo:
        load_pretrained(str(small_checkpoint))
    one_line_error(excinfo, "cannot load the model", str(small_checkpoint))


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers")
    from classifiers.encoder.hub import bundled_tokenizer

    return bundled_tokenizer()


@pytest.mark.parametrize("truncation", ["head", "head+tail"])
@pytest.mark.parametrize("max_length", [8, 32])
def test_a_long_review_cut_before_tokenising_keeps_the_ids_truncation_keeps(tokenizer, sample, truncation, max_length):
    from classifiers.encoder.batching import CHARS_PER_TOKEN, encode, truncate

    chars = CHARS_PER_TOKEN * max_length
    words = " ".join(sample.texts) + " Café naïve 日本語 crème brûlée\tfin\n"
    texts = []
    for shift in range(12):  # the cut falls in a word, on a space, after a space...
        text = "x" * shift + " " + words
        texts.append((text * (3 * chars // len(text) + 1))[: 3 * chars + shift])
    texts += ["short review", "", words[: chars - 1], words[: 2 * chars + 1]]
    for text in texts:
        whole = tokenizer(text, add_special_tokens=False)["input_ids"]
        expected = [tokenizer.cls_token_id, *truncate(whole, max_length - 2, truncation), tokenizer.sep_token_id]
        assert encode(tokenizer, [text], max_length, truncation) == [expected], text[:40]


@pytest.mark.parametrize("truncation", ["head", "head+tail"])
def test_a_huge_review_is_tokenised_in_pieces_of_bounded_size_in_one_call(tokenizer, monkeypatch, truncation):
    from classifiers.encoder.batching import encode

    calls = tokenizer_calls(monkeypatch, tokenizer)
    huge = "The pasta was cold and the waiter was rude. " * (2 * 2**20 // 44)  # 2 MiB
    encoded = encode(tokenizer, [huge, "fine food", huge], 128, truncation)
    assert [len(ids) for ids in encoded] == [128, 4, 128]
    assert calls == [calls[0]] and calls[0] < len(huge) / 10

    from classifiers.encoder.batching import CHARS_PER_TOKEN

    assert calls[0] <= 2 * (2 * CHARS_PER_TOKEN * 128) + len("fine food")


def test_embed_scores_a_batch_with_one_tokenizer_call(tiny, monkeypatch):
    pytest.importorskip("transformers")
    from classifiers import EmbeddingLogRegClassifier

    train_x, train_y, test_x, _ = tiny
    clf = EmbeddingLogRegClassifier(max_length=32).fit(train_x, train_y, validation=(test_x, tiny[3]))
    labels, proba = clf.predict(test_x), clf.predict_proba(test_x)
    calls = tokenizer_calls(monkeypatch, clf.tokenizer_)
    both = clf.predict_with_proba(test_x)
    assert len(calls) == 1
    np.testing.assert_array_equal(both[0], labels)
    np.testing.assert_allclose(both[1], proba, rtol=0, atol=1e-12)
