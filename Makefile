# toxitrace: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PY    ?= python3
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test export clean-nbs check-clean venv readme

$(STAMP): requirements-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -r requirements-lock.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## Warm up the small preset on a COLD sample and print metrics on COLD test.
demo: $(STAMP)
	$(BIN)/toxitrace demo

## nbdev-test over every notebook, then pytest for what does not belong in a notebook.
test: $(STAMP)
	$(BIN)/nbdev-test --n-workers 2 --timing
	$(BIN)/pytest -q tests

## README.md is generated from nbs/index.ipynb.
readme: $(STAMP)
	$(BIN)/python scripts/make_readme.py

export: $(STAMP)
	$(BIN)/nbdev-export

clean-nbs: $(STAMP)
	$(BIN)/nbdev-clean

## Fails when the notebooks and the exported package disagree, or a notebook is not clean.
check-clean: $(STAMP)
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	git status --porcelain -- nbs toxitrace
	test -z "$$(git status --porcelain -- nbs toxitrace)"
