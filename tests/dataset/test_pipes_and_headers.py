"""Data from a pipe, and headers that cannot say which column is which."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dataset import DataError, load_reviews

from .._helpers import one_line_error

ROWS = "".join(f"the food was lovely {i},1\nthe service was awful {i},0\n" for i in range(30))


@pytest.mark.parametrize("fmt, sep", [("csv", ","), ("tsv", "\t")])
def test_a_delimited_file_from_a_pipe_is_read_once(fmt, sep):
    proc = subprocess.run([sys.executable, "-m", "benchmark", "data", "info", "/dev/stdin", "--format", fmt],
                          input=(f"text{sep}label\n" + ROWS.replace(",", sep)).encode(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "60 reviews" in proc.stdout.decode()


def test_an_empty_pipe_is_an_empty_file():
    proc = subprocess.run([sys.executable, "-m", "benchmark", "data", "info", "/dev/stdin", "--format", "csv"],
                          input=b"", capture_output=True, timeout=120)
    one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()),
                   "the file is empty")


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("review,sentiment,sentiment\n" + "".join(f"good {i},1,0\nbad {i},0,1\n" for i in range(20)))
    for label_column in (None, "sentiment"):
        with pytest.raises(DataError) as err:
            load_reviews(str(path), label_column=label_column)
        one_line_error(err, "'sentiment' more than once", "review,sentiment,sentiment")


@pytest.mark.parametrize("name, sep, fmt, hint", [("tabs.csv", "\t", None, "--format tsv"), ("commas.tsv", ",", "tsv", "--format csv"),
                                                  ("commas.csv", ",", "tsv", "--format csv")])
def test_the_wrong_delimiter_names_the_right_format(tmp_path, name, sep, fmt, hint):
    path = tmp_path / name
    path.write_text(f"text{sep}label\n" + ROWS.replace(",", sep))
    with pytest.raises(DataError) as err:
        load_reviews(str(path), format=fmt)
    one_line_error(err, hint, "-separated")


def test_nan_as_a_label_is_dropped_and_said_so_nan_as_a_review_is_kept(tmp_path):
    from dataset import dropped_text

    path = tmp_path / "nan.csv"
    path.write_text("text,label\n" + ROWS + "NaN,1\nthe soup was cold,NaN\n")
    data = load_reviews(str(path))
    assert "NaN" in data.texts and "the soup was cold" not in data.texts
    assert data.dropped == {"missing label": 1}
    said = dropped_text(data.dropped)
    assert said.startswith("missing label: 1 (") and "NaN" in said and "review texts are kept" in said
    proc = subprocess.run([sys.executable, "-m", "benchmark", "data", "info", str(path)], capture_output=True, text=True, timeout=120)
    assert "reading NaN" in proc.stdout and "review texts are kept as written" in proc.stdout
