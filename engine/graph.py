"""Computational graphs: nodes in topological order, and the node-spec form.

A node spec is JSON-shaped:
    {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
               {"id": "f", "op": "mul", "inputs": ["q", "z"]}],
     "output": "f"}
An input of a node is a node id, a graph-input name, or a number. Graph inputs are the
names referenced but not defined. `{"expr": "..."}` is accepted too and parsed.

`Graph.from_spec` is the one validating pass over a spec: every fault raises GraphError
with a `path` into the spec (`nodes[3].inputs[1]`), so callers need no schema of their own.
"""

from __future__ import annotations

import difflib
import heapq
import math
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
        return self.text if self.text is not None else default_label(OPS_BY_NAME[self.op], self.inputs)


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


def default_label(op: OpDef, inputs) -> str:
    parts = [_fmt_ref(r) for r in inputs]
    if op.infix and op.arity != 1:
        return f" {op.infix} ".join(parts)
    if op.name == "neg":
        return f"-{parts[0]}"
    return f"{op.name}({', '.join(parts)})"


def _fmt_ref(ref) -> str:
    if isinstance(ref, str):
        return ref
    return repr(int(ref)) if float(ref).is_integer() and abs(ref) < 1e15 else repr(ref)


class Graph:
    """A validated computational graph.

    `nodes`: tuple of Node in topological order; `inputs`: graph-input names in order of
    first use; `output`: the id (or input name) whose gradient is taken.
    `where[i]` locates node i in its source: a spec path ("nodes[3]") or (line, column).
    """

    __slots__ = ("nodes", "inputs", "output", "where", "structure", "_index", "_lowered", "__weakref__")

    def __init__(self, nodes, inputs, output, where, structure=None):
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self.inputs: tuple[str, ...] = tuple(inputs)
        self.output: str = output
        self.where: tuple = tuple(where)
        # the lowering cache's key, when the builder had it for free (see lowering.structure)
        self.structure = structure
        self._index = None
        self._lowered = None  # set by lowering.lowered

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
        return self.inputs + tuple(n.id for n in self.nodes)

    def node(self, node_id: str) -> Node:
        return self.nodes[self.index[node_id]]

    def error_at(self, i: int, message: str, field: str = "") -> GraphError:
        """A GraphError located at node i (and `field` of it, e.g. ".inputs[1]")."""
        where = self.where[i]
        if isinstance(where, tuple):
            return GraphError(message, line=where[0], column=where[1])
        return GraphError(message, path=f"{where}{field}")

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
        """The node-spec form; `Graph.from_spec(g.to_spec()) == g`."""
        return {
            "nodes": [{"id": n.id, "op": n.op, "inputs": list(n.inputs), "label": n.label}
                      for n in self.nodes],
            "output": self.output,
        }

    @classmethod
    def from_spec(cls, spec, *, limits: Limits | None = None) -> "Graph":
        """Validate a node spec (or {"expr": text}) and build the Graph."""
        return graph_from_spec(spec, limits or DEFAULT_LIMITS)


_SPEC_KEYS = frozenset(("nodes", "output"))
_NODE_KEYS = frozenset(("id", "op", "inputs", "label"))
_valid_names: set[str] = set()  # memo: names already checked against NAME_RE


def check_name(name, path: str, what: str) -> str:
    if type(name) is not str:
        raise GraphError(f"{what} must be a string, not {type(name).__name__}", path=path)
    if name in _valid_names:
        return name
    if len(name) > MAX_NAME_LENGTH:
        raise GraphError(f"{what} is longer than {MAX_NAME_LENGTH} characters", path=path)
    if not NAME_RE.match(name):
        raise GraphError(f"{what} {name!r} is not a valid name: use letters, digits and _, "
                         "not starting with a digit", path=path)
    if len(_valid_names) < 100_000:
        _valid_names.add(name)
    return name


def graph_from_spec(spec, limits: Limits) -> Graph:
    if not isinstance(spec, dict):
        raise GraphError('a graph must be an object: {"nodes": [...], "output": id} or '
                         f'{{"expr": "..."}}, not {type(spec).__name__}', path="")
    if "expr" in spec:
        extra = set(spec) - {"expr"}
        if extra:
            raise GraphError(f"unexpected field {sorted(extra)[0]!r} beside 'expr'", path=sorted(extra)[0])
        from engine.parser import parse  # parse imports graph: import here, not at module top
        return parse(spec["expr"], limits=limits, path="expr")
    extra = spec.keys() - _SPEC_KEYS
    if extra:
        key = sorted(map(str, extra))[0]
        raise GraphError(f"unexpected field {key!r} (a graph spec has 'nodes' and 'output', "
                         "or 'expr')", path=key)
    nodes = spec.get("nodes")
    if nodes is None:
        raise GraphError("the graph has no 'nodes' list", path="nodes")
    if type(nodes) is not list:
        raise GraphError(f"'nodes' must be a list, not {type(nodes).__name__}", path="nodes")
    if len(nodes) > limits.max_nodes:
        raise GraphError(f"the graph has {len(nodes)} nodes, more than the limit of {limits.max_nodes}",
                         path="nodes")
    output = spec.get("output")
    if output is None:
        raise GraphError("the graph has no 'output' (the id of the node to differentiate)",
                         path="output")

    ids: dict[str, int] = {}
    parsed: list[Node] = []
    unseen: set[str] = set()  # names used before any node defined them: inputs, or forward refs
    # lowering's structural key, built in the same pass: inputs are -1, -2, ... in order of
    # first use, nodes their index, constants 1-tuples (see lowering.structure)
    positions: dict[str, int] = {}
    shape = []
    for i, raw in enumerate(nodes):
        if type(raw) is not dict:
            raise GraphError(f"a node must be an object with id, op and inputs, not "
                             f"{type(raw).__name__}", path=f"nodes[{i}]")
        if not raw.keys() <= _NODE_KEYS:
            key = sorted(map(str, raw.keys() - _NODE_KEYS))[0]
            raise GraphError(f"unexpected field {key!r} in a node (fields: id, op, inputs, label)",
                             path=f"nodes[{i}].{key}")
        try:
            nid, opname, ins = raw["id"], raw["op"], raw["inputs"]
        except KeyError as missing:
            field = missing.args[0]
            raise GraphError(f"the node has no {field!r}", path=f"nodes[{i}].{field}") from None
        check_name(nid, f"nodes[{i}].id", "id")
        if nid in ids:
            raise GraphError(f"duplicate id {nid!r}: nodes[{ids[nid]}] and nodes[{i}] both define it",
                             path=f"nodes[{i}].id")
        op = OPS_BY_NAME.get(opname) if type(opname) is str else None
        if op is None:
            raise unknown_op_error(opname, path=f"nodes[{i}].op")
        if type(ins) is not list:
            raise GraphError(f"'inputs' must be a list, not {type(ins).__name__}", path=f"nodes[{i}].inputs")
        if len(ins) != op.arity and (op.arity is not None or len(ins) < 2):
            raise arity_error(op, len(ins), path=f"nodes[{i}].inputs")
        refs = []
        key = []
        for j, ref in enumerate(ins):
            kind = type(ref)
            if kind is str:
                check_name(ref, f"nodes[{i}].inputs[{j}]", "an input")
                at = positions.get(ref)
                if at is None:
                    unseen.add(ref)
                    at = positions[ref] = -len(unseen)
                refs.append(ref)
                key.append(at)
            elif kind is float or kind is int:
                value = constant(ref, f"nodes[{i}].inputs[{j}]")
                refs.append(value)
                key.append((value,))
            else:
                raise GraphError(f"an input must be a node id, an input name or a number, not "
                                 f"{_type_name(ref)}", path=f"nodes[{i}].inputs[{j}]")
        label = raw.get("label")
        if label is not None and type(label) is not str:
            raise GraphError("'label' must be a string", path=f"nodes[{i}].label")
        ids[nid] = i
        positions[nid] = i
        parsed.append(Node(nid, opname, tuple(refs), label))
        shape.append((opname, tuple(key)))

    check_name(output, "output", "output")
    if unseen.isdisjoint(ids):
        inputs = [name for name, at in positions.items() if at < 0]
        where = [f"nodes[{i}]" for i in range(len(parsed))]
        structure = None
        if output in positions:
            structure = (len(inputs), positions[output], tuple(shape))
    else:  # a node used before its definition: sort
        order = _topological_order(parsed, ids)
        parsed = [parsed[i] for i in order]
        where = [f"nodes[{i}]" for i in order]
        inputs = _graph_inputs(parsed, ids)
        structure = None
    if output not in ids and output not in inputs:
        raise GraphError(f"unknown output {output!r}: no node has that id (node ids: "
                         f"{describe_inputs(ids) if len(ids) <= 20 else str(len(ids)) + ' nodes'})"
                         f"{suggest(output, ids)}", path="output")
    return Graph(parsed, inputs, output, where, structure)


def _type_name(value) -> str:
    return "a boolean" if isinstance(value, bool) else ("null" if value is None else type(value).__name__)


def constant(value, path: str) -> float:
    """A number literal as a float; -0.0 is folded to 0.0 so structures compare equal."""
    try:
        v = float(value)
    except OverflowError:
        raise GraphError(f"the number {value} is too large for float64", path=path) from None
    if not math.isfinite(v):
        raise GraphError(f"the number {value} is not finite", path=path)
    return v + 0.0


def _graph_inputs(nodes, ids) -> list[str]:
    seen: dict[str, None] = {}
    for n in nodes:
        for ref in n.inputs:
            if type(ref) is str and ref not in ids:
                seen[ref] = None
    return list(seen)


def _topological_order(nodes: list[Node], ids: dict[str, int]) -> list[int]:
    """Kahn's algorithm, iterative, stable in spec order; a cycle raises GraphError naming it."""
    n = len(nodes)
    pending = [0] * n
    users: list[list[int]] = [[] for _ in range(n)]
    for i, node in enumerate(nodes):
        for ref in set(r for r in node.inputs if type(r) is str and r in ids):
            pending[i] += 1
            users[ids[ref]].append(i)
    heap = [i for i in range(n) if pending[i] == 0]  # ascending, so already a heap
    order: list[int] = []
    while heap:
        i = heapq.heappop(heap)
        order.append(i)
        for u in users[i]:
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(heap, u)
    if len(order) < n:
        raise _cycle_error(nodes, ids, pending)
    return order


def _cycle_error(nodes, ids, pending) -> GraphError:
    # Every node left with pending > 0 is on a cycle or downstream of one; walking
    # backwards through still-pending inputs must revisit a node, which closes a cycle.
    start = next(i for i in range(len(nodes)) if pending[i] > 0)
    seen: dict[int, int] = {}
    path: list[int] = []
    i = start
    while i not in seen:
        seen[i] = len(path)
        path.append(i)
        i = next(ids[r] for r in nodes[i].inputs if type(r) is str and r in ids and pending[ids[r]] > 0)
    cycle = path[seen[i]:]
    cycle.reverse()  # walked against the edges; print along them
    first = min(cycle)
    k = cycle.index(first)
    cycle = cycle[k:] + cycle[:k]
    names = " -> ".join(nodes[j].id for j in cycle + [cycle[0]])
    return GraphError(f"the graph has a cycle: {names}; a computational graph must not feed "
                      "a node's output back into itself", path=f"nodes[{first}]")
