"""The Numba kernels of conv1d, conv1d_backward and conv1d_many, float64.

Strided, padded, dilated 1-D convolution (PyTorch's conv1d: cross-correlation).
Forward and backward are Numba loops straight over the arrays, with no im2col copy.
Stride is handled by splitting each padded input row into S phases,

    xp[n, ci, r, j] = x_padded[n, ci, j*S + r],

so that tap k of output o reads xp[n, ci, (k*D) % S, o + (k*D) // S]: a contiguous run
over o for every tap, which LLVM vectorises. The phase copy is the size of x (not F
times it, as im2col would be) and it zero-fills the padding, so no loop needs a bounds
test. The backward pass reads the same phases: grad_weight is a dot product of a
grad_output row with a phase row, and grad_input is gathered phase by phase from
shifted grad_output rows, so every thread writes only its own rows.

Every driver runs a range of its rows (or items), all of them for a small problem; a
large one is split into chunks run on several threads (engine.bulk.split). Arguments are coerced to C-contiguous float64 and
int64 before any kernel runs (engine.conv.api and engine.conv.many check and pack
them), so each kernel compiles exactly one signature.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["pack", "forward", "backward", "many_items", "layout", "PARALLEL_MIN_WORK"]

# Below this many multiply-adds, waking the threads costs more than splitting saves.
PARALLEL_MIN_WORK = 1 << 18
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


# ---------------------------------------------------------------------------
# Drivers: each runs a range of its tasks, all of them in one call for a small problem;
# callers split a large one across threads (engine.bulk.split; the kernels release the
# GIL). A task writes only its own rows, so any split is race-free. pack, forward and
# backward write their task's body out rather than call it: Numba compiles a callee's
# code again into every caller, and that was a fifth of their cold compile.

@numba.njit(**_JIT)
def pack(x, xp, stride, padding, t0, t1):
    """Phase rows t in [t0, t1) of the N*C_in (n, ci) rows of x into xp (see above):
    xp[n, ci, r, j] = x[n, ci, j*S + r - P], zero outside the input."""
    C_in, W, L = x.shape[1], x.shape[2], xp.shape[3]
    for t in range(t0, t1):
        n, ci = t // C_in, t % C_in
        src = x[n, ci]
        for r in range(stride):
            dst = xp[n, ci, r]
            # Padding cells before and after the input, then the input's own units.
            j_lo = min(L, max(0, (padding - r + stride - 1) // stride))
            j_hi = max(j_lo, min(L, (W - 1 + padding - r) // stride + 1))
            for j in range(j_lo):
                dst[j] = 0.0
            for j in range(j_hi, L):
                dst[j] = 0.0
            base = r - padding
            for j in range(j_lo, j_hi):
                dst[j] = src[j * stride + base]


@numba.njit(**_JIT)
def forward(xp, w_flat, b, y, rows, offs, t0, t1):
    """Output rows t in [t0, t1) of the N*C_out (n, co) rows of y, from the phases xp:
    y[n, co, :] = b[co] + sum over ci, k of w[co, ci, k] * xp[n, ci, r_k, q_k:].

    The taps of all input channels form one list (w_flat[co] in (ci, k) order, reading
    phase row rows[t] = ci*S + r_k of xp[n] at offset offs[t] = q_k), so the groups of
    eight run across channel boundaries. Consecutive tasks share n, so xp[n] stays in
    cache across output channels.
    """
    C_out = w_flat.shape[0]
    for t in range(t0, t1):
        n, co = t // C_out, t % C_out
        acc = y[n, co]
        for o in range(acc.shape[0]):
            acc[o] = b[co]
        src = xp[n].reshape((xp.shape[1] * xp.shape[2], xp.shape[3]))
        _gather(acc, src, rows, offs, w_flat[co], 0, w_flat.shape[1])


@numba.njit(**_JIT)
def backward(xp, gy, coef_by_phase, gx, gw_part, tap_r, tap_q, rows, shift, phase_start,
             stride, padding, t0, t1):
    """Tasks t in [t0, t1) of the blocks * C_in (block of n, ci) tasks, from the phases xp.

    Task (block, ci) owns grad_input rows [n, ci] for n in the block and
    gw_part[block, :, ci, :]; the caller sums the blocks' parts afterwards, in block order,
    so grad_weight does not depend on which thread ran which task. Consecutive tasks share
    a block, so its grad_output rows stay in cache.

    Tap k of output o reads padded unit o*S + k*D, which is phase r_k at j = o + q_k.
    Going back, phase r of grad_input gathers every (output channel co, tap k) pair
    with r_k == r: grad_output row co shifted by q_k, times w[co, ci, k]. The pairs
    are listed phase by phase in rows, shift and coef_by_phase[ci] (from
    phase_start[r] to phase_start[r + 1]), so the groups of eight run across output
    channels. grad_weight[co, ci, k] is the dot product of grad_output's row with tap
    k's phase row.
    """
    N, C_in = xp.shape[0], xp.shape[1]
    C_out = gy.shape[1]
    blocks = gw_part.shape[0]
    phases = np.empty((stride, xp.shape[3]))  # this call's own scratch, reused per row
    for t in range(t0, t1):
        blk, ci = t // C_in, t % C_in
        coef = coef_by_phase[ci]
        part = gw_part[blk]
        for n in range(blk * N // blocks, (blk + 1) * N // blocks):
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
                _dots(part[co, ci], g[co], xrows, tap_r, tap_q)


# ---------------------------------------------------------------------------
# Many small problems in one call.

# Columns of conv1d_many's per-item table.
(COL_N, COL_CI, COL_W, COL_CO, COL_F, COL_S, COL_P, COL_D, COL_WO,
 COL_XOFF, COL_WOFF, COL_YOFF, COL_BOFF) = range(13)


@numba.njit(**_JIT)
def _many_item(meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf, it):
    """Forward and backward of item `it`, tap by tap over its slice of the buffers.

    Tap k lands inside the input for outputs o in [o_lo, o_hi); working tap by tap
    costs two integer divisions per tap rather than two per output, and the inner
    loop runs over outputs, the longest dimension of a small item. The backward pass
    needs only grad_output, so it shares the forward pass's loop.
    """
    N, C_in, W = meta[it, COL_N], meta[it, COL_CI], meta[it, COL_W]
    C_out, F = meta[it, COL_CO], meta[it, COL_F]
    S, P, D, Wo = meta[it, COL_S], meta[it, COL_P], meta[it, COL_D], meta[it, COL_WO]
    x0, w0 = meta[it, COL_XOFF], meta[it, COL_WOFF]
    y0, b0 = meta[it, COL_YOFF], meta[it, COL_BOFF]
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
def many_items(meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf, i0, i1):
    """Items [i0, i1) of the table meta. Items write disjoint slices of the output
    buffers, so any split is race-free."""
    for it in range(i0, i1):
        _many_item(meta, xf, wf, bf, gyf, yf, gxf, gwf, gbf, it)


@numba.njit(**_JIT)
def layout(N, C_in, W, C_out, F, S, P, D):
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
        m[COL_N], m[COL_CI], m[COL_W], m[COL_CO], m[COL_F] = N[i], C_in[i], W[i], C_out[i], F[i]
        m[COL_S], m[COL_P], m[COL_D], m[COL_WO] = S[i], P[i], D[i], Wo
        m[COL_XOFF], m[COL_WOFF], m[COL_YOFF], m[COL_BOFF] = x_at, w_at, y_at, b_at
        b = bounds[i]
        b[0], b[1], b[2], b[3], b[4], b[5], b[6] = (y_at, y_at + y_size, x_at, x_at + x_size,
                                                    w_at, w_at + w_size, b_at)
        x_at += x_size
        w_at += w_size
        y_at += y_size
        b_at += C_out[i]
        work += y_size * C_in[i] * F[i]
    return meta, bounds, (x_at, w_at, y_at, b_at), work, empty_at, wide_at
