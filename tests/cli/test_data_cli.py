"""``data info`` and named datasets through the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmark.__main__ import main

YELP_ROWS = [
    ("1", 'The soup was cold and the waiter said ""so what"".\\nNever again.'),
    ("2", "Lovely staff, great coffee, we will be back!"),
] * 20


def write_polarity(path):
    path.write_text("".join(f'"{label}","{text}"\n' for label, text in YELP_ROWS), encoding="utf-8")


def test_data_info_prints_balance_and_lengths_and_saves_histogram(tmp_path, capsys):
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"{'great food ' * (i + 1)},{i % 2}\n" for i in range(60)) + ",1\n")
    plot = tmp_path / "lengths.png"
    assert main(["data", "info", str(data), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "60 reviews (61 rows read; dropped: empty text: 1)" in out
    assert "negative (0): 30 (50.0%), positive (1): 30 (50.0%)" in out
    assert "> 128 tokens" in out and "BERT tokens (60 reviews)" in out
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_run_on_a_downloaded_dataset_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    assert main(["-q", "run", "--classifiers", "bow", "--data", "yelp-polarity", "--output", str(tmp_path)]) == 2
    assert "python -m benchmark data download yelp-polarity" in capsys.readouterr().err
    folder = tmp_path / "cache" / "yelp_review_polarity_csv"
    folder.mkdir(parents=True)
    write_polarity(folder / "test.csv")
    write_polarity(folder / "train.csv")
    out = tmp_path / "runs"
    assert main(["-q", "run", "--classifiers", "bow", "--data", "yelp-polarity", "--output", str(out), "--set", "bow.min_df=1"]) == 0
    (run_dir,) = out.iterdir()
    data = json.loads((run_dir / "results.json").read_text())["data"]
    assert data["format"] == "yelp-polarity" and data["rows_loaded"] == 40
    assert data["label_names"] == {"0": "1", "1": "2"}


# The child's own peak: VmHWM belongs to the memory the child's program mapped. getrusage's
# ru_maxrss does not: Linux carries the parent's peak over fork and exec, so under a pytest
# process that had loaded BERT it read 3.8 GiB for a load that peaks at 1.1 GiB.
_LOAD_AND_MEASURE = """
import sys, time
from dataset import load_reviews
start = time.perf_counter()
data = load_reviews(sys.argv[1])
hwm_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(len(data), data.format, time.perf_counter() - start, hwm_kib / 1024)
"""


@pytest.mark.slow
def test_560k_yelp_polarity_rows_load_within_a_few_gib(tmp_path):
    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "food", "service", "slow", "great", "never", "again", 'said ""wow""', "staff"])
    path = tmp_path / "train.csv"
    with path.open("w") as fh:
        for i in range(560_000):
            fh.write(f'"{i % 2 + 1}","{" ".join(rng.choice(words, 40))}\\\\nthe end"\n')
    out = subprocess.run([sys.executable, "-c", _LOAD_AND_MEASURE, str(path)], capture_output=True, text=True, check=True, timeout=300)
    rows, fmt, seconds, peak_mb = out.stdout.split()
    assert int(rows) == 560_000 and fmt == "yelp-polarity"
    assert float(peak_mb) < 3 * 1024
