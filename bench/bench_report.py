"""Quarterly report and deadline checks at province scale.

    .venv/bin/python bench/bench_report.py                 # SQLite (in a fresh test database)
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_report.py

Builds (bulk, with their change history dated in 2021Q1) 50,000 enterprises in 100 townships of 5 counties,
one survey and one classification in force each, plans with 500,000 tasks, 50,000 findings and 10,000 major
hazard sources; sizes from BENCH_REPORT_ENTERPRISES / BENCH_REPORT_TASKS. Then:
(a) builds the city's 2021Q1 supervision report (figures + workbook with every overdue item): time, number of
    queries, peak Python memory (tracemalloc, in a second build), next to the time of the report's SQL alone
    (the same SELECT statements, captured from the build, executed and fetched again in the same run);
    target: within 3x;
(b) the same at 1/5 of the size: the number of queries must be the same;
(c) run_deadline_checks on 2021-07-01 (a sixth of the tasks fall overdue, each lead township notified) and
    again the same day (nothing to do): time and queries of each.
"""

import datetime
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTERPRISES = int(os.environ.get("BENCH_REPORT_ENTERPRISES", "50000"))
TASKS = int(os.environ.get("BENCH_REPORT_TASKS", "500000"))


def _setup_django():
    sys.path.insert(0, str(HERE.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


CATEGORIES = ["shutdown"] * 8 + ["relocate"] * 4 + ["upgrade"] * 5 + ["restructure"] + ["excluded"] * 2
STATES = ["accepted"] * 3 + ["in_progress"] * 6 + ["proposed"]


def _copy_history(models, moment):
    """History rows for every row bulk-inserted (one INSERT … SELECT per model), dated `moment`, only for rows
    without one yet: far faster than simple-history's bulk_create_with_history at this size."""
    from django.db import connection

    special = {"history_id", "history_date", "history_change_reason", "history_type", "history_user"}
    for model in models:
        history = model.history.model
        columns = [f.column for f in history._meta.local_fields if f.name not in special]
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {connection.ops.quote_name(history._meta.db_table)} "
                f"({quoted}, history_date, history_type, history_change_reason, history_user_id) "
                f"SELECT {quoted}, %s, '+', NULL, NULL FROM {connection.ops.quote_name(model._meta.db_table)} "
                f"WHERE id NOT IN (SELECT id FROM {connection.ops.quote_name(history._meta.db_table)})",
                [moment],
            )


def _build(enterprises: int, tasks_total: int, tag: str):
    """The data set, with every history row dated 2021-03-15 (recorded during the quarter reported on)."""
    from django.utils import timezone

    from accounts.models import User
    from enterprises.models import Enterprise, MajorHazardSource
    from inspections.models import Finding, Survey
    from rectification.models import Campaign, Classification, Plan, Target, Task
    from regions.models import Region

    moment = timezone.make_aware(datetime.datetime(2021, 3, 15, 12))
    started = time.perf_counter()

    def bulk_create_with_history(objects, model, batch_size=5000, default_date=None):
        model.objects.bulk_create(objects, batch_size=batch_size)
        pending_history.add(model)

    pending_history = set()
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
    campaign = Campaign.objects.create(
        name=f"四个一批{tag}", starts_on=datetime.date(2021, 1, 1), ends_on=datetime.date(2023, 12, 31)
    )
    bulk_create_with_history(
        [
            Target(campaign=campaign, region=t, year=2021, shutdown=enterprises // 250, relocate=enterprises // 500)
            for t in townships
        ],
        Target,
        default_date=moment,
    )
    batch = 5000
    bulk_create_with_history(
        [
            Enterprise(
                uscc=f"9{tag}320500{index:08d}X",
                name=f"示范化工有限公司{tag}{index}",
                township=townships[index % len(townships)],
                kind="production",
                status="closed" if index % 10 == 0 else "operating",
                park=None,
            )
            for index in range(enterprises)
        ],
        Enterprise,
        batch_size=batch,
        default_date=moment,
    )
    ids = list(
        Enterprise.objects.filter(name__startswith=f"示范化工有限公司{tag}").order_by("pk").values_list("pk", flat=True)
    )
    bulk_create_with_history(
        [Survey(enterprise_id=pk, campaign=campaign, surveyed_on=datetime.date(2021, 2, 1)) for pk in ids],
        Survey,
        batch_size=batch,
        default_date=moment,
    )
    bulk_create_with_history(
        [
            Classification(
                enterprise_id=pk,
                campaign=campaign,
                category=CATEGORIES[n % len(CATEGORIES)],
                state=STATES[n % len(STATES)] if CATEGORIES[n % len(CATEGORIES)] != "excluded" else "approved",
                exclusion_reason="非化工" if CATEGORIES[n % len(CATEGORIES)] == "excluded" else "",
            )
            for n, pk in enumerate(ids)
        ],
        Classification,
        batch_size=batch,
        default_date=moment,
    )
    working = list(
        Classification.objects.filter(campaign=campaign, state="in_progress")
        .order_by("pk")
        .values_list("pk", "enterprise__township_id")
    )
    bulk_create_with_history(
        [Plan(classification_id=pk) for pk, _t in working], Plan, batch_size=batch, default_date=moment
    )
    plans = list(
        Plan.objects.filter(classification__campaign=campaign)
        .order_by("pk")
        .values_list("pk", "classification__enterprise__township_id")
    )
    per_plan = max(1, tasks_total // len(plans))
    pending = []
    for p, (plan_id, township_id) in enumerate(plans):
        for order in range(1, per_plan + 1):
            n = p * per_plan + order
            pending.append(
                Task(
                    plan_id=plan_id,
                    order=order,
                    description=f"整改措施{order}",
                    lead_region_id=township_id,
                    # spread over 2021–2023: a sixth is due by 2021-06-30
                    deadline=datetime.date(2021, 1, 1) + datetime.timedelta(days=n % 1080),
                    status=("done" if n % 7 == 0 else "in_progress"),
                )
            )
        if len(pending) >= 50000:
            bulk_create_with_history(pending, Task, batch_size=batch, default_date=moment)
            pending = []
    if pending:
        bulk_create_with_history(pending, Task, batch_size=batch, default_date=moment)
    verifier = User.objects.create(username=f"verifier{tag}", role="county", region_id=townships[0].parent_id)
    bulk_create_with_history(
        [
            Finding(
                enterprise_id=pk,
                area="work_safety",
                description="安全隐患",
                responsible_unit="安监办",
                deadline=datetime.date(2021, 1, 1) + datetime.timedelta(days=n % 400),
                status="closed" if n % 4 == 0 else "open",
                verified_by=verifier if n % 4 == 0 else None,
                verified_at=moment if n % 4 == 0 else None,
            )
            for n, pk in enumerate(ids)
        ],
        Finding,
        batch_size=batch,
        default_date=moment,
    )
    bulk_create_with_history(
        [
            MajorHazardSource(enterprise_id=pk, name="罐区", unit_kind="tank_farm", online_monitoring=n % 3 != 0)
            for n, pk in enumerate(ids[::5])
        ],
        MajorHazardSource,
        batch_size=batch,
        default_date=moment,
    )
    _copy_history(pending_history, moment)
    print(
        f"built {len(ids)} enterprises, {Task.objects.filter(plan__classification__campaign=campaign).count()} tasks "
        f"(with history) in {time.perf_counter() - started:.1f} s"
    )
    return city, campaign


class QueryRecorder:
    """Counts the statements a block runs and keeps them with their parameters (no DEBUG query log, whose
    9,000-entry limit the bulk build exceeds)."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, params, many))
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._context = connection.execute_wrapper(self)
        self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    def __len__(self):
        return len(self.statements)


def _report_run(city, campaign):
    from rectification.models import SupervisionReport
    from rectification.reports import build_report

    report = SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=city)
    with QueryRecorder() as recorder:
        started = time.perf_counter()
        build_report(report.pk)
        seconds = time.perf_counter() - started
    report.refresh_from_db()
    assert report.status == "done", report.error
    return report, seconds, recorder


def _sql_alone(recorder) -> tuple[float, int]:
    """Execute and fetch the build's SELECT statements again, nothing else (the report's SQL alone)."""
    from django.db import connection

    selects = [(sql, params) for sql, params, _many in recorder.statements if sql.lstrip().upper().startswith("SELECT")]
    started = time.perf_counter()
    rows = 0
    with connection.cursor() as cursor:
        for sql, params in selects:
            cursor.execute(sql, params)
            rows += len(cursor.fetchall())
    return time.perf_counter() - started, rows


def run():
    from django.conf import settings
    from django.db import connection

    from core.deadline_checks import run_deadline_checks
    from rectification.models import SupervisionReport
    from rectification.reports import build_report

    settings.DEBUG = False  # no query log
    results = {"database": connection.vendor, "enterprises": ENTERPRISES, "tasks": TASKS}
    small_city, small_campaign = _build(ENTERPRISES // 5, TASKS // 5, tag="1")
    city, campaign = _build(ENTERPRISES, TASKS, tag="2")
    # Fresh statistics after the bulk load, as autovacuum would have them on a live database.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    _report, _seconds, small_queries = _report_run(small_city, small_campaign)
    report, seconds, captured = _report_run(city, campaign)
    sql_seconds, sql_rows = _sql_alone(captured)
    ratio = seconds / sql_seconds
    # Peak memory in a second build (tracemalloc slows Python down, so not in the timed one).
    again = SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=city)
    tracemalloc.start()
    build_report(again.pk)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = report.file.size
    results.update(
        report_seconds=round(seconds, 2),
        report_queries=len(captured),
        report_queries_at_one_fifth=len(small_queries),
        report_sql_alone_seconds=round(sql_seconds, 2),
        report_sql_rows=sql_rows,
        ratio=round(ratio, 2),
        within_3x=ratio <= 3,
        peak_python_memory_mb=round(peak / 1e6, 1),
        overdue_items=report.figures["overdue_items"],
        workbook_bytes=size,
    )
    print(
        f"(a) report: {seconds:.1f} s, {len(captured)} queries ({len(small_queries)} at 1/5 of the size), "
        f"peak Python memory {peak / 1e6:.1f} MB, {report.figures['overdue_items']} overdue items listed, "
        f"workbook {size / 1e6:.1f} MB; its SQL alone {sql_seconds:.1f} s ({sql_rows} rows): ratio {ratio:.2f}x "
        f"({'within' if ratio <= 3 else 'NOT within'} 3x)"
    )

    on = datetime.date(2021, 7, 1)
    for label in ("first", "second"):
        with QueryRecorder() as context:
            started = time.perf_counter()
            outcome = run_deadline_checks(on, send_email=False)
            elapsed = time.perf_counter() - started
        results[f"deadline_{label}"] = {
            "seconds": round(elapsed, 2),
            "queries": len(context),
            "tasks_marked_overdue": outcome["overdue_tasks"]["tasks_marked_overdue"],
            "findings_marked_overdue": outcome["overdue_findings"]["findings_marked_overdue"],
            "notifications": outcome["notifications"],
        }
        print(f"(c) deadline checks, {label} run on {on}: {results[f'deadline_{label}']}")
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / f"report-{connection.vendor}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
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
