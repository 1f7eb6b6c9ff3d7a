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
of single-review predictions of probabilities after warm-up calls.
"""

from __future__ import annotations

import logging
import tempfile
import time

import numpy as np

from classifiers.bert import BertClassifier
from classifiers.encoder.batching import DEFAULT_MAX_LENGTH
from classifiers.encoder.hub import bundled_model_path, quiet_transformers
from classifiers.encoder.runtime import cpu_supports_bf16
from dataset import load_reviews, stratified_sample

from ..environment import cpu_features, cpu_model, describe_cpu
from ..timing import measure_latency, stopwatch
from . import perf_data

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


# -- (a) the seed notebook's recipe -------------------------------------------------------


def seed_recipe_train(model_path, texts, labels, batch_size, seed=42) -> dict:
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2)
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
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=y).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
    seconds = time.perf_counter() - start
    model.eval()

    def predict_sentiment(batch):
        # The seed's section 10: one review, padded to 128, no_grad.
        inputs = tokenizer(batch[0], padding="max_length", truncation=True, max_length=SEED_MAX_LENGTH, return_tensors="pt")
        with torch.no_grad():
            probs = torch.softmax(model(**inputs).logits, dim=1)
        return probs

    return {"train_samples_per_s": len(texts) / seconds, "train_seconds": seconds, "predict_one": predict_sentiment}


# -- (b) Hugging Face Trainer -------------------------------------------------------------


def trainer_train(model_path, texts, labels, batch_size, *, epochs=1, val=None, seed=42) -> dict:
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
            acc = _accuracy(tokenizer, model, *val, bf16=args.bf16)
            # Training time only: earlier evaluations are subtracted.
            curve.append({"epoch": len(curve) + 1, "elapsed_s": now - self.start - self.eval_seconds, "val_accuracy": acc})
            self.eval_seconds += time.perf_counter() - now

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=batch_size,
            num_train_epochs=epochs,
            learning_rate=5e-5,
            bf16=cpu_supports_bf16(),
            use_cpu=True,
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
        classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=torch.device("cpu"), top_k=None)
    return {
        "train_samples_per_s": output.metrics["train_samples_per_second"],
        "train_seconds": output.metrics["train_runtime"],
        "predict_one": lambda batch: classify(batch),
        "curve": curve,
        "model": model,
        "tokenizer": tokenizer,
    }


def _accuracy(tokenizer, model, texts, labels, *, bf16: bool) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(texts), 64):
            enc = tokenizer(texts[i : i + 64], truncation=True, max_length=SEED_MAX_LENGTH, padding=True, return_tensors="pt")
            pred = model(**enc).logits.argmax(-1).numpy()
            correct += int((pred == np.asarray(labels[i : i + 64])).sum())
    model.train()
    return correct / len(texts)


# -- (c) sentibench -----------------------------------------------------------------------


def sentibench_train(model_path, texts, labels, batch_size, *, epochs=1, val=None, seed=42, **params) -> dict:
    clf = BertClassifier(model=model_path, batch_size=batch_size, epochs=epochs, patience=epochs, seed=seed, verbose=False, **params)
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
        "curve": curve,
        "classifier": clf,
    }


# -- hardware ceiling and FLOP estimates --------------------------------------------------


def matmul_gflops(dtype_name: str, size: int = 2048, repeats: int = 5) -> float:
    """Dense ``size x size`` matmul throughput in GFLOP/s (best of ``repeats``)."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        with stopwatch() as elapsed:
            a @ b
        times.append(elapsed())
    return 2 * size**3 / min(times) / 1e9


def training_flops_per_sample(config, seq_len: int) -> float:
    """Forward + backward FLOPs of one sequence (3x forward; embeddings excluded)."""
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    per_token_matmul = 2 * layers * (4 * h * h + 2 * h * inter)
    attention = 2 * layers * 2 * seq_len * h
    return 3 * seq_len * (per_token_matmul + attention)


# -- the command --------------------------------------------------------------------------


def run_perf(*, data=None, n_sentences=320, n_long=96, batch_size=16, latency_calls=100, tta_size=0, epochs=3, seed=42):
    """Measure (a), (b), (c) on sentences and long reviews; returns a dict of results."""
    import torch
    from transformers import AutoConfig, AutoTokenizer

    model_path = str(bundled_model_path())
    config = AutoConfig.from_pretrained(model_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    texts, labels, source = sentence_data(n_sentences, data, seed=seed)
    long_texts, long_labels = long_reviews(texts, labels, tokenizer, n_long, seed=seed)
    precision = "bf16" if cpu_supports_bf16() else "fp32"
    results = {
        "model": "all-MiniLM-L6-v2 (bundled)",
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "cpu_line": describe_cpu(),
        "data": source,
        "batch_size": batch_size,
        "torch_threads": torch.get_num_threads(),
        "precision_sentibench": precision,
        "matmul_gflops": {"fp32": matmul_gflops("fp32"), **({"bf16": matmul_gflops("bf16")} if precision == "bf16" else {})},
        "datasets": {},
    }
    recipes = {"seed": seed_recipe_train, "trainer": trainer_train, "sentibench": sentibench_train}
    for name, (x, y) in {"sentences": (texts, labels), "long": (long_texts, long_labels)}.items():
        lengths = [len(ids) for ids in tokenizer(x, truncation=True, max_length=SEED_MAX_LENGTH)["input_ids"]]
        block = {"n": len(x), "mean_tokens": float(np.mean(lengths)), "recipes": {}}
        for recipe, train in recipes.items():
            logger.info("perf: %s on %s (%d reviews)", recipe, name, len(x))
            out = train(model_path, x, y, batch_size)
            if recipe == "sentibench":
                # Every CPU inference path of the same fitted model; the headline is the fastest
                # measured here (inference="auto" takes it where validation accuracy allows;
                # int8 on the machines measured so far, not necessarily on every CPU).
                clf = out["classifier"]
                paths = ["int8", "bf16", "fp32"] if precision == "bf16" else ["int8", "fp32"]
                by_path = {
                    path: measure_latency(clf.set_params(inference=path).predict_proba, x, n_calls=latency_calls,
                                          desc=f"{recipe} {path} latency", verbose=False)["latency_p50_ms"]
                    for path in paths
                }
                block["recipes"][recipe] = {"train_samples_per_s": out["train_samples_per_s"],
                                            "latency_p50_ms": min(by_path.values()), "latency_path": min(by_path, key=by_path.get),
                                            "latency_p50_ms_by_path": by_path}
                continue
            latency = measure_latency(out["predict_one"], x, n_calls=latency_calls, desc=f"{recipe} latency", verbose=False)
            block["recipes"][recipe] = {
                "train_samples_per_s": out["train_samples_per_s"],
                "latency_p50_ms": latency["latency_p50_ms"],
            }
        flops = training_flops_per_sample(config, SEED_MAX_LENGTH)
        if name == "long":
            for r in block["recipes"].values():
                r["train_gflops_per_s"] = r["train_samples_per_s"] * flops / 1e9
        results["datasets"][name] = block
    if tta_size:
        results["time_to_accuracy"] = time_to_accuracy(model_path, tta_size, data, batch_size, epochs, seed)
    return results


def time_to_accuracy(model_path, n, data, batch_size, epochs, seed) -> dict:
    """Train (b) and (c) for ``epochs`` on a 70/15/15 split of ``n`` sentences; per epoch
    the training time so far and validation accuracy; plus (c)'s test accuracy with its
    int8 inference path and with the fp32 model."""
    from dataset import stratified_split

    texts, labels, _ = sentence_data(n, data, seed=seed)
    tr, va, te = stratified_split(labels, seed=seed)
    pick = lambda idx: [texts[i] for i in idx]  # noqa: E731
    val = (pick(va), labels[va])
    out = {"n_train": len(tr), "epochs": epochs}
    trainer = trainer_train(model_path, pick(tr), labels[tr], batch_size, epochs=epochs, val=val, seed=seed)
    ours = sentibench_train(model_path, pick(tr), labels[tr], batch_size, epochs=epochs, val=val, seed=seed)
    out["trainer"] = trainer["curve"]
    out["sentibench"] = ours["curve"]
    clf = ours["classifier"]
    test_x, test_y = pick(te), labels[te]
    out["sentibench_test_accuracy"] = clf.compare_inference(test_x, test_y)
    out["trainer_test_accuracy"] = _accuracy(trainer["tokenizer"], trainer["model"], test_x, test_y, bf16=True)
    return out


def format_perf(results: dict) -> str:
    """Human-readable report of :func:`run_perf` results."""
    from tabulate import tabulate

    lines = [
        results["cpu_line"],
        f"model {results['model']}, batch {results['batch_size']}, {results['torch_threads']} threads, "
        f"data {results['data']}",
        "matmul ceiling (2048x2048): " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in results["matmul_gflops"].items()),
        "",
    ]
    for name, block in results["datasets"].items():
        recipes = block["recipes"]
        rows = []
        for recipe, r in recipes.items():
            rows.append([
                recipe, f"{r['train_samples_per_s']:.1f}", f"{r['latency_p50_ms']:.2f}",
                f"{r['train_gflops_per_s']:.0f}" if "train_gflops_per_s" in r else "",
            ])
        lines.append(f"{name}: {block['n']} reviews, mean {block['mean_tokens']:.0f} tokens")
        lines.append(tabulate(rows, headers=["recipe", "train samples/s", "p50 ms (1 review)", "train GFLOP/s"], tablefmt="github"))
        c, a, b = recipes["sentibench"], recipes["seed"], recipes["trainer"]
        lines.append(
            f"ratios: train (c)/(a) {c['train_samples_per_s'] / a['train_samples_per_s']:.2f}x, "
            f"(c)/(b) {c['train_samples_per_s'] / b['train_samples_per_s']:.2f}x; "
            f"p50 latency (c)/(a) {c['latency_p50_ms'] / a['latency_p50_ms']:.2f}, "
            f"(c)/(b) {c['latency_p50_ms'] / b['latency_p50_ms']:.2f}"
        )
        if "latency_p50_ms_by_path" in c:
            paths = c["latency_p50_ms_by_path"]
            lines.append(
                f"(c) single-review p50 by inference path (the table shows the fastest, {c.get('latency_path', 'int8')}): "
                + ", ".join(f"{p} {ms:.2f} ms ({ms / b['latency_p50_ms']:.2f} of (b))" for p, ms in paths.items())
            )
        if "train_gflops_per_s" in c:
            ceiling = results["matmul_gflops"].get(results["precision_sentibench"])
            precision = results["precision_sentibench"]
            lines.append(f"(c) training reaches {c['train_gflops_per_s'] / ceiling:.0%} of the {precision} matmul ceiling")
        lines.append("")
    tta = results.get("time_to_accuracy")
    if tta:
        lines.append(f"time to accuracy ({tta['n_train']} training sentences, {tta['epochs']} epochs; training time only):")
        for recipe in ("trainer", "sentibench"):
            curve = ", ".join(f"epoch {p['epoch']}: {p['elapsed_s']:.0f} s -> {p['val_accuracy']:.4f}" for p in tta[recipe])
            best = max(tta[recipe], key=lambda p: p["val_accuracy"])
            lines.append(f"  {recipe}: {curve}; best {best['val_accuracy']:.4f} reached at {best['elapsed_s']:.0f} s")
        acc = tta["sentibench_test_accuracy"]
        lines.append(
            f"  test accuracy: sentibench {acc['inference']} {acc['accuracy']:.4f} vs fp32 {acc['accuracy_fp32']:.4f} "
            f"({(acc['accuracy'] - acc['accuracy_fp32']) * 100:+.2f} points, {acc['agreement']:.2%} identical "
            f"predictions); Trainer {tta['trainer_test_accuracy']:.4f}"
        )
    return "\n".join(lines)
