"""A problem type's options as form fields: the values a form sends, read back into
the options a set request or a practice token takes, and checked as those are."""

from __future__ import annotations

import worksheets
from worksheets.generator import read_options


def options_from(t, args, prefix: str = "") -> tuple[dict, str | None]:
    """(options to sign, message): the options chosen in the query string, checked as
    set requests check them; the defaults and the reason when they do not fit."""
    spec = {}
    for option in t.options:
        if option.kind == "subset":
            chosen = args.getlist(prefix + option.name)
            if chosen:
                spec[option.name] = [_typed(option, c) for c in chosen]
        elif args.get(prefix + option.name, "") != "":
            spec[option.name] = _typed(option, args[prefix + option.name])
    try:
        given, _ = read_options(t, spec, "options")
    except worksheets.ProblemSetError as exc:
        return {}, f"Those options do not fit ({exc}); showing the defaults."
    return {k: v for k, v in given.items() if v != t.defaults.get(k)}, None


def _typed(option, text: str):
    """The option value a form field's text stands for (checked afterwards)."""
    for choice in option.choices:
        if str(choice) == text:
            return choice
    if option.kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if option.kind == "boolean":
        return text in ("1", "true", "on")
    return text


def option_state(t, options: dict) -> list[dict]:
    """The type's options with their chosen values, for the options form."""
    chosen = t.with_defaults(options)
    return [{"option": o, "value": chosen[o.name]} for o in t.options]
