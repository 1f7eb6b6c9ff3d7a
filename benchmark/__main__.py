"""sentibench command line: ``python -m benchmark run --all``.

Exit codes: 0 success, 2 bad input or usage (one-line message, no traceback),
130 interrupted (the classifiers that finished are kept).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

from classifiers import REGISTRY
from classifiers.base import ModelFileError
from dataset import DATASETS, FORMATS, DataError

from .report import ReportError
from .runner import UsageError

logger = logging.getLogger("benchmark")


def _parse_value(text: str):
    """``--set`` values: JSON if it parses (``0.5``, ``true``, ``null``, ``[1, 2]``),
    a comma-separated list (``1,2``), otherwise the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if "," in text:
        return [_parse_value(part.strip()) for part in text.split(",")]
    return text


def parse_overrides(config_file: str | None, settings: list[str]) -> dict[str, dict]:
    """Merge a JSON config file ``{"bow": {"C": 0.5}}`` and ``--set bow.C=0.5`` items."""
    params: dict[str, dict] = {}
    if config_file:
        path = Path(config_file)
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"config file {path} is not valid JSON ({exc})") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
            raise UsageError(f'config file {path} must map classifier names to objects, e.g. {{"bow": {{"C": 0.5}}}}')
        params = {k: dict(v) for k, v in loaded.items()}
    for item in settings:
        key, sep, value = item.partition("=")
        name, dot, param = key.partition(".")
        if not (sep and dot and name and param):
            raise UsageError(f"--set expects CLASSIFIER.PARAM=VALUE (e.g. bow.C=0.5), got {item!r}")
        params.setdefault(name, {})[param] = _parse_value(value)
    return params


def parse_classifier_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in REGISTRY]
    if unknown or not names:
        raise UsageError(f"unknown classifier(s) {', '.join(unknown) or '(none given)'}; choose from: {', '.join(REGISTRY)}")
    return list(dict.fromkeys(names))


def add_data_arguments(parser: argparse.ArgumentParser, with_data: bool = True) -> None:
    group = parser.add_argument_group("data")
    if with_data:
        group.add_argument(
            "--data",
            help="review file, a downloaded dataset (yelp-polarity, yelp-polarity:train) or a Hugging Face dataset "
            "(hf:NAME[:SPLIT]); default: $SENTIBENCH_DATA, then dataset/yelp_reviews.csv, then a bundled "
            "200-sentence sample",
        )
    group.add_argument("--format", choices=FORMATS, help="file format (default: detected from extension and content)")
    group.add_argument("--text-column", help="column holding the review text (CSV/TSV/JSONL/Parquet with a header)")
    group.add_argument("--label-column", help="column holding the label (CSV/TSV/JSONL/Parquet with a header)")
    group.add_argument(
        "--star-threshold",
        type=int,
        help="labels are star ratings: below this is negative, above is positive, equal is dropped (e.g. 3)",
    )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark",
        description="Compare sentiment classifiers on your reviews: accuracy, training time, latency.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and the final table")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="train and evaluate classifiers on one identical split")
    which = run.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help=f"run every classifier ({', '.join(REGISTRY)}); the default")
    which.add_argument(
        "--classifiers", type=str, metavar="NAMES",
        help=f"comma-separated classifiers to run, from: {', '.join(REGISTRY)}",
    )
    add_data_arguments(run)
    run.add_argument("--sample-size", type=int, metavar="N", help="first draw a stratified sample of N reviews")
    run.add_argument("--seed", type=int, default=42, help="seed of the sample, the split and the classifiers (default 42)")
    run.add_argument("--output", default="results", help="folder that receives the run folder (default results/)")
    run.add_argument(
        "--set", action="append", default=[], metavar="NAME.PARAM=VALUE",
        help="override a hyperparameter, e.g. --set bow.C=0.5 --set bow.ngram_range=1,3 (repeatable)",
    )
    run.add_argument("--config", metavar="FILE", help='JSON file of hyperparameters: {"bow": {"C": 0.5}, "w2v": {...}}')
    run.add_argument("--latency-calls", type=int, default=100, help="timed single-review calls per classifier (default 100)")
    run.add_argument("--save-models", action="store_true", help="keep each fitted classifier under RUN_DIR/models/NAME")
    run.add_argument(
        "--resume", metavar="RUN_DIR",
        help="continue an interrupted run: finished classifiers are kept, BERT restarts after its last epoch "
        "(the run's own data and settings are used; the split must be unchanged)",
    )
    run.add_argument("--max-train-samples", type=int, metavar="N", help="BERT: train on a stratified sample of N training reviews")
    run.add_argument("--eval-every", type=int, metavar="STEPS", help="BERT: also evaluate (and keep the best weights) every STEPS steps")
    run.add_argument(
        "--seeds", metavar="LIST",
        help="comma-separated seeds: repeat the whole comparison per seed and report mean and standard deviation",
    )

    report = sub.add_parser("report", help="regenerate report.md and plots of a run folder without retraining")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by 'run'")

    predict = sub.add_parser("predict", help="label new reviews with the models saved by 'run --save-models'")
    predict.add_argument("--run", required=True, metavar="RUN_DIR", help="run folder holding models/")
    predict.add_argument("--classifiers", metavar="NAMES", help="comma-separated subset of the saved classifiers")
    predict.add_argument("--file", help="text file with one review per line")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="reviews to classify (default: --file, else stdin)")

    data = sub.add_parser("data", help="inspect or download review data")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    info = data_sub.add_parser("info", help="rows, class balance, dropped rows and review lengths of a file")
    info.add_argument("path", metavar="PATH", help="review file or dataset (anything 'run --data' accepts)")
    add_data_arguments(info, with_data=False)
    info.add_argument(
        "--plot", metavar="FILE.png",
        help="where to save the length histogram (default: <file name>_lengths.png in the current folder)",
    )

    fetch = data_sub.add_parser("download", help="download a public review dataset into the cache")
    fetch.add_argument("name", choices=sorted(DATASETS), help="dataset to download")
    fetch.add_argument("--cache", metavar="DIR", help="cache folder (default $SENTIBENCH_CACHE or ~/.cache/sentibench)")
    fetch.add_argument("--url", help="download from this address instead of the published one (a mirror)")
    fetch.add_argument("--sha256", help="expected SHA-256 of the archive; a mismatch deletes the download")

    compare = sub.add_parser("compare", help="metric differences between two run folders")
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")

    perf = sub.add_parser("perf", help="BERT fine-tuning speed: seed recipe vs Trainer vs sentibench, one run")
    perf.add_argument("target", choices=["bert"], help="what to measure (bert)")
    perf.add_argument("--data", help="sentences to use (default ../shared/data/yelp_sentences.csv, else the bundled sample)")
    perf.add_argument("--sentences", type=int, default=320, help="number of short sentences (default 320)")
    perf.add_argument("--long", type=int, default=96, help="number of long (>128-token) reviews (default 96)")
    perf.add_argument("--batch-size", type=int, default=16, help="batch size for all recipes (default 16)")
    perf.add_argument("--latency-calls", type=int, default=100, help="timed single-review predictions (default 100)")
    perf.add_argument(
        "--time-to-accuracy", type=int, default=0, metavar="N",
        help="also train Trainer and sentibench for --epochs on a split of N sentences and report validation "
        "accuracy against training time, and the int8 inference accuracy (default off)",
    )
    perf.add_argument("--epochs", type=int, default=3, help="epochs for --time-to-accuracy (default 3)")
    perf.add_argument("--json", metavar="FILE", help="also write the measurements to this JSON file")
    return parser.parse_args(argv)


def _configure_logging(quiet: bool) -> None:
    # Our own packages speak at INFO; libraries (gensim logs every epoch) only warn.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for name in ("benchmark", "classifiers", "dataset"):
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.INFO)


def cmd_run(args) -> int:
    from .output import format_seed_summary, format_table
    from .runner import RunConfig, run, run_seeds

    if args.sample_size is not None and args.sample_size < 10:
        raise UsageError(f"--sample-size must be at least 10, got {args.sample_size}")
    if args.latency_calls < 1:
        raise UsageError(f"--latency-calls must be at least 1, got {args.latency_calls}")
    resume = Path(args.resume) if args.resume else None
    cfg = RunConfig() if resume else _run_config(args)  # a resumed run uses its own saved config
    try:
        if args.seeds and not resume:
            parent, summary = run_seeds(cfg, parse_seeds(args.seeds))
            if parent is not None:
                print(format_seed_summary(summary))
                print(f"results: {parent}")
            return 0
        run_dir, results = run(cfg, resume=resume)
        if run_dir is None:
            return 0  # a helper process of a multi-process run: the main process reports
    except KeyboardInterrupt:
        print(
            "\ninterrupted: results of the classifiers that finished are kept; continue with "
            "'python -m benchmark run --resume RUN_DIR'", file=sys.stderr,
        )
        return 130
    if results["data"]["chosen_by"].startswith("bundled"):
        logger.warning("these numbers come from the bundled demo sample; for real ones use --data FILE or SENTIBENCH_DATA=FILE")
    print(format_table(results))
    print(f"\nresults: {run_dir} (report: {run_dir / 'report.md'})")
    return 0


def _run_config(args):
    from .runner import RunConfig

    classifiers = parse_classifier_list(args.classifiers) if args.classifiers else list(REGISTRY)
    params = parse_overrides(args.config, args.set)
    for flag in ("max_train_samples", "eval_every"):  # shortcuts for BERT hyperparameters
        value = getattr(args, flag)
        if value is not None:
            if value < 1:
                raise UsageError(f"--{flag.replace('_', '-')} must be at least 1")
            if "bert" in classifiers:
                params.setdefault("bert", {})[flag] = value
    return RunConfig(
        data=args.data,
        format=args.format,
        text_column=args.text_column,
        label_column=args.label_column,
        star_threshold=args.star_threshold,
        sample_size=args.sample_size,
        seed=args.seed,
        classifiers=classifiers,
        params=params,
        output=args.output,
        latency_calls=args.latency_calls,
        save_models=args.save_models,
        verbose=not args.quiet,
    )


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--seeds expects comma-separated integers such as 1,2,3; got {text!r}") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds needs at least two different seeds, got {text!r}")
    return seeds


def cmd_report(args) -> int:
    from .report import write_report

    print(write_report(args.run_dir))
    return 0


def cmd_predict(args) -> int:
    from .predict import predict_texts, read_texts

    texts = read_texts(args.texts, args.file, sys.stdin)
    names = parse_classifier_list(args.classifiers) if args.classifiers else None
    print(predict_texts(args.run, texts, names))
    return 0


def cmd_data(args) -> int:
    from dataset import download, load_reviews

    from .datainfo import describe, format_info, length_histogram

    if args.data_command == "download":
        folder = download(args.name, cache=args.cache, url=args.url, sha256=args.sha256, verbose=not args.quiet)
        print(f"{args.name}: {folder}\nuse it with: python -m benchmark run --data {args.name}  (or {args.name}:train)")
        return 0

    data = load_reviews(
        args.path, text_column=args.text_column, label_column=args.label_column,
        format=args.format, star_threshold=args.star_threshold,
    )
    info = describe(data)
    print(format_info(info))
    plot = Path(args.plot or f"{Path(args.path).stem}_lengths.png")
    print(f"length histogram: {length_histogram(info, plot)}")
    return 0


def cmd_compare(args) -> int:
    from .predict import compare_runs

    text, same_split = compare_runs(args.run_a, args.run_b)
    print(text)
    if not same_split:
        logger.warning("the two runs used different splits (manifest hashes differ): differences mix data and model effects")
    return 0


def cmd_perf(args) -> int:
    from .output import write_json
    from .perf import format_perf, run_perf

    for flag in ("sentences", "long", "batch_size", "latency_calls", "epochs"):
        if getattr(args, flag) < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be at least 1")
    results = run_perf(
        data=args.data, n_sentences=args.sentences, n_long=args.long, batch_size=args.batch_size,
        latency_calls=args.latency_calls, tta_size=args.time_to_accuracy, epochs=args.epochs,
    )
    print(format_perf(results))
    if args.json:
        write_json(Path(args.json), results)
    return 0


COMMANDS = {"run": cmd_run, "perf": cmd_perf, "report": cmd_report, "predict": cmd_predict, "compare": cmd_compare, "data": cmd_data}


def main(argv=None) -> int:
    args = parse_args(argv)
    _configure_logging(args.quiet)
    try:
        with logging_redirect_tqdm():
            return COMMANDS[args.command](args)
    except (DataError, UsageError, ModelFileError, ReportError) as exc:
        print(f"sentibench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
