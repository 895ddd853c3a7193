# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The CPU build of torch lies on this machine's disk; a bare `torch` requirement could pull a CUDA build.
TORCH_PIN ?= torch==2.13.0
JOBS ?= 2

.PHONY: demo test lint bench bench-quick venv clean wheel-check docs lab-check lab-readme

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_PIN)"
	touch $@

$(VENV)/.lab: $(VENV)/.created pyproject.toml
	$(PIP) install -q "$(TORCH_PIN)" -e ".[lab]"
	touch $@

$(VENV)/.dev: $(VENV)/.created pyproject.toml
	$(PIP) install -q "$(TORCH_PIN)" -e ".[dev]"
	touch $@

$(VENV)/.docs: $(VENV)/.created pyproject.toml
	$(PIP) install -q "$(TORCH_PIN)" -e ".[docs]"
	touch $@

venv: $(VENV)/.lab

demo: $(VENV)/.lab
	$(VENV)/bin/losslab reproduce --profile quick --out report --jobs $(JOBS)

# Lint and types first (seconds), then the suite: unit, oracle, contract, differential and doctests.
test: $(VENV)/.dev lint
	KERAS_BACKEND=torch $(PY) -m pytest -q -n $(JOBS) --dist loadfile

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks examples docs
	$(VENV)/bin/mypy

# The lab's verdicts must not move between holds and does not hold under another seed base or the AVX2 kernels
# (three quick runs: ~15 min on 2 idle cores; see src/losslab/experiments/check.py).
lab-check: $(VENV)/.lab
	$(PY) -m losslab.experiments.check --profile quick --jobs $(JOBS) --out report-check

# The README's results table, generated from the quick run in report/ (make demo): no hand-copied numbers.
lab-readme: $(VENV)/.lab
	$(PY) -m losslab.experiments.report report --readme README.md

# Every benchmark on the CPU (BENCH_ARGS="--device cuda" for a GPU); bench-quick is the small sanity run.
bench: $(VENV)/.lab
	for b in benchmarks/bench_*.py; do $(PY) -m benchmarks.$$(basename $$b .py) $(BENCH_ARGS) || exit 1; done

bench-quick: $(VENV)/.lab
	for b in benchmarks/bench_*.py; do $(PY) -m benchmarks.$$(basename $$b .py) --quick $(BENCH_ARGS) || exit 1; done

# Build the wheel from the working tree (python -m build when installed, else pip wheel) and check it in a fresh
# venv (no system site-packages) holding only the wheel, torch (from TORCH_WHEELS when that folder exists), numpy
# and scipy: tests/wheel_check.py imports it, runs a loss and the CLI, and checks the lab extra is not needed.
WHEEL_TMP ?= /tmp/losslab-wheel-check
TORCH_WHEELS ?= /opt/wheels
wheel-check:
	rm -rf $(WHEEL_TMP) && mkdir -p $(WHEEL_TMP)/src
	git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C $(WHEEL_TMP)/src
	cd $(WHEEL_TMP)/src && if $(abspath $(PY)) -c "import build" 2>/dev/null; then $(abspath $(PY)) -m build --wheel --outdir $(WHEEL_TMP)/dist .; \
	  else $(abspath $(PIP)) wheel --no-deps -q -w $(WHEEL_TMP)/dist .; fi
	$(PYTHON) -m venv $(WHEEL_TMP)/venv
	$(WHEEL_TMP)/venv/bin/pip install -q $(if $(wildcard $(TORCH_WHEELS)),--find-links $(TORCH_WHEELS)) \
	  "$(TORCH_PIN)" $(WHEEL_TMP)/dist/losslab-*.whl
	cd $(WHEEL_TMP) && venv/bin/python src/tests/wheel_check.py

# The documentation site (docs/_build/html/index.html), warnings as errors. LOSSLAB_RESULTS=report/results.json
# adds the lab's outcome tables from a `losslab reproduce` run.
docs: $(VENV)/.docs
	KERAS_BACKEND=torch $(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) report
