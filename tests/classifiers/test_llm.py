"""LLMClassifier against a real OpenAI-compatible server process on loopback.

The server is Hugging Face's ``transformers serve`` (FastAPI + uvicorn, the OpenAI chat
completions API) on a tiny Llama made here, offline: its final norm is zero, so every
logit is equal and greedy decoding always answers token 0, a word the test chooses. One
model answers "positive", another "banana" (outside the classes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from .._helpers import one_line_error, require, unused_port

REVIEWS = ["lovely food", "cold soup, rude staff", "we will be back", "never again", "great", "awful"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]


def test_an_answer_is_a_class_only_when_it_names_one():
    from classifiers.llm import label_words, parse_answer

    words = label_words(np.array(["neg", "neu", "pos"]))
    assert words == ["negative", "neutral", "positive"]
    assert [parse_answer(a, words) for a in ("Positive.", " negative", "**neutral**", "positive sentiment")] == [2, 0, 1, 2]
    assert [parse_answer(a, words) for a in ("banana", "not sure", "positively", "")] == [None] * 4
    stars = label_words(np.array([1, 2, 3, 4, 5]))
    assert parse_answer("very negative", stars) == 0 and parse_answer("negative", stars) == 1


def _tiny_llm(folder: Path, answer: str) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = list(dict.fromkeys([answer, "<unk>", "<s>", "</s>", "<pad>", "negative", "positive", "review"]))
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins the words with spaces
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
                          "{% if add_generation_prompt %}assistant {% endif %}")
    config = LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=8192,
                         bos_token_id=2, eos_token_id=3, pad_token_id=4)
    torch.manual_seed(0)
    net = LlamaForCausalLM(config)
    with torch.no_grad():
        net.model.norm.weight.zero_()  # every logit 0: greedy decoding answers token 0
    net.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``transformers serve`` on a free loopback port, and the folders of its two models."""
    require("llm")
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("transformers serve needs fastapi, uvicorn, pydantic and openai (pip install 'sentibench[dev]')")
    root = tmp_path_factory.mktemp("llm")
    models = {a: str(_tiny_llm(root / a, a)) for a in ("positive", "banana")}
    port = unused_port()
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "transformers"), "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--device", "cpu"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"transformers serve did not start: {(root / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield {"base_url": f"{url}/v1", "models": models, "root": root}
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"




@pytest.mark.slow
def test_zero_shot_answers_are_recorded_and_cached(server, cache):
    from classifiers import LLMClassifier

    clf = LLMClassifier(base_url=server["base_url"], model=server["models"]["positive"], concurrency=3)
    clf.fit(REVIEWS, LABELS)
    assert clf.predict(REVIEWS).tolist() == ["pos"] * len(REVIEWS)
    record = clf.extra_record()
    assert record["label_free"] is True
    llm = record["llm"]
    assert (llm["requests"], llm["cache_hits"], llm["abstentions"]) == (len(REVIEWS), 0, 0)
    assert llm["tokens_in"] > 0 and llm["tokens_out"] == 8 * len(REVIEWS)  # max_tokens answers of the server's count
    assert len(llm["prompt_sha256"]) == 64 and "negative, positive" in llm["prompt"][0]["content"]
    assert llm["request_p50_ms"] > 0
    np.testing.assert_array_equal(clf.predict_proba(REVIEWS[:2]), [[0.0, 1.0], [0.0, 1.0]])
    assert clf.extra_record()["llm"]["cache_hits"] == 2  # asked again: from the cache
    again = LLMClassifier(base_url="http://127.0.0.1:9/v1", model=server["models"]["positive"])  # nothing listens
    again.fit(REVIEWS, LABELS)
    assert again.predict(REVIEWS).tolist() == ["pos"] * len(REVIEWS)  # every answer cached: no request at all
    assert again.extra_record()["llm"]["requests"] == 0


@pytest.mark.slow
def test_an_answer_outside_the_classes_is_a_recorded_abstention(server, cache):
    from classifiers import LLMClassifier

    clf = LLMClassifier(base_url=server["base_url"], model=server["models"]["banana"], cache=False)
    clf.fit(REVIEWS, ["pos", "pos", "pos", "pos", "neg", "neg"])
    np.testing.assert_allclose(clf.predict_proba(REVIEWS), [[1 / 3, 2 / 3]] * len(REVIEWS))  # the training prior
    assert clf.predict(REVIEWS).tolist() == ["pos"] * len(REVIEWS)
    llm = clf.extra_record()["llm"]
    assert llm["abstentions"] == 2 * len(REVIEWS) and llm["examples_of_abstentions"][0].startswith("banana")
    assert not any(cache.glob("**/*.sqlite"))  # cache=False keeps nothing


@pytest.mark.slow
def test_few_shot_prompts_hold_labelled_training_reviews(server, cache):
    from classifiers import LLMClassifier

    zero = LLMClassifier(base_url=server["base_url"], model=server["models"]["positive"]).fit(REVIEWS, LABELS)
    few = LLMClassifier(base_url=server["base_url"], model=server["models"]["positive"], shots=2, random_state=1)
    few.fit(REVIEWS, LABELS)
    prompt = few.extra_record()["llm"]["prompt"]
    assert [m["role"] for m in prompt] == ["system"] + ["user", "assistant"] * 4 + ["user"]
    assert sorted(m["content"] for m in prompt if m["role"] == "assistant") == ["negative"] * 2 + ["positive"] * 2
    assert few.extra_record()["label_free"] is False
    assert few.prompt_sha256_ != zero.prompt_sha256_
    assert few.predict(REVIEWS[:1]).tolist() == ["pos"]


@pytest.mark.slow
def test_a_run_records_the_llm_keeps_the_key_out_and_a_wrong_model_is_one_line(server, cache, tmp_path, monkeypatch, capsys):
    from benchmark.__main__ import main

    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"review number {i} {'good' if i % 2 else 'bad'},{i % 2}\n" for i in range(80)))
    flags = ["--data", str(data), "--latency-calls", "2", "--output", str(tmp_path / "out")]
    assert main(["-q", "run", "--classifiers", "bow,llm", "--set", f"llm.base_url={server['base_url']}",
                 "--set", f"llm.model={server['models']['positive']}", "--llm-price-per-mtok", "0.5,2",
                 "--save-models", *flags]) == 0
    (run_dir,) = (tmp_path / "out").iterdir()
    record = json.loads((run_dir / "results.json").read_text())["classifiers"]["llm"]
    llm = record["llm"]
    assert record["label_free"] is True and llm["requests"] > 0 and record["params"]["price_per_mtok"] == [0.5, 2.0]
    # the table's latency is that of the endpoint's requests, not of the cache that answered the timed calls
    assert record["inference"]["latency_p50_ms"] == pytest.approx(llm["request_p50_ms"])
    assert llm["price_per_million_reviews"] == pytest.approx(
        (0.5 * llm["tokens_in"] + 2 * llm["tokens_out"]) / llm["reviews"], abs=1e-4)
    assert record["metrics"]["accuracy"] == pytest.approx(0.5, abs=0.1)  # always "positive" on balanced data
    for path in [*run_dir.rglob("*"), *cache.rglob("*")]:
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    capsys.readouterr()
    assert main(["run", "--classifiers", "llm", "--set", f"llm.base_url={server['base_url']}",
                 "--set", "llm.model=/no/such/model", *flags]) == 2
    err = capsys.readouterr().err
    assert "llm:" in err and "Traceback" not in err


@pytest.mark.slow
def test_hostile_text_empty_input_and_a_saved_model(server, cache, tmp_path):
    from classifiers import LLMClassifier, SentimentClassifier

    clf = LLMClassifier(base_url=server["base_url"], model=server["models"]["positive"], max_chars=2000)
    clf.fit(REVIEWS, LABELS)
    hostile = ["bad \ud800 surrogate", "x" * 1_000_000, "", "<script>alert(1)</script>", "\x00\x1b[31m"]
    assert clf.predict(hostile).tolist() == ["pos"] * len(hostile)
    assert clf.predict_proba([]).shape == (0, 2)
    clf.save(tmp_path / "m")
    again = SentimentClassifier.load(tmp_path / "m")
    assert type(again).__name__ == "LLMClassifier" and again.prompt_sha256_ == clf.prompt_sha256_
    expected = clf.predict(REVIEWS).tolist()
    assert again.predict(REVIEWS).tolist() == expected
    assert again.extra_record()["llm"]["cache_hits"] == len(REVIEWS)  # the same prompt, so the same cache entries


def test_an_unreachable_endpoint_or_none_is_one_line(tmp_path, cache):
    require("llm")
    from classifiers import LLMClassifier
    from dataset import UsageError

    with pytest.raises(UsageError) as caught:
        LLMClassifier().fit(REVIEWS, LABELS)
    one_line_error(caught, "llm: no endpoint", "llm.base_url")
    clf = LLMClassifier(base_url=f"http://127.0.0.1:{unused_port()}/v1", model="m").fit(REVIEWS, LABELS)
    with pytest.raises(UsageError) as caught:
        clf.predict(REVIEWS)
    one_line_error(caught, "cannot reach")


def test_the_price_option_needs_the_llm_and_two_prices(capsys):
    from .._helpers import run_main

    bad = run_main(capsys, "run", "--classifiers", "bow", "--llm-price-per-mtok", "0.15,0.60")
    assert bad.returncode == 2 and "--llm-price-per-mtok sets the price_per_mtok hyperparameter, which none of bow has" in bad.stderr
    bad = run_main(capsys, "run", "--classifiers", "llm", "--llm-price-per-mtok", "0.15")
    assert bad.returncode == 2 and "two prices per million tokens" in bad.stderr and "Traceback" not in bad.stderr


def test_llm_joins_all_only_with_an_endpoint(monkeypatch):
    require("llm")
    from benchmark.config import available_classifiers

    monkeypatch.delenv("SENTIBENCH_LLM_BASE_URL", raising=False)
    assert "llm" not in available_classifiers()
    monkeypatch.setenv("SENTIBENCH_LLM_BASE_URL", "http://127.0.0.1:8080/v1")
    assert "llm" in available_classifiers()


def test_a_damaged_saved_llm_is_one_line(tmp_path, cache):
    require("llm")
    from classifiers import LLMClassifier, ModelFileError, SentimentClassifier

    LLMClassifier(base_url="http://127.0.0.1:9/v1", model="m").fit(REVIEWS, LABELS).save(tmp_path / "m")
    for garbage in ("{not json", '{"words": ["negative", "positive"]}', '{"words": 1, "prior": [0.5, 0.5], '
                    '"examples": [], "prompt_sha256": "x"}'):
        (tmp_path / "m" / "llm.json").write_text(garbage)
        with pytest.raises(ModelFileError) as caught:
            SentimentClassifier.load(tmp_path / "m")
        one_line_error(caught, "llm.json")
