"""One problem as a page shows it, built from its token alone: statement (MathML),
figure with its text alternative, the answer form, and once checked the marks per part,
and, when the token allows it and the student has tried, the worked solution."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from worksheets.exports import markup
from worksheets.generator import solve
from service.pages.answer_form import Group, attach, groups_of, read_answers
from service.pages.figure_text import figure_text
from service.pages.page_templates import template_for


@dataclass
class ProblemView:
    number: int               # place on the page, from 1
    token: str
    type_id: str
    title: str
    statement: Markup
    figure: Markup | None
    figure_alt: str
    reveal: bool              # the token shows expected answers and solutions
    groups: list[Group]
    graded: dict | None = None
    submitted: bool = False   # at least one answer was sent
    message: str | None = None
    solution: list = field(default_factory=list)
    key_figure: Markup | None = None
    # the template a template problem was opened with (the library's or the form's)
    templates: list = field(default_factory=list, repr=False)
    # (type, options, variant, answers, problem): what checking and solving need again
    state: tuple = field(default=(), repr=False)

    @property
    def prefix(self) -> str:
        return f"p{self.number}-"


def problem_view(generator, number: int, token: str, given=()) -> ProblemView:
    """The blank problem the token names, a template problem's template found by its
    hash in the library or among `given`; TokenError when it names none."""
    templates = template_for(generator.signer.read(token), given)
    ticket, t, options, variant, answers = generator.regenerate(token, templates)
    tolerances = t.part_tolerances(variant)
    problem = {"id": f"{ticket.variant}-{ticket.index + 1}", "type": t.id,
               "parameters": variant.parameters, "answers": answers,
               "tolerance": {k: tol.to_dict() for k, tol in tolerances.items()}}
    view = ProblemView(number, token, t.id, t.title,
                       Markup(markup.html(t.statement(variant, options))), None, "",
                       ticket.reveal, groups_of(problem, f"p{number}-", tolerances))
    if t.figure_shows is not None:
        view.figure_alt = figure_text(t.figure_shows, variant.parameters)
        view.figure = Markup(t.figure(problem, False, view.figure_alt))
    view.state = (t, options, variant, answers, problem)
    view.templates = templates
    return view


def check(generator, view: ProblemView, form) -> None:
    """Grade what `form` holds for the problem (Generator.grade, the token's own rules)."""
    _, _, _, answers, _ = view.state
    submitted = read_answers(view.groups, answers, form)
    view.submitted = bool(submitted)
    if any(f.error for g in view.groups for f in g.fields):
        view.message = "Some answers are not numbers the grader can read: see below."
    view.graded = generator.grade(view.token, submitted, view.templates)
    attach(view.groups, view.graded["parts"])


def reveal_solution(view: ProblemView) -> None:
    """The worked solution and the filled-in figure, for a token that shows them and a
    student who has tried."""
    if not view.reveal:
        view.message = ("This sheet does not show solutions: your instructor set it for "
                        "marks, not practice.")
        return
    if not view.submitted:
        view.message = "Try it first: enter at least one answer and press Check."
        return
    t, options, variant, _, problem = view.state
    _, steps = solve(t, variant, options, worked=True)
    view.solution = [(s["title"], Markup(markup.inline_html(s["text"]))) for s in steps]
    if t.figure_shows is not None:
        view.key_figure = Markup(t.figure(problem, True, view.figure_alt.rstrip(".")
                                          + ", with every value and gradient filled in."))
