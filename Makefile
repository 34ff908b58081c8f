# Everything installs itself: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST := $(BIN)/pytest -p no:locust
PORT ?= 8000

.PHONY: help venv system-deps test unit serve demo bench clean

help:
	@echo "make demo   - the main job: start the server, run the harness against it, print a summary"
	@echo "make test   - every test (unit, contract, browser scenarios, load smoke)"
	@echo "make serve  - run the reference server with the demo clinic on http://127.0.0.1:$(PORT)/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@scripts/system-deps.sh

unit: venv
	$(PYTEST) tests

test: venv system-deps
	$(PYTEST) tests

serve: venv
	$(BIN)/sessionsim serve --db sessionsim.db --port $(PORT)

demo: venv system-deps
	$(BIN)/python -m scripts.demo

bench: venv system-deps
	$(BIN)/python -m scripts.bench

clean:
	rm -rf $(VENV) reports sessionsim.db sessionsim.db-wal sessionsim.db-shm
