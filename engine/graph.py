"""Computational graphs: nodes in topological order, with names, labels and locations.

Graphs come from expression text (engine.parser) or node specs (engine.spec); both
produce this one type, and `Graph.to_spec()` writes the spec form back. This module is
a leaf: it imports nothing that reads or lowers graphs. `Graph.from_spec` is attached by
engine.spec, where reading a spec lives (the engine package always imports it).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import NamedTuple

from engine.errors import GraphError
from engine.ops import OPS_BY_NAME, OpDef

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class Limits:
    """Bounds on what one graph or batch may ask for; each breach is a GraphError."""

    max_expr_chars: int = 100_000
    max_depth: int = 200
    max_nodes: int = 10_000
    max_batch: int = 1_000_000


DEFAULT_LIMITS = Limits()


class Node(NamedTuple):
    """One operation: `inputs` holds node ids, graph-input names (str) and constants (float).

    `text` is the label given (an expression's source text, or a spec's "label"), or None;
    `label` is that or, when none was given, one written from the op and inputs.
    """

    id: str
    op: str
    inputs: tuple
    text: str | None = None

    @property
    def label(self) -> str:
        # kept by (op, inputs): a node's label is asked for once per response, by every response
        return self.text if self.text is not None else _label(self.op, self.inputs)


def describe_inputs(names) -> str:
    names = list(names)
    return ", ".join(names) if names else "(none)"


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def unknown_op_error(name, path=None, line=None, column=None) -> GraphError:
    known = ", ".join(OPS_BY_NAME)
    hint = suggest(name, OPS_BY_NAME) if isinstance(name, str) else ""
    return GraphError(f"unknown op {name!r}{hint} (known ops: {known})",
                      path=path, line=line, column=column)


def arity_error(op: OpDef, count: int, path=None, line=None, column=None) -> GraphError:
    if op.arity is None:
        want = "at least 2 inputs"
    else:
        want = f"exactly {op.arity} input" + ("s" if op.arity != 1 else "")
    return GraphError(f"{op.name} takes {want}, but {count} were given",
                      path=path, line=line, column=column)


# Labels written from the op and inputs, by (op, inputs): a dict emptied when full
# rather than functools.lru_cache, whose bookkeeping made a miss cost twice the writing
# (1.5 against 0.8 us). A batch of graphs whose constants differ makes every such label
# a miss (two of five nodes in bench_service's batch); a repeated graph finds its own.
_LABELS: dict = {}
_LABELS_MAX = 65536


def _label(op_name: str, inputs: tuple) -> str:
    key = (op_name, inputs)
    label = _LABELS.get(key)
    if label is None:
        if len(_LABELS) >= _LABELS_MAX:
            _LABELS.clear()
        label = _LABELS[key] = default_label(OPS_BY_NAME[op_name], inputs)
    return label


def default_label(op: OpDef, inputs) -> str:
    parts = [r if isinstance(r, str) else _fmt_number(r) for r in inputs]
    if op.infix and op.arity != 1:
        return f" {op.infix} ".join(parts)
    if op.name == "neg":
        return f"-{parts[0]}"
    return f"{op.name}({', '.join(parts)})"


def _fmt_number(x) -> str:
    return repr(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


class Graph:
    """A validated computational graph.

    `nodes`: tuple of Node in topological order; `inputs`: graph-input names in order of
    first use; `output`: the id (or input name) whose gradient is taken.
    `where` locates nodes in their source: None when node i is `nodes[i]` of a spec, a
    list of spec positions when the spec was reordered, or (line, column) per node for
    an expression.
    """

    __slots__ = ("nodes", "inputs", "output", "where", "_index", "_names", "__weakref__")

    def __init__(self, nodes, inputs, output, where):
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self.inputs: tuple[str, ...] = tuple(inputs)
        self.output: str = output
        self.where = where
        self._index = None
        self._names = None

    # -- reading ---------------------------------------------------------------------
    @property
    def index(self) -> dict[str, int]:
        """Node id -> position in `nodes`."""
        if self._index is None:
            self._index = {n.id: i for i, n in enumerate(self.nodes)}
        return self._index

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that gets a value and a gradient: inputs, then nodes in order."""
        if self._names is None:
            self._names = self.inputs + tuple(n.id for n in self.nodes)
        return self._names

    def node(self, node_id: str) -> Node:
        return self.nodes[self.index[node_id]]

    def error_at(self, i: int, message: str, field: str = "") -> GraphError:
        """A GraphError located at node i (and `field` of it, e.g. ".inputs[1]")."""
        where = i if self.where is None else self.where[i]
        if isinstance(where, tuple):
            return GraphError(message, line=where[0], column=where[1])
        return GraphError(message, path=f"nodes[{where}]{field}")

    def _identity(self):
        return [(n.id, n.op, n.inputs, n.label) for n in self.nodes], self.inputs, self.output

    def __eq__(self, other):
        return isinstance(other, Graph) and self._identity() == other._identity()

    def __hash__(self):
        return hash((tuple(n.id for n in self.nodes), self.output))

    def __repr__(self):
        body = "; ".join(f"{n.id} = {n.op}({', '.join(map(_fmt_ref, n.inputs))})" for n in self.nodes)
        return f"<Graph inputs=({', '.join(self.inputs)}) output={self.output}: {body}>"

    # -- the spec form ---------------------------------------------------------------
    def to_spec(self) -> dict:
        """The node-spec form; `Graph.from_spec(g.to_spec()) == g`.

        "inputs" is written only when the output is an input that no node uses: the
        nodes alone would not say that it is one.
        """
        spec = {
            "nodes": [{"id": n.id, "op": n.op, "inputs": list(n.inputs), "label": n.label}
                      for n in self.nodes],
            "output": self.output,
        }
        if self.output not in self.index and not any(self.output in n.inputs for n in self.nodes):
            spec["inputs"] = list(self.inputs)
        return spec
