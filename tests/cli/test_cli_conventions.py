"""The command line behaves like a good Unix tool: one-line errors (exit 2, no traceback),
quiet Ctrl-C and broken pipes, readable logs, --version, --json, no stray files."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from benchmark.__main__ import main
from benchmark.environment import own_git_commit

from .._helpers import FAST, one_line_error, run_main, run_predictions

PROJECT = Path(__file__).resolve().parents[2]


def cli(*args, env=None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "benchmark", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "SENTIBENCH_DATA": "sample:pang-lee", **(env or {})}, **kwargs,
    )


# -- one-line errors ----------------------------------------------------------------------


def test_output_that_is_a_file_or_cannot_be_created(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    one_line_error(run_main(capsys, "run", "--classifiers", "bow", "--output", str(afile)), "is a file, not a folder")
    one_line_error(run_main(capsys, "run", "--classifiers", "bow", "--output", "/proc/sentibench-x"), "cannot create")
    one_line_error(run_main(capsys, "run", "--classifiers", "bow", "--output", str(afile / "sub")), "--output")


def test_config_file_that_is_not_utf8(tmp_path, capsys):
    config = tmp_path / "params.json"
    config.write_bytes(b'{"bow": {"C": "\xff\xfe"}}')
    one_line_error(run_main(capsys, "run", "--classifiers", "bow", "--config", str(config)), "not UTF-8")


def test_data_info_plot_path_that_cannot_be_written(tmp_path, capsys):
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"review {i},{i % 2}\n" for i in range(20)))
    one_line_error(run_main(capsys, "data", "info", str(data), "--plot", str(tmp_path)), "is a folder")
    one_line_error(run_main(capsys, "data", "info", str(data), "--plot", str(tmp_path / "no" / "such" / "x.png")), "does not exist")


@pytest.mark.parametrize("content", ["{}", "[]", '{"run_id": "x"}'])
def test_report_and_compare_of_a_malformed_results_file(tmp_path, finished_run, content, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text(content)
    one_line_error(run_main(capsys, "report", str(broken)), "results.json")
    one_line_error(run_main(capsys, "compare", str(finished_run), str(broken)), "results.json")


def test_report_of_predictions_without_the_label_column(tmp_path, finished_run, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    lines = [json.loads(line) for line in (copy / "predictions.jsonl").read_text().splitlines()]
    (copy / "predictions.jsonl").write_text("".join(json.dumps({k: v for k, v in line.items() if k != "label"}) + "\n"
                                                    for line in lines))
    one_line_error(run_main(capsys, "report", str(copy)), "predictions.jsonl line 1: not a test review")


def test_ctrl_c_during_start_up_exits_130_quietly(tmp_path):
    # A Ctrl-C that lands while pandas is being imported, made repeatable by an import hook.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pandas':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
    )
    proc = cli("run", "--classifiers", "bow", env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 130
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr


def test_predict_into_a_closed_pipe_stops_quietly(tmp_path, finished_run):
    reviews = tmp_path / "many.txt"
    reviews.write_text("".join(f"review number {i} was lovely\n" for i in range(20000)))
    script = (f"{sys.executable} -m benchmark predict --run {finished_run} --file {reviews} 2> {tmp_path / 'err'} | head -1; "
              "echo status=${PIPESTATUS[0]}")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.stdout.count("\n") == 2 and "status=141" in proc.stdout
    assert (tmp_path / "err").read_text() == ""


def test_a_huge_line_is_never_echoed_whole(tmp_path, capsys):
    data = tmp_path / "huge.tsv"
    data.write_text("x" * 30_000_000 + "\tnot-a-label\n" + "short review\t1\n" * 3)
    line = one_line_error(run_main(capsys, "run", "--classifiers", "bow", "--data", str(data)))
    assert len(line) < 1200


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--classifiers", ""], ["argument --classifiers: is empty"]),
        (["--data", ""], ["--data is empty"]),
        (["--seed", "-1"], ["--seed must be an integer from 0 to 4294967295"]),
        (["--seed", "99999999999"], ["--seed must be an integer from 0 to 4294967295"]),
        (["--seeds", "1,99999999999"], ["argument --seeds: must be integers from 0 to 4294967295"]),
        (["--data", "/tmp/" + "a" * 300 + ".csv"], ["File name too long"]),
        (["--set", "bow.ngram_range=abc"], ["'ngram_range' parameter", "Got 'abc'"]),
        (["--set", "bow.ngram_range=3,1"], ["1 <= min_n <= max_n"]),
        (["--label-map", "negative=1"], ["--label-map must name at least two classes"]),
        (["--label-map", "negative=1", "negative=2"], ["--label-map names the class 'negative' twice"]),
        (["--seed", "3", "--seeds", "1,2"], ["--seed and --seeds exclude each other"]),
        (["--max-train-samples", "50"], ["--max-train-samples sets the max_train_samples hyperparameter, which none of"]),
        (["--eval-every", "10"], ["--eval-every sets the eval_every hyperparameter, which none of"]),
    ],
)
def test_mistakes_name_the_problem_and_the_fix(tmp_path, args, needles, capsys):
    proc = run_main(capsys, "run", "--classifiers", "bow", "--output", str(tmp_path), *args)
    line = one_line_error(proc, *needles)
    assert "larger data file" not in line and "lower min_df" not in line


def test_three_labels_are_three_classes_and_a_label_map_groups_them(tmp_path, capsys):
    data = tmp_path / "three.csv"
    data.write_text("text,label\n" + "".join(f"review {i} words,{i % 3}\n" for i in range(60)))
    out = tmp_path / "three"
    proc = run_main(capsys, "-q", "run", "--classifiers", "bow", "--data", str(data), "--set", "bow.min_df=1", "--output", str(out),
               "--latency-calls", "2")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = out.iterdir()
    assert json.loads((run_dir / "results.json").read_text())["data"]["classes"] == ["0", "1", "2"]
    out = tmp_path / "runs"
    proc = run_main(capsys, "-q", "run", "--classifiers", "bow", "--data", str(data), "--label-map", "negative=0", "positive=2",
               "--set", "bow.min_df=1", "--output", str(out), "--latency-calls", "2")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = out.iterdir()
    info = json.loads((run_dir / "results.json").read_text())["data"]
    assert info["dropped"] == {"dropped by label map": 20} and info["rows_used"] == 40
    json_map = run_main(capsys, "data", "info", str(data), "--label-map", '{"0": 0, "2": 1}', "--json")
    assert json.loads(json_map.stdout)["rows"] == 40


def test_a_fifo_is_not_called_empty_and_is_read_once(tmp_path, capsys):
    fifo = tmp_path / "reviews.csv"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("text,label\n" + "good,1\nbad,0\n" * 20), daemon=True)
    writer.start()
    outcome = run_main(capsys, "data", "info", str(fifo))
    assert outcome.returncode == 0, outcome.stderr
    assert "40 reviews" in outcome.stdout and "empty" not in outcome.stderr
    writer.join(timeout=1)


def test_split_errors_show_plain_values(tmp_path, capsys):
    data = tmp_path / "few.csv"
    data.write_text("text,label\n" + "good,1\n" * 30 + "bad,0\n")
    line = one_line_error(run_main(capsys, "run", "--classifiers", "bow", "--data", str(data)))
    assert "np.int64" not in line and "class 0 has only 1 rows" in line


# -- conventions --------------------------------------------------------------------------


def test_version_and_log_options_before_or_after_the_subcommand(tmp_path, capsys):
    from benchmark import __version__

    assert cli("--version").stdout.strip() == f"sentibench {__version__}"
    for args in (["-q", "report", str(tmp_path)], ["report", "-q", str(tmp_path)], ["report", str(tmp_path), "-v"],
                 ["--log-level", "ERROR", "report", str(tmp_path)]):
        one_line_error(run_main(capsys, *args), "not a run folder")


def test_console_script_names_itself_sentibench():
    script = Path(sys.executable).with_name("sentibench")
    if not script.exists():
        pytest.skip("the sentibench console script is not installed in this environment")
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("usage: sentibench ")


@pytest.mark.slow
def test_redirected_stderr_is_a_readable_log(tmp_path):
    out = tmp_path / "runs"
    proc = cli("run", "--classifiers", "bow,w2v", "--output", str(out), *FAST)
    assert proc.returncode == 0
    assert "\r" not in proc.stderr and "\x1b[" not in proc.stderr
    for line in proc.stderr.splitlines():
        assert line[:2].isdigit() and line[2] == ":" and (" INFO " in line or " WARNING " in line), line


def _stderr_through_a_terminal(args, env):
    import fcntl
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real terminal's size
    proc = subprocess.Popen([sys.executable, "-m", "benchmark", *args], stdout=subprocess.DEVNULL, stderr=terminal,
                            env={**os.environ, "SENTIBENCH_DATA": "sample:pang-lee", **env})
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(controller)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_progress_bars_only_on_a_terminal_and_not_with_tqdm_disable(tmp_path):
    args = ["run", "--classifiers", "bow", "--output", str(tmp_path), "--latency-calls", "3000"]
    code, shown = _stderr_through_a_terminal(args, {})
    assert code == 0 and "\r" in shown and "bow latency" in shown  # a bar on a terminal
    code, shown = _stderr_through_a_terminal(args, {"TQDM_DISABLE": "1"})
    assert code == 0 and "bow latency" not in shown
    code, shown = _stderr_through_a_terminal(["-q", *args], {})
    assert code == 0 and "bow latency" not in shown


@pytest.mark.slow
def test_quiet_silences_berts_own_progress_bars_on_a_terminal(tmp_path):
    bert = ["-q", "run", "--classifiers", "bert", "--output", str(tmp_path), "--latency-calls", "2",
            "--set", "bert.epochs=1", "--set", "bert.max_length=32"]
    code, shown = _stderr_through_a_terminal(bert, {})
    assert code == 0 and "epoch 1/1" not in shown  # -q quiets BERT's own bars too


def test_json_output_of_predict_compare_and_data_info(tmp_path, finished_run, capsys):
    proc = run_main(capsys, "predict", "--run", str(finished_run), "--json", "great fun", "dull mess")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["great fun", "dull mess"]
    assert rows[0]["predictions"]["bow"]["label"] in ("negative", "positive")
    comparison = json.loads(run_main(capsys, "compare", str(finished_run), str(finished_run), "--json").stdout)
    assert comparison["same_split"] and all(r["delta"] in (0, None) for r in comparison["rows"])
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"review {i},{i % 2}\n" for i in range(20)))
    info = json.loads(run_main(capsys, "data", "info", str(data), "--json").stdout)
    assert info["rows"] == 20 and info["classes"]


def test_data_info_writes_no_file_unless_asked(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data" / "reviews.csv"
    data.parent.mkdir()
    data.write_text("text,label\n" + "".join(f"review {i},{i % 2}\n" for i in range(20)))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert run_main(capsys, "data", "info", str(data)).returncode == 0
    assert list(work.iterdir()) == [] and sorted(p.name for p in data.parent.iterdir()) == ["reviews.csv"]
    assert run_main(capsys, "data", "info", str(data), "--plot", str(work / "lengths.png")).returncode == 0
    assert (work / "lengths.png").read_bytes().startswith(b"\x89PNG")


def test_commit_is_recorded_only_from_sentibench_own_checkout(tmp_path):
    # A virtual environment inside the user's own repository.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "users-project"\n')
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x"], check=True)
    site = tmp_path / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    assert own_git_commit(site) is None
    assert own_git_commit(tmp_path) is None  # a repository, but not sentibench's
    if (PROJECT / ".git").exists():
        assert own_git_commit(PROJECT)


def test_a_foreign_package_with_one_of_our_names_is_named(tmp_path):
    # PyPI's unrelated `dataset` 2.0.0, shadowing sentibench's package.
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "__init__.py").write_text("import sqlalchemy_that_is_not_installed\n")
    dist = tmp_path / "dataset-2.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dataset\nVersion: 2.0.0\n")
    (dist / "top_level.txt").write_text("dataset\n")
    (dist / "RECORD").write_text("dataset/__init__.py,,\n")
    line = one_line_error(cli("run", "--classifiers", "bow", env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path),
                    "'dataset'", "dataset 2.0.0", "virtual environment")
    assert "sqlalchemy" not in line


def test_latency_suite_fits_only_the_classifiers_it_times(sample):
    from tests.benchmarks.test_latency import _Fitted

    odd, even = slice(1, None, 2), slice(0, None, 2)  # the sample is sorted by class
    corpus = {"train": (sample.texts[odd], sample.labels[odd]), "validation": (sample.texts[even], sample.labels[even]),
              "test": sample.texts[even]}
    fitted = _Fitted(corpus)
    assert fitted["bow"].predict(["great"]).shape == (1,)
    assert set(fitted) == {"bow"}


# -- data problems that make a benchmark meaningless ---------------------------------------


def _repeated_reviews(path, n_distinct=20, copies=15):
    words = ["lovely", "awful", "great", "cold", "friendly", "rude", "fresh", "stale", "quick", "slow"]
    rows = [(f"the {words[i % 10]} dish number {i}", i % 2) for i in range(n_distinct)] * copies
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)


def test_repeated_reviews_are_counted_warned_about_and_reported(tmp_path, capsys):
    data = tmp_path / "repeated.csv"
    _repeated_reviews(data)
    out = tmp_path / "runs"
    proc = run_main(capsys, "run", "--classifiers", "bow", "--data", str(data), "--set", "bow.min_df=1", "--output", str(out),
                    "--latency-calls", "2")
    assert proc.returncode == 0
    assert "also appear in training" in proc.stderr and "--dedupe" in proc.stderr
    (run_dir,) = out.iterdir()
    dup = json.loads((run_dir / "results.json").read_text())["data"]["duplicates"]
    assert dup["duplicate_rows"] == 280 and dup["test_in_train"] == 45
    report = (run_dir / "report.md").read_text()
    assert "**Repeated reviews:** 45 of 45 test reviews also appear in the training split" in report
    assert "**Small test split:** 45 reviews" in report


def test_dedupe_drops_repeats_before_splitting_and_records_it(tmp_path, capsys):
    data = tmp_path / "repeated.csv"
    _repeated_reviews(data, n_distinct=80, copies=3)
    out = tmp_path / "runs"
    proc = run_main(capsys, "-q", "run", "--classifiers", "bow", "--data", str(data), "--dedupe", "--set", "bow.min_df=1",
               "--output", str(out), "--latency-calls", "2")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["data"]["rows_used"] == 80 and results["split"]["dedupe_removed"] == 160
    assert results["data"]["duplicates"]["test_in_train"] == 0


def test_dedupe_resolves_conflicting_labels_and_the_report_says_so(tmp_path, capsys):
    """After --dedupe each text has one label: no conflict is left, and the count before is kept apart."""
    data = tmp_path / "conflicts.csv"
    rows = [(f"the {'good' if i % 2 else 'bad'} dish number {i}", i % 2) for i in range(80)]
    rows += [("same words", 0), ("same words", 1), ("other words", 1), ("other words", 0), ("again", 1), ("again", 1)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(data, index=False)
    out = tmp_path / "runs"
    proc = run_main(capsys, "run", "--classifiers", "bow", "--data", str(data), "--dedupe", "--set", "bow.min_df=1",
                    "--output", str(out), "--latency-calls", "2")
    assert proc.returncode == 0, proc.stderr
    assert "more than one label" not in proc.stderr.replace("kept the first label of 2 texts that had more than one", "")
    (run_dir,) = out.iterdir()
    dup = json.loads((run_dir / "results.json").read_text())["data"]["duplicates"]
    assert (dup["removed_by_dedupe"], dup["conflicting_texts"], dup["conflicting_rows"]) == (3, 0, 0)  # was 2 and 4
    assert dup["conflicting_before_dedupe"] == 2
    report = (run_dir / "report.md").read_text()
    assert "**Conflicting labels:**" not in report
    assert "(3 dropped by --dedupe, which kept the first label of 2 texts that had more than one)" in report


def test_conflicting_labels_are_reported(tmp_path, capsys):
    data = tmp_path / "conflicts.csv"
    rows = [(f"review {i}", i % 2) for i in range(60)] + [("same words", 0), ("same words", 1)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(data, index=False)
    proc = run_main(capsys, "data", "info", str(data), "--json")
    assert json.loads(proc.stdout)["duplicates"] == {"duplicate_rows": 1, "conflicting_texts": 1, "conflicting_rows": 2}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_list_cells_are_refused_naming_column_and_row(tmp_path, fmt, capsys):
    path = tmp_path / f"reviews.{fmt}"
    if fmt == "jsonl":  # one cell holds a list
        path.write_text('{"text": "good", "label": 1}\n{"text": ["great", "x"], "label": 0}\n{"text": "fine", "label": 1}\n')
        where = "object 2"
    else:  # a Parquet column of lists
        pd.DataFrame({"text": [["good"], ["great", "x"], ["fine"]], "label": [1, 0, 1]}).to_parquet(path)
        where = "row 1"
    one_line_error(run_main(capsys, "data", "info", str(path)), "column 'text' holds a list", where)


@pytest.mark.parametrize("command", [["run"], ["run", "--seeds", "1,2"], ["curve", "--sizes", "10,20"]])
def test_a_run_stopped_by_its_input_leaves_no_folder(tmp_path, command, capsys):
    data = tmp_path / "few.csv"
    data.write_text("text,label\n" + "good,1\n" * 30 + "bad,0\n")
    out = tmp_path / "results"
    one_line_error(run_main(capsys, *command, "--classifiers", "bow", "--data", str(data), "--output", str(out)), "class 0 has only 1 rows")
    assert not out.exists() or list(out.iterdir()) == []


def test_predict_labels_are_the_classifiers_predictions_not_p_above_one_half(tmp_path, finished_run):
    """With Platt scaling, p_positive can sit across 0.5 from the decision: the label
    must be what predict() (and predictions.csv) says."""
    import shutil

    from benchmark.predict import predict_rows
    from classifiers import SentimentClassifier

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    folder = run / "models" / "bow"
    clf = SentimentClassifier.load(folder)
    clf.calibration_ = (1.0, 2.0)  # a strongly shifted intercept: p > 0.5 for mildly negative decisions
    clf.save(folder)
    texts = run_predictions(run).texts
    rows = predict_rows(run, texts, ["bow"])
    labels = [1 if r["predictions"]["bow"]["label"] == "positive" else 0 for r in rows]
    assert labels == clf.predict(texts).tolist()
    assert any(r["predictions"]["bow"]["probabilities"]["positive"] > 0.5 for r, y in zip(rows, labels, strict=True) if y == 0)


def test_commit_is_recorded_from_a_checkout_whose_path_has_spaces(tmp_path):
    root = tmp_path / "my projects" / "sentibench"
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "pyproject.toml").write_text('[project]\nname = "sentibench"\n')
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x"], check=True)
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert own_git_commit(root) == head


def test_the_default_run_leaves_out_classifiers_whose_extra_is_missing(tmp_path, monkeypatch, caplog):
    """A base install (no [bert] extra) runs the classical models by default instead of
    failing on bert; naming bert explicitly still asks for the extra."""
    from classifiers import REGISTRY, _registry

    monkeypatch.setitem(_registry._EXTRA_MODULES, "bert", ("sentibench_no_such_module",))
    assert REGISTRY.missing_extra("bert") == "bert" and REGISTRY.missing_extra("bow") is None
    out = tmp_path / "runs"
    assert main(["-q", "run", "--output", str(out), "--latency-calls", "2", "--set", "w2v.w2v_epochs=2"]) == 0
    (run_dir,) = out.iterdir()
    assert list(json.loads((run_dir / "results.json").read_text())["classifiers"]) == ["bow", "w2v", "vader"]
    assert REGISTRY.missing_extra("static") == "static"  # it distils the encoder of [bert]
    assert "leaving out bert: it needs pip install 'sentibench[bert]'" in caplog.text


@pytest.mark.parametrize("part, key", [("inference", "latency_p50_ms"), ("metrics", "accuracy")])
def test_report_and_compare_of_a_record_without_a_headline_number(tmp_path, finished_run, part, key, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(finished_run, broken)
    results = json.loads((broken / "results.json").read_text())
    del results["classifiers"]["bow"][part][key]
    (broken / "results.json").write_text(json.dumps(results))
    one_line_error(run_main(capsys, "report", str(broken)), f"no valid {part}.{key}")
    one_line_error(run_main(capsys, "compare", str(finished_run), str(broken)), f"no valid {part}.{key}")
