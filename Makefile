# Quick start:  make run   (installs, then opens SynthVol on the bundled demo dataset)
#               make test  (installs the test extras, then runs the whole test suite)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test lint demo clean-cache real-data

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Qt's xcb platform needs system libraries a fresh Debian/Ubuntu lacks (libxcb-cursor0, -icccm4,
# -keysyms1, ...): installed here when we are root or have password-less sudo, else the exact
# apt-get command is printed and nothing starts.
run: $(VENV)/.installed
	$(BIN)/python -m gui.platform_check --install --quiet
	$(BIN)/python main.py gui --data resources/demo

# The real head CT and MR the quality tests use (data/real/, ignored by git; Debian's mirror).
real-data: $(VENV)/.installed
	$(BIN)/python resources/fetch_real_data.py

test: $(VENV)/.installed-test real-data
	$(BIN)/python -m gui.platform_check --install --test-tools --quiet
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

demo: | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	$(BIN)/python resources/build_demo.py
