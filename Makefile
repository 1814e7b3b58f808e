# The two commands a new user needs: `make run` and `make test` (each bootstraps .venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_CONFIG := run/config.toml
ARGS ?=

.PHONY: run test bench install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(RUN_CONFIG):
	mkdir -p run
	cp config.toml $(RUN_CONFIG)

run: $(VENV)/.installed $(RUN_CONFIG)
	$(BIN)/alpaca-focuser serve --config $(RUN_CONFIG) $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy alpaca_focuser
	$(BIN)/python -m pytest -n 3 --dist loadfile $(ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) run .pytest_cache .hypothesis
