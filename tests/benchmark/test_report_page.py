"""report.html: one self-contained page, checked in a real browser (headless Chromium with
networking disabled; skipped where no Chromium is installed: .ci/run installs Debian's)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from benchmark.__main__ import main
from benchmark.report import REPORT_FILE, REPORT_PAGE, write_report

#: Would mark the page and log to the console if it ever ran.
SCRIPT_REVIEW = "<script>document.body.setAttribute('data-pwned', '1'); console.error('pwned')</script> awful, never again"
#: Every kind of thing that would load something, were it markup.
LOADER_REVIEW = ('<img src="http://e.example/p.png" onerror="console.error(1)"> ![t](http://e.example/t.png) '
                 '<link rel="stylesheet" href="https://e.example/s.css"> bad')
assert len(LOADER_REVIEW) <= 160  # shown whole in the report
#: Networking off: every host name resolves to nothing, and no background services.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def hostile_run(finished_run, tmp_path_factory):
    """A copy of the finished run whose test reviews are hostile, its report regenerated."""
    run_dir = tmp_path_factory.mktemp("page") / finished_run.name
    shutil.copytree(finished_run, run_dir, ignore=shutil.ignore_patterns("models"))
    lines = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    for i, line in enumerate(lines):
        line["text"] = SCRIPT_REVIEW if i % 2 == 0 else LOADER_REVIEW
    (run_dir / "predictions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    write_report(run_dir)
    return run_dir


def _tags(page: str) -> list[tuple[str, list]]:
    """Every start tag of ``page`` with its attributes, as a browser's tokenizer sees them."""
    from html.parser import HTMLParser

    tags = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append((tag, attrs))

    Collect().feed(page)
    return tags


def _browse(run_dir, tmp_path, *args: str) -> subprocess.CompletedProcess:
    command = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args,
               (run_dir / REPORT_PAGE).as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def test_page_is_one_file_with_the_reports_content(hostile_run):
    page = (hostile_run / REPORT_PAGE).read_text()
    report = (hostile_run / REPORT_FILE).read_text()
    # Recommendation first, then the sections of report.md, in its order.
    headings = re.findall(r"^#+ (.+)$", report, flags=re.MULTILINE)
    # A heading's code span (the run id) is <code> in the page.
    positions = [page.find(">" + re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(h, quote=False)) + "</h") for h in headings]
    assert len(headings) > 5 and -1 not in positions and positions == sorted(positions)
    assert page.find("Recommendation.") < page.find("Comparison</h2>")
    # Every plot of the report, inline; nothing refers to any other file or address.
    plots = re.findall(r"!\[[^]]*\]\(([\w.-]+\.png)\)", report)
    assert plots and page.count('<img src="data:image/png;base64,') == len(plots)
    tags = _tags(page)
    assert {tag for tag, _ in tags} <= {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p",
                                        "strong", "em", "code", "ul", "ol", "li", "blockquote", "div", "table", "thead",
                                        "tbody", "tr", "th", "td", "img", "hr", "br", "pre"}
    allowed = {"class", "lang", "alt", "src"}
    assert [(tag, attrs) for tag, attrs in tags if tag != "meta" and {name for name, _ in attrs} - allowed] == []
    sources = [dict(attrs).get("src") for tag, attrs in tags if tag == "img"]
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    assert "@import" not in page and "url(" not in page


def test_report_regenerates_the_page_byte_identical(hostile_run, capsys):
    before = (hostile_run / REPORT_PAGE).read_bytes()
    (hostile_run / REPORT_PAGE).unlink()
    assert main(["report", str(hostile_run)]) == 0
    assert (hostile_run / REPORT_PAGE).read_bytes() == before


def test_page_in_a_real_browser_renders_loads_nothing_else_and_runs_no_review(hostile_run, tmp_path):
    net_log = tmp_path / "net.json"
    proc = _browse(hostile_run, tmp_path, "--dump-dom", f"--log-net-log={net_log}", "--enable-logging=stderr", "--v=0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    # Rendered, recommendation first.
    recommendation = json.loads((hostile_run / "results.json").read_text())["recommendation"]["reason"]
    assert html.escape(recommendation, quote=False) in dom
    # The hostile reviews are there as text, and did not run.
    assert html.escape(SCRIPT_REVIEW, quote=False) in dom and html.escape(LOADER_REVIEW, quote=False) in dom
    assert "data-pwned" not in dom.replace(html.escape(SCRIPT_REVIEW, quote=False), "")
    assert "script" not in {tag for tag, _ in _tags(dom)}
    # No console messages at all (a blocked load or a script would log one).
    assert [line for line in proc.stderr.splitlines() if ":CONSOLE" in line] == []
    # No request from the page: the browser's own background requests have no origin;
    # anything the page asked for would carry the file's (opaque, "null") origin.
    events = json.loads(net_log.read_text())
    start_job = events["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    from_page = [e["params"]["url"] for e in events["events"]
                 if e["type"] == start_job and "url" in e.get("params", {})
                 and e["params"].get("initiator") != "not an origin"]
    assert from_page == []


def test_page_in_a_real_browser_is_readable_at_phone_width(hostile_run, tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "phone.png"
    proc = _browse(hostile_run, tmp_path, f"--screenshot={shot}", "--window-size=390,1600", "--hide-scrollbars")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[1] == 390
    colours = np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)
    assert len(colours) > 50  # text, table rules and a plot, not a blank page
    # The text column fits the window: the right margin is page background on every row.
    assert np.all(pixels[:, -6:, :3] == pixels[0, -1, :3])
