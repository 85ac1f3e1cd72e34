"""Raw row addresses, for the kernels, and C kernels called by address.

The batch kernel (engine.vm.run_batch) lets an instruction read its operands straight
from the caller's input arrays and write its results straight into the output arrays,
next to the rows of its scratch register block, with no copy passes between them.
Those rows live in different arrays, so an instruction names each row by its address
(an int64, from `array.ctypes.data` plus an offset) and the sweeps turn the address back
into a pointer with `row_at`. A pointer indexed by a lane has no bounds or wraparound
check, and a row read and written through the same pointer vectorises in place.

The rule that makes this safe: an address may only point into an array that the kernel
or its caller holds a reference to for as long as the address is used (the caller's
arrays, or a scratch array the kernel keeps alive by using it after the sweeps), and only
at lanes [0, n) of a row that has at least n lanes from there. engine.vm.kernels and the
sweeps it calls (engine.vm.cases) are the only users.

`stream_line` and `store_fence` write large results with non-temporal stores, which
send a whole cache line to memory without reading it first.
"""

from __future__ import annotations

import threading

import numba
from numba.core import types
from numba.extending import intrinsic


def _pointer_at(item):
    """An intrinsic taking an int64 address to a pointer to `item`s there."""
    @intrinsic
    def at(typingctx, address):
        if not isinstance(address, types.Integer):
            return None
        sig = types.CPointer(item)(address)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

        return sig, codegen

    return at


row_at = _pointer_at(types.float64)  # float64* at an int64 address: a row
int32s_at = _pointer_at(types.int32)  # int32* at an int64 address
int64s_at = _pointer_at(types.int64)  # int64* at an int64 address


@intrinsic
def call_at(typingctx, address, args):
    """Calls the C function at `address` (a CKernel's) with the int64s of the tuple
    `args`; returns its int64. The call goes through the pointer, so the caller's
    machine code does not contain the callee's."""
    if not (isinstance(address, types.Integer) and isinstance(args, types.UniTuple)
            and args.dtype == types.int64):
        return None
    sig = types.int64(address, args)

    def codegen(context, builder, signature, llargs):
        from llvmlite import ir
        word = ir.IntType(64)
        function = builder.inttoptr(llargs[0], ir.FunctionType(word, [word] * args.count).as_pointer())
        return builder.call(function, [builder.extract_value(llargs[1], j) for j in range(args.count)])

    return sig, codegen


class CKernel:
    """A Python function of int64 arguments returning an int64, compiled on first use
    into a C function (numba.cfunc, in the kernel cache) whose address kernels call with
    `call_at`.

    Why not an ordinary njit call: Numba links a callee's code into every caller and
    optimises and generates machine code for it again there. The interpreter's sweeps
    are the bulk of the kernels' code (one case per op), and linked into the batch
    and ragged kernels, and the helpers between, they were compiled four to five times
    over: most of a cold compile. Called by address, each sweep is compiled once and
    shared; the indirect call costs nanoseconds per block or item."""

    def __init__(self, func):
        self.py_func = func
        self.__name__, self.__doc__ = func.__name__, func.__doc__
        self._compiled = None
        self._lock = threading.Lock()

    @property
    def address(self) -> int:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    argc = self.py_func.__code__.co_argcount
                    sig = types.int64(*[types.int64] * argc)
                    self._compiled = numba.cfunc(sig, cache=True, error_model="numpy")(self.py_func)
        return self._compiled.address


@intrinsic
def stream_line(typingctx, dst, src):
    """Copies the 64 bytes (8 float64) at address src to address dst, which must be
    64-byte aligned, with a non-temporal store: the line goes to memory without first
    being read into cache (a plain store reads it: 40 MB of results cost 80 MB of
    traffic). Callers check the alignment and call store_fence after the last one."""
    if not (isinstance(dst, types.Integer) and isinstance(src, types.Integer)):
        return None
    sig = types.void(dst, src)

    def codegen(context, builder, signature, args):
        from llvmlite import ir
        line = ir.VectorType(ir.DoubleType(), 8).as_pointer()
        value = builder.load(builder.inttoptr(args[1], line), align=8)
        store = builder.store(value, builder.inttoptr(args[0], line), align=64)
        store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def store_fence(typingctx):
    """Orders every earlier store, non-temporal ones included, before any later one."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen
