# The two commands: `make run` (the whole system, embedded PostgreSQL + Redis unless DATABASE_URL /
# REDIS_URL are set) and `make test` (the whole suite). Both install into .venv first if needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: install run test lint fmt manage bench fuzz clean-data

install: $(STAMP)

$(STAMP): requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: install
	$(PY) -m helpdesk.launch

test: install
	$(PY) -m helpdesk.embedded exec -- $(PY) -m pytest $(PYTEST_ARGS)

# The schemathesis run of `make test` (tests/api/test_fuzz.py), longer: FUZZ_EXAMPLES generated requests per
# operation and FUZZ_SCENARIOS linked scenarios, with a fresh random seed each time. docs/SECURITY.md.
FUZZ_EXAMPLES ?= 100
FUZZ_SCENARIOS ?= 100
fuzz: install
	FUZZ_RANDOM=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SCENARIOS=$(FUZZ_SCENARIOS) \
		$(PY) -m helpdesk.embedded exec -- $(PY) -m pytest tests/api/test_fuzz.py $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# make manage ARGS="create_api_token demo --role admin"
manage: install
	$(PY) manage.py $(ARGS)

clean-data:
	@echo "This deletes .data/ (embedded database, Redis, secret key). Ctrl-C to keep it."; sleep 3; rm -rf .data
