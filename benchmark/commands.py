"""What each subcommand does, given parsed arguments. Results go to stdout, messages to
stderr (through logging); a user's mistake raises a one-line ``SentibenchError``."""

from __future__ import annotations

import itertools
import logging
import os
import sys
import tempfile
from pathlib import Path

from dataset import UsageError, json_text

from .cli import given_run_options

logger = logging.getLogger("benchmark")

def cmd_run(args) -> int:
    from .report.tables import format_table
    from .seedrun import is_seeds_folder

    engine = engine_options(args)
    try:
        outcome = _run_or_resume(args, engine)
    except KeyboardInterrupt:
        seeds = args.seeds is not None or (args.resume is not None and is_seeds_folder(Path(args.resume)))
        kept = ("the seeds that finished are kept, with a summary of them; the -seeds folder"
                if seeds else "results of the classifiers that finished are kept; the run")
        print(f"\ninterrupted: {kept} continues with 'python -m benchmark run --resume RUN_DIR'", file=sys.stderr)
        return 130
    if isinstance(outcome, int):
        return outcome  # --seeds, printed; or 0 in a helper process of a multi-process run
    run_dir, results = outcome
    if results["data"]["chosen_by"].startswith("bundled"):
        logger.info("these numbers come from sentibench's bundled sample %s; for your own reviews use --data FILE",
                    results["data"]["source"])
    print(format_table(results))
    recommendation = results.get("recommendation")
    if recommendation:
        print(f"\n{recommendation['reason']}")
    if results["config"].get("robustness"):
        from .robustness.record import load_robustness

        _print_robustness(load_robustness(run_dir))
    print(f"\nresults: {run_dir} (report: {run_dir / 'report.md'}, to share: {run_dir / 'report.html'})")
    _track(run_dir, engine)
    return 0


def _run_or_resume(args, engine: dict):
    """What ``run`` was asked: a new run, a resumed one, or ``--seeds`` (new or resumed). The
    run folder and its results; an exit code once a ``--seeds`` summary is printed; 0 in a
    helper process of a multi-process run."""
    from .config import RunConfig
    from .runner import run
    from .seedrun import is_seeds_folder, refresh_seed_summary, resume_seeds, run_seeds
    from .seeds import format_seed_summary

    named_again = _named_again(args)
    if args.resume is not None:
        _refuse_options_with_resume(args, "a run", allowed=("--classifiers",) if named_again else ())
    if args.resume is not None and is_seeds_folder(Path(args.resume)):
        if named_again:
            raise UsageError("--classifiers with --resume names a run's MODULE:ATTR classifiers again; not for a -seeds folder")
        return _print_seeds(resume_seeds(Path(args.resume), progress=args.bars, engine=engine), format_seed_summary, engine)
    if args.resume is not None:
        outcome = run(None, resume=Path(args.resume), progress=args.bars, engine=engine, named_again=named_again)
        if outcome is not None:
            refresh_seed_summary(outcome[0])
        return 0 if outcome is None else outcome
    if args.seeds is not None:
        if args.seed is not None:
            raise UsageError("--seed and --seeds exclude each other; list every seed in --seeds")
        outcome = run_seeds(RunConfig.from_cli(args, **engine), args.seeds, trusted_files=trusted_files(args), progress=args.bars)
        return _print_seeds(outcome, format_seed_summary, engine)
    outcome = run(RunConfig.from_cli(args, **engine), trusted_files=trusted_files(args), progress=args.bars)
    return 0 if outcome is None else outcome


def _print_robustness(robustness: dict | None) -> None:
    from tabulate import tabulate

    from .robustness.section import failure_rows

    if not robustness:
        return
    rows, headers = failure_rows(robustness)
    table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    print(f"\nBehavioural tests (failure rate, Wilson 95% CI):\n{table}")
    for note in (robustness.get("recommendation") or {}).get("notes", []):
        print(note)


def cmd_serve(args) -> int:
    try:
        from .serve.run import serve
        from .serve.settings import Limits, ServeSettings
    except ImportError as exc:
        raise UsageError(f"serve needs {exc.name}: pip install 'sentibench[serve]'") from None
    if args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    limits = Limits(max_body_bytes=args.max_body_bytes, max_texts=args.max_texts, max_chars=args.max_chars,
                    max_concurrency=args.max_concurrency, timeout_s=args.timeout)
    if args.measure:
        return _measure_deployed(args)
    settings = ServeSettings(run_dir=args.run_dir, classifier=args.classifier, max_batch=args.max_batch,
                             max_wait_ms=args.batch_wait_ms, limits=limits)
    return serve(settings, host=args.host, port=args.port, workers=args.workers, api_key=args.api_key,
                 log_level=args.log_level)


def _measure_deployed(args) -> int:
    from dataset import load_reviews

    from .predict import saved_models
    from .report import write_report
    from .serve.measure import DEPLOYED_FILE, measure_deployed
    from .serve.model import choose_classifier

    if args.duration <= 0:
        raise UsageError("--duration must be more than 0 seconds")
    names = [choose_classifier(args.run_dir, args.classifier)] if args.classifier else list(saved_models(args.run_dir))
    passed = {"--workers": args.workers, "--max-batch": args.max_batch, "--batch-wait-ms": args.batch_wait_ms,
              "--max-texts": args.max_texts, "--max-chars": args.max_chars, "--max-body-bytes": args.max_body_bytes,
              "--max-concurrency": args.max_concurrency, "--timeout": args.timeout}
    serve_args = [item for flag, value in passed.items() if value is not None for item in (flag, str(value))]
    texts = list(load_reviews(args.data).texts)
    measure_deployed(args.run_dir, names, serve_args, texts, args.data, args.concurrency, args.duration)
    report = write_report(args.run_dir)
    print(f"\nas deployed: {Path(args.run_dir) / DEPLOYED_FILE} (report: {report})")
    return 0


def cmd_loadtest(args) -> int:
    from dataset import atomic_write_json, load_reviews

    from .environment import cpu_model
    from .serve.loadtest import format_loadtest, loadtest
    from .serve.run import API_KEY_VARIABLE

    if args.duration <= 0:
        raise UsageError("--duration must be more than 0 seconds")
    texts = list(load_reviews(args.data).texts)
    result = loadtest(args.url, texts, args.concurrency, args.duration, args.api_key or os.environ.get(API_KEY_VARIABLE))
    result["cpu"] = cpu_model()
    print(format_loadtest(result, result["cpu"]))
    if args.json:
        atomic_write_json(args.json, result)
    return 0


def cmd_robustness(args) -> int:
    from .report import write_report
    from .robustness.run import score_saved_run

    robustness = score_saved_run(args.run, args.robustness_suite)
    write_report(args.run)
    _print_robustness(robustness)
    print(f"\nrobustness: {Path(args.run) / 'robustness.json'} (report: {Path(args.run) / 'report.md'})")
    return 0


def _print_seeds(outcome, format_seed_summary, engine: dict) -> int:
    if outcome is not None:
        parent, summary = outcome
        print(format_seed_summary(summary))
        print(f"results: {parent}")
        _track(parent, engine)
    return 0


def engine_options(args) -> dict:
    """``--jobs``, ``--cluster`` (else ``$SENTIBENCH_DASK_SCHEDULER``) and ``--track``: how
    and where units run, and where the run is logged; never part of what a run computes."""
    from .parallel import SCHEDULER_VARIABLE

    cluster = getattr(args, "cluster", None) or os.environ.get(SCHEDULER_VARIABLE) or None
    jobs = getattr(args, "jobs", None)
    return {"jobs": 1 if jobs is None else jobs, "cluster": cluster, "track": getattr(args, "track", None)}


def _track(run_dir: Path, engine: dict) -> None:
    """Log a finished folder to the tracker of ``--track``; a failure is one warning line."""
    if engine.get("track") == "mlflow":
        from .tracking import track_folder

        track_folder(run_dir, warn_only=True)


def trusted_files(args) -> frozenset[str]:
    """Files named by ``--set`` on the command line: the only ones a classifier may unpickle or read."""
    return frozenset(value for _, _, value in getattr(args, "set", None) or [] if isinstance(value, str))


def _named_again(args) -> tuple[str, ...]:
    """With ``--resume``, ``--classifiers`` may name the run's ``MODULE:ATTR`` classifiers
    again (a run folder alone never names code to import); only such names."""
    if args.resume is None or not getattr(args, "classifiers", None):
        return ()
    from classifiers._registry import is_spec

    if not all(is_spec(n) for n in args.classifiers):
        return ()  # then refused as any other option given with --resume
    return tuple(args.classifiers)


def _refuse_options_with_resume(args, what: str, allowed: tuple[str, ...] = ()) -> None:
    given = [flag for flag in given_run_options(args) if flag not in allowed]
    if given:
        raise UsageError(
            f"--resume continues {what} with the data and settings saved in it; drop {', '.join(given)} "
            "(or start anew without --resume)"
        )


def cmd_curve(args) -> int:
    from .config import CurveConfig
    from .curve import run_curve

    engine = engine_options(args)
    try:
        if args.resume is not None:
            _refuse_options_with_resume(args, "a curve")
            run_dir, curve = run_curve(None, resume=Path(args.resume), progress=args.bars, engine=engine)
        else:
            run_dir, curve = run_curve(CurveConfig.from_cli(args, **engine), trusted_files=trusted_files(args), progress=args.bars)
    except KeyboardInterrupt:
        print("\ninterrupted: finished points are kept; continue with 'python -m benchmark curve --resume RUN_DIR'",
              file=sys.stderr)
        return 130
    for sentence in curve["findings"]:
        print(sentence)
    print(f"\nresults: {run_dir} (report: {run_dir / 'report.md'}, to share: {run_dir / 'report.html'})")
    _track(run_dir, engine)
    return 0


def cmd_report(args) -> int:
    from .curve import is_curve_folder, write_curve_report
    from .report import REPORT_PAGE, write_report
    from .rundir import RunLock

    if is_curve_folder(Path(args.run_dir)):
        path = write_curve_report(Path(args.run_dir))  # under the curve's own lock
    else:
        # Under the run's lock: a live run writing the folder is told, never raced.
        with RunLock(Path(args.run_dir), existing=True):
            path = write_report(args.run_dir)
    print(path)
    print(path.with_name(REPORT_PAGE))
    return 0


def cmd_track(args) -> int:
    from .tracking import track_folder

    run_id = track_folder(Path(args.run_dir))
    print(f"logged {args.run_dir} to MLflow: run {run_id}")
    return 0


def cmd_predict(args) -> int:
    from tqdm.auto import tqdm

    from .predict import NO_REVIEWS, Labeller, chunks, iter_texts, prediction_table

    # Read, label and write a chunk at a time: memory is flat in the number of lines. The
    # first chunk is read before the models load, so that a wrong --file is told at once.
    pieces = chunks(iter_texts(args.texts, args.file, sys.stdin))
    first = next(pieces, None)
    if first is None:
        raise UsageError(NO_REVIEWS)
    labeller = Labeller(args.run, args.classifiers)
    with tqdm(desc="predict", unit=" reviews", disable=not args.bars, leave=False) as bar:
        for chunk in itertools.chain([first], pieces):
            rows = labeller.rows([t for _, t in chunk], [i for i, _ in chunk], with_text=not args.no_text)
            if args.json:
                sys.stdout.write("".join(json_text(row, ensure_ascii=False) + "\n" for row in rows))
            else:
                print(prediction_table(rows))
            sys.stdout.flush()
            bar.update(len(rows))
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
        format=args.format, star_threshold=args.star_threshold, label_map=args.label_map,
    )
    if args.plot is not None:
        _check_writable_file(Path(args.plot), "--plot")
    info = describe(data)
    if args.json:
        print(json_text({k: v for k, v in info.items() if not k.startswith("_")}, indent=2))
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
    # Try it: os.access answers yes to root on a folder it still cannot write (/sys, a
    # read-only mount, an immutable folder), and the measurement may take an hour.
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{path.name}.", suffix=".tmp"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {option} {path}: {exc.strerror or exc}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"cannot write {option} {path}: permission denied")


def cmd_compare(args) -> int:
    from .predict import compare_runs, format_comparison

    comparison = compare_runs(args.run_a, args.run_b)
    if args.json:
        print(json_text(comparison, indent=2))
    else:
        print(format_comparison(comparison))
    if not comparison["same_split"]:
        logger.warning("the two runs used different splits (manifest hashes differ): differences mix data and model effects")
    elif not comparison["same_data"]:
        logger.warning("the two runs split the same rows of different texts or labels (data hashes differ)")
    return 0


def cmd_perf(args) -> int:
    from dataset import atomic_write_json

    if args.latency_calls is None:
        args.latency_calls = 2000 if args.target == "classical" else 100
    for flag in ("sentences", "long", "batch_size", "latency_calls", "epochs"):
        if getattr(args, flag) < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be at least 1")
    if args.json:
        _check_writable_file(Path(args.json), "--json")
    if args.target == "classical" and (args.device != "cpu" or args.model):
        raise UsageError("--device and --model apply to 'perf bert'; 'perf classical' runs on the CPU")
    if args.target == "classical":
        from .perf.classical import format_perf_classical, json_rows, run_perf_classical

        results = run_perf_classical(args.data, latency_calls=args.latency_calls, text_column=args.text_column,
                                     label_column=args.label_column)
        print(format_perf_classical(results))
        if args.json:
            atomic_write_json(Path(args.json), json_rows(results))
        return 0
    from .perf.bert import run_perf
    from .perf.bert_report import format_perf

    results = run_perf(
        data=args.data, n_sentences=args.sentences, n_long=args.long, batch_size=args.batch_size,
        latency_calls=args.latency_calls, tta_size=args.time_to_accuracy, epochs=args.epochs,
        device=args.device, model=args.model,
    )
    print(format_perf(results))
    if args.json:
        atomic_write_json(Path(args.json), results)
    return 0


COMMANDS = {
    "run": cmd_run, "curve": cmd_curve, "perf": cmd_perf, "report": cmd_report, "predict": cmd_predict,
    "compare": cmd_compare, "data": cmd_data, "robustness": cmd_robustness, "track": cmd_track,
    "serve": cmd_serve, "loadtest": cmd_loadtest,
}
