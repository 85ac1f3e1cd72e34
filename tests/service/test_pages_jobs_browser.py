"""A class-sized set from the instructor page, in Debian's Chromium against `gradsheet
serve` with its embedded job consumer: past the synchronous limit (set small here) the
set is queued as a job, its page shows the progress rising (polled by jobs.js, or by
reloading itself without JavaScript), and the zip downloads once done; or it is
cancelled."""

from __future__ import annotations

import re
import time
import zipfile

import pytest

import worksheets
from service.local_server import local_server
from tests.service.test_pages_browser import browser, page, sign_in  # noqa: F401 (fixtures)

STUDENTS = 40
# the synchronous limit of a PDF set: 4 students x problems, so 40 x 6 is a job
PDF_LIMIT = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    jobs_dir = tmp_path_factory.mktemp("page-jobs")
    with local_server(workers=1, threads=4, env={
            "GRADSHEET_JOBS_DIR": str(jobs_dir),
            "GRADSHEET_MAX_EXPORT_PROBLEMS_PDF": str(PDF_LIMIT)}) as s:
        yield s


def submit_class(server, pg, students: int = STUDENTS) -> None:
    sign_in(server, pg)
    pg.locator("#set-count").fill(str(students))
    pg.locator("#set-seed").fill("41")
    # the whole worksheet, every type checked as the page starts: about 0.16 s a student
    assert pg.locator('input[name^="type."]:checked').count() == len(worksheets.TYPES)
    pg.get_by_label("html:").uncheck()
    pg.get_by_label("pdf:").check()
    pg.get_by_role("button", name="Make the set and download it").click()
    pg.wait_for_selector("#job-status")


def done_count(pg, of: int = STUDENTS) -> tuple[str, int]:
    """(status, students done) as the page shows them now; a page reloading itself
    (no JavaScript) is read once it has loaded again."""
    for _ in range(50):
        try:
            text = pg.locator("#job-status").inner_text(timeout=2000)
        except Exception:   # the element went away with a reload; read the next page
            text = ""
        m = re.search(rf"(\w+): (\d+) of {of} students done", text)
        if m:
            return m.group(1).lower(), int(m.group(2))
        time.sleep(0.1)
    raise AssertionError(f"no progress on {pg.url}")


def test_a_class_past_the_synchronous_limit_is_a_job_whose_progress_rises_to_the_zip(
        server, page):
    submit_class(server, page)
    assert re.fullmatch(rf"{server.base}/instructor/jobs/[A-Za-z0-9_-]+", page.url)
    seen = []
    deadline = time.monotonic() + 300
    while True:
        status, done = done_count(page)
        seen.append((status, done))
        if status == "done":
            break
        assert status in ("queued", "running"), seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.25)
    counts = [d for _, d in seen]
    assert counts == sorted(counts), f"progress fell: {seen}"
    assert any(0 < d < STUDENTS for d in counts), f"no progress between: {seen}"
    assert counts[-1] == STUDENTS
    # the page shows the download once done (the script reloaded it; the meta refresh
    # did without it), and the job is gone from neither page nor list
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the set (zip)").click()
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert len([n for n in names if re.fullmatch(r"student-\d+\.pdf", n)]) == STUDENTS
    assert {"answer-key.pdf", "all-sheets.pdf", "gradsheet-manifest.json"} <= set(names)
    page.goto(f"{server.base}/instructor")
    assert "Seed 41, 40 students (pdf): done" in page.locator("ul.jobs").inner_text()
    print(f"progress seen ({'js' if page.js else 'no-js'}): "
          f"{[d for i, d in enumerate(counts) if i == 0 or d != counts[i - 1]]}")


def test_a_job_is_cancelled_from_its_page(server, page):
    submit_class(server, page, students=400)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_load_state()
    deadline = time.monotonic() + 60
    while done_count(page, 400)[0] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.5)
        if not page.js:
            page.reload()
    assert page.get_by_role("link", name="Download the set (zip)").count() == 0
    assert page.get_by_role("button", name="Cancel").count() == 0
