"""``docs/notebooks/seed.ipynb`` runs top to bottom in a real Jupyter kernel and shows the
comparison it describes (issue #31)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "seed.ipynb"


def test_the_notebook_is_kept_without_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def _text(output: dict) -> str:
    if output["output_type"] == "stream":
        return output["text"]
    return "".join(output.get("data", {}).get("text/plain", "")) + "".join(output.get("data", {}).get("text/html", ""))


@pytest.mark.slow
def test_the_seed_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    # A kernel of this interpreter, whatever kernels the machine has; it imports this checkout.
    kernel = tmp_path / "jupyter" / "kernels" / "sentibench-test"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "sentibench test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    root = str(NOTEBOOK.parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="sentibench-test", timeout=300,
                            resources={"metadata": {"path": str(work)}}).execute()

    outputs = [[o for o in c.outputs] for c in nb.cells if c.cell_type == "code"]
    assert not [o for cell in outputs for o in cell if o["output_type"] == "error"]
    text = "\n".join(_text(o) for cell in outputs for o in cell)
    assert "3,000 reviews" in text
    assert "use bow" in text or "use w2v" in text  # the recommendation sentence
    pngs = [o for cell in outputs for o in cell if "image/png" in o.get("data", {})]
    assert len(pngs) >= 4  # the length histogram, two confusion matrices, the trade-off
    assert "accuracy_low" in text and "bow" in text and "w2v" in text
    assert "The food was amazing" in text
    assert '<div class="sentibench-report">' in text
    assert not any(work.iterdir())  # output=None: nothing left in the working folder
    warnings = [o["text"] for cell in outputs for o in cell if o.get("name") == "stderr"]
    assert all(w.count("the test split has only") <= 1 for w in warnings)
