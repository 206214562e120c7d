"""The worker: tasks run by a real Celery worker through Redis against the PostgreSQL test database.

The `worker` tests start `celery -A config worker` as a subprocess on a queue of their own and send
tasks through the broker. They need CELERY_BROKER_URL (Redis) and a PostgreSQL DATABASE_URL (the
worker reads the test database the test wrote to); otherwise they skip, or fail when REQUIRE_WORKER=1
(the PostgreSQL pass of `make test-pg` and .ci/run sets it, so a broken setup cannot pass by skipping).
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from config.celery import app as celery_app
from core.tasks import ping
from enterprises import services
from enterprises.models import HazardInventoryLine, MajorHazardSource
from enterprises.tasks import recompute_hazard_levels

from .factories import EnterpriseFactory, make_city, make_county, make_township

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


def _hazard_source_with_stale_level():
    """A chlorine tank farm (20 t against 5 t, β 4, α 1): R = 16, level 3 — stored with no level."""
    city = make_city()
    township = make_township(make_county(city, 1, "甲县"), 1, "甲一镇")
    enterprise = EnterpriseFactory(township=township)
    source = MajorHazardSource.objects.create(
        enterprise=enterprise, name="1#罐区", unit_kind="tank_farm", exposed_population="1_29"
    )
    HazardInventoryLine.objects.create(
        hazard_source=source,
        chemical_name="氯",
        cas="7782-50-5",
        max_quantity_t=Decimal("20"),
        threshold_t=Decimal("5"),
        beta=Decimal("4"),
    )
    assert source.computed_level is None
    return source


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_ping_is_answered_by_the_worker_process(worker):
    answer = worker.run(ping)
    assert answer == f"pong {worker.queue}@{socket.gethostname()}"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_recomputes_hazard_levels_in_the_database(worker):
    source = _hazard_source_with_stale_level()

    assert worker.run(recompute_hazard_levels) == 1

    source.refresh_from_db()
    assert source.computed_level == 3
    assert source.r_value == Decimal("16.000")
    latest = source.history.first()
    assert latest.history_type == "~"
    assert latest.history_change_reason == services.RECOMPUTE_REASON
    # Nothing left to change: the second run writes nothing.
    assert worker.run(recompute_hazard_levels) == 0
    assert source.history.count() == 2


# --- The same task in-process (embedded default): runs on SQLite too. ----------------------------


@pytest.mark.django_db
def test_recompute_hazard_levels_fixes_stale_rows_and_is_idempotent():
    stale = _hazard_source_with_stale_level()
    emptied = MajorHazardSource.objects.create(
        enterprise=stale.enterprise,
        name="甲类仓库",
        unit_kind="warehouse",
        computed_level=1,
        r_value=Decimal("120"),
    )
    below = MajorHazardSource.objects.create(enterprise=stale.enterprise, name="合成车间", unit_kind="production")
    HazardInventoryLine.objects.create(
        hazard_source=below,
        chemical_name="甲醇",
        cas="67-56-1",
        max_quantity_t=Decimal("100"),
        threshold_t=Decimal("500"),
        beta=Decimal("1"),
    )
    below.computed_level, below.r_value = None, Decimal("0.200")
    below.save()

    assert recompute_hazard_levels.delay().get() == 2

    stale.refresh_from_db()
    emptied.refresh_from_db()
    below.refresh_from_db()
    assert (stale.computed_level, stale.r_value) == (3, Decimal("16.000"))
    assert stale.version == 2  # the API sees the change
    assert (emptied.computed_level, emptied.r_value) == (None, None)  # no inventory: no level
    assert (below.computed_level, below.r_value) == (None, Decimal("0.200"))  # below the thresholds: unchanged
    assert services.recompute_hazard_levels() == 0


@pytest.mark.django_db
def test_recompute_hazard_levels_walks_every_chunk():
    source = _hazard_source_with_stale_level()
    for index in range(4):
        copy = MajorHazardSource.objects.create(
            enterprise=source.enterprise, name=f"{index + 2}#罐区", unit_kind="tank_farm"
        )
        HazardInventoryLine.objects.create(
            hazard_source=copy,
            chemical_name="氨",
            cas="7664-41-7",
            max_quantity_t=Decimal("600"),
            threshold_t=Decimal("10"),
            beta=Decimal("2"),
        )

    assert services.recompute_hazard_levels(chunk_size=2) == 5

    levels = dict(MajorHazardSource.objects.values_list("name", "computed_level"))
    assert levels == {"1#罐区": 3, "2#罐区": 1, "3#罐区": 1, "4#罐区": 1, "5#罐区": 1}


def test_ping_in_process_answers_pong():
    # Eager on the embedded default: the task runs in this process, named after the host.
    assert ping.delay().get() == f"pong {socket.gethostname()}"
