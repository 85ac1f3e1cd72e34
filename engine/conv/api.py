"""Strided, padded, dilated 1-D convolution (PyTorch's conv1d: cross-correlation), float64.

Forward and backward are Numba loops straight over the arrays, with no im2col copy.
Stride is handled by splitting each padded input row into S phases,

    xp[n, ci, r, j] = x_padded[n, ci, j*S + r],

so that tap k of output o reads xp[n, ci, (k*D) % S, o + (k*D) // S]: a contiguous run
over o for every tap, which LLVM vectorises. The phase copy is the size of x (not F
times it, as im2col would be) and it zero-fills the padding, so no loop needs a bounds
test. The backward pass reads the same phases: grad_weight is a dot product of a
grad_output row with a phase row, and grad_input is gathered phase by phase from
shifted grad_output rows, so every thread writes only its own rows.

Every kernel has a serial driver for small problems and a prange driver for large ones;
both call the same per-row bodies. Arguments are coerced to C-contiguous float64 and
int64 before any kernel runs, so each kernel compiles exactly one signature.
"""

from __future__ import annotations

import operator
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numba import prange

from engine.bulk import every
from engine.conv.geometry import as_size, resolve_geometry
from engine.bulk import parallel_lock

__all__ = ["conv1d", "conv1d_backward", "conv1d_many", "ConvResult", "ConvResults"]

# Below this many multiply-adds, waking the thread pool costs more than it saves.
PARALLEL_MIN_WORK = 1 << 18
# conv1d_many takes its items this many at a time.
MANY_CHUNK = 2048
# conv1d_many's fixed cost per item, in multiply-adds (measured: about 150 ns).
ITEM_WORK = 128

# Reassociation lets LLVM vectorise the grad_weight dot products (a float sum is
# otherwise one long dependency chain); contraction lets it use FMA. NaN and inf are
# refused before any kernel runs, so these change nothing but rounding.
_FAST = {"reassoc", "contract"}
_JIT = dict(cache=True, nogil=True, fastmath=_FAST)


# ---------------------------------------------------------------------------
# Tap groups: the inner loops. Up to eight taps per pass over a row, so each pass
# does up to eight multiply-adds per load and store of the accumulator.

@numba.njit(**_JIT)
def _add8(acc, a0, v0, a1, v1, a2, v2, a3, v3, a4, v4, a5, v5, a6, v6, a7, v7):
    for j in range(acc.shape[0]):
        acc[j] += (a0 * v0[j] + a1 * v1[j] + a2 * v2[j] + a3 * v3[j]
                   + a4 * v4[j] + a5 * v5[j] + a6 * v6[j] + a7 * v7[j])


@numba.njit(**_JIT)
def _add4(acc, a0, v0, a1, v1, a2, v2, a3, v3):
    for j in range(acc.shape[0]):
        acc[j] += a0 * v0[j] + a1 * v1[j] + a2 * v2[j] + a3 * v3[j]


@numba.njit(**_JIT)
def _add3(acc, a0, v0, a1, v1, a2, v2):
    for j in range(acc.shape[0]):
        acc[j] += a0 * v0[j] + a1 * v1[j] + a2 * v2[j]


@numba.njit(**_JIT)
def _add2(acc, a0, v0, a1, v1):
    for j in range(acc.shape[0]):
        acc[j] += a0 * v0[j] + a1 * v1[j]


@numba.njit(**_JIT)
def _add1(acc, a0, v0):
    for j in range(acc.shape[0]):
        acc[j] += a0 * v0[j]


@numba.njit(**_JIT)
def _gather(acc, src, rows, offs, coef, t0, t1):
    """acc[j] += sum over t in [t0, t1) of coef[t] * src[rows[t], offs[t] + j].

    acc [M] float64; src [R, >= offs + M] float64; rows, offs [T] int64; coef [T] float64.
    """
    M = acc.shape[0]
    t = t0
    while t1 - t >= 8:
        _add8(acc, coef[t], src[rows[t], offs[t]:offs[t] + M],
              coef[t + 1], src[rows[t + 1], offs[t + 1]:offs[t + 1] + M],
              coef[t + 2], src[rows[t + 2], offs[t + 2]:offs[t + 2] + M],
              coef[t + 3], src[rows[t + 3], offs[t + 3]:offs[t + 3] + M],
              coef[t + 4], src[rows[t + 4], offs[t + 4]:offs[t + 4] + M],
              coef[t + 5], src[rows[t + 5], offs[t + 5]:offs[t + 5] + M],
              coef[t + 6], src[rows[t + 6], offs[t + 6]:offs[t + 6] + M],
              coef[t + 7], src[rows[t + 7], offs[t + 7]:offs[t + 7] + M])
        t += 8
    while t1 - t >= 4:
        _add4(acc, coef[t], src[rows[t], offs[t]:offs[t] + M],
              coef[t + 1], src[rows[t + 1], offs[t + 1]:offs[t + 1] + M],
              coef[t + 2], src[rows[t + 2], offs[t + 2]:offs[t + 2] + M],
              coef[t + 3], src[rows[t + 3], offs[t + 3]:offs[t + 3] + M])
        t += 4
    left = t1 - t
    if left == 3:
        _add3(acc, coef[t], src[rows[t], offs[t]:offs[t] + M],
              coef[t + 1], src[rows[t + 1], offs[t + 1]:offs[t + 1] + M],
              coef[t + 2], src[rows[t + 2], offs[t + 2]:offs[t + 2] + M])
    elif left == 2:
        _add2(acc, coef[t], src[rows[t], offs[t]:offs[t] + M],
              coef[t + 1], src[rows[t + 1], offs[t + 1]:offs[t + 1] + M])
    elif left == 1:
        _add1(acc, coef[t], src[rows[t], offs[t]:offs[t] + M])


@numba.njit(**_JIT)
def _dot4(g, v0, v1, v2, v3):
    s0 = s1 = s2 = s3 = 0.0
    for o in range(g.shape[0]):
        go = g[o]
        s0 += go * v0[o]
        s1 += go * v1[o]
        s2 += go * v2[o]
        s3 += go * v3[o]
    return s0, s1, s2, s3


@numba.njit(**_JIT)
def _dot3(g, v0, v1, v2):
    s0 = s1 = s2 = 0.0
    for o in range(g.shape[0]):
        go = g[o]
        s0 += go * v0[o]
        s1 += go * v1[o]
        s2 += go * v2[o]
    return s0, s1, s2


@numba.njit(**_JIT)
def _dot2(g, v0, v1):
    s0 = s1 = 0.0
    for o in range(g.shape[0]):
        s0 += g[o] * v0[o]
        s1 += g[o] * v1[o]
    return s0, s1


@numba.njit(**_JIT)
def _dot1(g, v0):
    s0 = 0.0
    for o in range(g.shape[0]):
        s0 += g[o] * v0[o]
    return s0


@numba.njit(**_JIT)
def _dots(out, g, src, rows, offs):
    """out[t] += sum over o of g[o] * src[rows[t], offs[t] + o], for every t.

    out [T] float64; g [M] float64; src [R, >= offs + M] float64; rows, offs [T] int64.
    Up to four taps per pass, so g is loaded once for up to four products.
    """
    M = g.shape[0]
    T = out.shape[0]
    t = 0
    while T - t >= 4:
        s0, s1, s2, s3 = _dot4(g, src[rows[t], offs[t]:offs[t] + M],
                               src[rows[t + 1], offs[t + 1]:offs[t + 1] + M],
                               src[rows[t + 2], offs[t + 2]:offs[t + 2] + M],
                               src[rows[t + 3], offs[t + 3]:offs[t + 3] + M])
        out[t] += s0
        out[t + 1] += s1
        out[t + 2] += s2
        out[t + 3] += s3
        t += 4
    left = T - t
    if left == 3:
        s0, s1, s2 = _dot3(g, src[rows[t], offs[t]:offs[t] + M],
                           src[rows[t + 1], offs[t + 1]:offs[t + 1] + M],
                           src[rows[t + 2], offs[t + 2]:offs[t + 2] + M])
        out[t] += s0
        out[t + 1] += s1
        out[t + 2] += s2
    elif left == 2:
        s0, s1 = _dot2(g, src[rows[t], offs[t]:offs[t] + M],
                       src[rows[t + 1], offs[t + 1]:offs[t + 1] + M])
        out[t] += s0
        out[t + 1] += s1
    elif left == 1:
        out[t] += _dot1(g, src[rows[t], offs[t]:offs[t] + M])


# ---------------------------------------------------------------------------
# Per-row bodies, shared by the serial and parallel drivers.

@numba.njit(**_JIT)
def _pack_row(x, xp, n, ci, stride, padding):
    """xp[n, ci, r, j] = x[n, ci, j*S + r - P], zero outside the input."""
    W = x.shape[2]
    L = xp.shape[3]
    for r in range(stride):
        dst = xp[n, ci, r]
        # Padding cells before and after the input, then the input's own units.
        j_lo = min(L, max(0, (padding - r + stride - 1) // stride))
        j_hi = max(j_lo, min(L, (W - 1 + padding - r) // stride + 1))
        for j in range(j_lo):
            dst[j] = 0.0
        for j in range(j_hi, L):
            dst[j] = 0.0
        src = x[n, ci]
        base = r - padding
        for j in range(j_lo, j_hi):
            dst[j] = src[j * stride + base]


@numba.njit(**_JIT)
def _gather_shifted(acc, src, rows, shift, coef, t0, t1):
    """acc[j] += sum over t in [t0, t1) of coef[t] * src[rows[t], j - shift[t]], src
    taken as zero outside its rows.

    acc [M] float64; src [R, Wo] float64; rows, shift [T] int64; coef [T] float64. The
    span where every tap of a group lands inside src goes through the vectorised tap
    groups; the few units at either end, where some tap falls off, are added one tap
    at a time. This spares grad_input a zero-padded copy of grad_output.
    """
    M, Wo = acc.shape[0], src.shape[1]
    t = t0
    while t < t1:
        k = 8 if t1 - t >= 8 else min(4, t1 - t)
        lo, hi = 0, M
        for u in range(t, t + k):
            lo = max(lo, shift[u])
            hi = min(hi, shift[u] + Wo)
        if lo >= hi:  # no span where every tap of the group lands: all one by one
            lo = hi = M
        else:
            n = hi - lo
            mid = acc[lo:hi]
            v0 = src[rows[t], lo - shift[t]:lo - shift[t] + n]
            if k >= 2:
                v1 = src[rows[t + 1], lo - shift[t + 1]:lo - shift[t + 1] + n]
            if k >= 3:
                v2 = src[rows[t + 2], lo - shift[t + 2]:lo - shift[t + 2] + n]
            if k >= 4:
                v3 = src[rows[t + 3], lo - shift[t + 3]:lo - shift[t + 3] + n]
            if k == 8:
                _add8(mid, coef[t], v0, coef[t + 1], v1, coef[t + 2], v2, coef[t + 3], v3,
                      coef[t + 4], src[rows[t + 4], lo - shift[t + 4]:lo - shift[t + 4] + n],
                      coef[t + 5], src[rows[t + 5], lo - shift[t + 5]:lo - shift[t + 5] + n],
                      coef[t + 6], src[rows[t + 6], lo - shift[t + 6]:lo - shift[t + 6] + n],
                      coef[t + 7], src[rows[t + 7], lo - shift[t + 7]:lo - shift[t + 7] + n])
            elif k == 4:
                _add4(mid, coef[t], v0, coef[t + 1], v1, coef[t + 2], v2, coef[t + 3], v3)
            elif k == 3:
                _add3(mid, coef[t], v0, coef[t + 1], v1, coef[t + 2], v2)
            elif k == 2:
                _add2(mid, coef[t], v0, coef[t + 1], v1)
            else:
                _add1(mid, coef[t], v0)
        for u in range(t, t + k):
            a, s, g = coef[u], shift[u], src[rows[u]]
            j_lo, j_hi = max(0, s), min(M, s + Wo)
            for j in range(j_lo, min(lo, j_hi)):
                acc[j] += a * g[j - s]
            for j in range(max(hi, j_lo), j_hi):
                acc[j] += a * g[j - s]
        t += k


@numba.njit(**_JIT)
def _forward_row(xp, w_flat, b, y, rows, offs, n, co):
    """y[n, co, :] = b[co] + sum over ci, k of w[co, ci, k] * xp[n, ci, r_k, q_k:].

    The taps of all input channels form one list (w_flat[co] in (ci, k) order, reading
    phase row rows[t] = ci*S + r_k of xp[n] at offset offs[t] = q_k), so the groups of
    eight run across channel boundaries.
    """
    acc = y[n, co]
    for o in range(acc.shape[0]):
        acc[o] = b[co]
    src = xp[n].reshape((xp.shape[1] * xp.shape[2], xp.shape[3]))
    _gather(acc, src, rows, offs, w_flat[co], 0, w_flat.shape[1])


@numba.njit(**_JIT)
def _backward_rows(xp, gy, coef_by_phase, rows, shift, phase_start, tap_r, tap_q, stride,
                   padding, gx, gw_part, n0, n1, ci):
    """grad_input rows gx[n0:n1, ci] and this block's grad_weight part gw_part[:, ci, :].

    Tap k of output o reads padded unit o*S + k*D, which is phase r_k at j = o + q_k.
    Going back, phase r of grad_input gathers every (output channel co, tap k) pair
    with r_k == r: grad_output row co shifted by q_k, times w[co, ci, k]. The pairs
    are listed phase by phase in rows, shift and coef_by_phase[ci] (from
    phase_start[r] to phase_start[r + 1]), so the groups of eight run across output
    channels. grad_weight[co, ci, k] is the dot product of grad_output's row with tap
    k's phase row.
    """
    C_out = gy.shape[1]
    phases = np.empty((stride, xp.shape[3]))  # this task's own scratch, reused per n
    coef = coef_by_phase[ci]
    for n in range(n0, n1):
        g = gy[n]
        for r in range(stride):
            row = phases[r]
            for j in range(row.shape[0]):
                row[j] = 0.0
            _gather_shifted(row, g, rows, shift, coef, phase_start[r], phase_start[r + 1])
        dst = gx[n, ci]
        for i in range(dst.shape[0]):
            p = i + padding
            dst[i] = phases[p % stride, p // stride]
        xrows = xp[n, ci]
        for co in range(C_out):
            _dots(gw_part[co, ci], g[co], xrows, tap_r, tap_q)


# ---------------------------------------------------------------------------
# Drivers: the same bodies, in a serial loop or a prange loop.

@numba.njit(**_JIT)
def _forward_serial(x, w_flat, b, y, xp, rows, offs, stride, padding, pack):
    N, C_in, C_out = x.shape[0], x.shape[1], w_flat.shape[0]
    if pack:
        for t in range(N * C_in):
            _pack_row(x, xp, t // C_in, t % C_in, stride, padding)
    for t in range(N * C_out):
        _forward_row(xp, w_flat, b, y, rows, offs, t // C_out, t % C_out)


@numba.njit(parallel=True, **_JIT)
def _forward_parallel(x, w_flat, b, y, xp, rows, offs, stride, padding, pack):
    N, C_in, C_out = x.shape[0], x.shape[1], w_flat.shape[0]
    if pack:
        for t in prange(N * C_in):
            _pack_row(x, xp, t // C_in, t % C_in, stride, padding)
    # Consecutive tasks share n, so x[n] stays in cache across output channels.
    for t in prange(N * C_out):
        _forward_row(xp, w_flat, b, y, rows, offs, t // C_out, t % C_out)


@numba.njit(**_JIT)
def _backward_serial(x, gy, coef_by_phase, xp, gx, gw_part, tap_r, tap_q, rows, shift,
                     phase_start, stride, padding, pack):
    N, C_in = x.shape[0], x.shape[1]
    if pack:
        for t in range(N * C_in):
            _pack_row(x, xp, t // C_in, t % C_in, stride, padding)
    for ci in range(C_in):
        _backward_rows(xp, gy, coef_by_phase, rows, shift, phase_start, tap_r, tap_q, stride,
                       padding, gx, gw_part[0], 0, N, ci)


@numba.njit(parallel=True, **_JIT)
def _backward_parallel(x, gy, coef_by_phase, xp, gx, gw_part, tap_r, tap_q, rows, shift,
                       phase_start, stride, padding, pack):
    N, C_in = x.shape[0], x.shape[1]
    if pack:
        for t in prange(N * C_in):
            _pack_row(x, xp, t // C_in, t % C_in, stride, padding)
    # Task (block of n, ci) owns grad_input rows [n, ci] and gw_part[block, :, ci, :],
    # so no two threads write one place; the blocks' parts are summed afterwards.
    # Consecutive tasks share a block, so its grad_output rows stay in cache.
    blocks = gw_part.shape[0]
    for t in prange(blocks * C_in):
        blk, ci = t // C_in, t % C_in
        _backward_rows(xp, gy, coef_by_phase, rows, shift, phase_start, tap_r, tap_q, stride,
                       padding, gx, gw_part[blk], blk * N // blocks, (blk + 1) * N // blocks,
                       ci)


# ---------------------------------------------------------------------------
# Many small problems in one call.

# Columns of conv1d_many's per-item table.
_N, _CI, _W, _CO, _F, _S, _P, _D, _WO, _XOFF, _WOFF, _YOFF, _BOFF = range(13)


@numba.njit(**_JIT)
def _many_item(meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf, it):
    """Forward and backward of item `it`, tap by tap over its slice of the buffers.

    Tap k lands inside the input for outputs o in [o_lo, o_hi); working tap by tap
    costs two integer divisions per tap rather than two per output, and the inner
    loop runs over outputs, the longest dimension of a small item. The backward pass
    needs only grad_output, so it shares the forward pass's loop.
    """
    N, C_in, W = meta[it, _N], meta[it, _CI], meta[it, _W]
    C_out, F = meta[it, _CO], meta[it, _F]
    S, P, D, Wo = meta[it, _S], meta[it, _P], meta[it, _D], meta[it, _WO]
    x0, w0, y0, b0 = meta[it, _XOFF], meta[it, _WOFF], meta[it, _YOFF], meta[it, _BOFF]
    for n in range(N):
        for co in range(C_out):
            yb = y0 + (n * C_out + co) * Wo
            bias = bf[b0 + co]
            g_sum = 0.0
            for o in range(Wo):
                yf[yb + o] = bias
                g_sum += gyf[yb + o]
            gbf[b0 + co] += g_sum
            for ci in range(C_in):
                xb = x0 + (n * C_in + ci) * W
                wb = w0 + (co * C_in + ci) * F
                for k in range(F):
                    off = k * D - P
                    o_lo = max(0, -(off // S))
                    o_hi = min(Wo, (W - 1 - off) // S + 1)
                    a = wf[wb + k]
                    s = 0.0
                    for o in range(o_lo, o_hi):
                        i = xb + o * S + off
                        g = gyf[yb + o]
                        yf[yb + o] += a * xf[i]
                        gxf[i] += a * g
                        s += g * xf[i]
                    gwf[wb + k] += s


@numba.njit(**_JIT)
def _many_serial(meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf):
    for it in range(meta.shape[0]):
        _many_item(meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf, it)


@numba.njit(parallel=True, **_JIT)
def _many_parallel(meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf):
    # Items write disjoint slices of the output buffers, so any split is race-free.
    for it in prange(meta.shape[0]):
        _many_item(meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf, it)


# ---------------------------------------------------------------------------
# Python side: validation, shapes, and the choice of driver.

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


def conv1d(x, w, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """y = conv1d(x, w): x [W], [C_in, W] or [N, C_in, W]; w [F] or [C_out, C_in, F].

    Returns float64 y of shape [W_out], [C_out, W_out] or [N, C_out, W_out], following
    x. `bias` is [C_out] (or one number for a 1-D filter). `padding` is an int, "same"
    or "valid". Cross-correlation, as PyTorch's conv1d:

        y[n, co, o] = bias[co] + sum_{ci, k} w[co, ci, k] * x[n, ci, o*S - P + k*D]

    with x taken as zero outside 0..W-1.
    """
    p = _prepare(x, w, stride, padding, dilation)
    b = _bias(bias, p.C_out, p.w_rank)
    y = np.empty((p.N, p.C_out, p.Wo))
    xp, pack = _phases(p)
    rows = (np.arange(p.C_in, dtype=np.int64)[:, None] * p.S + p.tap_r).ravel()
    offs = np.tile(p.tap_q, p.C_in)
    args = (p.x, p.w.reshape(p.C_out, p.C_in * p.F), b, y, xp, rows, offs, p.S, p.P, pack)
    if p.work >= PARALLEL_MIN_WORK:
        with parallel_lock:
            _forward_parallel(*args)
    else:
        _forward_serial(*args)
    return y.reshape(p.y_shape)


def conv1d_backward(x, w, grad_output, stride=1, padding=0, dilation=1):
    """Gradients of sum(conv1d(x, w, b) * grad_output): (grad_input, grad_weight, grad_bias).

    x [W], [C_in, W] or [N, C_in, W]; w [F] or [C_out, C_in, F]; grad_output shaped
    like conv1d's output. Returns float64 grad_input shaped like x, grad_weight like w,
    and grad_bias [C_out] (a float when w is a 1-D filter). The bias itself does not
    enter any gradient, so it is not an argument.
    """
    p = _prepare(x, w, stride, padding, dilation)
    gy = _array(grad_output, "grad_output")
    if gy.shape != p.y_shape:
        raise ValueError(
            f"grad_output: must have the output's shape {p.y_shape}, got {gy.shape}")
    gy = gy.reshape(p.N, p.C_out, p.Wo)
    xp, pack = _phases(p)
    rows, shift, coef_by_phase, phase_start = _pairs_by_phase(p)
    parallel = p.work >= PARALLEL_MIN_WORK
    # Blocks of the batch, each with its own grad_weight part: enough for every thread
    # to have work, few enough that the parts stay small next to x.
    blocks = min(p.N, 4 * numba.get_num_threads()) if parallel else 1
    gx = np.empty((p.N, p.C_in, p.W))
    gw_part = np.zeros((blocks, p.C_out, p.C_in, p.F))
    args = (p.x, gy, coef_by_phase, xp, gx, gw_part, p.tap_r, p.tap_q, rows, shift, phase_start,
            p.S, p.P, pack)
    if parallel:
        with parallel_lock:
            _backward_parallel(*args)
    else:
        _backward_serial(*args)
    gw = gw_part.sum(axis=0) if blocks > 1 else gw_part[0]
    gb = gy.sum(axis=(0, 2))
    gb_out = float(gb[0]) if p.w_rank == 1 else gb
    return gx.reshape(p.x_shape), gw.reshape(p.w_shape), gb_out


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


def _check_ranks(x: np.ndarray, w: np.ndarray, prefix: str = "") -> None:
    if x.ndim not in (1, 2, 3):
        raise ValueError(
            f"{prefix}x: must be [W], [C_in, W] or [N, C_in, W], got {x.ndim} "
            f"dimensions (shape {x.shape})")
    if w.ndim not in (1, 3):
        raise ValueError(
            f"{prefix}w: must be [F] or [C_out, C_in, F], got {w.ndim} dimensions "
            f"(shape {w.shape})")
    if x.ndim == 1 and w.ndim == 3:
        raise ValueError(
            f"{prefix}x: a 1-D input [W] goes with a 1-D filter [F]; for w of shape "
            f"{w.shape} give x as [C_in, W] or [N, C_in, W] with C_in = {w.shape[1]}")


def _check_channels(x: np.ndarray, w: np.ndarray, prefix: str = "") -> None:
    C_in = 1 if x.ndim == 1 else x.shape[-2]
    C_in_w = 1 if w.ndim == 1 else w.shape[1]
    if C_in != C_in_w:
        raise ValueError(
            f"{prefix}w: expects {C_in_w} input channel(s) (shape {w.shape}) but x has "
            f"{C_in} (shape {x.shape})")


def _prepare(x, w, stride, padding, dilation) -> _Problem:
    x = _array(x, "x")
    w = _array(w, "w")
    _check_ranks(x, w)
    _check_channels(x, w)
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


def _bias(bias, C_out: int, w_rank: int, name: str = "bias") -> np.ndarray:
    if bias is None:
        return np.zeros(C_out)
    b = _array(bias, name)
    if b.shape == () and w_rank == 1:
        b = b.reshape(1)
    if b.shape != (C_out,):
        want = "one number" if w_rank == 1 else f"shape ({C_out},), one per output channel"
        raise ValueError(f"{name}: must be {want}, got shape {b.shape}")
    return b


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
        raise ValueError(
            f"items[{i}]: must be (x, w, stride, padding) or "
            f"(x, w, stride, padding, grad_output), got {len(item)} elements")
    if isinstance(item, dict):
        unknown = set(item) - _ITEM_KEYS
        if unknown:
            raise ValueError(f"items[{i}]: unknown key(s) {sorted(unknown)}; "
                             f"expected some of {sorted(_ITEM_KEYS)}")
        for key in ("x", "w"):
            if key not in item:
                raise ValueError(f"items[{i}]: missing {key!r}")
        return (item["x"], item["w"], item.get("bias"), item.get("stride", 1),
                item.get("padding", 0), item.get("dilation", 1), item.get("grad_output"))
    raise ValueError(f"items[{i}]: must be a tuple (x, w, stride, padding[, grad_output]) "
                     f"or a dict, not {type(item).__name__}")


def _array(a, name: str) -> np.ndarray:
    """`a` as a C-contiguous float64 array with at least one element, all finite."""
    if isinstance(a, np.ndarray) and a.dtype == np.float64:
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}: not a rectangular array of numbers ({exc})") from None
        if arr.dtype.kind not in "iuf":
            what = "booleans" if arr.dtype.kind == "b" else f"{arr.dtype} values"
            raise ValueError(f"{name}: must hold real numbers, not {what}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = f"[{', '.join(map(str, bad))}]" if arr.ndim else ""
        raise ValueError(f"{name}{where}: is {arr[tuple(bad)]}; values must be finite")
    return arr


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
    Errors name the item: "items[12].w: ...".
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

    __slots__ = ("args", "work", "yf", "gxf", "gwf", "gbf", "bounds", "shapes")

    def __init__(self, args, work, bounds, shapes):
        self.args = args  # the kernel's arguments (meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf)
        self.work = work
        self.yf, self.gxf, self.gwf, self.gbf = args[5:]
        self.bounds = bounds  # int64 [count, 7]: y0, y1, x0, x1, w0, w1, b0
        self.shapes = shapes  # None (all 1-D), or per item (y shape, x shape, w shape)

    def run(self, threads: bool = True) -> None:
        """Fill the result buffers: one kernel call, on the thread pool when the work
        is worth waking it for (and `threads` allows)."""
        if threads and self.work >= PARALLEL_MIN_WORK:
            with parallel_lock:
                _many_parallel(*self.args)
        else:
            _many_serial(*self.args)
        self.args = None

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
    meta, bounds, totals, work, empty_at, wide_at = _layout(N, C_in, W, C_out, F, S, P, D)
    if empty_at >= 0:
        _refuse_empty(N * C_in * W, C_out * F, xs, ws, base)
    if wide_at >= 0:
        i = wide_at
        _item_geometry(base + i, W[i], F[i], P[i], S[i], D[i])
    x_total, w_total, y_total, b_total = totals
    Wo = meta[:, _WO]

    # The column checks skipped the per-array finiteness test: do it once, in bulk.
    for buffer, arrays, key in ((xf, xs, "x"), (wf, ws, "w")):
        if not np.isfinite(buffer).all():
            bad = next(j for j, a in enumerate(arrays) if not np.isfinite(a).all())
            _array(arrays[bad], f"items[{base + bad}].{key}")
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
        b_off = meta[:, _BOFF]
        for i, b in enumerate(bs):
            if b is not None:
                wr = 1 if ranks is None else ranks[i][1]
                bf[b_off[i]:b_off[i] + C_out[i]] = _bias(b, int(C_out[i]), wr, f"items[{base + i}].bias")

    yf = np.empty(y_total)
    gxf = np.zeros(x_total)
    gwf = np.zeros(w_total)
    gbf = np.zeros(b_total)
    shapes = None if ranks is None else [(y_shape, x.shape, w.shape)
                                         for y_shape, x, w in zip(y_shapes, xs, ws)]
    return _Chunk((meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf), work, bounds, shapes)


@numba.njit(**_JIT)
def _layout(N, C_in, W, C_out, F, S, P, D):
    """Where each item's parts lie in the flat buffers, in one pass over the columns.

    Returns meta (conv1d_many's per-item table, int64 [n, 13]), bounds (int64 [n, 7]:
    y0, y1, x0, x1, w0, w1, b0), the four buffer sizes (x, w, y, bias), the work in
    multiply-adds (plus ITEM_WORK per item), and the first empty item and the first
    item whose filter is wider than its padded input (-1 when there is none).
    """
    n = N.shape[0]
    meta = np.empty((n, 13), np.int64)
    bounds = np.empty((n, 7), np.int64)
    x_at = w_at = y_at = b_at = 0
    work = ITEM_WORK * n
    empty_at = wide_at = -1
    for i in range(n):
        x_size = N[i] * C_in[i] * W[i]
        w_size = C_out[i] * C_in[i] * F[i]
        if (x_size == 0 or w_size == 0) and empty_at < 0:
            empty_at = i
        span = D[i] * (F[i] - 1) + 1
        Wo = (W[i] + 2 * P[i] - span) // S[i] + 1
        if Wo < 1:
            Wo = 0
            if wide_at < 0:
                wide_at = i
        y_size = N[i] * C_out[i] * Wo
        m = meta[i]
        m[_N], m[_CI], m[_W], m[_CO], m[_F] = N[i], C_in[i], W[i], C_out[i], F[i]
        m[_S], m[_P], m[_D], m[_WO] = S[i], P[i], D[i], Wo
        m[_XOFF], m[_WOFF], m[_YOFF], m[_BOFF] = x_at, w_at, y_at, b_at
        b = bounds[i]
        b[0], b[1], b[2], b[3], b[4], b[5], b[6] = (y_at, y_at + y_size, x_at, x_at + x_size,
                                                    w_at, w_at + w_size, b_at)
        x_at += x_size
        w_at += w_size
        y_at += y_size
        b_at += C_out[i]
        work += y_size * C_in[i] * F[i]
    return meta, bounds, (x_at, w_at, y_at, b_at), work, empty_at, wide_at


def _refuse_empty(x_size, w_size, xs: list, ws: list, base: int) -> None:
    empty = (x_size == 0) | (w_size == 0)
    if empty.any():
        i = int(np.argmax(empty))
        _array(xs[i], f"items[{base + i}].x")
        _array(ws[i], f"items[{base + i}].w")


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
            arrays[i] = _array(a, f"items[{base + i}].{key}")


def _item_shapes(xs: list, ws: list, base: int):
    """Per-item (N, C_in, W, C_out, F) as int64 arrays, and each item's (x rank, w rank)."""
    rows, ranks = [], []
    for i, (x, w) in enumerate(zip(xs, ws)):
        _check_ranks(x, w, f"items[{base + i}].")
        _check_channels(x, w, f"items[{base + i}].")
        x3 = (1,) * (3 - x.ndim) + x.shape
        w3 = (1, 1) + w.shape if w.ndim == 1 else w.shape
        rows.append((*x3, w3[0], w3[2]))
        ranks.append((x.ndim, w.ndim))
    N, C_in, W, C_out, F = np.array(rows, dtype=np.int64).reshape(-1, 5).T
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
            gy = _array(gy, f"items[{base + i}].grad_output")
        if gy.shape != shape:
            raise ValueError(f"items[{base + i}].grad_output: must have the output's shape "
                             f"{shape}, got {gy.shape}")
        parts.append(gy)
    gyf = np.concatenate(parts, axis=None)
    if not np.isfinite(gyf).all():
        bad = next(j for j, g in enumerate(parts) if not np.isfinite(g).all())
        _array(parts[bad], f"items[{base + bad}].grad_output")
    return gyf
