"""The README's pictures: the first page of a generated student sheet and of its answer
key, as the PDF export typesets them (typst renders the pages to PNG; no browser).

Run: .venv/bin/python docs/make_picture.py    (writes docs/sheet.png, docs/answer-key.png)
"""

from __future__ import annotations

from pathlib import Path

import worksheets
from worksheets.exports import pdf_sheets
from worksheets.exports.sheetset import SheetSet

HERE = Path(__file__).parent
PPI = 80   # an A4 page at 661 x 935 pixels: small, and the figures' numbers still read

# the worksheet's (x + y)z, a conv strip and a sigmoid gate fill the first page
PROBLEMS = [{"type": "graph_backprop", "families": ["sum_times"]}, "conv_output_size",
            "gate_gradient"]


def main() -> None:
    data = worksheets.generate(2026, ["ada"], PROBLEMS, secret="gradsheet-readme-picture")
    s = SheetSet(data)
    sheet = pdf_sheets.typeset(*pdf_sheets.student_source(s, s.sheets[0]), fmt="png", ppi=PPI)
    key = pdf_sheets.typeset(*pdf_sheets.key_source(s), fmt="png", ppi=PPI)
    first = lambda pages: pages[0] if isinstance(pages, list) else pages  # noqa: E731
    (HERE / "sheet.png").write_bytes(first(sheet))
    (HERE / "answer-key.png").write_bytes(first(key))
    print(f"wrote {HERE / 'sheet.png'} and {HERE / 'answer-key.png'}")


if __name__ == "__main__":
    main()
