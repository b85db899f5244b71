# npegen: two commands do all set-up on a fresh Debian/Ubuntu machine with Python >= 3.10, gcc and make:
#   make demo    the report: every block generated, verified and synthesised, every workload estimated
#   make test    the whole default test suite (SIM=icarus|verilator picks the cocotb simulator)
SHELL   := /bin/bash
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.npegen-installed
SIM     ?= icarus
PYTEST_ARGS ?=
export SIM

.PHONY: all setup demo test test-slow test-verilator bench notebooks lint clean distclean

all: test

# ---- set-up -----------------------------------------------------------------------------------------
setup: $(STAMP) .iverilog

# The venv is (re)installed when pyproject.toml changes; otherwise this is a timestamp check.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || \
	  { echo "npegen: needs Python >= 3.10 as '$(PYTHON)' (try: make PYTHON=python3.11 ...)"; exit 1; }
	@test -x $(PY) || { echo "npegen: creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "npegen: installing npegen[dev] into $(VENV) (about 30 s the first time)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# Icarus Verilog is the one tool PyPI does not ship: install it with apt when missing and we are root.
.iverilog:
	@command -v iverilog >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "npegen: installing Icarus Verilog (apt-get install iverilog)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq >/dev/null && apt-get install -y -qq iverilog >/dev/null || exit 1; \
	  else \
	    echo "npegen: iverilog not found; install Icarus Verilog >= 11 (e.g. 'sudo apt-get install iverilog') and re-run"; \
	    exit 1; \
	  fi; }

.PHONY: .iverilog

# ---- the two README commands ---------------------------------------------------------------------------
demo: setup
	@$(VENV)/bin/npegen report --sim $(SIM)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# ---- more ---------------------------------------------------------------------------------------------
test-verilator: setup
	SIM=verilator $(PY) -m pytest -m 'not bench' $(PYTEST_ARGS)

test-slow: setup
	$(PY) -m pytest -m 'slow' $(PYTEST_ARGS)

# The benchmarks also run ZigZag (the oracles extra), installed once into the same venv.
ORACLES := $(VENV)/.npegen-oracles
$(ORACLES): $(STAMP)
	@echo "npegen: installing npegen[oracles] (ZigZag) for the benchmarks"
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,oracles]'
	@touch $@

# The notebooks in full mode (the suite runs them in small mode); figures in build/notebooks/.
notebooks: setup
	@for nb in notebooks/*.py; do echo "npegen: $$nb (full mode)"; $(PY) $$nb || exit 1; done

bench: setup $(ORACLES)
	$(PY) -m pytest -m bench tests/bench --benchmark-columns=min,mean,stddev,ops,rounds \
	  --benchmark-group-by=group -p no:randomly -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/npegen lint

clean:
	rm -rf build sim_build .pytest_cache .benchmarks .hypothesis .ruff_cache notebooks/figures
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} + 2>/dev/null || true
	find notebooks -name '*.ipynb' -delete 2>/dev/null || true

distclean: clean
	rm -rf $(VENV) *.egg-info
