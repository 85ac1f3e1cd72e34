"""Graph -> Program: flat int32 instructions over numbered slots, and a constant pool.

Slots: inputs first (0..m-1), then, in node order, constants and instruction results.
An instruction is (opcode, dst, a, b), b = -1 for unary ops. n-ary add/mul become
chains of binary instructions through temporary slots.

Constant folding: a node whose inputs are all constants is computed here, once, and
its slot is pre-filled like a constant. Its instructions are kept at the front of the
program (`forward_start` skips them) because the reverse sweep still needs them: the
gradient of a folded node must flow on to the folded nodes that feed it.

Programs are cached by structure (ops, wiring, constants; not names), so graphs that
differ only in their ids share one set of arrays.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from engine.errors import NonFiniteError
from engine.graph import Graph
from engine.ops import OPS, OPS_BY_NAME

_SQUARE = OPS_BY_NAME["square"].opcode
_POW = OPS_BY_NAME["pow"].opcode
_CACHE_SIZE = 4096


@dataclass(frozen=True, eq=False)
class Code:
    """The structural, shareable part of a lowered graph.

    code: int32 [n_instr, 4]; instructions [0, forward_start) are folded (reverse only).
    const_slots: int32 [k], const_values: float64 [k].
    node_slots: int32 [n_nodes], the slot of each node's value.
    instr_node: int32 [n_instr], the node each instruction belongs to.
    output_slot: slot of the output (an input slot when the output is an input).
    """

    code: np.ndarray
    forward_start: int
    n_slots: int
    n_inputs: int
    const_slots: np.ndarray
    const_values: np.ndarray
    node_slots: np.ndarray
    instr_node: np.ndarray
    output_slot: int
    # slots whose values/gradients an evaluation materialises: inputs then nodes
    all_slots: np.ndarray = field(repr=False)
    input_slots: np.ndarray = field(repr=False)
    output_slots: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class Program:
    """A lowered graph: shared `Code` plus the names of this graph's slots."""

    graph: Graph
    lowered: Code

    @property
    def code(self) -> np.ndarray:
        return self.lowered.code

    @property
    def constants(self) -> np.ndarray:
        return self.lowered.const_values

    @property
    def n_slots(self) -> int:
        return self.lowered.n_slots

    @property
    def slots(self) -> dict[str, int]:
        """Input name or node id -> slot."""
        names = self.graph.names
        return dict(zip(names, self.lowered.all_slots.tolist()))

    def slot_names(self) -> list[str]:
        """A readable name for every slot: the input or node it holds, `const`, or `node~k`
        for the k-th temporary of an n-ary node's chain."""
        low, g = self.lowered, self.graph
        names = [""] * low.n_slots
        for slot, value in zip(low.const_slots.tolist(), low.const_values.tolist()):
            names[slot] = f"const {value:g}"
        temps: dict[int, int] = {}
        for (_, dst, _, _), node in zip(low.code.tolist(), low.instr_node.tolist()):
            temps[node] = temps.get(node, 0) + 1
            names[dst] = f"{g.nodes[node].id}~{temps[node]}"
        for name, slot in zip(g.names, low.all_slots.tolist()):
            names[slot] = name
        return names

    def __repr__(self) -> str:
        """Disassembly: one line per instruction, with the node each belongs to."""
        low = self.lowered
        names = self.slot_names()
        lines = [f"Program: {len(low.code)} instructions, {low.n_slots} slots, "
                 f"inputs {', '.join(self.graph.inputs) or '(none)'}, output {self.graph.output} "
                 f"(slot {low.output_slot})"]
        for slot, value in zip(low.const_slots.tolist(), low.const_values.tolist()):
            lines.append(f"  s{slot:<4} = {value!r:<24} # {names[slot]}")
        for k, ((op, dst, a, b), node) in enumerate(zip(low.code.tolist(), low.instr_node.tolist())):
            args = f"s{a}" if b < 0 else f"s{a}, s{b}"
            folded = "  (folded: reverse only)" if k < low.forward_start else ""
            lines.append(f"  {k:>3}: s{dst:<4} = {OPS[op].name}({args}){' ' * max(1, 14 - len(args))}"
                         f"# {self.graph.nodes[node].id}{folded}")
        return "\n".join(lines)


_cache: OrderedDict = OrderedDict()


def lower(graph: Graph) -> Program:
    """Lower a graph to a Program (cached by structure)."""
    return Program(graph, lowered(graph))


def lowered(graph: Graph) -> Code:
    code = graph._lowered
    if code is None:
        key = _structure(graph)
        code = _cache.get(key)
        if code is None:
            code = _build(graph)
            _cache[key] = code
            if len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        graph._lowered = code
    return code


def cache_clear() -> None:
    _cache.clear()


def _structure(graph: Graph) -> tuple:
    """A hashable description of the graph without its names."""
    pos = {name: -1 - j for j, name in enumerate(graph.inputs)}
    for i, node in enumerate(graph.nodes):
        pos[node.id] = i
    # a constant is a 1-tuple so that it never equals a position
    return (len(graph.inputs), pos[graph.output],
            tuple((n.op, tuple(pos[r] if type(r) is str else (r,) for r in n.inputs))
                  for n in graph.nodes))


def _fold(op, a: float, b: float | None) -> float:
    """The op's forward on constants, in Python; any overflow or domain error is NaN/inf."""
    f = op.forward.py_func
    try:
        y = f(a) if b is None else f(a, b)
    except (OverflowError, ZeroDivisionError, ValueError):
        return math.nan
    return y if type(y) is float or type(y) is int else math.nan  # (-8)**(1/3) is complex


def _build(graph: Graph) -> Code:
    m = len(graph.inputs)
    input_slot = {name: j for j, name in enumerate(graph.inputs)}
    node_slot: dict[str, int] = {}
    known: dict[int, float] = {}  # slot -> value, for constants and folded results
    const_slots: list[int] = []
    folded: list[tuple] = []
    live: list[tuple] = []
    folded_node: list[int] = []
    live_node: list[int] = []
    next_slot = m

    def new_const(value: float) -> int:
        nonlocal next_slot
        slot = next_slot
        next_slot += 1
        const_slots.append(slot)
        known[slot] = value
        return slot

    for i, node in enumerate(graph.nodes):
        op = OPS_BY_NAME[node.op]
        operands = []
        for ref in node.inputs:
            if type(ref) is str:
                operands.append(node_slot[ref] if ref in node_slot else input_slot[ref])
            else:
                operands.append(new_const(ref))
        is_folded = all(s in known for s in operands)
        if op.opcode == _POW and operands[1] not in known:
            raise graph.error_at(i, f"pow needs a constant exponent: {node.inputs[1]!r} is not a "
                                    "number (write x^2, or use exp and log for a variable exponent)",
                                 ".inputs[1]")
        opcode = op.opcode
        if opcode == _POW and known[operands[1]] == 2.0:  # x^2: same value and derivative, no libm pow
            opcode, operands = _SQUARE, operands[:1]
        target, owners = (folded, folded_node) if is_folded else (live, live_node)
        acc = operands[0]
        rest = operands[1:] if len(operands) > 1 else [-1]
        for b in rest:
            dst = next_slot
            next_slot += 1
            target.append((opcode, dst, acc, b))
            owners.append(i)
            if is_folded:
                value = _fold(OPS[opcode], known[acc], None if b < 0 else known[b])
                if not math.isfinite(value):
                    raise NonFiniteError(
                        f"node {node.id!r} ({node.op}) is {value} for any input: its inputs are "
                        f"constants ({', '.join(map(repr, node.inputs))})", node=node.id, index=None,
                        kind="value", **graph.error_at(i, "").location)
                known[dst] = value
                const_slots.append(dst)
            acc = dst
        node_slot[node.id] = acc

    code = np.array(folded + live, dtype=np.int32).reshape(-1, 4)
    node_slots = np.array([node_slot[n.id] for n in graph.nodes], dtype=np.int32)
    input_slots = np.arange(m, dtype=np.int32)
    output_slot = node_slot.get(graph.output, input_slot.get(graph.output))
    return Code(
        code=code,
        forward_start=len(folded),
        n_slots=next_slot,
        n_inputs=m,
        const_slots=np.array(const_slots, dtype=np.int32),
        const_values=np.array([known[s] for s in const_slots], dtype=np.float64),
        node_slots=node_slots,
        instr_node=np.array(folded_node + live_node, dtype=np.int32),
        output_slot=output_slot,
        all_slots=np.concatenate([input_slots, node_slots]),
        input_slots=input_slots,
        output_slots=np.array([output_slot], dtype=np.int32),
    )
