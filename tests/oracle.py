"""An independent reference for the engine's numbers.

Forward values come from plain Python (`math`/`cmath`), op by op, written here without
looking at engine/ops.py; derivatives come from complex-step differentiation (exact to
rounding for analytic ops) or central finite differences (for relu, abs, max, min away
from their kinks). Nothing here calls the engine's kernels or its derivative functions.
"""

from __future__ import annotations

import cmath
import math

# Plain forward functions. They accept complex arguments where the op is analytic.


def _sigmoid(a):
    return 1 / (1 + cmath.exp(-a)) if isinstance(a, complex) else 1 / (1 + math.exp(-a))


def _softplus(a):
    return cmath.log(1 + cmath.exp(a)) if isinstance(a, complex) else math.log1p(math.exp(a))


def _logsigmoid(a):
    return -_softplus(-a)


def _sqrt(a):
    return cmath.sqrt(a) if isinstance(a, complex) else math.sqrt(a)


def _exp(a):
    return cmath.exp(a) if isinstance(a, complex) else math.exp(a)


def _log(a):
    return cmath.log(a) if isinstance(a, complex) else math.log(a)


def _tanh(a):
    return cmath.tanh(a) if isinstance(a, complex) else math.tanh(a)


def _real(a):
    return a.real if isinstance(a, complex) else a


REFERENCE = {
    "add": lambda *xs: sum(xs[1:], xs[0]),
    "mul": lambda *xs: _product(xs),
    "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b,
    "neg": lambda a: -a,
    "square": lambda a: a * a,
    "pow": lambda a, p: a ** p,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "abs": lambda a: abs(a) if not isinstance(a, complex) else (a if a.real >= 0 else -a),
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "relu": lambda a: a if _real(a) > 0 else 0 * a,
    "softplus": _softplus,
    "logsigmoid": _logsigmoid,
    "max": lambda a, b: a if _real(a) >= _real(b) else b,
    "min": lambda a, b: a if _real(a) <= _real(b) else b,
}

# Ops whose complex extension is analytic, so that complex-step differentiation gives
# their derivative (abs, relu, max and min have kinks: a test falls back to central
# differences for graphs that use them)
ANALYTIC = {"add", "mul", "sub", "div", "neg", "square", "pow", "exp", "log", "sqrt", "sigmoid",
            "tanh", "softplus", "logsigmoid"}

def _product(xs):
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


def forward(graph, inputs: dict) -> dict:
    """Every node's value (and the inputs'), by plain Python, in the graph's node order."""
    env = dict(inputs)
    for node in graph.nodes:
        args = [env[r] if isinstance(r, str) else r for r in node.inputs]
        env[node.id] = REFERENCE[node.op](*args)
    return env


def _step(x: float, h: float) -> float:
    # The step must be tiny next to the value itself: at x = 1e-55 (or 1e-232), sqrt's
    # derivative changes on the scale of x, so a fixed step would be far too coarse.
    # Complex step has no cancellation, so a step 1e-20 of the value loses nothing.
    if x == 0:
        return h
    return max(abs(x) * 1e-20, 1e-300)


def complex_step_gradients(graph, inputs: dict, h: float = 1e-30) -> dict:
    """d output / d input for every input, by complex step (analytic graphs only)."""
    grads = {}
    for name in graph.inputs:
        step = _step(inputs[name], h)
        shifted = dict(inputs)
        shifted[name] = complex(inputs[name], step)
        grads[name] = forward(graph, shifted)[graph.output].imag / step
    return grads


def node_gradients_complex_step(graph, inputs: dict, h: float = 1e-30) -> dict:
    """d output / d node for every node, by perturbing that node's value by i*h."""
    grads = {}
    for target in graph.nodes:
        env = dict(inputs)
        step = h
        for node in graph.nodes:
            args = [env[r] if isinstance(r, str) else r for r in node.inputs]
            env[node.id] = REFERENCE[node.op](*args)
            if node.id == target.id:
                step = _step(env[node.id], h)
                env[node.id] = env[node.id] + 1j * step
        out = env[graph.output]
        grads[target.id] = (out.imag if isinstance(out, complex) else 0.0) / step
    return grads


def central_gradients(graph, inputs: dict, h: float = 1e-6) -> dict:
    """d output / d input for every input, by central differences with a relative step."""
    grads = {}
    for name in graph.inputs:
        x = inputs[name]
        step = h * max(1.0, abs(x))
        up, down = dict(inputs), dict(inputs)
        up[name] = x + step
        down[name] = x - step
        grads[name] = (forward(graph, up)[graph.output] - forward(graph, down)[graph.output]) / (2 * step)
    return grads



def local_derivatives(graph, inputs: dict, h: float = 1e-30) -> list:
    """d node / d operand for every node and every operand that is a name, by complex
    step through that one op at the operands' plain-Python values."""
    env = forward(graph, inputs)
    out = []
    for node in graph.nodes:
        args = [env[r] if isinstance(r, str) else r for r in node.inputs]
        for k, r in enumerate(node.inputs):
            if isinstance(r, str):
                step = _step(args[k], h)
                shifted = list(args)
                shifted[k] = complex(args[k], step)
                y = REFERENCE[node.op](*shifted)
                out.append((y.imag if isinstance(y, complex) else 0.0) / step)
    return out


def bounded(graph, inputs: dict, limit: float = 1e8) -> bool:
    """Whether plain Python finds every value at `inputs` real and finite, and every
    gradient (of each node and input) and every local derivative finite and below
    `limit` in size: a point where the engine has no reason to report a non-finite
    result. (A local derivative of inf times an upstream 0 is NaN, as in PyTorch, even
    where the gradient through the whole graph is finite.)"""
    try:
        env = forward(graph, inputs)
        if any(isinstance(v, complex) or not math.isfinite(v) for v in env.values()):
            return False
        grads = [*node_gradients_complex_step(graph, inputs).values(),
                 *complex_step_gradients(graph, inputs).values(),
                 *local_derivatives(graph, inputs)]
    except (ValueError, ZeroDivisionError, OverflowError):
        return False
    return all(math.isfinite(g) and abs(g) < limit for g in grads)


# An answer key stores each value to 12 significant digits (worksheets.numerals): it
# holds the oracle's value within half a unit in the 12th digit, on top of whatever a
# comparison allows for the arithmetic.
KEY_REL = 5e-12
