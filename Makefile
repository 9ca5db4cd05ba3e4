# Everything installs into .venv at the versions of uv.lock (scripts/install.sh: uv, installed
# with pip when missing; pip from pyproject.toml's ranges when uv cannot be had). A fresh machine
# needs only python3 and make.
PYTHON ?= python3
export PYTHON
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: install test test-all lint demo bench mutate clean update-models lock

$(STAMP): pyproject.toml uv.lock scripts/install.sh
	sh scripts/install.sh dev
	touch $(STAMP)

# The demo needs the runtime and moto's server only: no test or lint tools on a fresh machine.
$(DEMO_STAMP): pyproject.toml uv.lock scripts/install.sh
	sh scripts/install.sh demo
	touch $(DEMO_STAMP)

# After editing pyproject.toml's dependencies: resolve again and commit uv.lock.
lock:
	$(if $(shell command -v uv),uv,.uv/bin/uv) lock

install: $(STAMP)

# The fast lane: everything but the slow tests (see tests/conftest.py), in a few minutes.
test: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

# Everything, the slow lane included: what CI runs.
test-all: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check prefect_runway flows tests benchmarks scripts
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
	$(BIN)/python scripts/update_models.py --version $(SDK)

clean:
	rm -rf $(VENV) .uv .pytest_cache .mypy_cache .ruff_cache
