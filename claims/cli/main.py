"""The `scoreclaims` command (also ``python -m scoreclaims``): one parser, a subcommand per module.

Each command module exposes ``register(subparsers)``; the parser it adds sets
``func(args) -> int``.

Exit status, one contract for every command:
  0  success (verify: every verdict matches its expectation)
  1  a verdict mismatch (verify), or a non-finite or unconverged result where one was asked for
  2  a usage or input error: one line on standard error, no traceback, nothing computed or written
  130  interrupted (Ctrl-C, SIGTERM); what was finished is kept
A closed standard output (``scoreclaims list | head -1``) silences the output, not the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scoreclaims.claims.cli import engine, report, verify
from scoreclaims.claims.cli.terminal import PipeSafe
from scoreclaims.verifiers import UsageError

COMMANDS = (engine, verify, report)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other usage error
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from scoreclaims import __version__

    parser = _Parser(
        prog="scoreclaims",
        description="Verify the theorems of 'Convergence Dynamics of Over-Parameterized Score "
        "Matching for a Single Gaussian' on the exact population dynamics.",
        epilog="exit status: 0 success (verify: every verdict as expected); 1 a verdict "
        "mismatch, or a non-finite or unconverged result; 2 a usage or input error (one line, "
        "nothing written); 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"scoreclaims {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    stdout = sys.stdout
    if not isinstance(stdout, PipeSafe):
        sys.stdout = PipeSafe(stdout)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        try:
            return int(args.func(args))
        except UsageError as exc:
            print(f"scoreclaims: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("scoreclaims: interrupted", file=sys.stderr)
            return 130
    finally:
        sys.stdout.flush()
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
