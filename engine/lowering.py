"""Graph -> Program: flat int32 instructions over numbered slots, and a constant pool.

Slots are numbered in node order as things are met: a graph input on its first use, each
number literal where it stands, then the node's instruction results. (engine.spec emits
the same numbering while it reads a spec.) An instruction is (opcode, dst, a, b), b = -1
for unary ops. n-ary add/mul become chains of binary instructions through temporaries.

Constant folding: a node whose inputs are all constants is computed here, once, and
its slot is pre-filled like a constant. Its instructions are kept at the front of the
program (`forward_start` skips them) because the reverse sweep still needs them: the
gradient of a folded node must flow on to the folded nodes that feed it.

Programs are cached by structure: the program itself (instructions, constants, which
slots are inputs) is the key, names play no part, so graphs that differ only in their
ids share one Code.
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

SQUARE = OPS_BY_NAME["square"].opcode
POW = OPS_BY_NAME["pow"].opcode
_CACHE_SIZE = 4096


class Code:
    """The structural, shareable part of a lowered graph.

    Held as flat Python lists, because evaluate_many concatenates thousands of small
    programs and list.extend is far cheaper than NumPy calls per program; `arrays()`
    gives the NumPy form once, for the batch kernel and for readers.

    code: [opcode, dst, a, b] * n_instr; instructions [0, forward_start) are folded
    (reverse sweep only). const_slots / const_values: the pre-filled slots.
    node_slots: slot of each node's value; instr_node: the node of each instruction.
    input_slots: the slot of each graph input, in the graph's input order.
    value_slots: inputs then nodes (what an evaluation reports); output_slot.
    """

    __slots__ = ("code", "forward_start", "n_instr", "n_slots", "n_inputs", "const_slots",
                 "const_values", "node_slots", "instr_node", "output_slot", "value_slots",
                 "input_slots", "_arrays")

    def __init__(self, code, forward_start, n_slots, input_slots, const_slots, const_values,
                 node_slots, instr_node, output_slot):
        self.code = code
        self.forward_start = forward_start
        self.n_instr = len(code) // 4
        self.n_slots = n_slots
        self.n_inputs = len(input_slots)
        self.input_slots = input_slots
        self.const_slots = const_slots
        self.const_values = const_values
        self.node_slots = node_slots
        self.instr_node = instr_node
        self.output_slot = output_slot
        self.value_slots = input_slots + node_slots
        self._arrays = None

    def key(self) -> tuple:
        """The structure, without names: the lowering cache's key.

        Which node each instruction belongs to is part of it: add(a, b, b) and
        n1 = a + b; f = n1 + b lower to the same instructions but report different nodes.
        """
        return (self.forward_start, self.n_slots, self.output_slot, tuple(self.code),
                tuple(self.const_slots), tuple(self.const_values), tuple(self.input_slots),
                tuple(self.node_slots), tuple(self.instr_node))

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
            lines.append(f"        s{slot:<4} = {value!r:<20} # {names[slot]}")
        for k, ((op, dst, a, b), node) in enumerate(zip(self.code.tolist(), low.instr_node)):
            call = f"{OPS[op].name}(s{a})" if b < 0 else f"{OPS[op].name}(s{a}, s{b})"
            folded = "  (folded: reverse only)" if k < low.forward_start else ""
            lines.append(f"  {k:>4}: s{dst:<4} = {call:<20} # {self.graph.nodes[node].id}{folded}")
        return "\n".join(lines)


_cache: OrderedDict = OrderedDict()


def lower(graph: Graph) -> Program:
    """Lower a graph to a Program (cached by structure)."""
    return Program(graph, lowered(graph))


def lowered(graph: Graph) -> Code:
    """The graph's Code, shared through the cache with every graph of the same structure."""
    code = graph._lowered
    if code is None:
        built = graph.prebuilt or _build(graph)
        key = built.key()
        code = _cache.get(key)
        if code is None:
            code = _cache[key] = built
            if len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        graph._lowered = code
        graph.prebuilt = None
    return code


def cache_clear() -> None:
    _cache.clear()


def structure(graph: Graph) -> tuple:
    """The graph's structure without its names (what the lowering cache is keyed by)."""
    return lowered(graph).key()


def _fold(op, a: float, b: float | None) -> float:
    """The op's forward on constants, in Python: what the kernels would give, NaN/inf included."""
    return op.value(a) if b is None else op.value(a, b)


def _build(graph: Graph) -> Code:
    slot_of: dict[str, int] = {}  # graph inputs and nodes
    known: dict[int, float] = {}  # slot -> value, for constants and folded results
    input_slots: list[int] = []
    const_slots: list[int] = []
    folded: list[int] = []  # flat (opcode, dst, a, b) of folded instructions
    live: list[int] = []
    folded_node: list[int] = []
    live_node: list[int] = []
    node_slots: list[int] = []
    next_slot = 0
    for i, node in enumerate(graph.nodes):
        op = OPS_BY_NAME[node.op]
        opcode = op.opcode
        operands = []
        is_folded = True
        for ref in node.inputs:
            if type(ref) is str:
                slot = slot_of.get(ref)
                if slot is None:  # a graph input, met for the first time
                    slot = slot_of[ref] = next_slot
                    next_slot += 1
                    input_slots.append(slot)
                if is_folded and slot not in known:
                    is_folded = False
            else:
                slot = next_slot
                next_slot += 1
                const_slots.append(slot)
                known[slot] = ref
            operands.append(slot)
        if opcode == POW:
            exponent = known.get(operands[1])
            if exponent is None:
                raise graph.error_at(i, f"pow needs a constant exponent: {node.inputs[1]!r} is not a "
                                        "number (write x^2, or use exp and log for a variable exponent)",
                                     ".inputs[1]")
            if exponent == 2.0:  # x^2: same value and derivative, without libm's pow
                opcode, operands = SQUARE, operands[:1]
        code, owners = (folded, folded_node) if is_folded else (live, live_node)
        acc = operands[0]
        for b in (operands[1:] if len(operands) > 1 else (-1,)):
            dst = next_slot
            next_slot += 1
            code += (opcode, dst, acc, b)
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
        slot_of[node.id] = acc
        node_slots.append(acc)
    for name in graph.inputs:  # only an output that is an input and feeds no node is left
        if name not in slot_of:
            slot_of[name] = next_slot
            input_slots.append(next_slot)
            next_slot += 1
    return Code(
        code=folded + live,
        forward_start=len(folded) // 4,
        n_slots=next_slot,
        input_slots=input_slots,
        const_slots=const_slots,
        const_values=[known[s] for s in const_slots],
        node_slots=node_slots,
        instr_node=folded_node + live_node,
        output_slot=slot_of[graph.output],
    )
