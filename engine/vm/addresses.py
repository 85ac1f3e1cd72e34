"""Raw row addresses, for the batch kernel.

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
at lanes [0, n) of a row that has at least n lanes from there. engine.vm.kernels is the only user.

`stream_line` and `store_fence` write large results with non-temporal stores, which
send a whole cache line to memory without reading it first.
"""

from __future__ import annotations

from numba.core import types
from numba.extending import intrinsic


@intrinsic
def row_at(typingctx, address):
    """float64* at an int64 address."""
    if not isinstance(address, types.Integer):
        return None
    sig = types.CPointer(types.float64)(address)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


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
