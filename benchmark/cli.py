"""The command line's arguments: one parser, one ``help=`` per flag.

``-q``/``-v``/``--log-level`` are accepted before or after the subcommand. Options of
``run`` default to ``None`` so that ``--resume`` can tell which ones were given.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from dataclasses import fields
from pathlib import Path

from classifiers import REGISTRY
from dataset import DATASETS, UsageError, refuse_constant

from . import __version__
from .cli_values import LabelMapAction, classifier_list, non_negative_number, positive_int, seed_list, size_list
from .config import ENGINE_FIELDS, SHORTCUTS, CurveConfig, RunConfig
from .options import DATA, WHICH, Option, option_of
from .serve.settings import CLASSICAL_POLICY, ENCODER_POLICY, Limits

__all__ = ["build_parser", "parse_args", "given_run_options", "RUN_OPTIONS", "classifier_list", "LabelMapAction",
           "parse_value", "setting", "config_file", "read_json_file"]

#: Flags of ``run`` and ``curve`` that are not config fields (besides --resume).
_OTHER_RUN_OPTIONS = {"--all": "all", "--set": "set", "--config": "config", "--seeds": "seeds"}


def _run_options() -> dict[str, str]:
    """Flag -> namespace name of every option describing a new run or curve: --resume uses the
    run's saved ones instead. The engine options (--jobs, --cluster, --track) are allowed with it."""
    declared = {option_of(f).flag_of(f.name): f.name for f in fields(CurveConfig)
                if option_of(f) is not None and f.name not in ENGINE_FIELDS}
    shortcuts = {f"--{name.replace('_', '-')}": name for name in SHORTCUTS}
    return {**_OTHER_RUN_OPTIONS, **declared, **shortcuts}


#: run's options that describe a new run; --resume uses the run's saved ones instead.
RUN_OPTIONS = _run_options()


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


def add_config_options(parser: argparse.ArgumentParser, config: type, command: str, *, names: str = "",
                       only_group: str | None = None, leave_out: tuple[str, ...] = ()) -> None:
    """The flags of ``config``'s options that ``command`` takes, from their declarations
    (:mod:`benchmark.options`), in declaration order, each in its ``--help`` group;
    ``only_group``/``leave_out``: a part of them (``data info`` takes the data options but --data)."""
    hints, groups = typing.get_type_hints(config), {}
    for f in fields(config):
        declared = option_of(f)
        if declared is None or command not in declared.commands or f.name in leave_out:
            continue
        if only_group is not None and declared.group != only_group:
            continue
        if declared.group is None:
            target = parser
        elif declared.group not in groups:
            target = groups[declared.group] = _group(parser, declared.group, names)
        else:
            target = groups[declared.group]
        target.add_argument(declared.flag_of(f.name), **_argparse_keywords(declared, hints[f.name], names))


def _group(parser: argparse.ArgumentParser, title: str, names: str):
    if title != WHICH:
        return parser.add_argument_group(title)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", default=None, help=f"every classifier ({names}); the default")
    return which


def _argparse_keywords(declared: Option, hint, names: str) -> dict:
    keywords = {"help": declared.help.replace("{names}", names)}
    if hint is bool:
        return {**keywords, "action": "store_true", "default": None}
    if declared.action is not None:
        keywords["action"] = declared.action
    else:
        scalar = next((t for t in (int, float) if hint in (t, t | None)), None)
        parse = declared.parse or scalar
        if parse is not None:
            keywords["type"] = parse
    for name in ("metavar", "nargs", "choices"):
        if getattr(declared, name) is not None:
            keywords[name] = getattr(declared, name)
    return keywords


def add_experiment_arguments(parser: argparse.ArgumentParser, config: type, command: str, names: str) -> None:
    """The declared options of ``command`` (``run`` or ``curve``), the shortcuts, --set and --config."""
    add_config_options(parser, config, command, names=names)
    parser.add_argument(
        "--set", action="append", metavar="NAME.PARAM=VALUE", type=setting,
        help="override a hyperparameter, e.g. --set bow.C=0.5 --set bow.ngram_range=1,3 (repeatable); "
        "w2v.vectors may name gensim's pickle-based .kv vectors, and w2v.corpus a text file, only here, on the "
        "command line (never in --config or a resumed run: unpickling can run code, and a corpus ends up in the model)",
    )
    parser.add_argument("--config", metavar="FILE", type=config_file,
                        help='JSON file of hyperparameters: {"bow": {"C": 0.5}, "w2v": {...}}')
    for name, shortcut in SHORTCUTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=shortcut.parse, metavar=shortcut.metavar, help=shortcut.help)


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
    add_experiment_arguments(run, RunConfig, "run", names)
    run.add_argument(
        "--resume", metavar="RUN_DIR",
        help="continue an interrupted run with its own saved data and settings (no other run option may be given): "
        "finished classifiers are kept, BERT restarts after its last epoch; changed data is refused",
    )
    run.add_argument("--seeds", metavar="LIST", type=seed_list,
                     help="comma-separated seeds: repeat the whole comparison per seed and report mean and standard deviation")

    curve = sub.add_parser("curve", parents=[common], help="accuracy against training-set size (learning curves)")
    add_experiment_arguments(curve, CurveConfig, "curve", names)
    curve.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted learning curve (no other option may be given); finished points are kept")

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

    _add_serve(sub, common)
    _add_loadtest(sub, common)

    robustness = sub.add_parser("robustness", parents=[common],
                                help="behavioural tests of the classifiers saved by 'run --save-models' (robustness.json, report)")
    robustness.add_argument("--run", required=True, metavar="RUN_DIR", help="run folder holding models/")
    robustness.add_argument("--robustness-suite", metavar="FILE",
                            help="JSON file that adds, replaces or drops behavioural tests (default: the run's own, else built-in)")

    data = sub.add_parser("data", parents=[common], help="inspect or download review data")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    info = data_sub.add_parser("info", parents=[common], help="rows, class balance, dropped rows, duplicates and review lengths")
    info.add_argument("path", metavar="PATH", help="review file or dataset (anything 'run --data' accepts)")
    add_config_options(info, RunConfig, "run", only_group=DATA, leave_out=("data",))
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


def _add_serve(sub, common) -> None:
    serve = sub.add_parser("serve", parents=[common], help="a model saved by 'run --save-models' behind HTTP "
                           "(needs pip install 'sentibench[serve]')",
                           description="POST /predict {\"texts\": [...]}, GET /health, GET /metrics (Prometheus), "
                                       "GET /docs (OpenAPI) and GET / (a page to try a review). Writes nothing.")
    serve.add_argument("run_dir", metavar="RUN_DIR", help="run folder holding models/")
    serve.add_argument("--classifier", metavar="NAME", help="which saved classifier (default: the recommended one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                       "only; any other needs an API key)")
    serve.add_argument("--port", type=positive_int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=positive_int, default=1, help="server processes, each with the model (default 1)")
    serve.add_argument("--api-key", metavar="KEY", help="require 'Authorization: Bearer KEY' on /predict and /metrics "
                       "(default $SENTIBENCH_API_KEY; prefer it: a flag is seen in the process list)")
    encoder, classical, limit = ENCODER_POLICY, CLASSICAL_POLICY, Limits()
    serve.add_argument("--max-batch", type=positive_int, metavar="N",
                       help=f"reviews labelled in one call at most (default {encoder.max_batch} for bert, embed, "
                            f"setfit, static; {classical.max_batch} else)")
    serve.add_argument("--batch-wait-ms", type=non_negative_number, metavar="MS",
                       help=f"how long a request waits for others to share its call (default {encoder.max_wait_ms:g} "
                            f"for bert, embed, setfit, static; {classical.max_wait_ms:g} else, which combines only "
                            "requests already waiting); --max-batch 1 --batch-wait-ms 0 turns micro-batching off")
    limits = serve.add_argument_group("limits (each refusal is a 413, 503 or 504 with a one-line JSON error)")
    limits.add_argument("--max-texts", type=positive_int, default=limit.max_texts,
                        help=f"texts per request (default {limit.max_texts})")
    limits.add_argument("--max-chars", type=positive_int, default=limit.max_chars,
                        help=f"characters per text (default {limit.max_chars})")
    limits.add_argument("--max-body-bytes", type=positive_int, default=limit.max_body_bytes,
                        help=f"request body (default {limit.max_body_bytes})")
    limits.add_argument("--max-concurrency", type=positive_int, default=limit.max_concurrency,
                        help=f"requests to /predict in flight per process; more get 503 (default {limit.max_concurrency})")
    limits.add_argument("--timeout", type=non_negative_number, default=limit.timeout_s, metavar="S",
                        help=f"seconds before an unanswered request gets 504 (default {limit.timeout_s:g})")
    measure = serve.add_argument_group("as deployed (--measure: serve and load-test, then stop)")
    measure.add_argument("--measure", action="store_true",
                         help="serve each saved classifier (or --classifier) in turn on a free loopback port, load-test "
                              "it, write deployed.json and the report's 'As deployed' section")
    _add_load_levels(measure)


def _add_load_levels(group) -> None:
    """The load a test applies: ``loadtest``'s and ``serve --measure``'s flags."""
    group.add_argument("--concurrency", type=size_list, default=[1, 8, 64], metavar="N,N,...",
                       help="clients at once, one level after another (default 1,8,64)")
    group.add_argument("--duration", type=non_negative_number, default=10.0, metavar="S",
                       help="seconds per level (default 10)")
    group.add_argument("--data", default="sample:uci", help="reviews to send (anything 'run --data' accepts; "
                       "default the bundled sample:uci)")


def _add_loadtest(sub, common) -> None:
    load = sub.add_parser("loadtest", parents=[common], help="latency and throughput of a 'serve' server under load",
                          description="At each concurrency, that many clients send one review per request to "
                                      "URL/predict for --duration seconds (closed loop, after one untimed request each).")
    load.add_argument("url", metavar="URL", help="the server's address, e.g. http://127.0.0.1:8000")
    _add_load_levels(load)
    load.add_argument("--api-key", metavar="KEY", help="the server's API key (default $SENTIBENCH_API_KEY)")
    load.add_argument("--json", metavar="FILE", help="also write the figures to this JSON file")


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


def given_run_options(args: argparse.Namespace) -> list[str]:
    """The ``run`` options the user typed (those that do not keep their ``None`` default)."""
    return [flag for flag, dest in RUN_OPTIONS.items() if getattr(args, dest, None) is not None]
