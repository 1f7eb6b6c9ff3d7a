"""``python -m benchmark serve RUN_DIR``: one saved classifier behind HTTP on uvicorn.

It binds loopback unless told otherwise, and elsewhere only with an API key (``--api-key``
or ``$SENTIBENCH_API_KEY``). It writes nothing: a killed server leaves nothing behind.
With ``--workers N`` each of N processes loads the model and batches its own requests; the
settings reach them through the environment (the key too: it is never written to a file).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
from dataclasses import asdict

from dataset import UsageError

from .app import build_app
from .model import ServedModel
from .settings import BatchPolicy, Limits, ServeSettings, default_policy

logger = logging.getLogger(__name__)

__all__ = ["API_KEY_VARIABLE", "serve"]

API_KEY_VARIABLE = "SENTIBENCH_API_KEY"
_SETTINGS_VARIABLE = "SENTIBENCH_SERVE_SETTINGS"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def _policy(settings: ServeSettings, model: ServedModel) -> BatchPolicy:
    base = default_policy(model.batches_well)
    return BatchPolicy(max_batch=settings.max_batch or base.max_batch,
                       max_wait_ms=base.max_wait_ms if settings.max_wait_ms is None else settings.max_wait_ms)


def make_app(settings: ServeSettings, api_key: str | None):
    model = ServedModel(settings.run_dir, settings.classifier)
    policy = _policy(settings, model)
    logger.info("serving %s of run %s: batches of up to %d reviews, waiting up to %g ms", model.name, model.run_id,
                policy.max_batch, policy.max_wait_ms)
    return build_app(model, policy, settings.limits, api_key)


def app_from_environment():
    """The app of one ``--workers`` process (uvicorn's factory)."""
    raw = json.loads(os.environ[_SETTINGS_VARIABLE])
    settings = ServeSettings(**{**raw, "limits": Limits(**raw["limits"])})
    return make_app(settings, os.environ.get(API_KEY_VARIABLE) or None)


def _check_address(host: str, port: int, api_key: str | None) -> None:
    if not is_loopback(host) and not api_key:
        raise UsageError(f"--host {host} lets other machines reach the model: give an API key with --api-key or "
                         f"${API_KEY_VARIABLE} (clients then send 'Authorization: Bearer KEY')")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as probe:
            probe.bind((host, port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(settings: ServeSettings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          api_key: str | None = None, log_level: str = "info") -> int:
    """Serve until stopped (Ctrl-C or SIGTERM)."""
    import uvicorn

    api_key = api_key or os.environ.get(API_KEY_VARIABLE) or None
    _check_address(host, port, api_key)
    common = dict(host=host, port=port, log_level=log_level.lower(), access_log=False, server_header=False)
    where = f"[{host}]" if ":" in host else host
    if workers > 1:
        os.environ[_SETTINGS_VARIABLE] = json.dumps(asdict(settings))
        if api_key:
            os.environ[API_KEY_VARIABLE] = api_key
        make_app(settings, api_key)  # the folder's problems are told here, in one line, before any worker starts
        print(f"serving on http://{where}:{port}/ with {workers} processes (API docs at /docs); Ctrl-C stops", flush=True)
        uvicorn.run("benchmark.serve.run:app_from_environment", factory=True, workers=workers, **common)
        return 0
    app = make_app(settings, api_key)
    print(f"serving on http://{where}:{port}/ (API docs at /docs); Ctrl-C stops", flush=True)
    uvicorn.run(app, **common)
    return 0
