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
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from engine.errors import NonFiniteError
from engine.graph import Graph
from engine.ops import OPS, OPS_BY_NAME

_SQUARE = OPS_BY_NAME["square"].opcode
_POW = OPS_BY_NAME["pow"].opcode
_CACHE_SIZE = 4096


class Code:
    """The structural, shareable part of a lowered graph.

    Held as flat Python lists, because evaluate_many concatenates thousands of small
    programs and list.extend is far cheaper than NumPy calls per program; `arrays()`
    gives the NumPy form once, for the batch kernel and for readers.

    code: [opcode, dst, a, b] * n_instr; instructions [0, forward_start) are folded
    (reverse sweep only). const_slots / const_values: the pre-filled slots.
    node_slots: slot of each node's value; instr_node: the node of each instruction.
    value_slots: inputs then nodes (what an evaluation reports); input_slots; output_slot.
    """

    __slots__ = ("code", "forward_start", "n_instr", "n_slots", "n_inputs", "const_slots",
                 "const_values", "node_slots", "instr_node", "output_slot", "value_slots",
                 "input_slots", "_arrays")

    def __init__(self, code, forward_start, n_slots, n_inputs, const_slots, const_values,
                 node_slots, instr_node, output_slot):
        self.code = code
        self.forward_start = forward_start
        self.n_instr = len(code) // 4
        self.n_slots = n_slots
        self.n_inputs = n_inputs
        self.const_slots = const_slots
        self.const_values = const_values
        self.node_slots = node_slots
        self.instr_node = instr_node
        self.output_slot = output_slot
        self.input_slots = list(range(n_inputs))
        self.value_slots = self.input_slots + node_slots
        self._arrays = None

    def arrays(self) -> "CodeArrays":
        if self._arrays is None:
            i32 = np.int32
            self._arrays = CodeArrays(
                np.array(self.code, dtype=i32).reshape(-1, 4),
                np.array(self.const_slots, dtype=i32), np.array(self.const_values, dtype=np.float64),
                np.array(self.value_slots, dtype=i32), np.array(self.input_slots, dtype=i32),
                np.array([self.output_slot], dtype=i32))
        return self._arrays


class CodeArrays(NamedTuple):
    """Code as NumPy arrays. code: int32 [n_instr, 4]; slot lists int32; const_values float64."""

    code: np.ndarray
    const_slots: np.ndarray
    const_values: np.ndarray
    value_slots: np.ndarray
    input_slots: np.ndarray
    output_slots: np.ndarray


@dataclass(frozen=True, eq=False)
class Program:
    """A lowered graph: shared `Code` plus the names of this graph's slots."""

    graph: Graph
    lowered: Code

    @property
    def code(self) -> np.ndarray:
        """int32 [n_instr, 4]: (opcode, dst, a, b) per instruction."""
        return self.lowered.arrays().code

    @property
    def constants(self) -> np.ndarray:
        """float64 [k]: the constant pool (literals and folded nodes)."""
        return self.lowered.arrays().const_values

    @property
    def const_slots(self) -> np.ndarray:
        return self.lowered.arrays().const_slots

    @property
    def n_slots(self) -> int:
        return self.lowered.n_slots

    @property
    def slots(self) -> dict[str, int]:
        """Input name or node id -> slot."""
        return dict(zip(self.graph.names, self.lowered.value_slots))

    def slot_names(self) -> list[str]:
        """A readable name for every slot: the input or node it holds, `const`, or `node~k`
        for the k-th temporary of an n-ary node's chain."""
        low, g = self.lowered, self.graph
        names = [""] * low.n_slots
        for slot, value in zip(low.const_slots, low.const_values):
            names[slot] = f"const {value:g}"
        temps: dict[int, int] = {}
        for k, node in enumerate(low.instr_node):
            temps[node] = temps.get(node, 0) + 1
            names[low.code[4 * k + 1]] = f"{g.nodes[node].id}~{temps[node]}"
        for name, slot in zip(g.names, low.value_slots):
            names[slot] = name
        return names

    def __repr__(self) -> str:
        """Disassembly: one line per instruction, with the node each belongs to."""
        low = self.lowered
        names = self.slot_names()
        lines = [f"Program: {low.n_instr} instructions, {low.n_slots} slots, "
                 f"inputs {', '.join(self.graph.inputs) or '(none)'}, output {self.graph.output} "
                 f"(slot {low.output_slot})"]
        for slot, value in zip(low.const_slots, low.const_values):
            lines.append(f"  s{slot:<4} = {value!r:<24} # {names[slot]}")
        for k, ((op, dst, a, b), node) in enumerate(zip(self.code.tolist(), low.instr_node)):
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
        key = graph.structure or structure(graph)
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


def structure(graph: Graph) -> tuple:
    """A hashable description of the graph without its names: the lowering cache's key.

    Inputs are -1, -2, ... in order, nodes their index, constants 1-tuples (never equal
    to a position). Graph.from_spec builds the same key during its pass.
    """
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

    output_slot = node_slot.get(graph.output, input_slot.get(graph.output))
    return Code(
        code=[x for instr in folded + live for x in instr],
        forward_start=len(folded),
        n_slots=next_slot,
        n_inputs=m,
        const_slots=const_slots,
        const_values=[known[s] for s in const_slots],
        node_slots=[node_slot[n.id] for n in graph.nodes],
        instr_node=folded_node + live_node,
        output_slot=output_slot,
    )
