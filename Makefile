# Everything installs itself: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST := $(BIN)/pytest -p no:locust
# unit tests in four processes on two cores (most of their time is spent waiting on servers, browsers and
# Locust runs): a file whose tests share a module fixture (servers, stores) kept on one process, every other
# test wherever a process is free, the longest first (tests/scheduling.py; --no-loadscope-reorder keeps that order).
# Schemathesis runs on its own: under pytest-xdist its parametrized test collapses into one operation.
# The load smoke (make load-smoke: same command, minimum counts and reports) runs once, among them:
# tests/test_load_smoke.py's healthy run, its reports in reports/load-smoke.
SMOKE_OUT := $(CURDIR)/reports/load-smoke
UNIT_XDIST := LOAD_SMOKE_OUT=$(SMOKE_OUT) $(PYTEST) tests -n 4 --dist loadgroup --no-loadscope-reorder \
	--ignore tests/test_schemathesis.py
SCHEMATHESIS := $(PYTEST) tests/test_schemathesis.py
UNIT := $(UNIT_XDIST) && $(SCHEMATHESIS)
PORT ?= 8000

.PHONY: help venv system-deps test-deps dist test unit schemathesis jstest jstest-deps jstest-mutants serve demo bench capacity load load-smoke real-time peer peers peer-load clean matrix

help:
	@echo "make demo   - the main job: start the server, run the harness against it, print a summary"
	@echo "make test   - every test (unit, contract, session.js, browser scenarios, load smoke)"
	@echo "make jstest - session.js's own tests (node --test, jsdom; skipped without node)"
	@echo "make bdd    - the Gherkin browser scenarios (BASE_URL=http://... another server; TARGET=profile for your app)"
	@echo "make serve  - run the reference server with the demo clinic on http://127.0.0.1:$(PORT)/"
	@echo "make load   - 2-minute Locust timing run on loopback (USERS= DURATION= SCALE= STORE= LOAD_ARGS=)"
	@echo "make peer TARGET=name - an example app under examples/ (set up, every configuration, one findings report)"
	@echo "make peers  - every example app; make peer-load TARGET=name - a load run through its profile"
	@echo "make dist   - the wheel (dist/), one CLI: clinic-session preflight|run|load|report|serve|init"
	@echo "make matrix - the conformance matrix (docs/matrix.md, docs/matrix.html) from the latest runs; make bdd runs the reference, make peers every example"

# Bytecode is kept (in __pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE is set, as on the
# CI machine: otherwise every server, Locust and pytest process compiles the code it imports again (2 s
# instead of 0.4 s for the suite's imports) and pytest rewrites every test module again. KEEP_BYTECODE=0: not.
KEEP_BYTECODE ?= 1
ifeq ($(KEEP_BYTECODE),1)
unexport PYTHONDONTWRITEBYTECODE
endif
# make 4's grouped output for the steps that run side by side (older makes interleave it)
SYNC := $(if $(filter output-sync,$(.FEATURES)),--output-sync=target)

# The drop-in test clocks (clocks/: their own distribution, clinic-session-testclock) come from this
# checkout, editable, so their tests run the source here. uv installs them, compiled, with pip's own
# configuration handed on (scripts/venv_install.py), in about a quarter of pip's time; pip does it where uv
# cannot be had or fails.
REQUIREMENTS := -e './clocks[django]' -e '.[dev]'
$(STAMP): pyproject.toml clocks/pyproject.toml scripts/venv_install.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q 'uv>=0.4,<1' || true
	$(BIN)/python scripts/venv_install.py $(REQUIREMENTS)
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@scripts/system-deps.sh

unit: venv
	$(UNIT)

# Browser scenarios: pytest -p no:locust steps -n 2 with Cucumber JSON, JUnit XML and, for failed
# scenarios, Playwright traces and screenshots under reports/bdd/ (see steps/run.py); prints a summary.
BDD := $(BIN)/python -m steps.run $(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(TARGET),--target $(TARGET))

bdd: venv system-deps
	$(BDD) $(BDD_ARGS)

# session.js's own tests (jstests/: node --test with jsdom and fake timers, packages pinned by the lock
# file); skipped with one line where node is missing. jstest-mutants: proof that each test can fail.
JSTESTS := jstests
JS_STAMP := $(JSTESTS)/node_modules/.installed-stamp
HAS_NODE := $(shell command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && echo yes)

jstest: jstest-deps
	@if [ -n "$(HAS_NODE)" ]; then cd $(JSTESTS) && node --test --test-reporter=spec; \
	else echo "jstest: skipped, node and npm are not installed (session.js's own tests need Node 20+)"; fi

jstest-deps: $(if $(HAS_NODE),$(JS_STAMP))

$(JS_STAMP): $(JSTESTS)/package.json $(JSTESTS)/package-lock.json
	cd $(JSTESTS) && npm ci --no-audit --no-fund --silent
	touch $@

jstest-mutants: jstest
	cd $(JSTESTS) && node mutants.js

# What `make test` needs, fetched at once: uv (or pip), apt and npm all wait on the network.
test-deps:
	@$(MAKE) --no-print-directory $(SYNC) -j3 venv system-deps jstest-deps

# `make test`: the unit tests, with Schemathesis and session.js's tests (Node, fake timers) beside them (their
# output, held in $(SIDE_LOG), printed after the unit tests'), and the load smoke among them (above); then the
# browser scenarios. Running those beside the unit tests too saved about 45 s, but the unit tests then took the
# CPU from the reference server's password checks (which run only on idle CPU): a scenario of eight
# simultaneous sign-ins failed once in three fresh-clone runs. Reliability first.
SIDE_LOG := reports/side-checks.log
test: test-deps
	@mkdir -p reports && echo "unit tests (pytest -n 4), Schemathesis and make jstest beside them"
	@$(MAKE) --no-print-directory $(SYNC) -j2 schemathesis jstest > $(SIDE_LOG) 2>&1 & side=$$!; \
	$(UNIT_XDIST); unit=$$?; wait $$side; checks=$$?; \
	echo "---- Schemathesis and make jstest ($(SIDE_LOG)) ----"; cat $(SIDE_LOG); \
	grep -h "^load:" $(SMOKE_OUT)/output.txt; [ $$unit -eq 0 ] && [ $$checks -eq 0 ]
	$(BDD)

schemathesis: venv
	$(SCHEMATHESIS)

serve: venv
	$(BIN)/sessionsim serve --db sessionsim.db --port $(PORT)

# The installable tool (README, "Install it as a tool"): dist/clinic_session_harness-*.whl, the clinic-session command
dist: venv
	rm -rf dist && $(BIN)/pip wheel -q --no-deps --no-build-isolation -w dist .

# The main job: the contract walkthrough, every browser scenario and a short timing run, each summarised.
demo: venv system-deps
	$(BIN)/python -m scripts.demo
	$(BDD)
	$(MAKE) --no-print-directory load-smoke

bench: venv system-deps
	$(BIN)/python -m scripts.bench

capacity: venv
	$(BIN)/python -m scripts.capacity

# Locust timing verdict (loadtests/): seed, serve time-scaled on loopback, load, reports/load/timing.json
load: venv
	$(BIN)/python -m loadtests.run $(if $(USERS),--users $(USERS)) $(if $(DURATION),--duration $(DURATION)) \
		$(if $(SCALE),--time-scale $(SCALE)) $(if $(STORE),--store $(STORE)) $(LOAD_ARGS)

load-smoke: venv
	$(BIN)/python -m loadtests.run --smoke --out reports/load-smoke

# The real-time strategy against the reference server (no test clock; about 5 minutes of waiting)
real-time: venv system-deps
	REAL_TIME=1 $(PYTEST) tests/test_real_time.py -s

clean:
	rm -rf $(VENV) reports dist sessionsim.db sessionsim.db-wal sessionsim.db-shm $(JSTESTS)/node_modules

# A real third-party app as a target (examples/<name>/): `make -C examples/<name> setup` builds its own
# environment and data, then steps/peer.py runs every configuration its peer.toml declares (the 7-day one)
# and the whole suite through its profile (the app started and stopped by steps.run), one findings report
# for all (reports/peer/<name>/findings.md, findings.html). PEER_ARGS="--fail-on high" gates on known
# findings too. `make peers`: every example, one after the other; the exit code is the worst of them.
PEER ?= django-session-security
PEER_TARGET := $(or $(TARGET),$(PEER))
PEER_REPORTS := reports/peer/$(PEER_TARGET)
EXAMPLES := $(patsubst examples/%/profile.py,%,$(wildcard examples/*/profile.py))

peer: venv system-deps
	$(MAKE) --no-print-directory -C examples/$(PEER_TARGET) setup
	$(BIN)/python -m steps.peer $(PEER_TARGET) $(PEER_ARGS)

peers: venv system-deps
	@worst=0; for name in $(EXAMPLES); do \
		$(MAKE) --no-print-directory peer TARGET=$$name || worst=1; done; exit $$worst

# The conformance matrix (steps/matrix.py): every implementation's latest run side by side, built from whatever runs
# exist under reports/ (make bdd: the reference; make peers: every example); an example with no run keeps its column.
matrix: venv
	$(BIN)/python -m steps.matrix $(MATRIX_ARGS)

# Load through the profile, as the example's peer.toml [load] says (its settings, time scale, tolerance)
peer-load: venv
	$(MAKE) --no-print-directory -C examples/$(PEER_TARGET) setup
	$(BIN)/python -m steps.peer $(PEER_TARGET) --load $(LOAD_ARGS)

# The fault catalogue (faults/, docs/faults.md): each fault planted in a scratch copy of the reference server,
# judged only by the browser scenarios and the load smoke; the table in reports/faults/. Not part of make test
# (45 min to over an hour for the whole catalogue: docs/faults.md). FAULTS=a,b a subset; SKIP_LOAD=1 no load smoke;
# JOBS=2 two at once; FAULT_ARGS="--max-failures 2 --resume ..." more options.
.PHONY: faults
faults: venv system-deps
	$(BIN)/python -m faults.run $(if $(FAULTS),--faults $(FAULTS)) $(if $(SKIP_LOAD),--skip-load) \
		$(if $(JOBS),--jobs $(JOBS)) $(FAULT_ARGS)
