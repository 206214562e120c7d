"""The worker: tasks run by a real Celery worker through Redis against the PostgreSQL test database.

The `worker` tests start `celery -A config worker` as a subprocess on a queue of their own and send
tasks through the broker. They need CELERY_BROKER_URL (Redis) and a PostgreSQL DATABASE_URL (the
worker reads the test database the test wrote to); otherwise they skip, or fail when REQUIRE_WORKER=1
(the PostgreSQL pass of `make test-pg` and .ci/run sets it, so a broken setup cannot pass by skipping).
"""

import socket
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

from core.tasks import ping
from enterprises import services
from enterprises.models import HazardInventoryLine, MajorHazardSource
from enterprises.standards.loader import load_reference_tables
from enterprises.tasks import recompute_hazard_levels

from .factories import EnterpriseFactory, make_city, make_county, make_township


def _hazard_source_with_stale_level():
    """A chlorine tank farm (20 t against 5 t, β 4, α 1): R = 16, level 3 — stored with no level."""
    # A transaction test may follow another that flushed the tables the migrations filled.
    load_reference_tables(django_apps)
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
    assert source.inventory.get().chemical.entry_no == 12  # matched to 表1 (氯) by the worker
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
    below = MajorHazardSource.objects.create(
        enterprise=stale.enterprise, name="合成车间", unit_kind="production", exposed_population="1_29"
    )
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

    assert recompute_hazard_levels.delay().get() == 3

    stale.refresh_from_db()
    emptied.refresh_from_db()
    below.refresh_from_db()
    assert (stale.computed_level, stale.r_value) == (3, Decimal("16.000"))
    assert stale.version == 2  # the API sees the change
    assert (emptied.computed_level, emptied.r_value) == (None, None)  # no inventory: no level
    # Below the thresholds (S = 0.2): no level, "not a major hazard source by its inventory".
    assert (below.computed_level, below.r_value, below.s_value, below.is_major) == (
        None,
        Decimal("0.2"),
        Decimal("0.2"),
        False,
    )
    assert stale.inventory.get().chemical.entry_no == 12  # the bulk-loaded line is matched to 表1 (氯)
    assert services.recompute_hazard_levels() == 0


@pytest.mark.django_db
def test_recompute_hazard_levels_walks_every_chunk():
    source = _hazard_source_with_stale_level()
    for index in range(4):
        copy = MajorHazardSource.objects.create(
            enterprise=source.enterprise, name=f"{index + 2}#罐区", unit_kind="tank_farm", exposed_population="1_29"
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
