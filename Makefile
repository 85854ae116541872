# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: install install-dev run test lint bench clean browser-deps

# Runtime packages for `make run`; the test, lint and browser packages on top for `make test`.
$(BIN)/.installed: requirements.txt
	@echo "==> creating $(VENV) and installing the runtime packages (requirements.txt; about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	@echo "==> installing the test and lint packages (requirements-dev.txt)"
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

## Install, migrate, load demo data, then run web + Celery worker + beat (Ctrl-C stops all).
# Development mode is asked for explicitly: the settings' own default is production.
# On a terminal, `set -m` makes honcho a job of its own that the terminal's Ctrl-C reaches, and not
# make: make would otherwise die of the SIGINT (exit 130) however cleanly everything stopped. Honcho
# answers Ctrl-C with 130 too, which is the stop asked for: 0 (docs/runbook.md, "Stopping make run").
run: export DJANGO_DEBUG ?= 1
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py setup_periodic_tasks
	$(BIN)/python manage.py run_periodic_tasks
	[ -t 0 ] && set -m; PATH="$(abspath $(BIN)):$$PATH" PORT=$(PORT) $(BIN)/python procfile_start.py \
	  || [ $$? -eq 130 ]

## Install and run the whole test suite (on whatever DATABASE_URL / REDIS_URL say).
test: install-dev
	@echo "==> running the test suite"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The lint gate: ruff, and the import contract of docs/architecture.md.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## Debian's Chromium and its driver, for the browser tests (without them those tests skip).
browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
	  echo "chromium and chromedriver are installed"; \
	else \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	fi

clean:
	rm -rf $(VENV) var
