# Two commands for a newcomer: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast test-browser redis lint format check migrations-check bench demo demo-prometheus clean install install-dev chromium pipeline-tools prometheus

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' || \
		{ echo "Make or Break needs Python 3.10 to 3.13 (set PYTHON=/path/to/python3.x)."; exit 1; }
	$(PYTHON) -m venv $(VENV) || \
		{ rm -rf $(VENV); echo "Creating the virtualenv failed: on Debian/Ubuntu, install python3-venv."; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The tests that run a real worker need a Redis. Without one answering on 127.0.0.1:6379,
# start a throw-away one (no persistence) for the run, installing Debian's package if missing.
redis: install-dev
	@$(BIN)/python -c 'import redis; redis.Redis(port=6379, socket_connect_timeout=1).ping()' 2>/dev/null || { \
		command -v redis-server >/dev/null || { \
			echo "Installing Debian's redis-server for the worker tests..."; \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server; }; \
		redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes && sleep 0.5; }

# Debian's Chromium drives the browser tests (Playwright's own download does not work here).
chromium:
	@test -x $(CHROMIUM) || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# The README's pipeline examples run with bash, curl and jq (tests/deploy/test_readme_examples.py);
# the catalogue test extracts the messages with GNU gettext (tests/test_i18n.py); the API
# benchmark's smoke run loads the server with wrk (tests/bench).
pipeline-tools:
	@command -v jq >/dev/null && command -v curl >/dev/null && command -v xgettext >/dev/null && command -v wrk >/dev/null || { \
		echo "Installing Debian's jq, curl, gettext and wrk for the tests..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq jq curl gettext wrk; }

# The store tests run a real Prometheus server (tests/stores), as the browser tests run a real
# Chromium; so does the worked example (`make demo-prometheus`).
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
		echo "Installing Debian's prometheus..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus; }

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@# Procfile.dev's "ready" prints the address and the demo login once the web server and the
	@# worker have started. honcho gives each process its own PORT (web's, then +100 each).
	HOST=$(HOST) WEB_PORT=$(PORT) $(BIN)/honcho -f Procfile.dev start --port $(PORT)

# The worked example of a gate that reads production itself: a real Prometheus with the demo
# service's past releases, the demo metrics bound to it, their history filled and learnt, and
# two canaries pulled by the worker's beat schedule (metrics/management/commands/demo_prometheus.py).
demo-prometheus: install prometheus
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	HOST=$(HOST) WEB_PORT=$(PORT) $(BIN)/honcho -f Procfile.demo start --port $(PORT)

# Two pytest processes: the browser tests run Playwright's event loop, and the setting
# that lets the ORM run beside it (tests/browser/conftest.py) must not reach other tests.
test: test-fast test-browser

test-fast: install-dev redis pipeline-tools prometheus
	$(BIN)/python -m pytest --ignore=tests/browser -n auto

test-browser: install-dev chromium prometheus
	$(BIN)/python -m pytest tests/browser

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/mypy .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: install-dev
	$(BIN)/python manage.py makemigrations --check --dry-run

check: lint migrations-check test

# Full-size figures (minutes); `make test` runs every benchmark at a tiny size (tests/bench).
bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/verdict.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache
