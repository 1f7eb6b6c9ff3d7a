"""``python -m benchmark perf bert``: BERT fine-tuning speed, side by side in one run.

Three ways to fine-tune and serve the same model on the same data with the same batch
size:

(a) ``seed``: the seed notebook's recipe: every review padded to 128 tokens, fp32, random
    batches, a plain loop; ``predict_sentiment`` pads to 128 under ``torch.no_grad``.
(b) ``trainer``: Hugging Face ``Trainer`` with its best CPU settings (bf16, use_cpu,
    group-by-length sampling, ``DataCollatorWithPadding``); ``pipeline`` for one review.
(c) ``sentibench``: :class:`~classifiers.BertClassifier` with its defaults.

Each is measured on short review sentences and on long reviews (every item longer than
128 tokens, built by concatenating sentences). Training throughput is the training loop
only (tokenisation and model loading excluded, for all three alike); latency is the p50
(and p95) of single-review predictions of probabilities after warm-up calls; batched
throughput is one prediction over all the reviews.

With ``--device cuda`` everything runs on the GPU (the Trainer in bf16, else fp16), and
the Trainer and sentibench are measured twice: at ``--batch-size`` and at sentibench's
GPU default (``batch_size="auto"``, :data:`~classifiers.encoder.gpu.GPU_BATCH`), each
against the bf16 matmul rate measured on that GPU. ``--model`` takes any local model
folder, e.g. a bert-base-shaped network made offline (../shared/gpu/README.md).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from classifiers.bert import BertClassifier
from classifiers.encoder.batching import DEFAULT_MAX_LENGTH
from classifiers.encoder.gpu import GPU_BATCH
from classifiers.encoder.hub import bundled_model_path, quiet_transformers
from classifiers.encoder.inference import device_paths
from classifiers.encoder.runtime import resolve_device
from dataset import UsageError, load_reviews, stratified_sample

from ..environment import cpu_features, cpu_model, describe_cpu, gpu
from ..timing import measure_latency, stopwatch
from . import perf_data
from .isolated import CONDITIONS, in_own_process, measure_recipe

logger = logging.getLogger(__name__)

#: The seed notebook's max_length, which is also BertClassifier's default.
SEED_MAX_LENGTH = DEFAULT_MAX_LENGTH


# -- data ---------------------------------------------------------------------------------


def sentence_data(n: int, data: str | None, seed: int = 0) -> tuple[list[str], np.ndarray, str]:
    """``n`` labelled sentences: ``data``, else ../shared/data/yelp_sentences.csv, else
    the bundled sample."""
    source = perf_data(data)
    reviews = load_reviews(source)
    reviews = reviews.subset(stratified_sample(reviews.labels, min(n, len(reviews)), seed=seed))
    return reviews.texts, reviews.labels, reviews.source


def long_reviews(texts, labels, tokenizer, n: int, min_tokens: int = 140, seed: int = 0):
    """``n`` synthetic long reviews: sentences of one polarity joined until a review has
    more than ``min_tokens`` tokens (so every item exceeds 128 tokens)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    pools = {c: [texts[i] for i in np.flatnonzero(labels == c)] for c in (0, 1)}
    out_texts, out_labels = [], []
    for k in range(n):
        label = k % 2
        parts, length = [], 0
        while length <= min_tokens:
            sentence = pools[label][rng.integers(len(pools[label]))]
            parts.append(sentence)
            length += len(tokenizer(sentence, add_special_tokens=False)["input_ids"])
        out_texts.append(" ".join(parts))
        out_labels.append(label)
    return out_texts, np.array(out_labels)


def _synchronize(device: str) -> None:
    """Wait for a GPU's queued work before reading a clock."""
    if device != "cpu":
        import torch

        torch.cuda.synchronize()


# -- (a) the seed notebook's recipe -------------------------------------------------------


def seed_recipe_train(model_path, texts, labels, batch_size, seed=42, device="cpu") -> dict:
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2).to(device)
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=SEED_MAX_LENGTH, return_tensors="pt")
    loader = DataLoader(
        TensorDataset(enc["input_ids"], enc["attention_mask"], torch.as_tensor(labels)), batch_size=batch_size, shuffle=True
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, len(loader))
    model.train()
    start = time.perf_counter()
    for input_ids, attention_mask, y in loader:
        optimizer.zero_grad()
        loss = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), labels=y.to(device)).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
    _synchronize(device)
    seconds = time.perf_counter() - start
    model.eval()

    def predict_sentiment(batch):
        # The seed's section 10: one review at a time, padded to 128, no_grad.
        inputs = tokenizer(batch, padding="max_length", truncation=True, max_length=SEED_MAX_LENGTH, return_tensors="pt")
        with torch.no_grad():
            probs = torch.softmax(model(**inputs.to(device)).logits, dim=1)
        return probs.cpu()

    return {"train_samples_per_s": len(texts) / seconds, "train_seconds": seconds, "predict_one": predict_sentiment,
            "predict_many": lambda many: [predict_sentiment(many[i : i + 64]) for i in range(0, len(many), 64)]}


# -- (b) Hugging Face Trainer -------------------------------------------------------------


def trainer_train(model_path, texts, labels, batch_size, *, epochs=1, val=None, seed=42, device="cpu", precision="fp32") -> dict:
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        pipeline,
    )

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2)
    enc = tokenizer(texts, truncation=True, max_length=SEED_MAX_LENGTH)
    train_set = [
        {"input_ids": ids, "attention_mask": mask, "labels": int(y)}
        for ids, mask, y in zip(enc["input_ids"], enc["attention_mask"], labels, strict=True)
    ]
    curve = []

    class ValidationCurve(TrainerCallback):
        """Validation accuracy and elapsed training-loop time after each epoch."""

        def on_train_begin(self, args, state, control, **kwargs):
            self.start, self.eval_seconds = time.perf_counter(), 0.0

        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            if val is None:
                return
            now = time.perf_counter()
            acc = _accuracy(tokenizer, model, *val, precision=precision, device=device)
            # Training time only: earlier evaluations are subtracted.
            curve.append({"epoch": len(curve) + 1, "elapsed_s": now - self.start - self.eval_seconds, "val_accuracy": acc})
            self.eval_seconds += time.perf_counter() - now

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=batch_size,
            num_train_epochs=epochs,
            learning_rate=5e-5,
            bf16=precision == "bf16",
            fp16=precision == "fp16",
            use_cpu=device == "cpu",
            train_sampling_strategy="group_by_length",
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            seed=seed,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=train_set,
            data_collator=DataCollatorWithPadding(tokenizer), callbacks=[ValidationCurve()],
        )
        # disable_tqdm swaps the progress bar for a callback that prints every log line.
        trainer.remove_callback(PrinterCallback)
        output = trainer.train()
    model.eval()
    with quiet_transformers():
        classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=torch.device(device), top_k=None)
    return {
        "train_samples_per_s": output.metrics["train_samples_per_second"],
        "train_seconds": output.metrics["train_runtime"],
        "predict_one": lambda batch: classify(batch),
        "predict_many": lambda many: classify(many, batch_size=64),
        "curve": curve,
        "model": model,
        "tokenizer": tokenizer,
    }


def _accuracy(tokenizer, model, texts, labels, *, precision: str, device: str = "cpu") -> float:
    import torch

    model.eval()
    correct = 0
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
        for i in range(0, len(texts), 64):
            enc = tokenizer(texts[i : i + 64], truncation=True, max_length=SEED_MAX_LENGTH, padding=True, return_tensors="pt")
            pred = model(**enc.to(device)).logits.argmax(-1).cpu().numpy()
            correct += int((pred == np.asarray(labels[i : i + 64])).sum())
    model.train()
    return correct / len(texts)


# -- (c) sentibench -----------------------------------------------------------------------


def sentibench_train(model_path, texts, labels, batch_size, *, epochs=1, val=None, seed=42, device="cpu", precision=None,
                     **params) -> dict:
    clf = BertClassifier(model=model_path, batch_size=batch_size, epochs=epochs, patience=epochs, seed=seed, verbose=False,
                         device=device, precision=precision or "auto", **params)
    clf.fit(texts, labels, validation=val)
    seconds = sum(h["seconds"] for h in clf.history_)
    elapsed = np.cumsum([h["seconds"] for h in clf.history_])
    curve = [
        {"epoch": h["epoch"], "elapsed_s": float(t), "val_accuracy": h["val_accuracy"]}
        for h, t in zip(clf.history_, elapsed, strict=True) if h["val_accuracy"] is not None
    ]
    return {
        "train_samples_per_s": len(texts) * len(clf.history_) / seconds,
        "train_seconds": seconds,
        "predict_one": clf.predict_proba,
        "predict_many": clf.predict_proba,
        "curve": curve,
        "classifier": clf,
    }


# -- hardware ceiling and FLOP estimates --------------------------------------------------


def matmul_gflops(dtype_name: str, size: int | None = None, repeats: int = 5, device: str = "cpu") -> float:
    """Dense ``size x size`` matmul throughput in GFLOP/s (best of ``repeats``): 2048 on a
    CPU, 8192 on a GPU (smaller ones do not fill it)."""
    import torch

    size = size or (2048 if device == "cpu" else 8192)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    a, b = torch.randn(size, size, dtype=dtype, device=device), torch.randn(size, size, dtype=dtype, device=device)
    a @ b
    _synchronize(device)
    times = []
    for _ in range(repeats):
        with stopwatch() as elapsed:
            a @ b
            _synchronize(device)
        times.append(elapsed())
    return 2 * size**3 / min(times) / 1e9


def training_flops_per_sample(config, seq_len: int) -> float:
    """Forward + backward FLOPs of one sequence (3x forward; embeddings excluded)."""
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    per_token_matmul = 2 * layers * (4 * h * h + 2 * h * inter)
    attention = 2 * layers * 2 * seq_len * h
    return 3 * seq_len * (per_token_matmul + attention)


# -- the command --------------------------------------------------------------------------


def recipes_for(device: str, batch_size: int) -> dict:
    """Recipe name -> (training function, batch size). On a CPU the three recipes at
    ``batch_size``; on a GPU also the Trainer at sentibench's GPU batch and sentibench
    with ``batch_size="auto"``."""
    out = {"seed": (seed_recipe_train, batch_size), "trainer": (trainer_train, batch_size),
           "sentibench": (sentibench_train, batch_size)}
    if device != "cpu":
        out.update({f"trainer@{GPU_BATCH}": (trainer_train, GPU_BATCH), "sentibench@auto": (sentibench_train, "auto")})
    return out


def check_device_and_model(device: str, model) -> tuple[str, str]:
    """``(model folder, training precision)``, or a one-line error: no GPU for ``--device
    cuda``, or ``--model`` not a local model folder."""
    try:
        device, precision = resolve_device(device, "auto")
    except ValueError:
        raise UsageError("perf bert --device cuda: no CUDA GPU is available here (torch.cuda.is_available() is "
                         "False); run it on a GPU machine, or use --device cpu") from None
    if model is None:
        return str(bundled_model_path()), precision
    folder = Path(model).expanduser()
    if not (folder / "config.json").is_file():
        raise UsageError(f"--model {model}: not a local model folder (no config.json there); make one offline as "
                         "../shared/gpu/README.md shows")
    return str(folder), precision


def run_perf(*, data=None, n_sentences=320, n_long=96, batch_size=16, latency_calls=100, tta_size=0, epochs=3, seed=42,
             device="cpu", model=None):
    """Measure (a), (b), (c) on sentences and long reviews; returns a dict of results."""
    import torch
    from transformers import AutoConfig, AutoTokenizer

    model_path, precision = check_device_and_model(device, model)
    config = AutoConfig.from_pretrained(model_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    texts, labels, source = sentence_data(n_sentences, data, seed=seed)
    long_texts, long_labels = long_reviews(texts, labels, tokenizer, n_long, seed=seed)
    ceilings = ["fp32", "bf16"] if precision == "bf16" or device != "cpu" else ["fp32"]
    results = {
        "model": "all-MiniLM-L6-v2 (bundled)" if model is None else model_path,
        "device": device,
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "cpu_line": describe_cpu(),
        "gpu": gpu() if device != "cpu" else None,
        "data": source,
        "batch_size": batch_size,
        "torch_threads": torch.get_num_threads(),
        "conditions": CONDITIONS,
        "precision_sentibench": precision,
        "matmul_gflops": {dtype: matmul_gflops(dtype, device=device) for dtype in ceilings},
        "datasets": {},
    }
    flops = training_flops_per_sample(config, SEED_MAX_LENGTH)
    for name, (x, y) in {"sentences": (texts, labels), "long": (long_texts, long_labels)}.items():
        lengths = [len(ids) for ids in tokenizer(x, truncation=True, max_length=SEED_MAX_LENGTH)["input_ids"]]
        block = {"n": len(x), "mean_tokens": float(np.mean(lengths)), "recipes": {}}
        for recipe, (train, batch) in recipes_for(device, batch_size).items():
            logger.info("perf: %s on %s (%d reviews, batch %s), in its own process", recipe, name, len(x), batch)
            kwargs = {"device": device, "precision": precision} if train is not seed_recipe_train else {"device": device}
            row = in_own_process(measure_recipe, train, recipe, model_path, list(x), y, batch, kwargs, latency_calls, device)
            if name == "long":  # every review fills the 128 tokens the FLOP count assumes
                row["train_gflops_per_s"] = row["train_samples_per_s"] * flops / 1e9
            block["recipes"][recipe] = row
        results["datasets"][name] = block
    if tta_size:
        from .time_to_accuracy import time_to_accuracy

        results["time_to_accuracy"] = time_to_accuracy(model_path, tta_size, data, batch_size, epochs, seed,
                                                       device=device, precision=precision)
    return results


def _serving(recipe: str, out: dict, x, latency_calls: int, device: str) -> dict:
    """Single-review p50/p95 and batched reviews/s of one trained recipe."""
    if "classifier" not in out:
        latency = measure_latency(out["predict_one"], x, n_calls=latency_calls, desc=f"{recipe} latency", verbose=False)
        return {"latency_p50_ms": latency["latency_p50_ms"], "latency_p95_ms": latency["latency_p95_ms"],
                "batched_per_s": _batched_per_s(out["predict_many"], x, device)}
    # sentibench: every inference path of the device on the same fitted model; the headline
    # is the fastest measured here (inference="auto" takes it where validation accuracy
    # allows; int8 on the CPUs measured so far, not necessarily on every CPU).
    clf = out["classifier"]
    by_path = {
        path: measure_latency(clf.set_params(inference=path).predict_proba, x, n_calls=latency_calls,
                              desc=f"{recipe} {path} latency", verbose=False)
        for path in device_paths(clf.device_)
    }
    fastest = min(by_path, key=lambda p: by_path[p]["latency_p50_ms"])
    clf.set_params(inference=fastest)
    return {"latency_p50_ms": by_path[fastest]["latency_p50_ms"], "latency_p95_ms": by_path[fastest]["latency_p95_ms"],
            "batched_per_s": _batched_per_s(clf.predict_proba, x, device),
            "latency_path": fastest, "latency_p50_ms_by_path": {p: m["latency_p50_ms"] for p, m in by_path.items()}}


def _batched_per_s(predict_many, x, device: str) -> float:
    """Reviews per second of one prediction over all of ``x`` (after a warm-up call)."""
    predict_many(list(x[:2]))
    with stopwatch() as batched:
        predict_many(list(x))
        _synchronize(device)
    return len(x) / batched()
