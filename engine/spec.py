"""Node specs -> Graph, validated and lowered in one pass.

A node spec is JSON-shaped:
    {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
               {"id": "f", "op": "mul", "inputs": ["q", "z"]}],
     "output": "f"}
An input of a node is a node id, a graph-input name, or a number. Graph inputs are the
names referenced but not defined, in order of first use. `{"expr": "..."}` is parsed.

This is the one validating pass over a spec: every fault raises GraphError with a
`path` into the spec (`nodes[3].inputs[1]`), so callers need no schema of their own.
It is also the hot path of a batch of small graphs, so while it checks a node it also
emits the node's instructions with the same slot numbering as engine.lowering, and
formats error paths only once something is wrong. Specs that need more than that
(constant folding, a computed pow exponent, nodes out of order) are lowered by
engine.lowering from the finished Graph instead.
"""

from __future__ import annotations

import heapq
import math

from engine.errors import GraphError
from engine.graph import (DEFAULT_LIMITS, MAX_NAME_LENGTH, NAME_RE, Graph, Limits, Node, arity_error, describe_inputs,
                          suggest, unknown_op_error)
from engine.lowering import POW, SQUARE, Code
from engine.ops import OPS, OPS_BY_NAME

_SPEC_KEYS = frozenset(("nodes", "output"))
_NODE_KEYS = frozenset(("id", "op", "inputs", "label"))
_OPCODE = {op.name: op.opcode for op in OPS}
_ARITY = {op.name: -1 if op.arity is None else op.arity for op in OPS}  # -1: n-ary
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
        raise GraphError(f"unexpected field {key!r} (a graph spec has 'nodes' and 'output', "
                         "or 'expr')", path=key)
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
    # slots numbered as engine.lowering numbers them: each name on first use, each
    # literal where it stands, each instruction's result after its operands
    slot_of: dict[str, int] = {}
    inputs: list[str] = []
    input_slots: list[int] = []
    code: list[int] = []
    const_slots: list[int] = []
    const_values: list[float] = []
    node_slots: list[int] = []
    instr_node: list[int] = []
    next_slot = 0
    emit = True  # False once the spec needs engine.lowering's general path
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
        operands = []
        named = False
        for ref in ins:
            kind = type(ref)
            if kind is str:
                if ref not in valid:
                    check_name(ref, f"nodes[{i}].inputs[{len(refs)}]", "an input")
                slot = slot_of.get(ref)
                if slot is None:  # an input, or a node defined further down (found below)
                    slot = slot_of[ref] = next_slot
                    next_slot += 1
                    inputs.append(ref)
                    input_slots.append(slot)
                named = True
                refs.append(ref)
            elif kind is float or kind is int:
                value = constant(ref, f"nodes[{i}].inputs[{len(refs)}]")
                slot = next_slot
                next_slot += 1
                const_slots.append(slot)
                const_values.append(value)
                refs.append(value)
            else:
                raise GraphError(f"an input must be a node id, an input name or a number, not "
                                 f"{_type_name(ref)}", path=f"nodes[{i}].inputs[{len(refs)}]")
            operands.append(slot)
        label = raw.get("label")
        if label is not None and type(label) is not str:
            raise GraphError("'label' must be a string", path=f"nodes[{i}].label")
        if nid in slot_of:  # used above as if it were an input: the spec is out of order
            in_order = emit = False
        ids[nid] = i
        parsed.append(new_node(Node, (nid, opname, tuple(refs), label)))
        slot_of[nid] = -1  # a node, not an input, even if nothing is emitted for it
        if not emit:
            continue
        opcode = _OPCODE[opname]
        if not named:  # every input a number: constant folding, done by engine.lowering
            emit = False
            continue
        if opcode == POW:
            if type(refs[1]) is str:  # maybe a folded node; engine.lowering decides
                emit = False
                continue
            if refs[1] == 2.0:
                opcode, operands = SQUARE, operands[:1]
        acc = operands[0]
        for b in (operands[1:] if len(operands) > 1 else (-1,)):
            code += (opcode, next_slot, acc, b)
            instr_node.append(i)
            acc = next_slot
            next_slot += 1
        slot_of[nid] = acc
        node_slots.append(acc)

    if type(output) is not str or output not in valid:
        check_name(output, "output", "output")
    where = None  # node i is nodes[i] of the spec
    if not in_order:
        where = _topological_order(parsed, ids)
        parsed = [parsed[i] for i in where]
        inputs = _graph_inputs(parsed, ids)
    if output not in ids and output not in inputs:
        raise GraphError(f"unknown output {output!r}: no node has that id (node ids: "
                         f"{describe_inputs(ids) if len(ids) <= 20 else str(len(ids)) + ' nodes'})"
                         f"{suggest(output, ids)}", path="output")
    prebuilt = None
    if emit:
        prebuilt = Code(code, 0, next_slot, input_slots, const_slots, const_values, node_slots, instr_node,
                        slot_of[output])
    return Graph(parsed, inputs, output, where, prebuilt)


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
