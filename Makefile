# The two commands of README.md's quick start, and what they build on.
#   make run   - install, index corpus/, answer the example question
#   make test  - install with dev tools, lint, type-check, run the whole test suite
# Torch is pinned to the CPU build first; an unpinned torch would pull a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install install-dev run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/kbqa ingest
	$(BIN)/kbqa ask "Is kube-proxy a CNI plugin?"

lint: install-dev
	$(BIN)/ruff check rag ui tests eval
	$(BIN)/ruff format --check rag ui tests eval
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python eval/bench/core.py

clean:
	rm -rf $(VENV) .kbqa
