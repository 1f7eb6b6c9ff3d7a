"""What changes on a GPU, tested without one: the batch and compile policies, the training
attention kernels, the GPU inference paths (with a CUDA-less fake) and embed's device."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from classifiers.encoder.gpu import (  # noqa: E402
    COMPILE_MIN_SAMPLES,
    GPU_BATCH,
    SEED_BATCH,
    choose_batch,
    choose_compile,
    gpu_net,
    gpu_paths,
)
from classifiers.encoder.inference import InferenceNets, batch_size_of, device_paths  # noqa: E402
from classifiers.encoder.runtime import Runtime  # noqa: E402

from .._helpers import one_line_error, run_main  # noqa: E402


def test_auto_batch_is_the_seed_recipe_on_a_cpu_and_larger_with_a_scaled_rate_on_a_gpu():
    cpu = choose_batch("auto", 5e-5, "cpu")
    assert (cpu["batch_size"], cpu["learning_rate"]) == (SEED_BATCH, 5e-5)
    gpu = choose_batch("auto", 5e-5, "cuda")
    assert gpu["batch_size"] == GPU_BATCH > SEED_BATCH
    assert gpu["learning_rate"] == pytest.approx(5e-5 * (GPU_BATCH / SEED_BATCH) ** 0.5)
    assert "not yet measured" in gpu["reason"]  # honest about what rests on measurement


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_a_batch_size_the_user_sets_is_kept_with_the_rate_as_given(device):
    assert choose_batch(16, 2e-5, device) == {"batch_size": 16, "learning_rate": 2e-5, "reason": "set by batch_size=16"}


def test_compile_only_on_a_gpu_and_only_when_training_repays_it():
    assert choose_compile("auto", "cpu", 10**9)["compile"] is False
    assert choose_compile("auto", "cuda", COMPILE_MIN_SAMPLES - 1)["compile"] is False
    assert choose_compile("auto", "cuda", COMPILE_MIN_SAMPLES)["compile"] is True
    # The seed recipe: 26,600 reviews x 3 epochs is too short to repay an 82 s compile.
    assert choose_compile("auto", "cuda", 26_600 * 3)["compile"] is False
    assert choose_compile(True, "cpu", 10)["compile"] is True
    assert choose_compile(False, "cuda", 10**9)["compile"] is False


def test_training_on_a_gpu_never_takes_the_math_attention_kernel():
    from torch.nn.attention import SDPBackend

    assert Runtime("cpu", "bf16", 0, 128).training_attention_backends() == [SDPBackend.MATH]
    on_gpu = Runtime("cuda", "bf16", 0, 128).training_attention_backends()
    assert SDPBackend.MATH not in on_gpu and SDPBackend.FLASH_ATTENTION in on_gpu


def test_gpu_paths_are_bf16_fp16_fp32_and_never_the_cpu_only_int8():
    assert gpu_paths(bf16=True) == ["bf16", "fp16", "fp32"]
    assert gpu_paths(bf16=False) == ["fp16", "fp32"]
    assert "int8" not in device_paths("cuda") and "int8" in device_paths("cpu")
    assert batch_size_of("fp16", "cuda") > batch_size_of("fp32", "cpu") > batch_size_of("int8", "cpu") == 1


@pytest.fixture(scope="module")
def minilm():
    from classifiers.encoder.hub import load_pretrained
    from classifiers.encoder.network import PooledClassifier

    tokenizer, model = load_pretrained(None, num_labels=2)
    return tokenizer, PooledClassifier(model, "cls").eval()


def test_the_gpu_choice_measures_each_gpu_path_on_validation_data(minilm, tiny):
    """The CUDA-less fake: InferenceNets in GPU mode builds the GPU paths' networks (weight
    copies in bf16/fp16) on CPU tensors, and chooses as on a GPU."""
    from classifiers.encoder.batching import encode

    tokenizer, module = minilm
    texts, labels = tiny[2], tiny[3]
    nets = InferenceNets(module, tokenizer.pad_token_id, gpu=True)
    assert next(nets.get("fp16").parameters()).dtype == torch.float16
    assert next(nets.get("bf16").parameters()).dtype == torch.bfloat16
    assert nets.get("fp32") is module
    choice = nets.choose(encode(tokenizer, texts[:6], 128, "head"), labels[:6], Runtime("cpu", "fp32", tokenizer.pad_token_id, 128),
                         gpu_paths(bf16=True), name="bert", latency_calls=2)
    assert set(choice["candidates"]) == {"bf16", "fp16", "fp32"}
    assert choice["chosen"] in choice["candidates"]
    accuracy = {p: c["val_accuracy"] for p, c in choice["candidates"].items()}
    assert accuracy[choice["chosen"]] >= accuracy["fp32"] - choice["tolerance"] - 1e-12


def test_gpu_net_copies_weights_and_keeps_the_module(minilm):
    _, module = minilm
    half = gpu_net(module, "fp16")
    assert half is not module and next(module.parameters()).dtype == torch.float32


def _both_classes(tiny, n: int):
    """``n`` training reviews of each class."""
    texts, labels = tiny[0], tiny[1]
    return texts[:n] + texts[-n:], np.concatenate([labels[:n], labels[-n:]])


@pytest.fixture(scope="module")
def fitted_bert(tiny):
    from classifiers import BertClassifier

    clf = BertClassifier(epochs=1, max_length=32, verbose=False, temperature_scaling=False)
    return clf.fit(*_both_classes(tiny, 8))


def test_bert_records_its_batch_and_compile_choices_and_keeps_an_explicit_batch(fitted_bert, tiny, monkeypatch):
    from classifiers import BertClassifier
    from classifiers.bert import _model

    assert fitted_bert.fit_info_["batch"]["batch_size"] == SEED_BATCH  # "auto" on this CPU
    assert fitted_bert.fit_info_["compile"]["compile"] is False
    seen = []
    real_train = _model.train

    def spy(net, data, settings, *args, **kwargs):
        seen.append(settings)
        return real_train(net, data, settings, *args, **kwargs)

    monkeypatch.setattr(_model, "train", spy)
    clf = BertClassifier(epochs=1, max_length=32, batch_size=4, learning_rate=1e-4, verbose=False, temperature_scaling=False)
    clf.fit(*_both_classes(tiny, 4))
    assert (seen[0].batch_size, seen[0].learning_rate, seen[0].compile) == (4, 1e-4, False)
    assert clf.fit_info_["batch"]["reason"] == "set by batch_size=4"


def test_a_model_trained_on_a_gpu_keeps_its_gpu_path_only_where_it_runs(fitted_bert):
    """The path a saved choice names is used only on a device that runs it."""
    import copy

    clf = copy.copy(fitted_bert)
    clf.device_ = "cuda"  # as if loaded on a GPU machine (nothing runs here)
    clf.inference_choice_ = {"chosen": "fp16"}
    assert clf._inference_path() == "fp16"
    clf.inference_choice_ = {"chosen": "int8"}  # a CPU's choice: the training precision on a GPU
    assert clf._inference_path() == "train"
    clf.set_params(inference="int8")
    with pytest.raises(Exception) as info:
        clf._logits([[101, 102]])
    assert "does not run on cuda" in str(info.value)
    cpu = copy.copy(fitted_bert)
    cpu.inference_choice_ = {"chosen": "fp16"}  # a GPU's choice loaded on a CPU: fp32
    assert cpu._inference_path() == "fp32"


def test_bert_and_embed_refuse_cuda_without_a_gpu_in_one_line(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for name in ("bert", "embed"):
        outcome = run_main(capsys, "-q", "run", "--classifiers", name, "--set", f"{name}.device=cuda", "--latency-calls", "1",
                           "--output", str(tmp_path))
        one_line_error(outcome, f"{name}: device='cuda' but no CUDA GPU is available")


def test_embed_runs_where_device_says(tiny):
    from classifiers import EmbeddingLogRegClassifier

    clf = EmbeddingLogRegClassifier(device="cpu", inference="fp32").fit(*_both_classes(tiny, 8))
    assert clf.device_ == "cpu" and next(clf.encoder_.parameters()).device.type == "cpu"
    assert np.asarray(clf.predict_proba(tiny[2][:2])).shape == (2, 2)
    assert EmbeddingLogRegClassifier().get_params()["device"] == "auto"


@pytest.mark.slow
def test_a_compiled_training_step_trains(tiny):
    """compile=True: the path "auto" takes on a long GPU run, here on the CPU (inductor
    needs a C compiler; minutes of compiling, hence slow)."""
    from classifiers import BertClassifier

    clf = BertClassifier(epochs=1, max_length=32, compile=True, verbose=False, inference="fp32", temperature_scaling=False)
    clf.fit(*_both_classes(tiny, 12))
    assert clf.fit_info_["compile"] == {"compile": True, "reason": "set by compile=True"}
    assert clf._runtime().pad_to_multiple_of == 32  # a few shapes to compile
    assert set(clf.predict(tiny[2])) <= set(clf.classes_) and np.isfinite(clf.history_[-1]["train_loss"])
