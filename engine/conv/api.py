"""conv1d and conv1d_backward: one problem, checked, on one thread or split across several.

The checks here (as_array, check_ranks, check_channels, as_bias) also serve
conv1d_many (engine.conv.many), which names its arguments items[i].x and so on.
Every refusal is an ArgumentError naming the argument and, for one bad element, its
index; a result that overflows float64 is a NonFiniteError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import bulk
from engine.conv import kernels
from engine.conv.geometry import resolve_geometry
from engine.conv.kernels import PARALLEL_MIN_WORK
from engine.errors import ArgumentError, NonFiniteError

__all__ = ["conv1d", "conv1d_backward"]


def conv1d(x, w, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """y = conv1d(x, w): x [W], [C_in, W] or [N, C_in, W]; w [F] or [C_out, C_in, F].

    Returns float64 y of shape [W_out], [C_out, W_out] or [N, C_out, W_out], following
    x. `bias` is [C_out] (or one number for a 1-D filter). `padding` is an int, "same"
    or "valid". Cross-correlation, as PyTorch's conv1d:

        y[n, co, o] = bias[co] + sum_{ci, k} w[co, ci, k] * x[n, ci, o*S - P + k*D]

    with x taken as zero outside 0..W-1. Bad arguments raise ArgumentError; an output
    that overflows float64 raises NonFiniteError (node "output", the element's position).
    """
    p = _prepare(x, w, stride, padding, dilation)
    b = as_bias(bias, p.C_out, p.w_rank)
    y = np.empty((p.N, p.C_out, p.Wo))
    xp, pack = _phases(p)
    rows = (np.arange(p.C_in, dtype=np.int64)[:, None] * p.S + p.tap_r).ravel()
    offs = np.tile(p.tap_q, p.C_in)
    args = (xp, p.w.reshape(p.C_out, p.C_in * p.F), b, y, rows, offs)
    parallel = p.work >= PARALLEL_MIN_WORK
    if pack:
        _in_chunks(lambda t0, t1: kernels.pack(p.x, xp, p.S, p.P, t0, t1), p.N * p.C_in, parallel)
    _in_chunks(lambda t0, t1: kernels.forward(*args, t0, t1), p.N * p.C_out, parallel)
    y = y.reshape(p.y_shape)
    require_finite(y, "output", "value")
    return y


def conv1d_backward(x, w, grad_output, stride=1, padding=0, dilation=1):
    """Gradients of sum(conv1d(x, w, b) * grad_output): (grad_input, grad_weight, grad_bias).

    x [W], [C_in, W] or [N, C_in, W]; w [F] or [C_out, C_in, F]; grad_output shaped
    like conv1d's output. Returns float64 grad_input shaped like x, grad_weight like w,
    and grad_bias [C_out] (a float when w is a 1-D filter). The bias itself does not
    enter any gradient, so it is not an argument.
    """
    p = _prepare(x, w, stride, padding, dilation)
    gy = as_array(grad_output, "grad_output")
    check_output_shape(gy, p.y_shape, "grad_output")
    gy = gy.reshape(p.N, p.C_out, p.Wo)
    xp, pack = _phases(p)
    rows, shift, coef_by_phase, phase_start = _pairs_by_phase(p)
    parallel = p.work >= PARALLEL_MIN_WORK
    # Blocks of the batch, each with its own grad_weight part: enough for every thread
    # to have work, few enough that the parts stay small next to x. Their number depends
    # on the threads configured, not on the threads that run them (one_core), so the
    # parts' sum does not either.
    blocks = min(p.N, 4 * bulk.threads()) if parallel else 1
    gx = np.empty((p.N, p.C_in, p.W))
    gw_part = np.zeros((blocks, p.C_out, p.C_in, p.F))
    args = (xp, gy, coef_by_phase, gx, gw_part, p.tap_r, p.tap_q, rows, shift, phase_start,
            p.S, p.P)
    if pack:
        _in_chunks(lambda t0, t1: kernels.pack(p.x, xp, p.S, p.P, t0, t1), p.N * p.C_in, parallel)
    _in_chunks(lambda t0, t1: kernels.backward(*args, t0, t1), blocks * p.C_in, parallel)
    gx = gx.reshape(p.x_shape)
    gw = (gw_part.sum(axis=0) if blocks > 1 else gw_part[0]).reshape(p.w_shape)
    gb = gy.sum(axis=(0, 2))
    if p.w_rank == 1:
        gb = gb.reshape(())
    for result, name in ((gx, "grad_input"), (gw, "grad_weight"), (gb, "grad_bias")):
        require_finite(result, name, "gradient")
    return gx, gw, float(gb) if p.w_rank == 1 else gb


def _in_chunks(run, n: int, parallel: bool) -> None:
    """run(t0, t1) over the tasks range(n): in one call, or split across threads (the
    phase copy finishes before the rows that read it start)."""
    if parallel:
        bulk.split(lambda k, t0, t1: run(t0, t1), n, 4 * bulk.threads())
    else:
        run(0, n)


def _pairs_by_phase(p: "_Problem"):
    """The (output channel, tap) pairs grad_input gathers, listed phase by phase.

    Returns rows [C_out*F] (the pair's output channel), shift [C_out*F] (its tap's
    q_k), coef [C_in, C_out*F] (w[co, ci, k] for each input channel) and
    phase_start [S + 1], all int64 / float64 and C-contiguous.
    """
    order = np.argsort(p.tap_r, kind="stable")       # taps, phase by phase
    counts = np.bincount(p.tap_r, minlength=p.S)
    phase_start = np.concatenate([[0], np.cumsum(counts * p.C_out)]).astype(np.int64)
    rows, shift, coef = [], [], []
    start = 0
    for count in counts:
        taps = order[start:start + count]
        start += count
        rows.append(np.repeat(np.arange(p.C_out, dtype=np.int64), count))
        shift.append(np.tile(p.tap_q[taps], p.C_out))
        # w[co, ci, taps] for each ci, in (co, tap) order.
        coef.append(p.w[:, :, taps].transpose(1, 0, 2).reshape(p.C_in, -1))
    return (np.concatenate(rows), np.concatenate(shift),
            np.ascontiguousarray(np.concatenate(coef, axis=1)), phase_start)


@dataclass(frozen=True, slots=True)
class _Problem:
    x: np.ndarray          # [N, C_in, W] float64, C-contiguous
    w: np.ndarray          # [C_out, C_in, F] float64, C-contiguous
    x_shape: tuple
    w_shape: tuple
    y_shape: tuple
    w_rank: int
    N: int
    C_in: int
    C_out: int
    W: int
    F: int
    S: int
    P: int
    D: int
    Wo: int
    tap_r: np.ndarray      # [F] int64: phase of tap k, (k*D) % S
    tap_q: np.ndarray      # [F] int64: offset of tap k within its phase, (k*D) // S
    work: int              # multiply-adds of one pass


def check_ranks(x: np.ndarray, w: np.ndarray, prefix: str = "") -> None:
    """Refuse ranks conv1d has no meaning for; `prefix` ("items[3].") locates the item."""
    if x.ndim not in (1, 2, 3):
        raise ArgumentError(
            f"must be [W], [C_in, W] or [N, C_in, W], got {x.ndim} dimensions "
            f"(shape {x.shape})", argument=f"{prefix}x")
    if w.ndim not in (1, 3):
        raise ArgumentError(
            f"must be [F] or [C_out, C_in, F], got {w.ndim} dimensions (shape {w.shape})",
            argument=f"{prefix}w")
    if x.ndim == 1 and w.ndim == 3:
        raise ArgumentError(
            f"a 1-D input [W] goes with a 1-D filter [F]; for w of shape {w.shape} give x "
            f"as [C_in, W] or [N, C_in, W] with C_in = {w.shape[1]}", argument=f"{prefix}x")


def check_channels(x: np.ndarray, w: np.ndarray, prefix: str = "") -> None:
    C_in = 1 if x.ndim == 1 else x.shape[-2]
    C_in_w = 1 if w.ndim == 1 else w.shape[1]
    if C_in != C_in_w:
        raise ArgumentError(
            f"expects {C_in_w} input channel(s) (shape {w.shape}) but x has {C_in} "
            f"(shape {x.shape})", argument=f"{prefix}w")


def check_output_shape(gy: np.ndarray, y_shape: tuple, name: str) -> None:
    if gy.shape != y_shape:
        raise ArgumentError(f"must have the output's shape {y_shape}, got {gy.shape}",
                            argument=name)


def _prepare(x, w, stride, padding, dilation) -> _Problem:
    x = as_array(x, "x")
    w = as_array(w, "w")
    check_ranks(x, w)
    check_channels(x, w)
    x3 = x.reshape((1,) * (3 - x.ndim) + x.shape)
    w3 = w.reshape((1, 1) + w.shape) if w.ndim == 1 else w
    N, C_in, W = x3.shape
    C_out, _, F = w3.shape
    _, _, P, S, D, Wo = resolve_geometry(W, F, padding, stride, dilation,
                                         width_name="x", filter_name="w")
    y_shape = (Wo,) if x.ndim == 1 else (C_out, Wo) if x.ndim == 2 else (N, C_out, Wo)
    k = np.arange(F, dtype=np.int64) * D
    return _Problem(x=x3, w=w3, x_shape=x.shape, w_shape=w.shape, y_shape=y_shape,
                    w_rank=w.ndim, N=N, C_in=C_in, C_out=C_out, W=W, F=F, S=S, P=P,
                    D=D, Wo=Wo, tap_r=k % S, tap_q=k // S,
                    work=N * C_out * C_in * F * Wo)


def _phases(p: _Problem) -> tuple[np.ndarray, bool]:
    """The [N, C_in, S, L] phase array, and whether a kernel must fill it."""
    if p.S == 1 and p.P == 0:
        return p.x.reshape(p.N, p.C_in, 1, p.W), False
    L = -(-(p.W + 2 * p.P) // p.S)
    return np.empty((p.N, p.C_in, p.S, L)), True


def as_bias(bias, C_out: int, w_rank: int, name: str = "bias") -> np.ndarray:
    """The bias as float64 [C_out]; zeros when there is none."""
    if bias is None:
        return np.zeros(C_out)
    b = as_array(bias, name)
    if b.shape == () and w_rank == 1:
        b = b.reshape(1)
    if b.shape != (C_out,):
        want = "one number" if w_rank == 1 else f"shape ({C_out},), one per output channel"
        raise ArgumentError(f"must be {want}, got shape {b.shape}", argument=name)
    return b


def as_array(a, name: str) -> np.ndarray:
    """`a` as a C-contiguous float64 array with at least one element, all finite."""
    if isinstance(a, np.ndarray) and a.dtype == np.float64:
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise ArgumentError(f"not a rectangular array of numbers ({exc})",
                                argument=name) from None
        if arr.dtype.kind not in "iuf":
            what = "booleans" if arr.dtype.kind == "b" else f"{arr.dtype} values"
            raise ArgumentError(f"must hold real numbers, not {what}", argument=name)
    if arr.size == 0:
        raise ArgumentError(f"is empty (shape {arr.shape})", argument=name)
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = first_nonfinite(arr)
    if bad is not None:
        raise ArgumentError(f"is {arr[bad]}; values must be finite", argument=name,
                            position=bad)
    return arr


def require_finite(result: np.ndarray, name: str, kind: str) -> None:
    """Refuse a result holding NaN or inf: finite inputs can still overflow
    (1e200 * 1e200), and nothing downstream (JSON least of all) can carry it.
    `kind` is "value" for an output, "gradient" for a gradient."""
    bad = first_nonfinite(result)
    if bad is not None:
        where = "".join(f"[{i}]" for i in bad)
        raise NonFiniteError(
            f"{name}{where} is {result[bad]}: the numbers are too large for float64",
            node=name, index=None, kind=kind, position=bad)


def first_nonfinite(arr: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first NaN or inf in `arr` (C order), or None when all are finite."""
    finite = np.isfinite(arr)
    if finite.all():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmin(finite)), arr.shape))
