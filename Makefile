# The two commands a fresh machine needs: `make run` and `make test`.
# Each (re)creates .venv and installs the locked versions when pyproject.toml or the
# lock changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# requirements/test.txt: every version make, CI and the tests use, with the hash of
# each file; requirements/service.txt: the same versions, the service's share only (the
# Docker image). Both come from pyproject.toml through `make lock`.
LOCK := requirements/test.txt
SERVICE_LOCK := requirements/service.txt
UV_VERSION := 0.13.8
# One lock for every platform and Python from 3.11 (the image's) up.
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command 'make lock'

.PHONY: run test warm lint-imports codegen bench bench-startup bench-service loadtest \
	loadtest-smoke install lock lock-upgrade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The locked files (pip refuses any whose hash differs), then the project itself
# without resolving anything; pip check fails when pyproject.toml asks for a package or
# range the lock does not hold, that is when `make lock` was forgotten.
$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

# Compile the Numba kernels into their cache once, at install, so that no command and
# no server start compiles; one line says where and how long. A warm cache (the same
# kernel sources and Numba) answers at once.
warm: $(STAMP)
	@$(BIN)/gradsheet warmup

# The lock tool lives in the venv, installed on first use.
$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)

# Re-resolve after a change to pyproject.toml, keeping every pin that still fits;
# lock-upgrade takes the newest versions pyproject.toml allows. The service's lock is
# constrained by the test lock, so the image runs exactly the versions the tests ran.
lock: $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra test --extra load $(LOCK_FLAGS) $(UPGRADE) -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -c $(LOCK) -o $(SERVICE_LOCK)

lock-upgrade:
	$(MAKE) lock UPGRADE=--upgrade


# The REST API under gunicorn on http://127.0.0.1:8000 (Ctrl-C stops it), with the
# secret and an instructor token made on the first run and kept, git-ignored and
# readable by you alone, in $(LOCAL_ENV).
LOCAL_ENV := .gradsheet/local.env

$(LOCAL_ENV):
	@mkdir -p $(dir $@)
	@umask 077 && $(PYTHON) -c 'import secrets; print(f"GRADSHEET_SECRET={secrets.token_urlsafe(32)}\nGRADSHEET_INSTRUCTOR_TOKENS={secrets.token_urlsafe(32)}")' > $@.tmp && mv $@.tmp $@
	@echo "made $(LOCAL_ENV): this server's secret and instructor token"

run: warm $(LOCAL_ENV)
	@set -a && . ./$(LOCAL_ENV) && set +a && \
	echo "secret and instructor token: $(LOCAL_ENV); an answer key, for example:" && \
	echo "  curl -H \"Authorization: Bearer $$GRADSHEET_INSTRUCTOR_TOKENS\" -H 'Content-Type: application/json' \\" && \
	echo "       -d '{\"seed\": 7, \"students\": 2, \"include_answers\": true}' http://127.0.0.1:8000/v1/problem-sets" && \
	exec $(BIN)/gradsheet serve --host 127.0.0.1 --port 8000

# The HTML export test screenshots sheets in Debian's Chromium (Playwright drives it and
# downloads no browser of its own), so a fresh machine gets it here, once.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# The PDF export test opens the sheets with poppler's pdfinfo and pdffonts.
PDFINFO := /usr/bin/pdfinfo

$(PDFINFO):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null

# The jobs tests run a real redis-server (Debian's) on a loopback port, as a
# replica's queue would.
REDIS_SERVER := /usr/bin/redis-server

$(REDIS_SERVER):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null

test: warm $(CHROMIUM) $(PDFINFO) $(REDIS_SERVER) lint-imports
	$(BIN)/python -m pytest

# The layer contracts in pyproject.toml: engine <- worksheets <- service, no back-arrows.
lint-imports: $(STAMP)
	$(BIN)/lint-imports

# Regenerate the kernels' op cases (engine/vm/cases.py) from the op table.
codegen: $(STAMP)
	$(BIN)/python -m engine.vm.codegen

# The bench peers are not locked: torch comes from this workplace's local CPU wheel,
# whose hash PyPI's torch 2.13.0 files do not share. pip adds them on top of the locked
# set and leaves the locked versions as they are.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_conv.py
	$(BIN)/python bench/bench_problemsets.py
	$(BIN)/python bench/bench_exports.py

# Cold and warm start: kernel compile, eval, generate, serve to /readyz.
bench-startup: $(STAMP)
	$(BIN)/python bench/bench_startup.py --compile-profile

# Service throughput and latency under gunicorn, measured with wrk (apt-get install wrk).
bench-service: $(STAMP)
	$(BIN)/python bench/bench_service.py

# Locust against a local `gradsheet serve`: the full mix for a minute, then a short
# smoke that CI runs; both fail on any failed request or a p95 over the threshold.
loadtest: $(STAMP)
	$(BIN)/python loadtests/run.py --users 40 --spawn-rate 20 --time 60 --p95-ms 1000

loadtest-smoke: $(STAMP)
	$(BIN)/python loadtests/run.py --users 10 --spawn-rate 10 --time 25 --p95-ms 2000

# Mutation testing of the op table, grading and tolerance code ([tool.cosmic-ray] in
# pyproject.toml); CPU-heavy, not in CI. It mutates files in place: run nothing else here.
.PHONY: mutation
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	$(BIN)/python -m tests.mutation

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
