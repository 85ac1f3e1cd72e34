"""The `gradsheet` command with the service's subcommands (serve, warmup) added."""

from __future__ import annotations

import sys

from engine import cli as engine_cli

SERVICE_COMMAND_MODULES = ("service.cli_serve",)


def main(argv: list[str] | None = None) -> int:
    return engine_cli.main(argv, extra_modules=SERVICE_COMMAND_MODULES)


if __name__ == "__main__":
    sys.exit(main())
