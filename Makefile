# Two commands on a fresh machine:  make run   ·   make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1:8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/chemreg
REDIS_URL ?= redis://127.0.0.1:6379/14
# Extra pytest arguments (e.g. PYTEST_ARGS="tests/test_worker.py -x") and parallel processes.
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: install run demo test test-sqlite test-pg ci lint format messages messages-check bench worker beat clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

## Install, migrate, load the demo city and start the app on the embedded default (SQLite, tasks in-process).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo --address $(HOST)
	$(PY) manage.py runserver $(HOST)

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo --address $(HOST)

## Install and run lint plus the whole test suite on the embedded default (SQLite).
test: install lint test-sqlite

test-sqlite: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q $(PYTEST_ARGS)

## The suite on PostgreSQL with a real Celery worker through Redis (see .ci/run).
test-pg: install
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(REDIS_URL) REQUIRE_WORKER=1 $(PY) -m pytest -n $(PYTEST_WORKERS) -q $(PYTEST_ARGS)

## Everything CI runs (services, both passes, migrations, deployment checks): see .ci/run.
ci:
	.ci/run

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Re-extract and compile the translation catalogue (needs GNU gettext).
messages: install
	$(PY) manage.py makemessages -l zh_Hans -l en --no-location --no-obsolete --ignore=.venv --ignore=bench
	$(PY) manage.py compilemessages --ignore=.venv

## Fails when a user-facing string has no Chinese translation (re-extracts into a scratch copy of the catalogue).
PO := locale/zh_Hans/LC_MESSAGES/django.po
messages-check: install
	@cp $(PO) $(PO).orig
	@$(PY) manage.py makemessages -l zh_Hans --no-location --no-obsolete --ignore=.venv --ignore=bench >/dev/null; \
	  untranslated=$$(msgattrib --untranslated --no-obsolete $(PO)); fuzzy=$$(msgattrib --only-fuzzy --no-obsolete $(PO) | grep -v '^#, fuzzy$$' | grep -c '^msgid' || true); \
	  mv $(PO).orig $(PO); \
	  if [ -n "$$untranslated" ] || [ "$$fuzzy" != "0" ]; then echo "$$untranslated"; \
	    echo "Untranslated or changed messages: add their Chinese to $(PO) (make messages), then commit locale/."; exit 1; fi; \
	  echo "Catalogue complete."

bench: install
	$(PY) bench/run.py

## A Celery worker and the beat scheduler; both need CELERY_BROKER_URL (and DATABASE_URL) in the environment.
worker: install
	@test -n "$$CELERY_BROKER_URL" || { echo "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) first."; exit 1; }
	$(VENV)/bin/celery -A config worker -l info

beat: install
	@test -n "$$CELERY_BROKER_URL" || { echo "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) first."; exit 1; }
	$(VENV)/bin/celery -A config beat -l info --schedule $(VENV)/celerybeat-schedule

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles media
