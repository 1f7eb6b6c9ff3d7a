"""An LLM behind any OpenAI-compatible chat-completions endpoint, zero- or few-shot.

Each review is sent with an instruction naming the classes (and with ``shots`` > 0, that
many training reviews of each class with their labels); the answer must be one of the
classes, anything else is an abstention: it is counted in the record and predicted as the
most frequent training class, with the training prior as its probabilities. Answers are
cached on disk by (model, prompt hash, review), so a resumed run pays nothing twice.

The key comes from the environment variable ``api_key_env`` names, read at each
prediction and never stored: a run folder or a saved model holds the variable's name only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import Interval

from dataset import UsageError, atomic_write_text, cache_dir, json_text

from ._llm_client import AnswerCache, Endpoint, ask_all
from ._persist import ModelFileError, state_file
from .base import SentimentClassifier

_STATE_FILE = "llm.json"
#: Environment variables that configure an endpoint for every run (and put llm in ``--all``).
BASE_URL_ENV, MODEL_ENV = "SENTIBENCH_LLM_BASE_URL", "SENTIBENCH_LLM_MODEL"
_LADDERS = {2: ("negative", "positive"), 3: ("negative", "neutral", "positive"),
            5: ("very negative", "negative", "neutral", "positive", "very positive")}
_WORDS = {"neg": "negative", "pos": "positive", "neu": "neutral"}
_INSTRUCTION = ("You classify the sentiment of customer reviews. Answer with exactly one of these labels "
                "and nothing else: {labels}.")


def label_words(classes: np.ndarray) -> list[str]:
    """What the prompt calls each class: numbered classes (0/1, 1-3, 1-5 stars) by a sentiment
    ladder, ``neg``/``pos``/``neu`` written out, any other name as it is."""
    if classes.dtype.kind in "biuf" and len(classes) in _LADDERS:
        return list(_LADDERS[len(classes)])
    return [_WORDS.get(str(c).lower(), str(c)) for c in classes]


def parse_answer(answer: str, words: list[str]) -> int | None:
    """The class an answer names: the label alone, or an answer that starts with it
    ("Positive.", "negative sentiment"); ``None`` (an abstention) otherwise."""
    text = re.sub(r"^[\s\"'*`.:]+|[\s\"'*`.!:]+$", "", answer.lower())
    lowered = [w.lower() for w in words]
    if text in lowered:
        return lowered.index(text)
    for k in sorted(range(len(words)), key=lambda k: -len(lowered[k])):  # "very negative" before "negative"
        if re.match(rf"{re.escape(lowered[k])}\b", text):
            return k
    return None


class LLMClassifier(SentimentClassifier):
    """Zero- or few-shot classification by an LLM behind an OpenAI-compatible endpoint.

    Parameters
    ----------
    base_url : str, optional
        The endpoint up to ``/chat/completions`` (e.g. ``http://127.0.0.1:8080/v1``);
        default ``$SENTIBENCH_LLM_BASE_URL``.
    model : str, optional
        The model name the endpoint knows; default ``$SENTIBENCH_LLM_MODEL``.
    api_key_env : str, default="OPENAI_API_KEY"
        The environment variable holding the key (unset: no key is sent).
    shots : int, default=0
        Training reviews of each class shown with their labels; 0 uses no labels at all.
    concurrency : int, default=4
        Requests in flight at once.
    timeout : float, default=60
        Seconds per request before it is retried.
    retries : int, default=3
        Retries of a timed-out or rate-limited request (backoff 0.5 s, doubled each time).
    max_chars : int, default=4000
        Characters of a review sent (the start; longer reviews are cut).
    cache : bool, default=True
        Keep answers in ``<user cache>/llm/answers.sqlite``.
    price_per_mtok : (float, float), optional
        Price per million tokens in and out: the record then says what a million reviews cost.
    random_state : int, optional
        Which training reviews the shots are.
    """

    name = "llm"
    model_files = (_STATE_FILE,)
    _parameter_constraints = {
        "base_url": [str, None], "model": [str, None], "api_key_env": [str],
        "shots": [Interval(Integral, 0, None, closed="left")],
        "concurrency": [Interval(Integral, 1, None, closed="left")],
        "timeout": [Interval(Real, 0, None, closed="neither")],
        "retries": [Interval(Integral, 0, None, closed="left")],
        "max_chars": [Interval(Integral, 1, None, closed="left")],
        "cache": ["boolean"], "price_per_mtok": [tuple, list, None], "random_state": ["random_state"],
    }

    def __init__(self, *, base_url=None, model=None, api_key_env="OPENAI_API_KEY", shots=0, concurrency=4, timeout=60.0,
                 retries=3, max_chars=4000, cache=True, price_per_mtok=None, random_state=None):
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.shots = shots
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.max_chars = max_chars
        self.cache = cache
        self.price_per_mtok = price_per_mtok
        self.random_state = random_state

    def _endpoint(self) -> Endpoint:
        base_url, model = self.base_url or os.environ.get(BASE_URL_ENV), self.model or os.environ.get(MODEL_ENV)
        if not base_url or not model:
            raise UsageError(f"llm: no endpoint; pass --set llm.base_url=http://HOST:PORT/v1 llm.model=NAME "
                             f"(or set {BASE_URL_ENV} and {MODEL_ENV})")
        return Endpoint(base_url, model, os.environ.get(self.api_key_env) or None, float(self.timeout), int(self.retries))

    def _fit(self, texts, y, validation, sample_weight):
        self._endpoint()  # refuse a missing endpoint before any review is sent
        self._check_price()
        k = len(self.classes_)
        self.words_ = label_words(self.classes_)
        self.prior_ = np.bincount(y, minlength=k) / len(y)
        rng = np.random.default_rng(self.random_state if self.random_state is not None else 0)
        picks = [rng.choice(np.flatnonzero(y == c), min(self.shots, int((y == c).sum())), replace=False) for c in range(k)]
        order = [int(i) for group in zip(*picks, strict=False) for i in group]  # one of each class in turn
        self.examples_ = [[self._clip(texts[i]), self.words_[y[i]]] for i in order]
        self.prompt_sha256_ = hashlib.sha256(json_text(self._messages("{review}")).encode()).hexdigest()
        self.stats_ = _empty_stats()

    def _check_price(self) -> None:
        price = self.price_per_mtok
        if price is not None and not (len(price) == 2 and all(isinstance(p, Real) and p >= 0 for p in price)):
            raise UsageError("llm: price_per_mtok takes two prices per million tokens, IN,OUT (e.g. 0.15,0.60)")

    def _clip(self, text: str) -> str:
        from .encoder.batching import encodable

        return encodable(str(text))[: self.max_chars]

    def _messages(self, review: str) -> list[dict]:
        messages = [{"role": "system", "content": _INSTRUCTION.format(labels=", ".join(self.words_))}]
        for text, word in self.examples_:
            messages += [{"role": "user", "content": f"Review: {text}"}, {"role": "assistant", "content": word}]
        return [*messages, {"role": "user", "content": f"Review: {review}"}]

    def _answers(self, texts: list[str]) -> np.ndarray:
        """Per review, the class position the model answered, or -1 for an abstention."""
        endpoint = self._endpoint()
        clipped = [self._clip(t) for t in texts]
        keys = [AnswerCache.key(endpoint.model, self.prompt_sha256_, t) for t in clipped]
        cache = AnswerCache(cache_dir() / "llm" / "answers.sqlite" if self.cache else None)
        try:
            answers = ask_all(endpoint, [self._messages(t) for t in clipped], keys, cache, int(self.concurrency))
        finally:
            cache.close()
        positions = np.array([-1 if (k := parse_answer(a.text, self.words_)) is None else k for a in answers], dtype=np.int64)
        self._count(answers, positions, endpoint.stats["retries"])
        return positions

    def _count(self, answers, positions, retries: int) -> None:
        stats = getattr(self, "stats_", None) or _empty_stats()
        stats["reviews"] += len(answers)
        stats["cache_hits"] += sum(a.cached for a in answers)
        stats["requests"] += sum(not a.cached for a in answers)
        stats["retries"] += retries
        stats["abstentions"] += int((positions < 0).sum())
        stats["tokens_in"] += sum(a.tokens_in for a in answers)
        stats["tokens_out"] += sum(a.tokens_out for a in answers)
        stats["request_ms"].extend(round(a.seconds * 1000, 3) for a in answers if not a.cached)
        stats["examples_of_abstentions"] = (stats["examples_of_abstentions"] + [
            a.text[:80] for a, k in zip(answers, positions, strict=True) if k < 0])[:5]
        self.stats_ = stats

    def _predict_proba(self, texts):
        positions = self._answers(list(texts))
        proba = np.tile(self.prior_, (len(positions), 1))
        answered = positions >= 0
        proba[answered] = np.eye(len(self.classes_))[positions[answered]]
        return proba

    def _decision_function(self, texts):
        proba = self._predict_proba(texts)
        return proba[:, 1] - proba[:, 0] if proba.shape[1] == 2 else proba

    def _decision_and_proba(self, texts):
        proba = self._predict_proba(texts)
        return (proba[:, 1] - proba[:, 0] if proba.shape[1] == 2 else proba), proba

    def request_latency(self) -> dict | None:
        """The latency of the real requests: a run's single-review calls repeat test reviews,
        which the cache answers."""
        ms = (getattr(self, "stats_", None) or {}).get("request_ms") or []
        if not ms:
            return None
        return {"latency_p50_ms": float(np.percentile(ms, 50)), "latency_p95_ms": float(np.percentile(ms, 95)),
                "latency_mean_ms": float(np.mean(ms))}

    def extra_record(self, test=None) -> dict:
        stats = dict(getattr(self, "stats_", None) or _empty_stats())
        ms = stats.pop("request_ms")
        stats["request_p50_ms"] = float(np.percentile(ms, 50)) if ms else None
        stats["request_p95_ms"] = float(np.percentile(ms, 95)) if ms else None
        reviews = max(stats["reviews"], 1)
        per_review = (stats["tokens_in"] / reviews, stats["tokens_out"] / reviews)
        price = None if self.price_per_mtok is None else round(
            per_review[0] * self.price_per_mtok[0] + per_review[1] * self.price_per_mtok[1], 4)
        endpoint = self.base_url or os.environ.get(BASE_URL_ENV)
        return {"label_free": self.shots == 0, "llm": {
            "base_url": endpoint, "model": self.model or os.environ.get(MODEL_ENV), "shots": self.shots,
            "prompt_sha256": self.prompt_sha256_, "prompt": self._messages("{review}"),
            "tokens_per_review": [round(v, 2) for v in per_review], "price_per_million_reviews": price, **stats}}

    def _save_files(self, folder: Path, context: dict):
        state = {"words": self.words_, "prior": self.prior_.tolist(), "examples": self.examples_,
                 "prompt_sha256": self.prompt_sha256_}
        atomic_write_text(folder / _STATE_FILE, json_text(state, indent=2))

    def _load_files(self, folder: Path):
        path = folder / _STATE_FILE
        k = len(self.classes_)
        with state_file(path):
            state = json.loads(path.read_text(encoding="utf-8"))
            words, prior, examples = state["words"], np.asarray(state["prior"], dtype=np.float64), state["examples"]
            prompt = str(state["prompt_sha256"])
        if not (isinstance(words, list) and len(words) == k and all(isinstance(w, str) for w in words)
                and prior.shape == (k,) and isinstance(examples, list)
                and all(isinstance(e, list) and len(e) == 2 and all(isinstance(v, str) for v in e) for e in examples)):
            raise ModelFileError(f"{path} does not hold {k} label words, a prior and the examples")
        self.words_, self.prior_, self.examples_, self.prompt_sha256_ = words, prior, examples, prompt
        self.stats_ = _empty_stats()


def _empty_stats() -> dict:
    return {"reviews": 0, "requests": 0, "cache_hits": 0, "retries": 0, "abstentions": 0, "tokens_in": 0,
            "tokens_out": 0, "request_ms": [], "examples_of_abstentions": []}
