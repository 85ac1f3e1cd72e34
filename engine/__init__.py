"""gradsheet's engine: graphs lowered to flat programs that Numba kernels evaluate
forward and in reverse, batched over input sets and over many graphs at once.

    >>> import engine
    >>> ev = engine.evaluate("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    >>> ev.value, ev.gradients["x"], ev.gradients["z"]
    (-12.0, -4.0, 3.0)
    >>> engine.conv_geometry(10, 7, padding=3, stride=3).centers
    [0, 3, 6, 9]
"""

# First: it decides where Numba caches kernels, which Numba reads as each is defined.
from engine import kernel_cache as _kernel_cache  # noqa: F401
from engine.conv import conv1d, conv1d_backward, conv1d_many
from engine.errors import ArgumentError, GraphError, NonFiniteError
from engine.evaluation import Evaluation, evaluate, evaluate_many
from engine.conv.geometry import ConvGeometry, conv_geometry
from engine.graph import Graph, Limits, Node
from engine import spec as _spec  # noqa: F401  (attaches Graph.from_spec)
from engine.lowering import Program, lower
from engine.ops import OPS, OpDef
from engine.parser import parse

__all__ = [
    "ArgumentError",
    "GraphError", "NonFiniteError", "Evaluation", "evaluate", "evaluate_many", "Graph", "Limits",
    "Node", "Program", "lower", "OPS", "OpDef", "parse",
    "ConvGeometry", "conv_geometry", "conv1d", "conv1d_backward", "conv1d_many",
]
