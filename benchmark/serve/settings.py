"""What ``serve`` is told: its batch policy, its limits and where its model is. Nothing here
imports the web stack, so that the command line takes its defaults from these declarations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["BatchPolicy", "CLASSICAL_POLICY", "ENCODER_POLICY", "Limits", "ServeSettings", "default_policy"]


@dataclass(frozen=True)
class BatchPolicy:
    """How requests are gathered into one call of the model."""

    max_batch: int = 32  # reviews in one call at most (a larger request is labelled alone)
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for others

    def as_dict(self) -> dict:
        return asdict(self)


#: A neural encoder (``batches_well``): gather for 5 ms, up to 32 reviews.
ENCODER_POLICY = BatchPolicy(max_batch=32, max_wait_ms=5.0)
#: A classical model labels one review in microseconds: never wait, combine only what is queued.
CLASSICAL_POLICY = BatchPolicy(max_batch=256, max_wait_ms=0.0)


def default_policy(batches_well: bool) -> BatchPolicy:
    return ENCODER_POLICY if batches_well else CLASSICAL_POLICY


@dataclass(frozen=True)
class Limits:
    """What one request may ask, and how many may be in flight at once."""

    max_body_bytes: int = 1_000_000
    max_texts: int = 256  # reviews per request
    max_chars: int = 20_000  # characters per review
    max_concurrency: int = 64  # requests to /predict in flight; more are refused (503)
    timeout_s: float = 30.0  # a request not answered by then is given up (504)


@dataclass
class ServeSettings:
    run_dir: str
    classifier: str | None = None
    max_batch: int | None = None  # None: the classifier's default policy
    max_wait_ms: float | None = None
    limits: Limits = field(default_factory=Limits)
