# The README's two commands: `make demo` (set up, run the pipeline on the demo world) and
# `make test` (set up, run the test suite). Both create .venv and install from pyproject.toml.
VENV ?= .venv
CORES ?= 2
PYTHON ?= python3
# Rules call `python -m mcnn ...`: put the venv first on PATH for Snakemake's shell commands.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Every job is a new Python process: with PYTHONDONTWRITEBYTECODE set (as on some CI machines)
# each one compiles torch's modules from source again, ~8 s per job (16 s of a 4-iteration
# training job). Python writes the bytecode on first use instead.
unexport PYTHONDONTWRITEBYTECODE
# pip's configured indexes, find-links and constraints, as uv options (empty where pip has
# none); `=`: asked of pip only when the install runs.
pip_setting = $(shell $(PYTHON) -m pip config get global.$(1) 2>/dev/null)
UV_PIP_SETTINGS = $(addprefix --extra-index-url ,$(call pip_setting,extra-index-url)) \
  $(addprefix --find-links ,$(call pip_setting,find-links)) \
  $(addprefix --constraint ,$(call pip_setting,constraint))

.PHONY: install demo test lint results-doc clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet uv
	# uv unpacks torch's 5.5 GB CUDA build in parallel: 32-39 s for the whole install where pip
	# took 73 s (same sitting, same packages and versions). uv reads no pip configuration, so it
	# gets pip's indexes and find-links (where this machine keeps torch 2.14.1) and pip's rule of
	# the best version over all indexes. Like pip --no-compile, it writes no bytecode here.
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python \
	  --index-strategy unsafe-best-match $(UV_PIP_SETTINGS) -e '.[dev,slurm]'
	# ... but the bytecode of what the workflow's jobs import is written now (about 15 CPU-s):
	# where PYTHONDONTWRITEBYTECODE is set and `snakemake` runs outside make, every job would
	# otherwise compile its imports again, 2-4 CPU-s each (a quarter of a short motion job).
	$(VENV)/bin/python -c "import importlib, pkgutil, mcnn; \
	  [importlib.import_module(m.name) for m in pkgutil.walk_packages(mcnn.__path__, 'mcnn.')]; \
	  import torch._dynamo, matplotlib.pyplot, snakemake.cli, snakemake_executor_plugin_slurm"
	touch $@

install: $(VENV)/.installed

demo: install
	snakemake --cores $(CORES)

# Two pytest-xdist workers (one per core on CI's 2-core machine; every test is single-threaded):
# the Slurm test's status polling and each workflow job's start-up wait beside the other
# worker's tests. The tests that share the tiny workflow run stay on one worker (loadgroup).
# --durations: the slowest tests, for finding where the time goes.
test: install
	pytest -q -n $(CORES) --dist loadgroup --durations=15

# docs/RESULTS.md from the results folders under results/ (each figure beside its run).
results-doc: install
	python -m mcnn results-doc --results results --output docs/RESULTS.md

lint: install
	ruff check mcnn tests benchmarks
	ruff format --check mcnn tests benchmarks
	snakefmt --check workflow/Snakefile rules
	snakemake --lint

clean:
	rm -rf results .snakemake
