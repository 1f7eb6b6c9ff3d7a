"""The classical models never pay for torch: importing sentibench or running bow/w2v
leaves torch and transformers unimported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_CHECK = """
import json, sys
{code}
print(json.dumps({{m: m in sys.modules for m in ("torch", "transformers", "accelerate")}}))
"""


def _loaded(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHECK.format(code=code)], capture_output=True, text=True, check=True,
                          env={**os.environ, "SENTIBENCH_DATA": "sample:pang-lee"})
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_packages_loads_no_torch():
    assert _loaded("import classifiers, dataset, benchmark.cli; from classifiers import BowSvmClassifier, REGISTRY; sorted(REGISTRY)") == {
        "torch": False, "transformers": False, "accelerate": False}


def test_the_notebook_api_loads_no_torch_until_asked():
    assert _loaded("import benchmark; from benchmark import compare, Comparison") == {
        "torch": False, "transformers": False, "accelerate": False}


def test_a_classical_run_with_saved_models_loads_no_torch(tmp_path):
    code = (
        "from benchmark.__main__ import main\n"
        f"assert main(['-q', 'run', '--classifiers', 'bow,w2v', '--save-models', '--latency-calls', '2', "
        f"'--set', 'w2v.min_count=1', '--output', {str(tmp_path)!r}]) == 0\n"
        "from classifiers import SentimentClassifier\n"
        "import pathlib\n"
        f"[SentimentClassifier.load(p).predict(['good']) for p in pathlib.Path({str(tmp_path)!r}).glob('*/models/*')]"
    )
    assert _loaded(code) == {"torch": False, "transformers": False, "accelerate": False}


@pytest.mark.slow
def test_asking_for_bert_loads_it():
    assert _loaded("from classifiers import REGISTRY; REGISTRY['bert']")["torch"] is True


@pytest.mark.slow
def test_bert_without_its_extra_is_one_line_naming_the_extra(tmp_path):
    # An environment without torch: an import hook that finds no module named torch.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", "run", "--classifiers", "bert", "--output", str(tmp_path / "o")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path), "SENTIBENCH_DATA": "sample:pang-lee"},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "pip install 'sentibench[bert]'" in proc.stderr
    # The classical models still run in that environment.
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", "-q", "run", "--classifiers", "bow", "--output", str(tmp_path / "o"),
         "--latency-calls", "2"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path), "SENTIBENCH_DATA": "sample:pang-lee"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
