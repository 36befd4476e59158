# Two entry points: `make demo` runs the whole pipeline locally, `make test` runs the test suite.
# Both create the virtualenv and install pinned dependencies on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Node tools used by tests (ASL validator); Chart.js is vendored in dashboard/vendor.
NODE_STAMP := node_modules/.package-lock.json
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(STAMP) $(NODE_STAMP)

demo: $(STAMP)
	$(BIN)/ecomlake demo

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# 1M transactions through both engines (JSON in $TMPDIR/ecomlake-bench/), then the
# pytest-benchmark suite in benchmarks/ (not collected by `make test`).
bench: $(STAMP)
	$(BIN)/ecomlake bench --transactions 1000000 --engine both --daily
	$(BIN)/pytest benchmarks --benchmark-columns=min,median,mean,max,rounds

clean:
	rm -rf $(VENV) .lake
