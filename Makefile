# The README's two commands (`make demo`, `make test`), plus the UI, the API, lint and the browser tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: demo test test-browser serve ui lint sql-lint install clean

$(INSTALLED): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# requirements.lock pins every package to the versions this was tested with.
	$(BIN)/pip install --quiet --constraint requirements.lock --editable ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/meterhouse demo

test: $(INSTALLED)
	$(BIN)/python -m pytest

# The portal in headless Chromium (Debian's chromium + chromium-driver); kept out of `make test`.
test-browser: $(INSTALLED)
	$(BIN)/python -m pytest -m browser tests/api

# The Lago-compatible API and portal (docs/api.md); needs MH_API_KEYS and MH_PORTAL_SECRET.
serve: $(INSTALLED)
	$(BIN)/meterhouse serve

ui: $(INSTALLED)
	$(BIN)/meterhouse ui

# mypy's settings (which modules are checked strictly) are in pyproject.toml, [tool.mypy]; the
# SQL lint (sql-lint, below) runs last.
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check orchestration invoice_render meterhouse_tools tests
	$(BIN)/mypy
	$(MAKE) --no-print-directory sql-lint

# sqlfluff over dbt_project (part of lint); settings in pyproject.toml, [tool.sqlfluff.*]
# (docs/contributing.md, "SQL lint"). The dbt templater compiles each model against an empty
# scratch warehouse, with its own target and log folders under target/sqlfluff/ (kept between
# runs: dbt's partial parse cache lives there).
SQLFLUFF_DIR := target/sqlfluff
sql-lint: $(INSTALLED)
	mkdir -p $(SQLFLUFF_DIR)
	MH_WAREHOUSE=$(SQLFLUFF_DIR)/lint.duckdb DBT_TARGET_PATH=$(SQLFLUFF_DIR) \
		DBT_LOG_PATH=$(SQLFLUFF_DIR)/logs $(BIN)/python -m meterhouse_tools.sql_lint lint dbt_project \
		--processes 2

clean:
	rm -rf target logs data
