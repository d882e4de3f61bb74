# The two set-up commands of the README: `make demo` and `make test`. Both install into .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint bench install

$(VENV)/.installed: pyproject.toml requirements-nodeps.txt scripts/install.sh
	bash scripts/install.sh $(VENV)

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/d2m demo

test: lint
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks scripts

bench: $(VENV)/.installed
	$(PY) benchmarks/run_all.py
