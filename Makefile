# Every target installs what it needs on first use: a .venv at the repo root, with nnbench
# installed in editable mode. The stamp file is remade when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SWEEP  ?= framework=numpy,torch device=cpu,cuda

.PHONY: install run test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the default sweep on the built-in two-moons data (override with SWEEP="...")
run: $(STAMP)
	$(BIN)/python -m nnbench -m $(SWEEP)

## test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check nnbench tests

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
