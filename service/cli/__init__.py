"""The `gradsheet` command line: one subcommand module per area, each with
register(subparsers), listed here.

A command that runs kernels sets `kernels=True` in its defaults: when the kernel cache
is not yet warm, main says so on stderr (unless --quiet) and fills it first, with every
core (service.warmup.fill_cache), so that no later command compiles.

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

from service.cli import config, conv, graph, jobs, server, templates, worker, worksheets

COMMAND_MODULES = (graph, conv, worksheets, templates, server, worker, jobs, config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradsheet",
        description="Backpropagation and CNN-filter worksheet arithmetic.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    for command in sub.choices.values():
        command.add_argument("-q", "--quiet", action="store_true",
                             help="say nothing on stderr about compiling the kernels")
    return parser


def ensure_kernels(quiet: bool) -> None:
    """Fill the kernel cache, saying so, if this is the first run that needs it."""
    from engine import kernel_cache
    if kernel_cache.is_warm():
        return
    from service import warmup
    if not quiet:
        print(warmup.compile_notice(), file=sys.stderr, flush=True)
    try:
        warmup.fill_cache()
    except (OSError, RuntimeError) as exc:
        # the command still runs: it compiles what it needs in this process
        if not quiet:
            print(f"gradsheet: could not fill the kernel cache ({exc}); compiling in this "
                  f"process", file=sys.stderr)


EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "kernels", False):
        ensure_kernels(args.quiet)
    try:
        return int(args.handler(args) or EXIT_OK)
    except ValueError as exc:  # GraphError and geometry errors: a user's mistake, not a crash
        print(f"gradsheet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
