"""POST /v1/problem-sets with `format`: non-JSON formats come back as a download, the
file itself or a zip, named in Content-Disposition; a bad format is a 422 naming it."""

import io
import xml.etree.ElementTree as ET
import zipfile

import pytest

from service import create_app

PROBLEM = "application/problem+json"
TOKEN = "exports-service-instructor"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", "exports-service-secret")


@pytest.fixture(scope="module")
def client():
    return create_app({"warmup": "off", "secret": "exports-service-secret",
                       "instructor_tokens": TOKEN}).test_client()


def post(client, **body):
    return client.post("/v1/problem-sets", json={"seed": 9, "students": ["ada", "alan"],
                                                 "problems": ["conv_output_size",
                                                              "graph_backprop"], **body},
                       headers={"Authorization": f"Bearer {TOKEN}"})


def test_html_and_pdf_come_back_as_one_zip_with_a_file_name(client):
    resp = post(client, format="html,pdf", include_answers=True)
    assert resp.status_code == 200
    assert resp.content_type == "application/zip"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="gradsheet-9-html-pdf.zip"'
    names = zipfile.ZipFile(io.BytesIO(resp.data)).namelist()
    assert names == sorted(["ada.html", "alan.html", "answer-key.html", "ada.pdf", "alan.pdf",
                            "all-sheets.pdf", "answer-key.pdf"])


def test_moodle_comes_back_as_the_xml_file_itself(client):
    resp = post(client, format=["moodle"], include_answers=True)
    assert resp.status_code == 200
    assert resp.content_type == "application/xml"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="gradsheet-9-moodle.xml"'
    quiz = ET.fromstring(resp.data)
    assert len(quiz.findall("question[@type='category']")) == 2


def test_qti_comes_back_as_canvas_zip(client):
    resp = post(client, format="qti", include_answers=True)
    assert resp.status_code == 200 and resp.content_type == "application/zip"
    assert "imsmanifest.xml" in zipfile.ZipFile(io.BytesIO(resp.data)).namelist()


def test_json_is_still_the_default_answer(client):
    resp = post(client)
    assert resp.status_code == 200 and resp.content_type == "application/json"
    assert [s["student"] for s in resp.get_json()["sheets"]] == ["ada", "alan"]


def test_without_answers_the_sheets_come_back_without_a_key(client):
    resp = post(client, format="markdown")
    names = zipfile.ZipFile(io.BytesIO(resp.data)).namelist()
    assert "ada.md" in names and not any(n.startswith("answer-key") for n in names)


def test_an_unknown_format_is_a_422_naming_it(client):
    resp = post(client, format="docx")
    assert resp.status_code == 422 and resp.content_type == PROBLEM
    body = resp.get_json()
    assert body["errors"]["format"] == [
        "unknown format 'docx' (known formats: json, markdown, html, pdf, moodle, qti)"]


def test_an_lms_export_without_answers_is_a_422_saying_what_to_add(client):
    resp = post(client, format="moodle")
    assert resp.status_code == 422 and resp.content_type == PROBLEM
    assert "include_answers" in resp.get_json()["errors"]["format"][0]


def test_a_format_of_the_wrong_type_is_a_422(client):
    resp = post(client, format=3)
    assert resp.status_code == 422
    assert "must be a format name or a list of them" in resp.get_json()["errors"]["format"][0]


def test_the_openapi_document_lists_the_downloads(client):
    doc = client.get("/openapi.json").get_json()
    op = doc["paths"]["/v1/problem-sets"]["post"]
    content = op["responses"]["200"]["content"]
    assert {"application/json", "application/zip", "application/xml",
            "application/pdf"} <= set(content)


def test_per_student_keys_come_in_the_zip_beside_the_combined_key(client):
    resp = post(client, format="pdf", include_answers=True, keys="per-student")
    assert resp.status_code == 200 and resp.content_type == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(resp.data)).namelist()
    assert {"answer-key.pdf", "keys/ada.pdf", "keys/alan.pdf", "ada.pdf"} <= set(names)
    one = zipfile.ZipFile(io.BytesIO(resp.data)).read("keys/ada.pdf")
    assert one.startswith(b"%PDF")
    default = zipfile.ZipFile(io.BytesIO(post(client, format="pdf",
                                              include_answers=True).data)).namelist()
    assert not [n for n in default if n.startswith("keys/")]


@pytest.mark.parametrize("body", [{"keys": "each", "format": "pdf", "include_answers": True},
                                  {"keys": 1, "format": "pdf", "include_answers": True},
                                  {"keys": "per-student", "format": "html",
                                   "include_answers": True},
                                  {"keys": "per-student", "format": "pdf"}])
def test_a_keys_choice_that_cannot_be_made_is_a_422_naming_keys(client, body):
    resp = post(client, **body)
    assert resp.status_code == 422 and resp.content_type == PROBLEM
    assert "keys" in resp.get_json()["errors"]


def test_the_openapi_document_lists_the_keys_choices(client):
    doc = client.get("/openapi.json").get_json()
    schema = doc["components"]["schemas"]["ProblemSetRequest"]["properties"]["keys"]
    assert schema["enum"] == ["combined", "per-student"] and schema["type"] == "string"
    assert schema["default"] == "combined"
