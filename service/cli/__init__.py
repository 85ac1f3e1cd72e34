"""The `gradsheet` command line: one subcommand module per area, each with
register(subparsers), listed here."""

from __future__ import annotations

import argparse
import sys

from service.cli import config, conv, graph, server, templates, worksheets

COMMAND_MODULES = (graph, conv, worksheets, templates, server, config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradsheet",
        description="Backpropagation and CNN-filter worksheet arithmetic.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ValueError as exc:  # GraphError and geometry errors: a user's mistake, not a crash
        print(f"gradsheet: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
