# Everything installs into .venv from pyproject.toml: a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: install test lint demo bench mutate clean update-models

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The demo needs the runtime and moto's server only: no test or lint tools on a fresh machine.
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --no-compile -e '.[demo]'   # byte-compiles lazily: faster overall
	touch $(DEMO_STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check prefect_runway flows tests benchmarks
	$(BIN)/mypy prefect_runway

# A full install (make install / make test) already holds everything the demo needs.
demo: $(if $(wildcard $(STAMP)),$(STAMP),$(DEMO_STAMP))
	$(BIN)/python flows/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Break each once-only guard on purpose (scratch copy) and check its tests fail: tests/mutate.py.
mutate: $(STAMP)
	$(BIN)/python tests/mutate.py

# Regenerate the per-model rules from the official SDK's types (SDK=x.y.z to pick a version).
SDK ?= 5.24.0
update-models: $(STAMP)
	$(BIN)/python -m prefect_runway._update_models --version $(SDK)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
