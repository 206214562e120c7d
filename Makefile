# Two commands on a fresh machine:  make run   ·   make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1:8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/chemreg
REDIS_URL ?= redis://127.0.0.1:6379/14

.PHONY: install run demo test test-sqlite test-pg lint format messages bench worker beat clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

## Install, migrate, load the demo city and start the app on the embedded default (SQLite, tasks in-process).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	$(PY) manage.py runserver $(HOST)

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo

## Install and run lint plus the whole test suite on the embedded default (SQLite).
test: install lint test-sqlite

test-sqlite: install
	$(PY) -m pytest -n 2 -q

## The suite on PostgreSQL with a real Celery worker through Redis (see .ci/run).
test-pg: install
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(REDIS_URL) REQUIRE_WORKER=1 $(PY) -m pytest -n 2 -q

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

bench: install
	$(PY) bench/run.py

worker: install
	$(VENV)/bin/celery -A config worker -l info

beat: install
	$(VENV)/bin/celery -A config beat -l info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles media
