"""The HTTP API of ``serve`` (FastAPI on uvicorn): ``POST /predict``, ``GET /health``,
``GET /metrics`` (Prometheus text), ``GET /docs`` (OpenAPI) and ``GET /`` (a page to try a review).

Every refusal is a 4xx with a JSON body ``{"error": "..."}`` in one line; an error of the model
is a 500 that says only that (its traceback goes to the server's log, never to a client).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, StrictStr, ValidationError
from starlette.exceptions import HTTPException

from .batching import MicroBatcher
from .metrics import ServeMetrics
from .page import PAGE, PAGE_HEADERS
from .settings import BatchPolicy, Limits

logger = logging.getLogger(__name__)

__all__ = ["build_app"]


class PredictRequest(BaseModel):
    texts: list[StrictStr] = Field(description="the reviews to label", min_length=1)


class Prediction(BaseModel):
    label: str
    probability: float = Field(description="the probability of the label")
    probabilities: dict[str, float] = Field(description="per class, in the run's class order")


class PredictResponse(BaseModel):
    classifier: str
    classes: list[str]
    predictions: list[Prediction]
    latency_ms: float = Field(description="time in the server, from the request read to the answer")


class Refused(Exception):
    """A request the server will not answer: its status and one-line reason."""

    def __init__(self, status: int, reason: str, headers: dict | None = None):
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers


def _error(status: int, reason: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(reason).split())}, status_code=status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"the request body is over {limit} bytes")
    size, parts = 0, []
    async for chunk in request.stream():  # a chunked body has no content-length: count it
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the request body is over {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _texts_of(body: bytes, limits: Limits) -> list[str]:
    try:
        texts = PredictRequest.model_validate_json(body).texts
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise Refused(422, f'expected {{"texts": ["a review", ...]}}: {where}: {first.get("msg", "invalid")}') from None
    if len(texts) > limits.max_texts:
        raise Refused(413, f"{len(texts)} texts in one request; at most {limits.max_texts}")
    long = next((i for i, t in enumerate(texts) if len(t) > limits.max_chars), None)
    if long is not None:
        raise Refused(413, f"texts[{long}] has {len(texts[long])} characters; at most {limits.max_chars}")
    return texts


class _Guard:
    """The API key (``Authorization: Bearer KEY``) and the requests in flight."""

    def __init__(self, api_key: str | None, limits: Limits):
        self.api_key, self.limits, self.in_flight = api_key, limits, 0

    def check_key(self, request: Request) -> None:
        if not self.api_key:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.api_key.encode()):
            raise Refused(401, "this server needs an API key: send 'Authorization: Bearer KEY'",
                          {"WWW-Authenticate": "Bearer"})

    def admit(self) -> None:
        if self.in_flight >= self.limits.max_concurrency:
            raise Refused(503, f"the server is busy ({self.limits.max_concurrency} requests in flight); retry shortly",
                          {"Retry-After": "1"})
        self.in_flight += 1


def build_app(model, policy: BatchPolicy, limits: Limits | None = None, api_key: str | None = None) -> FastAPI:
    """The API over ``model`` (a :class:`~benchmark.serve.model.ServedModel`, or anything with
    ``name``, ``classes``, ``run_id`` and ``label(texts)``); ``limits`` default to :class:`Limits`."""
    limits = limits or Limits()
    metrics = ServeMetrics()
    guard = _Guard(api_key, limits)
    state: dict = {}

    @asynccontextmanager
    async def lifespan(_app):
        state["batcher"] = MicroBatcher(model.label, policy, on_batch=metrics.batch)
        state["batcher"].start()
        yield
        await state["batcher"].stop()

    app = FastAPI(title="sentibench serve", version="1", lifespan=lifespan,
                  description=f"Classifier {model.name} of run {model.run_id}.")

    @app.exception_handler(HTTPException)
    async def http_error(_request, exc: HTTPException):  # 404, 405: JSON like every other refusal
        return _error(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(Refused)
    async def refused(_request, exc: Refused):
        return _error(exc.status, exc.reason, exc.headers)

    @app.middleware("http")
    async def count(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        metrics.request(request.url.path, response.status_code, time.perf_counter() - started)
        return response

    @app.post("/predict", response_model=PredictResponse, openapi_extra=_REQUEST_DOC,
              responses={code: {"description": why} for code, why in _REFUSALS.items()})
    async def predict(request: Request):
        guard.check_key(request)
        guard.admit()
        try:
            return await _predict(request, model, state["batcher"], limits, metrics)
        finally:
            guard.in_flight -= 1

    @app.get("/health")
    async def health():
        return {"status": "ok", "classifier": model.name, "classes": model.classes, "run_id": model.run_id,
                "batching": policy.as_dict(), "limits": asdict(limits), "needs_api_key": bool(api_key)}

    @app.get("/metrics")
    async def prometheus(request: Request):
        guard.check_key(request)
        body, content_type = metrics.exposition(in_flight=guard.in_flight)
        return Response(body, media_type=content_type)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(PAGE, headers=PAGE_HEADERS)

    return app


async def _predict(request: Request, model, batcher: MicroBatcher, limits: Limits, metrics: ServeMetrics) -> dict:
    started = time.perf_counter()
    texts = _texts_of(await _read_body(request, limits.max_body_bytes), limits)
    try:
        answers = await asyncio.wait_for(batcher.label(texts), limits.timeout_s)
    except TimeoutError:
        raise Refused(504, f"not answered within {limits.timeout_s:g} s; send fewer or shorter texts") from None
    except Exception:  # the model's own failure: logged here, never shown to the client
        logger.exception("the model failed on a batch")
        metrics.model_error()
        return _error(500, "the model failed on this request; the server's log says why")
    metrics.reviews(len(texts))
    return {"classifier": model.name, "classes": model.classes, "predictions": answers,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


_REFUSALS = {
    401: "an API key is needed (Authorization: Bearer KEY)",
    413: "the body, the number of texts or a text's length is over the limit",
    422: 'the body is not {"texts": [strings]}',
    503: "too many requests in flight",
    504: "not answered within the timeout",
}

_REQUEST_DOC = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": PredictRequest.model_json_schema(),
    "example": json.loads('{"texts": ["The soup was cold and the waiter rude.", "Lovely staff, great coffee."]}'),
}}}}
