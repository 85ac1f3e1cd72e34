"""`gradsheet config`: the settings the service and gunicorn would run with, after the
environment, each checked against its bounds; the secret is masked."""

from __future__ import annotations

import os

from service.config import PREFIX, ConfigError, ServerSettings, Settings, variable

SECTIONS = (("the app (service.config.Settings)", Settings),
            ("gunicorn (gradsheet serve)", ServerSettings))


def register(subparsers) -> None:
    cmd = subparsers.add_parser(
        "config", help="print the effective configuration (secrets masked)",
        description="Print every GRADSHEET_* setting with the value the service would use "
                    "and where it came from; exit 2 naming each variable whose value is "
                    "not allowed.")
    cmd.set_defaults(handler=config_command)


def config_command(args) -> int:
    read, problems = [], []
    for title, model in SECTIONS:
        try:
            read.append((title, model.from_mapping()))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("bad configuration:\n" + "\n".join(problems))
    for title, settings in read:
        print(f"# {title}")
        for name, shown, source, doc in settings.effective():
            print(f"{name}={shown}  # {source}: {doc}")
    known = {variable(name) for _, model in SECTIONS for name in model.model_fields}
    others = sorted(key for key in os.environ if key.startswith(PREFIX) and key not in known)
    if others:
        print("# set but read by no setting here (a typo?): " + ", ".join(others))
    return 0
