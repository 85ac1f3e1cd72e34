"""Numbers and formulas as a worksheet prints them: Markdown text with LaTeX math.

`num` writes a number as worksheets.numerals shows it; `tex_name` writes
node ids as math symbols (w1 -> w_1); `op_tex` writes one gate applied to its
arguments; `local_tex` writes the local derivative a gate passes back to one input,
the factor the chain rule multiplies by.
"""

from __future__ import annotations

import functools
import re
from string import Template

from engine.ops import OPS_BY_NAME, TEX_ATOM
from worksheets.numerals import show

_NAME = re.compile(r"([A-Za-z]+)_?(\d*)\Z")
_names: dict[str, str] = {}
_SIGNED_MAX = 1 << 16
_signed: dict[float, str] = {}

# The one number policy (worksheets.numerals): every number a worksheet prints.
num = show


def signed(x: float) -> str:
    """`num(x)`, in parentheses when negative, for substituting into a product."""
    text = _signed.get(x)
    if text is None:
        text = num(x)
        if text.startswith("-"):
            text = f"({text})"
        if len(_signed) < _SIGNED_MAX:
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


ATOM = TEX_ATOM


def prec(op: str) -> int:
    """How tightly the op's LaTeX binds, to decide parentheses when formulas are inlined."""
    return OPS_BY_NAME[op].tex_prec


def op_tex(op: str, args: list[str], args_prec: list[int] | None = None,
           numeric: bool = False) -> str:
    """Gate `op` applied to LaTeX `args`. `args_prec` gives each argument's precedence
    (for parentheses); `numeric` says the arguments are numbers, which a product joins
    with \\cdot rather than juxtaposition and a prefix sign takes in parentheses."""
    d = OPS_BY_NAME.get(op)
    if d is None:
        raise ValueError(f"no LaTeX for op {op!r}")
    p = args_prec or [ATOM] * len(args)
    wrap = d.tex_wrap

    def arg(i: int) -> str:
        below = ATOM + 1 if numeric and d.prefix else wrap[min(i, len(wrap) - 1)]
        return f"\\left({args[i]}\\right)" if p[i] < below else args[i]

    if d.tex_join == " + ":
        # a + (-b) reads as a - b when the term is a negation
        return "".join((f" - {a[1:]}" if a.startswith("-") else f" + {a}") if i else a
                       for i, a in enumerate(arg(i) for i in range(len(args))))
    if d.tex_join is not None:
        joiner = d.tex_join
        # juxtaposition (3ab), unless a number would run into the factor before it
        if joiner == " " and (numeric or any(a[0].isdigit() or a[0] == "(" for a in args[1:])):
            joiner = r" \cdot "
        return joiner.join(arg(i) for i in range(len(args)))
    if d.tex is None:
        raise ValueError(f"no LaTeX for op {op!r}")
    return Template(d.tex).substitute(a=arg(0), b=arg(1) if len(args) > 1 else "")


# by (op, arity): an instructor's template may give a sum of any number of terms
@functools.lru_cache(maxsize=1024)
def numeric_op_tex(op: str, arity: int):
    """op_tex(op, args, numeric=True) as a function of the list of `arity` numbers'
    LaTeX alone, the op's joiner, parentheses and template worked out once: a worked
    forward pass writes a gate per node for every student of a class."""
    d = OPS_BY_NAME.get(op)
    if d is None or (d.tex_join is None and d.tex is None):
        raise ValueError(f"no LaTeX for op {op!r}")
    wrap = d.tex_wrap
    # op_tex's arg(i) for a number (precedence ATOM), as a format field
    fields = [(r"\left({%d}\right)" if ATOM < (ATOM + 1 if d.prefix else
                                               wrap[min(i, len(wrap) - 1)]) else "{%d}") % i
              for i in range(arity)]
    if d.tex_join == " + ":
        if any(f != "{%d}" % i for i, f in enumerate(fields)):
            return lambda args: op_tex(op, args, numeric=True)
        return _numeric_sum
    if d.tex_join is not None:
        # numbers are joined with \cdot, never juxtaposed
        joiner = r" \cdot " if d.tex_join == " " else d.tex_join
        fmt = _braces(joiner).join(fields)
    else:
        # the template with a mark for each argument, then the marks made fields
        marks = ["\x00%d\x00" % i for i in range(arity)]
        fmt = _braces(Template(d.tex).substitute(a=marks[0], b=marks[1] if arity > 1 else ""))
        for mark, f in zip(marks, fields):
            fmt = fmt.replace(mark, f)
    return lambda args: fmt.format(*args)


def _braces(text: str) -> str:
    """`text` as the literal part of a format string."""
    return text.replace("{", "{{").replace("}", "}}")


def _numeric_sum(args: list) -> str:
    # op_tex's sum: a + (-b) reads as a - b when the term is a negation
    out = args[0]
    for a in args[1:]:
        out += f" - {a[1:]}" if a.startswith("-") else f" + {a}"
    return out


def shown(node) -> tuple[str, tuple]:
    """(op, inputs) as a worksheet shows the node: u^2 as the square it lowers to."""
    if node.op == "pow" and node.inputs[1] == 2.0:
        return "square", node.inputs[:1]
    return node.op, node.inputs


def ref_tex(ref) -> str:
    """A node input (a name or a constant) as LaTeX."""
    return tex_name(ref) if isinstance(ref, str) else signed(ref)


def node_tex(node) -> str:
    """A node's definition in terms of its inputs' names: q = 3ab -> "3 a b"."""
    op, inputs = shown(node)
    return op_tex(op, [ref_tex(r) for r in inputs])


def inline_tex(graph) -> str:
    """The graph's output as one formula, every node inlined: (3ab)^2 + cd."""
    texts: dict[str, tuple[str, int]] = {}
    for node in graph.nodes:
        op, inputs = shown(node)
        args, precs = [], []
        for r in inputs:
            if isinstance(r, str):
                t, p = texts.get(r, (tex_name(r), ATOM))
            else:
                t, p = signed(r), ATOM
            args.append(t)
            precs.append(p)
        texts[node.id] = (op_tex(op, args, precs), prec(op))
    return texts[graph.output][0] if graph.output in texts else tex_name(graph.output)


def local_tex(node, k: int, ref=ref_tex, y: str | None = None) -> str:
    """The symbolic local derivative d node / d input k, in the names of the graph:
    mul(a, b) -> b for k = 0, sigmoid(z) as h -> h(1 - h). `ref` writes an input and
    `y` the node itself where a graph writes some nodes as expressions, parenthesised
    unless atomic (default: their names)."""
    op, refs = shown(node)[0], node.inputs
    y = tex_name(node.id) if y is None else y
    a = ref(refs[0])
    if op == "mul":
        others = [ref(r) for i, r in enumerate(refs) if i != k]
        return op_tex("mul", others)
    if op == "pow":
        p = refs[1]
        return f"{num(p)} {a}^{{{num(p - 1)}}}"
    local = OPS_BY_NAME[op].tex_local
    if local is not None:
        b = ref(refs[1]) if len(refs) > 1 else ""
        return Template(local[min(k, len(local) - 1)]).substitute(a=a, b=b, y=y)
    raise ValueError(f"no local derivative text for op {op!r}")

