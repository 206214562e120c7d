"""Major hazard sources at province scale: the daily regrade (GB 18218-2018) and the duty rule.

    .venv/bin/python bench/bench_hazards.py                 # SQLite (in a fresh test database)
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_hazards.py

Builds (bulk, ungraded as a bulk load leaves them) 50,000 enterprises in 100 townships; every third one has two
units of two inventory lines (substances of 表1 and one by category), about 33,000 sources and 67,000 lines;
size from BENCH_HAZARD_ENTERPRISES. Then:
(a) recompute_hazard_levels() grading every source: time and queries, next to the floor of reading the same rows
    (the sources and their lines, fetched, no grading) in the same run; and the same at 1/5 of the size, whose
    queries must be a fifth (chunks of 1,000 sources, never one per source);
(b) the hazard-duty rule of the deadline checks (check_hazard_duties): first run (findings and notifications made)
    and second run the same day (nothing to do): time and queries of each.
"""

import datetime
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTERPRISES = int(os.environ.get("BENCH_HAZARD_ENTERPRISES", "50000"))
LINES = [
    ("氯", "7782-50-5", ""),
    ("甲醇", "67-56-1", ""),
    ("液化石油气", "68476-85-7", ""),
    ("某中间体", "", "W5.3,J5"),
]


def _setup_django():
    sys.path.insert(0, str(HERE.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def _build(enterprises: int, tag: str):
    from accounts.models import User
    from enterprises.models import Enterprise, HazardInventoryLine, MajorHazardSource
    from regions.models import Region

    started = time.perf_counter()
    city = Region.objects.create(code=f"3{tag}0500", name=f"示范市{tag}", level="city", parent=None)
    townships = []
    for c in range(5):
        county = Region.objects.create(code=f"3{tag}050{c + 1}", name=f"县{c + 1}", level="county", parent=city)
        for t in range(20):
            townships.append(
                Region.objects.create(
                    code=f"3{tag}050{c + 1}{t + 1:03d}", name=f"县{c + 1}镇{t + 1}", level="township", parent=county
                )
            )
    User.objects.bulk_create(
        [User(username=f"officer{tag}-{t.code}", role="township", region=t) for t in townships]
        + [User(username=f"county{tag}-{t.parent_id}", role="county", region_id=t.parent_id) for t in townships[::20]]
    )
    Enterprise.objects.bulk_create(
        [
            Enterprise(
                uscc=f"9{tag}320500{index:08d}X",
                name=f"示范化工有限公司{tag}{index}",
                township=townships[index % len(townships)],
                kind="production",
                status="operating",
            )
            for index in range(enterprises)
        ],
        batch_size=5000,
    )
    ids = list(Enterprise.objects.filter(uscc__startswith=f"9{tag}").order_by("pk").values_list("pk", flat=True))
    populations = ["over_100", "50_99", "30_49", "1_29", "none", ""]
    sources = [
        MajorHazardSource(
            enterprise_id=pk,
            name=f"{unit + 1}#罐区",
            unit_kind="tank_farm" if unit == 0 else "production",
            exposed_population=populations[n % len(populations)],
            automated_monitoring=n % 4 != 0,
            video_to_park=n % 3 != 0,
            emergency_shutoff=n % 5 != 0,
        )
        for n, pk in enumerate(ids[::3])
        for unit in range(2)
    ]
    MajorHazardSource.objects.bulk_create(sources, batch_size=5000)
    source_ids = list(
        MajorHazardSource.objects.filter(enterprise_id__in=ids[::3]).order_by("pk").values_list("pk", flat=True)
    )
    lines = []
    for n, source_id in enumerate(source_ids):
        for k in range(2):
            name, cas, categories = LINES[(n + k) % len(LINES)]
            lines.append(
                HazardInventoryLine(
                    hazard_source_id=source_id,
                    chemical_name=name,
                    cas=cas,
                    categories=categories,
                    max_quantity_t=Decimal(5 + (n * 7 + k * 13) % 400),
                )
            )
    HazardInventoryLine.objects.bulk_create(lines, batch_size=5000)
    print(
        f"built {len(ids)} enterprises, {len(source_ids)} hazard sources, {len(lines)} lines "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return city, source_ids


class QueryRecorder:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._context = connection.execute_wrapper(self)
        self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def _floor(source_ids) -> float:
    """Reading what the regrade reads (every source and line), fetched, without grading or writing."""
    from enterprises.models import HazardInventoryLine, MajorHazardSource

    started = time.perf_counter()
    for start in range(0, len(source_ids), 1000):
        chunk = source_ids[start : start + 1000]
        list(MajorHazardSource.objects.filter(pk__gte=chunk[0], pk__lte=chunk[-1]).order_by("pk"))
        list(HazardInventoryLine.objects.filter(hazard_source_id__gte=chunk[0], hazard_source_id__lte=chunk[-1]))
    return time.perf_counter() - started


def run():
    from django.conf import settings
    from django.db import connection

    from core.deadline_checks import check_hazard_duties
    from enterprises.services import recompute_hazard_levels

    settings.DEBUG = False
    results = {"database": connection.vendor, "enterprises": ENTERPRISES}
    _small_city, small_ids = _build(ENTERPRISES // 5, tag="1")
    _city, source_ids = _build(ENTERPRISES, tag="2")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    floor = _floor(source_ids + small_ids)
    with QueryRecorder() as queries:
        started = time.perf_counter()
        changed = recompute_hazard_levels()
        seconds = time.perf_counter() - started
    with QueryRecorder() as again:
        started = time.perf_counter()
        unchanged = recompute_hazard_levels()
        again_seconds = time.perf_counter() - started
    results["recompute"] = {
        "sources": len(source_ids) + len(small_ids),
        "changed": changed,
        "seconds": round(seconds, 2),
        "queries": queries.count,
        "floor_read_seconds": round(floor, 2),
        "ratio_to_floor": round(seconds / floor, 2),
        "second_run": {"changed": unchanged, "seconds": round(again_seconds, 2), "queries": again.count},
    }
    print(f"(a) recompute: {results['recompute']}")

    on = datetime.date(2021, 7, 1)
    for label in ("first", "second"):
        with QueryRecorder() as context:
            started = time.perf_counter()
            outcome = check_hazard_duties(on)
            elapsed = time.perf_counter() - started
        results[f"duties_{label}"] = {"seconds": round(elapsed, 2), "queries": context.count, **outcome}
        print(f"(b) hazard duties, {label} run: {results[f'duties_{label}']}")
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / f"hazards-{connection.vendor}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return results


def main():
    _setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        return run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    main()
