"""The student pages: the worksheet's topics, practice with instant feedback, and an
assigned sheet opened by its tokens. No account and no state on the server: every
problem travels in its signed token, every answer in the form.

Practice variants come from seeds above MAX_SEED, which no class set can have (set
requests are refused past it), for one fixed pseudo-student, so a practice variant is
never a student's; its tokens carry the practice flag, so expected answers and
solutions show after an attempt. They are open to everyone by design.

The library's templates (worksheets/templates/) are topics like the built-in types. An
instructor's own template travels with the sheet: the student brings its file when
opening the sheet, and the sheet's form carries it from check to check
(service.pages.page_templates).
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, abort, current_app, render_template, request, url_for

import worksheets
from worksheets.generator import MAX_SEED
from service.pages.error_pages import answer_errors_with_pages
from service.pages import page_templates
from service.pages.option_fields import option_state, options_from
from service.pages.problem_view import check, problem_view, reveal_solution
from service.ratelimit import client_address
from service.runtime import runtime

bp = Blueprint("practice", __name__, template_folder="../templates")
answer_errors_with_pages(bp)

PRACTICE_STUDENT = "practice"
PRACTICE_SEEDS = 2 ** 62
MAX_SHEET_TOKENS = worksheets.generator.MAX_PROBLEMS_PER_SHEET
_TOKEN_SPLIT = re.compile(r"[\s,;]+")


def _index(open_error: str | None = None, status: int = 200):
    return render_template("index.html", types=worksheets.problem_types(),
                           templates=page_templates.library_templates(),
                           open_error=open_error), status


@bp.get("/")
def index():
    return _index()


def _type_or_404(type_id: str):
    t = worksheets.TYPES.get(type_id) or page_templates.library_types().get(type_id)
    if t is None:
        abort(404, f"there is no problem type {type_id!r}; the topics are on the home page")
    return t


def _practice_token(t, options: dict) -> str:
    gen = runtime().generator
    seed = MAX_SEED + 1 + secrets.randbelow(PRACTICE_SEEDS)
    return gen.signer.sign(gen.variant(seed, PRACTICE_STUDENT), 0, t.id, options, True,
                           getattr(t, "template_hash", None))


@bp.get("/practice/<type_id>")
def practice(type_id: str):
    t = _type_or_404(type_id)
    options, message = options_from(t, request.args)
    with runtime().admission:
        view = problem_view(runtime().generator, 1, _practice_token(t, options))
    return render_template("practice.html", t=t, view=view, notice=message,
                           options=option_state(t, options),
                           new_numbers=url_for("practice.practice", type_id=t.id,
                                               **options))


@bp.post("/practice/<type_id>")
def practice_check(type_id: str):
    t = _type_or_404(type_id)
    token = request.form.get("token", "")
    with runtime().admission:
        try:
            view = problem_view(runtime().generator, 1, token)
        except worksheets.ProblemSetError as exc:
            return _bad_token(exc)
        if view.type_id != t.id:
            abort(400, f"this token is for {view.type_id}, not {t.id}")
        notice = _grade(view)
    options = runtime().generator.signer.read(token).options
    return render_template("practice.html", t=t, view=view, notice=notice,
                           options=option_state(t, options),
                           new_numbers=url_for("practice.practice", type_id=t.id,
                                               **options))



def _pasted_tokens(text: str) -> list[str] | None:
    return [s for s in _TOKEN_SPLIT.split(text) if s] or None


_NO_TOKEN = "Paste a problem token from your sheet (or several, one per problem, in order)."


@bp.get("/sheet")
def sheet():
    tokens = _pasted_tokens(request.args.get("code", ""))
    if not tokens:
        return _index(_NO_TOKEN, 400)
    return _sheet_page(tokens, grade=False)


@bp.post("/sheet/open")
def sheet_open():
    """The home page's box: tokens, and the instructor's templates when the sheet has
    problems of templates the server does not hold."""
    tokens = _pasted_tokens(request.form.get("code", ""))
    if not tokens:
        return _index(_NO_TOKEN, 400)
    try:
        given = page_templates.read_form_templates(request.form, request.files)
    except worksheets.ProblemSetError as exc:
        return _index(f"Your instructor's templates cannot be read: {exc}", 400)
    return _sheet_page(tokens, grade=False, given=given)


@bp.post("/sheet")
def sheet_check():
    try:
        given = page_templates.carried(request.form)
    except worksheets.ProblemSetError as exc:
        abort(400, f"the sheet's templates cannot be read: {exc}")
    return _sheet_page(request.form.getlist("token"), grade=True, given=given)


def _sheet_page(tokens: list[str], grade: bool, given=()):
    if len(tokens) > MAX_SHEET_TOKENS:
        abort(400, f"a sheet holds at most {MAX_SHEET_TOKENS} problems, not {len(tokens)}")
    views, notices = [], []
    with runtime().admission:
        for k, token in enumerate(tokens, start=1):
            try:
                view = problem_view(runtime().generator, k, token, given)
            except worksheets.ProblemSetError as exc:
                return _bad_token(exc, number=k if len(tokens) > 1 else None)
            if grade:
                notice = _grade(view)
                if notice:
                    notices.append(notice)
            views.append(view)
    own = {t.hash: t for v in views for t in v.templates
           if not page_templates.held_by_server(t)}
    return render_template("sheet.html", views=views, notice="; ".join(notices) or None,
                           reveal=all(v.reveal for v in views),
                           carried_templates=page_templates.carry(list(own.values())))


def _grade(view) -> str | None:
    """Check the view's answers (and show its solution when asked); a refusal of the
    grading limits in words, else None."""
    form = request.form
    if not any((form.get(f.name) or "").strip() for g in view.groups for f in g.fields):
        if form.get("solution") == str(view.number):
            view.message = "Try it first: enter at least one answer and press Check."
        return None
    ticket = runtime().generator.signer.read(view.token)
    refusal = current_app.extensions["gradsheet.page_limits"].refusal(client_address(), ticket)
    if refusal:
        whose = "this address" if refusal.what == "address" else "this problem"
        view.message = f"too many checks of {whose}: the limit is {refusal.limit}; try again later"
        return view.message
    check(runtime().generator, view, form)
    if form.get("solution") == str(view.number):
        reveal_solution(view)
    return None


def _bad_token(exc, number: int | None = None):
    where = f"Problem {number}'s token" if number else "That token"
    return _index(f"{where} cannot be opened: {exc.message}", 400)
