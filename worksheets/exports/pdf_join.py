"""PDFs joined page by page into one file, written as they come: a class's key is
typeset in pieces (pdf_sheets), and each piece is copied out and let go before the next,
so the memory the join takes does not grow with the class.

pypdf reads each piece and writes each of its objects; this module only renumbers them
into one file and writes what a PDF needs around them (catalog, page tree, outline,
cross-reference table). pypdf's own PdfWriter keeps every object until it writes the
file: 440 MiB more for a key of 1,000 students, where this keeps a few numbers a page.
"""

from __future__ import annotations

import io
from array import array
from dataclasses import dataclass
from typing import BinaryIO

import pypdf
from pypdf.generic import (ArrayObject, DictionaryObject, FloatObject, IndirectObject,
                           NameObject, NumberObject, PdfObject, StreamObject,
                           TextStringObject)

# object numbers written last, when every page and outline entry is known
CATALOG, PAGES, INFO = 1, 2, 3


@dataclass(frozen=True)
class Bookmark:
    """An outline entry: its depth (0 at the top), title and where it points."""

    depth: int
    title: str
    page: int            # the page's object number in the joined file
    left: float
    top: float


class JoinedPdf:
    """A PDF written to `out` piece by piece: `add` each PDF's pages in order, then
    `finish`. The pieces' outlines are kept, one after the other."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.start = out.tell()
        self.offsets = array("Q", [0, 0, 0])   # by object number - 1
        self.pages = array("Q")
        self.bookmarks: list[Bookmark] = []
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)

    def _new_number(self) -> int:
        self.offsets.append(0)
        return len(self.offsets)

    def _object(self, number: int, obj: PdfObject) -> None:
        self.offsets[number - 1] = self.out.tell() - self.start
        self._write(f"{number} 0 obj\n".encode())
        obj.write_to_stream(self.out)
        self._write(b"\nendobj\n")

    def add(self, pdf: bytes) -> None:
        """Append every page of `pdf` (and its outline) and let it go."""
        reader = pypdf.PdfReader(io.BytesIO(pdf))
        numbers: dict[int, int] = {}
        # pages first: a link or a bookmark may point at a page not yet copied
        for page in reader.pages:
            numbers[page.indirect_reference.idnum] = self._new_number()
            self.pages.append(numbers[page.indirect_reference.idnum])
        for page in reader.pages:
            page[NameObject("/Parent")] = IndirectObject(PAGES, 0, None)
        for bookmark in _bookmarks(reader.outline, 0):
            title, page, left, top, depth = bookmark
            self.bookmarks.append(Bookmark(depth, title, numbers[page], left, top))
        pending = [(numbers[page.indirect_reference.idnum], page) for page in reader.pages]
        seen: set[int] = set()
        while pending:
            number, obj = pending.pop()
            _renumber(obj, reader, numbers, pending, self._new_number, seen)
            self._object(number, obj)

    def finish(self, title: str, lang: str = "en") -> None:
        """Write the catalog, the page tree, the outline and the cross-reference table."""
        self._object(PAGES, DictionaryObject({
            NameObject("/Type"): NameObject("/Pages"),
            NameObject("/Count"): NumberObject(len(self.pages)),
            NameObject("/Kids"): ArrayObject(IndirectObject(n, 0, None) for n in self.pages)}))
        catalog = DictionaryObject({NameObject("/Type"): NameObject("/Catalog"),
                                    NameObject("/Pages"): IndirectObject(PAGES, 0, None),
                                    NameObject("/Lang"): TextStringObject(lang)})
        if self.bookmarks:
            catalog[NameObject("/Outlines")] = IndirectObject(self._write_outline(), 0, None)
        self._object(CATALOG, catalog)
        self._object(INFO, DictionaryObject({
            NameObject("/Title"): TextStringObject(title),
            NameObject("/Author"): TextStringObject("gradsheet")}))
        xref = self.out.tell() - self.start
        rows = [b"xref\n", f"0 {len(self.offsets) + 1}\n".encode(), b"0000000000 65535 f \n"]
        rows += [f"{offset:010d} 00000 n \n".encode() for offset in self.offsets]
        self._write(b"".join(rows))
        self._write(b"trailer\n")
        DictionaryObject({NameObject("/Size"): NumberObject(len(self.offsets) + 1),
                          NameObject("/Root"): IndirectObject(CATALOG, 0, None),
                          NameObject("/Info"): IndirectObject(INFO, 0, None),
                          }).write_to_stream(self.out)
        self._write(f"\nstartxref\n{xref}\n%%EOF\n".encode())

    def _write_outline(self) -> int:
        """The outline tree of every piece's bookmarks, in order; its root's number."""
        root = self._new_number()
        numbers = [self._new_number() for _ in self.bookmarks]
        parents = [root]            # the open item at each depth, below the root
        children: dict[int, list[int]] = {root: []}
        parent_of, place = [], []
        for k, b in enumerate(self.bookmarks):
            del parents[b.depth + 1:]
            parent_of.append(parents[-1])
            place.append(len(children[parents[-1]]))
            children[parents[-1]].append(numbers[k])
            children[numbers[k]] = []
            parents.append(numbers[k])
        for k, b in enumerate(self.bookmarks):
            siblings, at = children[parent_of[k]], place[k]
            item = DictionaryObject({
                NameObject("/Title"): TextStringObject(b.title),
                NameObject("/Parent"): IndirectObject(parent_of[k], 0, None),
                NameObject("/Dest"): ArrayObject([
                    IndirectObject(b.page, 0, None), NameObject("/XYZ"),
                    FloatObject(b.left), FloatObject(b.top), NumberObject(0)])})
            if at > 0:
                item[NameObject("/Prev")] = IndirectObject(siblings[at - 1], 0, None)
            if at + 1 < len(siblings):
                item[NameObject("/Next")] = IndirectObject(siblings[at + 1], 0, None)
            _tree(item, children[numbers[k]], closed=True)
            self._object(numbers[k], item)
        top = DictionaryObject({NameObject("/Type"): NameObject("/Outlines")})
        _tree(top, children[root], closed=False)
        self._object(root, top)
        return root


def _bookmarks(outline, depth: int):
    """(title, page's object number, left, top, depth) of each entry of a pypdf outline
    (a list of Destinations, each followed by a list of its children when it has any)."""
    for item in outline:
        if isinstance(item, list):
            yield from _bookmarks(item, depth + 1)
        elif isinstance(item.page, IndirectObject):
            yield (str(item.title), item.page.idnum, float(item.left or 0),
                   float(item.top or 0), depth)


def _tree(item: DictionaryObject, kids: list[int], closed: bool) -> None:
    if kids:
        item[NameObject("/First")] = IndirectObject(kids[0], 0, None)
        item[NameObject("/Last")] = IndirectObject(kids[-1], 0, None)
        # a negative count shows the entry closed, as typst writes its sub-headings
        item[NameObject("/Count")] = NumberObject(-len(kids) if closed else len(kids))


def _renumber(obj, reader, numbers: dict[int, int], pending: list, new_number,
              seen: set) -> None:
    """Point every reference inside `obj` (a dictionary or array, walked through its
    direct parts) at its object's number in the joined file, numbering and queueing the
    objects met for the first time (references into `reader`). `seen` holds the containers already renumbered:
    pypdf gives pages that inherit their resources the same dictionary."""
    stack = [obj]
    while stack:
        container = stack.pop()
        if id(container) in seen:
            continue
        seen.add(id(container))
        if isinstance(container, DictionaryObject):
            keys = [k for k in container if not (
                # a stream's length is written beside its data by pypdf
                isinstance(container, StreamObject) and k == "/Length")]
            slots = [(container, k) for k in keys]
        elif isinstance(container, ArrayObject):
            slots = [(container, i) for i in range(len(container))]
        else:
            continue
        for holder, key in slots:
            value = holder[key] if isinstance(holder, ArrayObject) else \
                DictionaryObject.raw_get(holder, key)
            if isinstance(value, IndirectObject):
                if value.pdf is not reader:     # already the joined file's, as /Parent
                    continue
                if value.idnum not in numbers:
                    numbers[value.idnum] = new_number()
                    pending.append((numbers[value.idnum], value.get_object()))
                holder[key] = IndirectObject(numbers[value.idnum], 0, None)
            else:
                stack.append(value)
