"""Numbers and formulas as a worksheet prints them: Markdown text with LaTeX math.

`num` rounds for display only (answer keys keep full precision); `tex_name` writes
node ids as math symbols (w1 -> w_1); `op_tex` writes one gate applied to its
arguments; `local_tex` writes the local derivative a gate passes back to one input,
the factor the chain rule multiplies by.
"""

from __future__ import annotations

import re
from string import Template

from engine.ops import OPS_BY_NAME

_NAME = re.compile(r"([A-Za-z]+)_?(\d*)\Z")
_names: dict[str, str] = {}
_SHOWN_MAX = 1 << 16
_shown: dict[float, str] = {}
_signed: dict[float, str] = {}


def num(x: float, places: int = 4) -> str:
    """`x` for display: whole numbers without a point, others to `places` decimals with
    trailing zeros dropped, and never "-0"."""
    if places == 4:
        # A set shows the same small numbers thousands of times: format each once.
        text = _shown.get(x)
        if text is not None:
            return text
    if x == int(x) and abs(x) < 1e15:
        text = str(int(x))
    elif abs(x) < 10 ** -places:
        text = f"{x:.{places}g}" if x else "0"
    else:
        text = f"{x:.{places}f}".rstrip("0").rstrip(".")
        if text == "-0":
            text = "0"
    if places == 4 and len(_shown) < _SHOWN_MAX:
        _shown[x] = text
    return text


def signed(x: float) -> str:
    """`num(x)`, in parentheses when negative, for substituting into a product."""
    text = _signed.get(x)
    if text is None:
        text = num(x)
        if text.startswith("-"):
            text = f"({text})"
        if len(_signed) < _SHOWN_MAX:
            _signed[x] = text
    return text


def tex_name(name: str) -> str:
    """A node id or input name as a math symbol: x -> x, w1 -> w_1, add2 -> \\mathrm{add}_2."""
    out = _names.get(name)
    if out is None:
        m = _NAME.match(name)
        if m is None:
            escaped = name.replace("_", "\\_")
            out = rf"\mathrm{{{escaped}}}"
        else:
            letters, digits = m.groups()
            base = letters if len(letters) == 1 else rf"\mathrm{{{letters}}}"
            out = f"{base}_{{{digits}}}" if digits else base
        _names[name] = out
    return out


def partial(of: str, wrt: str) -> str:
    return rf"\frac{{\partial {tex_name(of)}}}{{\partial {tex_name(wrt)}}}"


# How tightly each op's LaTeX binds, to decide parentheses when formulas are inlined.
_PREC = {"add": 1, "sub": 1, "neg": 2, "mul": 3, "div": 4, "square": 5, "pow": 5}
ATOM = 9


def prec(op: str) -> int:
    return _PREC.get(op, ATOM)


def op_tex(op: str, args: list[str], args_prec: list[int] | None = None,
           numeric: bool = False) -> str:
    """Gate `op` applied to LaTeX `args`. `args_prec` gives each argument's precedence
    (for parentheses); `numeric` joins a product with \\cdot rather than juxtaposition."""
    p = args_prec or [ATOM] * len(args)

    def wrap(i: int, below: int) -> str:
        return f"\\left({args[i]}\\right)" if p[i] < below else args[i]

    if op == "add":
        # a + (-b) reads as a - b when the term is a negation
        return "".join((f" - {a[1:]}" if a.startswith("-") else f" + {a}") if i else a
                       for i, a in enumerate(args))
    if op == "sub":
        return f"{args[0]} - {wrap(1, 2)}"
    if op == "mul":
        joiner = r" \cdot " if numeric else " "
        if not numeric and any(a[0].isdigit() or a[0] == "(" for a in args[1:]):
            joiner = r" \cdot "
        return joiner.join(wrap(i, 3) for i in range(len(args)))
    if op == "div":
        return rf"\frac{{{args[0]}}}{{{args[1]}}}"
    if op == "neg":
        return f"-{wrap(0, 3)}"
    if op == "square":
        return f"{wrap(0, ATOM)}^2"
    if op == "pow":
        return f"{wrap(0, ATOM)}^{{{args[1]}}}"
    template = OPS_BY_NAME[op].tex if op in OPS_BY_NAME else None
    if template is None:
        raise ValueError(f"no LaTeX for op {op!r}")
    return Template(template).substitute(a=args[0], b=args[1] if len(args) > 1 else "")


def ref_tex(ref) -> str:
    """A node input (a name or a constant) as LaTeX."""
    return tex_name(ref) if isinstance(ref, str) else signed(ref)


def node_tex(node) -> str:
    """A node's definition in terms of its inputs' names: q = 3ab -> "3 a b"."""
    args = [ref_tex(r) for r in node.inputs]
    if node.op == "pow" and node.inputs[1] == 2.0:
        return op_tex("square", args[:1])
    return op_tex(node.op, args)


def inline_tex(graph) -> str:
    """The graph's output as one formula, every node inlined: (3ab)^2 + cd."""
    texts: dict[str, tuple[str, int]] = {}
    for node in graph.nodes:
        args, precs = [], []
        for r in node.inputs:
            if isinstance(r, str):
                t, p = texts.get(r, (tex_name(r), ATOM))
            else:
                t, p = signed(r), ATOM
            args.append(t)
            precs.append(p)
        op = node.op
        if op == "pow" and node.inputs[1] == 2.0:
            op, args, precs = "square", args[:1], precs[:1]
        texts[node.id] = (op_tex(op, args, precs), prec(op))
    return texts[graph.output][0] if graph.output in texts else tex_name(graph.output)


def local_tex(node, k: int) -> str:
    """The symbolic local derivative d node / d input k, in the names of the graph:
    mul(a, b) -> b for k = 0, sigmoid(z) as h -> h(1 - h)."""
    op, refs = node.op, node.inputs
    y = tex_name(node.id)
    a = ref_tex(refs[0])
    if op == "mul":
        others = [ref_tex(r) for i, r in enumerate(refs) if i != k]
        return op_tex("mul", others)
    if op == "pow" and refs[1] == 2.0:
        op = "square"
    if op == "pow":
        p = refs[1]
        return f"{num(p)} {a}^{{{num(p - 1)}}}"
    local = OPS_BY_NAME[op].tex_local if op in OPS_BY_NAME else None
    if local is not None:
        b = ref_tex(refs[1]) if len(refs) > 1 else ""
        return Template(local[min(k, len(local) - 1)]).substitute(a=a, b=b, y=y)
    raise ValueError(f"no local derivative text for op {op!r}")

