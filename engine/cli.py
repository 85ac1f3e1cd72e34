"""The `gradsheet` command line: one subcommand per module, each with register(subparsers)."""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that add a subcommand; each defines register(subparsers).
COMMAND_MODULES = [
    "engine.cli_eval",
    "engine.cli_conv",
    "engine.cli_problems",
]


def build_parser(extra_modules: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradsheet",
        description="Backpropagation and CNN-filter worksheet arithmetic.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in [*COMMAND_MODULES, *extra_modules]:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None, extra_modules: tuple[str, ...] = ()) -> int:
    """Run the CLI; a layer above the engine (the service) passes its own command modules."""
    parser = build_parser(extra_modules)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ValueError as exc:  # GraphError and geometry errors: a user's mistake, not a crash
        print(f"gradsheet: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
