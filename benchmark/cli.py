"""The command line's arguments: one parser, one ``help=`` per flag.

``-q``/``-v``/``--log-level`` are accepted before or after the subcommand. Options of
``run`` default to ``None`` so that ``--resume`` can tell which ones were given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from classifiers import REGISTRY
from dataset import DATASETS, FORMATS, UsageError, refuse_constant

from . import __version__
from .cli_values import price_pair, seed_list, size_list
from .config import METRICS, TRACKERS

#: run's options that describe a new run; --resume uses the run's saved ones instead.
RUN_OPTIONS = {
    "--all": "all", "--classifiers": "classifiers", "--data": "data", "--format": "format",
    "--text-column": "text_column", "--label-column": "label_column", "--star-threshold": "star_threshold",
    "--label-map": "label_map", "--dedupe": "dedupe", "--sample-size": "sample_size", "--seed": "seed",
    "--output": "output", "--set": "set", "--config": "config", "--latency-calls": "latency_calls",
    "--save-models": "save_models", "--max-train-samples": "max_train_samples", "--eval-every": "eval_every",
    "--llm-price-per-mtok": "llm_price_per_mtok",
    "--seeds": "seeds", "--max-latency-ms": "max_latency_ms", "--max-train-s": "max_train_s",
    "--max-model-mb": "max_model_mb", "--cpu-hour-price": "cpu_hour_price",
    "--gpu-hour-price": "gpu_hour_price", "--sizes": "sizes", "--repeats": "repeats",
    "--per-class": "per_class",
    "--tune": "tune", "--tune-budget-min": "tune_budget_min", "--metric": "metric",
    "--robustness": "robustness", "--robustness-suite": "robustness_suite", "--group-column": "group_column",
}


def program_name() -> str:
    """``sentibench`` for the console script, ``python -m benchmark`` for the module."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "python -m benchmark" if name in ("__main__.py", "-m", "") else name


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as sentibench's one-line UsageError (exit 2, no usage block)."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _verbosity_options() -> argparse.ArgumentParser:
    # SUPPRESS: a value given before the subcommand is not reset by the subparser's default.
    common = _Parser(add_help=False)
    group = common.add_argument_group("logging")
    group.add_argument("-q", "--quiet", dest="log_level", action="store_const", const="WARNING", default=argparse.SUPPRESS,
                       help="only warnings, errors and results; no progress bars")
    group.add_argument("-v", "--verbose", dest="log_level", action="store_const", const="DEBUG", default=argparse.SUPPRESS,
                       help="debug messages, and libraries' own informational messages")
    group.add_argument("--log-level", dest="log_level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default=argparse.SUPPRESS,
                       help="log level of sentibench's messages (default INFO)")
    return common


def add_data_arguments(parser: argparse.ArgumentParser, with_data: bool = True) -> None:
    group = parser.add_argument_group("data")
    if with_data:
        group.add_argument(
            "--data",
            help="review file, a downloaded dataset (yelp-polarity, yelp-polarity:train) or a Hugging Face dataset "
            "(hf:NAME[:SPLIT]), or a bundled sample (sample:uci, sample:pang-lee); default: $SENTIBENCH_DATA, then "
            "dataset/yelp_reviews.csv, then sample:uci (3,000 review sentences from Yelp, Amazon and IMDb)",
        )
    group.add_argument("--format", choices=FORMATS, help="file format (default: detected from extension and content)")
    group.add_argument("--text-column", help="column holding the review text (CSV/TSV/JSONL/Parquet with a header)")
    group.add_argument("--label-column", help="column holding the label (CSV/TSV/JSONL/Parquet with a header)")
    group.add_argument(
        "--star-threshold", type=int,
        help="collapse star ratings to two classes: below this is negative, above is positive, equal is dropped "
        "(e.g. 3; by default ratings stay one class per star)",
    )
    group.add_argument(
        "--label-map", nargs="+", metavar="CLASS=VALUES", action=LabelMapAction,
        help="group label values into classes, in class order, e.g. --label-map negative=1,2 neutral=3 positive=4,5 "
        '(or a JSON object such as \'{"negative": [1, 2], "positive": [4, 5]}\'); values left out are dropped and counted',
    )


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("budgets (for the recommendation; every classifier is still measured)")
    group.add_argument("--max-latency-ms", type=float, metavar="MS",
                       help="recommend only classifiers whose single-review p50 is at most MS")
    group.add_argument("--max-train-s", type=float, metavar="S", help="recommend only classifiers that train in at most S seconds")
    group.add_argument("--max-model-mb", type=float, metavar="MB", help="recommend only classifiers whose saved model is at most MB")
    group.add_argument("--cpu-hour-price", type=float, metavar="PRICE",
                       help="price of one CPU core-hour: adds the price of classifying a million reviews to the table")
    group.add_argument("--gpu-hour-price", type=float, metavar="PRICE",
                       help="price of one GPU-hour: the price of a million reviews for classifiers that ran on a GPU")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the units run and whether the run is tracked: allowed with ``--resume`` (they change no number)."""
    group = parser.add_argument_group("parallel fits and tracking (allowed with --resume; they change no result)")
    group.add_argument("--jobs", type=int, metavar="N",
                       help="fit N units (classifier x seed, or curve points) at once in worker processes, each with "
                       "its share of the cores; latency is then timed afterwards, one classifier at a time (default 1)")
    group.add_argument("--cluster", metavar="ADDRESS",
                       help="send the units to a Dask scheduler, e.g. tcp://HOST:8786 (default $SENTIBENCH_DASK_SCHEDULER; "
                       "needs pip install 'sentibench[dask]')")
    group.add_argument("--track", choices=TRACKERS,
                       help="log the finished run to MLflow (needs pip install 'sentibench[mlflow]'); the store is "
                       "$MLFLOW_TRACKING_URI, else a SQLite file mlflow.db in the output folder")


def add_experiment_arguments(parser: argparse.ArgumentParser, names: str) -> None:
    """What ``run`` and ``curve`` share: classifiers, data, split, hyperparameters, output."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", default=None, help=f"every classifier ({names}); the default")
    which.add_argument("--classifiers", metavar="NAMES", type=classifier_list,
                       help=f"comma-separated classifiers, from: {names}; or your own as MODULE:ATTR (a SentimentClassifier, "
                       "or a class or zero-argument callable giving a scikit-learn classifier over texts)")
    add_data_arguments(parser)
    parser.add_argument("--dedupe", action="store_true", default=None,
                        help="drop repeated reviews (same text after whitespace normalisation) before splitting")
    parser.add_argument("--sample-size", type=int, metavar="N", help="first draw a stratified sample of N reviews")
    parser.add_argument("--seed", type=int, help="seed of the sample, the split and the classifiers (default 42)")
    parser.add_argument("--output", help="folder that receives the run folder (default results/)")
    parser.add_argument(
        "--set", action="append", metavar="NAME.PARAM=VALUE", type=setting,
        help="override a hyperparameter, e.g. --set bow.C=0.5 --set bow.ngram_range=1,3 (repeatable); "
        "w2v.vectors may name gensim's pickle-based .kv vectors, and w2v.corpus a text file, only here, on the "
        "command line (never in --config or a resumed run: unpickling can run code, and a corpus ends up in the model)",
    )
    parser.add_argument("--config", metavar="FILE", type=config_file,
                        help='JSON file of hyperparameters: {"bow": {"C": 0.5}, "w2v": {...}}')
    parser.add_argument(
        "--metric", choices=METRICS,
        help="what 'most accurate' means for the recommendation, tuning, learning curves and the frontier: accuracy "
        "(default), f1_macro (fairer with imbalanced classes) or qwk (quadratic weighted kappa, ordered classes such as stars)",
    )
    parser.add_argument("--max-train-samples", type=int, metavar="N",
                        help="bert, setfit: train on a stratified sample of N training reviews")
    parser.add_argument("--eval-every", type=int, metavar="STEPS",
                        help="BERT: also evaluate (and keep the best weights) every STEPS steps")
    parser.add_argument("--llm-price-per-mtok", type=price_pair, metavar="IN,OUT",
                        help="llm: the endpoint's price per million tokens in and out; the record then says what a "
                        "million reviews cost")


def build_parser() -> argparse.ArgumentParser:
    common = _verbosity_options()
    names = ", ".join(REGISTRY)
    parser = _Parser(
        prog=program_name(), parents=[common],
        description="Compare sentiment classifiers on your reviews: accuracy, training time, latency.",
    )
    parser.add_argument("--version", action="version", version=f"sentibench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="train and evaluate classifiers on one identical split")
    add_experiment_arguments(run, names)
    run.add_argument("--latency-calls", type=int, help="timed single-review calls per classifier (default 100)")
    run.add_argument("--save-models", action="store_true", default=None,
                     help="keep each fitted classifier under RUN_DIR/models/NAME (BERT as a Hugging Face folder)")
    run.add_argument(
        "--resume", metavar="RUN_DIR",
        help="continue an interrupted run with its own saved data and settings (no other run option may be given): "
        "finished classifiers are kept, BERT restarts after its last epoch; changed data is refused",
    )
    run.add_argument("--seeds", metavar="LIST", type=seed_list,
                     help="comma-separated seeds: repeat the whole comparison per seed and report mean and standard deviation")
    add_budget_arguments(run)
    run.add_argument("--tune", action="store_true", default=None,
                     help="first search each classifier's main hyperparameters on the validation split (the test split is "
                     "used once, after the choice); the spaces are listed in README")
    run.add_argument("--tune-budget-min", type=float, metavar="M",
                     help="minutes each classifier's search may take (default 10)")
    failing = run.add_argument_group("how each classifier fails")
    failing.add_argument("--robustness", action="store_true", default=None,
                         help="also run behavioural tests on every classifier (negation, contrast, typos, added sentences...; "
                         "robustness.json and a report section)")
    failing.add_argument("--robustness-suite", metavar="FILE",
                         help="JSON file that adds, replaces or drops behavioural tests and word lists (format in README)")
    failing.add_argument("--group-column", metavar="COL",
                         help="column of the data naming each review's group (product, source, city): accuracy per group "
                         "in the report (header formats and hf:)")
    add_engine_arguments(run)

    curve = sub.add_parser("curve", parents=[common], help="accuracy against training-set size (learning curves)")
    add_experiment_arguments(curve, names)
    curve.add_argument("--sizes", metavar="LIST", type=size_list,
                       help="comma-separated training-set sizes (default: 100, doubling, up to the whole training part)")
    curve.add_argument("--per-class", metavar="LIST", type=size_list,
                       help="sizes as labels per class, such as 8,16,32,64: each sample holds exactly that many of each class")
    curve.add_argument("--repeats", type=int,
                       help="samples drawn per size below the whole training part (default 3); mean, spread and CI are reported")
    curve.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted learning curve (no other option may be given); finished points are kept")
    add_engine_arguments(curve)

    track = sub.add_parser("track", parents=[common],
                           help="log a finished run, --seeds or curve folder to MLflow (needs pip install 'sentibench[mlflow]')")
    track.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by 'run', 'run --seeds' or 'curve'")

    report = sub.add_parser("report", parents=[common], help="regenerate report.md and plots of a run folder without retraining")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by 'run'")

    predict = sub.add_parser("predict", parents=[common], help="label new reviews with the models saved by 'run --save-models'",
                             description="Reviews are read, labelled and written 1,000 at a time (memory stays flat, "
                                         "tables come in blocks of 1,000 rows); use --json --no-text for large jobs.")
    predict.add_argument("--run", required=True, metavar="RUN_DIR", help="run folder holding models/")
    predict.add_argument("--classifiers", metavar="NAMES", type=classifier_list, help="comma-separated subset of the saved classifiers")
    predict.add_argument("--file", help="UTF-8 text file with one review per line (a line ends at \\n or \\r\\n only)")
    predict.add_argument("--json", action="store_true",
                         help="print JSON lines instead of tables: per review its index (line number - 1), the review's "
                              "whole text, and each classifier's label and probabilities")
    predict.add_argument("--no-text", action="store_true",
                         help="answers only: leave the review's text out of the output (large jobs; tables show the line number)")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="reviews to classify (default: --file, else stdin)")

    robustness = sub.add_parser("robustness", parents=[common],
                                help="behavioural tests of the classifiers saved by 'run --save-models' (robustness.json, report)")
    robustness.add_argument("--run", required=True, metavar="RUN_DIR", help="run folder holding models/")
    robustness.add_argument("--robustness-suite", metavar="FILE",
                            help="JSON file that adds, replaces or drops behavioural tests (default: the run's own, else built-in)")

    data = sub.add_parser("data", parents=[common], help="inspect or download review data")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    info = data_sub.add_parser("info", parents=[common], help="rows, class balance, dropped rows, duplicates and review lengths")
    info.add_argument("path", metavar="PATH", help="review file or dataset (anything 'run --data' accepts)")
    add_data_arguments(info, with_data=False)
    info.add_argument("--plot", metavar="FILE.png", help="also save a histogram of review lengths to this PNG file")
    info.add_argument("--json", action="store_true", help="print the numbers as JSON")

    fetch = data_sub.add_parser("download", parents=[common], help="download a public review dataset into the cache")
    fetch.add_argument("name", choices=sorted(DATASETS), help="dataset to download")
    fetch.add_argument("--cache", metavar="DIR", help="cache folder (default $SENTIBENCH_CACHE or ~/.cache/sentibench)")
    fetch.add_argument("--url", help="download from this address instead of the published one (a mirror: it must serve "
                                     "the published archive, whose SHA-256 is checked)")
    fetch.add_argument("--sha256", help="expected SHA-256 of another archive than the published one (a subset, a private "
                                        "copy); a mismatch deletes the download")

    compare = sub.add_parser("compare", parents=[common], help="metric differences between two run folders")
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")
    compare.add_argument("--json", action="store_true", help="print the differences as JSON")

    perf = sub.add_parser("perf", parents=[common],
                          help="speed side by side in one run: BERT recipes, or the classical models and fastText")
    perf.add_argument("target", choices=["bert", "classical"],
                      help="bert: seed recipe vs Trainer vs sentibench; classical: BoW and Word2Vec vs fastText")
    perf.add_argument("--data", help="reviews to use (default ../shared/data/yelp_sentences.csv, else sample:uci)")
    perf.add_argument("--text-column", help="classical: column holding the review text (header formats)")
    perf.add_argument("--label-column", help="classical: column holding the label, e.g. stars for K classes side by side")
    perf.add_argument("--sentences", type=int, default=320, help="number of short sentences (default 320)")
    perf.add_argument("--long", type=int, default=96, help="number of long (>128-token) reviews (default 96)")
    perf.add_argument("--batch-size", type=int, default=16, help="batch size for all recipes (default 16)")
    perf.add_argument("--latency-calls", type=int, help="timed single-review predictions (default 100 for bert, 2000 for classical)")
    perf.add_argument(
        "--time-to-accuracy", type=int, default=0, metavar="N",
        help="also train Trainer and sentibench for --epochs on a split of N sentences and report validation "
        "accuracy against training time, and the inference accuracy (default off)",
    )
    perf.add_argument("--epochs", type=int, default=3, help="epochs for --time-to-accuracy (default 3)")
    perf.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                      help="bert: where to train and serve (default cpu); cuda also measures the GPU default batch")
    perf.add_argument("--model", metavar="PATH",
                      help="bert: a local model folder to measure instead of the bundled MiniLM (e.g. a bert-base-shaped "
                      "network, ../shared/gpu/README.md)")
    perf.add_argument("--json", metavar="FILE", help="also write the measurements to this JSON file (classical: a list of rows)")
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.log_level = getattr(args, "log_level", "INFO")
    return args


# -- values: argparse ``type=`` callables and actions ------------------------------------
# Each turns one command-line string into the value RunConfig takes, or raises
# ArgumentTypeError, which the parser reports as one line (see _Parser.error).


def parse_value(text: str):
    """``--set`` values: JSON if it parses (``0.5``, ``true``, ``null``, ``[1, 2]``),
    a comma-separated list (``1,2``), otherwise the string itself."""
    try:
        return json.loads(text, parse_constant=refuse_constant)
    except ValueError:  # not JSON, or NaN / Infinity (no JSON numbers): the text itself
        pass
    if "," in text:
        return [parse_value(part.strip()) for part in text.split(",")]
    return text


def setting(item: str) -> tuple[str, str, object]:
    """``--set bow.C=0.5`` -> ``("bow", "C", 0.5)``."""
    key, sep, value = item.partition("=")
    name, dot, param = key.partition(".")
    if not (sep and dot and name and param):
        raise argparse.ArgumentTypeError(f"expects CLASSIFIER.PARAM=VALUE (e.g. bow.C=0.5), got {item!r}")
    return name, param, parse_value(value)


def config_file(path_text: str) -> dict[str, dict]:
    """``--config FILE``: a JSON object of classifier name -> hyperparameters."""
    try:
        return read_json_file(path_text, "config file")
    except UsageError as exc:  # argparse reports a ValueError as "invalid value" only
        raise argparse.ArgumentTypeError(str(exc)) from None


def read_json_file(path_text: str, what: str) -> dict:
    path = Path(path_text)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse_constant)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path} is not UTF-8 text; save it as UTF-8 JSON") from None
    except ValueError as exc:  # JSONDecodeError, or NaN / Infinity
        raise UsageError(f"{what} {path} is not valid JSON ({exc})") from None
    if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
        raise UsageError(f'{what} {path} must map classifier names to objects, e.g. {{"bow": {{"C": 0.5}}}}')
    return loaded


def classifier_list(text: str) -> list[str]:
    """``--classifiers bow,w2v`` -> ``["bow", "w2v"]`` (names checked by RunConfig)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"is empty; name at least one of: {', '.join(REGISTRY)}")
    return list(dict.fromkeys(names))


class LabelMapAction(argparse.Action):
    """``--label-map negative=1,2 neutral=3 positive=4,5`` (or one JSON object) -> the
    ordered groups ``{"negative": ["1", "2"], "neutral": ["3"], "positive": ["4", "5"]}``;
    the order given is the class order, values left out are dropped."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, self.parse(values))

    @staticmethod
    def parse(items: list[str] | None) -> dict[str, list[str]] | None:
        if not items:
            return None
        text = " ".join(items).strip()
        groups = LabelMapAction._json_groups(text) if text.startswith("{") else LabelMapAction._item_groups(items)
        seen: dict[str, str] = {}
        for name, values in groups.items():
            if not values:
                raise UsageError(f"--label-map: the class {name!r} has no label values")
            for value in values:
                if seen.setdefault(value, name) != name:
                    raise UsageError(f"--label-map puts the label {value!r} in two classes ({seen[value]} and {name})")
        if len(groups) < 2:
            raise UsageError("--label-map must name at least two classes, e.g. negative=1,2 positive=4,5")
        return groups

    @staticmethod
    def _json_groups(text: str) -> dict[str, list[str]]:
        from dataset import label_groups

        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--label-map is not valid JSON ({exc})") from None
        if not isinstance(loaded, dict) or not loaded:
            raise UsageError('--label-map JSON must be an object, e.g. {"negative": [1, 2], "positive": [4, 5]}')
        if all(isinstance(v, list) for v in loaded.values()):
            return {str(k): [str(v) for v in values] for k, values in loaded.items()}
        if all(v in (0, 1, None) and not isinstance(v, bool) for v in loaded.values()):
            return {k: v for k, v in label_groups(loaded).items() if v}  # the older form: label value -> 0 or 1
        raise UsageError('--label-map JSON maps class names to lists of label values, e.g. {"negative": [1, 2], "positive": [4, 5]}')

    @staticmethod
    def _item_groups(items: list[str]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for item in " ".join(items).split():
            name, sep, values = item.partition("=")
            if not sep or not name or not values.strip(","):
                raise UsageError(f"--label-map expects CLASS=VALUES ... (e.g. negative=1,2 neutral=3 positive=4,5), got {item!r}")
            if name in groups:
                raise UsageError(f"--label-map names the class {name!r} twice")
            groups[name] = [v.strip() for v in values.split(",") if v.strip()]
        return groups


def given_run_options(args: argparse.Namespace) -> list[str]:
    """The ``run`` options the user typed (those that do not keep their ``None`` default)."""
    return [flag for flag, dest in RUN_OPTIONS.items() if getattr(args, dest, None) is not None]
