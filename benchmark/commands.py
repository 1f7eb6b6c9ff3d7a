"""What each subcommand does, given parsed arguments. Results go to stdout, messages to
stderr (through logging); a user's mistake raises a one-line ``SentibenchError``."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from classifiers import REGISTRY
from dataset import UsageError

from .cli import given_run_options, parse_classifier_list, parse_label_map, parse_overrides, parse_seeds

logger = logging.getLogger("benchmark")

#: Defaults of run's options (the parser leaves them None so --resume can see what was typed).
RUN_DEFAULTS = {"seed": 42, "output": "results", "latency_calls": 100}


def cmd_run(args) -> int:
    from .output import format_seed_summary, format_table
    from .runner import run, run_seeds

    if args.resume is not None:
        given = given_run_options(args)
        if given:
            raise UsageError(
                f"--resume continues a run with the data and settings saved in it; drop {', '.join(given)} "
                "(or start a new run without --resume)"
            )
    try:
        if args.resume is not None:
            outcome = run(None, resume=Path(args.resume))
        else:
            cfg, trusted = run_config(args)
            if args.seeds is not None:
                if args.seed is not None:
                    raise UsageError("--seed and --seeds exclude each other; list every seed in --seeds")
                outcome = run_seeds(cfg, parse_seeds(args.seeds), trusted_files=trusted)
                if outcome is not None:
                    parent, summary = outcome
                    print(format_seed_summary(summary))
                    print(f"results: {parent}")
                return 0
            outcome = run(cfg, trusted_files=trusted)
    except KeyboardInterrupt:
        kept = ("the seeds that finished are kept, with a summary of them; the interrupted seed's run folder (inside "
                "the -seeds folder)" if args.seeds is not None and args.resume is None
                else "results of the classifiers that finished are kept; the run")
        print(f"\ninterrupted: {kept} continues with 'python -m benchmark run --resume RUN_DIR'", file=sys.stderr)
        return 130
    if outcome is None:
        return 0  # a helper process of a multi-process run: the main process reports
    run_dir, results = outcome
    if results["data"]["chosen_by"].startswith("bundled"):
        logger.warning("these numbers come from the bundled demo sample; for real ones use --data FILE or SENTIBENCH_DATA=FILE")
    print(format_table(results))
    recommendation = results.get("recommendation")
    if recommendation:
        print(f"\n{recommendation['reason']}")
    print(f"\nresults: {run_dir} (report: {run_dir / 'report.md'})")
    return 0


def run_config(args):
    """The RunConfig of a new run, and the files named on the command line (trusted)."""
    from .config import RunConfig

    if args.data is not None and not args.data.strip():
        raise UsageError("--data is empty; pass a review file (or leave --data out for the default data)")
    if args.classifiers is not None:
        classifiers = parse_classifier_list(args.classifiers)
    else:  # every classifier: those whose optional extra is missing are left out, with a word
        classifiers = [n for n in REGISTRY if not REGISTRY.is_builtin(n) or REGISTRY.missing_extra(n) is None]
        for name in (n for n in REGISTRY if n not in classifiers):
            logger.warning("leaving out %s: it needs pip install 'sentibench[%s]'", name, REGISTRY.missing_extra(name))
    settings = args.set or []
    params = parse_overrides(args.config, settings)
    values = {**RUN_DEFAULTS, **{k: getattr(args, k) for k in RUN_DEFAULTS if getattr(args, k, None) is not None}}
    if not 0 <= values["seed"] <= 2**32 - 1:  # what NumPy and scikit-learn accept as a seed
        raise UsageError(f"--seed must be an integer from 0 to 4294967295, got {values['seed']}")
    if values["latency_calls"] < 1:
        raise UsageError(f"--latency-calls must be at least 1, got {values['latency_calls']}")
    for flag in ("max_latency_ms", "max_train_s", "max_model_mb", "cpu_hour_price"):
        value = getattr(args, flag, None)
        if value is not None and not value > 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be a positive number, got {value}")
    if args.sample_size is not None and args.sample_size < 10:
        raise UsageError(f"--sample-size must be at least 10, got {args.sample_size}")
    for flag in ("max_train_samples", "eval_every"):  # shortcuts for BERT hyperparameters
        value = getattr(args, flag)
        if value is not None:
            if value < 1:
                raise UsageError(f"--{flag.replace('_', '-')} must be at least 1")
            if "bert" not in classifiers:
                raise UsageError(f"--{flag.replace('_', '-')} applies to bert, which this run does not include")
            params.setdefault("bert", {})[flag] = value
    # Progress bars (BERT's included) follow the command line unless a --set says otherwise.
    for name in classifiers:
        switch = REGISTRY[name].progress_param if REGISTRY.is_builtin(name) else None
        if switch is not None and switch not in params.get(name, {}):
            params.setdefault(name, {})[switch] = args.bars
    trusted = frozenset(item.partition("=")[2] for item in settings)
    cfg = RunConfig(
        data=args.data, format=args.format, text_column=args.text_column, label_column=args.label_column,
        star_threshold=args.star_threshold, label_map=parse_label_map(args.label_map), dedupe=bool(args.dedupe),
        sample_size=args.sample_size, seed=values["seed"], classifiers=classifiers, params=params,
        output=values["output"], latency_calls=values["latency_calls"], save_models=bool(getattr(args, "save_models", False)),
        verbose=args.bars, **{k: getattr(args, k, None) for k in ("max_latency_ms", "max_train_s", "max_model_mb", "cpu_hour_price")},
        tune=bool(getattr(args, "tune", False)), tune_budget_min=_tune_budget(args),
    )
    return cfg, trusted


def cmd_curve(args) -> int:
    from dataclasses import asdict

    from .cli import parse_sizes
    from .curve import CurveConfig, run_curve

    try:
        if args.resume is not None:
            given = given_run_options(args)
            if given:
                raise UsageError(f"--resume continues a curve with its saved settings; drop {', '.join(given)}")
            run_dir, curve = run_curve(None, resume=Path(args.resume))
        else:
            base, trusted = run_config(args)
            repeats = 3 if args.repeats is None else args.repeats
            if repeats < 1:
                raise UsageError(f"--repeats must be at least 1, got {repeats}")
            sizes = parse_sizes(args.sizes) if args.sizes is not None else None
            run_dir, curve = run_curve(CurveConfig(**asdict(base), sizes=sizes, repeats=repeats), trusted_files=trusted)
    except KeyboardInterrupt:
        print("\ninterrupted: finished points are kept; continue with 'python -m benchmark curve --resume RUN_DIR'",
              file=sys.stderr)
        return 130
    for sentence in curve["findings"]:
        print(sentence)
    print(f"\nresults: {run_dir} (report: {run_dir / 'report.md'})")
    return 0


def _tune_budget(args) -> float:
    budget = getattr(args, "tune_budget_min", None)
    if budget is None:
        return 10.0
    if not budget > 0:
        raise UsageError(f"--tune-budget-min must be a positive number of minutes, got {budget}")
    if not getattr(args, "tune", False):
        raise UsageError("--tune-budget-min applies to --tune; add --tune")
    return budget


def cmd_report(args) -> int:
    from .report import write_report

    print(write_report(args.run_dir))
    return 0


def cmd_predict(args) -> int:
    from .predict import predict_rows, prediction_table, read_texts

    texts = read_texts(args.texts, args.file, sys.stdin)
    names = parse_classifier_list(args.classifiers) if args.classifiers is not None else None
    rows = predict_rows(args.run, texts, names)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    else:
        print(prediction_table(rows))
    return 0


def cmd_data(args) -> int:
    from dataset import download, load_reviews

    from .datainfo import describe, format_info, length_histogram

    if args.data_command == "download":
        folder = download(args.name, cache=args.cache, url=args.url, sha256=args.sha256, verbose=args.bars)
        print(f"{args.name}: {folder}\nuse it with: python -m benchmark run --data {args.name}  (or {args.name}:train)")
        return 0
    data = load_reviews(
        args.path, text_column=args.text_column, label_column=args.label_column,
        format=args.format, star_threshold=args.star_threshold, label_map=parse_label_map(args.label_map),
    )
    if args.plot is not None:
        _check_writable_file(Path(args.plot), "--plot")
    info = describe(data)
    if args.json:
        print(json.dumps({k: v for k, v in info.items() if not k.startswith("_")}, indent=2))
    else:
        print(format_info(info))
    if args.plot is not None:
        path = length_histogram(info, Path(args.plot))
        if not args.json:
            print(f"length histogram: {path}")
    return 0


def _check_writable_file(path: Path, option: str) -> None:
    """Fail before the work when ``path`` cannot be written as a file (it is written
    atomically: a temporary file in the same folder, then a rename)."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; pass a file name")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {option} {path}: permission denied")


def cmd_compare(args) -> int:
    from .predict import compare_runs, format_comparison

    comparison = compare_runs(args.run_a, args.run_b)
    if args.json:
        print(json.dumps(comparison, indent=2))
    else:
        print(format_comparison(comparison))
    if not comparison["same_split"]:
        logger.warning("the two runs used different splits (manifest hashes differ): differences mix data and model effects")
    elif not comparison["same_data"]:
        logger.warning("the two runs split the same rows of different texts or labels (data hashes differ)")
    return 0


def cmd_perf(args) -> int:
    from .output import write_json

    if args.latency_calls is None:
        args.latency_calls = 2000 if args.target == "classical" else 100
    for flag in ("sentences", "long", "batch_size", "latency_calls", "epochs"):
        if getattr(args, flag) < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be at least 1")
    if args.json:
        _check_writable_file(Path(args.json), "--json")
    if args.target == "classical":
        from .perf_classical import format_perf_classical, json_rows, run_perf_classical

        results = run_perf_classical(args.data, latency_calls=args.latency_calls)
        print(format_perf_classical(results))
        if args.json:
            write_json(Path(args.json), json_rows(results))
        return 0
    from .perf import format_perf, run_perf

    results = run_perf(
        data=args.data, n_sentences=args.sentences, n_long=args.long, batch_size=args.batch_size,
        latency_calls=args.latency_calls, tta_size=args.time_to_accuracy, epochs=args.epochs,
    )
    print(format_perf(results))
    if args.json:
        write_json(Path(args.json), results)
    return 0


COMMANDS = {
    "run": cmd_run, "curve": cmd_curve, "perf": cmd_perf, "report": cmd_report, "predict": cmd_predict,
    "compare": cmd_compare, "data": cmd_data,
}
