"""The text alternative of a problem's figure: what it shows and every number on it,
read from the problem's parameters, so a screen reader hears the graph (its nodes and
their inputs) and the given values rather than "Problem 2: figure"."""

from __future__ import annotations

from worksheets.latex import num


def figure_text(shows: str, parameters: dict) -> str:
    """`shows` (the type's figure_shows) and the parameters in words."""
    return f"{shows[:1].upper()}{shows[1:]}. " + "; ".join(_describe(parameters)) + "."


def _describe(parameters: dict) -> list[str]:
    out = []
    for name, value in parameters.items():
        if name == "graph" and isinstance(value, dict) and "nodes" in value:
            nodes = ", ".join(f"{n['id']} = {n['op']}({', '.join(map(str, n['inputs']))})"
                              for n in value["nodes"])
            out.append(f"nodes {nodes}; the output is {value.get('output')}")
        elif isinstance(value, dict):
            out.append(f"{_words(name)}: " + ", ".join(f"{k} = {_value(v)}"
                                                       for k, v in value.items()))
        else:
            out.append(f"{_words(name)} {_value(value)}")
    return out


def _words(name: str) -> str:
    return name.replace("_", " ")


def _value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, (int, float)):
        return num(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)
