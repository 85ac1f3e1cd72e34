"""Node specs -> Graph, validated and lowered in one pass.

A node spec is JSON-shaped:
    {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
               {"id": "f", "op": "mul", "inputs": ["q", "z"]}],
     "output": "f"}
An input of a node is a node id, a graph-input name, or a number. Graph inputs are the
names referenced but not defined, in order of first use. `{"expr": "..."}` is parsed.

An optional "inputs" list names the graph inputs in order of first use; it is needed
only when the output is an input that no node uses (the graph of the expression `b`),
which a spec could not tell from a misspelt node id without it. `Graph.to_spec()`
writes it exactly then.

This is the one validating pass over a spec: every fault raises GraphError with a
`path` into the spec (`nodes[3].inputs[1]`), so callers need no schema of their own.
It is also the hot path of a batch of small graphs, so it formats error paths only once
something is wrong. It reads; engine.lowering lowers the finished Graph.
"""

from __future__ import annotations

import heapq
import math

from engine.errors import GraphError
from engine.graph import (DEFAULT_LIMITS, MAX_NAME_LENGTH, NAME_RE, Graph, Limits, Node, arity_error, describe_inputs,
                          suggest, unknown_op_error)
from engine.ops import OPS, OPS_BY_NAME

_SPEC_KEYS = frozenset(("nodes", "output", "inputs"))
_NODE_KEYS = frozenset(("id", "op", "inputs", "label"))
_ARITY = {op.name: -1 if op.arity is None else op.arity for op in OPS}  # -1: n-ary
_UNUSED_OUTPUT_HINT = "; an output that is an input no node uses must be listed in 'inputs'"
_valid_names: set[str] = set()  # memo: names already checked against NAME_RE


def is_valid_name(name: str) -> bool:
    """Whether a string is a valid id or input name; memoised, as batches repeat names."""
    if name in _valid_names:
        return True
    if len(name) > MAX_NAME_LENGTH or not NAME_RE.match(name):
        return False
    if len(_valid_names) < 100_000:
        _valid_names.add(name)
    return True


def check_name(name, path: str, what: str) -> str:
    if type(name) is not str:
        raise GraphError(f"{what} must be a string, not {_type_name(name)}", path=path)
    if is_valid_name(name):
        return name
    if len(name) > MAX_NAME_LENGTH:
        raise GraphError(f"{what} is longer than {MAX_NAME_LENGTH} characters", path=path)
    raise GraphError(f"{what} {name!r} is not a valid name: use letters, digits and _, "
                     "not starting with a digit", path=path)


def constant(value, path: str) -> float:
    """A number literal as a float; -0.0 is folded to 0.0 so structures compare equal."""
    try:
        v = float(value)
    except OverflowError:
        raise GraphError(f"the number {value} is too large for float64", path=path) from None
    if not math.isfinite(v):
        raise GraphError(f"the number {value} is not finite", path=path)
    return v + 0.0


def _type_name(value) -> str:
    return "a boolean" if isinstance(value, bool) else ("null" if value is None else type(value).__name__)


def graph_from_spec(spec, limits: Limits) -> Graph:
    if not isinstance(spec, dict):
        raise GraphError('a graph must be an object: {"nodes": [...], "output": id} or '
                         f'{{"expr": "..."}}, not {_type_name(spec)}', path="")
    if "expr" in spec:
        extra = sorted(map(str, set(spec) - {"expr"}))
        if extra:
            raise GraphError(f"unexpected field {extra[0]!r} beside 'expr'", path=extra[0])
        from engine.parser import parse
        return parse(spec["expr"], limits=limits, path="expr")
    if not spec.keys() <= _SPEC_KEYS:
        key = sorted(map(str, spec.keys() - _SPEC_KEYS))[0]
        raise GraphError(f"unexpected field {key!r} (a graph spec has 'nodes', 'output' and "
                         "optionally 'inputs', or 'expr')", path=key)
    nodes = spec.get("nodes")
    if nodes is None:
        raise GraphError("the graph has no 'nodes' list", path="nodes")
    if type(nodes) is not list:
        raise GraphError(f"'nodes' must be a list, not {_type_name(nodes)}", path="nodes")
    if len(nodes) > limits.max_nodes:
        raise GraphError(f"the graph has {len(nodes)} nodes, more than the limit of {limits.max_nodes}",
                         path="nodes")
    output = spec.get("output")
    if output is None:
        raise GraphError("the graph has no 'output' (the id of the node to differentiate)", path="output")

    ids: dict[str, int] = {}
    parsed: list[Node] = []
    seen: dict[str, None] = {}  # every name used, in order of first use
    in_order = True
    valid = _valid_names
    arities = _ARITY
    for i, raw in enumerate(nodes):
        if type(raw) is not dict:
            raise GraphError(f"a node must be an object with id, op and inputs, not {_type_name(raw)}",
                             path=f"nodes[{i}]")
        try:
            nid, opname, ins = raw["id"], raw["op"], raw["inputs"]
        except KeyError as missing:
            raise _node_fields_error(raw, i, missing.args[0]) from None
        # three keys found among three means no others; only a fourth needs the set check
        if len(raw) != 3 and not raw.keys() <= _NODE_KEYS:
            raise _node_fields_error(raw, i, None)
        if type(nid) is not str or nid not in valid:
            check_name(nid, f"nodes[{i}].id", "id")
        if nid in ids:
            raise GraphError(f"duplicate id {nid!r}: nodes[{ids[nid]}] and nodes[{i}] both define it",
                             path=f"nodes[{i}].id")
        arity = arities.get(opname) if type(opname) is str else None
        if arity is None:
            raise unknown_op_error(opname, path=f"nodes[{i}].op")
        if type(ins) is not list:
            raise GraphError(f"'inputs' must be a list, not {_type_name(ins)}", path=f"nodes[{i}].inputs")
        if len(ins) != arity and (arity != -1 or len(ins) < 2):
            raise arity_error(OPS_BY_NAME[opname], len(ins), path=f"nodes[{i}].inputs")
        refs = []
        for ref in ins:
            kind = type(ref)
            if kind is str:
                if ref not in valid:
                    check_name(ref, f"nodes[{i}].inputs[{len(refs)}]", "an input")
                seen[ref] = None
                refs.append(ref)
            elif kind is float or kind is int:
                refs.append(constant(ref, f"nodes[{i}].inputs[{len(refs)}]"))
            else:
                raise GraphError(f"an input must be a node id, an input name or a number, not "
                                 f"{_type_name(ref)}", path=f"nodes[{i}].inputs[{len(refs)}]")
        label = raw.get("label")
        if label is not None and type(label) is not str:
            raise GraphError("'label' must be a string", path=f"nodes[{i}].label")
        if nid in seen:  # used above as if it were an input: the spec is out of order
            in_order = False
        ids[nid] = i
        parsed.append(new_node(Node, (nid, opname, tuple(refs), label)))
        seen[nid] = None

    if type(output) is not str or output not in valid:
        check_name(output, "output", "output")
    where = None  # node i is nodes[i] of the spec
    if in_order:
        inputs = [name for name in seen if name not in ids]
    else:
        where = _topological_order(parsed, ids)
        parsed = [parsed[i] for i in where]
        inputs = _graph_inputs(parsed, ids)
    declared = spec.get("inputs")
    if declared is not None:
        if output not in ids and output not in inputs:  # the output is an input no node uses
            inputs.append(output)
        _check_declared_inputs(declared, inputs)
    if output not in ids and output not in inputs:
        raise GraphError(f"unknown output {output!r}: no node has that id (node ids: "
                         f"{describe_inputs(ids) if len(ids) <= 20 else str(len(ids)) + ' nodes'})"
                         f"{suggest(output, ids) or _UNUSED_OUTPUT_HINT}", path="output")
    return Graph(parsed, inputs, output, where)


def _check_declared_inputs(declared, inputs: list[str]) -> None:
    """A spec's "inputs" must be the graph's inputs, in order of first use."""
    if type(declared) is not list:
        raise GraphError(f"'inputs' must be a list of names, not {_type_name(declared)}", path="inputs")
    for j, name in enumerate(declared):
        check_name(name, f"inputs[{j}]", "an input")
    if declared != inputs:
        raise GraphError(f"'inputs' lists {describe_inputs(declared)}, but the graph's inputs in order of "
                         f"first use (then an output no node uses) are {describe_inputs(inputs)}",
                         path="inputs")


def _from_spec(cls, spec, *, limits: Limits | None = None) -> Graph:
    """Validate a node spec (or {"expr": text}) and build the Graph."""
    return graph_from_spec(spec, limits or DEFAULT_LIMITS)


# The public constructor `engine.Graph.from_spec` is this module's reader; it is set here
# so that engine.graph, the leaf, never imports the modules that build graphs.
Graph.from_spec = classmethod(_from_spec)

# tuple.__new__ skips the keyword handling of Node's generated __new__ (0.5 us a node)
new_node = tuple.__new__


def _node_fields_error(raw: dict, i: int, missing: str | None) -> GraphError:
    extra = sorted(map(str, raw.keys() - _NODE_KEYS))
    if extra:
        return GraphError(f"unexpected field {extra[0]!r} in a node (fields: id, op, inputs, label)",
                          path=f"nodes[{i}].{extra[0]}")
    return GraphError(f"the node has no {missing!r}", path=f"nodes[{i}].{missing}")


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
    shown = cycle + [cycle[0]] if len(cycle) <= 10 else cycle[:10]
    names = " -> ".join(nodes[j].id for j in shown)
    if len(cycle) > 10:
        names += f" -> ... ({len(cycle)} nodes in all, back to {nodes[cycle[0]].id})"
    return GraphError(f"the graph has a cycle: {names}; a computational graph must not feed "
                      "a node's output back into itself", path=f"nodes[{first}]")
