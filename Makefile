# Two commands that set everything up themselves on a fresh machine (Python >= 3.11 needed):
#   make smoke   train the smoke config on the shipped MNIST subset (no download)
#   make test    run the test suite
#   make test-fast  the fast tier: the suite without the tests marked slow (pytest -m "not slow"),
#                   compiled with XLA's backend optimisation off (compiling is most of a test's time;
#                   the tier passes either way); make test compiles as users' runs do
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

# Flags given later win, so an XLA_FLAGS of the caller's own overrides this one.
FAST_XLA_FLAGS := --xla_backend_optimization_level=0

test-fast: $(STAMP)
	XLA_FLAGS="$(FAST_XLA_FLAGS) $$XLA_FLAGS" $(BIN)/python -m pytest -q -n 2 -m "not slow"

DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -E -W --keep-going -q -b html docs build/docs
