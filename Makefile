# The two commands a newcomer needs: `make demo` and `make test`. Each bootstraps .venv itself.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip repeats a warning per package for find-links folders some machines configure but lack.
QUIET_PIP := 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements/*.txt 2>/dev/null | sha256sum | cut -c1-12)
# `make cli`: only what the CLI runs (pyproject's dependencies: boto3, huggingface_hub, isal, picklescan), as the plan, deploy
# and drift jobs need it; no torch, transformers, moto, checkov or dev tools. The full venv satisfies it too.
CLI_STAMP := $(VENV)/.cli-$(shell sha256sum pyproject.toml 2>/dev/null | cut -c1-12)
# `make serve`: the CLI plus what runs the model (torch CPU, transformers, the inference toolkit): the PR's
# evaluate job, which loads both revisions through model/code/inference.py. Still no test or lint tools.
SERVE_STAMP := $(VENV)/.serve-$(shell sha256sum pyproject.toml 2>/dev/null | cut -c1-12)
# torch is pinned to the CPU build that the offline wheel folder holds; with Internet, pass
# TORCH_INDEX=https://download.pytorch.org/whl/cpu to avoid the multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
WHEELS_DIR ?= /opt/wheels
PIP_TORCH_FLAGS := $(if $(wildcard $(WHEELS_DIR)/torch-*.whl),--find-links $(WHEELS_DIR),) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
# The full venv (~190 packages) is installed by uv, pinned in requirements/bootstrap.txt and put into .venv by pip:
# it resolved and installed requirements/dev.txt in 23 s where pip took 105 s, the same versions, side by side on
# this project's 2-core machine. --compile-bytecode as pip does: where PYTHONDONTWRITEBYTECODE is set (this machine,
# many CI images) every process would otherwise compile boto3 and the rest from source again (a fresh clone's
# make test without it: 23.0 min of pytest on 2026-12-03; with it, 15.6 min on 2026-12-04, on another 2-core
# machine, so not a clean comparison). uv reads no pip.conf: behind a private index, set UV_INDEX_URL (uv's own variable).
# `make cli` and `make serve`, what the workflow jobs install behind setup-python's pip cache, stay on pip.
UV_INSTALL := $(VENV)/bin/uv pip install --quiet --compile-bytecode
# The 25 slowest tests end every run: where the 20-minute budget goes, on the machine that ran it.
PYTEST_ARGS ?= --durations=25
# Two pytest workers: a Terraform test keeps about 1.2 of the 2 cores busy (terraform, the provider, moto), so a
# second one fills the gap. --dist loadfile keeps each test file on one worker, in order: a file's tests share
# one deployment. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
DLC_PACKAGES := transformers==4.51.3 tokenizers==0.21.1 huggingface_hub==0.30.2
PY_DIRS := scripts tests lambda model bench

.PHONY: help demo test lint fmt bench venv cli serve clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(wildcard requirements/*.txt)
	@echo ">> setting up $(VENV) (about a minute with uv's cache warm)"
	@rm -f $(VENV)/.installed-*
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet -r requirements/bootstrap.txt $(QUIET_PIP)
	@$(UV_INSTALL) --python $(PY) $(PIP_TORCH_FLAGS) "$(TORCH_SPEC)"
	@$(UV_INSTALL) --python $(PY) -r requirements/dev.txt
	@# checkov pins an old boto3: it gets a venv of its own, linked into .venv/bin.
	@test -x $(VENV)/checkov/bin/checkov || ($(PYTHON) -m venv $(VENV)/checkov && $(UV_INSTALL) --python $(VENV)/checkov/bin/python -r requirements/checkov.txt)
	@ln -sf ../checkov/bin/checkov $(VENV)/bin/checkov
	@# The released Hugging Face inference container's transformers, as an overlay folder: tests rerun
	@# inference.py under it (tests/model/test_dlc_versions.py).
	@test -d $(VENV)/dlc-site/transformers || $(UV_INSTALL) --python $(PY) --no-deps --target $(VENV)/dlc-site $(DLC_PACKAGES)
	@# hubdeploy's own modules are installed editable, so nothing compiled them: every CLI process (hundreds in
	@# make test, one per workflow step) would compile them again where PYTHONDONTWRITEBYTECODE is set. Stale ones
	@# after an edit are simply recompiled in memory.
	@$(PY) -m compileall -q scripts/hubdeploy
	@rm -f $(VENV)/.cli-* $(VENV)/.serve-*
	@touch $(CLI_STAMP) $(SERVE_STAMP)  # the full venv holds the CLI's and serving's dependencies too
	@touch $@

$(CLI_STAMP): pyproject.toml
	@rm -f $(VENV)/.cli-*
	@# an up-to-date full venv (make venv) already holds the CLI: nothing to install
	@if test -f $(STAMP); then echo ">> $(VENV) is the full venv: it has the CLI's dependencies"; else \
		echo ">> setting up $(VENV) with the CLI's runtime dependencies only"; \
		(test -x $(PY) || $(PYTHON) -m venv $(VENV)) && $(PY) -m pip install --quiet -e . $(QUIET_PIP); fi
	@touch $@

$(SERVE_STAMP): pyproject.toml
	@rm -f $(VENV)/.serve-*
	@if test -f $(STAMP); then echo ">> $(VENV) is the full venv: it has torch and the serving packages"; else \
		echo ">> setting up $(VENV) with the CLI, torch ($(TORCH_SPEC)) and the serving packages"; \
		(test -x $(PY) || $(PYTHON) -m venv $(VENV)) && \
		$(PY) -m pip install --quiet $(PIP_TORCH_FLAGS) "$(TORCH_SPEC)" $(QUIET_PIP) && \
		$(PY) -m pip install --quiet -e '.[serve]' $(QUIET_PIP); fi
	@touch $@

venv: $(STAMP) ## create/refresh .venv
cli: $(CLI_STAMP) ## .venv with only the CLI's runtime dependencies (the plan, deploy and drift jobs)
serve: $(CLI_STAMP) $(SERVE_STAMP) ## .venv with the CLI, torch and the serving packages (the PR's evaluate job)

demo: $(STAMP) ## run the whole pipeline locally: pin -> build -> publish -> apply -> serve -> answer
	@$(VENV)/bin/hubdeploy local up --env dev

test: $(STAMP) ## run every test: unit, terraform against moto, the workflow files through act, end to end
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy, terraform fmt, checkov, parliament (IAM policies), actionlint, zizmor
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/mypy
	terraform fmt -check -recursive terraform
	$(VENV)/bin/checkov --config-file .checkov.yaml
	$(VENV)/bin/python -W ignore::UserWarning -m hubdeploy.dev.policylint
	$(VENV)/bin/actionlint
	$(VENV)/bin/zizmor --offline .github/workflows

fmt: $(STAMP) ## fix what lint can fix
	@$(VENV)/bin/ruff format $(PY_DIRS)
	@$(VENV)/bin/ruff check --fix $(PY_DIRS)
	@terraform fmt -recursive terraform

bench: $(STAMP) ## benchmarks; writes .bench/results.json, then bench/results.json and README's table from it
	@$(PY) -m bench
	@$(PY) -m bench.readme --replace

clean: ## remove generated files (keeps .venv)
	rm -rf .bench .build .cache .local .pytest_cache .mypy_cache
