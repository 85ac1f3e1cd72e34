"""Instructor-written problem templates: a graph or a convolution, random parameters,
what to ask, and conditions on the key. The engine derives every value, gradient and
step, so a template holds no answer code.

    id: tanh-neuron
    graph: "z = w*x + b; h = tanh(z); f = h*y"
    params: {w: {choice: [-1, 0.5]}, x: {int: [-3, 3], nonzero: true},
             b: {decimal: [-1, 1], step: 0.1}, y: {int: [1, 4]}}
    ask: {values: [z, h, f], gradients: [w, x, b], step: {wrt: [w, b], learning_rate: 0.1}}
    require: ["abs(df/dw) >= 0.01", "h != 0"]

A file (YAML or JSON, read with PyYAML's safe loader) holds one template, a list of
them, or {templates: [...]}. Every fault is a TemplateError naming the field
(`params.x.int`) and, for a file, its line and column.

Conditions are `<expr> <cmp> <expr>` with cmp one of < <= > >= == !=; each side is an
expression of the engine's language over the graph's names (their values), and the
gradient of the output f with respect to a name v, written `grad(v)`, `df/dv` or
`d_f_d_v`. A conv template's conditions read width, filter, padding, stride, dilation
and output_size. Nothing is evaluated by Python's eval: each side is parsed and
evaluated by the engine.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import re
from dataclasses import dataclass, field
from importlib import resources

import orjson
import yaml

import engine
from engine.errors import GraphError
from engine.graph import suggest
from worksheets.errors import ProblemSetError

ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
MAX_TEMPLATE_CHARS = 64_000
MAX_YAML_NODES = 5_000
MAX_CHOICES = 1_000
MAX_DRAWS = 200            # draws of one variant before it is reported as impossible
STRESS_VARIANTS = 1_000
MAX_TEMPLATE_NODES = 200   # a worksheet's graph; bounds the cost of a template's stress test
MAX_TEMPLATES = 50
MAX_REJECTED_SHARE = 0.5
DEFAULT_PRECISION = 3
HASH_HEX_DIGITS = 16

CONV_FIELDS = ("width", "filter", "padding", "stride", "dilation")
CONV_ASKS = ("output_size", "windows", "centers", "same_padding", "output", "grad_input",
             "grad_weight")
NUMERIC_ASKS = ("output", "grad_input", "grad_weight")
CONV_LISTS = {"input": {"int": [-3, 3]}, "weight": {"int": [-2, 2], "nonzero": True},
              "grad_output": {"int": [-2, 2], "nonzero": True}}
GRAPH_KEYS = ("id", "title", "graph", "params", "ask", "upstream", "require", "points",
              "text", "precision")
CONV_KEYS = ("id", "title", "conv", "ask", "require", "points", "text", "precision")
COMPARISONS = ("<=", ">=", "!=", "==", "<", ">")
_COMPARISON = re.compile(r"<=|>=|!=|==|<|>")


class TemplateError(ProblemSetError):
    """A template that cannot be used: `path` is the field (`params.x.int`), `line` and
    `column` (1-based) its place in the file when it came from one."""

    def __init__(self, message: str, *, path: str, line: int | None = None,
                 column: int | None = None, source: str | None = None):
        super().__init__(message, path=path)
        self.line, self.column, self.source = line, column, source

    def __str__(self) -> str:
        where = self.source or "template"
        if self.line is not None:
            where += f", line {self.line}, column {self.column}"
        return f"{where}: {self.path}: {self.message}"


# -- reading a file with its marks --------------------------------------------------------

class _Marks:
    """Field path -> (line, column) of a document, and the errors that use them."""

    def __init__(self, source: str | None, marks: dict | None = None, prefix: str = ""):
        self.source, self.marks, self.prefix = source, marks or {}, prefix

    def at(self, prefix: str) -> "_Marks":
        return _Marks(self.source, self.marks, prefix)

    def error(self, message: str, path: str) -> TemplateError:
        full = f"{self.prefix}.{path}" if self.prefix and path else (self.prefix or path)
        # the nearest field that has a mark: params.x.int[1] -> params.x.int -> params.x
        probe = full
        while probe and probe not in self.marks:
            shorter = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", probe)
            probe = "" if shorter == probe else shorter
        line, column = self.marks.get(probe, (None, None))
        return TemplateError(message, path=full or "template", line=line, column=column,
                             source=self.source)


def _plain(node, path: str, marks: dict, budget: list, loader) -> object:
    """A composed YAML node as plain data, each field's mark recorded under its path.
    Aliases are walked again, so a billion-laughs document runs out of `budget`."""
    budget[0] -= 1
    if budget[0] < 0:
        raise TemplateError(f"the document has more than {MAX_YAML_NODES} values",
                            path=path or "template")
    marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise TemplateError("a key must be a plain name", path=path or "template",
                                    line=key_node.start_mark.line + 1,
                                    column=key_node.start_mark.column + 1)
            key = key_node.value
            sub = f"{path}.{key}" if path else key
            marks[sub] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _plain(value_node, sub, marks, budget, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v, f"{path}[{i}]", marks, budget, loader)
                for i, v in enumerate(node.value)]
    # a scalar, its tag already resolved by compose: int, float, bool, null or str
    return loader.construct_object(node)


def read_documents(text: str, source: str | None = None) -> tuple[list, _Marks]:
    """(template mappings, marks) of a YAML or JSON text."""
    if not isinstance(text, str):
        raise TemplateError("a template file must be text", path="template", source=source)
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"is {len(text)} characters long; the limit is "
                            f"{MAX_TEMPLATE_CHARS}", path="template", source=source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise TemplateError(f"not valid YAML: {exc.problem or exc.context}", path="template",
                            line=mark.line + 1 if mark else None,
                            column=mark.column + 1 if mark else None, source=source) from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"not valid YAML: {exc}", path="template", source=source) from None
    if root is None:
        raise TemplateError("the file is empty", path="template", source=source)
    marks: dict = {}
    loader = yaml.SafeLoader("")
    try:
        data = _plain(root, "", marks, [MAX_YAML_NODES], loader)
    except TemplateError as exc:
        exc.source = source
        raise
    finally:
        loader.dispose()
    return split_templates(data, _Marks(source, marks))


def split_templates(data, marks: _Marks) -> tuple[list, _Marks]:
    """[(template mapping, marks at its prefix)] of one template, a list or {templates}."""
    if isinstance(data, dict) and set(data) == {"templates"}:
        data, prefix = data["templates"], "templates"
    elif isinstance(data, dict):
        return [(data, marks.at(""))], marks
    else:
        prefix = ""
    if not isinstance(data, list) or not data:
        raise marks.at("").error("must be a template (a mapping), a list of templates or "
                                 "{templates: [...]}", prefix or "")
    return [(t, marks.at(f"{prefix}[{i}]")) for i, t in enumerate(data)], marks


# -- parameters ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    """One random number: `kind` "const", "choice", "int" or "decimal"."""

    name: str
    kind: str
    values: tuple = ()
    lo: float = 0
    hi: float = 0
    step: float = 1
    nonzero: bool = False

    def draw(self, rng):
        if self.kind == "const":
            return self.values[0]
        if self.kind == "choice":
            return rng.choice(self.values)
        if self.kind == "int":
            lo, hi = int(self.lo), int(self.hi)
            if self.nonzero and lo < 0 < hi:
                return rng.nonzero(lo, hi)
            if self.nonzero and lo == 0:
                return rng.integer(1, hi)
            if self.nonzero and hi == 0:
                return rng.integer(lo, -1)
            return rng.integer(lo, hi)
        return rng.decimal(self.lo, self.hi, self.step, nonzero=self.nonzero)

    @property
    def decimals(self) -> int:
        """The most decimals a drawn value prints with."""
        if self.kind == "int":
            return 0
        if self.kind == "decimal":
            return decimals_of(self.step)
        return max(decimals_of(v) for v in self.values)


def decimals_of(x) -> int:
    if isinstance(x, int):
        return 0
    text = repr(float(x))
    if "e" in text:
        mantissa, exponent = text.split("e")
        return max(0, len(mantissa.split(".")[1].rstrip("0")) - int(exponent)) \
            if "." in mantissa else max(0, -int(exponent))
    return len(text.split(".")[1].rstrip("0"))


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _unknown_key(marks: _Marks, key, known, path: str) -> TemplateError:
    return marks.error(f"unknown field {key!r}{suggest(str(key), known)} (fields: "
                       f"{', '.join(known)})", f"{path}.{key}" if path else str(key))


def read_param(name: str, spec, marks: _Marks, path: str, integer: bool = False) -> Param:
    """A parameter from its spec: a number, {choice: [...]}, {int: [lo, hi]} or
    {decimal: [lo, hi], step}; `integer` when only whole numbers fit (a conv size)."""
    if _is_number(spec):
        if integer and not _is_int(spec):
            raise marks.error(f"must be a whole number, not {spec!r}", path)
        return Param(name, "const", (spec,))
    if not isinstance(spec, dict):
        raise marks.error("must be a number or one of {choice: [...]}, {int: [lo, hi]}, "
                          "{decimal: [lo, hi], step: s}", path)
    kinds = [k for k in ("choice", "int", "decimal") if k in spec]
    allowed = {"choice": ("choice",), "int": ("int", "nonzero"),
               "decimal": ("decimal", "step", "nonzero")}
    if len(kinds) != 1:
        for key in spec:
            if key not in ("choice", "int", "decimal", "step", "nonzero"):
                raise _unknown_key(marks, key, ("choice", "int", "decimal", "step", "nonzero"),
                                   path)
        raise marks.error("give exactly one of choice, int or decimal", path)
    kind = kinds[0]
    for key in spec:
        if key not in allowed[kind]:
            raise _unknown_key(marks, key, allowed[kind], path)
    nonzero = spec.get("nonzero", False)
    if not isinstance(nonzero, bool):
        raise marks.error("must be true or false", f"{path}.nonzero")
    value = spec[kind]
    here = f"{path}.{kind}"
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise marks.error("must be a non-empty list of numbers", here)
        if len(value) > MAX_CHOICES:
            raise marks.error(f"lists {len(value)} numbers; the limit is {MAX_CHOICES}", here)
        for i, v in enumerate(value):
            if not _is_number(v) or (integer and not _is_int(v)):
                want = "a whole number" if integer else "a number"
                raise marks.error(f"must be {want}, not {v!r}", f"{here}[{i}]")
        return Param(name, "choice", tuple(value))
    if (not isinstance(value, list) or len(value) != 2
            or not all(_is_number(v) for v in value)):
        raise marks.error("must be [lowest, highest], two numbers", here)
    lo, hi = value
    if lo > hi:
        raise marks.error(f"the lowest value {lo} is above the highest {hi}", here)
    if kind == "int":
        for i, v in enumerate(value):
            if not _is_int(v):
                raise marks.error(f"must be a whole number, not {v!r}", f"{here}[{i}]")
        if nonzero and lo == hi == 0:
            raise marks.error("[0, 0] holds no non-zero number", here)
        if hi - lo > 10 ** 9:
            raise marks.error("the range is wider than 10^9", here)
        return Param(name, "int", lo=lo, hi=hi, nonzero=nonzero)
    if integer:
        raise marks.error("must draw whole numbers: use int or choice", here)
    step = spec.get("step", 0.1)
    if not _is_number(step) or step <= 0:
        raise marks.error(f"must be a positive number, not {step!r}", f"{path}.step")
    if (hi - lo) / step > 10 ** 9:
        raise marks.error("the range holds more than 10^9 steps", f"{path}.step")
    for i, v in enumerate(value):
        if abs(v / step - round(v / step)) > 1e-9:
            raise marks.error(f"{v} is not a multiple of the step {step}", f"{here}[{i}]")
    if nonzero and lo == hi == 0:
        raise marks.error("[0, 0] holds no non-zero number", here)
    return Param(name, "decimal", lo=lo, hi=hi, step=step, nonzero=nonzero)


# -- conditions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    """`left cmp right`; each side a number or a graph the engine evaluates."""

    text: str
    path: str
    left: object
    cmp: str
    right: object

    def holds(self, env: dict) -> bool:
        """Whether the condition holds for the variables in `env`; False when a side is
        not a finite number there."""
        a, b = side_value(self.left, env), side_value(self.right, env)
        if a is None or b is None:
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
                "!=": a != b}[self.cmp]


def side_value(side, env: dict) -> float | None:
    if isinstance(side, float):
        return side
    if not side.nodes:  # a bare name
        return env[side.output]
    try:
        return engine.evaluate(side, {n: env[n] for n in side.inputs},
                               intermediates=False).value
    except GraphError:
        return None


def gradient_variable(output: str, name: str) -> str:
    return f"d_{output}_d_{name}"


def read_condition(text, path: str, marks: _Marks, variables: dict[str, str],
                   output: str | None) -> Condition:
    """A condition, its names checked against `variables` (name -> what it is)."""
    if not isinstance(text, str) or not text.strip():
        raise marks.error('must be a condition such as "abs(df/dw) >= 0.01"', path)
    depth, found = 0, []
    i = 0
    while i < len(text):
        ch = text[i]
        depth += ch == "("
        depth -= ch == ")"
        m = _COMPARISON.match(text, i) if depth == 0 else None
        if m:
            found.append(m)
            i = m.end()
        else:
            i += 1
    if len(found) != 1:
        what = "no comparison" if not found else f"{len(found)} comparisons"
        raise marks.error(f"{text!r} has {what}; a condition is <expr> <cmp> <expr> with cmp "
                          f"one of {' '.join(COMPARISONS)}", path)
    m = found[0]
    sides = []
    for part, offset in ((text[:m.start()], 0), (text[m.end():], m.end())):
        sides.append(_read_side(part, offset, text, path, marks, variables, output))
    return Condition(text, path, sides[0], m.group(), sides[1])


_GRAD_CALL = re.compile(r"\bgrad\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)")


def _read_side(part: str, offset: int, text: str, path: str, marks: _Marks,
               variables: dict, output: str | None):
    if not part.strip():
        raise marks.error(f"{text!r}: a side of the comparison is empty", path)
    try:
        return float(part)
    except ValueError:
        pass
    source = part
    if output is not None:
        source = _GRAD_CALL.sub(lambda m: gradient_variable(output, m.group(1)), source)
        # df/dw: only when d<output> is not itself a name of the graph
        if f"d{output}" not in variables:
            source = re.sub(rf"\bd{re.escape(output)}\s*/\s*d([A-Za-z_][A-Za-z0-9_]*)\b",
                            lambda m: gradient_variable(output, m.group(1)), source)
    try:
        side = engine.parse(source)
    except GraphError as exc:
        where = f" at column {offset + exc.column}" if exc.column and source == part else ""
        raise marks.error(f"{text!r}: {exc.message}{where}", path) from None
    for name in side.inputs:
        if name not in variables:
            raise marks.error(f"{text!r} names {name!r}, which is not a name of this "
                              f"template{suggest(name, variables)} (names: "
                              f"{', '.join(n for n in variables if not n.startswith('d_'))}"
                              + (f"; the gradient of {output} with respect to v is grad(v), "
                                 f"d{output}/dv or d_{output}_d_v" if output else "") + ")",
                              path)
    return side


# -- the template --------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """One checked template. `kind` is "graph" or "conv"; `source` is the template as
    written (plain data) and `hash` the hash of its canonical JSON, which tokens carry."""

    id: str
    title: str
    kind: str
    source: dict
    hash: str
    text: str | None
    precision: int
    points: dict
    params: tuple
    require: tuple
    # graph templates
    graph: object = None
    values: tuple = ()
    gradients: tuple = ()
    wrt: tuple = ()
    learning_rate: Param | None = None
    upstream: float = 1.0
    # conv templates
    asks: tuple = ()
    conv_lists: dict = field(default_factory=dict)

    @property
    def parts(self) -> tuple:
        if self.kind == "conv":
            return self.asks
        return tuple(p for p, asked in (("values", self.values), ("gradients", self.gradients),
                                        ("step", self.wrt)) if asked)


def template_hash(source: dict) -> str:
    data = orjson.dumps(source, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=HASH_HEX_DIGITS // 2,
                           person=b"gradsheet-tmpl").hexdigest()


def _names(items, marks: _Marks, path: str) -> list:
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not items:
        raise marks.error("must be a non-empty list of names", path)
    for i, n in enumerate(items):
        if not isinstance(n, str):
            raise marks.error(f"must be a name, not {n!r}", f"{path}[{i}]")
    return items


def read_template(data, marks: _Marks | None = None) -> Template:
    """A Template from plain data; TemplateError naming the field at fault."""
    marks = marks or _Marks(None)
    if not isinstance(data, dict):
        raise marks.error("a template is a mapping of fields (id, graph or conv, params, "
                          "ask, ...)", "")
    kind = "conv" if "conv" in data else "graph"
    if "graph" not in data and "conv" not in data:
        raise marks.error("needs a graph (an expression or a node spec) or a conv", "graph")
    if "graph" in data and "conv" in data:
        raise marks.error("give a graph or a conv, not both", "conv")
    known = CONV_KEYS if kind == "conv" else GRAPH_KEYS
    for key in data:
        if key not in known:
            raise _unknown_key(marks, key, known, "")
    tid = data.get("id")
    if not isinstance(tid, str) or not ID_RE.match(tid):
        raise marks.error("needs an id: lowercase letters, digits, - and _, at most 64 "
                          f"characters, not {tid!r}", "id")
    title = data.get("title", tid)
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise marks.error("must be a short line of text", "title")
    text = data.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > 10_000):
        raise marks.error("must be text (Markdown with LaTeX), at most 10,000 characters",
                          "text")
    precision = data.get("precision", DEFAULT_PRECISION)
    if not _is_int(precision) or not 0 <= precision <= 6:
        raise marks.error(f"must be a whole number of decimals from 0 to 6, not "
                          f"{precision!r}", "precision")
    common = dict(id=tid, title=title.strip(), source=data, hash=template_hash(data),
                  text=text, precision=precision)
    if kind == "graph":
        return _read_graph_template(data, marks, common)
    return _read_conv_template(data, marks, common)


def _points(data, marks: _Marks, parts: tuple) -> dict:
    points = data.get("points", {})
    if not isinstance(points, dict):
        raise marks.error("must map answer parts to points", "points")
    for part, value in points.items():
        if part not in parts:
            raise marks.error(f"{part!r} is not a part this template asks for{suggest(part, parts)}"
                              f" (its parts: {', '.join(parts)})", f"points.{part}")
        if not _is_number(value) or value < 0 or value > 1000:
            raise marks.error(f"must be a number of points from 0 to 1000, not {value!r}",
                              f"points.{part}")
    return {p: float(points.get(p, 1)) for p in parts}


def _check_precision(param: Param, precision: int, marks: _Marks, path: str) -> None:
    if param.decimals > precision:
        where = {"decimal": ".step", "choice": ".choice"}.get(param.kind, "")
        raise marks.error(f"{param.name} prints with {param.decimals} decimals, more than the "
                          f"template's precision of {precision}", path + where)


def _read_graph_template(data, marks: _Marks, common: dict) -> Template:
    raw = data["graph"]
    try:
        graph = engine.parse(raw) if isinstance(raw, str) else engine.Graph.from_spec(raw)
    except GraphError as exc:
        err = marks.error(exc.message, "graph" + (f".{exc.path}" if exc.path else ""))
        if exc.line is not None and isinstance(raw, str):
            err.message += f" (in the graph: line {exc.line}, column {exc.column})"
        raise err from None
    if len(graph.nodes) > MAX_TEMPLATE_NODES:
        raise marks.error(f"has {len(graph.nodes)} nodes; a template's graph has at most "
                          f"{MAX_TEMPLATE_NODES}", "graph")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise marks.error("must map each input of the graph to its numbers", "params")
    for name in params:
        if name not in graph.inputs:
            raise marks.error(f"the graph never uses {name!r}{suggest(name, graph.inputs)} "
                              f"(its inputs: {', '.join(graph.inputs)})", f"params.{name}")
    for name in graph.inputs:
        if name not in params:
            raise marks.error(f"the graph's input {name!r} has no parameter: add params.{name}",
                              "params")
    read = []
    for name in graph.inputs:
        p = read_param(name, params[name], marks, f"params.{name}")
        _check_precision(p, common["precision"], marks, f"params.{name}")
        read.append(p)
    ask = data.get("ask", {"values": [n.id for n in graph.nodes],
                           "gradients": list(graph.inputs)})
    if not isinstance(ask, dict):
        raise marks.error("must be a mapping with values, gradients and step", "ask")
    for key in ask:
        if key not in ("values", "gradients", "step"):
            raise _unknown_key(marks, key, ("values", "gradients", "step"), "ask")
    node_ids = [n.id for n in graph.nodes]
    values = _names(ask["values"], marks, "ask.values") if "values" in ask else []
    for i, name in enumerate(values):
        if name not in node_ids:
            hint = (" (an input: its value is given)" if name in graph.inputs else
                    suggest(name, node_ids))
            raise marks.error(f"{name!r} is not a node of the graph{hint} (its nodes: "
                              f"{', '.join(node_ids)})", f"ask.values[{i}]")
    gradients = _names(ask["gradients"], marks, "ask.gradients") if "gradients" in ask else []
    for i, name in enumerate(gradients):
        if name not in graph.names:
            raise marks.error(f"{name!r} is not a name of the graph{suggest(name, graph.names)}"
                              f" (its names: {', '.join(graph.names)})", f"ask.gradients[{i}]")
    wrt, lr = (), None
    if "step" in ask:
        step = ask["step"]
        if not isinstance(step, dict) or "wrt" not in step or "learning_rate" not in step:
            raise marks.error("must be {wrt: [inputs], learning_rate: rate}", "ask.step")
        for key in step:
            if key not in ("wrt", "learning_rate"):
                raise _unknown_key(marks, key, ("wrt", "learning_rate"), "ask.step")
        wrt = tuple(_names(step["wrt"], marks, "ask.step.wrt"))
        for i, name in enumerate(wrt):
            if name not in graph.inputs:
                what = "a node, not an input" if name in node_ids else "not an input of the graph"
                raise marks.error(f"{name!r} is {what}: a descent step moves inputs"
                                  f"{suggest(name, graph.inputs) if name not in node_ids else ''}"
                                  f" (inputs: {', '.join(graph.inputs)})", f"ask.step.wrt[{i}]")
        lr = read_param("learning_rate", step["learning_rate"], marks,
                        "ask.step.learning_rate")
        if lr.kind in ("const", "choice") and any(v <= 0 for v in lr.values) or \
                lr.kind in ("int", "decimal") and lr.lo <= 0:
            raise marks.error("a learning rate must be positive", "ask.step.learning_rate")
    if not (values or gradients or wrt):
        raise marks.error("asks for nothing: give values, gradients or a step", "ask")
    upstream = data.get("upstream", 1)
    if not _is_number(upstream) or upstream == 0:
        raise marks.error(f"must be a non-zero number, not {upstream!r}", "upstream")
    variables = {n: "value" for n in graph.names}
    for n in graph.names:
        g = gradient_variable(graph.output, n)
        if g in variables:
            raise marks.error(f"the graph uses the name {g!r}, which conditions keep for the "
                              f"gradient d{graph.output}/d{n}; rename it", "graph")
        variables[g] = "gradient"
    require = _conditions(data, marks, variables, graph.output)
    parts = tuple(p for p, asked in (("values", values), ("gradients", gradients),
                                     ("step", wrt)) if asked)
    return Template(kind="graph", points=_points(data, marks, parts), params=tuple(read),
                    require=require, graph=graph, values=tuple(dict.fromkeys(values)),
                    gradients=tuple(dict.fromkeys(gradients)), wrt=tuple(dict.fromkeys(wrt)),
                    learning_rate=lr, upstream=float(upstream), **common)


def _conditions(data, marks: _Marks, variables: dict, output: str | None) -> tuple:
    require = data.get("require", [])
    if isinstance(require, str):
        require = [require]
    if not isinstance(require, list):
        raise marks.error("must be a list of conditions", "require")
    return tuple(read_condition(c, f"require[{i}]", marks, variables, output)
                 for i, c in enumerate(require))


def _read_conv_template(data, marks: _Marks, common: dict) -> Template:
    conv = data["conv"]
    if not isinstance(conv, dict):
        raise marks.error("must map width, filter, padding, stride (and dilation) to their "
                          "numbers", "conv")
    lists = tuple(CONV_LISTS)
    for key in conv:
        if key not in CONV_FIELDS + lists:
            raise _unknown_key(marks, key, CONV_FIELDS + lists, "conv")
    for need in ("width", "filter"):
        if need not in conv:
            raise marks.error(f"needs {need}", f"conv.{need}")
    params = []
    defaults = {"padding": 0, "stride": 1, "dilation": 1}
    for name in CONV_FIELDS:
        p = read_param(name, conv.get(name, defaults.get(name)), marks, f"conv.{name}",
                       integer=True)
        low = min(p.values) if p.values else p.lo
        least = 0 if name == "padding" else 1
        if low < least:
            raise marks.error(f"must be at least {least}", f"conv.{name}")
        high = max(p.values) if p.values else p.hi
        if high > 256:
            raise marks.error("must be at most 256", f"conv.{name}")
        params.append(p)
    asks = data.get("ask", ["output_size", "windows", "centers"])
    asks = _names(asks, marks, "ask")
    for i, a in enumerate(asks):
        if a not in CONV_ASKS:
            raise marks.error(f"{a!r} is not something a conv template asks{suggest(a, CONV_ASKS)}"
                              f" (asks: {', '.join(CONV_ASKS)})", f"ask[{i}]")
    conv_lists = {}
    if any(a in NUMERIC_ASKS for a in asks):
        for name, default in CONV_LISTS.items():
            p = read_param(name, conv.get(name, default), marks, f"conv.{name}")
            _check_precision(p, common["precision"], marks, f"conv.{name}")
            conv_lists[name] = p
    else:
        for name in lists:
            if name in conv:
                raise marks.error(f"numbers for {name} are drawn only when the template asks "
                                  f"for output, grad_input or grad_weight", f"conv.{name}")
    variables = {n: "value" for n in CONV_FIELDS + ("output_size",)}
    asks = tuple(dict.fromkeys(asks))
    return Template(kind="conv", points=_points(data, marks, asks), params=tuple(params),
                    require=_conditions(data, marks, variables, None), asks=asks,
                    conv_lists=conv_lists, **common)


# -- files and the library -----------------------------------------------------------------

def read_templates(text: str, source: str | None = None) -> list[Template]:
    """Every template of a YAML or JSON text, checked (not yet stress-tested)."""
    docs, _ = read_documents(text, source)
    out, seen = [], {}
    for data, marks in docs:
        t = read_template(data, marks)
        if t.id in seen:
            raise marks.error(f"the id {t.id!r} is used twice in this file", "id")
        seen[t.id] = t
        out.append(t)
    return out


def read_template_file(path) -> list[Template]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_TEMPLATE_CHARS + 1)
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}", path="template",
                            source=str(path)) from None
    except UnicodeDecodeError:
        raise TemplateError("is not UTF-8 text", path="template", source=str(path)) from None
    return read_templates(text, str(path))


def read_inline(templates, path: str = "templates") -> list[Template]:
    """Templates sent as JSON data (a request's `templates`): a list of mappings."""
    if not isinstance(templates, list) or not templates:
        raise TemplateError("must be a non-empty list of templates", path=path)
    if len(templates) > MAX_TEMPLATES:
        raise TemplateError(f"holds {len(templates)} templates; the limit is {MAX_TEMPLATES}",
                            path=path)
    out, seen = [], set()
    for i, data in enumerate(templates):
        t = read_template(data, _Marks(None, prefix=f"{path}[{i}]"))
        if t.id in seen:
            raise TemplateError(f"the id {t.id!r} is used twice", path=f"{path}[{i}].id")
        seen.add(t.id)
        out.append(t)
    return out


def library() -> list[Template]:
    """The shipped example templates (worksheets/templates/*.yaml)."""
    out = []
    for entry in sorted(resources.files("worksheets").joinpath("templates").iterdir(),
                        key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            out += read_templates(entry.read_text(encoding="utf-8"),
                                  f"worksheets/templates/{entry.name}")
    return out
