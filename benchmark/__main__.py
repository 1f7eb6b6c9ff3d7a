"""sentibench command line: ``python -m benchmark run --all`` (or ``sentibench run --all``).

Exit codes: 0 success, 2 bad input or usage (one-line message, no traceback),
130 interrupted (the classifiers that finished are kept), 141 stdout closed early
(``... | head``), like coreutils.

This module imports almost nothing at its top, so that Ctrl-C during start-up and a
foreign package that took one of sentibench's import names are handled like
everything else.
"""

from __future__ import annotations

import os
import sys


def main(argv=None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C while starting up; commands handle it themselves once running.
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`| head -1`): stop quietly. Point stdout at
        # /dev/null so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _main(argv) -> int:
    from .startup import foreign_package_problem

    problem = foreign_package_problem()
    if problem:
        print(f"sentibench: error: {problem}", file=sys.stderr)
        return 2

    from dataset import SentibenchError, machine_limit

    from .cli import parse_args
    from .startup import configure_logging, show_progress_bars

    try:
        args = parse_args(argv)
        configure_logging(args.log_level)
        args.bars = show_progress_bars(quiet=args.log_level in ("WARNING", "ERROR"))
        from .commands import COMMANDS

        if args.bars:
            from tqdm.contrib.logging import logging_redirect_tqdm

            with logging_redirect_tqdm():
                return COMMANDS[args.command](args)
        return COMMANDS[args.command](args)
    except SentibenchError as exc:
        print(f"sentibench: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Out of memory or disk space outside a run (which says more itself): not a bug.
        what = machine_limit(exc)
        if what is None:
            raise
        detail = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
        print(f"sentibench: error: the machine ran out of {what}{detail}; free some and try again", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
