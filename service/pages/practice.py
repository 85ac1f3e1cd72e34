"""The student pages: the worksheet's topics, practice with instant feedback, and an
assigned sheet opened by its tokens. No account and no state on the server: every
problem travels in its signed token, every answer in the form.

Practice variants come from seeds above MAX_SEED, which no class set can have (set
requests are refused past it), for one fixed pseudo-student, so a practice variant is
never a student's; its tokens carry the practice flag, so expected answers and
solutions show after an attempt. They are open to everyone by design.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, abort, current_app, render_template, request, url_for

import worksheets
from worksheets.generator import MAX_SEED
from service.pages.error_pages import answer_errors_with_pages
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


@bp.get("/")
def index():
    return render_template("index.html", types=worksheets.problem_types())


def _type_or_404(type_id: str):
    t = worksheets.TYPES.get(type_id)
    if t is None:
        abort(404, f"there is no problem type {type_id!r}; the topics are on the home page")
    return t


def _practice_token(t, options: dict) -> str:
    gen = runtime().generator
    seed = MAX_SEED + 1 + secrets.randbelow(PRACTICE_SEEDS)
    return gen.signer.sign(gen.variant(seed, PRACTICE_STUDENT), 0, t.id, options, True)


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



@bp.get("/sheet")
def sheet():
    text = request.args.get("code", "")
    tokens = [s for s in _TOKEN_SPLIT.split(text) if s]
    if not tokens:
        return render_template("index.html", types=worksheets.problem_types(),
                               open_error="Paste a problem token from your sheet (or several, "
                                          "one per problem, in order)."), 400
    return _sheet_page(tokens, grade=False)


@bp.post("/sheet")
def sheet_check():
    return _sheet_page(request.form.getlist("token"), grade=True)


def _sheet_page(tokens: list[str], grade: bool):
    if len(tokens) > MAX_SHEET_TOKENS:
        abort(400, f"a sheet holds at most {MAX_SHEET_TOKENS} problems, not {len(tokens)}")
    views, notices = [], []
    with runtime().admission:
        for k, token in enumerate(tokens, start=1):
            try:
                view = problem_view(runtime().generator, k, token)
            except worksheets.ProblemSetError as exc:
                return _bad_token(exc, number=k if len(tokens) > 1 else None)
            if grade:
                notice = _grade(view)
                if notice:
                    notices.append(notice)
            views.append(view)
    return render_template("sheet.html", views=views, notice="; ".join(notices) or None,
                           reveal=all(v.reveal for v in views))


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
        view.message = refusal
        return refusal
    check(runtime().generator, view, form)
    if form.get("solution") == str(view.number):
        reveal_solution(view)
    return None


def _bad_token(exc, number: int | None = None):
    where = f"Problem {number}'s token" if number else "That token"
    return render_template("index.html", types=worksheets.problem_types(),
                           open_error=f"{where} cannot be opened: {exc.message}"), 400
