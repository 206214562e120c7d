"""A real Celery worker for tests: a subprocess on a queue of its own, reading this process's test database.

The `worker` fixture (module-scoped, offered to every test module by tests/conftest.py) needs
CELERY_BROKER_URL (Redis) and a PostgreSQL DATABASE_URL; without them it skips, or fails when
REQUIRE_WORKER=1 (the PostgreSQL pass of `make test-pg` and .ci/run set it, so a broken setup cannot
pass by skipping). Uploaded files are shared through DJANGO_MEDIA_ROOT.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app

BASE_DIR = Path(__file__).resolve().parent.parent
WORKER_START_TIMEOUT = 60


def _skip_reason() -> str | None:
    if not os.environ.get("CELERY_BROKER_URL"):
        return "CELERY_BROKER_URL is not set (the worker tests need Redis)"
    if urlsplit(os.environ.get("DATABASE_URL", "")).scheme not in {"postgres", "postgresql", "pgsql"}:
        return "DATABASE_URL is not PostgreSQL (the worker must read the test database)"
    return None


def _test_database_url() -> str:
    """DATABASE_URL pointing at the database this test process really uses (test_…, one per xdist worker)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class RunningWorker:
    def __init__(self, queue: str, process: subprocess.Popen, log_path: Path):
        self.queue = queue
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def run(self, task, *args, timeout=WORKER_START_TIMEOUT):
        """Send `task` through the broker to this worker's queue and wait for its result."""
        # The test settings run tasks in-process; this call goes through the broker instead.
        was_eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = False
        try:
            result = task.apply_async(args=args, queue=self.queue)
            deadline = time.monotonic() + timeout
            while not result.ready():
                if self.process.poll() is not None:
                    pytest.fail(f"The Celery worker exited with code {self.process.returncode}:\n{self.log()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"No result from the Celery worker within {timeout} s:\n{self.log()}")
                time.sleep(0.1)
            return result.get(timeout=5)
        finally:
            celery_app.conf.task_always_eager = was_eager

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="module")
def worker(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """A Celery worker subprocess consuming a queue of its own, stopped when the module's tests end."""
    reason = _skip_reason()
    if reason:
        if os.environ.get("REQUIRE_WORKER") == "1":
            pytest.fail(f"REQUIRE_WORKER=1 but the worker tests cannot run: {reason}.")
        pytest.skip(reason)

    with django_db_blocker.unblock():
        database_url = _test_database_url()
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": database_url,
        # No persistent connection: the test database is flushed between tests and dropped at the end.
        "DATABASE_CONN_MAX_AGE": "0",
        # Uploaded files (rosters, evidence) written by the test are read by the worker.
        "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = RunningWorker(queue, process, log_path)
    request.addfinalizer(running.stop)
    return running
