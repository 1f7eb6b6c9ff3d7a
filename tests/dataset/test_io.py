"""What every package writes and raises through ``dataset``: strict JSON, folders made with
the umask, machine limits told apart from bugs, an empty data path."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from dataset import (
    DataError,
    atomic_write_json,
    json_text,
    load_reviews,
    machine_limit,
    refuse_constant,
    source_name,
    temp_folder_beside,
)

from .._helpers import one_line_error


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -np.inf, np.float32("nan"), np.array([1.0, np.nan])])
def test_json_files_never_hold_nan_or_infinity(tmp_path, value):
    """``json.dumps`` writes NaN and Infinity by default, which no strict JSON reader accepts."""
    path = tmp_path / "results.json"
    with pytest.raises(ValueError, match=r"results.json: classifiers.bow.metrics.ece is (nan|inf|-inf)"):
        atomic_write_json(path, {"classifiers": {"bow": {"metrics": {"accuracy": 0.5, "ece": value}}}})
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nothing half-written either
    assert json.loads(json_text({"ece": None, "n": np.int64(3)})) == {"ece": None, "n": 3}


def test_reading_refuses_nan_and_infinity():
    for text in ("NaN", "[Infinity]", '{"a": -Infinity}'):
        with pytest.raises(ValueError, match="is not a JSON number"):
            json.loads(text, parse_constant=refuse_constant)


def test_a_temporary_folder_gets_the_permissions_mkdir_would_give(tmp_path):
    folder = temp_folder_beside(tmp_path / "model")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert folder.parent == tmp_path and folder.name.startswith(".model.") and folder.name.endswith(".tmp")
    assert folder.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not mkdtemp's 0700
    assert plain.stat().st_mode & 0o777 != 0o700  # (the test process's umask lets others read)


@pytest.mark.parametrize(
    "exc, what",
    [
        (MemoryError(), "memory"),
        (OSError(errno.ENOSPC, "No space left on device"), "disk space"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk space"),
        (OSError(errno.ENOMEM, "Cannot allocate memory"), "memory"),
        (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                      "tried to allocate 4000000000 bytes. Error code 12 (Cannot allocate memory)"), "memory"),
        (RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 8 GB"), "memory"),
        (OSError(errno.EACCES, "Permission denied"), None),
        (RuntimeError("shapes do not match"), None),
        (ValueError("memory"), None),
    ],
)
def test_machine_limits_are_told_apart_from_bugs(exc, what):
    assert machine_limit(exc) == what


def test_numpy_running_out_of_memory_is_a_machine_limit():
    with pytest.raises(MemoryError) as excinfo:
        np.empty(2**62, dtype=np.uint8)  # refused at once: no machine has 4 EiB
    assert machine_limit(excinfo.value) == "memory"


@pytest.mark.parametrize("path", ["", "  "])
def test_an_empty_data_path_is_said_to_be_empty(path):
    with pytest.raises(DataError) as excinfo:
        load_reviews(path)
    message = one_line_error(excinfo, "no data file given", "the path is empty")
    assert "directory" not in message  # Path("") is the current folder


@pytest.mark.parametrize(
    "source, shown",
    [("/home/someone/private/reviews.csv", "reviews.csv"), ("data/reviews.tsv", "reviews.tsv"),
     ("reviews.csv", "reviews.csv"), ("hf:stanfordnlp/imdb:test", "hf:stanfordnlp/imdb:test"),
     ("bundled:pang_lee_polarity", "bundled:pang_lee_polarity")],
)
def test_a_model_card_names_a_data_file_by_its_name(source, shown):
    assert source_name(source) == shown
