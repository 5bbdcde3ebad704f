# The two commands of README.md's quick start, and what they build on.
#   make run   - install, index corpus/, serve the chat on http://127.0.0.1:7860
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
# llama-cpp-python (the local LLM extra) compiles on install; a CPU-generic build, as the native one
# crashed at the first token on these machines.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: install install-dev browser run test lint bench clean

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

install-dev: $(VENV)/.installed-dev browser

# The browser tests (tests/ui/test_browser.py) drive Debian's chromium; Playwright's own browsers are not used.
browser:
	@test -x /usr/bin/chromium || { \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-color-emoji; }

run: install
	$(BIN)/kbqa ingest
	$(BIN)/kbqa serve

lint: install-dev
	$(BIN)/ruff check rag ui tests eval
	$(BIN)/ruff format --check rag ui tests eval
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

# All performance benchmarks (docs/PERFORMANCE.md); needs ../shared/corpora, about an hour on 2 cores.
bench: install
	$(PIP) install --quiet -e ".[bench]"
	$(BIN)/python eval/bench/perf.py

clean:
	rm -rf $(VENV) .kbqa
