"""Settings: the embedded default, the environment switches, and the production hardening.

Each case loads the settings in a fresh interpreter with exactly the environment it describes.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

#: Variables the settings read; every case starts without any of them.
SETTINGS_PREFIXES = ("DJANGO_", "DATABASE_", "CELERY_")

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
from config.celery import app
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "celery_eager": app.conf.task_always_eager,
    "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
    "email": settings.EMAIL_BACKEND,
}))
"""


def clean_env(**extra) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(SETTINGS_PREFIXES)}
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def loaded_settings(module: str, **env) -> dict:
    result = run_python(PRINT_SETTINGS, clean_env(DJANGO_SETTINGS_MODULE=module, **env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def production_env(**extra) -> dict[str, str]:
    values = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "example.gov.cn",
    }
    return clean_env(**{**values, **extra})


def test_embedded_default_is_sqlite_with_tasks_in_process():
    values = loaded_settings("config.settings.base")
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(BASE_DIR / "db.sqlite3")
    assert values["eager"] is True and values["celery_eager"] is True
    assert values["broker"] == ""
    assert values["debug"] is True
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"


def test_environment_switches_to_postgresql_and_a_real_broker():
    values = loaded_settings(
        "config.settings.base",
        DATABASE_URL="postgres://chemreg@db.example:5432/chemreg",
        CELERY_BROKER_URL="redis://redis.example:6379/0",
    )
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "chemreg"
    assert values["eager"] is False and values["celery_eager"] is False
    assert values["broker"] == "redis://redis.example:6379/0"


def test_test_settings_keep_tasks_in_process_even_with_a_broker():
    # Only tests/test_worker.py sends through the broker (to a worker it starts itself);
    # every other test runs its tasks in-process, with or without CELERY_BROKER_URL.
    values = loaded_settings("config.settings.test", CELERY_BROKER_URL="redis://redis.example:6379/0")
    assert values["eager"] is True and values["celery_eager"] is True


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = run_python("import django; django.setup()", production_env(DJANGO_SECRET_KEY="too-short"))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    env = production_env()
    del env["DJANGO_ALLOWED_HOSTS"]
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_production_passes_the_deployment_checks():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_hsts_fails_the_deployment_checks():
    # The check above can fail: switching HSTS off is reported and fails the WARNING level.
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production_env(DJANGO_SECURE_HSTS_SECONDS="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_env_example_documents_every_variable_the_settings_read():
    pattern = re.compile(r"""(?:os\.environ\.get|env_bool|env_list)\(\s*["']([A-Z0-9_]+)["']""")
    read = set()
    for module in ("base.py", "production.py"):
        read |= set(pattern.findall((BASE_DIR / "config" / "settings" / module).read_text()))
    # dj-database-url reads DATABASE_URL itself.
    read.add("DATABASE_URL")
    assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "CELERY_BROKER_URL"} <= read
    documented = set(re.findall(r"^#? ?([A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE))
    assert read - documented == set()
