"""Every answer of every problem type is marked with the tolerance its statement states.

The tolerances are written here from the statements ("within 0.005 or 0.5 %" for values
and gradients worked by hand, "within 0.0005" for a descent step, whole numbers "exactly"),
not read from the code under test. The width an answer may miss by is then
max(abs, rel * |want|): an answer 0.99 of that width away, on either side, must score
and one 1.01 away must not, where the absolute term decides (|want| < 1) and where the
relative term does (|want| > 1). A tolerance three times too wide or too narrow, a
dropped relative term or a relative term where none is stated fails here.
"""

import copy
import math

import pytest

from worksheets import TYPES, generate, grade
from worksheets.generator import Generator
from worksheets.grading import read_submission
from worksheets.problem import Tolerance
from tests.worksheets.stated_tolerances import (EXACT, STATED, STEP, WORDS, graded,
                                                 leaves, width)

SECRET = "tolerance-test-secret"

# Options that reach answers on both sides of 1 in size for every hand-worked part kind
# (random graphs of difficulty 5 grow values and gradients past 1; curated ones stay small).
DRAWS = {
    "conv_output_size": [{}, {"exact": False}],
    "conv_same_padding": [{}, {"dilations": [2, 3]}],
    "graph_backprop": [{}, {"families": ["random"], "difficulty": 5}],
    "logistic_regression": [{"learning_rates": [0.01, 0.1, 0.5, 1.0]}],
    "gate_gradient": [{}, {"gates": ["relu"]}],
    "conv1d_backprop": [{}],
}
STUDENTS = 12

# The part kinds that hold only numbers under 1 in size by construction, so the relative
# regime cannot be reached: h is a sigmoid's output.
ALWAYS_SMALL = {("logistic_regression", "h")}


def test_every_type_is_pinned_here():
    assert set(STATED) == set(TYPES)


def test_every_problem_publishes_its_stated_tolerances():
    s = generate(5, ["ada"], [{"type": t} for t in STATED], secret=SECRET)
    for p in s["sheets"][0]["problems"]:
        want = {part: {"abs": a, "rel": r} for part, (a, r) in STATED[p["type"]].items()}
        assert p["tolerance"] == want, p["type"]


@pytest.mark.parametrize("type_id", list(STATED))
def test_every_statement_states_its_tolerances_in_words(type_id):
    p = generate(5, ["ada"], [type_id], secret=SECRET)["sheets"][0]["problems"][0]
    for tol in set(STATED[type_id].values()):
        assert WORDS[tol] in p["statement"], (type_id, WORDS[tol])
    for other in set(WORDS) - set(STATED[type_id].values()):
        # "within 0.0005" is not a prefix of any other stated phrase, "exactly" may
        # appear in prose only where nothing is marked exactly
        if other != EXACT:
            assert WORDS[other] not in p["statement"], (type_id, WORDS[other])


def _replaced(answers, path, number):
    out = copy.deepcopy(answers)
    inner = out
    for k in path[:-1]:
        inner = inner[k]
    inner[path[-1]] = number
    return out


def _part_name(type_id, path):
    """The part the grader reports a number under: graph answers per name, lists whole."""
    if type_id in ("graph_backprop", "logistic_regression") and len(path) > 1:
        return f"{path[0]}.{path[1]}"
    return path[0]


def _offsets(tol, want):
    """(offset, should score) pairs: 0.99 and 1.01 of the allowed width on both sides;
    for an exact part the answer itself and the nearest floats either side."""
    w = width(tol, want)
    if w == 0:
        return [(0.0, True), (math.nextafter(want, math.inf) - want, False),
                (math.nextafter(want, -math.inf) - want, False), (0.5, False), (-1.0, False)]
    return [(0.99 * w, True), (-0.99 * w, True), (1.01 * w, False), (-1.01 * w, False)]


def _marks(type_id, options):
    """Every (part name, regime, offset, want, correct?) for numbers just inside and just
    outside their stated width, one number moved at a time, the rest of the key kept."""
    gen = Generator(SECRET)
    s = generate(11, STUDENTS, [{"type": type_id, **options}], secret=SECRET)
    for sheet in s["sheets"]:
        p = sheet["problems"][0]
        _, t, opts, variant, key = gen.regenerate(p["token"])
        assert key == p["answers"]
        for path, want in leaves(key):
            if not graded(p, path):
                continue
            tol = STATED[type_id][path[0]]
            regime = "relative" if tol[1] * abs(want) > tol[0] else "absolute"
            name = _part_name(type_id, path)
            for offset, scores in _offsets(tol, want):
                submitted = read_submission(key, _replaced(key, path, want + offset))
                (result,) = [r for r in t.grade(variant, opts, key, submitted) if r.part == name]
                yield name, path[0], regime, offset, want, scores, result.correct


@pytest.mark.parametrize("type_id", list(STATED))
def test_an_answer_just_inside_its_width_scores_and_just_outside_does_not(type_id):
    regimes = {}
    wrong = []
    for options in DRAWS[type_id]:
        for name, head, regime, offset, want, scores, correct in _marks(type_id, options):
            regimes.setdefault(head, set()).add(regime)
            if correct != scores:
                wrong.append((name, want, offset, "should score" if scores else "should not"))
    assert not wrong, wrong[:10]
    for head, tol in STATED[type_id].items():
        seen = regimes.get(head, set())
        if tol[1] and (type_id, head) not in ALWAYS_SMALL:
            assert seen == {"absolute", "relative"}, (type_id, head, seen)
        else:
            assert "absolute" in seen, (type_id, head, seen)


def test_a_step_is_marked_to_its_absolute_width_even_where_the_value_is_large():
    # No relative term is stated for a step: a weight of size 2 moved by 1.01 * 0.0005
    # is wrong although 0.5 % of it would be 0.01.
    s = generate(11, STUDENTS, [{"type": "graph_backprop", "families": ["random"],
                                 "difficulty": 5}], secret=SECRET)
    checked = 0
    for sheet in s["sheets"]:
        p = sheet["problems"][0]
        for name, want in p["answers"]["step"].items():
            if abs(want) < 1:
                continue
            moved = _replaced(p["answers"], ("step", name), want + 1.01 * STEP[0])
            parts = {r["part"]: r for r in grade(p["token"], moved, secret=SECRET)["parts"]}
            assert not parts[f"step.{name}"]["correct"], (name, want)
            checked += 1
    assert checked >= 5


# The Tolerance rule itself, on numbers exact in binary so the boundary is exact too.

def test_a_tolerance_accepts_exactly_its_width_and_nothing_beyond():
    t = Tolerance(0.25, 0.125)
    # |want| = 1: the absolute term (0.25) decides
    assert t.accepts(1.25, 1.0) and t.accepts(0.75, 1.0)
    assert not t.accepts(1.25 + 2 ** -40, 1.0) and not t.accepts(0.75 - 2 ** -40, 1.0)
    # |want| = 8: the relative term (0.125 * 8 = 1) decides
    assert t.accepts(9.0, 8.0) and t.accepts(-9.0, -8.0) and t.accepts(-7.0, -8.0)
    assert not t.accepts(9.0 + 2 ** -40, 8.0) and not t.accepts(-9.0 - 2 ** -40, -8.0)


def test_an_exact_tolerance_accepts_the_number_alone():
    t = Tolerance(0.0)
    assert t.accepts(3.0, 3.0) and t.accepts(-0.0, 0.0)
    assert not t.accepts(math.nextafter(3.0, 4.0), 3.0)
    assert not t.accepts(-3.0, 3.0)


@pytest.mark.parametrize("tol, words", [
    (Tolerance(0.0), "exactly"),
    (Tolerance(0.005, 0.005), "within 0.005 or 0.5 %"),
    (Tolerance(0.0005), "within 0.0005"),
    (Tolerance(0.0, 0.01), "1 %"),
    (Tolerance(0.01), "within 0.01"),
])
def test_a_tolerance_describes_itself_as_the_statements_say_it(tol, words):
    assert tol.describe() == words


def test_a_tolerance_travels_as_its_two_terms():
    assert Tolerance(0.005, 0.005).to_dict() == {"abs": 0.005, "rel": 0.005}
    assert Tolerance(0.0005).to_dict() == {"abs": 0.0005, "rel": 0.0}
