# Switchboard developer commands. `make help` lists them.

SHELL := bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
URL    := http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT)/
# Links in notifications (and seed_demo's banner) point at the server we start,
# unless SITE_URL is set.
export SITE_URL ?= $(patsubst %/,%,$(URL))
# pytest-playwright's own artifacts (failure screenshots, traces) go beside ours;
# it empties its --output directory at the start of every run.
PYTEST_ARGS ?= --output=test-artifacts/playwright --screenshot=only-on-failure \
	--tracing=retain-on-failure

.PHONY: help venv migrate seed run test lint format bench clean distclean

help: ## List the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv and install requirements.txt (again only when it changes)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

migrate: venv ## Apply database migrations and install the periodic task schedules
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_schedules

seed: migrate ## Create the demo team (idempotent) and print the URL and logins
	$(PY) manage.py seed_demo

# Web server, the two django-q2 workers (routing; delivery) and the routing sweeper in
# the foreground; Ctrl-C (or any one of them exiting) stops them all. `set -m` gives each its own process
# group, so the stop signal also reaches runserver's autoreload child and
# qcluster's workers. Each gets the signal it shuts down cleanly on: SIGTERM to
# all of qcluster's processes at once leaves its sentinel waiting forever.
define RUN_ALL
set -m
declare -A stop_signal
start() { local sig=$$1; shift; "$$@" & stop_signal[$$!]=$$sig; }
stop() {
	trap - INT TERM
	echo; echo "Stopping Switchboard..."
	for pgid in "$${!stop_signal[@]}"; do kill -"$${stop_signal[$$pgid]}" -- -"$$pgid" 2>/dev/null || true; done
	for _ in $$(seq 50); do [ -z "$$(jobs -pr)" ] && break; sleep 0.2; done
	for pgid in "$${!stop_signal[@]}"; do kill -KILL -- -"$$pgid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
start INT $(PY) manage.py runserver $(HOST):$(PORT)
start INT $(PY) manage.py qcluster
start INT env Q_CLUSTER_NAME=delivery $(PY) manage.py qcluster
start TERM $(PY) manage.py routing_sweeper
for _ in $$(seq 50); do
	$(PY) -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' $(PORT) 2>/dev/null && break
	sleep 0.2
done
echo
echo "==> Switchboard is running: web on $(URL); routing and delivery workers and the sweeper beside it. Ctrl-C stops them all."
[ -n "$$SEED_OUTPUT" ] && echo "$$SEED_OUTPUT"
echo
wait -n
status=$$?
echo "A Switchboard process exited (status $$status)."
stop
exit $$status
endef
export RUN_ALL

run: migrate ## Set up, seed demo data, run web + workers + sweeper (HOST=0.0.0.0 to listen on all interfaces)
	@SEED_OUTPUT="$$($(PY) manage.py seed_demo)" || { echo "$$SEED_OUTPUT"; exit 1; }; \
	echo "$$SEED_OUTPUT"; \
	SEED_OUTPUT="$$SEED_OUTPUT" exec bash -c "$$RUN_ALL"

# pytest's own exit status is kept in test-artifacts/pytest-status for .ci/run
# (make itself only ever exits 2 on failure).
test: venv ## Run the whole suite (SQLite; PostgreSQL when DATABASE_URL is set)
	@mkdir -p test-artifacts; rm -f test-artifacts/pytest-status; \
	$(PY) -m pytest $(PYTEST_ARGS) $(ARGS); status=$$?; \
	echo $$status > test-artifacts/pytest-status; \
	if [ $$status -eq 5 ]; then echo "pytest: no tests collected (exit 5), treated as success"; exit 0; fi; \
	exit $$status

lint: venv ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv ## Routing, intake, speed-to-lead and live-offer benchmarks on PostgreSQL (needs DATABASE_URL)
	$(PY) bench/run.py
	$(PY) bench/intake.py
	$(PY) bench/intake_lean.py
	$(PY) bench/live.py

clean: ## Remove caches and test artifacts (keeps .venv and the dev database)
	rm -rf test-artifacts test-results .pytest_cache .ruff_cache var/static
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean ## Also remove .venv and var/ (the SQLite database)
	rm -rf $(VENV) var
