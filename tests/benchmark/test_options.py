"""A run option is declared once, on its config field: flag, help, type, check and the
options --resume refuses all come from that declaration."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

import pytest

from benchmark.cli import RUN_OPTIONS, add_config_options, build_parser, given_run_options
from benchmark.config import ENGINE_FIELDS, SHORTCUTS, CurveConfig, RunConfig
from benchmark.notebook import run_options
from benchmark.options import ENGINE, at_least, option, option_of
from dataset import UsageError


def _flags(parser: argparse.ArgumentParser, command: str) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {flag for action in sub._actions for flag in action.option_strings}


@pytest.mark.parametrize("command", ["run", "curve"])
def test_every_declared_option_is_a_flag_of_its_commands_only(command):
    flags = _flags(build_parser(), command)
    for f in fields(CurveConfig):
        declared = option_of(f)
        if declared is None:
            continue
        assert (declared.flag_of(f.name) in flags) == (command in declared.commands), f.name


def test_resume_refuses_every_option_but_the_engine_ones_and_compare_takes_them():
    declared = {f.name: option_of(f) for f in fields(CurveConfig) if option_of(f) is not None}
    assert set(ENGINE_FIELDS) == {n for n, o in declared.items() if o.group == ENGINE} == {"jobs", "cluster", "track"}
    assert set(RUN_OPTIONS.values()) == {*declared, *SHORTCUTS, "all", "set", "config", "seeds"} - set(ENGINE_FIELDS)
    assert set(run_options()) >= ({*RunConfig.cli_fields(), *SHORTCUTS} - {"data", "text_column", "label_column"})


@dataclass
class _Wider(RunConfig):
    """A config with one more option, declared once, as a contributor would add it."""

    warmup_batches: int | None = option(None, commands=("run",), metavar="N", check=at_least(2), requires="tune",
                                        help="batches run before timing")


def _parser_of(config) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_config_options(parser, config, "run")
    return parser


def test_one_new_declaration_gives_the_flag_its_type_its_check_and_its_rule():
    parser = _parser_of(_Wider)
    args = parser.parse_args(["--classifiers", "bow", "--tune", "--warmup-batches", "4"])
    assert args.warmup_batches == 4  # int, from the field's type
    assert _Wider.from_cli(args).warmup_batches == 4
    assert "warmup_batches" in _Wider.cli_fields()
    with pytest.raises(UsageError, match=r"^--warmup-batches must be at least 2, got 1$"):
        _Wider.from_cli(parser.parse_args(["--classifiers", "bow", "--tune", "--warmup-batches", "1"]))
    with pytest.raises(UsageError, match=r"^--warmup-batches applies to --tune; add --tune$"):
        _Wider.from_cli(parser.parse_args(["--classifiers", "bow", "--warmup-batches", "4"]))
    with pytest.raises(UsageError, match="--warmup-batches must be at least 2"):
        _Wider(classifiers=["bow"], tune=True, warmup_batches=0)  # the same check in code


def test_a_config_made_in_code_is_checked_against_the_declared_choices():
    with pytest.raises(UsageError, match=r"--format must be one of .*csv.*, got 'xlsx'"):
        RunConfig(classifiers=["bow"], format="xlsx")
    with pytest.raises(UsageError, match=r"--metric must be one of accuracy, f1_macro, qwk, got 'auc'"):
        RunConfig(classifiers=["bow"], metric="auc")


def test_the_options_given_are_named_by_their_declared_flags():
    args = build_parser().parse_args(["run", "--sample-size", "50", "--max-train-s", "9", "--jobs", "2", "--dedupe"])
    assert sorted(given_run_options(args)) == ["--dedupe", "--max-train-s", "--sample-size"]  # --jobs is allowed
