"""The `scoreclaims` command (also ``python -m scoreclaims``): one parser, a subcommand per module.

Each command module exposes ``register(subparsers)``; the parser it adds sets
``func(args) -> int``. Exit status: what the command returns, 2 for a usage error (one line on
standard error, nothing computed or written), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scoreclaims.claims.cli import engine, report, verify
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
    )
    parser.add_argument("--version", action="version", version=f"scoreclaims {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
