"""The interpreter: one set of Numba kernels, compiled once, for every program.

Lanes (input sets) are processed in blocks of BLOCK, numexpr-style: for each block the
forward sweep fills a slot-major register file R[slot, lane] and the reverse sweep
accumulates adjoints G[slot, lane]; both blocks stay in cache, and each instruction's
inner loop runs over the block's lanes, so it vectorises and the dispatch on the opcode
is paid once per block, not once per lane.

Two drivers share that block step:
  batch:  one program, many lanes; inputs arrive as a typed list of 1-D float64 arrays
          (length 1 broadcasts), so a million-lane input is never copied;
  ragged: many programs, each with its own lanes, in one call (`evaluate_many`); all
          inputs, seeds and results live in flat arenas indexed by a per-item table.
Each has a serial kernel and a `prange` kernel over chunks of blocks or items; callers
choose by work size. Every kernel takes fixed dtypes, so each compiles exactly once.

Non-finite results are flagged, not raised: status[...] = (1 value | 2 gradient, lane)
for the first bad lane; the Python side then diagnoses that lane in detail.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
from numba import prange

from engine.sweeps import forward_sweep, reverse_sweep

BLOCK = 256

_kernel = numba.njit(cache=True, nogil=True)
_parallel_kernel = numba.njit(cache=True, nogil=True, parallel=True)

# Numba's default workqueue threading layer aborts the process when two threads enter
# parallel kernels at once; the service runs several threads per worker.
parallel_lock = threading.Lock()

# columns of the ragged kernel's item table
(C_CODE, C_FWD, C_STOP, C_SLOTS, C_LANES, C_K0, C_K1, C_I0, C_I1, C_OUT, C_SEED, C_SEEDLEN,
 C_V0, C_V1, C_VOUT, C_G0, C_G1, C_GOUT) = range(18)
ITEM_COLUMNS = 18


@_kernel
def _first_nonfinite(M, n_slots, n):
    """Lane of the first NaN/inf in M[:n_slots, :n], or -1."""
    acc = 0.0
    for s in range(n_slots):
        for i in range(n):
            acc += M[s, i] * 0.0  # stays 0 unless some entry is inf or NaN; vectorises
    if acc == 0.0:
        return -1
    for i in range(n):
        for s in range(n_slots):
            if not np.isfinite(M[s, i]):
                return i
    return -1


@_kernel
def _check_block(R, G, n_slots, n, lo, status):
    if status[0] != 0:
        return
    bad = _first_nonfinite(R, n_slots, n)
    if bad >= 0:
        status[0] = 1
        status[1] = lo + bad
        return
    bad = _first_nonfinite(G, n_slots, n)
    if bad >= 0:
        status[0] = 2
        status[1] = lo + bad


@_kernel
def _forward_and_clear(code, forward_start, code_stop, R, G, n_slots, n):
    """Forward sweep, then zero the adjoints the reverse sweep accumulates into."""
    forward_sweep(code, forward_start, code_stop, R, n)
    for s in range(n_slots):
        for i in range(n):
            G[s, i] = 0.0


@_kernel
def _batch_blocks(code, forward_start, n_slots, const_slots, const_values, input_slots, inputs,
                  output_slot, seed, value_slots, grad_slots, values_out, grads_out, n_lanes,
                  b0, b1, status):
    """Blocks [b0, b1) of one program. values_out: float64 [len(value_slots), n_lanes]."""
    R = np.empty((n_slots, BLOCK))
    G = np.empty((n_slots, BLOCK))
    n_instr = code.shape[0]
    for blk in range(b0, b1):
        lo = blk * BLOCK
        n = min(BLOCK, n_lanes - lo)
        for j in range(const_slots.shape[0]):
            s = const_slots[j]
            v = const_values[j]
            for i in range(n):
                R[s, i] = v
        for j in range(input_slots.shape[0]):
            x = inputs[j]
            s = input_slots[j]
            if x.shape[0] == 1:
                v = x[0]
                for i in range(n):
                    R[s, i] = v
            else:
                for i in range(n):
                    R[s, i] = x[lo + i]
        _forward_and_clear(code, forward_start, n_instr, R, G, n_slots, n)
        if seed.shape[0] == 1:
            v = seed[0]
            for i in range(n):
                G[output_slot, i] = v
        else:
            for i in range(n):
                G[output_slot, i] = seed[lo + i]
        reverse_sweep(code, 0, n_instr, R, G, n)
        _check_block(R, G, n_slots, n, lo, status)
        for j in range(value_slots.shape[0]):
            s = value_slots[j]
            for i in range(n):
                values_out[j, lo + i] = R[s, i]
        for j in range(grad_slots.shape[0]):
            s = grad_slots[j]
            for i in range(n):
                grads_out[j, lo + i] = G[s, i]


@_kernel
def run_batch(code, forward_start, n_slots, const_slots, const_values, input_slots, inputs,
              output_slot, seed, value_slots, grad_slots, values_out, grads_out, n_lanes, status):
    """Serial: every block of one program. status: int64 [1, 2]."""
    n_blocks = (n_lanes + BLOCK - 1) // BLOCK
    _batch_blocks(code, forward_start, n_slots, const_slots, const_values, input_slots, inputs,
                  output_slot, seed, value_slots, grad_slots, values_out, grads_out, n_lanes,
                  0, n_blocks, status[0])


@_parallel_kernel
def run_batch_parallel(code, forward_start, n_slots, const_slots, const_values, input_slots, inputs,
                       output_slot, seed, value_slots, grad_slots, values_out, grads_out, n_lanes,
                       status):
    """Parallel over chunks of blocks, one register file per chunk. status: int64 [chunks, 2]."""
    n_blocks = (n_lanes + BLOCK - 1) // BLOCK
    n_chunks = status.shape[0]
    for c in prange(n_chunks):
        _batch_blocks(code, forward_start, n_slots, const_slots, const_values, input_slots, inputs,
                      output_slot, seed, value_slots, grad_slots, values_out, grads_out, n_lanes,
                      c * n_blocks // n_chunks, (c + 1) * n_blocks // n_chunks, status[c])


@_kernel
def _ragged_items(code, items, const_slots, const_values, input_slots, input_offsets,
                  input_lengths, arena, seeds, value_slots, grad_slots, out, p0, p1, status,
                  max_slots, max_lanes):
    """Items [p0, p1): each its own program and lanes (see the C_* columns)."""
    width = min(BLOCK, max(max_lanes, 1))
    R = np.empty((max_slots, width))
    G = np.empty((max_slots, width))
    for p in range(p0, p1):
        it = items[p]
        n_slots = it[C_SLOTS]
        n_lanes = it[C_LANES]
        for lo in range(0, n_lanes, width):
            n = min(width, n_lanes - lo)
            for j in range(it[C_K0], it[C_K1]):
                s = const_slots[j]
                v = const_values[j]
                for i in range(n):
                    R[s, i] = v
            for j in range(it[C_I0], it[C_I1]):
                s = input_slots[j]
                off = input_offsets[j]
                if input_lengths[j] == 1:
                    v = arena[off]
                    for i in range(n):
                        R[s, i] = v
                else:
                    for i in range(n):
                        R[s, i] = arena[off + lo + i]
            _forward_and_clear(code, it[C_FWD], it[C_STOP], R, G, n_slots, n)
            out_slot = it[C_OUT]
            if it[C_SEEDLEN] == 1:
                v = seeds[it[C_SEED]]
                for i in range(n):
                    G[out_slot, i] = v
            else:
                for i in range(n):
                    G[out_slot, i] = seeds[it[C_SEED] + lo + i]
            reverse_sweep(code, it[C_CODE], it[C_STOP], R, G, n)
            _check_block(R, G, n_slots, n, lo, status[p])
            base = it[C_VOUT]
            for j in range(it[C_V0], it[C_V1]):
                s = value_slots[j]
                row = base + (j - it[C_V0]) * n_lanes + lo
                for i in range(n):
                    out[row + i] = R[s, i]
            base = it[C_GOUT]
            for j in range(it[C_G0], it[C_G1]):
                s = grad_slots[j]
                row = base + (j - it[C_G0]) * n_lanes + lo
                for i in range(n):
                    out[row + i] = G[s, i]


@_kernel
def run_ragged(code, items, const_slots, const_values, input_slots, input_offsets, input_lengths,
               arena, seeds, value_slots, grad_slots, out, status, max_slots, max_lanes):
    """Serial: every item. status: int64 [n_items, 2]."""
    _ragged_items(code, items, const_slots, const_values, input_slots, input_offsets,
                  input_lengths, arena, seeds, value_slots, grad_slots, out, 0, items.shape[0],
                  status, max_slots, max_lanes)


@_parallel_kernel
def run_ragged_parallel(code, items, const_slots, const_values, input_slots, input_offsets,
                        input_lengths, arena, seeds, value_slots, grad_slots, out, status,
                        max_slots, max_lanes, n_chunks):
    """Parallel over chunks of items, one register file per chunk."""
    n_items = items.shape[0]
    for c in prange(n_chunks):
        _ragged_items(code, items, const_slots, const_values, input_slots, input_offsets,
                      input_lengths, arena, seeds, value_slots, grad_slots, out,
                      c * n_items // n_chunks, (c + 1) * n_items // n_chunks, status,
                      max_slots, max_lanes)


KERNELS = (run_batch, run_batch_parallel, run_ragged, run_ragged_parallel)
