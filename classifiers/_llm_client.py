"""An OpenAI-compatible chat-completions client for the ``llm`` classifier: bounded
concurrency, timeouts, retries with backoff, and an on-disk answer cache.

The cache is one SQLite file keyed by SHA-256 of (model, prompt hash, review): a resumed
or repeated run pays nothing twice. SQLite is written from the calling thread only, as
each answer arrives, so an interrupted prediction keeps every answer it got.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from dataset import UsageError

#: Statuses worth a retry: rate limits and a server's passing trouble.
_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass
class Answer:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    cached: bool = False
    seconds: float = 0.0  # wall time of the request (0 for a cached answer)


@dataclass
class Endpoint:
    """Where and how to ask: ``base_url`` ends before ``/chat/completions`` (``.../v1``)."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_tokens: int = 8
    stats: dict = field(default_factory=lambda: {"retries": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _post(self, client, messages: list[dict]):
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens, "temperature": 0}
        return client.post(f"{self.base_url.rstrip('/')}/chat/completions", json=body, headers=headers)

    def ask(self, client, messages: list[dict]) -> Answer:
        """One chat completion, retried on timeouts, lost connections and 408/409/429/5xx."""
        import httpx

        for attempt in range(self.retries + 1):
            start = time.perf_counter()
            try:
                response = self._post(client, messages)
            except httpx.ConnectError:
                raise UsageError(f"llm: cannot reach {self.base_url} (is the server running? set llm.base_url)") from None
            except httpx.TransportError as exc:  # timeouts, a connection dropped mid-answer
                if attempt == self.retries:
                    raise UsageError(f"llm: {self.base_url} did not answer after {self.retries + 1} tries "
                                     f"({type(exc).__name__}; llm.timeout is {self.timeout:g} s)") from None
            else:
                if response.status_code < 400:
                    return _answer_of(response, time.perf_counter() - start, self.base_url)
                if response.status_code not in _RETRY_STATUSES or attempt == self.retries:
                    raise UsageError(_refusal(response, self))
            with self._lock:
                self.stats["retries"] += 1
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _answer_of(response, seconds: float, where: str) -> Answer:
    try:
        body = response.json()
        text = body["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        raise UsageError(f"llm: {where} answered with something that is not a chat completion") from None
    usage = body.get("usage") or {}
    return Answer(str(text), int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), False, seconds)


def _refusal(response, endpoint: Endpoint) -> str:
    """One line for a refused request: the status, the server's own message, what to do."""
    try:
        detail = response.json().get("error", "")
        detail = detail.get("message", "") if isinstance(detail, dict) else str(detail)
    except (ValueError, AttributeError):
        detail = response.text
    detail = " ".join(str(detail).split())[:200]
    hint = {401: "the key was refused: set the variable llm.api_key_env names",
            403: "the key may not use this model",
            404: f"no model {endpoint.model!r} there, or base_url does not end in /v1"}.get(response.status_code, "")
    return f"llm: {endpoint.base_url} answered HTTP {response.status_code}" + (f" ({detail})" if detail else "") + (
        f": {hint}" if hint else "")


class AnswerCache:
    """Answers on disk, keyed by SHA-256 of (model, prompt hash, text); ``path=None`` keeps none."""

    def __init__(self, path: Path | None):
        self.path = path
        self._db = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, "
                             "tokens_in INTEGER, tokens_out INTEGER)")

    @staticmethod
    def key(model: str, prompt_sha256: str, text: str) -> str:
        return hashlib.sha256(json.dumps([model, prompt_sha256, text]).encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> Answer | None:
        if self._db is None:
            return None
        row = self._db.execute("SELECT answer, tokens_in, tokens_out FROM answers WHERE key = ?", (key,)).fetchone()
        return None if row is None else Answer(row[0], row[1] or 0, row[2] or 0, cached=True)

    def put(self, key: str, answer: Answer) -> None:
        if self._db is not None:
            with self._db:  # one transaction per answer: an interrupt loses none that arrived
                self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                                 (key, answer.text, answer.tokens_in, answer.tokens_out))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def ask_all(endpoint: Endpoint, conversations: list[list[dict]], keys: list[str], cache: AnswerCache,
            concurrency: int) -> list[Answer]:
    """The answer to each conversation, from the cache where it is there, else asked with at
    most ``concurrency`` requests in flight; each new answer is cached as it arrives."""
    import httpx

    answers: list[Answer | None] = [cache.get(k) for k in keys]
    missing = [i for i, a in enumerate(answers) if a is None]
    if not missing:
        return answers
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=endpoint.timeout, limits=limits) as client, \
            ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = {pool.submit(endpoint.ask, client, conversations[i]): i for i in missing}
        try:
            for future in as_completed(futures):
                i = futures[future]
                answers[i] = future.result()
                cache.put(keys[i], answers[i])
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return answers
