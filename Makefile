# Two commands (see README):  make run  /  make test
# Only Python 3.11+ and pip are assumed; everything else goes into $(VENV).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE ?= resources/samples/classic.keras
PYTEST_ARGS ?= -m "not slow"  # the soak test and the full oracle matrix: make test PYTEST_ARGS=

.PHONY: run test test-qtfree install install-test lint clean-venv help

help:
	@echo "make run    - set up $(VENV) and open keras-inspector on the sample model"
	@echo "make test   - set up $(VENV) with the test extras, then ruff, ruff format, lint-imports, mypy, the"
	@echo "              Qt-free app tests (PySide6 and pyqtgraph unimportable) and pytest (offscreen)"

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
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The app layer's tests with PySide6 and pyqtgraph made unimportable (tests/app/qt_blocker.py); pytest-qt
# is switched off by its real name, and its config key then needs the warning filter (STYLE.md section 2).
test-qtfree: install-test
	PYTHONPATH=tests/app $(BIN)/python -m pytest tests/app -p qt_blocker -p no:pytest-qt \
		-W "ignore:Unknown config option:pytest.PytestConfigWarning" $(PYTEST_ARGS)

test: lint test-qtfree
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
