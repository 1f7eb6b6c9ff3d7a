"""``predict`` on large files: one answer per input line, read and written in chunks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .._helpers import run_main

#: Characters that str.splitlines() (and text mode, for \r) take as line ends: in a review
#: they are characters (NEL is a mis-decoded ellipsis, common in scraped text).
ODD = ["\u0085", "\u2028", "\u2029", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "lone\rcarriage"]


def test_one_answer_per_line_whatever_the_review_holds(finished_run, tmp_path, capsys):
    lines = [f"great food{c}and friendly staff {i}" for i, c in enumerate(ODD)]
    reviews = tmp_path / "reviews.txt"
    reviews.write_bytes(("\n".join(lines[:4]) + "\r\n" + "\n".join(lines[4:]) + "\n").encode("utf-8"))
    outcome = run_main(capsys, "predict", "--run", str(finished_run), "--classifiers", "bow", "--json", "--file", str(reviews))
    assert outcome.returncode == 0, outcome.stderr
    rows = [json.loads(line) for line in outcome.stdout.split("\n") if line]
    assert [r["index"] for r in rows] == list(range(len(lines)))
    assert [r["text"] for r in rows] == lines


def test_stdin_lines_end_at_newline_only(finished_run, tmp_path):
    data = "nice\u0085place\nawful\rservice\n\nfine\r\n"
    proc = subprocess.run([sys.executable, "-m", "benchmark", "-q", "predict", "--run", str(finished_run), "--classifiers", "bow",
                           "--json"], input=data.encode(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.decode().split("\n") if line]
    assert [(r["index"], r["text"]) for r in rows] == [(0, "nice\u0085place"), (1, "awful\rservice"), (3, "fine")]


def test_predict_writes_chunk_by_chunk(finished_run, tmp_path, capsys, monkeypatch):
    """Each chunk is labelled and written before the next is read: what is held at once is
    one chunk, whatever the number of lines."""
    from benchmark import predict

    monkeypatch.setattr(predict, "CHUNK", 7)
    reviews = tmp_path / "many.txt"
    reviews.write_text("".join(f"review number {i} was good\n" for i in range(30)))
    sizes, real = [], predict.Labeller.rows

    def rows(self, texts, indices=None, **kwargs):
        sizes.append(len(texts))
        return real(self, texts, indices, **kwargs)

    monkeypatch.setattr(predict.Labeller, "rows", rows)
    outcome = run_main(capsys, "predict", "--run", str(finished_run), "--json", "--no-text", "--file", str(reviews))
    assert outcome.returncode == 0, outcome.stderr
    assert sizes == [7, 7, 7, 7, 2]
    rows_out = [json.loads(line) for line in outcome.stdout.split("\n") if line]
    assert [r["index"] for r in rows_out] == list(range(30))
    assert all("text" not in r and set(r["predictions"]) == {"bow", "w2v"} for r in rows_out)


def test_no_text_table_names_lines(finished_run, capsys):
    outcome = run_main(capsys, "predict", "--run", str(finished_run), "--classifiers", "bow", "--no-text", "secret review text")
    assert outcome.returncode == 0
    assert "secret" not in outcome.stdout and "| line" in outcome.stdout


def test_escape_sequences_in_a_review_are_shown_not_obeyed(finished_run, capsys):
    outcome = run_main(capsys, "predict", "--run", str(finished_run), "--classifiers", "bow", "nice\x1b[2J place\x1b]0;title\x07")
    assert outcome.returncode == 0
    assert "\x1b" not in outcome.stdout and "\x07" not in outcome.stdout
    assert "\\x1b[2J" in outcome.stdout


@pytest.mark.slow
def test_peak_memory_is_flat_in_the_number_of_lines(finished_run, tmp_path):
    """Peak RSS (the child's own VmHWM) for 20,000 and 200,000 lines: within 40 MB."""
    script = ("import sys, runpy; sys.argv = ['benchmark'] + sys.argv[1:]\n"
              "try:\n    runpy.run_module('benchmark', run_name='__main__')\nexcept SystemExit:\n    pass\n"
              "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1], file=sys.stderr)\n")
    peaks = []
    for n in (20_000, 200_000):
        reviews = tmp_path / f"r{n}.txt"
        reviews.write_text("".join(f"the food was lovely and the staff friendly, visit {i}\n" for i in range(n)))
        out = tmp_path / f"out{n}.jsonl"
        with out.open("wb") as sink:
            proc = subprocess.run([sys.executable, "-c", script, "-q", "predict", "--run", str(finished_run), "--classifiers", "bow",
                                   "--json", "--file", str(reviews)], stdout=sink, stderr=subprocess.PIPE, timeout=600)
        assert sum(1 for _ in out.open("rb")) == n
        peaks.append(int(proc.stderr.decode().split()[-1]) / 1024)
    assert peaks[1] - peaks[0] < 40, peaks


def test_escape_sequences_in_labels_never_reach_the_log(tmp_path, capsys):
    data = tmp_path / "crafted.csv"
    rows = [f"good food {i},\x1b]0;pwned\x07yes\x1b[2J" for i in range(40)] + [f"awful food {i},no" for i in range(40)]
    data.write_text("text,label\n" + "\n".join(rows) + "\n")
    outcome = run_main(capsys, "data", "info", str(data))
    assert outcome.returncode == 0, outcome.stderr
    assert "\x1b" not in outcome.stderr + outcome.stdout and "\x07" not in outcome.stderr + outcome.stdout
    assert "loaded 80 reviews" in outcome.stderr and "\\x1b]0;pwned" in outcome.stderr
