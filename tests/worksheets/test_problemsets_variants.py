"""Variants: the same (secret, seed, student, problem index) gives the same problem on
any machine; a student's numbers do not depend on who else is on the roster; the
variant printed on a sheet traces a leaked sheet back to its student."""

import json
import subprocess
import sys
import warnings

import pytest

import worksheets
from worksheets import (GENERATOR_VERSION, DevelopmentSecretWarning, ProblemSetError,
                                generate, trace)
from worksheets.seeding import Stream, keys

SECRET = "variants-test-secret"


def sheet_params(s):
    return [[(p["type"], p["parameters"]) for p in sheet["problems"]] for sheet in s["sheets"]]


def test_the_same_request_gives_the_same_sheets_in_a_fresh_process():
    here = generate(7, ["ada", "alan", "grace"], secret=SECRET)
    code = ("import json, sys; from worksheets import generate; "
            f"json.dump(generate(7, ['ada', 'alan', 'grace'], secret={SECRET!r}), sys.stdout)")
    there = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                      text=True, check=True).stdout)
    assert there == json.loads(json.dumps(here))


def test_a_students_problems_do_not_depend_on_the_rest_of_the_roster():
    alone = generate(3, ["grace"], secret=SECRET)["sheets"][0]
    in_class = generate(3, ["ada", "alan", "grace", "linus"], secret=SECRET)["sheets"][2]
    assert alone == in_class


def test_students_seeds_and_secrets_each_change_the_numbers():
    base = sheet_params(generate(3, ["ada"], secret=SECRET))
    assert sheet_params(generate(4, ["ada"], secret=SECRET)) != base
    assert sheet_params(generate(3, ["alan"], secret=SECRET)) != base
    assert sheet_params(generate(3, ["ada"], secret="another secret")) != base


def test_two_problems_of_one_type_on_a_sheet_differ():
    s = generate(5, 20, ["graph_backprop", "graph_backprop"], secret=SECRET)
    for sheet in s["sheets"]:
        a, b = sheet["problems"]
        assert (a["parameters"], a["id"]) != (b["parameters"], b["id"])


def test_the_set_records_seed_version_variant_and_ids():
    s = generate(9, ["ada"], ["gate_gradient", "conv_output_size"], secret=SECRET)
    assert s["seed"] == 9 and s["version"] == GENERATOR_VERSION
    sheet = s["sheets"][0]
    assert len(sheet["variant"]) == 16 and int(sheet["variant"], 16) >= 0
    assert [p["id"] for p in sheet["problems"]] == [f"{sheet['variant']}-1", f"{sheet['variant']}-2"]
    for p in sheet["problems"]:
        assert {"id", "type", "statement", "parameters", "tolerance", "token", "answers",
                "solution"} <= p.keys()


def test_without_a_problem_list_a_sheet_is_the_whole_worksheet():
    sheet = generate(1, 1, secret=SECRET)["sheets"][0]
    assert [p["type"] for p in sheet["problems"]] == [
        "conv_output_size", "conv_same_padding", "graph_backprop", "logistic_regression",
        "gate_gradient", "conv1d_backprop"]


def test_without_answers_no_problem_carries_answers_or_a_solution():
    s = generate(2, 10, include_answers=False, secret=SECRET)
    for sheet in s["sheets"]:
        for p in sheet["problems"]:
            assert "answers" not in p and "solution" not in p and p["token"]
    with_answers = generate(2, 10, secret=SECRET)
    assert sheet_params(s) == sheet_params(with_answers)


def test_json_never_holds_nan_or_infinity():
    s = generate(4, 200, secret=SECRET)
    text = json.dumps(s, allow_nan=False)  # raises on NaN or inf
    assert "NaN" not in text and "Infinity" not in text


def test_a_leaked_sheet_is_traced_to_its_student_by_variant_or_token():
    roster = [f"s{i}@uni.edu" for i in range(40)]
    s = generate(12, roster, include_answers=False, secret=SECRET)
    leaked = s["sheets"][17]
    assert trace(12, roster, variant=leaked["variant"], secret=SECRET) == ["s17@uni.edu"]
    assert trace(12, roster, token=leaked["problems"][3]["token"], secret=SECRET) == ["s17@uni.edu"]
    assert trace(13, roster, variant=leaked["variant"], secret=SECRET) == []
    assert trace(12, roster, variant=leaked["variant"], secret="not ours") == []


def test_variants_are_keyed_so_the_seed_alone_does_not_give_them():
    k1, k2 = keys(b"one"), keys(b"two")
    assert worksheets.seeding.variant_of(k1, 1, "ada") != worksheets.seeding.variant_of(k2, 1, "ada")
    a, b = Stream(k1, "v", 0, "t"), Stream(k1, "v", 0, "t")
    assert [a.word() for _ in range(20)] == [b.word() for _ in range(20)]
    assert Stream(k1, "v", 1, "t").word() != Stream(k1, "v", 0, "t").word()


def test_the_stream_draws_are_uniform_enough_to_reach_every_value():
    rng = Stream(keys(b"s"), "v", 0, "t")
    draws = [rng.nonzero(-3, 3) for _ in range(6000)]
    assert set(draws) == {-3, -2, -1, 1, 2, 3}
    assert max(draws.count(v) for v in set(draws)) < 1.2 * 1000
    halves = {rng.decimal(-2, 2, 0.5) for _ in range(500)}
    assert halves == {-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0}


def test_the_development_secret_warns_loudly(monkeypatch):
    monkeypatch.delenv("GRADSHEET_SECRET", raising=False)
    worksheets.seeding._warn_development.cache_clear()
    with pytest.warns(DevelopmentSecretWarning, match="GRADSHEET_SECRET is not set"):
        insecure = generate(1, 1, ["gate_gradient"])
    monkeypatch.setenv("GRADSHEET_SECRET", "set")
    worksheets.seeding._warn_development.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        secure = generate(1, 1, ["gate_gradient"])
    # the secret decides the numbers: the same request gives other variants under another
    assert insecure["sheets"][0]["variant"] != secure["sheets"][0]["variant"]


@pytest.mark.parametrize("seed, students, problems, path", [
    (-1, 3, None, "seed"),
    (2 ** 60, 3, None, "seed"),
    ("7", 3, None, "seed"),
    (1, 0, None, "students"),
    (1, [], None, "students"),
    (1, ["ada", "ada"], None, "students[1]"),
    (1, ["ada", None], None, "students[1]"),
    (1, 2, ["no_such_type"], "problems[0].type"),
    (1, 2, [{"type": "graph_backprop", "difficulty": 6}], "problems[0].difficulty"),
    (1, 2, [{"type": "graph_backprop", "colour": "red"}], "problems[0].colour"),
    (1, 2, [{"type": "gate_gradient", "gates": ["softmax"]}], "problems[0].gates[0]"),
    (1, 2, [{"type": "conv_output_size", "exact": "yes"}], "problems[0].exact"),
    (1, 2, [{"difficulty": 2}], "problems[0].type"),
    (1, 2, [], "problems"),
])
def test_a_bad_request_names_what_and_where(seed, students, problems, path):
    with pytest.raises(ProblemSetError) as caught:
        generate(seed, students, problems, secret=SECRET)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")


def test_conv_backprop_options_that_leave_no_width_are_refused_and_every_other_choice_draws():
    # W = (out - 1) S + F - 2P for a filter of F = 2 or 3 over out = 2 to 4 outputs: with
    # stride 1 and padding 2 the widest is 3 + 3 - 4 = 2 units, under the 3 a problem needs
    with pytest.raises(ProblemSetError) as caught:
        generate(1, 2, [{"type": "conv1d_backprop", "strides": [1], "paddings": [2]}], secret=SECRET)
    assert caught.value.path == "problems[0]"
    assert "strides [1] with paddings [2]" in str(caught.value)
    subsets = [[1], [2], [3], [1, 2], [1, 3], [2, 3], [1, 2, 3]]
    for strides in subsets:
        for paddings in ([0], [1], [2], [0, 2], [1, 2], [0, 1, 2]):
            for most in (4, 12):
                options = {"type": "conv1d_backprop", "strides": strides, "paddings": paddings,
                           "max_width": most}
                fits = any(3 <= (out - 1) * s + f - 2 * p <= most
                           for s in strides for p in paddings for f in (2, 3) for out in (2, 3, 4))
                if not fits:
                    with pytest.raises(ProblemSetError):
                        generate(1, 2, [options], secret=SECRET)
                    continue
                for sheet in generate(1, 4, [options], secret=SECRET)["sheets"]:
                    p = sheet["problems"][0]["parameters"]
                    W, F, S, P = len(p["input"]), len(p["weight"]), p["stride"], p["padding"]
                    assert S in strides and P in paddings and 3 <= W <= most
                    assert (W - F + 2 * P) // S + 1 == len(p["grad_output"])
