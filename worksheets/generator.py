"""Problem sets: one sheet per student, every problem's key from one evaluate_many and
one conv1d_many call per set; grading one token; tracing a leaked sheet.

    >>> s = generate(7, ["ada", "alan"], ["conv_output_size", "graph_backprop"])
    >>> s["sheets"][0]["problems"][1]["answers"]["gradients"]     # doctest: +SKIP
"""

from __future__ import annotations

import functools
import gc
import numbers
from dataclasses import dataclass

import orjson

import engine
from engine.conv import conv1d_many
from worksheets.errors import ProblemSetError, TokenError
from worksheets.grading import read_submission, score
from worksheets.numerals import settle, stored
from worksheets.problem import Work
from worksheets.problems import TYPES, WORKSHEET, problem_type, template_types
from worksheets.problems.template_problem import template_type
from worksheets.seeding import GENERATOR_VERSION, Stream, keys, secret_bytes, variant_of
from worksheets.tokens import TokenSigner

MAX_SEED = 2 ** 53 - 1          # a whole number every JSON client reads exactly
MAX_STUDENT_ID_CHARS = 200
MAX_PROBLEMS_PER_SHEET = 50
MAX_STUDENTS = 100_000


@dataclass(frozen=True)
class Request:
    """A checked request for a set: seed, student ids, and problems as (type, options)."""

    seed: int
    students: list
    problems: list  # [(ProblemType, given options, options with defaults)]


def read_request(seed, students, problems=None, templates=None) -> Request:
    """Validate a set request; ProblemSetError names the field and the position.
    `templates` (worksheets.template.Template) add problem types by their ids."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ProblemSetError(f"must be a whole number, not {seed!r}", path="seed")
    if not 0 <= seed <= MAX_SEED:
        raise ProblemSetError(f"must be between 0 and {MAX_SEED}, not {seed}", path="seed")
    return Request(int(seed), read_students(students),
                   read_problems(problems, template_types(templates)))


def read_students(students) -> list:
    if isinstance(students, numbers.Integral) and not isinstance(students, bool):
        if not 1 <= students <= MAX_STUDENTS:
            raise ProblemSetError(f"must be between 1 and {MAX_STUDENTS}, not {students}",
                                  path="students")
        width = max(2, len(str(students)))
        return [f"student-{i:0{width}d}" for i in range(1, students + 1)]
    if not isinstance(students, (list, tuple)) or not students:
        raise ProblemSetError("must be a number of students or a non-empty list of student "
                              "ids", path="students")
    if len(students) > MAX_STUDENTS:
        raise ProblemSetError(f"lists {len(students)} students; the limit is {MAX_STUDENTS}",
                              path="students")
    seen: dict[str, int] = {}
    for i, s in enumerate(students):
        if isinstance(s, bool) or not isinstance(s, (str, numbers.Integral)):
            raise ProblemSetError(f"a student id is a string or a whole number, not {s!r}",
                                  path=f"students[{i}]")
        key = str(s)
        if not key.strip():
            raise ProblemSetError("a student id must not be empty", path=f"students[{i}]")
        if len(key) > MAX_STUDENT_ID_CHARS:
            raise ProblemSetError(f"is longer than {MAX_STUDENT_ID_CHARS} characters",
                                  path=f"students[{i}]")
        if key in seen:
            raise ProblemSetError(f"{key!r} is listed twice (first at students[{seen[key]}])",
                                  path=f"students[{i}]")
        seen[key] = i
    return list(students)


def read_problems(problems, templates: dict | None = None) -> list:
    if problems is None:
        problems = list(WORKSHEET)
    if not isinstance(problems, (list, tuple)) or not problems:
        raise ProblemSetError("must be a non-empty list of problems", path="problems")
    if len(problems) > MAX_PROBLEMS_PER_SHEET:
        raise ProblemSetError(f"holds {len(problems)} problems; a sheet holds at most "
                              f"{MAX_PROBLEMS_PER_SHEET}", path="problems")
    out = []
    for i, spec in enumerate(problems):
        path = f"problems[{i}]"
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            raise ProblemSetError("must be a problem type id or an object "
                                  '{"type": id, ...options}', path=path)
        if "type" not in spec:
            raise ProblemSetError(f"needs a type (one of {', '.join(TYPES)})", path=f"{path}.type")
        t = problem_type(spec["type"], f"{path}.type", templates)
        out.append((t, *read_options(t, spec, path)))
    return out


def read_options(t, spec: dict, path: str) -> tuple[dict, dict]:
    """(given, with defaults): the options of one problem, checked as generation and
    grading both check them."""
    given = t.read_options(spec, path)
    options = t.with_defaults(given)
    t.check_options(options, path)
    return given, options


class Generator:
    """Builds sheets for one secret: variants, problems, keys and tokens."""

    def __init__(self, secret=None):
        self.keys = keys(secret_bytes(secret))
        self.signer = TokenSigner(self.keys)

    def variant(self, seed: int, student) -> str:
        return variant_of(self.keys, seed, str(student))

    def build(self, request: Request, include_answers: bool = True, worked: bool = True,
              reveal: bool | None = None) -> dict:
        """The set: {"seed", "version", "sheets": [{"student", "variant", "problems"}]}."""
        reveal = include_answers if reveal is None else reveal
        # Tens of thousands of small dicts, lists and strings, none of them cyclic:
        # the cyclic collector would only walk them again and again.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._build(request, include_answers, worked, reveal)
        finally:
            if paused:
                gc.enable()

    def _build(self, request, include_answers, worked, reveal) -> dict:
        keys_, sign = self.keys, self.signer.sign
        sheets, works = [], []
        graph_items, conv_items, reads = [], [], []
        for student in request.students:
            variant = variant_of(keys_, request.seed, str(student))
            problems = []
            for index, (t, given, options) in enumerate(request.problems):
                v = t.sample(Stream(keys_, variant, index, t.id), options)
                problem = {"id": f"{variant}-{index + 1}", "type": t.id,
                           "statement": t.statement(v, options), "parameters": v.parameters,
                           "tolerance": {part: tol.to_dict() for part, tol
                                         in t.part_tolerances(v).items()},
                           "token": sign(variant, index, t.id, given, reveal,
                                         getattr(t, "template_hash", None))}
                problems.append(problem)
                if include_answers:
                    w = Work(t, options, given, v)
                    g0, c0 = len(graph_items), len(conv_items)
                    graph_items += t.graph_items(v)
                    reads += [t.key_reads] * (len(graph_items) - g0)
                    conv_items += t.conv_items(v)
                    w.graphs, w.convs = (g0, len(graph_items)), (c0, len(conv_items))
                    works.append((w, problem))
            sheets.append({"student": student, "variant": variant, "problems": problems})
        if include_answers:
            evaluations = evaluate_keys(graph_items, reads)
            # a list: every problem slices it (most slice nothing), and a slice of the
            # results is a Python loop over their views
            convs = list(conv1d_many(conv_items)) if conv_items else []
            for w, problem in works:
                answers, solution = w.type.solve(w.variant, w.options,
                                                 evaluations[w.graphs[0]:w.graphs[1]],
                                                 convs[w.convs[0]:w.convs[1]], worked)
                problem["answers"] = stored(answers)
                if worked:
                    problem["solution"] = solution
        out = {"seed": request.seed, "version": GENERATOR_VERSION, "sheets": sheets}
        used = {t.id: t.template.source for t, _, _ in request.problems if hasattr(t, "template")}
        if used:  # what grading these tokens needs
            out["templates"] = list(used.values())
        return out

    # -- one problem from its token --------------------------------------------------------
    def regenerate(self, token, templates=None) -> tuple:
        """(ticket, type, options, variant, answers) of the problem a token names;
        a template problem's token needs its template among `templates`."""
        ticket = self.signer.read(token)
        t, options = self._check(ticket, templates)
        v = t.sample(Stream(self.keys, ticket.variant, ticket.index, t.id), options)
        answers, _ = solve(t, v, options, worked=False)
        return ticket, t, options, v, answers

    @staticmethod
    def _check(ticket, templates=None) -> tuple:
        """(type, options with defaults) of a signed ticket, refused unless generation
        could have signed it: a token is only as trustworthy as the secret, and a leaked
        or weak one must not open problems no sheet holds."""
        if not 0 <= ticket.index < MAX_PROBLEMS_PER_SHEET:
            raise TokenError(f"names problem {ticket.index} of its sheet; a sheet holds at "
                             f"most {MAX_PROBLEMS_PER_SHEET} problems")
        t = TYPES.get(ticket.type_id) if ticket.template is None else \
            template_type(ticket, templates)
        if t is None:
            raise TokenError(f"names problem type {ticket.type_id!r}, which this gradsheet "
                             f"does not have")
        if "type" in ticket.options:
            raise TokenError(f"its options hold 'type', which is not an option of {t.id}")
        try:
            given, options = read_options(t, ticket.options, "options")
        except ProblemSetError as exc:
            raise TokenError(f"its options do not fit {t.id}: {exc}") from None
        # As JSON, not ==, which takes 3.0 for 3 and True for 1.
        if orjson.dumps(given) != orjson.dumps(ticket.options):
            raise TokenError(f"its options are not in the form gradsheet signs for {t.id}")
        return t, options

    def grade(self, token, answers, templates=None) -> dict:
        """{"score", "max_score", "parts": [...]} for `answers` to the token's problem."""
        ticket, t, options, v, key = self.regenerate(token, templates)
        submitted = read_submission(key, answers)
        results = t.grade(v, options, key, submitted)
        if hasattr(t, "part_points"):  # a template's own points weigh its parts
            points = t.part_points(results)
            earned = round(sum(r.credit * w for r, w in zip(results, points)), 6)
            possible = float(sum(points))
        else:
            earned, possible = score(t.id, results)
        return {"problem": f"{ticket.variant}-{ticket.index + 1}", "type": t.id,
                "score": earned, "max_score": possible,
                "parts": [r.to_dict(ticket.reveal) for r in results]}

    def trace(self, seed, students, *, variant=None, token=None) -> list:
        """The students (of this seed and roster) whose sheet has this variant or token."""
        request = read_request(seed, students, None)
        if token is not None:
            variant = self.signer.read(token).variant
        if not isinstance(variant, str) or not variant:
            raise ProblemSetError("give a variant code or a token to trace", path="variant")
        variant = variant.strip().lower()
        return [s for s in request.students
                if variant_of(self.keys, request.seed, str(s)) == variant]


def evaluate_keys(graph_items: list, reads: list | None = None) -> list:
    """The engine's evaluations of (graph, inputs[, output_gradient]) items with their
    rounding noise settled (numerals.settle): every key value that is a whole number up
    to noise is that number here, before any format or the grader reads it. `reads`:
    per item, the values and gradients its type reads (ProblemType.key_reads), or None
    for all."""
    if not graph_items:
        return []
    reads = reads or [None] * len(graph_items)
    return [settle(item[0], ev, wanted) for item, ev, wanted
            in zip(graph_items, engine.evaluate_many(graph_items), reads)]


def solve(t, variant, options: dict | None = None, worked: bool = True) -> tuple[dict, list]:
    """(answers, solution) of one variant of type `t`, its arithmetic done by the engine;
    the answers as a key stores them (numerals.stored), as a set holds them."""
    options = t.with_defaults(options or {})
    items = t.graph_items(variant)
    evaluations = evaluate_keys(items, [t.key_reads] * len(items))
    items = t.conv_items(variant)
    convs = conv1d_many(items) if items else []
    answers, solution = t.solve(variant, options, evaluations, convs, worked)
    return stored(answers), solution


def generate(seed, students, problems=None, *, include_answers: bool = True,
             worked: bool = True, secret=None, reveal: bool | None = None,
             templates=None) -> dict:
    """A problem set: one sheet per student, with answers and worked solutions unless
    `include_answers` is false. `problems` is a list of type ids or {"type", ...options}
    (default: the whole worksheet, one problem of each type). `reveal` says whether
    grading a token shows the expected answers (default: `include_answers`).
    `templates` (worksheets.template.Template) add problem types by their ids."""
    return Generator(secret).build(read_request(seed, students, problems, templates),
                                   include_answers, worked, reveal)


def grade(token, answers, *, secret=None, templates=None) -> dict:
    """Marks for `answers` to the problem `token` names, regenerated from the token (and,
    for a template problem, from its template, one of `templates`)."""
    return _generator(secret_bytes(secret)).grade(token, answers, templates)


@functools.lru_cache(maxsize=16)
def _generator(secret: bytes) -> Generator:
    """The Generator of a secret, made once: grading one token at a time would otherwise
    set up its signer for every token. A Generator holds only what the secret derives."""
    return Generator(secret)


def trace(seed, students, *, variant=None, token=None, secret=None) -> list:
    """The student ids of `students` whose sheet of set `seed` has this variant or token."""
    return Generator(secret).trace(seed, students, variant=variant, token=token)


def problem_types() -> list[dict]:
    """Every problem type: id, title, description and options (JSON-schema-like)."""
    return [t.describe() for t in TYPES.values()]
