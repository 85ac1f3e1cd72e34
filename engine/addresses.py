"""Raw row addresses, for the batch kernel.

The batch kernel (engine.vm.run_batch) lets an instruction read its operands straight
from the caller's input arrays and write its results straight into the output arrays,
next to the rows of its scratch register block, with no copy passes between them.
Those rows live in different arrays, so an instruction names each row by its address
(an int64, from `array.ctypes.data` plus an offset) and the sweeps turn the address back
into a pointer with `row_at`. A pointer indexed by a lane has no bounds or wraparound
check, and a row read and written through the same pointer vectorises in place.

The rule that makes this safe: an address may only point into an array that the kernel
holds a reference to for as long as the address is used (its arguments, or a scratch
array it keeps alive by using it after the sweeps), and only at lanes [0, n) of a row
that has at least n lanes from there. engine.vm is the only user.
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

