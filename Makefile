# Two commands set up everything on a fresh machine: `make lab` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test test-fast bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/python -m perfect_nb.notebook.lab_settings
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

# One pytest run: unit, doctest, notebook (nbval, outputs compared) and browser tests.
test: $(STAMP)
	$(BIN)/python -m pytest -q tests perfect_nb notebooks --doctest-modules --nbval --nbval-sanitize-with notebooks/sanitize.cfg

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x tests

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.cache
	$(BIN)/python -m bench.backend
	$(BIN)/python -m bench.agent
	$(BIN)/python -m bench.ui_pages
	$(BIN)/python -m bench.prefect3

clean:
	rm -rf $(VENV) bench/.prefect1-venv
