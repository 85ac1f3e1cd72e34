"""The instructor page: make a class's problem set and download it, grade a class's
answer files into a gradebook CSV, and trace a leaked sheet to its student.

A set within the synchronous limits (service.admission) is made in the request and
downloaded at once; a larger one is queued as a background job (class_jobs) and the
page watches it: a status page that reloads itself, or with JavaScript a progress bar
(static/jobs.js), a Cancel button and the zip once done.

Problems may come from the library's templates (checkboxes beside the built-in types)
and from the instructor's own templates file (uploaded or pasted; every template of it
becomes one problem, after the others). Own templates are stress-tested as the API's
are, and grading a class's answers takes the same file.

Behind an instructor token (GRADSHEET_INSTRUCTOR_TOKENS, as the API's bearer): the
sign-in form keeps the token's digest in Flask's signed session cookie (HttpOnly,
SameSite=Strict), checked against the configured tokens on every request, so removing
a token signs its sessions out. Every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import tempfile
from pathlib import Path

from flask import (Blueprint, Response, abort, current_app, redirect, render_template, request,
                   send_file, session, url_for)
from flask_wtf.csrf import CSRFError, CSRFProtect

import worksheets
from worksheets import exports, gradebook
from worksheets.exports.archive import zip_bytes
from worksheets.generator import read_request
from worksheets.leaks import leaked_codes
from worksheets.roster import read_roster
from service import admission, export_process
from service.auth import parse_tokens
from worksheets.problems.template_problem import problem_type_of, stress
from service.orjson_provider import json_response
from service.pages import class_jobs, page_templates
from service.pages.error_pages import answer_errors_with_pages
from service.pages.option_fields import option_state, options_from
from service.problems import Problem, TooMuchWork
from service.problemsets import REQUEST_STRESS_VARIANTS
from service.runtime import runtime

bp = Blueprint("instructor", __name__, template_folder="../templates")
answer_errors_with_pages(bp)
csrf = CSRFProtect()

_DIGESTS = "gradsheet.page_instructor_digests"
_SESSION_KEY = "instructor"
# Formats offered on the page; the API takes the same names (worksheets.exports.FORMATS).
FORMATS = tuple(exports.FORMATS)


class NotSignedIn(Exception):
    """A request to an instructor route without a signed-in session."""


def install(app, tokens: str) -> None:
    app.extensions[_DIGESTS] = tuple(_digest(t) for t in parse_tokens(tokens))
    # The API's POSTs carry no session and need no CSRF token: only these forms do.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _is_instructor_token(token: str) -> bool:
    wanted = _digest(token)
    matched = False
    for digest in current_app.extensions[_DIGESTS]:
        matched |= hmac.compare_digest(wanted, digest)
    return matched


def signed_in() -> bool:
    digest = session.get(_SESSION_KEY)
    if not isinstance(digest, str):
        return False
    matched = False
    for known in current_app.extensions[_DIGESTS]:
        matched |= hmac.compare_digest(digest, known)
    return matched


@bp.before_request
def _guard():
    if request.method == "POST":
        if request.endpoint != "instructor.sign_in" and not signed_in():
            raise NotSignedIn()
        csrf.protect()


@bp.errorhandler(NotSignedIn)
def _not_signed_in(exc):
    return _sign_in_page("Sign in with an instructor token first.", 401)


@bp.errorhandler(CSRFError)
def _csrf_failed(exc):
    return _sign_in_page(f"The form was refused: {exc.description} Reload the page and try "
                         "again.", 400) if not signed_in() else _tools(
        f"The form was refused: {exc.description} Reload the page and try again.", 400)


def _sign_in_page(message: str | None = None, status: int = 200):
    off = not current_app.extensions[_DIGESTS]
    return render_template("sign_in.html", message=message, off=off), status


@bp.get("/instructor")
def page():
    if not signed_in():
        return _sign_in_page()
    return _tools()


def _owner() -> str:
    """The signed-in token's digest: the owner of its jobs (service.jobs.store)."""
    return session[_SESSION_KEY]


def _tools(message: str | None = None, status: int = 200, trace_result=None):
    types = [(t, option_state(t, {})) for t in worksheets.TYPES.values()]
    jobs = [class_jobs.view_of(r) for r in class_jobs.records(_owner())]
    return render_template("instructor.html", types=types, formats=exports.FORMATS,
                           library=page_templates.library_templates(),
                           message=message, trace_result=trace_result, jobs=jobs,
                           submission=secrets.token_urlsafe(16)), status


@bp.post("/instructor/sign-in")
def sign_in():
    token = request.form.get("token", "").strip()
    if not current_app.extensions[_DIGESTS]:
        return _sign_in_page("Instructor access is off: this server has no instructor "
                             "token (GRADSHEET_INSTRUCTOR_TOKENS).", 403)
    if not token or not _is_instructor_token(token):
        return _sign_in_page("That is not an instructor token of this server.", 401)
    session.clear()
    session[_SESSION_KEY] = _digest(token)
    return redirect(url_for("instructor.page"), 303)


@bp.post("/instructor/sign-out")
def sign_out():
    session.clear()
    return redirect(url_for("instructor.page"), 303)


class FormError(ValueError):
    """A field of an instructor form that cannot be used, in words."""


def _students(form, files):
    """The roster's ids (an uploaded CSV) or the count typed in."""
    upload = files.get("roster")
    if upload is not None and upload.filename:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "roster.csv"
            path.write_bytes(upload.read())
            try:
                return read_roster(str(path))
            except worksheets.ProblemSetError as exc:
                raise FormError("Roster: " + exc.message.replace(str(path),
                                                                 upload.filename)) from None
    count = form.get("count", "").strip()
    if not count.isdigit() or int(count) < 1:
        raise FormError("Give a roster CSV or a number of students (a whole number from 1).")
    return int(count)


def _seed(form) -> int:
    text = form.get("seed", "").strip()
    if not text.isdigit():
        raise FormError(f"The seed is a whole number from 0 (it labels the set), not "
                        f"{text[:40]!r}.")
    return int(text)


def _refusal(exc: Problem) -> str:
    return exc.detail[:1].upper() + exc.detail[1:] + "."


def _own_templates(form, files, stressed: bool) -> list:
    """The instructor's templates from the form, checked (and stress-tested, as the
    API's are, when `stressed`); FormError saying where one is wrong."""
    try:
        own = page_templates.read_form_templates(form, files)
        if stressed and own:
            admission.admit_templates(own, REQUEST_STRESS_VARIANTS)
            for t in own:
                stress(problem_type_of(t), REQUEST_STRESS_VARIANTS)
    except worksheets.ProblemSetError as exc:
        raise FormError(f"Your templates: {exc}") from None
    except Problem as exc:
        raise FormError(f"Your templates: {_refusal(exc)}") from None
    return own


def _chosen_problems(form, own: list) -> tuple[list, list]:
    """(problems, templates) of the set: the built-in types ticked (with their options),
    the library templates ticked, then every template of the instructor's file."""
    problems = []
    for t in worksheets.TYPES.values():
        if form.get(f"type.{t.id}"):
            options, message = options_from(t, form, prefix=f"{t.id}.")
            if message:
                raise FormError(f"{t.title}: {message}")
            problems.append({"type": t.id, **options})
    own_ids = {t.id for t in own}
    templates = [t for t in page_templates.library_templates()
                 if form.get(f"type.{t.id}") and t.id not in own_ids]
    templates += own
    problems += [{"type": t.id} for t in templates]
    if not problems:
        raise FormError("Choose at least one problem type or template.")
    return problems, templates


@bp.post("/instructor/problem-set")
def problem_set():
    form = request.form
    try:
        students, seed = _students(form, request.files), _seed(form)
        own = _own_templates(form, request.files, stressed=True)
        problems, templates = _chosen_problems(form, own)
        formats = exports.parse_formats(form.getlist("format") or ["html"])
        read_request(seed, students, problems, templates)   # refuse a bad set before queueing
    except (FormError, exports.ExportError) as exc:
        return _tools(str(exc), 400)
    except worksheets.ProblemSetError as exc:
        return _tools(str(exc), 400)
    practice = bool(form.get("practice"))
    try:
        share = admission.admit_problem_set(students, len(problems), formats)
    except TooMuchWork:
        return _submit_job(seed, students, problems, templates, formats, practice)
    except Problem as exc:
        return _tools(_refusal(exc), exc.status)
    try:
        with runtime().admission:
            name, media_type, data = admission.in_lane(
                share, _download, seed, students, problems, templates, formats, practice)
    except Problem as exc:
        return _tools(_refusal(exc), exc.status)
    except (worksheets.ProblemSetError, exports.ExportError) as exc:
        return _tools(str(exc), 400)
    return Response(data, content_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _download(seed, students, problems, templates, formats,
              practice: bool) -> tuple[str, str, bytes]:
    request_ = read_request(seed, students, problems, templates)
    body = runtime().generator.build(request_, include_answers=True, reveal=practice)
    return export_process.render_download(body, formats,
                                          niceness=runtime().settings.big_work_niceness)


def _submit_job(seed, students, problems, templates, formats, practice):
    """The set past the synchronous limits, queued as a background job; the job's page."""
    body = {"seed": seed, "students": students, "problems": problems, "format": formats,
            "practice": practice}
    if templates:
        body["templates"] = [t.source for t in templates]
    count = students if type(students) is int else len(students)
    key = (request.form.get("submission") or "")[:200] or None
    try:
        job_id = class_jobs.submit(_owner(), body, count, len(problems), key)
    except class_jobs.JobRefused as exc:
        return _tools(exc.message, exc.status)
    return redirect(url_for("instructor.job", job_id=job_id), 303)


def _job_or_404(job_id: str) -> dict:
    record = class_jobs.owned(_owner(), job_id)
    if record is None:
        abort(404, f"You have no set being made with the id {job_id!r} (finished sets are "
                   f"removed {current_app.extensions['gradsheet'].settings.jobs_result_seconds}"
                   f" s after they finish).")
    return record


@bp.get("/instructor/jobs/<job_id>")
def job(job_id: str):
    if not signed_in():
        return _sign_in_page("Sign in with an instructor token first.", 401)
    view = class_jobs.view_of(_job_or_404(job_id))
    return render_template("job.html", job=view, refresh=class_jobs.REFRESH_SECONDS,
                           poll_ms=class_jobs.POLL_MS)


@bp.get("/instructor/jobs/<job_id>/status")
def job_status(job_id: str):
    """The job's progress for the page's script (the session is its credential)."""
    if not signed_in():
        return json_response({"title": "Sign in with an instructor token first."}, 401)
    record = class_jobs.owned(_owner(), job_id)
    if record is None:
        return json_response({"title": f"no set {job_id!r} of this instructor"}, 404)
    return json_response(class_jobs.view_of(record).to_dict())


@bp.get("/instructor/jobs/<job_id>/result")
def job_result(job_id: str):
    if not signed_in():
        return _sign_in_page("Sign in with an instructor token first.", 401)
    view = class_jobs.view_of(_job_or_404(job_id))
    path = class_jobs.result_path(job_id)
    if view.status != "done" or not path.exists():
        abort(409, f"The set is {view.status}; its zip is there once it is done.")
    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=f"gradsheet-{view.seed}-{job_id[:8]}.zip", max_age=0)


@bp.post("/instructor/jobs/<job_id>/cancel")
def job_cancel(job_id: str):
    _job_or_404(job_id)
    class_jobs.cancel(job_id)
    return redirect(url_for("instructor.job", job_id=job_id), 303)


@bp.post("/instructor/grade")
def grade():
    files = [(f.filename or "answers.json", f.read())
             for f in request.files.getlist("answers") if f.filename]
    if not files:
        return _tools("Choose the students' answer files (JSON) to grade.", 400)
    try:
        own = _own_templates(request.form, request.files, stressed=False)
    except FormError as exc:
        return _tools(str(exc), 400)
    own_ids = {t.id for t in own}
    # the library's templates too, so a set made with them grades without a file
    templates = own + [t for t in page_templates.library_templates() if t.id not in own_ids]
    try:
        share = admission.admit(admission.Need(
            "max_batch_items", gradebook.count_problems(files),
            "problems in the answer files", "answers"))
        with runtime().admission:
            book = admission.in_lane(share, gradebook.grade_class, files,
                                     generator=runtime().generator, templates=templates)
    except Problem as exc:
        return _tools(_refusal(exc), exc.status)
    # the gradebook an LMS imports, and each student's feedback in words beside it
    data = zip_bytes(gradebook.gradebook_files(book))
    return Response(data, content_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="gradebook.zip"',
                             "Cache-Control": "no-store"})


@bp.post("/instructor/trace")
def trace():
    form = request.form
    variant = form.get("variant", "").strip() or None
    token = form.get("token", "").strip() or None
    try:
        students, seed = _students(form, request.files), _seed(form)
        leaked = request.files.get("sheet")
        if leaked is not None and leaked.filename:
            try:
                variant, token = leaked_codes(json.loads(leaked.read()))
            except ValueError as exc:
                raise FormError(f"The leaked sheet {leaked.filename} is not a gradsheet sheet "
                                f"in JSON: {exc}") from None
        found = runtime().generator.trace(seed, students, variant=variant, token=token)
    except FormError as exc:
        return _tools(str(exc), 400)
    except worksheets.ProblemSetError as exc:
        return _tools(f"{exc.path}: {exc.message}", 400)
    return _tools(trace_result={"found": found, "variant": variant, "token": token})
