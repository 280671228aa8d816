# The two commands (README): `make repro` and `make test`. Both set up .venv from the committed lock
# first; setup reruns only when pyproject.toml or uv.lock change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.synced
DEB_STAMP := $(VENV)/.debian
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.jax_cache
export PYTHONPATH := $(CURDIR)
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# The XLA flags the installed jaxlib needs (runtime/xla_flags.py: stdlib only, so it runs before
# jax starts), exported for the command that follows; an unexamined jaxlib stops the target.
XLA_ENV = flags="$$($(PY) runtime/xla_flags.py)" && export XLA_FLAGS="$$flags" &&

.PHONY: setup repro test test-slow test-slow-rest gpu-check gpu-check-dry-run figures claims nt-env lock lint clean-results

setup: $(STAMP) $(DEB_STAMP)

$(STAMP): pyproject.toml uv.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --frozen --python $(PY) --quiet
	@# Bytecode for every installed package, written once here: uv does not compile by default,
	@# and under PYTHONDONTWRITEBYTECODE (set in this machine's environment) every process would
	@# recompile jax, matplotlib, scipy... from source on import (measured: 10.8 s -> 4.1 s to
	@# import jax + matplotlib + numpyro + scipy + sklearn; the suite starts ~30 processes). A
	@# file that does not compile (a package's test data in old syntax) is skipped, not fatal.
	@$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	@touch $@

# Debian data packages the experiments declare (DEBIAN_PACKAGES in each module): installed when
# running as root, otherwise the one command to run is printed. A failed install is not fatal:
# only the presets that read the data need it, and they stop with the command to run.
$(DEB_STAMP): $(STAMP) $(wildcard experiments/*.py) tools/debian_packages.py
	@pkgs="$$($(PY) tools/debian_packages.py)"; \
	if [ -z "$$pkgs" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs) \
	  || echo "warning: could not install $$pkgs (the presets that read them will say so)"; \
	else echo "experiments need Debian packages; run: sudo apt-get install -y $$pkgs"; fi
	@touch $@

repro: setup
	$(XLA_ENV) $(PY) -m experiments.all --preset quick

# Two pytest workers (pytest-xdist): a cold suite is mostly XLA compilation, one core per
# compile, so the second worker (and the 4-device smoke runs started beside each smoke test) keep
# both of CI's 2 cores busy. loadgroup: tests marked xdist_group(name) run on one worker in
# collection order (an experiment's smoke test, then the notebook that reuses its compiled programs).
TEST_WORKERS ?= 2
# A crashed worker ends the run (--max-worker-restart=0): xdist 3.8's loadgroup scheduler hangs
# after replacing a crashed worker (pytest-xdist#1323, #1327; the slow tier hung so twice after an
# XLA:CPU segfault). A test running past HANG_S dumps every thread's stack and exits its worker
# (pytest 9's faulthandler_exit_on_timeout), which then ends the run the same way. HANG_S is a
# hang guard, not the time budget (conftest.py's LIMIT_S is): 600 s is 10x the fast tier's
# per-test limit; the slow tier's longest test is a quick preset or notebook (~5 min cold beside
# the other worker), its full-preset reruns up to jrt_training's 4458 s (x2 beside a worker, x1.5
# for a slower machine: 4 h).
HANG_S ?= 600
SLOW_HANG_S ?= 1800
FULL_HANG_S ?= 14400
PYTEST_GUARD = --max-worker-restart=0 -o faulthandler_exit_on_timeout=true -o faulthandler_timeout
test: setup
	$(XLA_ENV) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_GUARD)=$(HANG_S)

# The slow tier: full grids, quick presets, notebooks at their larger size, the full-preset
# reproducibility checks (WORKSPACE.md lists what runs here and how long each part takes: the
# full-preset reruns take as long as the committed runs, ~5.3 h on 2 cores). test-slow-rest runs
# everything in it except the full-preset reruns (marker full_rerun).
test-slow: setup
	$(XLA_ENV) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m slow $(PYTEST_GUARD)=$(FULL_HANG_S)

test-slow-rest: setup
	$(XLA_ENV) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m 'slow and not full_rerun' \
	  $(PYTEST_GUARD)=$(SLOW_HANG_S)

# Every device check in one command on an NVIDIA machine (tools/gpu_check.py). No `setup`
# prerequisite: the lent GPU machines have no network and bring their own CUDA jax.
gpu-check:
	python3 tools/gpu_check.py

gpu-check-dry-run:
	python3 tools/gpu_check.py --dry-run

figures: setup
	$(XLA_ENV) $(PY) -m experiments._lib.figures

claims: setup
	$(XLA_ENV) $(PY) -m papers_repro.render
	$(XLA_ENV) $(PY) -m papers_repro.render --workspace

# Side environment: unmodified neural-tangents 0.6.5 on jax 0.5.3 (+ tensorflow), for golden values.
nt-env:
	@test -x .venv-nt/bin/python || $(PYTHON) -m venv .venv-nt
	.venv-nt/bin/pip install -q -r tools/nt-env-requirements.txt
	.venv-nt/bin/python tools/nt_golden.py > tests/fixtures/nt_golden.json
	$(MAKE) setup
	$(PY) -m pytest -m nt tests/theory/test_nt_compat.py

lock: $(STAMP)
	$(UV) lock
	$(UV) export --frozen --no-hashes --no-emit-project --all-groups -o requirements.lock --quiet

lint: setup
	$(VENV)/bin/ruff check .
