"""Numbers as people and LMSs read them: no rendered number, in any format, shows
floating-point representation noise, and a value that is zero up to noise is 0
everywhere (the issue's logistic-regression variant: z = 0.9 - 1.8 + 0.9)."""

import base64
import io
import json
import math
import re
import warnings
import zipfile

import pytest

from tests.oracle import complex_step_gradients
from worksheets import exports, generate, grade
from worksheets.exports.sheetset import SheetSet
from worksheets.numerals import key_text, settle, show, show_tolerance, snap, stored
from worksheets.problems import TYPES

SECRET = "numbers-test-secret"
# A number standing alone: not part of a word, a hex id or a longer number.
NUMBER = re.compile(r"(?<![\w.])-?(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?(?![\w])")


def noisy_numbers(text: str) -> list[str]:
    """The numbers in `text` that show representation noise: more than 12 significant
    digits, or an exponent of e-10 or below (a zero up to noise, 2.22e-16)."""
    bad = []
    for m in NUMBER.finditer(text):
        whole, frac, exp = m.group(1), m.group(2) or "", m.group(3)
        digits = (whole + frac).lstrip("0").rstrip("0") if frac else whole.lstrip("0")
        if len(digits) > 12 or (exp is not None and int(exp) <= -10):
            bad.append(m.group(0))
    return bad


def without_ids(text: str, problem_set: dict) -> str:
    """`text` without the set's variant codes, problem ids and tokens, which are hex and
    base64 and may hold a long run of digits."""
    for sheet in problem_set["sheets"]:
        text = text.replace(sheet["variant"], "ID")
        for p in sheet["problems"]:
            text = text.replace(p["token"], "TOKEN")
    return re.sub(r'ident(?:ref)?="[^"]*"', "", text)


def test_the_detector_flags_noise_and_passes_clean_numbers():
    assert noisy_numbers("z = 2.22e-16, h = 0.5000000000000001, 1+e^{-2.220446049250313e-16}") \
        == ["2.22e-16", "0.5000000000000001", "-2.220446049250313e-16"]
    assert noisy_numbers("=2.22044604925e-16:0.00562695079196") == ["2.22044604925e-16"]
    assert noisy_numbers("z = 0, h = 0.5, x = -1.5, 0.809998433985, w1 d0368525 1e-4") == []


def test_a_sum_that_is_zero_up_to_its_terms_noise_is_zero():
    # the issue's z = -0.9 * -1 - 0.6 * 3 + 0.9 is 2.2e-16 in floats; its terms'
    # magnitudes add up to 3.6
    z = -0.9 * -1 + -0.6 * 3 + 0.9
    assert z != 0 and snap(z, 3.6) == 0.0
    # the same tiny number computed from tiny terms is a value, not noise
    assert snap(2.220446049250313e-16, 3e-16) == 2.220446049250313e-16
    assert snap(2.0000000000000004, 2.0) == 2.0 and math.copysign(1, snap(-1e-17, 1.0)) == 1


def test_keys_store_twelve_significant_digits_as_the_shortest_decimal():
    assert stored({"h": 0.5000000000000001, "g": [1.5000000000000004, 0.8099984339846871, 3]}) \
        == {"h": 0.5, "g": [1.5, 0.809998433985, 3]}
    assert json.dumps(stored(0.8099984339846871)) == "0.809998433985"
    assert key_text(-0.0) == "0" and key_text(2.0) == "2" and key_text(0.1 + 0.2) == "0.3"


def test_people_read_four_decimals_and_tolerances_to_the_same_decimals():
    assert show(0.2913126124515909) == "0.2913" and show(-0.0) == "0" and show(3.0) == "3"
    assert show(0.0012345678) == "0.001235"   # four significant digits when small
    assert show(123456789.123456789) == "123456789.123"   # never more than 12 digits
    assert show_tolerance(0.00145656306226, 0.2913126124515909) == "± 0.0015"
    assert show_tolerance(0.0005, 1.25) == "± 0.0005"
    assert show_tolerance(0.0, 3.0) == "exactly"


ISSUE_SEED, ISSUE_STUDENTS = 7, 1000


@pytest.fixture(scope="module")
def issue_set():
    """The issue's command: gradsheet generate --seed 7 --students 1000 --problems
    logistic_regression (with the development secret, as the instructor ran it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the development secret's warning
        return generate(ISSUE_SEED, ISSUE_STUDENTS, ["logistic_regression"])


def _zero_z_sheets(problem_set) -> list:
    out = []
    for sheet in problem_set["sheets"]:
        p = sheet["problems"][0]["parameters"]
        w, x = p["weights"], p["inputs"]
        terms = (w["w1"] * x["x1"], w["w2"] * x["x2"], w["b"])
        # exact in decimal: the weights are tenths and the inputs halves
        if round(sum(terms) * 100) == 0:
            out.append(sheet)
    return out


def test_the_issues_zero_z_variants_show_z_0_in_every_format(issue_set):
    zero = _zero_z_sheets(issue_set)
    assert len(zero) >= 8      # the issue counted 8 of 1,000 students
    subset = {**issue_set, "sheets": zero}
    for sheet in zero:
        p = sheet["problems"][0]
        assert p["answers"]["z"] == 0 and p["answers"]["h"] == 0.5
        texts = [step["text"] for step in p["solution"]]
        assert "= 0$" in texts[0] and "e^{0}" in texts[1], texts[:2]
    files = exports.render(subset, ["json", "markdown", "html", "moodle", "qti"])
    for f in files:
        text = _text_of(f)
        assert not noisy_numbers(without_ids(text, subset)), f.path
    by_path = {f.path: _text_of(f) for f in files}
    assert by_path["answer-key.md"].count("| $z$ | 0 |") == len(zero)
    assert by_path["answer-key.md"].count("e^{0}") == len(zero)
    assert by_path[f"gradsheet-{ISSUE_SEED}-moodle.xml"].count("{1:NUMERICAL:=0:0.005}") \
        == len(zero)


def test_grading_expects_the_keys_zero(issue_set):
    sheet = _zero_z_sheets(issue_set)[0]
    p = sheet["problems"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        marks = grade(p["token"], {"z": 0.0})
    assert marks["parts"][0]["part"] == "z" and marks["parts"][0]["correct"]


def _text_of(f) -> str:
    data = f.data if isinstance(f.data, bytes) else f.data.encode("utf-8")
    if f.path.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(n).decode("utf-8") for n in z.namelist())
    text = data.decode("utf-8")
    # Moodle carries each figure base64-encoded: read the SVG inside
    return re.sub(r'(<file [^>]*>)([^<]*)</file>',
                  lambda m: base64.b64decode(m.group(2)).decode("utf-8"), text)


@pytest.fixture(scope="module")
def big_set():
    """Every problem type (graph_backprop twice: curated families and the hardest
    random graphs), 1,500 students: thousands of variants of each."""
    problems = [t if t != "graph_backprop" else {"type": t, "families": ["random"],
                                                  "difficulty": 5}
                for t in TYPES] + ["graph_backprop"]
    return generate(3, 1500, problems, secret=SECRET)


def test_no_key_value_statement_or_solution_of_thousands_of_variants_holds_noise(big_set):
    for sheet in big_set["sheets"]:
        for p in sheet["problems"]:
            for value in _numbers(p["answers"]):
                assert value == stored(value), (p["type"], value)
                assert value == 0 or abs(value) > 1e-9, (p["type"], value)
            text = p["statement"] + "\n".join(s["text"] for s in p["solution"])
            assert not noisy_numbers(text), (p["type"], noisy_numbers(text))


def test_no_figure_of_thousands_of_variants_holds_noise(big_set):
    # figures are drawn from templates per graph shape: a few hundred sheets meet them all
    for sheet in SheetSet(big_set).sheets[:300]:
        for k in range(len(sheet.problems)):
            for key in (False, True):
                svg = sheet.figure(k, key)
                assert svg is None or not noisy_numbers(svg), (sheet.problems[k]["type"], key)


def test_no_number_in_any_format_holds_noise(big_set):
    # the formats write the same numbers for every sheet: a share of the sheets is enough
    share = {**big_set, "sheets": big_set["sheets"][:12]}
    for f in exports.render(share, ["json", "markdown", "html", "moodle", "qti"]):
        text = without_ids(_text_of(f), share)
        assert not noisy_numbers(text), (f.path, noisy_numbers(text)[:5])


def _numbers(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)
    else:
        yield value


def test_settled_gradients_still_agree_with_finite_differences():
    import engine
    graph = engine.parse("z = a*b + c\ny = sigmoid(z)")
    inputs = {"a": -0.9, "b": -1.0, "c": -0.9}
    s = settle(graph, engine.evaluate(graph, inputs))
    assert s.values["z"] == 0.0 and s.values["y"] == pytest.approx(0.5)
    want = complex_step_gradients(graph, inputs)
    for name in inputs:
        assert s.gradients[name] == pytest.approx(want[name], abs=1e-12)


def test_settling_only_the_values_a_key_reads_still_makes_noise_a_whole_number():
    import engine
    graph = engine.parse("p = a*b\nz = p + c\ny = sigmoid(z)")
    inputs = {"a": 0.1, "b": 3.0, "c": -0.3}  # 0.1 * 3 - 0.3 is 5.6e-17 in floats
    s = settle(graph, engine.evaluate(graph, inputs), (("z",), ("c", "a")))
    assert s.values == {**inputs, "z": 0.0}
    assert set(s.gradients) == {"c", "a"}
    # dy/dc = sigmoid'(0) = 1/4 and dy/da = b/4, against the complex step
    want = complex_step_gradients(graph, inputs)
    assert s.gradients["c"] == pytest.approx(0.25, abs=1e-12)
    assert s.gradients["a"] == pytest.approx(want["a"], abs=1e-12) == 0.75
