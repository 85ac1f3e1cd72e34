"""A problem's Markdown with LaTeX math (its statement and solution steps) in the forms
each format needs: HTML with MathML math, HTML with \\(...\\) math for an LMS's MathJax,
and typst markup with typst math.

markdown-it reads the Markdown and its dollarmath plugin the `$...$` math, so the
LaTeX is never touched by Markdown's own rules. latex2mathml reads the LaTeX; typst math
is written from its MathML tree, so one LaTeX parser serves HTML and PDF alike.
"""

from __future__ import annotations

import functools
from html import escape, unescape

import latex2mathml.converter
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"


def _parser(renderer=None) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    kwargs = {"renderer": renderer} if renderer else {}
    return md.use(dollarmath_plugin, allow_space=True, allow_digits=True, **kwargs)


@functools.lru_cache(maxsize=8192)
def mathml(latex: str, display: bool = False) -> str:
    """MathML for `latex`; LaTeX it cannot read is shown as its source, never dropped."""
    try:
        return latex2mathml.converter.convert(latex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises a zoo of exception types on bad input
        return f'<code class="tex">{escape(latex)}</code>'


def _mathml_renderer(content: str, options: dict) -> str:
    return mathml(content, bool(options.get("display_mode")))


def _tex_renderer(content: str, options: dict) -> str:
    # Moodle's MathJax filter and Canvas both read \( \) and \[ \]
    if options.get("display_mode"):
        return f"\\[{escape(content)}\\]"
    return f"\\({escape(content)}\\)"


_HTML = _parser(_mathml_renderer)
_LMS = _parser(_tex_renderer)
_TOKENS = _parser()


def html(markdown: str) -> str:
    """HTML with MathML math, for a page that needs no JavaScript."""
    return _HTML.render(markdown)


def lms_html(markdown: str) -> str:
    """HTML with \\(...\\) math, for Moodle's and Canvas's MathJax."""
    return _LMS.render(markdown)


def inline_html(markdown: str) -> str:
    """`html` of a single paragraph, without the <p> around it."""
    out = html(markdown).strip()
    if out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1:
        out = out[3:-4]
    return out


# --- typst -----------------------------------------------------------------------------

_TEXT_SPECIAL = set('\\#$*_<>@[]~`\'"=-+/%')


def typst_text(s: str) -> str:
    """Plain text as typst markup: every character typst would read as syntax escaped."""
    return "".join("\\" + c if c in _TEXT_SPECIAL else c for c in s)


def typst_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def typst(markdown: str) -> str:
    """The Markdown as typst markup."""
    return _blocks(_TOKENS.parse(markdown))


def typst_inline(markdown: str) -> str:
    """`typst` of a single paragraph, without the paragraph break after it."""
    return typst(markdown).strip()


def _blocks(tokens) -> str:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        kind = t.type
        if kind == "paragraph_open":
            j = _close(tokens, i)
            out.append(_blocks(tokens[i + 1:j]).strip() + "\n\n")
            i = j + 1
            continue
        if kind == "inline":
            out.append(_inline(t.children or []))
        elif kind in ("ordered_list_open", "bullet_list_open"):
            j = _close(tokens, i)
            items = _items(tokens[i + 1:j])
            if kind == "ordered_list_open":
                start = int(t.attrs.get("start", 1)) if t.attrs else 1
                out.append(f"#enum(start: {start}, " + ", ".join(items) + ")\n\n")
            else:
                out.append("#list(" + ", ".join(items) + ")\n\n")
            i = j + 1
            continue
        elif kind == "table_open":
            j = _close(tokens, i)
            out.append(_table(tokens[i + 1:j]))
            i = j + 1
            continue
        elif kind == "heading_open":
            j = _close(tokens, i)
            level = int(t.tag[1])
            out.append(f"#heading(level: {level})[{_blocks(tokens[i + 1:j]).strip()}]\n\n")
            i = j + 1
            continue
        elif kind == "math_block":
            out.append(f"$ {tex_to_typst(t.content)} $\n\n")
        elif kind in ("fence", "code_block"):
            out.append(f"#raw(block: true, {typst_string(t.content)})\n\n")
        elif kind == "hr":
            out.append("#line(length: 100%)\n\n")
        i += 1
    return "".join(out)


def _close(tokens, i: int) -> int:
    """Index of the token closing the one opened at i."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


def _items(tokens) -> list[str]:
    items, i = [], 0
    while i < len(tokens):
        if tokens[i].type == "list_item_open":
            j = _close(tokens, i)
            items.append("[" + _blocks(tokens[i + 1:j]).strip() + "]")
            i = j + 1
        else:
            i += 1
    return items


def _table(tokens) -> str:
    header, rows, row, in_head = [], [], [], False
    columns = 0
    for i, t in enumerate(tokens):
        if t.type == "thead_open":
            in_head = True
        elif t.type == "thead_close":
            in_head = False
        elif t.type == "tr_open":
            row = []
        elif t.type == "tr_close":
            columns = max(columns, len(row))
            (header if in_head else rows).append(row)
        elif t.type == "inline":
            cell = _inline(t.children or [])
            row.append(f"[*{cell}*]" if in_head else f"[{cell}]")
    cells = []
    if header:
        cells.append("table.header(" + ", ".join(header[0]) + ")")
    cells += [c for r in rows for c in r]
    return f"#table(columns: {columns}, align: left, " + ", ".join(cells) + ")\n\n"


def _inline(children) -> str:
    out: list[str] = []
    for c in children:
        kind = c.type
        if kind == "text":
            out.append(typst_text(c.content))
        elif kind == "math_inline":
            out.append(f"${tex_to_typst(c.content)}$")
        elif kind == "math_inline_double":
            out.append(f"$ {tex_to_typst(c.content)} $")
        elif kind == "code_inline":
            out.append(f"#raw({typst_string(c.content)})")
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\\\n")
        elif kind in ("strong_open", "em_open"):
            out.append("#strong[" if kind == "strong_open" else "#emph[")
        elif kind in ("strong_close", "em_close"):
            out.append("]")
        elif c.content:
            out.append(typst_text(c.content))
    return "".join(out)


# --- LaTeX -> typst math, through latex2mathml's MathML --------------------------------

@functools.lru_cache(maxsize=8192)
def tex_to_typst(latex: str) -> str:
    """Typst math (without the $ signs) for `latex`."""
    try:
        root = latex2mathml.converter.convert_to_element(latex)
    except Exception:  # as in `mathml`: show what cannot be read
        return typst_string(latex)
    return _math(root).strip()


_ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _atom(s: str) -> str:
    if len(s) == 1:
        return "\\" + s if s in _ASCII_PUNCT else s
    return f"op({typst_string(s)})"


def _math(e) -> str:
    tag = e.tag.replace(MATHML_NS, "")
    kids = list(e)
    # latex2mathml keeps character references (&#x0003D;) in the element's text
    text = unescape(e.text or "").replace("\u00a0", " ")
    if tag == "mi":
        if len(text) == 1:
            if text.isascii() and e.get("mathvariant") == "normal":
                return f"upright({text})"
            return _atom(text)
        return f"op({typst_string(text)})"
    if tag == "mn":
        return text
    if tag == "mo":
        return _atom(text) if text else ""
    if tag == "mtext":
        return typst_string(text)
    if tag == "mspace":
        return "thin"
    if tag == "mfrac":
        return f"frac({_math(kids[0])}, {_math(kids[1])})"
    if tag == "msqrt":
        return f"sqrt({_join(kids)})"
    if tag == "mroot":
        return f"root({_math(kids[1])}, {_math(kids[0])})"
    if tag in ("msub", "munder"):
        return f"attach({_math(kids[0])}, b: {_math(kids[1])})"
    if tag in ("msup", "mover"):
        return f"attach({_math(kids[0])}, t: {_math(kids[1])})"
    if tag in ("msubsup", "munderover"):
        return f"attach({_math(kids[0])}, b: {_math(kids[1])}, t: {_math(kids[2])})"
    if tag == "mstyle" and e.get("displaystyle") == "true":
        return f"display({_join(kids)})"
    if tag == "mrow" and len(kids) >= 2 and kids[0].get("fence") == "true" \
            and kids[-1].get("fence") == "true":
        return f"lr({_join(kids)})"
    return _join(kids)


def _join(kids) -> str:
    return " ".join(p for p in (_math(k) for k in kids) if p) or '""'
