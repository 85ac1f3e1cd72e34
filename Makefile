# The two commands a fresh machine needs: `make run` and `make test`.
# Each (re)creates .venv and installs the project when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint-imports codegen bench bench-service loadtest loadtest-smoke install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The REST API under gunicorn on http://127.0.0.1:8000 (Ctrl-C stops it).
run: $(STAMP)
	$(BIN)/gradsheet serve --host 127.0.0.1 --port 8000

# The HTML export test screenshots sheets in Debian's Chromium (Playwright drives it and
# downloads no browser of its own), so a fresh machine gets it here, once.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

test: $(STAMP) $(CHROMIUM) lint-imports
	$(BIN)/python -m pytest

# The layer contracts in pyproject.toml: engine <- worksheets <- service, no back-arrows.
lint-imports: $(STAMP)
	$(BIN)/lint-imports

# Regenerate the kernels' op cases (engine/vm/cases.py) from the op table.
codegen: $(STAMP)
	$(BIN)/python -m engine.vm.codegen

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_conv.py
	$(BIN)/python bench/bench_problemsets.py
	$(BIN)/python bench/bench_exports.py

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
