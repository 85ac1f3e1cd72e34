"""Grading: a problem's own answers score full marks; wrong numbers get partial credit
and feedback that names the likely mistake; a student's wrong value is carried forward;
tokens that were changed, signed elsewhere or made by another generator are refused."""

import base64
import copy
import hashlib
import math

import orjson
import pytest
from itsdangerous import Signer

from worksheets import AnswerError, TokenError, generate, grade
from worksheets.problem import POINTS
from worksheets.seeding import keys

SECRET = "grading-test-secret"


def problem(type_id, seed=21, student="ada", include_answers=True, **options):
    s = generate(seed, [student], [{"type": type_id, **options}], secret=SECRET,
                 include_answers=include_answers)
    return s["sheets"][0]["problems"][0]


def marked(p, answers):
    result = grade(p["token"], answers, secret=SECRET)
    return result, {part["part"]: part for part in result["parts"]}


def test_every_problems_own_answers_score_full_marks():
    s = generate(31, 40, secret=SECRET)
    for sheet in s["sheets"]:
        for p in sheet["problems"]:
            result = grade(p["token"], p["answers"], secret=SECRET)
            assert result["score"] == result["max_score"] > 0, p["type"]
            assert all(part["correct"] and part["credit"] == 1.0 for part in result["parts"])


def test_answers_rounded_to_three_decimals_still_score_full_marks():
    s = generate(32, 40, ["graph_backprop", "logistic_regression", "gate_gradient"], secret=SECRET)

    def rounded(value, places):
        if isinstance(value, dict):
            return {k: rounded(v, places) for k, v in value.items()}
        return round(value, places)
    for sheet in s["sheets"]:
        for p in sheet["problems"]:
            a = {k: rounded(v, 4 if k in ("step", "updated") else 3) for k, v in p["answers"].items()}
            result = grade(p["token"], a, secret=SECRET)
            assert result["score"] == result["max_score"], (p["type"], result)


def test_missing_parts_score_nothing_and_say_so():
    p = problem("conv_output_size")
    result, parts = marked(p, {"output_size": p["answers"]["output_size"]})
    assert result["score"] == 1.0 and result["max_score"] == 3.0
    assert parts["windows"]["feedback"] == "not answered" and parts["windows"]["credit"] == 0


def test_a_list_earns_the_share_of_its_entries_that_are_right():
    p = problem("conv1d_backprop")
    wrong = copy.deepcopy(p["answers"])
    wrong["grad_input"][0] += 10
    result, parts = marked(p, wrong)
    n = len(p["answers"]["grad_input"])
    assert parts["grad_input"]["credit"] == pytest.approx((n - 1) / n)
    assert "first wrong at position 0" in parts["grad_input"]["feedback"]
    assert result["score"] == pytest.approx(2 + (n - 1) / n)


def test_the_flipped_filter_of_a_true_convolution_is_named():
    s = generate(22, 20, ["conv1d_backprop"], secret=SECRET)
    for sheet in s["sheets"]:
        p = sheet["problems"][0]
        q = p["parameters"]
        xp = [0] * q["padding"] + q["input"] + [0] * q["padding"]
        w = q["weight"][::-1]
        flipped = [sum(w[k] * xp[o * q["stride"] + k] for k in range(len(w)))
                   for o in range(len(p["answers"]["output"]))]
        if flipped != p["answers"]["output"]:  # a symmetric filter cannot be told apart
            break
    _, parts = marked(p, {**p["answers"], "output": flipped})
    assert "filter is flipped" in parts["output"]["feedback"]


def test_p_where_2p_belongs_in_the_output_size():
    s = generate(5, 60, ["conv_output_size"], secret=SECRET)
    p = next(sh["problems"][0] for sh in s["sheets"] if sh["problems"][0]["parameters"]["padding"] > 0
             and _one_side(sh["problems"][0]) != sh["problems"][0]["answers"]["output_size"])
    _, parts = marked(p, {"output_size": _one_side(p)})
    assert parts["output_size"]["feedback"].startswith("P where 2P belongs")


def _one_side(p):
    q = p["parameters"]
    return (q["width"] - q["filter_size"] + q["padding"]) // q["stride"] + 1


def test_a_non_integer_output_size_silently_rounded_is_named():
    s = generate(6, 60, [{"type": "conv_output_size", "exact": False}], secret=SECRET)
    for sheet in s["sheets"]:
        p = sheet["problems"][0]
        q = p["parameters"]
        top = q["width"] - q["filter_size"] + 2 * q["padding"]
        assert top % q["stride"]
        _, parts = marked(p, {"output_size": -(-top // q["stride"]) + 1})
        assert "non-integer output size silently rounded" in parts["output_size"]["feedback"]
        _, parts = marked(p, {"output_size": round(top / q["stride"] + 1, 2)})
        assert "non-integer output size" in parts["output_size"]["feedback"]


def test_2p_where_p_belongs_in_same_padding():
    p = problem("conv_same_padding")
    _, parts = marked(p, {"padding": 2 * p["answers"]["padding"]})
    assert parts["padding"]["feedback"].startswith("2P where P belongs")


def worth(result, part):
    """What one graded part is worth: its top-level part's points in the shared table,
    shared among the graded parts under it."""
    top = part.split(".")[0]
    under = [p for p in result["parts"] if p["part"].split(".")[0] == top]
    return POINTS[result["type"]][top] / len(under)


def graph_problem(family, seed=41):
    return problem("graph_backprop", seed=seed, families=[family])


def test_gradients_not_summed_where_a_value_feeds_two_nodes():
    p = graph_problem("shared_input")  # f = x*y + x*z: df/dx = y + z
    x, y, z = (p["parameters"]["inputs"][k] for k in "xyz")
    answers = copy.deepcopy(p["answers"])
    answers["gradients"]["x"] = y  # only the path through p = x*y
    result, parts = marked(p, answers)
    feedback = parts["gradients.x"]["feedback"]
    assert feedback.startswith("gradients not summed: x feeds p, q")
    assert "path through q is missing" in feedback
    assert result["score"] == pytest.approx(result["max_score"] - worth(result, "gradients.x"))


def test_sigma_used_where_sigma_times_one_minus_sigma_belongs():
    p = graph_problem("neuron")  # f = sigmoid(z)
    answers = copy.deepcopy(p["answers"])
    answers["gradients"]["z"] = answers["values"]["f"]  # sigma instead of sigma(1 - sigma)
    _, parts = marked(p, answers)
    assert parts["gradients.z"]["feedback"].startswith("σ used where σ(1 − σ) belongs")
    # later gradients that follow the student's own dz are carried forward, not marked
    # down a second time
    answers["gradients"]["s"] = answers["gradients"]["z"]
    answers["gradients"]["b"] = answers["gradients"]["z"]
    _, parts = marked(p, answers)
    assert parts["gradients.s"]["correct"] and "carried forward" in parts["gradients.s"]["feedback"]
    assert parts["gradients.b"]["correct"]


def test_the_update_taken_with_the_wrong_sign():
    p = graph_problem("sum_times")
    answers = copy.deepcopy(p["answers"])
    lr = p["parameters"]["learning_rate"]
    answers["step"]["x"] = p["parameters"]["inputs"]["x"] + lr * answers["gradients"]["x"]
    _, parts = marked(p, answers)
    assert parts["step.x"]["feedback"].startswith("the update is taken with the wrong sign")
    assert parts["step.x"]["credit"] == 0 and parts["step.y"]["credit"] == 1


def test_u_where_2u_belongs_under_a_square():
    p = graph_problem("square_plus_product")  # s = q^2
    answers = copy.deepcopy(p["answers"])
    answers["gradients"]["q"] = answers["values"]["q"]
    _, parts = marked(p, answers)
    assert parts["gradients.q"]["feedback"].startswith("u used where 2u belongs")


def test_a_wrong_forward_value_is_carried_forward_to_later_values_and_gradients():
    p = graph_problem("sum_times")  # q = x + y, f = q z
    z = p["parameters"]["inputs"]["z"]
    answers = copy.deepcopy(p["answers"])
    q = answers["values"]["q"] + 1  # an addition slip
    answers["values"]["q"] = q
    answers["values"]["f"] = q * z
    answers["gradients"]["z"] = q
    lr = p["parameters"]["learning_rate"]
    answers["step"]["z"] = z - lr * q
    result, parts = marked(p, answers)
    assert parts["values.q"]["credit"] == 0
    assert "does not give this" in parts["values.q"]["feedback"]
    for part in ("values.f", "gradients.z", "step.z"):
        assert parts[part]["credit"] == 1 and "carried forward" in parts[part]["feedback"]
    assert result["score"] == pytest.approx(result["max_score"] - worth(result, "values.q"))


def test_a_logistic_unit_follows_the_students_own_h():
    p = problem("logistic_regression")
    q = p["parameters"]
    y, x, w, lr = q["label"], q["inputs"], q["weights"], q["learning_rate"]
    h = round(p["answers"]["h"] + 0.05, 3)  # a wrong h, then consistent work from it
    grads = {"w1": (h - y) * x["x1"], "w2": (h - y) * x["x2"], "b": h - y}
    answers = {"z": p["answers"]["z"], "h": h,
               "loss": -(y * math.log(h) + (1 - y) * math.log(1 - h)),
               "gradients": grads, "updated": {k: w[k] - lr * g for k, g in grads.items()}}
    result, parts = marked(p, answers)
    assert parts["h"]["credit"] == 0
    assert result["score"] == result["max_score"] - 1


def test_a_logistic_unit_with_sigma_where_sigma_one_minus_sigma_belongs():
    p = problem("logistic_regression", seed=3)
    q = p["parameters"]
    y, x, h = q["label"], q["inputs"], p["answers"]["h"]
    dl_dh = -y / h + (1 - y) / (1 - h)
    answers = {"gradients": {"w1": dl_dh * h * x["x1"], "w2": dl_dh * h * x["x2"], "b": dl_dh * h}}
    _, parts = marked(p, answers)
    assert all(parts[f"gradients.{k}"]["feedback"].startswith("σ used where σ(1 − σ) belongs")
               for k in ("w1", "w2", "b"))


def test_a_gate_gradient_not_multiplied_by_the_upstream_gradient():
    s = generate(8, 40, ["gate_gradient"], secret=SECRET)
    p = next(sh["problems"][0] for sh in s["sheets"]
             if sh["problems"][0]["parameters"]["gate"] == "tanh"
             and abs(sh["problems"][0]["parameters"]["upstream_gradient"]) > 1)
    local = p["answers"]["gradient"] / p["parameters"]["upstream_gradient"]
    _, parts = marked(p, {"output": p["answers"]["output"], "gradient": local})
    assert "not multiplied by the upstream gradient" in parts["gradient"]["feedback"]


def test_a_dead_relu_passes_no_gradient():
    s = generate(9, 60, [{"type": "gate_gradient", "gates": ["relu"]}], secret=SECRET)
    p = next(sh["problems"][0] for sh in s["sheets"] if sh["problems"][0]["parameters"]["input"] < 0)
    assert p["answers"]["gradient"] == 0.0
    _, parts = marked(p, {"output": 0, "gradient": p["parameters"]["upstream_gradient"]})
    assert "passes no gradient back" in parts["gradient"]["feedback"]


def test_expected_answers_are_shown_only_when_the_set_was_made_with_answers():
    with_key = problem("gate_gradient", include_answers=True)
    _, parts = marked(with_key, {"output": 99, "gradient": 99})
    assert parts["output"]["expected"] == with_key["answers"]["output"]
    exam = problem("gate_gradient", include_answers=False)
    _, parts = marked(exam, {"output": 99, "gradient": 99})
    assert all("expected" not in part for part in parts.values())
    assert parts["output"]["feedback"]


@pytest.mark.parametrize("answers, path", [
    ({"output_size": "4"}, "answers.output_size"),
    ({"output_size": True}, "answers.output_size"),
    ({"windows": 4}, "answers.windows"),
    ({"windows": [[0, 1], "x"]}, "answers.windows[1]"),
    ({"speed": 1}, "answers.speed"),
    ([4], "answers"),
])
def test_a_submission_of_the_wrong_shape_names_the_field(answers, path):
    p = problem("conv_output_size")
    with pytest.raises(AnswerError) as caught:
        grade(p["token"], answers, secret=SECRET)
    assert caught.value.path == path


def test_an_unknown_node_in_a_map_is_refused():
    p = graph_problem("sum_times")
    with pytest.raises(AnswerError) as caught:
        grade(p["token"], {"values": {"nope": 1}}, secret=SECRET)
    assert caught.value.path == "answers.values.nope"


def test_a_tampered_token_is_refused():
    p = problem("gate_gradient")
    payload, signature = p["token"].split(".")
    body = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body[2] = body[2] + 1  # another problem index: another student's numbers
    forged = base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode() + "." + signature
    for token in (forged, p["token"][:-3] + "abc", "not a token", 42):
        with pytest.raises(TokenError) as caught:
            grade(token, {}, secret=SECRET)
        assert caught.value.path == "token"


def test_a_token_from_another_secret_is_refused():
    p = problem("gate_gradient")
    with pytest.raises(TokenError, match="another GRADSHEET_SECRET"):
        grade(p["token"], p["answers"], secret="someone else's secret")


def test_a_token_from_another_generator_version_is_refused():
    p = problem("gate_gradient")
    payload = p["token"].split(".")[0]
    body = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body[0] = "gradsheet-problems/0"
    signer = Signer(keys(SECRET.encode()).token, salt=b"gradsheet.problem",
                    digest_method=hashlib.sha256, key_derivation="none")
    old = signer.sign(base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=")).decode()
    with pytest.raises(TokenError, match="gradsheet-problems/0"):
        grade(old, p["answers"], secret=SECRET)


def resigned(token: str, **changes) -> str:
    """The token's ticket with fields changed, signed again with the same secret: what a
    holder of the secret (or of a leaked one) could make, and generation never would."""
    from worksheets.tokens import TokenSigner
    ticket = TokenSigner(keys(SECRET.encode())).read(token)
    fields = {"variant": ticket.variant, "index": ticket.index, "type_id": ticket.type_id,
              "options": ticket.options, "reveal": ticket.reveal, **changes}
    return TokenSigner(keys(SECRET.encode())).sign(**fields)


def test_a_signed_token_is_graded_only_when_generation_could_have_made_it():
    p = problem("graph_backprop", difficulty=3)
    assert grade(resigned(p["token"]), p["answers"], secret=SECRET)["score"] > 0
    refusals = {
        "names problem 4611686018427387904 of its sheet; a sheet holds at most 50":
            {"index": 2 ** 62},
        "names problem -1 of its sheet": {"index": -1},
        "graph_backprop has no option 'colour'": {"options": {"colour": "red"}},
        "options.difficulty: must be between 1 and 5, not 9": {"options": {"difficulty": 9}},
        "its options hold 'type'": {"options": {"type": "graph_backprop"}},
        "not in the form gradsheet signs": {"options": {"difficulty": 3.0}},
        "a variant is 16 lowercase hex digits": {"variant": "../../etc"},
        "which this gradsheet does not have": {"type_id": "conv2d"},
    }
    for message, change in refusals.items():
        with pytest.raises(TokenError, match=message.replace("(", r"\(")) as caught:
            grade(resigned(p["token"], **change), p["answers"], secret=SECRET)
        assert caught.value.path == "token", change



def test_a_token_is_its_payload_signed_as_itsdangerous_signs_it():
    # the documented token format, checked by itsdangerous itself: a token made with the
    # HMAC's key schedule done once must verify, and read back, as itsdangerous reads it
    p = problem("gate_gradient", student="grace", gates=["tanh"])
    signer = Signer(keys(SECRET.encode()).token, salt=b"gradsheet.problem",
                    digest_method=hashlib.sha256, key_derivation="none")
    payload = signer.unsign(p["token"].encode())
    assert signer.sign(payload).decode() == p["token"]
    body = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    assert body[3:] == ["gate_gradient", {"gates": ["tanh"]}, 1]
    for broken in (p["token"].rsplit(".", 1)[0] + ".***", p["token"].replace(".", "")):
        with pytest.raises(TokenError, match="signature does not match"):
            grade(broken, p["answers"], secret=SECRET)
