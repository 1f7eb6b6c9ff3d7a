"""README's first table is the default run's real output: a newcomer checks an installation
against it, so the classical rows must come out of ``run`` on the bundled data exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmark.__main__ import main

README = Path(__file__).resolve().parents[2] / "README.md"


def first_table() -> dict[str, list[str]]:
    """The first ``| classifier | accuracy ...`` table in README: classifier -> its cells."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| classifier | accuracy"))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_first_table_lists_the_four_built_in_classifiers():
    assert list(first_table()) == ["bow", "w2v", "bert", "embed"]


@pytest.mark.slow
def test_the_classical_rows_are_what_run_gives_on_the_default_data(tmp_path):
    table = first_table()
    # The suite's own default is the small gensim sample (conftest); README's run uses sentibench's.
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--data", "sample:uci", "--latency-calls", "5",
                 "--output", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    for name in ("bow", "w2v"):
        record = results["classifiers"][name]
        low, high = record["ci"]["accuracy"]["low"], record["ci"]["accuracy"]["high"]
        shown = re.fullmatch(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", table[name][0])
        assert shown, table[name][0]
        assert shown.groups() == (f"{record['metrics']['accuracy']:.4f}", f"{low:.4f}", f"{high:.4f}"), name
