# genrelay — `make run` starts the whole system, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean flower chaos

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
