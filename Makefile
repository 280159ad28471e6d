# careflow: the commands a newcomer uses. Each installs what it needs on first use.
SHELL := /bin/bash
# uv from PATH, else a private copy in .tools/ (a virtual environment, so it works where the
# system Python refuses `pip install`, as Debian's does for a normal user: PEP 668).
UV := $(shell command -v uv 2>/dev/null || echo "$(CURDIR)/.tools/bin/uv")

.PHONY: help setup dev chaos soak test screenshots lint typecheck unit integration e2e architecture demo bench schemas infra-up infra-down clean image images compose-test test-containers test-long

help:
	@echo "make dev    - Kafka, PostgreSQL, migrations, all six services and the web front end"
	@echo "make test   - lint (ruff, import contracts), type check, schema check, all tests"
	@echo "make demo   - drive one case through a running 'make dev' and print its timeline"
	@echo "make test-long - the tests that take minutes: replicas, short chaos run, backup, Kafka ACLs"
	@echo "make bench  - benchmarks; results in bench/results/latest.json"
	@echo "make chaos  - 1,000 cases while services, Kafka and PostgreSQL fail; the invariants after"
	@echo "make soak   - 30 minutes of steady load; memory, descriptors and lag per service"
	@echo "make image  - the careflow container image (podman, or docker where its daemon runs)"
	@echo "make compose-test - build the images, run deploy/compose, drive a case through it"
	@echo "make test-containers - the test fixtures' Kafka and PostgreSQL in containers"

setup:
	@test -x "$(UV)" || { \
	  echo "installing uv into .tools/ ..."; \
	  python3 -m venv .tools || { echo "make setup: Python's venv module is needed: sudo apt-get install python3-venv" >&2; exit 1; }; \
	  .tools/bin/python -m pip install --quiet uv; }
	@# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set, every process would
	@# otherwise compile each module it imports again (a service started in 6 s, not 2.5 s).
	@$(UV) sync --frozen --quiet --compile-bytecode 2>/dev/null || $(UV) sync --quiet --compile-bytecode
	@$(UV) run --frozen python -m compileall -q -j 0 kit contracts cli services tools >/dev/null
	@# The web front end's browser tests drive Debian's Chromium (Playwright's own download
	@# cannot work everywhere): installed here when run as root, else the command is shown.
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	  else \
	    echo "The browser tests need Chromium: run 'sudo apt-get install -y chromium'"; \
	  fi; }

dev: setup
	$(UV) run careflow dev

demo: setup
	$(UV) run careflow demo

# The whole platform under load while parts of it die (issue 16); CHAOS_ARGS e.g. "--seed 7".
chaos: setup
	$(UV) run careflow chaos $(CHAOS_ARGS)

# Steady load for 30 minutes: memory, file descriptors, connections, lag (issue 16).
soak: setup
	$(UV) run careflow soak $(SOAK_ARGS)

# Style, formatting and the import contracts ([tool.importlinter] in pyproject.toml).
lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports --no-logo

typecheck: setup
	$(UV) run mypy

unit: setup
	$(UV) run pytest -m unit

integration: setup
	$(UV) run pytest -m integration

e2e: setup
	$(UV) run pytest -m e2e

architecture: setup
	$(UV) run pytest -m architecture

# One pytest run for every tier: the fixtures start Kafka and PostgreSQL once and stop them.
test: setup lint typecheck
	$(UV) run python -m careflow.schemagen --check
	$(UV) run pytest -m "not long"

# What takes minutes or starts infrastructure of its own: two-replica runs, the short chaos
# run, backup and restore, the Kafka ACL broker (marker `long`).
test-long: setup
	$(UV) run pytest -m long

# The main pages as people see them (patient at phone width, staff at desktop width).
screenshots: setup
	CAREFLOW_SCREENSHOTS=1 $(UV) run pytest -q -m screenshots services/web/tests/test_web_screenshots.py

bench: setup
	$(UV) run python -m bench

schemas: setup
	$(UV) run python -m careflow.schemagen

infra-up: setup
	$(UV) run careflow infra up

infra-down: setup
	$(UV) run careflow infra down

# The careflow image. Where the official Python image cannot be pulled, a base is first built
# from Debian's packages (debootstrap, as root). deploy/images/build.sh says what it does.
image:
	deploy/images/build.sh careflow

# The careflow image and the stand-ins for the official Kafka and PostgreSQL images.
images:
	deploy/images/build.sh all

# Not part of `make test`: building the images and starting eleven containers takes minutes.
compose-test: setup images
	CAREFLOW_COMPOSE_TEST=1 $(UV) run pytest -m ops -v -s tests/deploy/test_compose_run.py

# The test fixtures' Kafka and PostgreSQL in containers, through testcontainers (Docker's API,
# or podman's `podman system service`, started when needed), from the images above.
test-containers: setup images
	CAREFLOW_INFRA=containers $(UV) run pytest -m ops -v tests/deploy/test_infra_containers.py

clean:
	-$(UV) run careflow infra down --destroy
	-$(UV) run careflow infra down --profile test --destroy
	rm -rf .infra
