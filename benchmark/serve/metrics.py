"""``GET /metrics``: requests, errors, latency and batch sizes in the Prometheus text format
(prometheus-client, one registry per app so that two servers in one process never mix)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ServeMetrics"]

#: The paths counted by name; any other (a scanner's guesses) is counted as "other".
PATHS = frozenset({"/predict", "/health", "/metrics", "/", "/docs", "/openapi.json"})
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServeMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self._requests = Counter("sentibench_requests", "HTTP requests by path and status", ["path", "status"],
                                 registry=self.registry)
        self._latency = Histogram("sentibench_request_seconds", "time in the server per request, by path", ["path"],
                                  buckets=_LATENCY_BUCKETS, registry=self.registry)
        self._batches = Histogram("sentibench_batch_reviews", "reviews labelled in one call of the model",
                                  buckets=_BATCH_BUCKETS, registry=self.registry)
        self._reviews = Counter("sentibench_reviews", "reviews labelled", registry=self.registry)
        self._model_errors = Counter("sentibench_model_errors", "batches the model failed on", registry=self.registry)
        self._in_flight = Gauge("sentibench_requests_in_flight", "requests to /predict being answered",
                                registry=self.registry)

    def request(self, path: str, status: int, seconds: float) -> None:
        path = path if path in PATHS else "other"
        self._requests.labels(path=path, status=str(status)).inc()
        self._latency.labels(path=path).observe(seconds)

    def batch(self, size: int) -> None:
        self._batches.observe(size)

    def reviews(self, count: int) -> None:
        self._reviews.inc(count)

    def model_error(self) -> None:
        self._model_errors.inc()

    def exposition(self, in_flight: int) -> tuple[bytes, str]:
        self._in_flight.set(in_flight)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
