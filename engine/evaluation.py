"""evaluate / evaluate_many: inputs in, every node's value and gradient out.

Inputs map names to numbers or equal-length 1-D arrays (a batch; numbers broadcast).
Numbers are strict: booleans and strings are not numbers, NaN and inf are refused.
A NaN or inf anywhere in the result raises NonFiniteError naming the node where it
first appears and the batch index, never a silent NaN in an answer key.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Mapping

import numpy as np

from engine import bulk, spec_bulk
from engine.vm import kernels as vm
from engine.errors import GraphError, NonFiniteError
from engine.graph import DEFAULT_LIMITS, Graph, Limits, Node, describe_inputs, suggest
from engine.lowering import Code, Program, lowered
from engine.ops import OPS
from engine.parser import parse



def _limits(limits) -> Limits:
    if limits is None:
        return DEFAULT_LIMITS
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be an engine.Limits, not {type(limits).__name__}")
    return limits


def as_graph(graph, limits: Limits = DEFAULT_LIMITS) -> Graph:
    """A Graph from a Graph, an expression string or a spec dict."""
    kind = type(graph)
    if kind is dict:
        return Graph.from_spec(graph, limits=limits)
    if kind is Graph:
        return graph
    if isinstance(graph, str):
        return parse(graph, limits=limits)
    if isinstance(graph, dict):
        return Graph.from_spec(graph, limits=limits)
    raise GraphError(f"a graph must be a Graph, an expression or a spec dict, not {type(graph).__name__}",
                     path="graph")


# --- inputs -------------------------------------------------------------------------

def _kind(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    return f"a {type(value).__name__}"


def _number(value, path: str) -> float:
    kind = type(value)
    if kind is float:
        if value - value == 0.0:  # false for NaN and +-inf
            return value
        raise GraphError(f"{path} is {value}, not a finite number", path=path)
    if kind is int or isinstance(value, (np.integer, np.floating)) and not isinstance(value, np.bool_):
        try:
            v = float(value)
        except OverflowError:
            raise GraphError(f"{path} = {value} is too large for float64", path=path) from None
        if not math.isfinite(v):
            raise GraphError(f"{path} is {v}, not a finite number", path=path)
        return v
    raise GraphError(f"{path} must be a number, not {_kind(value)}", path=path)


def _values(value, path: str, limits: Limits):
    """A number as float, or a batch as a C-contiguous float64 1-D array."""
    kind = type(value)
    if kind is float or kind is int:
        return _number(value, path)
    if isinstance(value, (list, tuple)):
        if not set(map(type, value)) <= {int, float}:
            for i, v in enumerate(value):
                if type(v) is not int and type(v) is not float:
                    raise GraphError(f"{path}[{i}] must be a number, not {_kind(v)}", path=f"{path}[{i}]")
        try:
            arr = np.array(value, dtype=np.float64)
        except OverflowError:
            i = next(i for i, v in enumerate(value) if type(v) is int and abs(v) > 2 ** 1023)
            raise GraphError(f"{path}[{i}] is too large for float64", path=f"{path}[{i}]") from None
    elif isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _number(value[()], path)
        if value.ndim != 1:
            raise GraphError(f"{path} must be a number or a 1-D list, not a {value.ndim}-D array", path=path)
        if value.dtype.kind not in "iuf":
            if value.dtype.kind == "O":
                return _values(value.tolist(), path, limits)
            raise GraphError(f"{path} must hold numbers, not {value.dtype} values", path=path)
        arr = np.ascontiguousarray(value, dtype=np.float64)
    elif isinstance(value, (np.integer, np.floating)) and not isinstance(value, np.bool_):
        return _number(value, path)
    else:
        raise GraphError(f"{path} must be a number or a list of numbers, not {_kind(value)}", path=path)
    if arr.shape[0] > limits.max_batch:
        raise GraphError(f"{path} has {arr.shape[0]} values, more than the limit of {limits.max_batch}",
                         path=path)
    return arr  # NaN and inf in a batch are caught by the kernel's scan (see _nonfinite)


class Prepared:
    """One graph with checked inputs, ready for a kernel."""

    __slots__ = ("graph", "code", "values", "n_lanes", "batched", "seed")

    def __init__(self, graph: Graph, inputs, seed, limits: Limits):
        if not isinstance(inputs, Mapping):
            raise GraphError(f"inputs must map names to numbers, not {_kind(inputs)}", path="inputs")
        names = graph.inputs
        if len(inputs) != len(names) or not all(n in inputs for n in names):
            missing = [n for n in names if n not in inputs]
            if missing:
                s = "s" if len(missing) > 1 else ""
                raise GraphError(f"missing value{s} for input{s} {', '.join(missing)} (the graph's inputs "
                                 f"are {describe_inputs(names)})", path=f"inputs.{missing[0]}")
            extra = next(str(k) for k in inputs if k not in set(names))
            raise GraphError(f"unknown input {extra!r}: the graph's inputs are {describe_inputs(names)}"
                             f"{suggest(extra, names)}", path=f"inputs.{extra}")
        values = []
        n_lanes = None
        first = None
        for name in names:
            v = inputs[name]
            if type(v) is float and v - v == 0.0:  # the common case, checked inline
                values.append(v)
                continue
            v = _values(v, "inputs." + name, limits)
            if type(v) is not float:
                if n_lanes is None:
                    n_lanes, first = v.shape[0], name
                elif v.shape[0] != n_lanes:
                    raise GraphError(f"inputs.{name} has {v.shape[0]} values but inputs.{first} has "
                                     f"{n_lanes}; every list of inputs must have the same length",
                                     path=f"inputs.{name}")
            values.append(v)
        if type(seed) is not float or seed - seed != 0.0:
            seed = _values(seed, "output_gradient", limits)
            if type(seed) is not float:
                if n_lanes is None:
                    n_lanes, first = seed.shape[0], "output_gradient"
                elif seed.shape[0] != n_lanes:
                    raise GraphError(f"output_gradient has {seed.shape[0]} values but inputs.{first} has "
                                     f"{n_lanes}", path="output_gradient")
        self.graph = graph
        self.code: Code = lowered(graph)
        self.values = values
        self.batched = n_lanes is not None
        self.n_lanes = n_lanes if self.batched else 1
        self.seed = seed


# --- results ------------------------------------------------------------------------

class _Kept(dict):
    def __missing__(self, key):
        raise KeyError(f"{key!r}: this evaluation kept only the output value and the input gradients "
                       "(intermediates=False); evaluate with intermediates=True for every node")


class Evaluation:
    """Values and gradients (d output / d node) of one evaluated graph.

    `value`: the output's value; `values[id]`, `gradients[id]` for every node and input
    (with intermediates=False: values of the output, gradients of the inputs). Each is a
    float, or a float64 [n] array when the inputs were a batch (`batched`).
    """

    __slots__ = ("_graph", "_input_names", "output", "batched", "intermediates", "output_gradient",
                 "_input_values", "_value_names", "_V", "_grad_names", "_G", "_values", "_gradients")

    def __init__(self, prepared: Prepared, intermediates: bool, V: np.ndarray, G: np.ndarray):
        g = prepared.graph
        self._graph = g
        self._input_names = g.inputs
        self.output = g.output
        self.batched = prepared.batched
        self.intermediates = intermediates
        self._input_values = prepared.values
        self.output_gradient = prepared.seed
        self._value_names = g.names if intermediates else (g.output,)
        self._grad_names = g.names if intermediates else g.inputs
        self._V = V
        self._G = G
        self._values = None
        self._gradients = None

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def nodes(self) -> tuple[Node, ...]:
        """The graph's nodes in evaluation order: `graph.nodes`."""
        return self.graph.nodes

    @property
    def inputs(self) -> dict:
        """The inputs evaluated at: name -> float, or float64 array for a batch."""
        return dict(zip(self._input_names, self._input_values))

    @property
    def values(self) -> dict:
        if self._values is None:
            self._values = self._table(self._value_names, self._V)
        return self._values

    @property
    def gradients(self) -> dict:
        if self._gradients is None:
            self._gradients = self._table(self._grad_names, self._G)
        return self._gradients

    def _table(self, names, M):
        # M: float64 [len(names), n] when batched, else a list of floats
        table = dict(zip(names, M))
        return table if self.intermediates else _Kept(table)

    @property
    def value(self):
        return self.values[self.output]

    def step(self, learning_rate, wrt=None) -> dict:
        """One gradient-descent step: {input: x - learning_rate * d output / d x}.

        All inputs, or only those named in `wrt`.
        """
        lr = _number(learning_rate, "learning_rate")
        names = self._wrt(wrt)
        grads = self.gradients
        given = self.inputs
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, by input and index
            moved = {n: given[n] - lr * grads[n] for n in names}
        for n, x in moved.items():  # a huge rate times a huge gradient can overflow
            finite = np.isfinite(x)
            if not np.all(finite):
                index = int(np.argmin(finite)) if self.batched else None
                at = f" at batch index {index}" if self.batched else ""
                raise NonFiniteError(f"the step for input {n!r} is not a finite number{at}: {n} - {lr:g} * "
                                     f"d{self.output}/d{n} overflows float64; use a smaller learning_rate",
                                     node=n, index=index, kind="step", path="learning_rate")
        return moved

    def trajectory(self, learning_rate, steps: int, wrt=None) -> list["Evaluation"]:
        """This point and `steps` gradient-descent steps from it, each re-evaluated."""
        if type(steps) is not int or steps < 0:
            raise GraphError(f"steps must be a whole number >= 0, not {steps!r}", path="steps")
        points = [self]
        current = dict(self.inputs)
        for _ in range(steps):
            current.update(points[-1].step(learning_rate, wrt))
            points.append(evaluate(self.graph, current, output_gradient=self.output_gradient,
                                   intermediates=self.intermediates))
        return points

    def _wrt(self, wrt) -> tuple[str, ...]:
        inputs = self._input_names
        if wrt is None:
            return inputs
        if isinstance(wrt, str) or not isinstance(wrt, (list, tuple)):
            raise GraphError("wrt must be a list of input names", path="wrt")
        for i, name in enumerate(wrt):
            if name not in inputs:
                raise GraphError(f"wrt names {name!r}, which is not an input of the graph (inputs: "
                                 f"{describe_inputs(inputs)})", path=f"wrt[{i}]")
        return tuple(dict.fromkeys(wrt))

    def __repr__(self):
        return f"<Evaluation {self.output} = {self.value!r}>"


class PlainEvaluation(Evaluation):
    """An unbatched result of engine.spec_bulk, which lowered its spec without building
    a Graph: names and numbers are read from the batch when first asked for, and the
    Graph is built from the spec only if asked for (a few of thousands usually are)."""

    __slots__ = ("_batch", "_g", "_p", "_nodes")
    batched = False

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = self._batch.graph_of(self._g)
        return self._graph

    @property
    def output(self) -> str:
        return self._batch.outputs[self._g]

    @property
    def nodes(self) -> tuple[Node, ...]:
        """`graph.nodes` read from the spec, which the bulk path checked and ordered,
        without building the Graph: a batch's response lists every item's nodes, so the
        first evaluation asked reads those of the whole batch at once (spec_bulk.SpecNodes)."""
        if self._graph is not None:
            return self._graph.nodes
        return self._nodes.of(self._g)

    @property
    def intermediates(self) -> bool:
        return self._batch.intermediates

    @property
    def output_gradient(self) -> float:
        return self._batch.seed_of(self._g)

    @property
    def _input_names(self) -> tuple:
        return self._batch.inputs_of(self._g)[0]

    @property
    def _input_values(self) -> list:
        return self._batch.inputs_of(self._g)[1]

    @property
    def values(self) -> dict:
        if self._values is None:
            self._read_tables()
        return self._values

    @property
    def gradients(self) -> dict:
        if self._gradients is None:
            self._read_tables()
        return self._gradients

    def _read_tables(self) -> None:
        """Both tables at once: they share the batch's row and, with intermediates, the names."""
        b = self._batch
        V, G = b.results_of(self._p)
        if b.intermediates:
            names = b.names_of(self._g)
            self._values, self._gradients = dict(zip(names, V)), dict(zip(names, G))
        else:
            self._values = self._table((self.output,), V)
            self._gradients = self._table(self._input_names, G)


def _plain_results(batches, results: list) -> None:
    """Put the batches' evaluations in their places of `results`."""
    new = object.__new__
    for batch in batches:
        nodes = spec_bulk.SpecNodes(batch)
        for k, g, p in batch.done:
            ev = new(PlainEvaluation)
            ev._batch = batch
            ev._nodes = nodes
            ev._g = g
            ev._p = p
            ev._graph = ev._values = ev._gradients = None  # made when first asked for
            results[k] = ev


# --- running ------------------------------------------------------------------------

def evaluate(graph, inputs, *, output_gradient=1.0, intermediates: bool = True,
             limits: Limits | None = None) -> Evaluation:
    """Evaluate one graph forward and in reverse; see the module docstring."""
    limits = _limits(limits)
    item = Prepared(as_graph(graph, limits), inputs, output_gradient, limits)
    # A batch goes to the batch kernel, which reads inputs in place (measured faster than
    # the ragged kernel at every batch size, from 2 lanes on); one input set goes to the
    # ragged kernel's one-lane path, which returns Python floats.
    if item.batched:
        result = _run_batch(item, intermediates)
    else:
        result = _run_ragged([item], intermediates)[0]
    if isinstance(result, GraphError):
        raise result
    return result


def evaluate_many(items, *, output_gradient=1.0, intermediates: bool = True,
                  limits: Limits | None = None, errors: str = "raise") -> list:
    """Evaluate many (graph, inputs[, output_gradient]) items in one kernel call.

    Node-list specs and Graphs with number inputs are read and lowered in bulk
    (engine.spec_bulk) and every other item (expressions, batched inputs, faults)
    through Graph and Prepared; a batch with several kinds makes a kernel call each. errors="raise" raises the first item's GraphError (its `item` attribute is
    the index); errors="return" puts each failed item's GraphError in its place. An
    error in reading an item's graph has `in_graph` set: its path is within the graph
    spec (nodes[3].op); the others' are within the item (inputs.x, output_gradient).
    """
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', not {errors!r}")
    if not isinstance(items, (list, tuple)):
        try:
            items = list(items)
        except TypeError:
            raise GraphError(f"items must be a list of (graph, inputs) pairs, not {_kind(items)}",
                             path="items") from None
    # A batch allocates hundreds of thousands of small acyclic objects (nodes, tuples,
    # dicts); each crossing of the collector's threshold would walk all of them. Pausing
    # the cyclic collector for the call halves the time per graph; reference counting
    # still frees everything as usual.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _evaluate_many(items, output_gradient, intermediates, _limits(limits), errors)
    finally:
        if paused:
            gc.enable()


def _evaluate_many(items, output_gradient, intermediates, limits, errors) -> list:
    results: list = [None] * len(items)
    if type(output_gradient) is float and output_gradient - output_gradient == 0.0:
        # specs and Graphs with number inputs: checked, lowered and run in bulk
        _plain_results(spec_bulk.evaluate_plain(items, output_gradient, intermediates, limits), results)
    ready: list[tuple[int, Prepared]] = []
    for k, entry in enumerate(items):
        if results[k] is not None:
            continue
        try:
            if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
                raise GraphError("each item must be (graph, inputs) or (graph, inputs, output_gradient)",
                                 path=f"items[{k}]")
            seed = entry[2] if len(entry) == 3 else output_gradient
            ready.append((k, Prepared(_item_graph(entry[0], limits), entry[1], seed, limits)))
        except GraphError as exc:
            results[k] = _in_item(exc, k, errors)
    for (k, _), result in zip(ready, _run_ragged([p for _, p in ready], intermediates)):
        results[k] = _in_item(result, k, errors) if isinstance(result, GraphError) else result
    return results


def _item_graph(graph, limits: Limits) -> Graph:
    """as_graph for an item of evaluate_many; its errors say they are the graph's."""
    try:
        return as_graph(graph, limits)
    except GraphError as exc:
        exc.in_graph = True
        raise


def _in_item(exc: GraphError, k: int, errors: str) -> GraphError:
    exc.item = k
    if errors == "raise":
        exc.add_note(f"in item {k} of evaluate_many")
        raise exc
    return exc


def _run_batch(item: Prepared, intermediates: bool):
    """One program over many lanes; inputs are read in place, not copied into an arena."""
    low = item.code
    arr = low.arrays()
    n = item.n_lanes
    value_slots = arr.value_slots if intermediates else arr.output_slots
    grad_slots = arr.value_slots if intermediates else arr.input_slots
    V, v_at = _aligned_rows(len(value_slots), n)
    G, g_at = _aligned_rows(len(grad_slots), n)
    # the kernel reads inputs and writes results by address: `inputs`, V and G keep the
    # arrays alive until it returns
    inputs = [v if type(v) is not float else np.array([v]) for v in item.values]
    input_at = np.array([v.__array_interface__["data"][0] for v in inputs], dtype=np.int64)
    input_len = np.array([v.shape[0] for v in inputs], dtype=np.int64)
    seed = item.seed if type(item.seed) is not float else np.array([item.seed])
    stream = (len(v_at) + len(g_at)) * n * 8 >= vm.STREAM_MIN_BYTES
    args = (low.fused(intermediates), low.forward_start, low.n_slots, arr.const_slots, arr.const_values,
            arr.input_slots, input_at, input_len, low.output_slot, seed, value_slots, grad_slots,
            np.array(v_at + g_at, dtype=np.int64), stream, n)
    n_blocks = -(-n // vm.BLOCK)
    if n * max(low.n_instr, 1) >= vm.PARALLEL_MIN_WORK:
        # chunks of blocks, each with its own scratch block and status row
        status = np.zeros((min(bulk.threads() * 2, n_blocks), 2), dtype=np.int64)
        bulk.split(lambda k, b0, b1: vm.run_batch(*args, b0, b1, status[k]), n_blocks, len(status))
    else:
        status = np.zeros((1, 2), dtype=np.int64)
        vm.run_batch(*args, 0, n_blocks, status[0])
    bad = status[status[:, 0] != 0]
    if len(bad):
        kind, lane = bad[np.argmin(bad[:, 1])]
        return _nonfinite(item, int(kind), int(lane), intermediates)
    return Evaluation(item, intermediates, V, G)


def _aligned_rows(k: int, n: int):
    """A float64 [k, n] array whose rows each start on a 64-byte boundary (so the batch
    kernel can write them with streaming stores), and the rows' addresses."""
    stride = -(-n // 8) * 8
    buf = np.empty(k * stride + 8)
    skip = (-buf.__array_interface__["data"][0] % 64) // 8
    rows = buf[skip:skip + k * stride].reshape(k, stride)[:, :n]
    at = rows.__array_interface__["data"][0]
    return rows, [at + j * stride * 8 for j in range(k)]


# Up to this many items of one input set each run one by one on their Codes' kept
# arguments (_run_one): joining their programs into one ragged call costs about 20 us
# before the first item, _run_one about 5 us an item; they cross at about 8 items
# (CPU time, 2 items: 21 against 10 us, 6: 24 against 20, 12: 37 against 39).
ONE_BY_ONE_MAX = 6


def _run_ragged(items: list[Prepared], intermediates: bool, keep_every_slot: bool = False):
    """Run items through the ragged kernel; returns an Evaluation or GraphError per item.

    keep_every_slot keeps the value and adjoint of every slot and returns even
    non-finite results: the diagnosis of a NaN runs that way.
    """
    if not items:
        return []
    if (len(items) <= ONE_BY_ONE_MAX and not keep_every_slot
            and all(not item.batched and type(item.seed) is float for item in items)):
        return [_run_one(item, intermediates) for item in items]
    table: list[int] = []
    code: list[int] = []
    k_slots: list[int] = []
    k_values: list[float] = []
    in_slots: list[int] = []
    v_slots: list[int] = []
    g_slots: list[int] = []
    scalars: list[float] = []
    arrays: list[np.ndarray] = []
    in_refs: list[int] = []
    in_lengths: list[int] = []
    seed_scalars: list[float] = []
    seed_arrays: list[np.ndarray] = []
    seed_refs: list[int] = []
    code_at = const_at = in_at = v_at = g_at = out_at = 0
    max_slots = max_lanes = work = 0
    for item in items:
        low = item.code
        n = item.n_lanes
        if keep_every_slot:
            vs = gs = list(range(low.n_slots))
        elif intermediates:
            vs = gs = low.value_slots
        else:
            vs, gs = [low.output_slot], low.input_slots
        n_instr = low.n_instr
        n_const = len(low.const_slots)
        m = low.n_inputs
        seed = item.seed
        if type(seed) is float:
            seed_refs.append(len(seed_scalars))
            seed_scalars.append(seed)
            seed_len = 1
        else:
            seed_refs.append(~len(seed_arrays))
            seed_arrays.append(seed)
            seed_len = n
        kv, kg = len(vs), len(gs)
        table += _item_row(low, n, seed_len, kv, kg, code_at, const_at, in_at, v_at, g_at, out_at)
        code += low.code
        k_slots += low.const_slots
        k_values += low.const_values
        in_slots += low.input_slots
        v_slots += vs
        g_slots += gs
        for v in item.values:
            if type(v) is float:
                in_refs.append(len(scalars))
                scalars.append(v)
                in_lengths.append(1)
            else:
                in_refs.append(~len(arrays))
                arrays.append(v)
                in_lengths.append(len(v))
        code_at += n_instr
        const_at += n_const
        in_at += m
        v_at += kv
        g_at += kg
        out_at += (kv + kg) * n
        if low.n_slots > max_slots:
            max_slots = low.n_slots
        if n > max_lanes:
            max_lanes = n
        work += n * n_instr
    P = len(items)
    table = np.array(table, dtype=np.int64).reshape(P, vm.ITEM_COLUMNS)
    arena, in_offsets = _arena(scalars, arrays, in_refs)
    seeds, seed_offsets = _arena(seed_scalars, seed_arrays, seed_refs)
    table[:, vm.C_SEED] = seed_offsets
    out = np.empty(out_at)
    status = np.zeros((P, 2), dtype=np.int64)
    i32 = np.int32
    args = (np.array(code, dtype=i32).reshape(-1, 4), table, np.array(k_slots, dtype=i32),
            np.array(k_values, dtype=np.float64), np.array(in_slots, dtype=i32), in_offsets,
            np.array(in_lengths, dtype=np.int64), arena, seeds, np.array(v_slots, dtype=i32),
            np.array(g_slots, dtype=i32), out, status, max_slots, max_lanes)
    if work >= vm.PARALLEL_MIN_WORK and P > 1:
        bulk.split(lambda k, p0, p1: vm.run_ragged(*args, p0, p1), P, bulk.threads() * 4)
    else:
        vm.run_ragged(*args, 0, P)
    flagged = status[:, 0].tolist()
    # one conversion for every unbatched item: their results are Python floats
    flat = out.tolist() if any(not it.batched for it in items) else None
    rows = table[:, [vm.C_V0, vm.C_V1, vm.C_VOUT, vm.C_G0, vm.C_G1, vm.C_GOUT]].tolist()
    results = []
    for p, item in enumerate(items):
        if flagged[p] and not keep_every_slot:
            results.append(_nonfinite(item, flagged[p], int(status[p, 1]), intermediates))
            continue
        v0, v1, vo, g0, g1, go = rows[p]
        n = item.n_lanes
        if item.batched:
            V = out[vo:vo + (v1 - v0) * n].reshape(v1 - v0, n)
            G = out[go:go + (g1 - g0) * n].reshape(g1 - g0, n)
        else:
            V = flat[vo:vo + v1 - v0]
            G = flat[go:go + g1 - g0]
        results.append(Evaluation(item, intermediates, V, G))
    return results


def _item_row(low: Code, n: int, seed_len: int, kv: int, kg: int, code_at: int = 0, const_at: int = 0,
              in_at: int = 0, v_at: int = 0, g_at: int = 0, out_at: int = 0) -> tuple:
    """An item's row of the ragged kernel's table, in the columns of vm.C_*: n lanes,
    kv reported values and kg gradients, each part starting where its array is at (the
    seed's offset, C_SEED, is filled in once the seeds' arena is laid out)."""
    return (code_at, code_at + low.forward_start, code_at + low.n_instr, low.n_slots, n,
            const_at, const_at + len(low.const_slots), in_at, in_at + low.n_inputs, low.output_slot, 0,
            seed_len, v_at, v_at + kv, out_at, g_at, g_at + kg, out_at + kv * n)


def _run_one(item: Prepared, intermediates: bool):
    """_run_ragged of one item of one input set, evaluate's usual call (a grader's, the
    service's small request): the item table and the program's arrays are made once per
    Code and kept with it, instead of lists joined and converted per call (evaluate:
    21 -> 7 us; with the table and input layout kept too, 7 -> 5)."""
    low = item.code
    arr = low.arrays()
    kept = bool(intermediates)
    table, offsets, lengths, vs, gs = low.derived(("one input set", kept), _ONE_SET_ARGS[kept])
    kv = len(vs)
    out = np.empty(kv + len(gs))
    status = np.zeros((1, 2), dtype=np.int64)
    seed = _UNIT_SEED if item.seed == 1.0 else np.array([item.seed])
    vm.run_ragged(arr.code, table, arr.const_slots, arr.const_values, arr.input_slots, offsets, lengths,
                  np.array(item.values, dtype=np.float64), seed, vs, gs, out, status,
                  low.n_slots, 1, 0, 1)
    if status[0, 0]:
        return _nonfinite(item, int(status[0, 0]), int(status[0, 1]), intermediates)
    flat = out.tolist()
    return Evaluation(item, intermediates, flat[:kv], flat[kv:])


def _one_set(low: Code, intermediates: bool) -> tuple:
    """_run_one's arguments that depend only on the Code: the item table (code,
    constants, inputs, seed and results all at 0 of their arrays), the inputs' offsets
    (0..m-1) and lengths (1), and the slots reported. The kernel only reads them."""
    arr = low.arrays()
    vs, gs = (arr.value_slots, arr.value_slots) if intermediates else (arr.output_slots, arr.input_slots)
    m = low.n_inputs
    return (np.array([_item_row(low, 1, 1, len(vs), len(gs))], dtype=np.int64),
            np.arange(m, dtype=np.int64), np.ones(m, dtype=np.int64), vs, gs)


_ONE_SET_ARGS = (lambda low: _one_set(low, False), lambda low: _one_set(low, True))
_UNIT_SEED = np.array([1.0])  # the usual output gradient; the kernel only reads it


def _arena(scalars: list, arrays: list, refs: list):
    """One float64 array holding the scalars, then each array; refs >= 0 index scalars,
    ~j names array j. Returns (arena, int64 offsets)."""
    refs = np.array(refs, dtype=np.int64)
    head = np.array(scalars, dtype=np.float64)
    if not arrays:
        return head, refs
    starts = len(scalars) + np.concatenate([[0], np.cumsum([len(a) for a in arrays])[:-1]])
    neg = refs < 0
    refs[neg] = starts[~refs[neg]]
    return np.concatenate([head, *arrays]), refs


# --- diagnosing NaN and inf ---------------------------------------------------------

def _lane(item: Prepared, lane: int) -> Prepared:
    """A copy of `item` restricted to one lane."""
    one = object.__new__(Prepared)
    one.graph, one.code, one.batched, one.n_lanes = item.graph, item.code, False, 1
    one.values = [v if type(v) is float else float(v[lane]) for v in item.values]
    one.seed = item.seed if type(item.seed) is float else float(item.seed[lane])
    return one


def _local(op, a: float, b: float | None, y: float):
    return op.local(a, y) if b is None else op.local(a, b, y)


def _nonfinite(item: Prepared, kind: int, lane: int, intermediates: bool) -> GraphError:
    """Explain why lane `lane` of `item` produced NaN/inf (kind 1: a value, 2: a gradient,
    of a slot whose adjoint is reported or flows into one that is: see vm._needed).

    Batched inputs are checked here rather than before the kernel: the kernel scans
    every slot anyway, inputs included, so a clean batch pays nothing for the check.
    """
    graph = item.graph
    at = f" at batch index {lane}" if item.batched else ""
    index = lane if item.batched else None
    one = _lane(item, lane)
    for name, v in zip(graph.inputs, one.values):
        if not math.isfinite(v):
            path = f"inputs.{name}[{lane}]" if item.batched else f"inputs.{name}"
            return GraphError(f"{path} is {v}, not a finite number", path=path)
    if not math.isfinite(one.seed):
        path = f"output_gradient[{lane}]" if item.batched else "output_gradient"
        return GraphError(f"{path} is {one.seed}, not a finite number", path=path)

    low = item.code
    ev = _run_ragged([one], True, keep_every_slot=True)[0]
    R, G = ev._V, ev._G
    names = [s.split("~")[0] for s in Program(graph, low).slot_names()]
    code = low.code
    what = "value" if kind == 1 else "gradient"

    def show(slot):
        return f"{R[slot]:.6g}" if names[slot].startswith("const") else f"{names[slot]} = {R[slot]:.6g}"

    def found(k, message, receiver):
        loc = graph.error_at(low.instr_node[k], "").location
        return NonFiniteError(message, node=receiver, index=index, kind=what, **loc)

    if kind == 1:
        for k in range(low.forward_start, low.n_instr):
            op, d, a, b = code[4 * k:4 * k + 4]
            if not math.isfinite(R[d]):
                node = graph.nodes[low.instr_node[k]]
                args = show(a) if b < 0 else f"{show(a)} and {show(b)}"
                return found(k, f"the value of node {node.id!r} ({node.label}) is {R[d]}{at}: "
                                f"{OPS[op].name} of {args} is not a finite number", node.id)
    else:
        arr = low.arrays()
        need = vm._needed(arr.code, 0, low.n_instr, low.n_slots,
                          arr.value_slots if intermediates else arr.input_slots)
        for k in range(low.n_instr - 1, -1, -1):
            op, d, a, b = code[4 * k:4 * k + 4]
            if not math.isfinite(G[d]) or not need[d]:
                continue
            local = _local(OPS[op], R[a], None if b < 0 else R[b], R[d])
            for slot, dv in ([(a, local)] if b < 0 else [(a, local[0]), (b, local[1])]):
                if need[slot] and not math.isfinite(G[d] * dv):
                    node = graph.nodes[low.instr_node[k]]
                    args = show(a) if b < 0 else f"{show(a)} and {show(b)}"
                    return found(k, f"the gradient of {names[slot]!r} is not finite{at}: node {node.id!r} "
                                    f"({node.op}) has local derivative {dv} at {args}", names[slot])
    return NonFiniteError(f"a non-finite {what} appeared{at}", node=graph.output, index=index, kind=what)
