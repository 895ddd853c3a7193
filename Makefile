# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The CPU build of torch lies on this machine's disk; a bare `torch` requirement could pull a CUDA build.
TORCH_PIN ?= torch==2.13.0
JOBS ?= 2

.PHONY: demo test bench venv clean

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

venv: $(VENV)/.lab

demo: $(VENV)/.lab
	$(VENV)/bin/losslab reproduce --profile quick --out report --jobs $(JOBS)

test: $(VENV)/.dev
	KERAS_BACKEND=torch $(PY) -m pytest -q -n $(JOBS) --dist loadfile

bench: $(VENV)/.lab
	for b in benchmarks/bench_*.py; do $(PY) -m benchmarks.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf $(VENV) report
