"""GET /v1/problem-types, POST /v1/problem-sets, POST /v1/grade,
POST /v1/problem-sets/grade and POST /v1/problem-sets/trace: worksheets over HTTP.

marshmallow checks the envelope's types; worksheets checks the rest (problem
types, options, student ids, tokens, answer shapes) and names the field of every fault,
which becomes the problem's `errors` key. Tokens are signed with $GRADSHEET_SECRET, the
same on every replica, so any worker grades any token.
"""

from __future__ import annotations

import orjson
from flask import Response
from marshmallow import Schema, ValidationError, fields, validate

import worksheets
from worksheets import exports
from worksheets.generator import MAX_SEED, read_request
from worksheets.gradebook import grade_class
from worksheets.problems.template_problem import problem_type_of, stress
from worksheets.template import read_inline
from service import admission, auth, export_process, ratelimit
from service.fields import JSONObject, StrictInteger, describe, settings
from service.openapi import ApiBlueprint
from service.orjson_provider import json_response
from service.problems import InvalidContent
from service.runtime import runtime

blp = ApiBlueprint("problemsets", __name__, description="Randomized per-student problem "
                   "sets of the worksheet, with answer keys, worked solutions and grading")

STUDENTS_DOC = {"description": "a number of students (named student-01, ...) or a list of "
                               "student ids",
                "oneOf": [{"type": "integer", "minimum": 1},
                          {"type": "array", "minItems": 1,
                           "items": {"oneOf": [{"type": "string", "minLength": 1},
                                               {"type": "integer"}]}}]}
PROBLEMS_DOC = {"description": 'problem type ids or {"type": id, ...options} (see GET '
                               "/v1/problem-types); default: the whole worksheet, one problem "
                               "of each type",
                "type": "array", "minItems": 1,
                "items": {"oneOf": [{"type": "string", "minLength": 1}, {"type": "object",
                                                         "required": ["type"]}]}}


class StrictBoolean(fields.Field):
    """JSON true or false, never "true" or 1."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise ValidationError(f"must be true or false, not {describe(value)}")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Students(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is int:
            return value
        if type(value) is list:
            return value
        raise ValidationError(f"must be a number of students or a list of ids, not "
                              f"{describe(value)}")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class ProblemList(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not list:
            raise ValidationError(f"must be a list of problems, not {describe(value)}")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def _seed(**kwargs):
    return StrictInteger(metadata={"type": "integer", "minimum": 0,
                                   "maximum": MAX_SEED,
                                   "description": "the set's seed"}, **kwargs)


class Formats(fields.Field):
    """Export formats: "html", "html,pdf" or ["html", "pdf"] (worksheets.exports.FORMATS)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not str and not (type(value) is list
                                           and all(type(v) is str for v in value)):
            raise ValidationError(f"must be a format name or a list of them, not "
                                  f"{describe(value)}")
        try:
            return exports.parse_formats(value)
        except exports.ExportError as exc:
            raise ValidationError(exc.message) from None

    def _serialize(self, value, attr, obj, **kwargs):
        return value


# Templates sent with a request are stress-tested with this many variants (a file
# checked by `gradsheet check-template` with 1,000), priced by admission.
REQUEST_STRESS_VARIANTS = 200
TEMPLATES_DOC = {"description": "instructor problem templates (the YAML format of "
                                "`gradsheet check-template`, as JSON); `problems` names them "
                                "by id. Each is stress-tested before the set is made.",
                 "type": "array", "minItems": 1, "items": {"type": "object"}}


class TemplateList(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not list:
            raise ValidationError(f"must be a list of templates, not {describe(value)}")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def request_templates(raw, stressed: bool) -> list:
    """The request's templates, read and (when `stressed`) stress-tested, each priced
    by admission first."""
    if raw is None:
        return []
    try:
        templates = read_inline(raw)
        if stressed:
            admission.admit_templates(templates, REQUEST_STRESS_VARIANTS)
            for t in templates:
                stress(problem_type_of(t), REQUEST_STRESS_VARIANTS)
    except worksheets.ProblemSetError as exc:
        raise _problem(exc) from None
    return templates


class ProblemSetRequestSchema(Schema):
    seed = _seed(required=True)
    students = Students(required=True, metadata=STUDENTS_DOC)
    problems = ProblemList(metadata=PROBLEMS_DOC)
    templates = TemplateList(metadata=TEMPLATES_DOC)
    include_answers = StrictBoolean(load_default=False, metadata={
        "type": "boolean", "description": "add each problem's answers and worked solution"})
    format = Formats(load_default=["json"], metadata={
        "description": "json (default) answers with the set; any other format, or several "
                       "(\"html,pdf\"), answers with a download: the file itself when it is "
                       "one (moodle: the XML) or a zip of every file. Formats: "
                       + "; ".join(f"{f.name}: {f.description}" for f in exports.FORMATS.values())
                       + ". The answer key, moodle and qti need include_answers.",
        "oneOf": [{"type": "string", "example": "html,pdf"},
                  {"type": "array", "items": {"type": "string", "enum": list(exports.FORMATS)}}]})
    keys = fields.String(load_default="combined", validate=validate.OneOf(exports.KEYS),
                         metadata={"description": "per-student: with the pdf format and "
                                   "include_answers, a key PDF per student "
                                   "(keys/<student>.pdf) beside answer-key.pdf in the zip; "
                                   "combined (default): answer-key.pdf only",
                                   "enum": list(exports.KEYS)})


class SolutionStepSchema(Schema):
    title = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "Markdown with LaTeX math"})


class SheetProblemSchema(Schema):
    id = fields.String(required=True, metadata={"description": "<variant>-<position on the sheet>"})
    type = fields.String(required=True)
    statement = fields.String(required=True, metadata={"description": "Markdown with LaTeX math"})
    parameters = fields.Dict(required=True, metadata={"description": "the problem's numbers"})
    tolerance = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True, metadata={
        "description": "answer part -> {abs, rel}: right when |got - want| <= "
                       "max(abs, rel * |want|)"})
    token = fields.String(required=True, metadata={"description": "send it back to /v1/grade"})
    answers = fields.Dict(metadata={"description": "part -> expected number, list or map, in "
                                                   "the shape a student submits"})
    solution = fields.List(fields.Nested(SolutionStepSchema),
                           metadata={"description": "worked steps, in order"})


class SheetSchema(Schema):
    student = fields.Raw(required=True, metadata={"oneOf": [{"type": "string"},
                                                            {"type": "integer"}]})
    variant = fields.String(required=True, metadata={
        "description": "keyed hash of seed and student; POST /v1/problem-sets/trace finds "
                       "the student of a leaked sheet"})
    problems = fields.List(fields.Nested(SheetProblemSchema), required=True)


class ProblemSetResponseSchema(Schema):
    seed = fields.Integer(required=True)
    version = fields.String(required=True, metadata={"description": "the generator's version"})
    sheets = fields.List(fields.Nested(SheetSchema), required=True)


class ProblemTypeSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    options = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True, metadata={
        "description": "option name -> its JSON schema, default and description"})


class ProblemTypesResponseSchema(Schema):
    types = fields.List(fields.Nested(ProblemTypeSchema), required=True)


class GradeRequestSchema(Schema):
    token = fields.String(required=True, metadata={"description": "the problem's token"})
    templates = TemplateList(metadata={
        "description": "for a template problem's token: the template as the set was made "
                       "with it (a changed template is refused)",
        "type": "array", "items": {"type": "object"}})
    answers = JSONObject(required=True, metadata={
        "type": "object", "description": "part -> number, list or map, shaped like the "
                                         "problem's answers"})


class GradedPartSchema(Schema):
    part = fields.String(required=True, metadata={"description": "values.q, gradients.x, ..."})
    correct = fields.Boolean(required=True)
    credit = fields.Float(required=True, metadata={"description": "0 to 1"})
    feedback = fields.String(required=True)
    expected = fields.Raw(metadata={"description": "the key's answer, when the set was made "
                                                   "with answers"})


class GradeResponseSchema(Schema):
    problem = fields.String(required=True)
    type = fields.String(required=True)
    score = fields.Float(required=True)
    max_score = fields.Float(required=True)
    parts = fields.List(fields.Nested(GradedPartSchema), required=True)


class ClassSubmissionSchema(Schema):
    name = fields.String(required=True, metadata={
        "description": "the answers file's name; names the student when neither the "
                       "roster nor the sheet's \"student\" does"})
    answers = fields.Raw(required=True, metadata={
        "description": "the answers file's JSON, as gradsheet grade reads it: a sheet "
                       "{\"student\", \"problems\"}, a list of {\"token\", \"answers\"}, "
                       "or a list of sheets"})


class ClassGradeRequestSchema(Schema):
    submissions = fields.List(fields.Nested(ClassSubmissionSchema), required=True,
                              metadata={"minItems": 1})
    seed = _seed()
    roster = Students(metadata={**STUDENTS_DOC, "description": "with seed: each sheet is "
                                "named by the roster's student its tokens belong to"})


class ClassGradeResponseSchema(Schema):
    students = fields.List(fields.Dict(), required=True, metadata={
        "description": "per student: student, source, score, max_score, notes, problems "
                       "(each as /v1/grade answers) or error"})
    csv = fields.String(required=True, metadata={
        "description": "the gradebook: Student, SIS Login ID, a column of points per "
                       "problem, gradsheet total, gradsheet percent"})


class TraceRequestSchema(Schema):
    seed = _seed(required=True)
    students = Students(required=True, metadata=STUDENTS_DOC)
    variant = fields.String(metadata={"description": "the leaked sheet's variant code"})
    token = fields.String(metadata={"description": "or one of its tokens"})


class TraceResponseSchema(Schema):
    students = fields.List(fields.Raw(metadata={"oneOf": [{"type": "string"},
                                                          {"type": "integer"}]}),
                           required=True, metadata={"description": "the roster's students "
                                                                   "with that sheet"})


def _problem(exc: worksheets.ProblemSetError) -> InvalidContent:
    return InvalidContent(str(exc), errors={exc.path: [exc.message]})


def _check_size(students, per_sheet: int) -> None:
    """Refuse a set past the batch limit before any of it is built."""
    count = students if type(students) is int else len(students)
    limit = settings().max_batch_items
    if count * per_sheet > limit:
        message = f"{count} students x {per_sheet} problems is more than the limit of {limit}"
        raise InvalidContent(f"students: {message}", errors={"students": [message]})


@blp.endpoint("/v1/problem-types", method="GET", response=ProblemTypesResponseSchema)
def problem_types():
    """The problem types and their options."""
    return json_response({"types": worksheets.problem_types()})


@blp.endpoint("/v1/problem-sets", body=ProblemSetRequestSchema,
              response=ProblemSetResponseSchema, problems=(401, 403, 503), downloads=tuple(
                  media for media in sorted({f.media_type for f in exports.FORMATS.values()}
                                            | {"application/zip"})
                  if media != "application/json"))
@blp.doc(security=auth.INSTRUCTOR_FOR_ANSWERS)
def problem_sets(req):
    """One sheet per student, with answers and worked solutions when include_answers
    (which, with every export holding a key, needs an instructor token)."""
    if req["include_answers"]:
        auth.require_instructor()
    problems = req.get("problems")
    per_sheet = len(worksheets.WORKSHEET) if problems is None else len(problems)
    _check_size(req["students"], per_sheet)
    if req["keys"] == "per-student" and not (req["include_answers"] and "pdf" in req["format"]):
        raise InvalidContent("per-student keys are PDFs made from the answers",
                             errors={"keys": ["per-student needs the pdf format and "
                                              "include_answers"]})
    share = admission.admit_problem_set(req["students"], per_sheet, req["format"])
    with runtime().admission:
        return admission.in_lane(share, _problem_set_response, req, problems)


def _problem_set_response(req, problems):
    templates = request_templates(req.get("templates"), stressed=True)
    try:
        request = read_request(req["seed"], req["students"], problems, templates)
        body = runtime().generator.build(request, include_answers=req["include_answers"])
        if req["format"] == ["json"]:
            return json_response(body)
        name, media_type, data = export_process.render_download(
            body, req["format"], req["keys"], niceness=runtime().settings.big_work_niceness)
    except (worksheets.ProblemSetError, exports.ExportError) as exc:
        raise _problem(exc) from None
    return Response(data, content_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.endpoint("/v1/grade", body=GradeRequestSchema, response=GradeResponseSchema,
              problems=(429, 503))
@ratelimit.limit_grading
def grade(req):
    """Marks for a student's answers to the problem a token names, part by part."""
    with runtime().admission:
        try:
            body = runtime().generator.grade(req["token"], req["answers"],
                                             request_templates(req.get("templates"), stressed=False))
        except worksheets.ProblemSetError as exc:
            raise _problem(exc) from None
    return json_response(body)


def _tokens_in(doc, depth: int = 0) -> int:
    """How many problems an answers document holds: what grading it costs."""
    if depth > 3:
        return 0
    if isinstance(doc, dict):
        if "token" in doc:
            return 1
        return sum(_tokens_in(v, depth + 1) for k, v in doc.items() if k in ("problems", "sheets"))
    if isinstance(doc, list):
        return sum(_tokens_in(v, depth + 1) for v in doc)
    return 0


@blp.endpoint("/v1/problem-sets/grade", body=ClassGradeRequestSchema,
              response=ClassGradeResponseSchema, problems=(401, 403, 422, 503))
@blp.doc(security=auth.INSTRUCTOR)
@auth.instructor_only
def grade_class_route(req):
    """A class's answers files graded at once: each student's results and the gradebook
    CSV; needs an instructor token (a gradebook names students and holds their marks,
    and the instructor's token keeps bulk grading from being an oracle for /v1/grade's
    rate limits)."""
    count = sum(_tokens_in(s["answers"]) for s in req["submissions"])
    share = admission.admit(admission.Need("max_set_problems", count, "problems graded",
                                           "submissions"))
    files = [(s["name"], orjson.dumps(s["answers"])) for s in req["submissions"]]
    with runtime().admission:
        try:
            book = admission.in_lane(share, grade_class, files, roster=req.get("roster"),
                                     seed=req.get("seed"), generator=runtime().generator)
        except worksheets.ProblemSetError as exc:
            raise _problem(exc) from None
    return json_response(book.to_dict())


@blp.endpoint("/v1/problem-sets/trace", body=TraceRequestSchema, response=TraceResponseSchema,
              problems=(401, 403))
@blp.doc(security=auth.INSTRUCTOR)
@auth.instructor_only
def trace(req):
    """The students of a roster whose sheet has this variant or token (a leaked sheet);
    needs an instructor token."""
    _check_size(req["students"], 1)
    try:
        found = runtime().generator.trace(req["seed"], req["students"], variant=req.get("variant"),
                                  token=req.get("token"))
    except worksheets.ProblemSetError as exc:
        raise _problem(exc) from None
    return json_response({"students": found})


class TemplateCheckRequestSchema(Schema):
    templates = TemplateList(required=True, metadata=TEMPLATES_DOC)


class TemplateReportSchema(Schema):
    id = fields.String(required=True)
    hash = fields.String(required=True, metadata={"description": "what tokens carry"})
    variants = fields.Integer(required=True)
    draws = fields.Integer(required=True)
    rejection_rate = fields.Float(required=True)
    refused = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "field path: why -> draws refused"})


class TemplateCheckResponseSchema(Schema):
    templates = fields.List(fields.Nested(TemplateReportSchema), required=True)


def _stress_all(templates: list) -> list:
    return [stress(problem_type_of(t), REQUEST_STRESS_VARIANTS) for t in templates]


@blp.endpoint("/v1/templates/check", body=TemplateCheckRequestSchema,
              response=TemplateCheckResponseSchema, problems=(503,))
def check_templates(req):
    """Problem templates checked field by field and stress-tested: the share of draws
    their conditions reject, by condition; a fault is a 422 naming its field."""
    raw = req["templates"]
    with runtime().admission:
        try:
            templates = read_inline(raw)
            share = admission.admit_templates(templates, REQUEST_STRESS_VARIANTS)
            reports = admission.in_lane(share, _stress_all, templates)
        except worksheets.ProblemSetError as exc:
            raise _problem(exc) from None
    return json_response({"templates": [
        {"id": t.id, "hash": t.hash, "variants": r.variants, "draws": r.draws,
         "rejection_rate": round(r.rejection_rate, 6),
         "refused": {f"{path}: {why}": n for (path, why), n in r.refused.most_common()}}
        for t, r in zip(templates, reports)]})
