# Two commands that set everything up themselves on a fresh machine (Python >= 3.11 needed):
#   make smoke   train the smoke config on the shipped MNIST subset (no download)
#   make test    run the test suite
#   make test-fast  the fast tier: the suite without the tests marked slow (pytest -m "not slow")
#   make docs    build the documentation site into build/docs/index.html (warnings are errors)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

.PHONY: install smoke test test-fast docs
install: $(STAMP)

smoke: $(STAMP)
	$(BIN)/python train.py --config configs/smoke.py --workdir runs/smoke

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -E -W --keep-going -q -b html docs build/docs
