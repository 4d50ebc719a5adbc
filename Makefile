# genrelay — `make run` starts the whole system, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast test-repeat lint format bench clean flower chaos fuzz openapi hosts-test

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/genrelay run

# Flower on BROKER_URL (basic auth: GENRELAY_FLOWER_USER / GENRELAY_FLOWER_PASSWORD), http://127.0.0.1:5555
flower: install
	$(BIN)/genrelay flower

test: install
	$(BIN)/pytest

# The edit loop: unit and contract tests, no worker processes, no crash test, no fuzzing, on both cores
# (each pytest-xdist worker has its own database and broker prefix).
test-fast: install
	$(BIN)/pytest -m "not e2e and not chaos and not fuzz" -q -n 2

# Run the suite (or a marker: K=e2e, K=chaos) N times in a row, stopping at the first red run, so a
# race shows here before it shows in CI: make test-repeat N=5 K=e2e
N ?= 5
K ?=
test-repeat: install
	@for i in $$(seq 1 $(N)); do \
	  echo "== run $$i of $(N)"; \
	  $(BIN)/pytest -q $(if $(K),-m "$(K)") || exit 1; \
	done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every benchmark in bench/ (see README "Performance"); writes bench/results/latest.json.
# BENCH_ARGS=--quick for a short run, --full to add 100,000 waiting jobs.
bench: install
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .genrelay .pytest_cache .mypy_cache .ruff_cache

chaos: install
	$(BIN)/pytest -m chaos -s

# Three hosts in network namespaces (needs root): 1,000 jobs, one host SIGKILLed, one cut off for 30 s.
hosts-test: install
	$(BIN)/pytest -m hosts -s

fuzz: install
	$(BIN)/pytest -m fuzz

# The published API document (openapi.json), after a change to a route or a schema
openapi: install
	$(BIN)/genrelay openapi
