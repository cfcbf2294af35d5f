# The verbs a newcomer needs. `make demo` and `make test` set everything up on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The browser test's Chromium, from the OS packages; the binary is its own stamp.
CHROMIUM := /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help demo serve test lint typecheck template limits unit statemachine e2e bench bench-scale build clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(CHROMIUM):
	scripts/install-chromium

demo: $(STAMP) ## run one deployment end to end on the local stack (no AWS account needed)
	$(BIN)/bluegreen local demo

serve: $(STAMP) ## start the local stack with the sample target, in the foreground
	$(BIN)/bluegreen local serve --sample

test: lint typecheck template build unit statemachine e2e ## everything CI runs

lint: $(STAMP) ## ruff: lint and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict) on the layer package, handlers, CLI and local stack
	$(BIN)/mypy layers/common/bluegreen cli/bluegreen_cli functions bench

template: $(STAMP) ## sam validate --lint and cfn-lint on template.yaml
	scripts/check-template

limits: $(STAMP) ## AWS quotas: managed policies and policy size per role, SDK time vs timeouts, history events, payloads
	$(BIN)/python scripts/check_limits.py

unit: $(STAMP) ## models, domain logic, adapters on moto, handlers, local stack parts
	$(BIN)/pytest -q tests/unit

statemachine: $(STAMP) ## the real statemachine/deploy.asl.json executed, one test per path
	$(BIN)/pytest -q tests/statemachine

e2e: $(STAMP) $(CHROMIUM) ## `bluegreen local serve --sample` driven with boto3, HTTP and headless Chromium
	$(BIN)/pytest -q tests/e2e

bench: build ## cold start of every handler as built, beside its floor; cost of one deployment
	$(BIN)/python -m bench

SCALE ?= 20x3
bench-scale: $(STAMP) ## SCALE=20x3: pushes to many services at once; safety counts must be 0
	$(BIN)/python -m bench --scale $(SCALE)

build: $(STAMP) ## sam build (no container; uses python3.13), then check the layer is light and warm
	scripts/sam build
	$(BIN)/python scripts/check_layer.py .aws-sam/build/CommonLayer

clean: ## remove virtual environments and build output
	rm -rf $(VENV) .venv-sam .aws-sam .pytest_cache .mypy_cache .ruff_cache
