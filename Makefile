# Two commands (see README):  make run  /  make test
# Only Python 3.11+ and pip are assumed; everything else goes into $(VENV).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE ?= resources/samples/classic.keras
PYTEST_ARGS ?=

.PHONY: run test install install-test lint clean-venv help

help:
	@echo "make run    - set up $(VENV) and open keras-inspector on the sample model"
	@echo "make test   - set up $(VENV) with the test extras, then ruff, lint-imports and pytest (offscreen)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, this is " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes (pip install -e is editable anyway).
$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-app

install: $(VENV)/.installed-app
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/keras-inspector $(SAMPLE)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
