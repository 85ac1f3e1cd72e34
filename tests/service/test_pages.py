"""The pages through Flask's test client: security headers, the instructor routes'
refusals (no session, a wrong token, a form without its CSRF token), markup posted in
every field coming back escaped, and the numbers students type."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from io import BytesIO

import pytest

import worksheets
from service import create_app
from service.pages.answer_form import NumberError, read_typed_number
from worksheets.generator import MAX_SEED, Generator
from worksheets.template import library, read_templates

SECRET = "pages-test-secret-" + "x" * 20
TOKEN = "instructor-token-for-the-pages-test"
SCRIPT = '<script>alert("x")</script><b onmouseover=alert(1)>'


@pytest.fixture(scope="module")
def jobs_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("page-jobs"))


@pytest.fixture(scope="module")
def app(jobs_dir):
    # no job consumer runs here: a queued job stays queued, which is all these tests need
    return create_app({"warmup": "off", "secret": SECRET, "instructor_tokens": TOKEN,
                       "TESTING": True, "jobs_dir": jobs_dir})


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(client):
    page = client.get("/instructor").get_data(as_text=True)
    r = client.post("/instructor/sign-in", data={"token": TOKEN, "csrf_token": csrf_of(page)})
    assert r.status_code == 303
    return csrf_of(client.get("/instructor").get_data(as_text=True))


@pytest.mark.parametrize("path", ["/", "/practice/gate_gradient", "/instructor",
                                  "/assets/pages.css", "/assets/pages.js"])
def test_every_page_sends_the_security_headers(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_pages_have_no_inline_script_or_style(client):
    for path in ("/", "/practice/graph_backprop", "/practice/logistic_regression", "/instructor"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and not re.search(r'\sstyle="', html), path


INSTRUCTOR_POSTS = ["/instructor/problem-set", "/instructor/grade", "/instructor/trace",
                    "/instructor/sign-out"]


@pytest.mark.parametrize("path", INSTRUCTOR_POSTS)
def test_instructor_routes_refuse_without_signing_in(client, path):
    r = client.post(path, data={"count": "3", "seed": "1", "type.gate_gradient": "1"})
    assert r.status_code == 401
    assert "Sign in with an instructor token first" in r.get_data(as_text=True)


def test_instructor_page_shows_only_the_sign_in_form_until_signed_in(client):
    html = client.get("/instructor").get_data(as_text=True)
    assert "Instructor token" in html and "Make a class set" not in html


def test_a_wrong_token_does_not_sign_in(client):
    page = client.get("/instructor").get_data(as_text=True)
    r = client.post("/instructor/sign-in", data={"token": TOKEN + "x", "csrf_token": csrf_of(page)})
    assert r.status_code == 401
    for path in INSTRUCTOR_POSTS:
        assert client.post(path, data={"csrf_token": csrf_of(page)}).status_code == 401


@pytest.mark.parametrize("path", INSTRUCTOR_POSTS + ["/instructor/sign-in"])
def test_a_form_without_its_csrf_token_is_refused(client, path):
    signed_in(client)
    r = client.post(path, data={"token": TOKEN, "count": "3", "seed": "1"})
    assert r.status_code == 400
    assert "CSRF" in r.get_data(as_text=True)


def test_the_session_cookie_is_httponly_and_same_site_strict(client):
    page = client.get("/instructor").get_data(as_text=True)
    r = client.post("/instructor/sign-in", data={"token": TOKEN, "csrf_token": csrf_of(page)})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TOKEN not in cookie         # the session holds the token's digest, not the token
    https = client.post("/instructor/sign-in", base_url="https://localhost",
                        data={"token": TOKEN, "csrf_token": csrf_of(page)})
    assert "Secure" in https.headers["Set-Cookie"]


def test_the_api_needs_no_csrf_token(client):
    token = worksheets.generate(1, 1, ["conv_same_padding"], secret=SECRET)["sheets"][0][
        "problems"][0]["token"]
    r = client.post("/v1/grade", json={"token": token, "answers": {"padding": 1}})
    assert r.status_code == 200


def test_markup_in_every_student_field_comes_back_escaped(client):
    r = client.get("/sheet", query_string={"code": SCRIPT})
    assert r.status_code == 400 and SCRIPT not in r.get_data(as_text=True)
    r = client.post("/practice/gate_gradient", data={"token": SCRIPT, "p1-output": SCRIPT})
    assert SCRIPT not in r.get_data(as_text=True)
    html = client.get("/practice/graph_backprop").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    names = re.findall(r'<input type="text" id="([^"]+)"', html)
    form = {n: SCRIPT for n in names}
    form.update({"token": token, "check": "1", f"p1-values.{SCRIPT}": "1", SCRIPT: SCRIPT})
    body = client.post("/practice/graph_backprop", data=form).get_data(as_text=True)
    assert "<script>alert" not in body and "<b onmouseover" not in body
    assert "&lt;script&gt;" in body                       # shown back, as text
    r = client.get("/practice/graph_backprop", query_string={"difficulty": SCRIPT,
                                                            "families": SCRIPT})
    assert r.status_code == 200 and "<script>alert" not in r.get_data(as_text=True)


def test_markup_in_instructor_fields_and_roster_comes_back_escaped(client):
    csrf = signed_in(client)
    roster = ("id\n" + SCRIPT.replace(",", " ") + "\nada\n").encode()
    r = client.post("/instructor/trace", data={
        "csrf_token": csrf, "seed": "4", "variant": SCRIPT, "token": SCRIPT,
        "roster": (BytesIO(roster), "roster<b>.csv")}, content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert "<script>alert" not in body and "<b>" not in body
    s = worksheets.generate(4, [SCRIPT.replace(",", " "), "ada"], ["gate_gradient"],
                            secret=SECRET)
    r = client.post("/instructor/trace", data={
        "csrf_token": csrf, "seed": "4", "variant": s["sheets"][0]["variant"],
        "roster": (BytesIO(roster), "roster.csv")}, content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert "&lt;script&gt;alert" in body and "<script>alert" not in body
    r = client.post("/instructor/problem-set", data={"csrf_token": csrf, "count": SCRIPT,
                                                     "seed": SCRIPT})
    assert r.status_code == 400 and "<script>alert" not in r.get_data(as_text=True)


def test_a_set_over_the_admission_limit_becomes_the_tokens_background_job(client):
    csrf = signed_in(client)
    r = client.post("/instructor/problem-set", data={
        "csrf_token": csrf, "count": "500", "seed": "1", "format": "pdf",
        "type.gate_gradient": "1", "submission": "form-1"})
    assert r.status_code == 303
    job_page = r.headers["Location"]
    job_id = job_page.rsplit("/", 1)[1]
    assert job_page == f"/instructor/jobs/{job_id}"
    assert client.get(f"{job_page}/status").get_json() == {
        "id": job_id, "status": "queued", "done": 0, "of": 500}
    # the same job over the API with the token the page was signed in with
    api = client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert api.status_code == 200 and api.get_json()["of"] == 500
    # the same form sent twice (a double click) is the same job
    again = client.post("/instructor/problem-set", data={
        "csrf_token": csrf, "count": "500", "seed": "1", "format": "pdf",
        "type.gate_gradient": "1", "submission": "form-1"})
    assert again.headers["Location"] == job_page
    html = client.get(job_page).get_data(as_text=True)
    assert "0</span> of <span id=\"job-of\">500" in html and 'http-equiv="refresh"' in html
    assert client.get(f"{job_page}/result").status_code == 409
    r = client.post(f"{job_page}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert client.get(f"{job_page}/status").get_json()["status"] == "cancelled"
    assert 'http-equiv="refresh"' not in client.get(job_page).get_data(as_text=True)


def test_a_set_past_the_jobs_limit_is_refused_with_the_limit_named(client):
    csrf = signed_in(client)
    r = client.post("/instructor/problem-set", data={
        "csrf_token": csrf, "count": "40000", "seed": "1", "format": "markdown",
        "type.gate_gradient": "1"})
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "jobs_max_problems" in body and "split the class" in body


def test_a_job_page_answers_only_its_own_instructor(app, client):
    csrf = signed_in(client)
    r = client.post("/instructor/problem-set", data={
        "csrf_token": csrf, "count": "200", "seed": "2", "format": "pdf",
        "type.gate_gradient": "1"})
    job_page = r.headers["Location"]
    stranger = app.test_client()
    assert stranger.get(f"{job_page}/status").status_code == 401
    assert stranger.get(job_page).status_code == 401
    assert stranger.get(f"{job_page}/result").status_code == 401
    assert client.get("/instructor/jobs/not-a-job-id-of-anyone").status_code == 404
    assert "Set" in client.get("/instructor").get_data(as_text=True)
    client.post(f"{job_page}/cancel", data={"csrf_token": csrf})


OWN = """id: square-of-product
title: The square of a product
graph: "z = w*x; f = z*z"
params: {w: {int: [1, 3]}, x: {int: [-3, -1]}}
ask: {values: [z, f], gradients: [w, x]}
"""


def _own_sheet(seed=3):
    return worksheets.generate(seed, ["ada"], ["gate_gradient", "square-of-product"],
                               secret=SECRET, templates=read_templates(OWN),
                               reveal=False)["sheets"][0]["problems"]


def _square_key(problem) -> dict:
    """The independent key of OWN: z = w x, f = z^2, df/dw = 2 z x, df/dx = 2 z w."""
    w, x = problem["parameters"]["inputs"]["w"], problem["parameters"]["inputs"]["x"]
    z = w * x
    return {"p2-values.z": z, "p2-values.f": z * z, "p2-gradients.w": 2 * z * x,
            "p2-gradients.x": 2 * z * w}


def test_a_sheet_of_an_own_template_asks_for_its_file_and_grades_with_it(client):
    problems = _own_sheet()
    code = "\n".join(p["token"] for p in problems)
    r = client.post("/sheet/open", data={"code": code})
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "own template &#39;square-of-product&#39;" in body and "templates file" in body
    r = client.post("/sheet/open", data={"code": code, "templates_file": (
        BytesIO(OWN.encode()), "mine.yaml")}, content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'name="templates_json"' in body
    carried = re.search(r'name="templates_json" value="([^"]+)"', body).group(1)
    form = {"token": [p["token"] for p in problems], "templates_json": html.unescape(carried),
            **{k: str(v) for k, v in _square_key(problems[1]).items()}}
    body = client.post("/sheet", data=form).get_data(as_text=True)
    assert re.search(r"Score 4 of 4: every part right", body), body[-3000:]


def test_a_changed_own_template_is_refused_not_graded(client):
    problems = _own_sheet()
    changed = OWN.replace("[1, 3]", "[1, 4]")
    r = client.post("/sheet/open", data={"code": problems[1]["token"], "templates": changed})
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "another version of the template" in body
    # and the carried field of a sheet page, changed by hand, is refused the same way
    r = client.post("/sheet", data={"token": problems[1]["token"], "templates_json": json.dumps(
        [{"id": "square-of-product", "graph": "z = w*x; f = z*z",
          "params": {"w": {"int": [1, 4]}, "x": {"int": [-3, -1]}},
          "ask": {"values": ["z", "f"]}}]), "p1-values.z": "1"})
    assert r.status_code == 400 and "another version" in r.get_data(as_text=True)
    r = client.post("/sheet", data={"token": problems[1]["token"], "templates_json": "{nope"})
    assert r.status_code == 400 and "not the JSON this page wrote" in r.get_data(as_text=True)


def test_a_template_file_with_an_error_is_named_by_line_and_field(client):
    r = client.post("/sheet/open", data={"code": "x", "templates": OWN.replace("int:", "intt:")})
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "line 4" in body and "params.w" in body


def test_the_library_templates_are_topics_with_practice_pages(client):
    home = client.get("/").get_data(as_text=True)
    for t in library():
        assert f'href="/practice/{t.id}"' in home
        page = client.get(f"/practice/{t.id}")
        assert page.status_code == 200, t.id
        token = re.search(r'name="token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        ticket = Generator(SECRET).signer.read(token)
        assert ticket.template == t.hash and ticket.reveal


def test_an_instructor_makes_a_set_with_a_library_and_an_own_template(client):
    csrf = signed_in(client)
    r = client.post("/instructor/problem-set", data={
        "csrf_token": csrf, "count": "2", "seed": "7", "format": "json",
        "type.tanh-neuron": "1", "templates_file": (BytesIO(OWN.encode()), "mine.yaml")},
        content_type="multipart/form-data")
    assert r.status_code == 200, r.get_data(as_text=True)[-2000:]
    files = zipfile.ZipFile(io.BytesIO(r.get_data()))
    key = json.loads(files.read("answer-key.json"))
    assert [p["type"] for p in key["sheets"][0]["problems"]] == ["tanh-neuron",
                                                                 "square-of-product"]
    r = client.post("/instructor/problem-set", data={
        "csrf_token": csrf, "count": "2", "seed": "7", "format": "json",
        "templates": OWN + 'require: ["f > 100"]\n'})
    body = r.get_data(as_text=True)
    # f is at most (3 x 3)^2 = 81: the stress test finds no variant, and says why
    assert r.status_code == 400 and "Your templates" in body and "f &gt; 100" in body


def test_practice_variants_lie_outside_every_class_sets_seeds(client):
    html = client.get("/practice/gate_gradient").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    gen = Generator(SECRET)
    ticket = gen.signer.read(token)
    assert ticket.reveal
    # a set's seed is at most MAX_SEED, so no class set names the practice student's
    # variant unless BLAKE2b collides; trace of the seeds around MAX_SEED finds none
    assert gen.trace(MAX_SEED, ["practice"], variant=ticket.variant) == []
    with pytest.raises(worksheets.ProblemSetError):
        worksheets.generate(MAX_SEED + 1, ["practice"], secret=SECRET)


def test_marks_for_sheets_without_answers_are_rate_limited_on_the_page_too():
    app = create_app({"warmup": "off", "secret": SECRET, "instructor_tokens": TOKEN,
                      "grade_limit_per_problem": "2 per minute"})
    client = app.test_client()
    token = worksheets.generate(9, ["ada"], ["conv_same_padding"], secret=SECRET,
                                reveal=False)["sheets"][0]["problems"][0]["token"]
    bodies = [client.post("/sheet", data={"token": token, "p1-padding": str(k)})
              .get_data(as_text=True) for k in range(3)]
    assert all("Score" in b for b in bodies[:2])
    assert "too many checks of this problem" in bodies[2] and "Score" not in bodies[2]


@pytest.mark.parametrize("typed,value", [("-0.75", -0.75), ("3/4", 0.75), ("1e-3", 0.001),
                                         (" \u22120.5 ", -0.5), ("-3 / 4", -0.75), (".5", 0.5),
                                         ("2.", 2.0), ("1.5E+2", 150.0)])
def test_numbers_in_the_forms_students_type(typed, value):
    assert read_typed_number(typed) == value


@pytest.mark.parametrize("typed,says", [("abc", "is not a number such as -0.75, 3/4 or 1e-3"),
                                        ("0,75", "decimal point as a dot"),
                                        ("1/0", "divides by zero"), ("nan", "is not a number"),
                                        ("1e999", "too large"), ("1/2/3", "is not a number")])
def test_anything_else_gets_a_clear_message(typed, says):
    with pytest.raises(NumberError, match=re.escape(says)):
        read_typed_number(typed)


def test_a_job_from_the_page_makes_the_problems_of_an_own_template(client, jobs_dir,
                                                                   monkeypatch):
    from service.jobs import work
    csrf = signed_in(client)
    # 130 x 2 problems: past the Markdown limit of one request (250), so a job
    r = client.post("/instructor/problem-set", data={
        "csrf_token": csrf, "count": "130", "seed": "5", "format": ["json", "markdown"],
        "type.gate_gradient": "1", "templates": OWN})
    assert r.status_code == 303
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    # the worker's part, in this process, with the server's settings
    monkeypatch.setenv("GRADSHEET_SECRET", SECRET)
    monkeypatch.setenv("GRADSHEET_JOBS_DIR", jobs_dir)
    work.run_job(job_id, 1)
    assert client.get(f"/instructor/jobs/{job_id}/status").get_json()["status"] == "done"
    r = client.get(f"/instructor/jobs/{job_id}/result")
    files = zipfile.ZipFile(io.BytesIO(r.get_data()))
    key = json.loads(files.read("answer-key.json"))
    assert len(key["sheets"]) == 130
    for sheet in key["sheets"][:20]:
        square = sheet["problems"][1]
        assert square["type"] == "square-of-product"
        worked = _square_key(square)
        assert square["answers"]["values"] == {"z": worked["p2-values.z"],
                                               "f": worked["p2-values.f"]}
        assert square["answers"]["gradients"] == {"w": worked["p2-gradients.w"],
                                                  "x": worked["p2-gradients.x"]}
    assert "square of a product" in files.read("student-001.md").decode().lower()
