# toxitrace: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PY    ?= python3
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs docs-serve export clean-nbs check-clean venv readme

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

## nbdev-test over every chapter and report, then pytest for what does not belong in a notebook. Without the data folder
## the data parts of notebook cells (`if has_data():`) are skipped and counted here; TOXITRACE_REQUIRE_DATA=1 makes that an error.
test: $(STAMP)
	@$(BIN)/python -c "import sys; from toxitrace.data import shared_data_dir; sys.exit(shared_data_dir('nbs') is None)" \
	  || echo "skipped: $$(grep -o '"\s*if has_data()' nbs/*.ipynb | wc -l) data cells, no data folder (shared/data; TOXITRACE_REQUIRE_DATA=1 makes it an error)"
	$(BIN)/nbdev-test --n-workers 2 --timing
	$(BIN)/nbdev-test --n-workers 1 --timing reports
	$(BIN)/pytest -q tests

## The docs site in _site/: the notebooks as pages, README.md as home page, an API reference (no Quarto).
docs: $(STAMP)
	$(BIN)/python scripts/build_docs.py

## The same pages on http://127.0.0.1:8000/toxitrace/ (run it again after editing a notebook).
docs-serve: $(STAMP)
	$(BIN)/python scripts/build_docs.py --serve

## README.md is generated from nbs/index.ipynb.
readme: $(STAMP)
	$(BIN)/python scripts/make_readme.py

export: $(STAMP)
	$(BIN)/nbdev-export

clean-nbs: $(STAMP)
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-clean --fname reports

## Fails when the notebooks and the exported package disagree, or a notebook is not clean.
check-clean: $(STAMP)
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-clean --fname reports
	git status --porcelain -- nbs reports toxitrace
	test -z "$$(git status --porcelain -- nbs reports toxitrace)"
