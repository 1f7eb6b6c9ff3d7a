"""The printed report of ``perf bert``: one table per data set, the ratios between the
recipes, the share of the matmul ceiling and the time-to-accuracy curves."""

from __future__ import annotations

from classifiers.encoder.gpu import GPU_BATCH

from ..environment import describe_gpu


def _header_lines(results: dict, device: str) -> list[str]:
    """The machine, the model and the matmul ceiling, then a blank line."""
    return [
        results["cpu_line"],
        *([f"GPU: {describe_gpu(results.get('gpu'))}"] if device != "cpu" else []),
        f"model {results['model']}, batch {results['batch_size']}, {results['torch_threads']} threads, "
        f"data {results['data']}, device {device}",
        *([f"measured {results['conditions']}"] if results.get("conditions") else []),
        f"matmul ceiling ({'2048' if device == 'cpu' else '8192'} squared): "
        + ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in results["matmul_gflops"].items()),
        "",
    ]


def _recipe_row(recipe: str, r: dict, batch_size, peak) -> list:
    """One recipe's row of a data set's table (blank where it was not measured)."""
    return [
        recipe, r.get("batch_size", batch_size), f"{r['train_samples_per_s']:,.1f}",
        f"{r['train_gflops_per_s']:,.0f}" if "train_gflops_per_s" in r else "",
        f"{r['train_gflops_per_s'] / peak:.1%}" if "train_gflops_per_s" in r and peak else "",
        f"{r['latency_p50_ms']:.2f}", f"{r['latency_p95_ms']:.2f}" if "latency_p95_ms" in r else "",
        f"{r['batched_per_s']:,.0f}" if "batched_per_s" in r else "",
    ]


def _comparison_lines(recipes: dict, peak, peak_dtype: str) -> list[str]:
    """Sentibench's recipe (c) against the seed's (a) and the Trainer's (b), and against the ceiling."""
    c, a, b = recipes["sentibench"], recipes["seed"], recipes["trainer"]
    lines = [
        f"ratios: train (c)/(a) {c['train_samples_per_s'] / a['train_samples_per_s']:.2f}x, "
        f"(c)/(b) {c['train_samples_per_s'] / b['train_samples_per_s']:.2f}x; "
        f"p50 latency (c)/(a) {c['latency_p50_ms'] / a['latency_p50_ms']:.2f}, "
        f"(c)/(b) {c['latency_p50_ms'] / b['latency_p50_ms']:.2f}"
    ]
    if "sentibench@auto" in recipes:
        auto, wide = recipes["sentibench@auto"], recipes[f"trainer@{GPU_BATCH}"]
        lines.append(
            f"GPU default: sentibench (batch {GPU_BATCH}) trains {auto['train_samples_per_s'] / b['train_samples_per_s']:.2f}x "
            f"the Trainer's samples/s at batch {b.get('batch_size')} and "
            f"{auto['train_samples_per_s'] / wide['train_samples_per_s']:.2f}x at batch {GPU_BATCH}"
        )
    if "latency_p50_ms_by_path" in c:
        paths = c["latency_p50_ms_by_path"]
        lines.append(
            f"(c) single-review p50 by inference path (the table shows the fastest, {c.get('latency_path', 'int8')}): "
            + ", ".join(f"{p} {ms:.2f} ms ({ms / b['latency_p50_ms']:.2f} of (b))" for p, ms in paths.items())
        )
    if "train_gflops_per_s" in c and peak:
        lines.append(f"(c) training reaches {c['train_gflops_per_s'] / peak:.0%} of the {peak_dtype} matmul ceiling")
    return lines


def _time_to_accuracy_lines(tta: dict) -> list[str]:
    """The validation-accuracy curve of each recipe, then the test accuracies."""
    lines = [f"time to accuracy ({tta['n_train']} training sentences, {tta['epochs']} epochs; training time only):"]
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
    return lines


def format_perf(results: dict) -> str:
    """Human-readable report of :func:`run_perf` results."""
    from tabulate import tabulate

    device = results.get("device", "cpu")
    peak_dtype = "bf16" if device != "cpu" else results["precision_sentibench"]
    peak = results["matmul_gflops"].get(peak_dtype)
    lines = _header_lines(results, device)
    for name, block in results["datasets"].items():
        recipes = block["recipes"]
        rows = [_recipe_row(recipe, r, results["batch_size"], peak) for recipe, r in recipes.items()]
        lines.append(f"{name}: {block['n']} reviews, mean {block['mean_tokens']:.0f} tokens")
        lines.append(tabulate(rows, headers=["recipe", "batch", "train samples/s", "train GFLOP/s", f"of {peak_dtype} peak",
                                             "p50 ms (1 review)", "p95 ms", "batched reviews/s"],
                              tablefmt="github", disable_numparse=True))
        lines.extend(_comparison_lines(recipes, peak, peak_dtype))
        lines.append("")
    tta = results.get("time_to_accuracy")
    if tta:
        lines.extend(_time_to_accuracy_lines(tta))
    return "\n".join(lines)
