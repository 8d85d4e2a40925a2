# Two commands do all set-up: `make run` and `make test`.
VENV    ?= .venv
PYTHON  ?= $(shell command -v python3.11 || command -v python3)
PORT    ?= 3000
PY      := $(VENV)/bin/python

export REFLEX_USE_NPM := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test clock-check install install-dev migrate lint format bench-clean

run: install ## install what is missing, migrate, serve on http://localhost:$(PORT)
	PORT=$(PORT) bash scripts/run.sh

test: install-dev ## lint and run the whole test suite
	bash scripts/system_packages.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest
	bash scripts/clock_check.sh

clock-check: install-dev ## the time-sensitive tests at fixed instants (libfaketime)
	bash scripts/system_packages.sh
	bash scripts/clock_check.sh

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt scripts/node_shims.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	bash scripts/node_shims.sh $(VENV)
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

migrate: install
	$(PY) -m voxie_app.manage migrate

lint: install-dev
	$(VENV)/bin/ruff check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
