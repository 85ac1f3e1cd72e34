"""The interpreter: one set of Numba kernels, compiled once, for every program.

Lanes (input sets) are processed in blocks of BLOCK, numexpr-style: for each block the
forward sweep fills a slot-major register file R[slot, lane] and the reverse sweep
accumulates adjoints G[slot, lane]; both blocks stay in cache, and each instruction's
inner loop runs over the block's lanes, so it vectorises and the dispatch on the opcode
is paid once per block, not once per lane.

Two drivers:
  batch:  one program, many lanes; inputs arrive as the addresses and lengths of 1-D
          float64 arrays (length 1 broadcasts), so a million-lane input is never copied
          (and no typed list is built: that cost 40 us a call). Its sweeps
          (forward_rows / reverse_rows) name rows by address (engine.vm.addresses), so an
          instruction reads inputs where they lie; one pass per block reads the inputs
          and one writes the results, both across all rows at once (see _touch_rows);
          constants are filled once per chunk of blocks; `_plan` works out once which
          adjoints are needed at all, and which update is each adjoint's first
          (assigned, so no pass zeroes the adjoints). It runs the program with
          superinstructions (engine.lowering.Code.fused: 5 columns, two ops as one
          instruction where the middle value is read once and not reported).
  ragged: many programs, each with its own lanes, in one call (`evaluate_many`); all
          inputs, seeds and results live in flat arenas indexed by a per-item table.
          It runs the same sweeps on a slot-major register block R[slot, lane],
          G[slot, lane] that is copied in and out, every adjoint zeroed and added to.
Each kernel runs a range of blocks or items; callers run large work in chunks on several
threads (engine.bulk.split: the kernels release the GIL), small work in one call. Every
kernel takes fixed dtypes, so each compiles exactly once. The sweeps are C kernels the
drivers call by address (engine.vm.addresses.CKernel), compiled once for both; run_batch
and run_ragged pass the drivers their addresses.

Non-finite results are flagged, not raised: the sweeps and loads report whether any
result was NaN or inf while it was still in a register; only a flagged block is scanned
for its first bad lane, status[...] = (1 value | 2 gradient, lane), and the Python side
then diagnoses that lane in detail.
"""

from __future__ import annotations

import numba
import numpy as np

from engine.ops import INSTRUCTIONS
from engine.vm.addresses import call_at, row_at, store_fence, stream_line
from engine.vm.cases import (FIRST_A, FIRST_B, FIRST_C, NEED_A, NEED_B, NEED_C, SHARE_A, SHARE_B, SHARE_C,
                             UNKNOWN_OPCODE, ZERO_D, forward_rows, reverse_rows)

# per opcode, the operands that receive the result's adjoint unchanged (OpDef.shares,
# Fusion.shares): bit 1 for a, 2 for b, 4 for c
SHARES = np.array([sum(1 << k for k in op.shares) for op in INSTRUCTIONS], np.int32)
# per opcode, the order its reverse case updates the operands' adjoints in (-1 pads)
UPDATE_ORDER = np.array([list(op.update_order) + [-1] * (3 - len(op.update_order)) for op in INSTRUCTIONS],
                        np.int32)
# reverse_rows' flags for operand j = 0, 1, 2 (a, b, c) of an instruction
NEED_OF = (NEED_A, NEED_B, NEED_C)
FIRST_OF = (FIRST_A, FIRST_B, FIRST_C)
SHARE_OF = (SHARE_A, SHARE_B, SHARE_C)

# The ragged kernel's flags for reverse_rows: every operand's adjoint is added to, from
# adjoints zeroed before the sweep.
ACCUMULATE = NEED_A | NEED_B

BLOCK = 256
STRIPE = 32  # lanes of one row the interleaved passes take before moving to the next row
# Results at least this large are written with streaming stores, which skip reading each
# line into cache first (A's 40 MB of results: 3.9-5.5 -> 2.8-3.4 ms). Smaller ones use
# plain stores and stay in cache for whoever reads them next.
STREAM_MIN_BYTES = 8 << 20
# Lanes x instructions from which splitting a call across threads beats one call: waking
# the thread pool costs more than it saves below it. Small graphs in their thousands stay
# serial (about 0.05 us an instruction), and on a loaded machine a woken thread waits
# its turn for a core (measured: 36 us a graph parallel, 27 serial, for 1,500 seven-op
# graphs, alternating rounds in one process). evaluation and spec_bulk both use it.
PARALLEL_MIN_WORK = 1 << 17

_kernel = numba.njit(cache=True, nogil=True, error_model="numpy")

# columns of the ragged kernel's item table
(C_CODE, C_FWD, C_STOP, C_SLOTS, C_LANES, C_K0, C_K1, C_I0, C_I1, C_OUT, C_SEED, C_SEEDLEN,
 C_V0, C_V1, C_VOUT, C_G0, C_G1, C_GOUT) = range(18)
ITEM_COLUMNS = 18


@_kernel
def _first_bad_lane(addresses, mask, n):
    """The first lane i < n at which some row addresses[s] with mask[s] is NaN/inf, or -1."""
    first = n
    for s in range(addresses.shape[0]):
        if mask[s]:
            p = row_at(addresses[s])
            for i in range(first):
                v = p[i]
                if v - v != 0.0:
                    first = i
                    break
    return first if first < n else -1


@_kernel
def _needed(code, start, stop, n_slots, grad_slots):
    """need[s]: slot s's adjoint is reported (in grad_slots) or flows on into one that is.
    Other adjoints (a literal's, or with intermediates=False a node's that only constants
    feed) are nobody's answer: the batch kernel does not compute them, and neither
    kernel reports them when they are not finite."""
    need = np.zeros(n_slots, np.bool_)
    for j in range(grad_slots.shape[0]):
        need[grad_slots[j]] = True
    for k in range(start, stop):  # operands come before results
        for j in range(2, code.shape[1]):
            s = code[k, j]
            if s >= 0 and need[s]:
                need[code[k, 1]] = True
    return need


@_kernel
def _row_addresses(M, n_rows):
    """The addresses of rows 0..n_rows-1 of a C-contiguous 2-D float64 array."""
    return np.int64(M.ctypes.data) + np.arange(n_rows) * (M.shape[1] * 8)


@_kernel
def _locate(code, it, grad_slots, R, G, n, lo, status):
    """A flagged block of a ragged item: record the first lane with a NaN/inf value (1)
    or needed adjoint (2), if there is one."""
    if status[0] != 0:
        return
    n_slots = it[C_SLOTS]
    bad = _first_bad_lane(_row_addresses(R, n_slots), np.ones(n_slots, np.bool_), n)
    if bad >= 0:
        status[0] = 1
        status[1] = lo + bad
        return
    need = _needed(code, it[C_CODE], it[C_STOP], n_slots, grad_slots[it[C_G0]:it[C_G1]])
    need[it[C_OUT]] = True  # the seed
    bad = _first_bad_lane(_row_addresses(G, n_slots), need, n)
    if bad >= 0:
        status[0] = 2
        status[1] = lo + bad


@_kernel
def _load(row, src, lo, n):
    """row[:n] = src[lo:lo+n], or src[0] everywhere when src has one value; True if any
    value is NaN or inf (batched inputs are checked here, not before the kernel)."""
    bad = False
    if src.shape[0] == 1:
        v = src[0]
        for i in range(n):
            row[i] = v
        return v - v != 0.0
    # a view, not src[lo + i]: a signed sum as index costs a wraparound check per lane
    # that stops the loop from vectorising (4x slower)
    part = src[lo:lo + n]
    for i in range(n):
        v = part[i]
        row[i] = v
        bad |= v - v != 0.0
    return bad


@_kernel
def _copy(dst, src, n):
    """dst[:n] = src[:n] for row pointers (one signature, so one compile). Numba's slice
    assignment between 2-D rows takes a generic strided path; this loop vectorises
    (measured: a third faster)."""
    for i in range(n):
        dst[i] = src[i]


@_kernel
def _swept(answer):
    """A sweep's answer as "some result is NaN or inf"."""
    if answer == UNKNOWN_OPCODE:
        raise ValueError("unknown opcode in program")
    return answer != 0


@_kernel
def _plan(code, n_slots, output_slot, grad_slots):
    """What the reverse sweep of one program must do, worked out once per call.

    need: see _needed; no other adjoint is computed. flags[k] for reverse_rows: which
    operands' adjoints instruction k updates, whether that is their first contribution
    (instructions are reversed, so each adjoint's first contribution is the one from its
    last use), whether its own adjoint got none (a node the output does not depend on:
    zero it), and whether an add's operand can read the result's adjoint row (SHARE).
    seeded: the output's adjoint row must be a real row, filled with the seed before the
    sweep, because it is reported or other instructions add to it; otherwise the sweep
    reads the seed where it lies. zero_slots: reported adjoints nothing contributes to.
    """
    n_instr = code.shape[0]
    need = _needed(code, np.int64(0), n_instr, n_slots, grad_slots)
    uses = np.zeros(n_slots, np.int64)  # contributions each adjoint receives
    for k in range(n_instr):
        if need[code[k, 1]]:
            for j in range(2, code.shape[1]):
                if code[k, j] >= 0:
                    uses[code[k, j]] += 1
    touched = np.zeros(n_slots, np.bool_)
    touched[output_slot] = True
    seeded = False
    for j in range(grad_slots.shape[0]):
        seeded |= grad_slots[j] == output_slot
    flags = np.zeros(n_instr, np.int32)
    for k in range(n_instr - 1, -1, -1):
        d = code[k, 1]
        if not need[d]:
            continue
        f = 0
        if not touched[d]:
            f |= ZERO_D
            touched[d] = True
        # An operand the op shares its adjoint with (both of an add, the first of a sub)
        # whose whole adjoint is this one contribution gets an exact copy of the result's
        # adjoint: it may read the result's row instead, since nothing writes that row
        # after this instruction.
        op = code[k, 0]
        known = 0 <= op < SHARES.shape[0]  # the sweep refuses any other opcode
        share = SHARES[op] if known else 0
        for jj in range(code.shape[1] - 2):  # in the order the case updates them
            j = UPDATE_ORDER[op, jj] if known else jj
            if j < 0 or 2 + j >= code.shape[1]:  # (a superinstruction in 4 columns is refused)
                continue
            s = code[k, 2 + j]
            if s < 0 or not need[s]:
                continue
            if uses[s] == 1 and share & (1 << j) and s != output_slot:
                f |= SHARE_OF[j]
            else:
                f |= NEED_OF[j] if touched[s] else NEED_OF[j] | FIRST_OF[j]
            touched[s] = True
            seeded |= s == output_slot
        flags[k] = f
    n_zero = 0
    zero_slots = np.empty(grad_slots.shape[0], np.int64)
    for j in range(grad_slots.shape[0]):
        if not touched[grad_slots[j]]:
            zero_slots[n_zero] = grad_slots[j]
            n_zero += 1
    return flags, need, seeded, zero_slots[:n_zero]


@_kernel
def _row_fill(dst, value, n):
    for i in range(n):
        dst[i] = value


@_kernel
def _touch_rows(rows, count, n):
    """Reads lanes [0, n) of the rows at addresses rows[:count], a stripe of each row in
    turn; True if any value is NaN or inf. Memory serves several rows read stripe by
    stripe far faster than the same rows read one after another (measured here: 45-55
    against 16 GB/s), so this pass brings a block's inputs into cache for the sweeps."""
    bad = False
    for q in range(0, n, STRIPE):
        bad |= _touch_stripe(rows, count, q, min(STRIPE, n - q))
    return bad


@_kernel
def _touch_stripe(rows, count, q, m):
    """Reads lanes [q, q + m) of the rows at addresses rows[:count]; True if any value
    is NaN or inf."""
    bad = False
    for r in range(count):
        p = row_at(rows[r] + q * 8)
        for i in range(m):
            v = p[i]
            bad |= v - v != 0.0
    return bad


@_kernel
def _copy_rows(dst, src, count, n, stream, touch, n_touch, n_next):
    """Row dst[r] = row src[r] for r < count, lanes [0, n), stripe by stripe across the rows
    (writing them one after another ran at a third of the speed: 12 against 36 GB/s).
    stream: every dst row is 64-byte aligned, so whole stripes go out with non-temporal
    stores (see engine.vm.addresses.stream_line); a last, partial stripe is copied plainly.
    In the same pass, lanes [0, n_next) of the rows at touch[:n_touch] (the next block's
    inputs) are read as _touch_rows reads them, so memory serves the reads and the writes
    at once instead of one pass after the other; True if any of those is NaN or inf."""
    bad = False
    for q in range(0, max(n, n_next), STRIPE):
        m = min(STRIPE, n - q)
        for r in range(count if m > 0 else 0):
            if stream and m == STRIPE:
                for t in range(0, STRIPE * 8, 64):
                    stream_line(dst[r] + q * 8 + t, src[r] + q * 8 + t)
            else:
                to = row_at(dst[r] + q * 8)
                fro = row_at(src[r] + q * 8)
                for i in range(m):
                    to[i] = fro[i]
        if q < n_next:
            bad |= _touch_stripe(touch, n_touch, q, min(STRIPE, n_next - q))
    return bad


@_kernel
def _input_rows(reads, input_slots, vbase, vstep, seed_base, seed_step, lo):
    """reads[:] = the addresses, at lane lo, of the rows that move with the block: the
    batched inputs, then a batched seed."""
    r = 0
    for j in range(input_slots.shape[0]):
        if vstep[input_slots[j]]:
            reads[r] = vbase[input_slots[j]] + lo * vstep[input_slots[j]]
            r += 1
    if seed_step:
        reads[r] = seed_base + lo * seed_step
    return reads


@_kernel
def _run_batch(code, forward_start, n_slots, const_slots, const_values, input_slots, input_at,
               input_len, output_slot, seed, value_slots, grad_slots, out_at, stream, n_lanes,
               b0, b1, status, forward, reverse):
    """run_batch, given the sweeps' addresses (forward, reverse). Input j is the float64
    array of input_len[j] values (n_lanes, or 1 to broadcast) at address input_at[j]; the
    caller keeps it alive.
    out_at: the address of each reported row (value_slots' values, then grad_slots'
    adjoints), n_lanes float64 each. stream: write them with streaming stores, if every
    row is 64-byte aligned (see STREAM_MIN_BYTES).

    Rows are named by address (engine.vm.addresses). A slot's value row is its input array
    at the block (read where it lies) or a row of the scratch block S; adjoint rows are
    all in S. Per block: one pass reads the inputs (and checks them), the sweeps run on
    cached rows, one pass writes every reported row out. Constants and broadcast values
    are filled once, not per block; adjoints are not zeroed (see _plan). One function
    rather than a driver calling a body: Numba compiles a callee's code again into each
    caller.
    """
    flags, need, seeded, zero_slots = _plan(code, n_slots, output_slot, grad_slots)
    n_instr = code.shape[0]
    width = max(1, min(BLOCK, n_lanes))
    S = np.empty((2 * n_slots + 1, width))  # value rows, adjoint rows, the seed's row
    base = np.int64(S.ctypes.data)
    row_bytes = width * 8
    vbase = np.empty(n_slots, np.int64)
    vstep = np.zeros(n_slots, np.int64)  # 8: the row moves with the block; 0: it stays
    GA = np.empty(n_slots, np.int64)
    for s in range(n_slots):
        vbase[s] = base + s * row_bytes
        GA[s] = base + (n_slots + s) * row_bytes
    for j in range(const_slots.shape[0]):
        S[const_slots[j], :] = const_values[j]
    for j in range(input_slots.shape[0]):
        s = input_slots[j]
        if input_len[j] == 1:
            S[s, :] = row_at(input_at[j])[0]
        else:
            vbase[s] = input_at[j]
            vstep[s] = 8
    seed_base = base + 2 * n_slots * row_bytes
    seed_step = 0
    if seed.shape[0] == 1:
        S[2 * n_slots, :] = seed[0]
    else:
        seed_base = np.int64(seed.ctypes.data)
        seed_step = 8
    own_row = GA[output_slot]
    # rows that move with the block are read (and checked) per block; broadcast inputs and
    # a scalar seed fill rows that never change, so they are checked once, here
    reads = np.empty(input_slots.shape[0] + 1, np.int64)
    n_reads = 0
    fixed = np.empty(input_slots.shape[0] + 1, np.int64)
    n_fixed = 0
    for j in range(input_slots.shape[0]):
        if vstep[input_slots[j]]:
            n_reads += 1
        else:
            fixed[n_fixed] = vbase[input_slots[j]]
            n_fixed += 1
    if seed_step:
        n_reads += 1
    else:
        fixed[n_fixed] = seed_base
        n_fixed += 1
    fixed_bad = _touch_rows(fixed, n_fixed, width)
    n_out = value_slots.shape[0] + grad_slots.shape[0]
    for r in range(n_out):
        stream &= out_at[r] % 64 == 0  # blocks start at multiples of 2 KiB from there
    out_to = np.empty(n_out, np.int64)
    out_from = np.empty(n_out, np.int64)
    adjoints = need.copy()  # the adjoint rows that hold numbers after a sweep
    adjoints[output_slot] = True
    # the value rows the sweeps write (a superinstruction's inner value has none), which
    # a flagged block scans for its first bad lane
    written = np.zeros(n_slots, np.bool_)
    for j in range(const_slots.shape[0]):
        written[const_slots[j]] = True
    for j in range(input_slots.shape[0]):
        written[input_slots[j]] = True
    for k in range(forward_start, n_instr):
        written[code[k, 1]] = True
    columns = np.int64(code.shape[1])  # 5 with superinstructions
    VA = np.empty(n_slots, np.int64)
    # each block's inputs are read into cache while the block before it is written out
    next_bad = b0 < b1 and _touch_rows(_input_rows(reads, input_slots, vbase, vstep, seed_base, seed_step,
                                                   b0 * BLOCK), n_reads, min(BLOCK, n_lanes - b0 * BLOCK))
    for blk in range(b0, b1):
        lo = blk * BLOCK
        n = min(BLOCK, n_lanes - lo)
        for s in range(n_slots):
            VA[s] = vbase[s] + lo * vstep[s]
        seed_at = seed_base + lo * seed_step
        bad = fixed_bad | next_bad
        code_at, VA_at, GA_at = np.int64(code.ctypes.data), np.int64(VA.ctypes.data), np.int64(GA.ctypes.data)
        bad |= _swept(call_at(forward, (code_at, columns, forward_start, n_instr, VA_at, n)))
        if seeded:
            GA[output_slot] = own_row
            _copy(row_at(own_row), row_at(seed_at), n)
        else:
            GA[output_slot] = seed_at  # read, never written: nothing adds to it
        for z in range(zero_slots.shape[0]):
            _row_fill(row_at(GA[zero_slots[z]]), 0.0, n)
        flags_at = np.int64(flags.ctypes.data)
        bad |= _swept(call_at(reverse, (code_at, columns, flags_at, np.int64(0), n_instr, VA_at, GA_at, n)))
        if bad and status[0] == 0:
            lane = _first_bad_lane(VA, written, n)
            if lane >= 0:
                status[0] = 1
                status[1] = lo + lane
            else:
                lane = _first_bad_lane(GA, adjoints, n)
                if lane >= 0:
                    status[0] = 2
                    status[1] = lo + lane
        for j in range(value_slots.shape[0]):
            out_from[j] = VA[value_slots[j]]
        for j in range(grad_slots.shape[0]):
            out_from[value_slots.shape[0] + j] = GA[grad_slots[j]]
        for r in range(n_out):
            out_to[r] = out_at[r] + lo * 8
        n_next = min(BLOCK, n_lanes - lo - BLOCK) if blk + 1 < b1 else 0
        if n_next > 0:
            _input_rows(reads, input_slots, vbase, vstep, seed_base, seed_step, lo + BLOCK)
        next_bad = _copy_rows(out_to, out_from, n_out, n, stream, reads, n_reads if n_next > 0 else 0, n_next)
    store_fence()
    return S[0, 0]  # S must outlive every raw address into it: this use keeps it alive


_sweeps: tuple[int, int] | None = None


def sweeps() -> tuple[int, int]:
    """The addresses of forward_rows and reverse_rows, compiled (or loaded from the
    kernel cache) on first use."""
    global _sweeps
    if _sweeps is None:
        _sweeps = forward_rows.address, reverse_rows.address
    return _sweeps


def run_batch(code, forward_start, n_slots, const_slots, const_values, input_slots, input_at,
              input_len, output_slot, seed, value_slots, grad_slots, out_at, stream, n_lanes,
              b0, b1, status):
    """Blocks [b0, b1) of one program (all of them: 0 and ceil(n_lanes / BLOCK)), with
    their own scratch block; callers split the blocks across threads
    (engine.bulk.split). status: int64 [2], the first bad lane of these blocks."""
    _run_batch(code, forward_start, n_slots, const_slots, const_values, input_slots, input_at,
               input_len, output_slot, seed, value_slots, grad_slots, out_at, stream, n_lanes,
               b0, b1, status, *sweeps())


@_kernel
def _run_ragged(code, items, const_slots, const_values, input_slots, input_offsets, input_lengths,
                arena, seeds, value_slots, grad_slots, out, status, max_slots, max_lanes, p0, p1,
                forward, reverse):
    width = min(BLOCK, max(max_lanes, 1))
    R = np.empty((max_slots, width))
    G = np.empty((max_slots, width))
    VA = _row_addresses(R, max_slots)
    GA = _row_addresses(G, max_slots)
    flags = np.full(code.shape[0], ACCUMULATE, np.int32)
    columns = np.int64(code.shape[1])
    code_at, flags_at = np.int64(code.ctypes.data), np.int64(flags.ctypes.data)
    VA_at, GA_at, out_at = np.int64(VA.ctypes.data), np.int64(GA.ctypes.data), np.int64(out.ctypes.data)
    for p in range(p0, p1):
        it = items[p]
        n_slots = it[C_SLOTS]
        n_lanes = it[C_LANES]
        for lo in range(0, n_lanes, width):
            n = min(width, n_lanes - lo)
            bad = False
            # an item of one lane (the common case of evaluate_many) loads, clears and
            # stores with scalar moves instead of one-element loops
            if n_lanes == 1:
                for j in range(it[C_K0], it[C_K1]):
                    R[const_slots[j], 0] = const_values[j]
                for j in range(it[C_I0], it[C_I1]):
                    v = arena[input_offsets[j]]
                    R[input_slots[j], 0] = v
                    bad |= v - v != 0.0
            else:
                for j in range(it[C_K0], it[C_K1]):
                    R[const_slots[j], :n] = const_values[j]
                for j in range(it[C_I0], it[C_I1]):
                    off = input_offsets[j]
                    bad |= _load(R[input_slots[j]], arena[off:off + input_lengths[j]], lo, n)
            bad |= _swept(call_at(forward, (code_at, columns, it[C_FWD], it[C_STOP], VA_at, n)))
            for s in range(n_slots):
                for i in range(n):
                    G[s, i] = 0.0
            seed_at = it[C_SEED]
            bad |= _load(G[it[C_OUT]], seeds[seed_at:seed_at + it[C_SEEDLEN]], lo, n)
            bad |= _swept(call_at(reverse, (code_at, columns, flags_at, it[C_CODE], it[C_STOP], VA_at, GA_at, n)))
            if bad:
                _locate(code, it, grad_slots, R, G, n, lo, status[p])
            if n_lanes == 1:
                base = it[C_VOUT] - it[C_V0]
                for j in range(it[C_V0], it[C_V1]):
                    out[base + j] = R[value_slots[j], 0]
                base = it[C_GOUT] - it[C_G0]
                for j in range(it[C_G0], it[C_G1]):
                    out[base + j] = G[grad_slots[j], 0]
                continue
            base = it[C_VOUT] + lo
            for j in range(it[C_V0], it[C_V1]):
                row = base + (j - it[C_V0]) * n_lanes
                _copy(row_at(out_at + row * 8), row_at(VA[value_slots[j]]), n)
            base = it[C_GOUT] + lo
            for j in range(it[C_G0], it[C_G1]):
                row = base + (j - it[C_G0]) * n_lanes
                _copy(row_at(out_at + row * 8), row_at(GA[grad_slots[j]]), n)
    # the sweeps reach R, G, VA, GA and flags by address only: these uses keep them alive
    return R.size + G.size + VA.size + GA.size + flags.size


def run_ragged(code, items, const_slots, const_values, input_slots, input_offsets, input_lengths,
               arena, seeds, value_slots, grad_slots, out, status, max_slots, max_lanes, p0, p1):
    """Items [p0, p1) (all of them: 0 and n_items), each its own program and lanes (see
    the C_* columns), in one register file; callers split the items across threads
    (engine.bulk.split). status: int64 [n_items, 2]."""
    _run_ragged(code, items, const_slots, const_values, input_slots, input_offsets, input_lengths,
                arena, seeds, value_slots, grad_slots, out, status, max_slots, max_lanes, p0, p1,
                *sweeps())


KERNELS = (_run_batch, _run_ragged)
