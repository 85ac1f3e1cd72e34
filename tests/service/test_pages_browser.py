"""The student and instructor pages in a real browser: Debian's Chromium, driven by
Playwright (no browser download), against `gradsheet serve` on a loopback port. Every
flow runs with JavaScript on and off; axe-core checks every page; screenshots at desktop
and phone sizes are kept in the test's artifacts directory."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import zipfile
from pathlib import Path

import pytest

import worksheets
from worksheets.generator import Generator
from service.local_server import local_server
from tests.worksheets.test_exports_browser import FLAGS, chromium_path

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SEVERE = ("serious", "critical")


@pytest.fixture(scope="module")
def server():
    with local_server(workers=1, threads=4) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Screenshots: $GRADSHEET_TEST_ARTIFACTS when set, else a pytest temporary dir."""
    given = os.environ.get("GRADSHEET_TEST_ARTIFACTS")
    out = Path(given) if given else tmp_path_factory.mktemp("page-screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def page(request, browser):
    context = browser.new_context(java_script_enabled=request.param,
                                  viewport=SIZES["desktop"])
    pg = context.new_page()
    pg.js = request.param
    errors = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    # a CSP violation (an inline script or style) is reported on the console
    assert not [e for e in errors if "Content Security Policy" in e], errors


def no_severe_violations(pg) -> None:
    """axe-core's serious and critical violations on the page, none allowed. axe runs as
    a script, so in a context without JavaScript the same page is checked by the
    JavaScript-enabled run of the same test."""
    from axe_playwright_python.sync_playwright import Axe

    if not getattr(pg, "js", True):
        return
    results = Axe().run(pg)
    severe = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
              for v in results.response["violations"] if v["impact"] in SEVERE]
    assert not severe, f"{pg.url}: {severe}"


def leaves(value, name):
    """(form name, number) of every number of a key, named as the page names inputs."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{name}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{name}[{i}]")
    else:
        yield name, value


def key_of(server, pg, number: int = 1):
    token = pg.locator(f"#problem-{number} input[name=token]").get_attribute("value")
    ticket, t, options, variant, answers = Generator(server.secret).regenerate(token)
    return token, variant.parameters, answers


def fill(pg, values: dict, number: int = 1) -> None:
    for name, value in values.items():
        box = pg.locator(f'input[name="p{number}-{name}"]')
        if box.count():
            box.fill(value if isinstance(value, str) else repr(float(value)))


def key_values(answers) -> dict:
    return {n: v for head, value in answers.items() for n, v in leaves(value, head)}


def check(pg, number: int = 1, button: str = "Check") -> None:
    pg.locator(f"#problem-{number}").get_by_role("button", name=button).click()
    pg.wait_for_selector(f"#p{number}-score")


def test_every_problem_type_solved_with_the_key_gets_full_marks(server, page):
    for t in worksheets.TYPES.values():
        page.goto(f"{server.base}/practice/{t.id}")
        no_severe_violations(page)
        _, _, answers = key_of(server, page)
        fill(page, key_values(answers))
        check(page)
        score = page.locator("#p1-score").inner_text()
        assert "every part right" in score, (t.id, score)
        assert page.locator("fieldset.part.wrong, fieldset.part.missing").count() == 0
        no_severe_violations(page)


def test_a_wrong_early_value_leaves_later_parts_right_for_your_own_numbers(server, page):
    page.goto(f"{server.base}/practice/graph_backprop?families=product_of_sums")
    _, params, answers = key_of(server, page)
    a, b, c = (params["inputs"][k] for k in "abc")
    p_wrong, q = a + b + 1.0, b + c           # f = (a + b)(b + c), p off by one
    fill(page, {"values.p": p_wrong, "values.q": q, "values.f": p_wrong * q,
                "gradients.p": q, "gradients.q": p_wrong})
    check(page)
    feedback = {n: page.locator(f'[id="p1-{n}-fb"]').inner_text()
                for n in ("values.p", "values.f", "gradients.q")}
    assert feedback["values.p"].startswith("✗ Wrong")
    assert feedback["values.f"].startswith("✓ Right for your own earlier numbers")
    assert feedback["gradients.q"].startswith("✓ Right for your own earlier numbers")


def test_the_sigmoid_slip_is_named(server, page):
    page.goto(f"{server.base}/practice/gate_gradient?gates=sigmoid")
    _, params, _ = key_of(server, page)
    x, upstream = params["input"], params["upstream_gradient"]
    y = 1.0 / (1.0 + math.exp(-x))
    fill(page, {"output": y, "gradient": upstream * y})   # σ where σ(1 − σ) belongs
    check(page)
    assert page.locator('[id="p1-output-fb"]').inner_text().startswith("✓ Right")
    slip = page.locator('[id="p1-gradient-fb"]').inner_text()
    assert "σ used where σ(1 − σ) belongs" in slip, slip
    assert f"expected {worksheets.latex.num(upstream * y * (1 - y))}" in slip


def test_new_numbers_and_the_solution_after_an_attempt(server, page):
    page.goto(f"{server.base}/practice/conv_output_size")
    first = page.locator("input[name=token]").get_attribute("value")
    assert page.get_by_role("button", name="Show solution").count() == 0
    page.get_by_role("link", name="New numbers").click()
    page.wait_for_load_state()
    assert page.locator("input[name=token]").get_attribute("value") != first
    fill(page, {"output_size": "3/4"})          # a fraction is read, and is wrong
    check(page)
    assert page.locator('[id="p1-output_size-fb"]').inner_text().startswith("✗ Wrong")
    page.get_by_role("button", name="Show solution").click()
    page.wait_for_selector("#p1-solution")
    assert page.locator(".solution li").count() >= 2
    no_severe_violations(page)


def test_a_typed_number_the_grader_cannot_read_gets_a_message(server, page):
    page.goto(f"{server.base}/practice/conv_same_padding")
    fill(page, {"padding": "two"})
    page.get_by_role("button", name="Check").click()
    msg = page.locator('[id="p1-padding-msg"]')
    msg.filter(has_text="is not a number").wait_for()
    assert "-0.75, 3/4 or 1e-3" in msg.inner_text()


def test_keyboard_alone_fills_in_and_checks_an_answer(server, page):
    page.goto(f"{server.base}/practice/conv_same_padding")
    _, _, answers = key_of(server, page)
    page.locator('input[name="p1-padding"]').focus()
    page.keyboard.type(repr(float(answers["padding"])))
    page.keyboard.press("Enter")                # submits with the form's first button
    page.wait_for_selector("#p1-score")
    assert "every part right" in page.locator("#p1-score").inner_text()


def test_an_assigned_sheet_opens_in_order_and_follows_the_sets_practice_flag(server, page):
    for reveal in (False, True):
        s = worksheets.generate(5, ["ada"], ["gate_gradient", "conv_same_padding"],
                                secret=server.secret, reveal=reveal)
        problems = s["sheets"][0]["problems"]
        page.goto(f"{server.base}/")
        page.get_by_label("Problem token").fill("\n".join(p["token"] for p in problems))
        page.get_by_role("button", name="Open").click()
        page.wait_for_selector("#problem-2")
        assert "Problem 1. The gradient a gate" in page.locator("#problem-1 h2").inner_text()
        fill(page, {"padding": 99.0}, number=2)
        check(page, number=2)
        feedback = page.locator('[id="p2-padding-fb"]').inner_text()
        assert feedback.startswith("✗ Wrong")
        expected = f"expected {problems[1]['answers']['padding']:g}"
        assert (expected in feedback) == reveal
        assert (page.get_by_role("button", name="Show solution").count() > 0) == reveal
        no_severe_violations(page)


def test_screenshots_at_desktop_and_phone_width_without_sideways_scrolling(server, browser,
                                                                           artifacts):
    for size, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport)
        pg = context.new_page()
        for name, path in (("home", "/"), ("graph", "/practice/graph_backprop"),
                           ("conv1d", "/practice/conv1d_backprop"),
                           ("instructor", "/instructor")):
            pg.goto(server.base + path)
            if name == "graph":
                pg.locator("input[data-number]").first.fill("1")
                pg.get_by_role("button", name="Check").click()
                pg.wait_for_selector("#p1-score")
            pg.screenshot(path=str(artifacts / f"{name}-{size}.png"), full_page=True)
            wide = pg.evaluate("document.documentElement.scrollWidth")
            assert wide <= viewport["width"], f"{path} scrolls sideways at {size}: {wide} px"
        context.close()
    print(f"screenshots in {artifacts}")


# --- the instructor page --------------------------------------------------------------

def sign_in(server, pg, token=None) -> None:
    pg.goto(f"{server.base}/instructor")
    no_severe_violations(pg)
    pg.get_by_label("Instructor token").fill(token or server.instructor_token)
    pg.get_by_role("button", name="Sign in").click()
    pg.wait_for_load_state()


def test_an_instructor_signs_in_makes_a_set_of_30_and_downloads_it(server, page):
    sign_in(server, page)
    assert page.get_by_role("heading", name="Make a class set").is_visible()
    no_severe_violations(page)
    page.get_by_label("or a number of students").first.fill("30")
    page.locator("#set-seed").fill("12")
    # 30 x 6 problems: within the Markdown export's admission limit, past the HTML one's
    page.get_by_label("html:").uncheck()
    page.get_by_label("markdown:").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Make the set and download it").click()
    data = Path(download.value.path()).read_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len([n for n in names if n.startswith("student-")]) == 30
    assert "answer-key.md" in names


def test_an_instructor_uploads_answer_files_and_gets_the_gradebook(server, page, tmp_path):
    s = worksheets.generate(3, ["ada", "alan"], ["gate_gradient", "conv_same_padding"],
                            secret=server.secret)
    files = []
    for sheet in s["sheets"]:
        answers = [{"token": p["token"], "answers": dict(p["answers"])} for p in sheet["problems"]]
        if sheet["student"] == "alan":
            answers[1]["answers"]["padding"] += 1
        path = tmp_path / f"{sheet['student']}.json"
        path.write_text(json.dumps({"student": sheet["student"], "problems": answers}))
        files.append(str(path))
    sign_in(server, page)
    page.get_by_label("The students' answer files").set_input_files(files)
    with page.expect_download() as download:
        page.get_by_role("button", name="Grade and download the gradebook and feedback").click()
    archive = zipfile.ZipFile(download.value.path())
    rows = list(csv.DictReader(io.StringIO(archive.read("gradebook.csv").decode())))
    by = {r["Student"]: r for r in rows}
    # gate_gradient is worth 2 points and conv_same_padding 1 (the shared points table)
    assert by["ada"]["gradsheet total"] == "3" and by["alan"]["gradsheet total"] == "2"
    assert by["alan"]["gradsheet percent"] == "66.67"
    # alan's padding is one more than the key's; the slip named depends on his numbers
    feedback = archive.read("feedback/alan.txt").decode()
    assert "-- padding:" in feedback and "total: 2 / 3" in feedback


def test_an_instructor_traces_a_leaked_sheet(server, page):
    s = worksheets.generate(8, 5, ["gate_gradient"], secret=server.secret)
    leaked = s["sheets"][3]
    sign_in(server, page)
    page.locator("#trace-seed").fill("8")
    page.locator("#trace-count").fill("5")
    page.get_by_label("Variant code on the sheet").fill(leaked["variant"])
    page.get_by_role("button", name="Trace").click()
    assert f"{leaked['student']}'s" in page.locator("#trace-result").inner_text()


def test_a_wrong_instructor_token_is_refused(server, page):
    sign_in(server, page, token="not-the-instructor-token")
    assert "not an instructor token" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("heading", name="Make a class set").count() == 0


# --- templates: the library's on the practice page, an instructor's own on a sheet ------

OWN = """id: square-of-product
title: The square of a product
graph: "z = w*x; f = z*z"
params: {w: {int: [1, 3]}, x: {int: [-3, -1]}}
ask: {values: [z, f], gradients: [w, x]}
"""


def tanh_neuron_key(inputs: dict, learning_rate: float) -> dict:
    """The library's tanh-neuron by hand: z = w x + b, h = tanh z, f = h y."""
    w, x, b, y = (inputs[k] for k in "wxby")
    z = w * x + b
    h = math.tanh(z)
    dz = y * (1 - h * h)
    return {"values.z": z, "values.h": h, "values.f": h * y, "gradients.w": dz * x,
            "gradients.x": dz * w, "gradients.b": dz, "step.w": w - learning_rate * dz * x,
            "step.b": b - learning_rate * dz}


def square_key(inputs: dict) -> dict:
    """OWN by hand: z = w x, f = z^2, df/dw = 2 z x, df/dx = 2 z w."""
    w, x = inputs["w"], inputs["x"]
    z = w * x
    return {"values.z": z, "values.f": z * z, "gradients.w": 2 * z * x, "gradients.x": 2 * z * w}


def test_a_library_template_is_practised_and_marked_against_a_key_worked_by_hand(server, page):
    page.goto(f"{server.base}/")
    page.get_by_role("link", name="One tanh neuron, one SGD step").click()
    page.wait_for_selector("#problem-1")
    no_severe_violations(page)
    token = page.locator("#problem-1 input[name=token]").get_attribute("value")
    _, _, _, variant, _ = Generator(server.secret).regenerate(
        token, [t for t in worksheets.template.library() if t.id == "tanh-neuron"])
    params = variant.parameters
    key = tanh_neuron_key(params["inputs"], params["learning_rate"])
    fill(page, {**key, "gradients.x": key["gradients.x"] + 1})
    check(page)
    assert page.locator("#p1-score").inner_text().startswith("Score 9 of 11")
    assert page.locator('[id="p1-gradients.x-fb"]').inner_text().startswith("✗ Wrong")
    assert page.locator('[id="p1-gradients.w-fb"]').inner_text().startswith("✓ Right")
    page.get_by_role("button", name="Show solution").click()
    page.wait_for_selector("#p1-solution")
    no_severe_violations(page)


def open_sheet(pg, tokens, templates_file=None) -> None:
    pg.goto(pg.base + "/")
    pg.get_by_label("Problem token").fill("\n".join(tokens))
    if templates_file is not None:
        pg.get_by_label("Templates file (YAML or JSON)").set_input_files(str(templates_file))
    pg.get_by_role("button", name="Open").click()
    pg.wait_for_load_state()


def test_a_sheet_of_an_own_template_needs_its_file_and_is_marked_with_it(server, page,
                                                                       tmp_path):
    page.base = server.base
    mine = tmp_path / "mine.yaml"
    mine.write_text(OWN)
    s = worksheets.generate(21, ["ada"], ["conv_same_padding", "square-of-product"],
                            secret=server.secret, reveal=False,
                            templates=worksheets.template.read_templates(OWN))
    problems = s["sheets"][0]["problems"]
    tokens = [p["token"] for p in problems]
    # without the file: what is missing, by name, and no problem shown
    open_sheet(page, tokens)
    alert = page.get_by_role("alert").inner_text()
    assert "own template 'square-of-product'" in alert and "templates file" in alert
    assert page.locator("#problem-1").count() == 0
    # a changed file: refused, never marked against other numbers
    changed = tmp_path / "changed.yaml"
    changed.write_text(OWN.replace("[1, 3]", "[1, 5]"))
    open_sheet(page, tokens, changed)
    assert "another version of the template" in page.get_by_role("alert").inner_text()
    # the file handed out with the sheet: opened, and marked on every check after
    open_sheet(page, tokens, mine)
    page.wait_for_selector("#problem-2")
    no_severe_violations(page)
    key = square_key(problems[1]["parameters"]["inputs"])
    fill(page, {**key, "values.f": key["values.f"] + 1}, number=2)
    check(page, number=2)
    assert page.locator("#p2-score").inner_text().startswith("Score 3 of 4")
    assert page.locator('[id="p2-values.f-fb"]').inner_text().startswith("✗ Wrong")
    assert "expected" not in page.locator('[id="p2-values.f-fb"]').inner_text()
    fill(page, key, number=2)
    page.locator("#problem-2").get_by_role("button", name="Check").click()
    # in place with JavaScript: the score of the first check is there until the new one
    page.locator("#p2-score").filter(has_text="every part right").wait_for()


def test_an_instructor_makes_a_set_with_templates_and_grades_it_with_the_same_file(
        server, page, tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(OWN)
    sign_in(server, page)
    page.locator("#set-count").fill("3")
    page.locator("#set-seed").fill("31")
    for t in worksheets.TYPES.values():
        page.locator(f'input[name="type.{t.id}"]').uncheck()
    page.get_by_label("One tanh neuron, one SGD step").check()
    page.get_by_label("Templates file").first.set_input_files(str(mine))
    page.get_by_label("html:").uncheck()
    page.get_by_label("json:").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Make the set and download it").click()
    archive = zipfile.ZipFile(download.value.path())
    key = json.loads(archive.read("answer-key.json"))
    files = []
    for sheet in key["sheets"]:
        tanh, square = sheet["problems"]
        assert (tanh["type"], square["type"]) == ("tanh-neuron", "square-of-product")
        worked = square_key(square["parameters"]["inputs"])
        answers = {"values": {"z": worked["values.z"], "f": worked["values.f"]},
                   "gradients": {"w": worked["gradients.w"], "x": worked["gradients.x"]}}
        if sheet["student"] == "student-02":
            answers["gradients"]["x"] += 1
        path = tmp_path / f"{sheet['student']}.json"
        path.write_text(json.dumps({"student": sheet["student"], "problems": [
            {"token": square["token"], "answers": answers}]}))
        files.append(str(path))
    page.goto(f"{server.base}/instructor")
    page.get_by_label("The students' answer files").set_input_files(files)
    page.locator("#grade-templates-file").set_input_files(str(mine))
    with page.expect_download() as download:
        page.get_by_role("button", name="Grade and download the gradebook and feedback").click()
    rows = list(csv.DictReader(io.StringIO(zipfile.ZipFile(download.value.path())
                                           .read("gradebook.csv").decode())))
    totals = {r["Student"]: r["gradsheet total"] for r in rows}
    assert totals == {"student-01": "4", "student-02": "3", "student-03": "4"}
