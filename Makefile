# Every target installs what it needs on first use: a .venv at the repo root, with nnbench
# installed in editable mode at the versions requirements/lock.txt pins. The stamp file is
# remade when pyproject.toml or the lock changes. `make install LOCK=` installs unpinned.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   ?= requirements/lock.txt
PIN    := $(if $(LOCK),-c $(LOCK))
SWEEP  ?= framework=numpy,torch device=cpu,cuda

.PHONY: install lock run test test-fast report reference lint clean bench-scaling bench-overhead bench-numpy bench-sweep bench-busy bench-report test-cuda aa docs device-wheels device-check test-floors crosscheck env-numpy env-compare

install: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIN) --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIN) -e '.[dev]'
	$(BIN)/python -m compileall -q nnbench hydra_plugins  # as pip does for an installed package
	touch $(STAMP)

## lock: resolve '.[dev]' afresh in a throwaway venv and pin every package in requirements/lock.txt
lock:
	PYTHON=$(PYTHON) scripts/lock.sh $(or $(LOCK),requirements/lock.txt)

## run: the default sweep on the built-in two-moons data (override with SWEEP="...")
run: $(STAMP)
	$(BIN)/python -m nnbench -m $(SWEEP)

# Test processes side by side (pytest-xdist), as many as the cores this process may use; how
# tests are handed out, and why each process keeps to a core, is in tests/conftest.py.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(len(os.sched_getaffinity(0)))" 2>/dev/null || echo 2)
XDIST := -n $(TEST_WORKERS)

## test: the whole test suite, a process per core (TEST_WORKERS=1: one process)
test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST)

## test-fast: the suite without the slow end-to-end tests (whole sweeps, real data), for the edit loop
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow"

## test-floors: make test-fast in a second venv (.venv-floors) at the lowest torch, torchvision
## and NumPy pyproject.toml allows (requirements/floors.txt: the GPU machine's torch 2.11); about
## 5 GB of wheels, so not part of CI
FLOORS_VENV ?= .venv-floors
test-floors:
	test -x $(FLOORS_VENV)/bin/python || $(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOORS_VENV)/bin/python -m pip install --quiet -c requirements/floors.txt -e '.[dev]'
	$(FLOORS_VENV)/bin/python -c "import numpy, torch, torchvision; print('floors:', 'torch', torch.__version__, 'torchvision', torchvision.__version__, 'numpy', numpy.__version__)"
	$(FLOORS_VENV)/bin/python -m pytest -m "not slow" \
	    --deselect tests/test_lock.py::test_installed_versions_are_the_locked_ones  # not the lock, by design

## env-numpy: a second environment, .venv-numpy-$(NUMPY) (NUMPY=2.4.0, the floor, unless given), that
## differs from .venv in NumPy alone: its own site-packages hold that NumPy, a .pth file reaches
## everything else in .venv's (torch, hydra, nnbench); tens of MB, not a second torch
NUMPY ?= 2.4.0
NUMPY_VENV = .venv-numpy-$(NUMPY)
env-numpy: $(NUMPY_VENV)/.built

# numpy is installed before the .pth exists: with it, pip would find .venv's NumPy and keep that
$(NUMPY_VENV)/.built: $(STAMP)
	rm -rf $(NUMPY_VENV)
	$(BIN)/python -m venv --without-pip $(NUMPY_VENV)
	$(BIN)/python -m pip --python $(NUMPY_VENV)/bin/python install --quiet --disable-pip-version-check --no-deps numpy==$(NUMPY)
	base=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') && \
	own=$$($(NUMPY_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') && \
	echo "import site; site.addsitedir('$$base')" > $$own/nnbench-base-venv.pth
	$(NUMPY_VENV)/bin/python -c "import numpy, torch, nnbench.runner; assert numpy.__version__ == '$(NUMPY)', numpy.__file__; print('$(NUMPY_VENV): numpy', numpy.__version__, 'torch', torch.__version__, 'nnbench from', nnbench.__path__[0])"
	du -sh $(NUMPY_VENV)
	touch $@

## env-compare: NumPy and torch jobs in .venv and in $(NUMPY_VENV) (make env-numpy), interleaved in
## ENV_ROUNDS=5 rounds of one sweep, then the two environments compared (--baseline-env/--candidate-env)
ENV_ROUNDS ?= 5
ENV_SWEEP ?= framework=numpy,torch
env-compare: env-numpy
	runs=runs/env-compare/$$(date +%Y-%m-%d_%H-%M-%S); \
	$(BIN)/python -m nnbench -m $(ENV_SWEEP) bench.python=$(CURDIR)/$(BIN)/python,$(CURDIR)/$(NUMPY_VENV)/bin/python bench.rounds=$(ENV_ROUNDS) runs_dir=$$runs || exit $$?; \
	$(BIN)/python -m nnbench.report $$runs --baseline-env $(VENV) --candidate-env $(NUMPY_VENV) --out $$runs/compare --no-progress

## test-cuda: only the CUDA tests (torch precisions, TF32, compile, CuPy), on a GPU host
test-cuda: $(STAMP)
	$(BIN)/python -m pytest -m cuda -rs

## docs: the manual (docs/, mkdocs.yml) -> site/; --strict: a warning (a broken link or anchor) fails it
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(BIN)/ruff check nnbench tests

clean:
	rm -rf $(VENV) .venv-numpy-* *.egg-info .pytest_cache .ruff_cache site

## bench-scaling: one epoch of seed 000's scaling architectures, NumPy vs torch, with MFU
bench-scaling: $(STAMP)
	$(BIN)/python scripts/bench_scaling.py

## bench-numpy: nnbench's NumPy network against the textbook NumPy MLP, same run, same host
bench-numpy: $(STAMP)
	$(BIN)/python scripts/bench_numpy.py

## bench-overhead: the harness's own share of epoch time on the default moons config
bench-overhead: $(STAMP)
	$(BIN)/python scripts/harness_overhead.py

## crosscheck: a sweep's time per epoch against pyperf's worker processes timing the same trainer,
## interleaved, on a small and a large network: their ratio per framework
crosscheck: $(STAMP)
	$(BIN)/python scripts/crosscheck.py

## bench-busy: the default sweep and a 784x256x128x10 full-batch sweep (3 rounds each), quiet and
## beside two CPU-bound processes it starts and stops: do the answers hold?
bench-busy: $(STAMP)
	$(BIN)/python scripts/bench_busy.py

## bench-sweep: wall time of a small sweep and of skipped jobs, over the time of import torch
bench-sweep: $(STAMP)
	$(BIN)/python scripts/bench_sweep.py

## aa: A/A check of --baseline/--candidate: no change found between identical runs, a real 2x one found
aa: $(STAMP)
	$(BIN)/python scripts/aa_check.py

## report: tables, figures and report.html from every result under runs/ -> runs/report/
report: $(STAMP)
	$(BIN)/python -m nnbench.report runs --out runs/report

## bench-report: the report over 2,000 generated records (scripts/make_records.py): time and peak
## memory of a first report, a second over unchanged records, one after a change, and --small
bench-report: $(STAMP)
	$(BIN)/python scripts/bench_report.py

## reference: run the seeds' experiments and commit-sized reports under runs/reference/
## (ROUNDS=N interleaved rounds of fresh processes each; every call runs into a folder of its own)
EXPERIMENTS := case_study_moons compare_784x64x10 compare_wide compare_deep scaling mnist_report
ROUNDS ?= 3
reference: $(STAMP)
	runs=runs/reference-runs/$$(date +%Y-%m-%d_%H-%M-%S); \
	for e in $(EXPERIMENTS); do \
	  $(BIN)/python -m nnbench -m +experiment=$$e bench.rounds=$(ROUNDS) runs_dir=$$runs || exit $$?; \
	  $(BIN)/python -m nnbench.report $$runs/$$e --out runs/reference/$$e --small --no-progress || exit $$?; \
	done

## device-wheels: the wheels a lent GPU machine lacks (CPython 3.12, manylinux x86-64), at the
## lock's versions, into .device-wheels/ (ignored) for a device run to carry; prints their size
DEVICE_WHEELS := .device-wheels
device-wheels: $(STAMP)
	$(BIN)/python scripts/device_check.py wheels --dest $(DEVICE_WHEELS)

$(DEVICE_WHEELS)/manifest.json: pyproject.toml requirements/lock.txt scripts/device_check.py | $(STAMP)
	$(BIN)/python scripts/device_check.py wheels --dest $(DEVICE_WHEELS)

## device-check: on a lent GPU machine, from the repo root with .device-wheels carried: a venv over
## the machine's packages, the CUDA tests, the scaling and case-study sweeps on cpu and cuda and
## their report, in 8 minutes, files to $OUT (see scripts/device_check.py). DRY_RUN=1: the same
## here, without CUDA, with this venv standing in for the machine
DRY := $(filter 1 yes true,$(DRY_RUN))
device-check: $(if $(DRY),$(STAMP) $(DEVICE_WHEELS)/manifest.json)
	$(if $(DRY),$(BIN)/python,$(PYTHON)) scripts/device_check.py check --wheels $(DEVICE_WHEELS) $(if $(DRY),--dry-run)
