"""The `gradsheet` command line: one subcommand module per area, each with
register(subparsers), listed here.

Exit codes, the same with and without --json:
    0  the command ran and its answer is a yes: full marks, an exact geometry, a
       student found, files written
    1  the command ran and its answer is a no: an answer short of full marks, a filter
       that leaves units unvisited (not exact), no student with that sheet
    2  a usage or input error: a bad option, a file that cannot be read, a graph that
       does not parse; nothing was computed
"""

from __future__ import annotations

import argparse
import sys

from service.cli import config, conv, graph, server, worksheets

COMMAND_MODULES = (graph, conv, worksheets, server, config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradsheet",
        description="Backpropagation and CNN-filter worksheet arithmetic.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or EXIT_OK)
    except ValueError as exc:  # GraphError and geometry errors: a user's mistake, not a crash
        print(f"gradsheet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
