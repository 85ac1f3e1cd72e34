"""conv1d_many: forward and gradients of thousands of small convolutions in one call.

Items are checked and packed into flat buffers a chunk (MANY_CHUNK items) at a time,
with one kernel call per chunk; for more than one chunk, a helper thread runs each
chunk's kernel while this thread packs the next. Errors name the item: items[12].w.
"""

from __future__ import annotations

import operator
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine import bulk
from engine.bulk import every
from engine.conv.api import (as_array, as_bias, check_channels, check_output_shape,
                             check_ranks, first_nonfinite, require_finite)
from engine.conv.geometry import as_size, resolve_geometry
from engine.conv.kernels import COL_BOFF, COL_WO, PARALLEL_MIN_WORK, layout, many_items
from engine.errors import ArgumentError

__all__ = ["conv1d_many", "conv1d_packed", "ConvResult", "ConvResults", "PackedConvResults", "MANY_CHUNK"]

# conv1d_many takes its items this many at a time.
MANY_CHUNK = 2048

@dataclass(slots=True)
class ConvResult:
    """One conv1d_many item's results, shaped like its inputs (float64 arrays).

    output [.., C_out, W_out] like x's rank; grad_input like x; grad_weight like w;
    grad_bias [C_out] (a float when w is a 1-D filter). The gradients are of
    sum(output * grad_output), or of sum(output) when the item gave no grad_output.
    """

    output: np.ndarray
    grad_input: np.ndarray
    grad_weight: np.ndarray
    grad_bias: np.ndarray | float


_F64 = np.dtype(np.float64)
_ndim = operator.attrgetter("ndim")
_FIELDS = [operator.itemgetter(k) for k in range(5)]
_dtype = operator.attrgetter("dtype")


def conv1d_many(items) -> ConvResults:
    """Forward and gradients of many small independent convolutions, batched into
    one kernel call per MANY_CHUNK (2,048) items.

    Each item is (x, w, stride, padding) or (x, w, stride, padding, grad_output), or a
    dict with keys x, w and optionally stride, padding, dilation, bias, grad_output.
    Shapes are as for conv1d and may differ from item to item; padding may be "same".
    Returns a sequence of one ConvResult per item (output, grad_input, grad_weight,
    grad_bias), with gradients of sum(output * grad_output), or of sum(output) without
    grad_output. Every item is validated and computed by the call; see ConvResults.
    Errors name the item: "items[12].w: ..." (an ArgumentError whose path is
    items[12].w); a result that overflows float64 raises NonFiniteError naming the
    first such item's result and element (node items[3].output, position (0, 2)).
    """
    items = items if isinstance(items, list) else list(items)
    if not items:
        return ConvResults([], 0)
    if len(items) <= MANY_CHUNK:
        packed = _many_chunk(items, 0)
        packed.run()
        return ConvResults([packed], len(items))
    return ConvResults(_many_pipelined(items), len(items))


def _many_pipelined(items: list) -> list[_Chunk]:
    """conv1d_many of more than one chunk: each chunk's kernel runs on a helper thread
    while this one packs the next chunk.

    Packing (checking and joining the items) is Python and holds the GIL; the kernels
    release it (nogil), so on two cores the kernels' time hides behind the packing.
    Each pass over a chunk's Python objects also finds them still in cache, where one
    pass over tens of thousands of arrays would not (measured: about a third slower).
    """
    jobs: queue.SimpleQueue = queue.SimpleQueue()
    taken = threading.Semaphore(0)
    failed: list[BaseException] = []

    def run_jobs():
        while (packed := jobs.get()) is not None:
            taken.release()
            try:
                if not failed:  # serial unless the kernel outweighs the packing by far
                    packed.run(threads=packed.work >= 16 * PARALLEL_MIN_WORK)
            except BaseException as exc:  # handed to the caller's thread below
                failed.append(exc)

    helper = threading.Thread(target=run_jobs, name="conv1d_many kernels", daemon=True)
    helper.start()
    chunks = []
    try:
        for base in range(0, len(items), MANY_CHUNK):
            packed = _many_chunk(items[base:base + MANY_CHUNK], base)
            jobs.put(packed)
            # Wait until the helper holds the job: a thread waiting for the GIL gets it
            # only after the switch interval (5 ms), so a busy packer would otherwise
            # keep the helper from even starting the kernel.
            taken.acquire()
            chunks.append(packed)
    finally:
        jobs.put(None)
        helper.join()
    if failed:
        raise failed[0]
    return chunks


class _Chunk:
    """One kernel call: its packed inputs, then its results in flat buffers and, per
    item, where its parts lie."""

    __slots__ = ("args", "work", "yf", "gxf", "gwf", "gbf", "bounds", "shapes", "base")

    def __init__(self, args, work, bounds, shapes, base):
        self.args = args  # the kernel's arguments (meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf)
        self.work = work
        self.yf, self.gxf, self.gwf, self.gbf = args[5:]
        self.bounds = bounds  # int64 [count, 7]: y0, y1, x0, x1, w0, w1, b0
        self.shapes = shapes  # None (all 1-D), or per item (y shape, x shape, w shape)
        self.base = base  # the first item's index in conv1d_many's list

    def run(self, threads: bool = True) -> None:
        """Fill the result buffers: one kernel call, on the thread pool when the work
        is worth waking it for (and `threads` allows)."""
        count = len(self.bounds)
        if threads and self.work >= PARALLEL_MIN_WORK:
            bulk.split(lambda k, i0, i1: many_items(*self.args, i0, i1), count, 4 * bulk.threads())
        else:
            many_items(*self.args, 0, count)
        self.args = None
        self._require_finite()

    def _require_finite(self) -> None:
        """Refuse results that overflowed float64, naming the first item at fault and
        the element, as conv1d does (one bulk test per buffer when all is well)."""
        starts = ((self.yf, 0), (self.gxf, 2), (self.gwf, 4), (self.gbf, 6))  # bounds' columns
        firsts = [int(np.searchsorted(self.bounds[:, col], bad[0], side="right")) - 1
                  for buffer, col in starts if (bad := first_nonfinite(buffer)) is not None]
        if not firsts:
            return
        i = min(firsts)
        result = self.results()[i]
        for name, kind in (("output", "value"), ("grad_input", "gradient"),
                           ("grad_weight", "gradient"), ("grad_bias", "gradient")):
            require_finite(np.asarray(getattr(result, name)), f"items[{self.base + i}].{name}",
                           kind)

    def offsets(self) -> list[np.ndarray]:
        """Where each item's output, grad_input, grad_weight and grad_bias start in the
        buffers, and where the last ends: four int64 [count + 1]."""
        ends = (len(self.yf), len(self.gxf), len(self.gwf), len(self.gbf))
        return [np.append(self.bounds[:, col], end) for col, end in zip((0, 2, 4, 6), ends)]

    def results(self) -> list[ConvResult]:
        yf, gxf, gwf, gbf = self.yf, self.gxf, self.gwf, self.gbf
        rows = self.bounds.tolist()
        if self.shapes is None:
            gbs = gbf.tolist()
            return [ConvResult(yf[y0:y1], gxf[x0:x1], gwf[w0:w1], gbs[b0])
                    for (y0, y1, x0, x1, w0, w1, b0) in rows]
        return [ConvResult(yf[y0:y1].reshape(ys), gxf[x0:x1].reshape(xs), gwf[w0:w1].reshape(wsh),
                           float(gbf[b0]) if len(wsh) == 1 else gbf[b0:b0 + wsh[0]])
                for (y0, y1, x0, x1, w0, w1, b0), (ys, xs, wsh) in zip(rows, self.shapes)]


class ConvResults(Sequence):
    """conv1d_many's results: one ConvResult per item, in item order.

    The call validates and computes every item into flat buffers; an item's ConvResult
    (views into those buffers, shaped like its inputs) is made the first time its chunk
    is read. Making tens of thousands of NumPy views costs more than the worksheet-sized
    convolutions themselves, so a caller pays for them only when it reads the results.
    """

    __slots__ = ("_chunks", "_made", "_count")

    def __init__(self, chunks: list[_Chunk], count: int):
        self._chunks = chunks
        self._made: list = [None] * len(chunks)
        self._count = count

    def _chunk(self, c: int) -> list[ConvResult]:
        made = self._made[c]
        if made is None:
            made = self._made[c] = self._chunks[c].results()
        return made

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._count))]
        i = operator.index(i)
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError(f"conv1d_many result index {i} out of range for {self._count} items")
        return self._chunk(i // MANY_CHUNK)[i % MANY_CHUNK]

    def __iter__(self):
        for c in range(len(self._chunks)):
            yield from self._chunk(c)

    def __eq__(self, other):
        if isinstance(other, (ConvResults, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"<ConvResults: {self._count} items>"

    def packed(self) -> PackedConvResults:
        """The same results as flat buffers and offsets, with no per-item view made."""
        chunks = self._chunks
        if not chunks:
            empty = np.empty(0)
            at = np.zeros(1, dtype=np.int64)
            return PackedConvResults(empty, at, empty, at, empty, at, empty, at, None)
        buffers = [[c.yf for c in chunks], [c.gxf for c in chunks], [c.gwf for c in chunks],
                   [c.gbf for c in chunks]]
        offsets = [c.offsets() for c in chunks]
        parts = []
        for k, pieces in enumerate(buffers):
            if len(chunks) == 1:
                parts += [pieces[0], offsets[0][k]]
                continue
            # each chunk's offsets start at 0: shift them by what the chunks before it hold
            shift = np.cumsum([0] + [len(b) for b in pieces[:-1]])
            at = np.concatenate([o[k][:-1] + d for o, d in zip(offsets, shift)] + [[sum(map(len, pieces))]])
            parts += [np.concatenate(pieces), at]
        shapes = None if all(c.shapes is None for c in chunks) else [
            shape for c in chunks for shape in (c.shapes or [None] * len(c.bounds))]
        return PackedConvResults(*parts, shapes)


@dataclass(slots=True)
class PackedConvResults:
    """conv1d_many's or conv1d_packed's results as four flat float64 buffers, each with
    int64 offsets [count + 1]: item i's output is output[output_at[i]:output_at[i + 1]],
    its grad_input grad_input[grad_input_at[i]:...], and so on; for 1-D items each part
    is the item's array (grad_bias one number). `item(i)` (or [i]) makes item i's
    ConvResult, shaped like its inputs, when it is asked for.

    `shapes`: None when every item is 1-D, else per item (output shape, x shape, w
    shape), None for a 1-D item.
    """

    output: np.ndarray
    output_at: np.ndarray
    grad_input: np.ndarray
    grad_input_at: np.ndarray
    grad_weight: np.ndarray
    grad_weight_at: np.ndarray
    grad_bias: np.ndarray
    grad_bias_at: np.ndarray
    shapes: list | None = None

    def __len__(self) -> int:
        return len(self.output_at) - 1

    def item(self, i: int) -> ConvResult:
        n = len(self)
        i = operator.index(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"conv1d result index {i} out of range for {n} items")
        y = self.output[self.output_at[i]:self.output_at[i + 1]]
        gx = self.grad_input[self.grad_input_at[i]:self.grad_input_at[i + 1]]
        gw = self.grad_weight[self.grad_weight_at[i]:self.grad_weight_at[i + 1]]
        gb = self.grad_bias[self.grad_bias_at[i]:self.grad_bias_at[i + 1]]
        shape = None if self.shapes is None else self.shapes[i]
        if shape is None:
            return ConvResult(y, gx, gw, float(gb[0]))
        ys, xs, ws = shape
        return ConvResult(y.reshape(ys), gx.reshape(xs), gw.reshape(ws), float(gb[0]) if len(ws) == 1 else gb)

    __getitem__ = item


def conv1d_packed(x, x_at, w, w_at, stride=1, padding=0, grad_output=None) -> PackedConvResults:
    """conv1d_many for 1-D problems given packed: flat arrays and offsets in, flat
    arrays and offsets out (PackedConvResults), no per-item array made either way.

    x: float64 [total], problem i's input x[x_at[i]:x_at[i + 1]]; x_at: int [count + 1],
    from 0 to len(x), non-decreasing. w, w_at: the filters, likewise. stride, padding:
    an int for every problem, or int [count]. grad_output: None (the gradients of
    sum(output)) or float64 [total output], laid out as the result's `output`.
    Errors name the problem as conv1d_many does: "items[12].w: ...".
    """
    xf, wf = as_array(x, "x").reshape(-1), as_array(w, "w").reshape(-1)
    X, Wt = _offsets(x_at, len(xf), "x_at"), _offsets(w_at, len(wf), "w_at")
    count = len(X) - 1
    if len(Wt) - 1 != count:
        raise ArgumentError(f"has {len(Wt) - 1} problems but x_at has {count}", argument="w_at")
    W, F = np.diff(X), np.diff(Wt)
    S = _packed_column(stride, count, "stride", 1)
    P = _packed_column(padding, count, "padding", 0)
    ones = np.ones(count, dtype=np.int64)
    meta, bounds, (_, _, y_total, b_total), work, empty_at, wide_at = layout(ones, ones, W, ones, F, S, P, ones)
    if empty_at >= 0:
        i = empty_at
        as_array(xf[X[i]:X[i + 1]], f"items[{i}].x")
        as_array(wf[Wt[i]:Wt[i + 1]], f"items[{i}].w")
    if wide_at >= 0:
        _item_geometry(wide_at, W[wide_at], F[wide_at], P[wide_at], S[wide_at], 1)
    if grad_output is None:
        gyf = np.ones(y_total)
    else:
        gyf = as_array(grad_output, "grad_output").reshape(-1)
        if len(gyf) != y_total:
            raise ArgumentError(f"has {len(gyf)} numbers; the outputs have {y_total}", argument="grad_output")
    chunk = _Chunk((meta, xf, wf, np.zeros(b_total), gyf, np.empty(y_total), np.zeros(len(xf)),
                    np.zeros(len(wf)), np.zeros(b_total)), work, bounds, None, 0)
    chunk.run()
    output_at = chunk.offsets()[0]
    return PackedConvResults(chunk.yf, output_at, chunk.gxf, X, chunk.gwf, Wt, chunk.gbf,
                             np.arange(count + 1, dtype=np.int64))


def _offsets(at, total: int, name: str) -> np.ndarray:
    """Packed offsets as int64 [count + 1], from 0 to `total`, every part non-empty."""
    try:
        arr = np.asarray(at)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iu" or len(arr) < 2:
        raise ArgumentError("must be a 1-D list of at least two whole numbers (count + 1 offsets)",
                            argument=name)
    arr = arr.astype(np.int64)
    if arr[0] != 0 or arr[-1] != total:
        raise ArgumentError(f"must run from 0 to the array's length {total}, not {arr[0]} to {arr[-1]}",
                            argument=name)
    sizes = np.diff(arr)
    if (sizes < 1).any():
        i = int(np.argmax(sizes < 1))
        raise ArgumentError(f"makes problem {i} empty ({name}[{i}] = {arr[i]}, {name}[{i + 1}] = {arr[i + 1]}); "
                            "every problem needs at least one number", argument=name)
    return arr


def _packed_column(value, count: int, key: str, minimum: int) -> np.ndarray:
    """A packed call's stride or padding: one int for every problem, or one per problem."""
    if type(value) is int or isinstance(value, np.integer):
        return np.full(count, as_size(value, key, minimum), dtype=np.int64)
    values = value.tolist() if isinstance(value, np.ndarray) else value
    if not isinstance(values, (list, tuple)) or len(values) != count:
        raise ArgumentError(f"must be a whole number or {count} of them, one per problem", argument=key)
    return _int_column(list(values), key, minimum, 0)


def _many_chunk(items: list, base: int) -> _Chunk:
    """items[base:base + len(items)] of conv1d_many, checked and packed for one kernel
    call (see _Chunk.run)."""
    # Thousands of worksheet-sized items cost more in Python than in the kernel, so
    # the items are handled column by column (one C-level pass per field), and only
    # an unusual column (dicts, lists, "same", multi-channel shapes) takes a per-item
    # Python loop.
    count = len(items)
    xs, ws, ss, ps, ds, bs, gys = _item_columns(items, base)
    x_joined, w_joined = _joined(xs), _joined(ws)
    flat = x_joined is not None and w_joined is not None
    if flat:
        (xf, W), (wf, F) = x_joined, w_joined
        N = C_in = C_out = np.ones(count, dtype=np.int64)
        ranks = None
    else:
        _coerce_arrays(xs, "x", base)
        _coerce_arrays(ws, "w", base)
        N, C_in, W, C_out, F, ranks = _item_shapes(xs, ws, base)
        # Flattening each array (axis=None) costs more than the copy for 1-D items.
        xf, wf = np.concatenate(xs, axis=None), np.concatenate(ws, axis=None)
    S = _int_column(ss, "stride", 1, base)
    D = np.ones(count, dtype=np.int64) if ds is None else _int_column(ds, "dilation", 1, base)
    if every(map(type, ps), int, count):
        P = _int_column(ps, "padding", 0, base)
    else:  # "same" needs the item's sizes, so empty items must be refused first
        _refuse_empty(N * C_in * W, C_out * F, xs, ws, base)
        P = _padding_column(ps, W, F, S, D, base)
    meta, bounds, totals, work, empty_at, wide_at = layout(N, C_in, W, C_out, F, S, P, D)
    if empty_at >= 0:
        _refuse_empty(N * C_in * W, C_out * F, xs, ws, base)
    if wide_at >= 0:
        i = wide_at
        _item_geometry(base + i, W[i], F[i], P[i], S[i], D[i])
    x_total, w_total, y_total, b_total = totals
    Wo = meta[:, COL_WO]

    # The column checks skipped the per-array finiteness test: do it once, in bulk.
    for buffer, arrays, key in ((xf, xs, "x"), (wf, ws, "w")):
        if not np.isfinite(buffer).all():
            bad = next(j for j, a in enumerate(arrays) if not np.isfinite(a).all())
            as_array(arrays[bad], f"items[{base + bad}].{key}")
    y_shapes = None if ranks is None else [
        (wo,) if xr == 1 else (co, wo) if xr == 2 else (n, co, wo)
        for (xr, _), n, co, wo in zip(ranks, N.tolist(), C_out.tolist(), Wo.tolist())]
    if gys is not None and any(g is not None for g in gys):
        y_size = bounds[:, 1] - bounds[:, 0]
        gyf = _grad_output_column(gys, Wo, y_size, y_shapes, base)
    else:
        gyf = np.ones(y_total)  # d sum(output) / d output
    bf = np.zeros(b_total)
    if bs is not None:
        b_off = meta[:, COL_BOFF]
        for i, b in enumerate(bs):
            if b is not None:
                wr = 1 if ranks is None else ranks[i][1]
                bf[b_off[i]:b_off[i] + C_out[i]] = as_bias(b, int(C_out[i]), wr,
                                                           f"items[{base + i}].bias")

    yf = np.empty(y_total)
    gxf = np.zeros(x_total)
    gwf = np.zeros(w_total)
    gbf = np.zeros(b_total)
    shapes = None if ranks is None else [(y_shape, x.shape, w.shape)
                                         for y_shape, x, w in zip(y_shapes, xs, ws)]
    return _Chunk((meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf), work, bounds, shapes, base)




def _refuse_empty(x_size, w_size, xs: list, ws: list, base: int) -> None:
    empty = (x_size == 0) | (w_size == 0)
    if empty.any():
        i = int(np.argmax(empty))
        as_array(xs[i], f"items[{base + i}].x")
        as_array(ws[i], f"items[{base + i}].w")


def _item_columns(items: list, base: int):
    """conv1d_many's items as columns: xs, ws, strides, paddings, and dilations, biases
    and grad_outputs (each None when no item gives one)."""
    n = len(items)
    if every(map(type, items), tuple, n):
        lengths = list(map(len, items))
        # one C-level pass per field: zip(*items) builds a tuple of every item first
        if lengths.count(4) == n:
            xs, ws, ss, ps = (list(map(_FIELDS[k], items)) for k in range(4))
            return xs, ws, ss, ps, None, None, None
        if lengths.count(5) == n:
            xs, ws, ss, ps, gys = (list(map(_FIELDS[k], items)) for k in range(5))
            return xs, ws, ss, ps, None, None, gys
    columns = [_unpack_item(item, base + i) for i, item in enumerate(items)]
    xs, ws, bs, ss, ps, ds, gys = map(list, zip(*columns))
    return xs, ws, ss, ps, ds, bs, gys


_ITEM_KEYS = {"x", "w", "stride", "padding", "dilation", "bias", "grad_output"}


def _unpack_item(item, i: int):
    """(x, w, bias, stride, padding, dilation, grad_output) of conv1d_many's item i."""
    if type(item) is tuple or type(item) is list:
        if len(item) == 4:
            x, w, S, P = item
            return x, w, None, S, P, 1, None
        if len(item) == 5:
            x, w, S, P, gy = item
            return x, w, None, S, P, 1, gy
        raise ArgumentError(
            "must be (x, w, stride, padding) or (x, w, stride, padding, grad_output), "
            f"got {len(item)} elements", argument=f"items[{i}]")
    if isinstance(item, dict):
        unknown = set(item) - _ITEM_KEYS
        if unknown:
            raise ArgumentError(f"unknown key(s) {sorted(unknown)}; expected some of "
                                f"{sorted(_ITEM_KEYS)}", argument=f"items[{i}]")
        for key in ("x", "w"):
            if key not in item:
                raise ArgumentError(f"missing {key!r}", argument=f"items[{i}]")
        return (item["x"], item["w"], item.get("bias"), item.get("stride", 1),
                item.get("padding", 0), item.get("dilation", 1), item.get("grad_output"))
    raise ArgumentError(f"must be a tuple (x, w, stride, padding[, grad_output]) or a dict, "
                        f"not {type(item).__name__}", argument=f"items[{i}]")

def _joined(arrays: list) -> tuple[np.ndarray, np.ndarray] | None:
    """(the arrays end to end, their lengths as int64) when every one is a 1-D
    C-contiguous float64 ndarray (the worksheet case), else None.

    bytearray.join copies buffers at a third of np.concatenate's cost per small array.
    (np.array of the shape tuples would check rank and length in one pass, but it
    inspects each tuple as a sequence: slower than two passes.) An object with
    a float64 dtype, one dimension and a contiguous buffer that is not an ndarray (a
    masked array, say) joins as its data, as np.asarray would read it.
    """
    n = len(arrays)
    try:
        if not every(map(_dtype, arrays), _F64, n):
            return None
        if not every(map(_ndim, arrays), 1, n):
            return None
        return np.frombuffer(bytearray().join(arrays)), np.array(list(map(len, arrays)), dtype=np.int64)
    except (AttributeError, BufferError, ValueError, TypeError):  # a list, a strided view, ...
        return None


def _coerce_arrays(arrays: list, key: str, base: int) -> None:
    """Make every entry a float64 ndarray in place, checking only those that are not."""
    if set(map(type, arrays)) == {np.ndarray} and set(map(_dtype, arrays)) == {_F64}:
        return
    for i, a in enumerate(arrays):
        if type(a) is not np.ndarray or a.dtype != _F64:
            arrays[i] = as_array(a, f"items[{base + i}].{key}")


def _item_shapes(xs: list, ws: list, base: int):
    """Per-item (N, C_in, W, C_out, F) as int64 arrays, and each item's (x rank, w rank)."""
    rows, ranks = [], []
    for i, (x, w) in enumerate(zip(xs, ws)):
        check_ranks(x, w, f"items[{base + i}].")
        check_channels(x, w, f"items[{base + i}].")
        x3 = (1,) * (3 - x.ndim) + x.shape
        w3 = (1, 1) + w.shape if w.ndim == 1 else w.shape
        rows.append((*x3, w3[0], w3[2]))
        ranks.append((x.ndim, w.ndim))
    # contiguous columns, as conv1d_packed gives `layout`: a strided view would compile
    # it a second time
    N, C_in, W, C_out, F = np.array(rows, dtype=np.int64).reshape(-1, 5).T.copy()
    return N, C_in, W, C_out, F, ranks


def _int_column(values: list, key: str, minimum: int, base: int) -> np.ndarray:
    if every(map(type, values), int, len(values)):
        try:
            column = np.array(values, dtype=np.int64)
        except OverflowError:
            column = None
        if column is not None and (column >= minimum).all():
            return column
    return np.array([as_size(v, f"items[{base + i}].{key}", minimum)
                     for i, v in enumerate(values)], dtype=np.int64)


def _padding_column(ps: list, W, F, S, D, base: int) -> np.ndarray:
    """Each item's padding as int64, solving "same" per item (the column is not all ints)."""
    column = np.empty(len(ps), dtype=np.int64)
    for i, p in enumerate(ps):
        if isinstance(p, str):
            column[i] = _item_geometry(base + i, W[i], F[i], p, S[i], D[i])[2]
        else:
            column[i] = as_size(p, f"items[{base + i}].padding", 0)
    return column


def _item_geometry(i: int, W, F, P, S, D):
    """resolve_geometry for item i, with errors that name it."""
    return resolve_geometry(int(W), int(F), P if isinstance(P, str) else int(P), int(S),
                            int(D), width_name=f"items[{i}].x", filter_name=f"items[{i}].w",
                            padding_name=f"items[{i}].padding",
                            stride_name=f"items[{i}].stride",
                            dilation_name=f"items[{i}].dilation")


def _grad_output_column(gys: list, Wo, y_size, y_shapes, base: int) -> np.ndarray:
    """The items' grad_outputs end to end; ones for items that give none (d sum / d y)."""
    parts = []
    for i, gy in enumerate(gys):
        shape = (int(Wo[i]),) if y_shapes is None else y_shapes[i]
        if gy is None:
            parts.append(np.ones(int(y_size[i])))
            continue
        if not (type(gy) is np.ndarray and gy.dtype == _F64):
            gy = as_array(gy, f"items[{base + i}].grad_output")
        check_output_shape(gy, shape, f"items[{base + i}].grad_output")
        parts.append(gy)
    gyf = np.concatenate(parts, axis=None)
    if not np.isfinite(gyf).all():
        bad = next(j for j, g in enumerate(parts) if not np.isfinite(g).all())
        as_array(parts[bad], f"items[{base + bad}].grad_output")
    return gyf
