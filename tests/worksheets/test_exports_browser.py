"""The HTML sheets as a browser shows them: headless Chromium (Debian's, which .ci/run
installs; Playwright drives it and downloads nothing) renders a student's sheet and the
key, and the screenshot's figures and math are really there."""

import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from worksheets import exports
from worksheets import generate

SECRET = "exports-test-secret"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    candidates = [os.environ.get("GRADSHEET_CHROMIUM"), "/usr/bin/chromium",
                  "/usr/bin/chromium-browser", shutil.which("chromium"),
                  shutil.which("chromium-browser")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    pytest.fail("no Chromium found for the HTML screenshot test: install Debian's chromium "
                "(apt-get install -y chromium, as .ci/run does) or set GRADSHEET_CHROMIUM "
                "to a Chromium binary", pytrace=False)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line) if bpp == 3 else bytes(v for k, v in enumerate(line) if k % 4 != 3))
        prev = line
    return width, height, rows


def ink(data: bytes) -> dict:
    """Counts of dark, green-ish and red-ish pixels in a screenshot."""
    _, _, rows = png_pixels(data)
    dark = green = red = 0
    for row in rows:
        for i in range(0, len(row), 3):
            r, g, b = row[i], row[i + 1], row[i + 2]
            if r + g + b < 300:
                dark += 1
            if g > r + 40 and g > b + 20:
                green += 1
            if r > g + 60 and r > b + 40:
                red += 1
    return {"dark": dark, "green": green, "red": red}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    s = generate(31, ["ada", "alan"], secret=SECRET)
    exports.write(s, ["html"], out)
    return out


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    profile = tmp_path_factory.mktemp("chromium-profile")   # a fresh user-data-dir
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=FLAGS,
            viewport={"width": 1000, "height": 1400}, offline=True)
        yield context
        context.close()


def test_student_sheet_renders_its_figures_and_math_in_chromium(pages, browser_context,
                                                                tmp_path):
    page = browser_context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((pages / "ada.html").as_uri())
    page.wait_for_load_state("load")
    assert all(u.startswith(("file:", "data:")) for u in requests), requests

    figures = page.locator("figure svg")
    assert figures.count() == 6
    for i in range(6):
        box = figures.nth(i).bounding_box()
        assert figures.nth(i).is_visible() and box["width"] > 150 and box["height"] > 50
    maths = page.locator("math")
    assert maths.count() > 10
    for i in range(maths.count()):
        box = maths.nth(i).bounding_box()
        assert box is not None and box["width"] > 3 and box["height"] > 5

    shot = page.screenshot(full_page=True, path=str(tmp_path / "ada.png"))
    width, height = struct.unpack(">II", shot[16:24])     # the PNG's IHDR
    assert width == 1000 and height > 2500 and len(shot) > 40_000
    graph = figures.nth(2).screenshot()                     # problem 3: the graph
    counts = ink(graph)
    assert counts["dark"] > 500 and counts["green"] > 20    # wires, gates, input values
    formula = ink(maths.nth(0).screenshot())
    assert formula["dark"] > 20                              # the math is drawn, not blank
    page.close()


def test_key_shows_values_in_green_and_gradients_in_red(pages, browser_context):
    page = browser_context.new_page()
    page.goto((pages / "answer-key.html").as_uri())
    graph = page.locator("article.sheet").first.locator("figure svg").nth(2)
    counts = ink(graph.screenshot())
    assert counts["green"] > 50 and counts["red"] > 50
    page.close()


def test_print_stylesheet_hides_tokens_and_breaks_sheets(pages, browser_context):
    page = browser_context.new_page()
    page.goto((pages / "answer-key.html").as_uri())
    page.emulate_media(media="print")
    assert page.locator("article.sheet").first.evaluate(
        "e => getComputedStyle(e).breakAfter") == "page"
    page.goto((pages / "ada.html").as_uri())
    page.emulate_media(media="print")
    assert not page.locator(".token").first.is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") + pdf.count(b"/Type/Page") >= 2
    page.close()


def test_a_missing_browser_fails_with_a_message_saying_how_to_get_one(monkeypatch):
    monkeypatch.setattr(os, "access", lambda *args: False)
    with pytest.raises(pytest.fail.Exception, match="install Debian's chromium"):
        chromium_path()
