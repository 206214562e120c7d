"""REST API benchmark: enterprise pages cost a fixed number of queries; a full sync against a plain SELECT.

    .venv/bin/python bench/bench_api.py                 # SQLite (in a fresh test database)
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_api.py

Builds (bulk) 50,000 enterprises in 30 townships, each with two permits and a classification in force, and
500,000 tasks (10 per plan); sizes from BENCH_API_ENTERPRISES / BENCH_API_TASKS_PER_PLAN. Then:
(a) /api/v1/enterprises/ pages with nested permits and classifications: queries at several page sizes and
    positions (must all be equal);
(b) a full sync of every enterprise through the cursor pages (updated_since, page_size 500): records/s, next to
    a plain SELECT of the enterprise rows (with their permits and classifications) serialised with json, in the
    same run. Prints the ratio (target: within 4x of that floor).
"""

import datetime
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTERPRISES = int(os.environ.get("BENCH_API_ENTERPRISES", "50000"))
TASKS_PER_PLAN = int(os.environ.get("BENCH_API_TASKS_PER_PLAN", "10"))


def _setup_django():
    sys.path.insert(0, str(HERE.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def _build(regions_count=30):
    from django.utils import timezone

    from enterprises.models import Enterprise, Permit
    from rectification.models import Campaign, Classification, Plan, Task
    from regions.models import Region

    city = Region.objects.create(code="320500", name="示范市", level="city", parent=None)
    townships = []
    for c in range(3):
        county = Region.objects.create(code=f"32050{c + 1}", name=f"县{c + 1}", level="county", parent=city)
        for t in range(regions_count // 3):
            townships.append(
                Region.objects.create(
                    code=f"32050{c + 1}{t + 1:03d}", name=f"县{c + 1}镇{t + 1}", level="township", parent=county
                )
            )
    campaign = Campaign.objects.create(
        name="四个一批", starts_on=datetime.date(2021, 1, 1), ends_on=datetime.date(2023, 12, 31)
    )
    batch = 5000
    started = time.perf_counter()
    Enterprise.objects.bulk_create(
        [
            Enterprise(
                uscc=f"91320500{index:09d}X",
                name=f"示范化工有限公司{index}",
                township=townships[index % len(townships)],
                kind="production",
                status="operating",
            )
            for index in range(ENTERPRISES)
        ],
        batch_size=batch,
    )
    ids = list(Enterprise.objects.order_by("pk").values_list("pk", flat=True))
    Permit.objects.bulk_create(
        [
            Permit(enterprise_id=pk, kind=kind, number=f"{kind}-{pk}", expires_on=datetime.date(2030, 1, 1))
            for pk in ids
            for kind in ("work_safety", "business_licence")
        ],
        batch_size=batch,
    )
    now = timezone.now()
    Classification.objects.bulk_create(
        [
            Classification(
                enterprise_id=pk,
                campaign=campaign,
                category="upgrade",
                state="in_progress",
                deadline=datetime.date(2023, 6, 30),
                approved_at=now,
            )
            for pk in ids
        ],
        batch_size=batch,
    )
    classification_ids = list(Classification.objects.order_by("pk").values_list("pk", flat=True))
    Plan.objects.bulk_create([Plan(classification_id=pk) for pk in classification_ids], batch_size=batch)
    plans = list(Plan.objects.order_by("pk").values_list("pk", "classification__enterprise__township_id"))
    tasks = []
    for plan_id, township_id in plans:
        for order in range(1, TASKS_PER_PLAN + 1):
            tasks.append(
                Task(
                    plan_id=plan_id,
                    order=order,
                    description=f"整改措施{order}",
                    lead_region_id=township_id,
                    deadline=datetime.date(2023, 6, 30),
                )
            )
        if len(tasks) >= 20000:
            Task.objects.bulk_create(tasks, batch_size=batch)
            tasks = []
    Task.objects.bulk_create(tasks, batch_size=batch)
    # Changed over the last day, a few rows sharing each moment (as set-based updates do): settled for the sync.
    _spread_updated_at(Enterprise, now - datetime.timedelta(days=1))
    _analyze()
    print(
        f"built {Enterprise.objects.count()} enterprises, {Permit.objects.count()} permits, "
        f"{Classification.objects.count()} classifications, {Task.objects.count()} tasks "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return city


def _spread_updated_at(model, start):
    """updated_at = start + (id div 4) seconds: realistic, with ties the cursor must order by id."""
    from django.db import connection

    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"UPDATE {table} SET updated_at = %s + (id / 4) * interval '1 second'", [start])
        else:
            base = start.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
            cursor.execute(
                f"UPDATE {table} SET updated_at = strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '+' || (id / 4) || ' seconds')",
                [base],
            )


def _analyze():
    """PostgreSQL: planner statistics for the tables just bulk-loaded, as autovacuum keeps them in a running
    database (without them the plan of a sync page depends on whether autovacuum happened to pass)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _queries(http, url, params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        response = http.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return len(context.captured_queries)


def _floor(connection):
    """A plain SELECT of the same rows (enterprises with their permits and classifications), serialised with json."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM enterprises_enterprise ORDER BY updated_at, id")
        columns = [c[0] for c in cursor.description]
        enterprises = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        cursor.execute("SELECT * FROM enterprises_permit ORDER BY enterprise_id, id")
        columns = [c[0] for c in cursor.description]
        permits: dict = {}
        for row in cursor.fetchall():
            record = dict(zip(columns, row, strict=True))
            permits.setdefault(record["enterprise_id"], []).append(record)
        cursor.execute(
            "SELECT * FROM rectification_classification WHERE is_current ORDER BY enterprise_id, id"
            if connection.vendor == "postgresql"
            else "SELECT * FROM rectification_classification WHERE is_current = 1 ORDER BY enterprise_id, id"
        )
        columns = [c[0] for c in cursor.description]
        classifications: dict = {}
        for row in cursor.fetchall():
            record = dict(zip(columns, row, strict=True))
            classifications.setdefault(record["enterprise_id"], []).append(record)
    size = 0
    for record in enterprises:
        record["permits"] = permits.get(record["id"], [])
        record["classifications"] = classifications.get(record["id"], [])
        size += len(json.dumps(record, default=str, ensure_ascii=False))
    elapsed = time.perf_counter() - started
    return len(enterprises), elapsed, size


def run():
    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings
    from rest_framework.test import APIClient

    from accounts.api_clients import create_api_client

    city = _build()
    _client, token = create_api_client(name="基准测试", region=city)
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    results = {"database": connection.vendor, "enterprises": ENTERPRISES, "tasks_per_plan": TASKS_PER_PLAN}
    with override_settings(API_THROTTLE_RATE="", API_SYNC_SETTLE_SECONDS=5, DEBUG=False):
        url = "/api/v1/enterprises/"
        http.get(url, {"page_size": 1})  # the client's first request notes its use
        pages = {}
        for size, page in (
            (100, 1),
            (100, max(1, ENTERPRISES // 200)),
            (100, ENTERPRISES // 100),
            (500, 1),
            (500, ENTERPRISES // 500),
        ):
            started = time.perf_counter()
            count = _queries(http, url, {"page_size": size, "page": page})
            pages[f"page_size={size} page={page}"] = (count, round(time.perf_counter() - started, 3))
        results["pages"] = pages
        counts = {count for count, _seconds in pages.values()}
        print("(a) queries per enterprise page:", pages)
        print("    fixed:", len(counts) == 1)
        results["fixed_query_count"] = len(counts) == 1

        started = time.perf_counter()
        response = http.get(url, {"updated_since": "2000-01-01T00:00:00+08:00", "page_size": 500})
        received = 0
        while True:
            assert response.status_code == 200, response.content[:300]
            body = response.json()
            received += len(body["results"])
            if not body["next"]:
                break
            response = http.get(body["next"])
        sync_seconds = time.perf_counter() - started
        assert received == ENTERPRISES, (received, ENTERPRISES)
        rows, floor_seconds, _size = _floor(connection)
        api_rate = received / sync_seconds
        floor_rate = rows / floor_seconds
        ratio = floor_rate / api_rate
        results.update(
            sync_records=received,
            sync_seconds=round(sync_seconds, 2),
            sync_records_per_s=round(api_rate),
            floor_records=rows,
            floor_seconds=round(floor_seconds, 2),
            floor_records_per_s=round(floor_rate),
            ratio=round(ratio, 1),
            within_4x=ratio <= 4,
        )
        print(
            f"(b) full sync: {received} enterprises in {sync_seconds:.1f} s = {api_rate:.0f} records/s; plain SELECT + "
            f"json: {rows} in {floor_seconds:.2f} s = {floor_rate:.0f} records/s; ratio {ratio:.1f}x "
            f"({'within' if ratio <= 4 else 'NOT within'} 4x)"
        )
    del settings
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / f"api-{connection.vendor}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return results


def main():
    _setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite":  # its own database, not the test suite's test_<name>
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_api_{old_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        return run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    main()
