# The two commands of the README: `make demo` and `make test` (each builds .venv first).
PY := .venv/bin/python

.PHONY: env demo test

env:
	@bash tools/setup_env.sh

demo: env
	$(PY) tools/demo.py

test: env
	$(PY) -m pytest -q tests
