# Sigmawatch developer commands. The two a newcomer needs:
#   make run    the service on embedded defaults at http://127.0.0.1:8000
#   make test   install and build everything the tests need, then run them all

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help run test lint format unit testbin browser promtool redis alertmanager shellcheck bench bench-peers e2e clean

help:
	@echo "make run     serve the API on embedded defaults (http://127.0.0.1:8000)"
	@echo "make test    set everything up, lint, then run every test tier"
	@echo "make lint    ruff, mypy and the import layering rules"
	@echo "make bench   benchmarks (ratios against same-run baselines)"
	@echo "make bench-peers  MLServer and KServe beside Sigmawatch, the same z-score"
	@echo "make e2e     the kind cluster scenario (needs Docker)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || "$$(tools/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[inference,operator,dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/sigmawatch serve

testbin:
	tools/testbin/build.sh

browser:
	tools/ensure-debian-package.sh "chromium|google-chrome" chromium "the browser tests"

promtool:
	tools/ensure-debian-package.sh promtool prometheus "the alert-rule tests"

redis:
	tools/ensure-debian-package.sh redis-server redis-server "the shared rate limit tests"

alertmanager:
	tools/ensure-debian-package.sh amtool prometheus-alertmanager "the Alertmanager configuration tests"

shellcheck:
	tools/ensure-debian-package.sh shellcheck shellcheck "the workflow lint (actionlint runs it on run: steps)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: $(STAMP)
	$(BIN)/pytest tests/unit

test: $(STAMP) browser promtool redis alertmanager shellcheck testbin lint
	$(BIN)/pytest

bench: $(STAMP)
	tools/ensure-debian-package.sh wrk wrk "the HTTP benchmarks"
	$(PY) bench/run_all.py

bench-peers: $(STAMP)
	tools/ensure-debian-package.sh wrk wrk "the HTTP benchmarks"
	$(PY) bench/bench_peers.py --peers "$$(tools/peers.sh)"

e2e:
	e2e/run.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache test-artifacts
