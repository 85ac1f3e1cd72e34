"""Many plain node specs at once: checked and lowered by one Numba pass, for evaluate_many.

evaluate_many's hot case is thousands of small dict specs, each with number inputs.
Reading them node by node in Python (engine.spec) costs about 1.5 us a node, far more
than evaluating them. Here the specs' fields are pulled out column by column with
C-level passes (map over the dicts), names are interned to integer codes, and one
kernel resolves every reference, checks every arity and emits each graph's
instructions with engine.lowering.emit, the routine that lowers every other graph. No Graph or Node object is made: an
Evaluation builds its Graph from the spec only when asked for it.

Only the plain case takes this path: an item (spec, inputs) whose spec is
{"nodes": [...], "output": id}, whose nodes are {"id", "op", "inputs"} in order, with
no pow, no node of constants only (those are folded) and an
output that is a node or a used input, and whose inputs map exactly the graph's inputs to finite floats or ints.
Every other item, and every item with something wrong in it, is left to the general
path (engine.spec, then evaluation.Prepared), which words the exact error. So this
module only decides "plain or not"; it never words an error itself.
"""

from __future__ import annotations

import math
import operator
from itertools import chain, count, repeat

import numba
import numpy as np

from engine.vm import kernels as vm
from engine.bulk import every, parallel_lock
from engine import lowering
from engine.graph import Limits
from engine.ops import OPS, OPS_BY_NAME
from engine.spec import is_valid_name

_OPCODE = {op.name: op.opcode for op in OPS}
_POW = OPS_BY_NAME["pow"].opcode
_ARITY = np.array([-1 if op.arity is None else op.arity for op in OPS], dtype=np.int64)
_NODES = operator.itemgetter("nodes")
_OUTPUT = operator.itemgetter("output")
_ID = operator.itemgetter("id")
_OP = operator.itemgetter("op")
_INPUTS = operator.itemgetter("inputs")
_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)
_REF_TYPES = {str, float, int}
# plain items from which waking the thread pool pays (each costs ~0.4 us in the kernel)
PARALLEL_MIN_ITEMS = 256


@numba.njit(cache=True, nogil=True)
def _lower(node_start, id_code, op_code, ref_start, ref_code, number, out_code, arity, pow_op):
    """Resolve and emit every graph; a graph that is not plain gets status 1 and no code.

    node_start [G + 1]: graph g's nodes are [node_start[g], node_start[g + 1]).
    Per node: id_code, op_code (-1 for an unknown op), refs [ref_start[i], ref_start[i+1]).
    Per ref: ref_code, a name's code, or ~code for a number whose value is number[code].
    Returns per graph: status, n_slots, output slot, and [start, stop) ranges into the
    flat instructions (code [n, 4], instr_node), constants (slot, value) and inputs
    (slot, code); and each node's value slot.
    """
    G = node_start.shape[0] - 1
    n_nodes = node_start[G]
    n_refs = ref_start[n_nodes]
    cap = max(n_refs, 1)
    status = np.zeros(G, np.int64)
    n_slots = np.zeros(G, np.int64)
    out_slot = np.zeros(G, np.int64)
    code_at = np.zeros(G + 1, np.int64)
    const_at = np.zeros(G + 1, np.int64)
    input_at = np.zeros(G + 1, np.int64)
    code = np.empty((cap, 4), np.int32)  # a node of r refs emits max(1, r - 1) <= r instructions
    instr_node = np.empty(cap, np.int64)
    const_slot = np.empty(cap, np.int32)
    const_value = np.empty(cap, np.float64)
    input_slot = np.empty(cap, np.int32)
    input_code = np.empty(cap, np.int64)
    node_slot = np.zeros(max(n_nodes, 1), np.int32)
    operands = np.empty(cap, np.int64)
    folded = np.empty((cap, 4), np.int32)  # a plain graph folds nothing; a graph that does is left out
    folded_node = np.empty(cap, np.int64)
    known = np.zeros(2 * cap + 1, np.int64)
    # per name code: stamped g + 1 while graph g is read, so nothing is cleared between graphs
    n_codes = number.shape[0]
    is_node = np.zeros(n_codes, np.int64)
    has_slot = np.zeros(n_codes, np.int64)
    slot_of = np.zeros(n_codes, np.int64)
    c = k = m = 0
    for g in range(G):
        code_at[g], const_at[g], input_at[g] = c, k, m
        stamp = g + 1
        n0, n1 = node_start[g], node_start[g + 1]
        plain = True
        for i in range(n0, n1):
            op = op_code[i]
            nr = ref_start[i + 1] - ref_start[i]
            if is_node[id_code[i]] == stamp or op < 0 or op == pow_op or (
                    nr != arity[op] if arity[op] >= 0 else nr < 2):  # a duplicate id, or a bad op
                plain = False
                break
            is_node[id_code[i]] = stamp
        if plain:
            nxt, out, c1, f, k1, m1, flags, bad = lowering.emit(
                n0, n1, op_code, ref_start, ref_code, number, id_code, out_code[g], False, stamp,
                slot_of, has_slot, known, operands, code, instr_node, c, folded, folded_node, 0,
                const_slot, const_value, k, input_slot, input_code, m, node_slot)
            for j in range(m, m1):  # emit() took a node used before its definition for an input
                if is_node[input_code[j]] == stamp:
                    plain = False
            # folding, and an output that is not a node or a used input, are the general path's
            if plain and f == 0 and bad < 0 and out >= 0:
                c, k, m = c1, k1, m1
                out_slot[g] = out
                n_slots[g] = nxt
            else:
                plain = False
        if not plain:
            status[g] = 1
    code_at[G], const_at[G], input_at[G] = c, k, m
    return (status, n_slots, out_slot, code[:c], instr_node[:c], code_at, const_slot[:k],
            const_value[:k], const_at, input_slot[:m], input_code[:m], input_at, node_slot)


@numba.njit(cache=True, nogil=True)
def _put_slots(dst, at, input_slot, i0, i1, node_slot, n0, n1):
    """dst[at:] = input_slot[i0:i1] then node_slot[n0:n1]; returns the new end."""
    for j in range(i0, i1):
        dst[at] = input_slot[j]
        at += 1
    for j in range(n0, n1):
        dst[at] = node_slot[j]
        at += 1
    return at


@numba.njit(cache=True, nogil=True)
def _item_table(ok, n_slots, out_slot, code_at, const_at, input_at, input_slot, node_start,
                node_slot, intermediates):
    """The ragged kernel's item table (vm.C_* columns) for the plain graphs `ok`, with
    their value and gradient slot lists; each graph has one lane and seed 1.0 (seeds[0])."""
    P = ok.shape[0]
    table = np.zeros((P, vm.ITEM_COLUMNS), np.int64)
    n_v = n_g = 0
    for p in range(P):
        g = ok[p]
        n_in = input_at[g + 1] - input_at[g]
        n_nodes = node_start[g + 1] - node_start[g]
        n_v += n_in + n_nodes if intermediates else 1
        n_g += n_in + n_nodes if intermediates else n_in
    v_slots = np.empty(max(n_v, 1), np.int32)
    g_slots = np.empty(max(n_g, 1), np.int32)
    v = w = out = 0
    for p in range(P):
        g = ok[p]
        row = table[p]
        row[vm.C_CODE] = code_at[g]
        row[vm.C_FWD] = code_at[g]
        row[vm.C_STOP] = code_at[g + 1]
        row[vm.C_SLOTS] = n_slots[g]
        row[vm.C_LANES] = 1
        row[vm.C_K0], row[vm.C_K1] = const_at[g], const_at[g + 1]
        row[vm.C_I0], row[vm.C_I1] = input_at[g], input_at[g + 1]
        row[vm.C_OUT] = out_slot[g]
        row[vm.C_SEED], row[vm.C_SEEDLEN] = 0, 1
        i0, i1 = input_at[g], input_at[g + 1]
        n0, n1 = (node_start[g], node_start[g + 1]) if intermediates else (0, 0)
        row[vm.C_V0] = v
        if intermediates:  # every input and node
            v = _put_slots(v_slots, v, input_slot, i0, i1, node_slot, n0, n1)
        else:  # the output
            v_slots[v] = out_slot[g]
            v += 1
        row[vm.C_V1] = v
        row[vm.C_G0] = w
        w = _put_slots(g_slots, w, input_slot, i0, i1, node_slot, n0, n1)
        row[vm.C_G1] = w
        row[vm.C_VOUT] = out
        out += row[vm.C_V1] - row[vm.C_V0]
        row[vm.C_GOUT] = out
        out += row[vm.C_G1] - row[vm.C_G0]
    return table, v_slots[:v], g_slots[:w], out


def evaluate_plain(items, seed: float, intermediates: bool, limits: Limits) -> PlainBatch | None:
    """Run the plain items of evaluate_many (see the module docstring) in bulk; None when
    no item is plain. `items`: evaluate_many's items; `seed`: the output gradient, a
    finite float.

    The checks below run over all items at once; when one fails, the items are sorted
    one by one (slowly, but only then) and the plain-looking ones run in bulk alone.
    """
    batch = _evaluate_plain(items, seed, intermediates, limits)
    if batch is not _MIXED:
        return batch
    keep = [k for k, item in enumerate(items) if _looks_plain(item)]
    if not keep:
        return None
    batch = _evaluate_plain([items[k] for k in keep], seed, intermediates, limits)
    if batch is None or batch is _MIXED:
        return None
    batch.done = [(keep[k], g, p) for k, g, p in batch.done]
    return batch


_MIXED = object()  # _evaluate_plain's answer when some item is not plain in form
_FLOAT_MAX = int(np.finfo(np.float64).max)


def _looks_plain(item) -> bool:
    """The per-item form of _evaluate_plain's checks on the shape of an item."""
    if type(item) is not tuple or len(item) != 2 or type(item[1]) is not dict:
        return False
    spec = item[0]
    if type(spec) is not dict or len(spec) != 2 or type(spec.get("output")) is not str:
        return False
    nodes = spec.get("nodes")
    if type(nodes) is not list:
        return False
    for node in nodes:
        if type(node) is not dict or len(node) != 3 or type(node.get("id")) is not str:
            return False
        if type(node.get("op")) is not str or type(node.get("inputs")) is not list:
            return False
        for ref in node["inputs"]:
            kind = type(ref)
            if kind is str:
                if not is_valid_name(ref):
                    return False
            elif kind is float:
                if ref - ref != 0.0:  # NaN or inf
                    return False
            elif kind is not int or not -_FLOAT_MAX <= ref <= _FLOAT_MAX:
                return False
        name = node["id"]
        if not is_valid_name(name):
            return False
    return True


def _evaluate_plain(items, seed, intermediates, limits):
    """evaluate_plain over all items at once: a PlainBatch, None when no item is plain,
    or _MIXED when some item is not plain in form (its shape, types or names)."""
    n = len(items)
    try:
        if not (every(map(type, items), tuple, n) and every(map(len, items), 2, n)):
            return _MIXED
        specs = list(map(_FIRST, items))
        given = list(map(_SECOND, items))
        if not (every(map(type, specs), dict, n) and every(map(len, specs), 2, n)
                and every(map(type, given), dict, n)):
            return _MIXED
        node_lists = list(map(_NODES, specs))
        outputs = list(map(_OUTPUT, specs))
        if not (every(map(type, node_lists), list, n) and every(map(type, outputs), str, n)):
            return _MIXED
        counts = list(map(len, node_lists))
        nodes = list(chain.from_iterable(node_lists))
        n_nodes = len(nodes)
        if not (every(map(type, nodes), dict, n_nodes) and every(map(len, nodes), 3, n_nodes)):
            return _MIXED
        ids = list(map(_ID, nodes))
        ops = list(map(_OP, nodes))
        refs_of = list(map(_INPUTS, nodes))
        if not every(map(type, refs_of), list, n_nodes):
            return _MIXED
        refs = list(chain.from_iterable(refs_of))
        if not set(map(type, refs)) <= _REF_TYPES:  # bool, None, lists, ... are not plain
            return _MIXED
        # ids and refs to codes in one C-level pass each (a code is the position where its
        # key was first seen); each distinct key is then looked at once, below
        code_of: dict = {}
        id_code = np.fromiter(map(code_of.setdefault, ids, count()), np.int64, n_nodes)
        ref_code = np.fromiter(map(code_of.setdefault, refs, count(n_nodes)), np.int64, len(refs))
        out_code = np.fromiter(map(code_of.get, outputs, repeat(-1)), np.int64, n)
        op_code = np.fromiter(map(_OPCODE.get, ops, repeat(-1)), np.int64, n_nodes)
    except (KeyError, TypeError):  # a missing field, an unhashable id or op, ...
        return _MIXED
    n_codes = n_nodes + len(refs) + 1
    names = [None] * n_codes
    is_name = np.zeros(n_codes, dtype=np.bool_)
    is_number = np.zeros(n_codes, dtype=np.bool_)
    number = np.zeros(n_codes, dtype=np.float64)
    for key, code in code_of.items():
        kind = type(key)
        if kind is str:
            if not is_valid_name(key):
                return _MIXED
            names[code] = key
            is_name[code] = True
        elif kind is float or kind is int:  # (1 and 1.0 share a code: the same constant)
            try:
                value = float(key)
            except OverflowError:
                return _MIXED
            if value - value != 0.0:
                return _MIXED
            number[code] = value + 0.0  # -0.0 becomes 0.0, as engine.spec's constants do
            is_number[code] = True
        else:  # an id that is not a string
            return _MIXED
    if not is_name[id_code].all():
        return _MIXED
    node_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(counts, np.int64, n), out=node_start[1:])
    ref_start = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, refs_of), np.int64, n_nodes), out=ref_start[1:])

    ref_code = np.where(is_number[ref_code], ~ref_code, ref_code)  # emit()'s coding of numbers
    (status, n_slots, out_slot, code, instr_node, code_at, const_slot, const_value, const_at,
     input_slot, input_code, input_at, node_slot) = _lower(
        node_start, id_code, op_code, ref_start, ref_code, number, out_code, _ARITY, _POW)

    # each graph's input values, looked up by name in its inputs dict, in one pass
    n_inputs = np.diff(input_at).tolist()
    input_names = list(map(names.__getitem__, input_code.tolist()))
    ok_mask = status == 0
    too_big = np.array(counts, dtype=np.int64) > limits.max_nodes
    ok_mask &= ~too_big
    # the graphs left out above have no inputs listed, so the lists stay aligned
    owners = list(chain.from_iterable(map(repeat, given, n_inputs)))
    values = list(map(dict.get, owners, input_names))
    value_kinds = list(map(type, values))
    if not every(value_kinds, float, len(values)):
        for j, kind in enumerate(value_kinds):  # ints are numbers; anything else is not plain
            if kind is int and not isinstance(values[j], bool):
                try:
                    values[j] = float(values[j])
                except OverflowError:
                    values[j] = math.inf
            elif kind is not float:
                values[j] = math.nan
    arena = np.array(values, dtype=np.float64)
    if len(arena):
        bad = ~np.isfinite(arena)
        if bad.any():  # missing, non-numeric or non-finite: the general path says which
            graph_of_input = np.repeat(np.arange(n), n_inputs)
            ok_mask[graph_of_input[bad]] = False
    ok_mask &= np.fromiter(map(len, given), np.int64, n) == np.diff(input_at)  # no extra names
    ok = np.flatnonzero(ok_mask)
    if len(ok) == 0:
        return None

    table, v_slots, g_slots, out_size = _item_table(ok, n_slots, out_slot, code_at, const_at,
                                                    input_at, input_slot, node_start, node_slot,
                                                    intermediates)
    out = np.empty(out_size)
    kernel_status = np.zeros((len(ok), 2), dtype=np.int64)
    args = (code, table, const_slot, const_value, input_slot, np.arange(len(arena), dtype=np.int64),
            np.ones(len(arena), dtype=np.int64), arena, np.array([seed]), v_slots, g_slots, out,
            kernel_status, int(n_slots[ok].max()), 1)
    if len(ok) >= PARALLEL_MIN_ITEMS:
        with parallel_lock:
            vm.run_ragged_parallel(*args, min(len(ok), numba.get_num_threads() * 4))
    else:
        vm.run_ragged(*args)

    flagged = kernel_status[:, 0].tolist()  # NaN or inf: the general path diagnoses it
    done = [(g, g, p) for p, g in enumerate(ok.tolist()) if not flagged[p]]
    if not done:
        return None
    return PlainBatch(specs, limits, seed, intermediates, ids, node_start.tolist(), input_names,
                      input_at.tolist(), values, out.tolist(),
                      table[:, [vm.C_V0, vm.C_V1, vm.C_VOUT, vm.C_G0, vm.C_G1, vm.C_GOUT]].tolist(),
                      done)


class PlainBatch:
    """What evaluate_plain computed, for evaluation.PlainEvaluation to read on demand.

    For each (k, g, p) in `done`, evaluate_many's item k was item g of this batch and
    row p of the kernel's table; its node ids are ids[node_start[g]:node_start[g+1]],
    its input names and values [input_start[g]:input_start[g+1]] of theirs, and its
    values and gradients flat[vo:vo + v1 - v0] and flat[go:go + g1 - g0] for
    rows[p] = (v0, v1, vo, g0, g1, go).
    """

    __slots__ = ("specs", "limits", "seed", "intermediates", "ids", "node_start", "input_names",
                 "input_start", "values", "flat", "rows", "done")

    def __init__(self, specs, limits, seed, intermediates, ids, node_start, input_names, input_start,
                 values, flat, rows, done):
        self.specs, self.limits, self.seed, self.intermediates = specs, limits, seed, intermediates
        self.ids, self.node_start = ids, node_start
        self.input_names, self.input_start, self.values = input_names, input_start, values
        self.flat, self.rows, self.done = flat, rows, done

    def inputs_of(self, g: int) -> tuple[tuple, list]:
        i0, i1 = self.input_start[g], self.input_start[g + 1]
        return tuple(self.input_names[i0:i1]), self.values[i0:i1]

    def names_of(self, g: int) -> tuple:
        """Inputs, then nodes: every name with a value and a gradient."""
        i0, i1 = self.input_start[g], self.input_start[g + 1]
        return tuple(self.input_names[i0:i1] + self.ids[self.node_start[g]:self.node_start[g + 1]])

    def results_of(self, p: int) -> tuple[list, list]:
        """Row p's values and gradients, in the order of names_of (or, without
        intermediates, the output's value and the inputs' gradients)."""
        v0, v1, vo, g0, g1, go = self.rows[p]
        flat = self.flat
        return flat[vo:vo + v1 - v0], flat[go:go + g1 - g0]
