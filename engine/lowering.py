"""Graph -> Program: flat int32 instructions over numbered slots, and a constant pool.

Slots are numbered in node order as things are met: a graph input on its first use, each
number literal where it stands, then the node's instruction results. One routine,
emit(), numbers and emits, here and in engine.spec_bulk's pass over many specs. An
instruction is (opcode, dst, a, b), b = -1 for unary ops. n-ary add/mul become chains of
binary instructions through temporaries; x^2 becomes square.

Constant folding: a node whose inputs are all constants is computed here, once, and
its slot is pre-filled like a constant. Its instructions are kept at the front of the
program (`forward_start` skips them) because the reverse sweep still needs them: the
gradient of a folded node must flow on to the folded nodes that feed it.

Programs are cached by structure: the graph coded for emit() (ops, references as
codes numbered by first use, and literals) is the key, names play no part, so graphs
that differ only in their ids share one Code. Which Code a Graph lowered to is kept
here too, by the graph's id, for as long as the graph lives: the Graph carries no
lowering state of its own.
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from engine.errors import NonFiniteError
from engine.graph import Graph
from engine.ops import FUSION_OF, INSTRUCTIONS, OPS, OPS_BY_NAME

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
                 "input_slots", "_arrays", "_fused", "_derived")

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
        self._fused: list = [None, None]
        self._derived: dict = {}

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

    def derived(self, key, make):
        """What a caller makes from this Code once and reads on every call after
        (evaluation's one-input-set kernel arguments): make(self), kept by key. A Code
        never changes, so neither does anything made from it."""
        got = self._derived.get(key)
        if got is None:
            got = self._derived[key] = make(self)
        return got

    def fused(self, intermediates: bool) -> np.ndarray:
        """The batch kernel's program, int32 [n, 5]: the code with superinstructions
        (engine.ops.FUSIONS) where an instruction's result is read once, by an op it fuses
        with, and is not reported (with intermediates, every node's value and gradient are,
        so only the links of an n-ary node's chain fuse). Each row is (opcode, dst, a, b,
        c), c = -1 but for three-operand superinstructions; the folded instructions at the
        front stay as they are."""
        if self._fused[intermediates] is None:
            keep = set(self.value_slots) if intermediates else {self.output_slot}
            self._fused[intermediates] = _fuse(self.code, self.forward_start, keep)
        return self._fused[intermediates]


def _fuse(code: list, start: int, keep: set) -> np.ndarray:
    """code (flat, 4 per instruction) with each fusable pair made one instruction, at the
    place of the later one (where all its operands are computed), in one forward pass."""
    rows = [code[k:k + 4] + [-1] for k in range(0, len(code), 4)]
    uses: dict[int, int] = {}
    for row in rows:
        for s in row[2:4]:
            uses[s] = uses.get(s, 0) + 1
    made_by = {rows[k][1]: k for k in range(start, len(rows))}
    gone = set()
    for k in range(start, len(rows)):
        op, dst, *operands = rows[k][:4]
        operands = [s for s in operands if s >= 0]
        for at, s in enumerate(operands):
            j = made_by.get(s)
            if j is None or uses[s] != 1 or s in keep:
                continue
            fusion = FUSION_OF.get((op, rows[j][0]))
            if fusion is None or (at and OPS[op].arity is not None):  # only n-ary ops commute
                continue
            args = rows[j][2:2 + fusion.inner_arity] + operands[:at] + operands[at + 1:]
            rows[k] = [fusion.opcode, dst, *args] + [-1] * (3 - len(args))
            gone.add(j)
            break
    return np.array([row for k, row in enumerate(rows) if k not in gone], np.int32).reshape(-1, 5)


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
        """Disassembly: one line per instruction, with the node each belongs to; then, where
        superinstructions apply, the program the batch kernel runs for the output's value
        and the inputs' gradients (intermediates=False)."""
        low = self.lowered
        names = self.slot_names()
        lines = [f"Program: {low.n_instr} instructions, {low.n_slots} slots, "
                 f"inputs {', '.join(self.graph.inputs) or '(none)'}, output {self.graph.output} "
                 f"(slot {low.output_slot})"]
        for slot, value in zip(low.const_slots, low.const_values):
            lines.append(f"        s{slot:<4} = {value!r:<20} # {names[slot]}")
        lines += self._listing(self.code.tolist(), low.forward_start)
        fused = low.fused(False)
        if len(fused) < low.n_instr:
            lines.append(f"fused for the batch kernel (intermediates=False): {len(fused)} instructions")
            lines += self._listing(fused.tolist(), low.forward_start)
        return "\n".join(lines)

    def _listing(self, rows: list, forward_start: int) -> list[str]:
        low = self.lowered
        node_of = {low.code[4 * k + 1]: node for k, node in enumerate(low.instr_node)}
        lines = []
        for k, (op, dst, *operands) in enumerate(rows):
            args = ", ".join(f"s{s}" for s in operands if s >= 0)
            call = f"{INSTRUCTIONS[op].name}({args})"
            folded = "  (folded: reverse only)" if k < forward_start else ""
            lines.append(f"  {k:>4}: s{dst:<4} = {call:<20} # {self.graph.nodes[node_of[dst]].id}{folded}")
        return lines


_cache: OrderedDict = OrderedDict()  # a graph's coding for emit() -> Code, oldest first
# id(graph) -> (weak reference to the graph, its Code). Lowered programs are the lowering's
# state, not the graph's: the weak reference's callback drops the entry when the graph
# dies, before its id can be reused.
_of_graph: dict[int, tuple[weakref.ref, Code]] = {}


def lower(graph: Graph) -> Program:
    """Lower a graph to a Program (cached by structure)."""
    return Program(graph, lowered(graph))


def lowered(graph: Graph) -> Code:
    """The graph's Code, shared through the cache with every graph of the same structure."""
    entry = _of_graph.get(id(graph))
    if entry is not None:
        return entry[1]
    code = _build(graph)
    graph_id = id(graph)
    _of_graph[graph_id] = (weakref.ref(graph, lambda _, graph_id=graph_id: _of_graph.pop(graph_id, None)),
                           code)
    return code


def cache_clear() -> None:
    _cache.clear()
    _of_graph.clear()


def structure(graph: Graph) -> tuple:
    """The graph's structure without its names (what the lowering cache is keyed by)."""
    return lowered(graph).key()


def _fold(op, a: float, b: float | None) -> float:
    """The op's forward on constants, in Python: what the kernels would give, NaN/inf included."""
    return op.value(a) if b is None else op.value(a, b)



# --- slot numbering and emission ----------------------------------------------------
# emit() is the one routine that numbers slots and writes instructions: _build calls it
# for a Graph (every graph, parsed or read from a spec, is lowered that way), and
# engine.spec_bulk from inside its Numba pass over thousands of specs. Graphs reach it integer-coded: each
# name or number has a code.

PENDING_POW = 1  # emit() flag: some pow's exponent is a folded node, whose value is not known yet


@numba.njit(cache=True, nogil=True)
def emit(n0, n1, op_code, ref_start, ref_code, literal, id_code, output, output_may_be_input,
         stamp, slot_of, has_slot, known, operands, code, instr_node, c, folded, folded_node, f,
         const_slot, const_value, k, input_slot, input_code, m, node_slot):
    """Number the slots of nodes [n0, n1) and emit their instructions.

    Per node i: op_code, id_code, refs ref_code[ref_start[i]:ref_start[i + 1]]; a ref
    r >= 0 is the code of a name, r < 0 the number literal[~r]. A name has a slot where has_slot[code] == stamp (a stamp per graph, so nothing is cleared
    between graphs), at slot_of[code]; known[slot] == stamp marks constant slots.
    Live instructions go to code / instr_node from row c, folded ones (all operands
    constant) to folded / folded_node from row f; constants (literals, then folded
    results as they come, value NaN until folded) to const_slot / const_value from k;
    graph inputs on first use to input_slot / input_code from m; node i's slot to
    node_slot[i]. `output` is a code, or -1 for an unknown name.

    Returns (n_slots, output slot or -1, c, f, k, m, flags, bad): bad >= 0 is a node
    whose pow exponent is not a constant, where emission stopped.
    """
    nxt = 0
    flags = 0
    for i in range(n0, n1):
        op = op_code[i]
        r0, r1 = ref_start[i], ref_start[i + 1]
        n_ops = r1 - r0
        constant = True
        for r in range(r0, r1):
            name = ref_code[r]
            if name < 0:
                slot = nxt
                nxt += 1
                const_slot[k] = slot
                const_value[k] = literal[~name]
                k += 1
                known[slot] = stamp
            else:
                if has_slot[name] != stamp:  # a graph input, met for the first time
                    slot_of[name] = nxt
                    has_slot[name] = stamp
                    input_slot[m] = nxt
                    input_code[m] = name
                    m += 1
                    nxt += 1
                slot = slot_of[name]
                if known[slot] != stamp:
                    constant = False
            operands[r - r0] = slot
        if op == POW:
            exponent = ref_code[r0 + 1]
            if exponent < 0:
                if literal[~exponent] == 2.0:  # x^2: same value and derivative, without libm's pow
                    op, n_ops = SQUARE, 1
            elif known[operands[1]] == stamp:
                flags |= PENDING_POW
            else:
                return nxt, -1, c, f, k, m, flags, i
        acc = operands[0]
        for j in range(1, max(n_ops, 2)):  # n-ary add and mul: a chain of binary instructions
            b = operands[j] if n_ops > 1 else -1
            if constant:
                folded[f, 0], folded[f, 1], folded[f, 2], folded[f, 3] = op, nxt, acc, b
                folded_node[f] = i - n0
                f += 1
                known[nxt] = stamp
                const_slot[k] = nxt
                const_value[k] = np.nan
                k += 1
            else:
                code[c, 0], code[c, 1], code[c, 2], code[c, 3] = op, nxt, acc, b
                instr_node[c] = i - n0
                c += 1
            acc = nxt
            nxt += 1
        slot_of[id_code[i]] = acc
        has_slot[id_code[i]] = stamp
        node_slot[i] = acc
    out = -1
    if output >= 0:
        if has_slot[output] == stamp:
            out = slot_of[output]
        elif output_may_be_input:  # an output that is an input and feeds no node
            out = nxt
            nxt += 1
            input_slot[m] = out
            input_code[m] = output
            m += 1
    return nxt, out, c, f, k, m, flags, -1


@numba.njit(cache=True, nogil=True)
def _emit_graph(coded, literal):
    """emit() for one graph coded as int64 [n, n_codes, output code, op_code (n),
    ref_start (n + 1), ref_code]; node i has code i.

    Returns int64 [8 + 12 * cap + n]: [n_slots, output slot, n_live, n_folded, n_const,
    n_inputs, flags, bad], then regions of cap = len(ref_code) + 1 rows for the folded
    code, the live code (4 per row), folded_node, instr_node, const slots, input slots,
    and node slots (n); and the const values (NaN for folded results).
    """
    n, n_codes, output = coded[0], coded[1], coded[2]
    ref_code = coded[4 + 2 * n:]
    cap = ref_code.shape[0] + 1
    # emit() is called with exactly the argument types spec_bulk._lower gives it (int32
    # code and slots, no literal constants), so Numba compiles it once for both callers
    zero = np.int64(0)
    code = np.empty((cap, 4), np.int32)
    folded = np.empty((cap, 4), np.int32)
    instr_node = np.empty(cap, np.int64)
    folded_node = np.empty(cap, np.int64)
    const_slot = np.empty(cap, np.int32)
    const_value = np.empty(cap, np.float64)
    input_slot = np.empty(cap, np.int32)
    input_code = np.empty(cap, np.int64)
    node_slot = np.empty(max(n, 1), np.int32)
    scratch = np.zeros(2 * n_codes + 3 * cap, np.int64)
    head = emit(
        zero, n, coded[3:3 + n], coded[3 + n:4 + 2 * n], ref_code, literal, np.arange(n), output,
        np.bool_(True), np.int64(1), scratch[:n_codes], scratch[n_codes:2 * n_codes],
        scratch[2 * n_codes:2 * n_codes + 2 * cap], scratch[2 * n_codes + 2 * cap:], code, instr_node,
        zero, folded, folded_node, zero, const_slot, const_value, zero, input_slot, input_code, zero,
        node_slot)
    out = np.zeros(8 + 12 * cap + n, np.int64)
    for j in range(8):
        out[j] = head[j]
    at = 8
    for rows in (folded, code):
        for i in range(cap):
            for j in range(4):
                out[at + 4 * i + j] = rows[i, j]
        at += 4 * cap
    for column in (folded_node, instr_node):
        out[at:at + cap] = column
        at += cap
    for slots in (const_slot, input_slot):
        out[at:at + cap] = slots
        at += cap
    out[at:at + n] = node_slot[:n]
    return out, const_value[:head[4]]


_OPCODE = {op.name: op.opcode for op in OPS}


def _build(graph: Graph) -> Code:
    """The graph coded for emit() (node i is code i, then input names as they come) and,
    unless the cache holds that coding's Code, emitted."""
    nodes = graph.nodes
    code_of = {node.id: i for i, node in enumerate(nodes)}
    coded = [len(nodes), 0, 0]
    starts = [0]
    refs = []
    literals = []
    for node in nodes:
        coded.append(_OPCODE[node.op])
        for ref in node.inputs:
            if type(ref) is str:
                refs.append(code_of.setdefault(ref, len(code_of)))
            else:
                refs.append(~len(literals))
                literals.append(ref)
        starts.append(len(refs))
    coded[2] = code_of.setdefault(graph.output, len(code_of))
    coded[1] = len(code_of)
    coded += starts
    coded += refs
    # names play no part in the coding, so graphs that differ only in names share a Code
    key = (*coded, *literals)
    code = _cache.get(key)
    if code is None:
        ints, values = _emit_graph(np.array(coded, np.int64), np.array(literals, np.float64))
        code = _cache[key] = _code(graph, ints.tolist(), values.tolist())
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return code


def _code(graph: Graph, ints: list, const_values: list) -> Code:
    """_emit_graph's answer as a Code: folded nodes computed (with `_fold`, in order, so
    a folded pow exponent is known before it is used) and errors raised."""
    n_slots, output_slot, c, f, k, m, flags, bad = ints[:8]
    cap = (len(ints) - 8 - len(graph.nodes)) // 12
    at = 8 + 4 * cap
    code = ints[8:8 + 4 * f] + ints[at:at + 4 * c]
    at += 4 * cap
    instr_node = ints[at:at + f] + ints[at + cap:at + cap + c]
    at += 2 * cap
    const_slots = ints[at:at + k]
    input_slots = ints[at + cap:at + cap + m]
    node_slots = ints[at + 2 * cap:]
    if f or flags or bad >= 0:
        known = dict(zip(const_slots, const_values))
        _fold_all(graph, code, instr_node, f + c if flags else f, f, known)
        if bad >= 0:
            node = graph.nodes[bad]
            raise graph.error_at(bad, f"pow needs a constant exponent: {node.inputs[1]!r} is not a number "
                                      "(write x^2, or use exp and log for a variable exponent)", ".inputs[1]")
        const_values = [known[s] for s in const_slots]
    return Code(code=code, forward_start=f, n_slots=n_slots, input_slots=input_slots,
                const_slots=const_slots, const_values=const_values, node_slots=node_slots,
                instr_node=instr_node, output_slot=output_slot)


def _fold_all(graph: Graph, code: list, instr_node: list, stop: int, n_folded: int, known: dict) -> None:
    """fold(), raising NonFiniteError at the node whose folded value is NaN or inf."""
    j = fold(code, stop, n_folded, known)
    if j is not None:
        i = instr_node[j]
        node = graph.nodes[i]
        value = known[code[4 * j + 1]]
        raise NonFiniteError(
            f"node {node.id!r} ({node.op}) is {value} for any input: its inputs are "
            f"constants ({', '.join(map(repr, node.inputs))})", node=node.id, index=None,
            kind="value", **graph.error_at(i, "").location)


def fold(code: list, stop: int, n_folded: int, known: dict) -> int | None:
    """Compute the folded instructions [0, n_folded) of flat `code` into `known` (slot ->
    value), and turn each pow of [0, stop) whose exponent came out as 2 into square, as
    emit() does for a literal 2. Returns the first instruction whose value is not
    finite (its value is in `known`), or None. engine.spec_bulk folds with this too, so
    both paths fold bit for bit alike."""
    for j in range(stop):
        op, dst, a, b = code[4 * j:4 * j + 4]
        if op == POW and known.get(b) == 2.0:
            op, b = code[4 * j], code[4 * j + 3] = SQUARE, -1
        if j >= n_folded:
            continue
        value = _fold(OPS[op], known[a], None if b < 0 else known[b])
        known[dst] = value
        if not math.isfinite(value):
            return j
    return None
