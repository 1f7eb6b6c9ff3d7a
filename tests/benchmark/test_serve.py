"""``serve``: the real server (uvicorn, a separate process on a free loopback port) over the
shared finished run's saved models; the micro-batcher on its own, in an event loop."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

from benchmark.serve.batching import MicroBatcher
from benchmark.serve.settings import BatchPolicy, Limits

from .._helpers import one_line_error, run_main, unused_port

KEY = "s3cret-key-for-tests"


@contextmanager
def server(run_dir, *args: str, env: dict | None = None, port: int | None = None):
    """``python -m benchmark serve RUN_DIR ARGS`` on ``port`` (default a free one): yields (port, process)."""
    port = port or unused_port()
    process = subprocess.Popen([sys.executable, "-m", "benchmark", "-q", "serve", str(run_dir), "--port", str(port), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})}, cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the server did not answer /health within 60 s"
            time.sleep(0.1)
        yield port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def request(port: int, method: str, path: str, body=None, headers: dict | None = None, raw: bytes | None = None):
    """(status, headers, body) of one request; a JSON body is decoded."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})},
                           encode_chunked=not isinstance(data, bytes | None))  # an iterator: sent in chunks
        response = connection.getresponse()
        payload = response.read()
        kind = response.getheader("content-type", "")
        return response.status, dict(response.getheaders()), json.loads(payload) if "json" in kind else payload.decode()
    finally:
        connection.close()


def _predictions(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]


def test_the_server_answers_as_the_run_predicted(finished_run):
    lines = _predictions(finished_run)
    classes = json.loads((finished_run / "results.json").read_text())["data"]["classes"]
    before = sorted(p.relative_to(finished_run) for p in finished_run.rglob("*"))
    for name in ("bow", "w2v"):
        with server(finished_run, "--classifier", name) as (port, _):
            status, _, answer = request(port, "POST", "/predict", {"texts": [line["text"] for line in lines]})
            assert status == 200 and answer["classifier"] == name and answer["classes"] == classes
            for line, got in zip(lines, answer["predictions"], strict=True):
                assert got["label"] == classes[line["pred"][name]]
                assert list(got["probabilities"]) == classes
                assert list(got["probabilities"].values()) == pytest.approx(line["proba"][name], abs=2e-6)
                assert got["probability"] == got["probabilities"][got["label"]]
            _, _, health = request(port, "GET", "/health")
            assert health["classifier"] == name and health["batching"] == {"max_batch": 256, "max_wait_ms": 0.0}
    assert sorted(p.relative_to(finished_run) for p in finished_run.rglob("*")) == before  # serve writes nothing


def test_bad_requests_are_4xx_with_a_one_line_json_error(finished_run):
    limits = ["--max-texts", "3", "--max-chars", "40", "--max-body-bytes", "400"]
    with server(finished_run, "--classifier", "bow", *limits) as (port, _):
        cases = [
            ({"texts": []}, 422, "texts"), ({"text": "good"}, 422, "texts"), ({"texts": ["ok", 3]}, 422, "texts.1"),
            ({"texts": ["a", "b", "c", "d"]}, 413, "at most 3"), ({"texts": ["x" * 41]}, 413, "at most 40"),
            ({"texts": ["fine"] * 3, "pad": "p" * 400}, 413, "over 400 bytes"),
        ]
        for body, status, needle in cases:
            got, _, answer = request(port, "POST", "/predict", body)
            assert (got, list(answer)) == (status, ["error"]) and needle in answer["error"], (body, answer)
            assert "\n" not in answer["error"] and "Traceback" not in answer["error"]
        assert request(port, "POST", "/predict", raw=b"{not json")[0] == 422
        # a chunked body says no length: it is counted as it arrives
        chunked = request(port, "POST", "/predict", raw=iter([b'{"texts": ["', b"y" * 500, b'"]}']))
        assert chunked[0] == 413 and "over 400 bytes" in chunked[2]["error"]
        assert request(port, "GET", "/nowhere")[:3:2] == (404, {"error": "Not Found"})
        assert request(port, "GET", "/predict")[0] == 405
        status, _, answer = request(port, "POST", "/predict", {"texts": ["lovely", "awful"]})
        assert status == 200 and len(answer["predictions"]) == 2  # still serving
        _, headers, metrics = request(port, "GET", "/metrics")
    assert headers["content-type"].startswith("text/plain")
    assert 'sentibench_requests_total{path="/predict",status="413"} 4.0' in metrics
    assert 'sentibench_requests_total{path="/predict",status="200"} 1.0' in metrics
    assert "sentibench_batch_reviews_count 1.0" in metrics and "sentibench_reviews_total 2.0" in metrics


def test_an_api_key_is_asked_for_on_predict_and_metrics(finished_run):
    with server(finished_run, "--classifier", "bow", env={"SENTIBENCH_API_KEY": KEY}) as (port, process):
        body = {"texts": ["great"]}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            status, got, answer = request(port, "POST", "/predict", body, headers)
            assert status == 401 and got["www-authenticate"] == "Bearer" and KEY not in json.dumps(answer)
        assert request(port, "GET", "/metrics")[0] == 401
        assert request(port, "POST", "/predict", body, {"Authorization": f"Bearer {KEY}"})[0] == 200
        assert request(port, "GET", "/health")[2]["needs_api_key"] is True
    _, err = process.communicate()
    assert KEY not in err


def test_another_address_than_loopback_needs_an_api_key_and_a_busy_port_is_one_line(finished_run, capsys, monkeypatch):
    monkeypatch.delenv("SENTIBENCH_API_KEY", raising=False)
    one_line_error(run_main(capsys, "serve", str(finished_run), "--classifier", "bow", "--host", "0.0.0.0"),
                   "--host 0.0.0.0", "API key")
    with server(finished_run, "--classifier", "bow") as (port, _):
        one_line_error(run_main(capsys, "serve", str(finished_run), "--classifier", "bow", "--port", str(port)),
                       f"cannot listen on 127.0.0.1:{port}")
    one_line_error(run_main(capsys, "serve", str(finished_run), "--classifier", "bert"), "no saved model for bert")
    one_line_error(run_main(capsys, "serve", str(finished_run), "--timeout", "0"), "--timeout must be more than 0")


@pytest.mark.slow  # two servers, about 8 s
def test_the_page_is_self_contained_and_a_killed_server_leaves_the_port_free(finished_run):
    recommended = json.loads((finished_run / "results.json").read_text())["recommendation"]["classifier"]
    with server(finished_run) as (port, process):  # by default, the recommended classifier
        assert request(port, "GET", "/health")[2]["classifier"] == recommended
        status, headers, page = request(port, "GET", "/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "unsafe-inline" not in policy
        assert "http://" not in page and "https://" not in page and " src=" not in page
        process.kill()
        process.wait(10)
    with server(finished_run, "--classifier", "bow", port=port):  # the same port, at once
        pass


class _SlowModel:
    """A model that takes ``seconds`` over the review "slow", and fails on the review "boom"."""

    name, classes, run_id = "slow", ["negative", "positive"], "run"

    def __init__(self, seconds: float):
        self.seconds = seconds

    def label(self, texts):
        if "boom" in texts:
            raise RuntimeError("secret internals of the model")
        time.sleep(self.seconds if "slow" in texts else 0)
        return [{"label": "positive", "probability": 0.9, "probabilities": {"negative": 0.1, "positive": 0.9}}] * len(texts)


def test_past_the_timeout_is_504_past_the_concurrency_limit_503_and_a_model_error_500_without_its_details():
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from benchmark.serve.app import build_app

    app = build_app(_SlowModel(2.0), BatchPolicy(max_batch=1, max_wait_ms=0), Limits(timeout_s=1.0, max_concurrency=1))
    with TestClient(app, raise_server_exceptions=False) as client, ThreadPoolExecutor(2) as pool:
        both = [pool.submit(client.post, "/predict", json={"texts": ["slow"]}) for _ in range(2)]
        answers = sorted((r.status_code, r.json()["error"]) for r in (f.result() for f in both))
        assert [code for code, _ in answers] == [503, 504], answers
        assert "1 requests in flight" in answers[0][1] and "within 1 s" in answers[1][1]
        time.sleep(1.5)  # the timed-out call ends
        failed = client.post("/predict", json={"texts": ["boom"]})
        assert failed.status_code == 500 and "secret" not in failed.text and "Traceback" not in failed.text
        assert client.post("/predict", json={"texts": ["fine"]}).status_code == 200  # and it goes on


def _run(coroutine):
    return asyncio.run(coroutine)


def test_requests_arriving_together_share_one_call_of_the_model_within_its_bounds():
    calls: list[list[str]] = []

    def score(texts):
        calls.append(list(texts))
        return [text.upper() for text in texts]

    async def scenario(policy, requests):
        batcher = MicroBatcher(score, policy)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.label(texts) for texts in requests))
        finally:
            await batcher.stop()

    answers = _run(scenario(BatchPolicy(max_batch=8, max_wait_ms=200), [["a"], ["b", "c"], ["d"]]))
    assert answers == [["A"], ["B", "C"], ["D"]] and calls == [["a", "b", "c", "d"]]
    calls.clear()
    answers = _run(scenario(BatchPolicy(max_batch=3, max_wait_ms=200), [["a", "b"], ["c", "d"], ["e"], ["f", "g", "h", "i"]]))
    assert answers == [["A", "B"], ["C", "D"], ["E"], ["F", "G", "H", "I"]]
    assert calls == [["a", "b"], ["c", "d", "e"], ["f", "g", "h", "i"]]  # never over 3, unless one request is
    calls.clear()
    _run(scenario(BatchPolicy(max_batch=1, max_wait_ms=0), [["a"], ["b"]]))
    assert calls == [["a"], ["b"]]  # micro-batching off


def test_a_model_error_reaches_every_request_of_its_batch_and_the_next_batch_is_served():
    def score(texts):
        if "boom" in texts:
            raise RuntimeError("the model broke")
        return texts

    async def scenario():
        batcher = MicroBatcher(score, BatchPolicy(max_batch=8, max_wait_ms=100))
        batcher.start()
        try:
            first = await asyncio.gather(batcher.label(["boom"]), batcher.label(["fine"]), return_exceptions=True)
            return first, await batcher.label(["later"])
        finally:
            await batcher.stop()

    first, later = _run(scenario())
    assert [type(e) for e in first] == [RuntimeError, RuntimeError] and later == ["later"]


class _DevTools:
    """Chromium's DevTools protocol over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out, each
    message ending in a NUL byte): enough to type into a page and read it back."""

    def __init__(self, url: str, profile: Path):
        from .test_report_page import CHROMIUM_FLAGS, _chromium

        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()

        # bash (dash takes one-digit fds only) puts the pipes on the browser's fd 3 (our commands) and fd 4 (its answers)
        wire = f'exec "$@" 3<&{to_browser} 4>&{from_browser}'
        # networking off as for report.html, but for this server on loopback
        flags = [f + ", EXCLUDE 127.0.0.1" if f.startswith("--host-resolver-rules=") else f for f in CHROMIUM_FLAGS]
        self.process = subprocess.Popen(["bash", "-c", wire, "bash", _chromium(), *flags, "--remote-debugging-pipe",
                                         f"--user-data-dir={profile}", url],
                                        pass_fds=(to_browser, from_browser),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id = b"", 0
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, *, may_fail: bool = False, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._in, 65536)
                assert chunk, "Chromium closed its DevTools pipe"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._id:
                assert may_fail or "error" not in answer, answer
                return answer.get("result", {})

    def evaluate(self, expression: str):
        answer = self.call("Runtime.evaluate", self.session, may_fail=True, expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")  # None while the page has no script context yet

    def wait_for(self, expression: str, seconds: float = 30):
        deadline = time.monotonic() + seconds
        while not (value := self.evaluate(expression)):
            assert time.monotonic() < deadline, f"never true in the page: {expression}"
            time.sleep(0.1)
        return value

    def close(self) -> None:
        self.process.kill()
        self.process.wait(30)
        os.close(self._in)
        os.close(self._out)


@pytest.mark.slow  # a server and a browser, about 10 s
def test_typing_a_review_into_the_page_in_headless_chromium_shows_its_label(finished_run, tmp_path):
    classes = json.loads((finished_run / "results.json").read_text())["data"]["classes"]
    with server(finished_run, "--classifier", "bow") as (port, _):
        browser = _DevTools(f"http://127.0.0.1:{port}/", tmp_path / "profile")
        try:
            browser.wait_for("document.readyState === 'complete' && document.getElementById('about').textContent")
            browser.evaluate("document.getElementById('text').focus()")
            browser.call("Input.insertText", browser.session, text="A wonderful film <b>full</b> of heart")
            browser.evaluate("document.querySelector('button').click()")
            label = browser.wait_for("document.getElementById('label').textContent")
            rows = browser.evaluate("[...document.querySelectorAll('#probabilities tr')].map(r => r.cells[0].textContent)")
            latency = browser.evaluate("document.getElementById('latency').textContent")
            errors = browser.evaluate("document.getElementById('error').textContent")
        finally:
            browser.close()
        _, _, metrics = request(port, "GET", "/metrics")
    assert label in classes and rows == classes and "ms" in latency and errors == ""
    assert 'sentibench_requests_total{path="/predict",status="200"} 1.0' in metrics  # the page asked the server


def test_a_load_test_reports_each_concurrency_and_an_absent_server_is_one_line(finished_run, tmp_path, capsys):
    figures = tmp_path / "load.json"
    with server(finished_run, "--classifier", "bow") as (port, _):
        outcome = run_main(capsys, "-q", "loadtest", f"http://127.0.0.1:{port}", "--concurrency", "1,4", "--duration", "1",
                           "--data", "sample:pang-lee", "--json", str(figures))
        _, _, metrics = request(port, "GET", "/metrics")
    assert outcome.returncode == 0, outcome.stderr
    result = json.loads(figures.read_text())
    assert [level["concurrency"] for level in result["levels"]] == [1, 4] and result["classifier"] == "bow"
    for level in result["levels"]:
        assert level["requests"] > 0 and level["errors"] == 0
        assert level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"] and level["throughput_rps"] > 0
    answered = sum(level["requests"] for level in result["levels"]) + 1 + 4  # and one untimed request per client
    assert f'sentibench_requests_total{{path="/predict",status="200"}} {float(answered)}' in metrics
    assert "| 4 " in outcome.stdout and result["cpu"] in outcome.stdout
    one_line_error(run_main(capsys, "loadtest", f"http://127.0.0.1:{unused_port()}", "--duration", "1"), "no server answers")


@pytest.mark.slow
def test_measure_serves_each_saved_classifier_in_turn_and_adds_the_as_deployed_section(finished_run, tmp_path, capsys):
    import shutil

    run = shutil.copytree(finished_run, tmp_path / "run")
    before = {p.relative_to(run) for p in run.rglob("*")}
    outcome = run_main(capsys, "-q", "serve", str(run), "--measure", "--concurrency", "1,2", "--duration", "0.5",
                       "--data", "sample:pang-lee")
    assert outcome.returncode == 0, outcome.stderr
    deployed = json.loads((run / "deployed.json").read_text())
    assert sorted(deployed["classifiers"]) == ["bow", "w2v"] and deployed["concurrency"] == [1, 2]
    for entry in deployed["classifiers"].values():
        assert [lv["concurrency"] for lv in entry["levels"]] == [1, 2]
        assert all(lv["requests"] > 0 and lv["errors"] == 0 for lv in entry["levels"])
    assert {p.relative_to(run) for p in run.rglob("*")} - before == {Path("deployed.json")}  # no server left files
    report = (run / "report.md").read_text()
    section = report[report.index("## As deployed"):]
    assert "| `bow` " in section and "| `w2v` " in section and deployed["cpu"] in section
    # A damaged deployed.json is one line when the report is drawn again, never a traceback.
    (run / "deployed.json").write_text('{"format": 1, "classifiers": {"bow": {"levels": [{"p50_ms": "x"}]}}}')
    one_line_error(run_main(capsys, "report", str(run)), "deployed.json is damaged")
