"""The `scoreclaims` command: one entry point; the modules that own subcommands register them."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from verifiers.errors import UsageError

# Each module exposes register(subparsers); the parser it adds sets `func(args) -> int`.
COMMAND_MODULES = (
    "verifiers.engine_commands",
    "claims.commands",
    "reports.commands",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other usage error
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scoreclaims",
        description="Verify the theorems of 'Convergence Dynamics of Over-Parameterized Score "
        "Matching for a Single Gaussian' on the exact population dynamics.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
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
