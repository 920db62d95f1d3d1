# The two commands a new user needs (both do all set-up first, idempotently):
#   make demo   - runs the main job: the household demo on the default store
#   make test   - runs the test suite
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench
setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(VENV)/bin/robomem demo

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check robomem nodes envs tests benchmarks
	$(VENV)/bin/ruff format --check robomem nodes envs tests benchmarks

bench: setup
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/retrieve.py
