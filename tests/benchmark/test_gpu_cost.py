"""What a GPU costs, recorded without one: GPU-seconds and their price, peak GPU memory,
the GPU in the environment record and the report, the recommendation's cost sentence,
and ``perf bert --device cuda`` refusing cleanly where there is no GPU."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from benchmark.measure import Measurement, cost_per_million, run_one
from classifiers import BowSvmClassifier
from dataset import Split, stratified_split

from .._helpers import one_line_error, run_main


def test_a_million_reviews_cost_core_seconds_on_a_cpu_and_gpu_seconds_on_a_gpu():
    timing = {"test_time_s": 0.5, "test_cpu_s": 2.0}
    cpu = cost_per_million({**timing, "device": "cpu"}, 1000, cpu_hour_price=0.036, gpu_hour_price=3.6)
    assert cpu == {"core_s_per_million": pytest.approx(2000.0), "price_per_million": pytest.approx(2000 / 3600 * 0.036)}
    gpu = cost_per_million({**timing, "device": "cuda"}, 1000, cpu_hour_price=0.036, gpu_hour_price=3.6)
    # The GPU is held for the wall time: 0.5 s per thousand reviews.
    assert gpu["gpu_s_per_million"] == pytest.approx(500.0)
    assert gpu["price_per_million"] == pytest.approx(500 / 3600 * 3.6)  # priced by the GPU-hour, not the core-hour
    assert cost_per_million({**timing, "device": "cuda"}, 1000)["price_per_million"] is None


class BowOnAGpu(BowSvmClassifier):
    """A classifier that says it predicts on a GPU (its arithmetic stays on the CPU)."""

    def _fit(self, *args, **kwargs):
        super()._fit(*args, **kwargs)
        self.device_ = "cuda"


def test_a_classifier_on_a_gpu_gets_gpu_cost_memory_fields_and_a_gpu_cost_sentence(sample):
    from benchmark.decide import _cost

    train, validation, test = stratified_split(sample.labels, seed=42)
    split = Split(sample, train, validation, test)
    how = Measurement(latency_calls=2, gpu_hour_price=3.6)
    gpu_record, _ = run_one(BowOnAGpu(), split, name="bow", how=how)
    cpu_record, _ = run_one(BowSvmClassifier(), split, name="bow", how=how)
    inference = gpu_record["inference"]
    assert inference["device"] == "cuda" and cpu_record["inference"]["device"] == "cpu"
    assert inference["gpu_s_per_million"] == pytest.approx(inference["test_time_s"] / len(test) * 1e6)
    assert inference["price_per_million"] == pytest.approx(inference["gpu_s_per_million"] / 3600 * 3.6)
    assert "gpu_s_per_million" not in cpu_record["inference"] and cpu_record["inference"]["price_per_million"] is None
    # No GPU here: torch's peak is unknown, and said to be (None), not 0.
    assert gpu_record["memory"]["fit_peak_gpu_mb"] is None and "fit_peak_gpu_mb" not in cpu_record["memory"]
    assert "GPU-seconds per million reviews (price " in _cost(gpu_record)
    assert "GPU" not in _cost(cpu_record)


def test_comparison_table_shows_gpu_columns_only_when_a_classifier_ran_on_a_gpu(finished_run):
    import copy
    import json

    from benchmark.report.tables import comparison_frame

    results = json.loads((finished_run / "results.json").read_text())
    assert "gpu_s_per_million" not in comparison_frame(results).columns
    on_gpu = copy.deepcopy(results)
    on_gpu["classifiers"]["bow"]["inference"]["gpu_s_per_million"] = 12.5
    on_gpu["classifiers"]["bow"]["memory"]["fit_peak_gpu_mb"] = 2048.0
    frame = comparison_frame(on_gpu)
    assert frame.loc[frame.classifier == "bow", "gpu_s_per_million"].item() == 12.5
    assert frame.loc[frame.classifier == "bow", "fit_peak_gpu_mb"].item() == 2048.0


@pytest.fixture
def fake_gpu(monkeypatch, tmp_path):
    """torch as seen on a machine with one H200 (a stand-in module), and the driver's file."""
    props = SimpleNamespace(name="NVIDIA H200", total_memory=int(139.8 * 2**30), major=9, minor=0)
    cuda = SimpleNamespace(is_available=lambda: True, get_device_properties=lambda i: props, device_count=lambda: 1)
    fake_torch = SimpleNamespace(cuda=cuda, version=SimpleNamespace(cuda="12.8"), get_num_threads=lambda: 16)
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    version_file = tmp_path / "version"
    version_file.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.86.15  Thu Jan  9 2025\nGCC version: 12\n")
    return version_file


def test_environment_records_the_gpu_model_memory_and_driver(fake_gpu, monkeypatch):
    import benchmark.environment as environment

    assert environment.nvidia_driver(fake_gpu) == "570.86.15"
    monkeypatch.setattr(environment, "nvidia_driver", lambda: "570.86.15")
    info = environment.environment()
    assert info["gpu"] == {"name": "NVIDIA H200", "memory_gib": 139.8, "count": 1, "capability": "9.0", "cuda": "12.8",
                           "driver": "570.86.15"}
    assert environment.describe_gpu(info["gpu"]) == "NVIDIA H200 (139.8 GiB, driver 570.86.15, cuda 12.8)"


def test_no_gpu_is_recorded_as_none(tmp_path, monkeypatch):
    import benchmark.environment as environment

    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: False),
                                                              get_num_threads=lambda: 2))
    assert environment.environment()["gpu"] is None
    assert environment.describe_gpu(None) == "none"
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)
    assert environment.nvidia_driver(tmp_path / "absent") is None


def test_report_names_the_gpu(finished_run):
    import json

    from benchmark.report.markdown import _environment

    env = json.loads((finished_run / "results.json").read_text())["environment"]
    env["gpu"] = {"name": "NVIDIA H200", "memory_gib": 139.8, "count": 1, "capability": "9.0", "cuda": "12.8", "driver": "570.86.15"}
    # Read from results.json, so shown literally (a code span), as the CPU is.
    assert "GPU: `NVIDIA H200 (139.8 GiB, driver 570.86.15, cuda 12.8)`." in "\n".join(_environment(env))


def test_gpu_hour_price_must_be_a_positive_number(capsys):
    one_line_error(run_main(capsys, "run", "--gpu-hour-price", "-1"), "--gpu-hour-price must be a positive finite number")


def test_perf_bert_on_cuda_without_a_gpu_is_refused_in_one_line(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    one_line_error(run_main(capsys, "perf", "bert", "--device", "cuda"), "no CUDA GPU is available here")
    one_line_error(run_main(capsys, "perf", "bert", "--model", "/no/such/model"), "--model /no/such/model: not a local model folder")
    one_line_error(run_main(capsys, "perf", "classical", "--device", "cuda"), "apply to 'perf bert'")
