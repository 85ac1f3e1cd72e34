"""Many graphs at once: checked and lowered by one Numba pass, for evaluate_many.

evaluate_many's hot case is thousands of small graphs, each with number inputs.
Reading them node by node in Python (engine.spec) costs about 1.5 us a node, far more
than evaluating them. Here the specs' fields are pulled out column by column with
C-level passes (map over the dicts), names are interned to integer codes, and one
kernel resolves every reference, checks every arity, puts nodes given out of order in
engine.spec's order and emits each graph's instructions with engine.lowering.emit, the
routine that lowers every other graph. Nodes of constants only are computed by the
kernel with the rest, from the instructions emit() puts first: one input set each,
so folding them beforehand (engine.lowering.fold, in Python) would only add its cost
(about 5 us a graph of bench B's mixed workload, most of its graphs fold a node). No
Graph or Node object is made: an Evaluation builds its Graph from the spec only when
asked for it.

An item takes this path when it is a tuple (graph, inputs) or (graph, inputs,
output_gradient) whose graph is a Graph or a node-list spec as engine.spec reads it
(labels, numbers, pow, any node order, and the optional "inputs" list), whose inputs
map exactly the graph's inputs to finite floats or ints, and whose output_gradient is a
finite float. {"expr": ...} specs, batched inputs and every item with something wrong
in it are left to the general path (engine.spec, then evaluation.Prepared), which
words the exact error. So this module only decides "bulk or not"; it never words an
error itself.
"""

from __future__ import annotations

import math
import operator
from itertools import chain, count, repeat

import numba
import numpy as np

from engine.vm import kernels as vm
from engine import bulk, lowering
from engine.bulk import every
from engine.graph import Graph, Limits, Node
from engine.ops import OPS
from engine.spec import is_valid_name

_OPCODE = {op.name: op.opcode for op in OPS}
_ARITY = np.array([-1 if op.arity is None else op.arity for op in OPS], dtype=np.int64)
_NODES = operator.itemgetter("nodes")
_OUTPUT = operator.itemgetter("output")
_ID = operator.itemgetter("id")
_OP = operator.itemgetter("op")
_INPUTS = operator.itemgetter("inputs")
_LABEL = operator.itemgetter("label")
_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)
_THIRD = operator.itemgetter(2)
_GRAPH_NODES = operator.attrgetter("nodes")
_GRAPH_OUTPUT = operator.attrgetter("output")
_REF_TYPES = {str, float, int}
_LABEL_TYPES = {str, type(None)}
_NO_LABEL = object()


@numba.njit(cache=True, nogil=True)
def _topological(n0, n1, ref_start, ref_code, is_node, stamp, pos_of, mark, order, pending,
                 user_at, fill, users, heap):
    """Kahn's algorithm over nodes [n0, n1), taking the lowest ready spec position first,
    which is engine.spec's order. Writes positions within the graph to order[:n1 - n0]
    and returns how many it placed (fewer than n1 - n0: the graph has a cycle).

    pos_of[code]: the position of the node with that id; mark: per code, stamped with a
    node's token so that a node listing the same input twice counts it once.
    """
    n = n1 - n0
    user_at[:n + 1] = 0
    pending[:n] = 0
    for i in range(n0, n1):
        for r in range(ref_start[i], ref_start[i + 1]):
            name = ref_code[r]
            if name >= 0 and is_node[name] == stamp and mark[name] != i + 1:
                mark[name] = i + 1
                pending[i - n0] += 1
                user_at[pos_of[name] + 1] += 1
    for j in range(n):
        user_at[j + 1] += user_at[j]
        fill[j] = user_at[j]
    for i in range(n0, n1):
        for r in range(ref_start[i], ref_start[i + 1]):
            name = ref_code[r]
            if name >= 0 and is_node[name] == stamp and mark[name] != -(i + 1):
                mark[name] = -(i + 1)
                users[fill[pos_of[name]]] = i - n0
                fill[pos_of[name]] += 1
    size = 0
    for j in range(n):  # ascending, so already a heap
        if pending[j] == 0:
            heap[size] = j
            size += 1
    placed = 0
    while size > 0:
        top = heap[0]
        size -= 1
        last = heap[size]
        at = 0
        while True:  # sift `last` down from the root
            child = 2 * at + 1
            if child >= size:
                break
            if child + 1 < size and heap[child + 1] < heap[child]:
                child += 1
            if heap[child] >= last:
                break
            heap[at] = heap[child]
            at = child
        if size > 0:
            heap[at] = last
        order[placed] = top
        placed += 1
        for e in range(user_at[top], user_at[top + 1]):
            u = users[e]
            pending[u] -= 1
            if pending[u] == 0:
                at = size
                size += 1
                while at > 0 and heap[(at - 1) // 2] > u:  # sift up
                    heap[at] = heap[(at - 1) // 2]
                    at = (at - 1) // 2
                heap[at] = u
    return placed


@numba.njit(cache=True, nogil=True)
def _lower(node_start, id_code, op_code, ref_start, ref_code, number, out_code, may_be_input, arity):
    """Resolve, order and emit every graph; a graph that cannot be is given status 1
    and no code (the general path words why).

    node_start [G + 1]: graph g's nodes are [node_start[g], node_start[g + 1]).
    Per node: id_code, op_code (-1 for an unknown op), refs [ref_start[i], ref_start[i+1]).
    Per ref: ref_code, a name's code, or ~code for a number whose value is number[code].
    may_be_input[g]: whether graph g's output may be an input that no node uses.
    Returns per graph: status, n_slots, output slot, and [start, stop) ranges into the
    flat instructions (code [n, 4], instr_node; those of nodes of constants only first),
    constants (slot, value; NaN for a node of constants only, which the kernel's forward
    sweep computes) and inputs (slot, code); each node's value slot, and node_order: the
    spec position of each node in evaluation order.
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
    # a graph's constants are its number refs and its folded instructions: <= 2 per ref
    const_slot = np.empty(2 * cap, np.int32)
    const_value = np.empty(2 * cap, np.float64)
    input_slot = np.empty(cap, np.int32)
    input_code = np.empty(cap, np.int64)
    node_slot = np.zeros(max(n_nodes, 1), np.int32)
    node_order = np.arange(max(n_nodes, 1))
    # scratch for one graph at a time is sized by the largest graph, not by all of them:
    # fresh memory costs a page fault per 4 KiB on first touch
    width = refs = 1
    for g in range(G):
        width = max(width, node_start[g + 1] - node_start[g])
        refs = max(refs, ref_start[node_start[g + 1]] - ref_start[node_start[g]])
    operands = np.empty(refs, np.int64)
    folded = np.empty((refs, 4), np.int32)  # one graph's folded instructions, before they move
    folded_node = np.empty(refs, np.int64)
    known = np.zeros(2 * refs + 1, np.int64)
    # per name code: stamped g + 1 while graph g is read, so nothing is cleared between graphs
    n_codes = number.shape[0]
    is_node = np.zeros(n_codes, np.int64)
    has_slot = np.zeros(n_codes, np.int64)
    slot_of = np.zeros(n_codes, np.int64)
    pos_of = np.zeros(n_codes, np.int64)
    mark = np.zeros(n_codes, np.int64)
    # a graph given out of order is emitted from a copy of its columns in evaluation order
    order = np.empty(width, np.int64)
    pending = np.empty(width, np.int64)
    user_at = np.empty(width + 1, np.int64)
    fill = np.empty(width, np.int64)
    users = np.empty(refs, np.int64)
    heap = np.empty(width, np.int64)
    s_op = np.empty(width, np.int64)
    s_id = np.empty(width, np.int64)
    s_ref_start = np.empty(width + 1, np.int64)
    s_ref_code = np.empty(refs, np.int64)
    s_node_slot = np.empty(width, np.int32)
    # a literal 0 would be typed Literal[int](0) and make Numba compile emit() once more
    zero = np.int64(0)
    c = k = m = zero
    for g in range(G):
        code_at[g], const_at[g], input_at[g] = c, k, m
        stamp = g + 1
        n0, n1 = node_start[g], node_start[g + 1]
        plain = True
        for i in range(n0, n1):
            op = op_code[i]
            nr = ref_start[i + 1] - ref_start[i]
            if is_node[id_code[i]] == stamp or op < 0 or (
                    nr != arity[op] if arity[op] >= 0 else nr < 2):  # a duplicate id, or a bad op
                plain = False
                break
            is_node[id_code[i]] = stamp
            pos_of[id_code[i]] = i - n0
        in_order = True
        if plain:
            for i in range(n0, n1):
                for r in range(ref_start[i], ref_start[i + 1]):
                    name = ref_code[r]
                    if name >= 0 and is_node[name] == stamp and pos_of[name] >= i - n0:
                        in_order = False
        if plain and not in_order:
            n = n1 - n0
            if _topological(n0, n1, ref_start, ref_code, is_node, stamp, pos_of, mark, order,
                            pending, user_at, fill, users, heap) < n:
                plain = False  # a cycle
            else:
                s_ref_start[0] = 0
                for j in range(n):
                    i = n0 + order[j]
                    s_op[j], s_id[j] = op_code[i], id_code[i]
                    at = s_ref_start[j]
                    for r in range(ref_start[i], ref_start[i + 1]):
                        s_ref_code[at] = ref_code[r]
                        at += 1
                    s_ref_start[j + 1] = at
                    node_order[n0 + j] = i
        if plain:
            if in_order:
                nxt, out, c1, f, k1, m1, _, bad = lowering.emit(
                    n0, n1, op_code, ref_start, ref_code, number, id_code, out_code[g],
                    may_be_input[g], stamp, slot_of, has_slot, known, operands, code, instr_node, c,
                    folded, folded_node, zero, const_slot, const_value, k, input_slot, input_code, m,
                    node_slot)
            else:
                nxt, out, c1, f, k1, m1, _, bad = lowering.emit(
                    zero, n1 - n0, s_op, s_ref_start, s_ref_code, number, s_id, out_code[g],
                    may_be_input[g], stamp, slot_of, has_slot, known, operands, code, instr_node, c,
                    folded, folded_node, zero, const_slot, const_value, k, input_slot, input_code, m,
                    s_node_slot)
                for j in range(n1 - n0):
                    node_slot[n0 + j] = s_node_slot[j]
            # a pow of a variable exponent, or an unknown output: the general path's to word
            if bad < 0 and out >= 0:
                # the folded instructions go first: the forward sweep computes them first
                for j in range(c1 - 1, c - 1, -1):
                    code[j + f] = code[j]
                    instr_node[j + f] = instr_node[j]
                for j in range(f):
                    code[c + j] = folded[j]
                    instr_node[c + j] = folded_node[j]
                c, k, m = c1 + f, k1, m1
                out_slot[g] = out
                n_slots[g] = nxt
            else:
                plain = False
        if not plain:
            status[g] = 1
    code_at[G], const_at[G], input_at[G] = c, k, m
    return (status, n_slots, out_slot, code[:c], instr_node[:c], code_at,
            const_slot[:k], const_value[:k], const_at, input_slot[:m], input_code[:m], input_at,
            node_slot, node_order)


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
                node_slot, seed_at, intermediates):
    """The ragged kernel's item table (vm.C_* columns) for the graphs `ok`, with their
    value and gradient slot lists; each graph has one lane and its seed at seeds[seed_at[g]]."""
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
    v = w = out = np.int64(0)  # not a literal 0, which would compile _put_slots twice
    for p in range(P):
        g = ok[p]
        row = table[p]
        row[vm.C_CODE] = code_at[g]
        row[vm.C_FWD] = code_at[g]  # the forward sweep computes the folded nodes too
        row[vm.C_STOP] = code_at[g + 1]
        row[vm.C_SLOTS] = n_slots[g]
        row[vm.C_LANES] = 1
        row[vm.C_K0], row[vm.C_K1] = const_at[g], const_at[g + 1]
        row[vm.C_I0], row[vm.C_I1] = input_at[g], input_at[g + 1]
        row[vm.C_OUT] = out_slot[g]
        row[vm.C_SEED], row[vm.C_SEEDLEN] = seed_at[g], 1
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


def evaluate_plain(items, seed: float, intermediates: bool, limits: Limits) -> list[PlainBatch]:
    """Run the bulk items of evaluate_many (see the module docstring): a PlainBatch for
    each kind of graph given (spec dicts, Graph objects) that has any. `items`:
    evaluate_many's items; `seed`: the output gradient of items that give none, a
    finite float.

    The checks below run over all items at once; when one fails, the items are sorted
    one by one (slowly, but only then) and the bulk-looking ones run in bulk alone.
    Many items run in parts of about PART_NODES nodes each.
    """
    if len(items) < MIN_ITEMS:
        return []
    bounds = _part_bounds(items)
    if len(bounds) == 2:
        return _evaluate_kinds(items, seed, intermediates, limits)
    batches = []
    for start, stop in zip(bounds, bounds[1:]):
        for batch in _evaluate_kinds(items[start:stop], seed, intermediates, limits):
            batch.done = [(start + k, g, p) for k, g, p in batch.done]
            batches.append(batch)
    return batches


# The passes over a part's spec dicts, its interning dict and the lowering's per-name
# arrays stay in a core's cache when a part has about this many nodes: bench B's 1,500
# mixed graphs (25,000 nodes) in one part took about a quarter longer a graph.
PART_NODES = 8192


def _part_bounds(items) -> list[int]:
    """Where consecutive parts of `items` start, and the end: parts of at least
    PART_NODES nodes each, as even as whole items allow; [0, len(items)] (one part)
    when there are fewer than twice as many nodes, or they cannot be counted."""
    n = len(items)
    try:
        graphs = list(map(_FIRST, items))
        sizes = list(map(len, map(_NODES if type(graphs[0]) is dict else _GRAPH_NODES, graphs)))
    except (TypeError, IndexError, KeyError, AttributeError):
        return [0, n]
    parts = sum(sizes) // PART_NODES
    if parts < 2:
        return [0, n]
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, np.arange(1, parts) * (ends[-1] / parts)) + 1
    return sorted({0, n, *[c for c in cuts.tolist() if 0 < c < n]})


def _evaluate_kinds(items, seed: float, intermediates: bool, limits: Limits) -> list[PlainBatch]:
    """evaluate_plain over one part of the items."""
    try:
        kinds = set(map(type, map(_FIRST, items)))
    except (TypeError, IndexError, KeyError):
        kinds = None
    if kinds is not None and len(kinds) == 1:
        if len(items) < MIN_ITEMS:
            return []
        batch = _evaluate_plain(items, seed, intermediates, limits)
        if batch is not _MIXED:
            return [] if batch is None else [batch]
    batches = []
    for kind in (dict, Graph):
        keep = [k for k, item in enumerate(items) if _looks_plain(item, kind)]
        if len(keep) < MIN_ITEMS:
            continue
        batch = _evaluate_plain([items[k] for k in keep], seed, intermediates, limits)
        if batch is None or batch is _MIXED:
            continue
        batch.done = [(keep[k], g, p) for k, g, p in batch.done]
        batches.append(batch)
    return batches


# Fewer items of a kind than this take the general path, which is quicker there: the
# bulk path costs about 70 us a call before its first graph (its C-level passes and
# Numba calls), the general path about 20-50 us a graph (bench/bench_engine.py, "few
# items"). Grading and problem generation evaluate one to three graphs a call.
MIN_ITEMS = 4

_MIXED = object()  # _evaluate_plain's answer when some item is not for the bulk path in form
_FLOAT_MAX = int(np.finfo(np.float64).max)


def _looks_plain(item, kind) -> bool:
    """The per-item form of _evaluate_plain's checks on the shape of an item whose graph
    is of type `kind` (dict or Graph)."""
    if type(item) is not tuple or len(item) not in (2, 3) or type(item[1]) is not dict:
        return False
    spec = item[0]
    if type(spec) is not kind:
        return False
    if kind is Graph:
        return True
    if type(spec.get("output")) is not str:
        return False
    if len(spec) != 2 and (len(spec) != 3 or "inputs" not in spec):
        return False
    nodes = spec.get("nodes")
    if type(nodes) is not list:
        return False
    for node in nodes:
        if type(node) is not dict or type(node.get("id")) is not str:
            return False
        if len(node) != 3 and (len(node) != 4 or type(node.get("label", _NO_LABEL)) not in _LABEL_TYPES):
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


def _spec_columns(specs: list, n: int):
    """Columns of n node-list spec dicts: (node lists, outputs, ids, ops, refs per node,
    may_be_input per graph, declared inputs per graph or None), or _MIXED when some spec
    is not a node list in form (a missing field, a stray one, a label that is not a
    string, ...)."""
    if not every(map(type, specs), dict, n):
        return _MIXED
    declared = None
    sizes = list(map(len, specs))
    if not every(sizes, 2, n):  # some list their "inputs"
        declared = list(map(dict.get, specs, repeat("inputs")))
        if sizes.count(2) + sizes.count(3) != n or declared.count(None) != sizes.count(2):
            return _MIXED
    node_lists = list(map(_NODES, specs))
    outputs = list(map(_OUTPUT, specs))
    if not (every(map(type, node_lists), list, n) and every(map(type, outputs), str, n)):
        return _MIXED
    nodes = list(chain.from_iterable(node_lists))
    n_nodes = len(nodes)
    if not every(map(type, nodes), dict, n_nodes):
        return _MIXED
    sizes = list(map(len, nodes))
    if not every(sizes, 3, n_nodes):  # some have a label: a string or null, and nothing else
        with_label = sizes.count(4)
        if with_label == n_nodes:  # as Graph.to_spec writes them; a node without one raises KeyError
            label_types = list(map(type, map(_LABEL, nodes)))
        else:
            labels = list(map(dict.get, nodes, repeat("label"), repeat(_NO_LABEL)))
            if sizes.count(3) + with_label != n_nodes or labels.count(_NO_LABEL) != n_nodes - with_label:
                return _MIXED
            label_types = list(map(type, labels))
        if label_types.count(str) + label_types.count(type(None)) != with_label:
            return _MIXED
    ids = list(map(_ID, nodes))
    ops = list(map(_OP, nodes))
    refs_of = list(map(_INPUTS, nodes))
    if not every(map(type, refs_of), list, n_nodes):
        return _MIXED
    may_be_input = np.zeros(n, np.bool_) if declared is None else np.array(
        [d is not None for d in declared], np.bool_)
    return node_lists, outputs, ids, ops, refs_of, may_be_input, declared


def _graph_columns(graphs: list, n: int):
    """_spec_columns for Graph objects: checked when they were built, so only read."""
    node_lists = list(map(_GRAPH_NODES, graphs))
    nodes = list(chain.from_iterable(node_lists))
    return (node_lists, list(map(_GRAPH_OUTPUT, graphs)), list(map(_FIRST, nodes)),
            list(map(_SECOND, nodes)), list(map(_THIRD, nodes)), np.ones(n, np.bool_), None)


def _seeds(items: list, n: int, seed: float):
    """Each item's seed as an index into the seeds array, and that array: seed first,
    then the output gradients that items give; None for an item whose output gradient
    is not a finite float (the general path takes it), or _MIXED."""
    sizes = list(map(len, items))
    if every(sizes, 2, n):
        return np.zeros(n, np.int64), np.array([seed]), None
    if every(sizes, 3, n):  # every item gives its own
        given = list(map(_THIRD, items))
        if every(map(type, given), float, n):
            seeds = np.array([seed] + given)
            if np.isfinite(seeds).all():
                return np.arange(n + 1, dtype=np.int64)[1:], seeds, None
    if sizes.count(2) + sizes.count(3) != n:
        return _MIXED
    seeds = [seed]
    seed_at = np.zeros(n, np.int64)
    refused = []
    for k, size in enumerate(sizes):
        if size == 3:
            given = items[k][2]
            if type(given) is float and given - given == 0.0:
                seed_at[k] = len(seeds)
                seeds.append(given)
            else:
                refused.append(k)
    return seed_at, np.array(seeds), refused


def _evaluate_plain(items, seed, intermediates, limits):
    """evaluate_plain over items whose graphs are all of one type: a PlainBatch, None
    when no item can take the bulk path, or _MIXED when some item is not for it in form
    (its shape, types or names)."""
    n = len(items)
    try:
        if not every(map(type, items), tuple, n):
            return _MIXED
        seeded = _seeds(items, n, seed)
        if seeded is _MIXED:
            return _MIXED
        seed_at, seeds, refused = seeded
        specs = list(map(_FIRST, items))
        given = list(map(_SECOND, items))
        if not every(map(type, given), dict, n):
            return _MIXED
        columns = (_graph_columns(specs, n) if type(specs[0]) is Graph and every(map(type, specs), Graph, n)
                   else _spec_columns(specs, n))
        if columns is _MIXED:
            return _MIXED
        node_lists, outputs, ids, ops, refs_of, may_be_input, declared = columns
        counts = list(map(len, node_lists))
        n_nodes = len(ids)
        refs = list(chain.from_iterable(refs_of))
        if not set(map(type, refs)) <= _REF_TYPES:  # bool, None, lists, ... are for the general path
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
    (status, n_slots, out_slot, code, instr_node, code_at, const_slot, const_value,
     const_at, input_slot, input_code, input_at, node_slot, node_order) = _lower(
        node_start, id_code, op_code, ref_start, ref_code, number, out_code, may_be_input, _ARITY)

    # each graph's input values, looked up by name in its inputs dict, in one pass
    n_inputs = np.diff(input_at).tolist()
    input_names = list(map(names.__getitem__, input_code.tolist()))
    ok_mask = status == 0
    if refused:
        ok_mask[refused] = False
    if type(specs[0]) is not Graph:  # a Graph's size was checked when it was built
        ok_mask &= np.array(counts, dtype=np.int64) <= limits.max_nodes
    if declared is not None:  # a spec's "inputs" must list the graph's inputs as they come
        starts = input_at.tolist()
        for g, listed in enumerate(declared):
            if listed is not None and listed != input_names[starts[g]:starts[g + 1]]:
                ok_mask[g] = False
    # the graphs left out above have no inputs listed, so the lists stay aligned
    owners = list(chain.from_iterable(map(repeat, given, n_inputs)))
    values = list(map(dict.get, owners, input_names))
    value_kinds = list(map(type, values))
    if not every(value_kinds, float, len(values)):
        for j, kind in enumerate(value_kinds):  # ints are numbers; anything else is not for bulk
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
                                                    seed_at, intermediates)
    out = np.empty(out_size)
    kernel_status = np.zeros((len(ok), 2), dtype=np.int64)
    args = (code, table, const_slot, const_value, input_slot, np.arange(len(arena), dtype=np.int64),
            np.ones(len(arena), dtype=np.int64), arena, seeds, v_slots, g_slots, out,
            kernel_status, int(n_slots[ok].max()), 1)
    if len(code) >= vm.PARALLEL_MIN_WORK and len(ok) > 1:
        bulk.split(lambda k, p0, p1: vm.run_ragged(*args, p0, p1), len(ok), bulk.threads() * 4)
    else:
        vm.run_ragged(*args, 0, len(ok))

    flagged = kernel_status[:, 0].tolist()  # NaN or inf: the general path diagnoses it
    done = [(g, g, p) for p, g in enumerate(ok.tolist()) if not flagged[p]]
    if not done:
        return None
    if not (node_order[:n_nodes] == np.arange(n_nodes)).all():  # ids in evaluation order
        ids = list(map(ids.__getitem__, node_order[:n_nodes].tolist()))
    return PlainBatch(specs, outputs, limits, seeds.tolist(), seed_at.tolist(), intermediates, ids,
                      node_start.tolist(), input_names, input_at.tolist(), values, out.tolist(),
                      table[:, [vm.C_V0, vm.C_V1, vm.C_VOUT, vm.C_G0, vm.C_G1, vm.C_GOUT]].tolist(),
                      done)


class PlainBatch:
    """What evaluate_plain computed, for evaluation.PlainEvaluation to read on demand.

    For each (k, g, p) in `done`, evaluate_many's item k was item g of this batch and
    row p of the kernel's table; its graph is specs[g] (a spec dict or a Graph), its
    output outputs[g] and its output gradient seeds[seed_at[g]]; its node ids, in
    evaluation order, are ids[node_start[g]:node_start[g+1]], its input names and
    values [input_start[g]:input_start[g+1]] of theirs, and its values and gradients
    flat[vo:vo + v1 - v0] and flat[go:go + g1 - g0] for rows[p] = (v0, v1, vo, g0, g1, go).
    """

    __slots__ = ("specs", "outputs", "limits", "seeds", "seed_at", "intermediates", "ids", "node_start",
                 "input_names", "input_start", "values", "flat", "rows", "done")

    def __init__(self, specs, outputs, limits, seeds, seed_at, intermediates, ids, node_start, input_names,
                 input_start, values, flat, rows, done):
        self.specs, self.outputs, self.limits = specs, outputs, limits
        self.seeds, self.seed_at, self.intermediates = seeds, seed_at, intermediates
        self.ids, self.node_start = ids, node_start
        self.input_names, self.input_start, self.values = input_names, input_start, values
        self.flat, self.rows, self.done = flat, rows, done

    def graph_of(self, g: int) -> Graph:
        spec = self.specs[g]
        return spec if type(spec) is Graph else Graph.from_spec(spec, limits=self.limits)

    def seed_of(self, g: int) -> float:
        return self.seeds[self.seed_at[g]]

    def inputs_of(self, g: int) -> tuple[tuple, list]:
        i0, i1 = self.input_start[g], self.input_start[g + 1]
        return tuple(self.input_names[i0:i1]), self.values[i0:i1]

    def names_of(self, g: int) -> tuple:
        """Inputs, then nodes: every name with a value and a gradient."""
        i0, i1 = self.input_start[g], self.input_start[g + 1]
        return self.input_names[i0:i1] + self.ids[self.node_start[g]:self.node_start[g + 1]]

    def results_of(self, p: int) -> tuple[list, list]:
        """Row p's values and gradients, in the order of names_of (or, without
        intermediates, the output's value and the inputs' gradients)."""
        v0, v1, vo, g0, g1, go = self.rows[p]
        flat = self.flat
        return flat[vo:vo + v1 - v0], flat[go:go + g1 - g0]


class SpecNodes:
    """The Nodes of a PlainBatch's graphs, as engine.spec would make them (numbers as
    floats, -0.0 as 0.0, in evaluation order), read from its specs for all its graphs at
    once on the first request: C-level passes over every node instead of a dozen calls
    per graph."""

    __slots__ = ("_batch", "_nodes")

    def __init__(self, batch):
        self._batch = batch
        self._nodes = None

    def of(self, g: int) -> tuple[Node, ...]:
        b = self._batch
        spec = b.specs[g]
        if type(spec) is Graph:
            return spec.nodes
        if self._nodes is None:
            self._nodes = self._read()
        return tuple(self._nodes[b.node_start[g]:b.node_start[g + 1]])

    def _read(self) -> list[Node]:
        b = self._batch
        raw = list(chain.from_iterable(map(_NODES, b.specs)))
        ids = list(map(_ID, raw))
        if ids != b.ids:  # some graph was given out of order: placed as engine.spec places them
            starts = b.node_start
            for g in range(len(b.specs)):
                n0, n1 = starts[g], starts[g + 1]
                if ids[n0:n1] != b.ids[n0:n1]:
                    by_id = dict(zip(ids[n0:n1], raw[n0:n1]))
                    raw[n0:n1] = map(by_id.__getitem__, b.ids[n0:n1])
            ids = b.ids
        refs = list(map(_INPUTS, raw))
        flat = list(chain.from_iterable(refs))
        if not set(map(type, flat)) <= _NAMES_AND_FLOATS or 0.0 in flat:
            refs = map(_constants, refs)
        return list(map(tuple.__new__, repeat(Node), zip(
            ids, map(_OP, raw), map(tuple, refs), map(dict.get, raw, repeat("label")))))


_NAMES_AND_FLOATS = {str, float}


def _constants(refs: list) -> list:
    """A checked node's inputs as engine.spec stores them: numbers as floats, -0.0 as 0.0."""
    return [r if type(r) is str else float(r) + 0.0 for r in refs]
