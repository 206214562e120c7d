"""Roster import benchmark: preview and commit of a city-wide roster of 35,671 rows against two baselines.

    .venv/bin/python bench/bench_import.py                 # SQLite (a fresh file database)
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_import.py

Generates a roster shaped like the townships' files (title row, 填报单位 line, header, 35,671 rows with codes,
names, township names, dates and amounts written in the ways rosters write them, categories and problems,
blank rows, a closing 合计 row) for a city of 10 counties and 120 townships, then measures in the same run:
(a) merely reading the file's cells with openpyxl (read_only, values_only) — the floor;
(b) imports.services.preview (nothing written) and commit (every enterprise created with its history row,
    its classification proposal with step and history, its problems as findings), then a second preview of
    the same file (must find nothing to change);
(c) a plain django-import-export ModelResource import of the same rows (new codes, same fields).
Reports seconds, ratios to (a), database queries (counted by an execute wrapper) and the process's peak
resident memory after each phase. Rows from BENCH_IMPORT_ROWS (default 35671).
"""

import datetime
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "35671"))
COUNTIES, TOWNSHIPS_PER_COUNTY = 10, 12


def _setup_django():
    sys.path.insert(0, str(HERE.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measured(label, function, results):
    from django.db import connection

    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        value = function()
    seconds = time.perf_counter() - started
    results[label] = {"seconds": round(seconds, 2), "queries": counter.count, "peak_rss_mb": round(peak_mb(), 1)}
    print(f"  {label:<38} {seconds:8.2f} s  {counter.count:7d} queries  peak RSS {peak_mb():7.1f} MB", flush=True)
    return value


def build_register():
    from accounts.choices import Role
    from accounts.models import User
    from parks.models import ChemicalPark
    from rectification.models import Campaign
    from regions.models import Region

    city = Region.objects.create(code="320500", name="示范市", level="city", path="/320500/")
    townships = []
    for c in range(1, COUNTIES + 1):
        county = Region.objects.create(
            code=f"3205{c:02d}", name=f"第{c}区", level="county", parent=city, path=f"/320500/3205{c:02d}/"
        )
        for t in range(1, TOWNSHIPS_PER_COUNTY + 1):
            code = f"3205{c:02d}{t:03d}"
            townships.append(
                Region.objects.create(
                    code=code, name=f"第{c}区{t}镇", level="township", parent=county, path=f"{county.path}{code}/"
                )
            )
    parks = [
        ChemicalPark.objects.create(
            code=f"P{index:03d}",
            name=f"化工园区{index}",
            township=townships[index * 7],
            level="municipal",
            recognition_status="recognised",
        )
        for index in range(6)
    ]
    user = User.objects.create(username="city-importer", role=Role.CITY, region=city)
    campaign = Campaign.objects.create(
        name="四个一批专项行动", starts_on=datetime.date(2021, 1, 1), ends_on=datetime.date(2023, 12, 31)
    )
    return user, campaign, townships, parks


HEADERS = [
    "序号",
    "统一社会信用代码",
    "企业名称",
    "乡镇（街道）",
    "详细地址",
    "法定代表人",
    "联系电话",
    "企业类型",
    "所在园区",
    "规模",
    "开票销售（万元）",
    "主要产品",
    "存在问题",
    "生产状态",
    "四个一批分类",
    "完成时限",
    "剔除原因",
    "备注",
]
KINDS = ["生产", "经营", "储存", "使用", "运输"]
CATEGORIES = ["关停", "关停取缔", "升级", "改造提升", "剔除", "待定", "清理取缔", "原地提升"]
DEADLINES = ["2021-06-30", "2021/9/30", "2021.12.31", "2022年6月30日", "2022年6月", "2021年底", 44561]
PROBLEMS = [
    "1、未取得安全生产许可证；2、环评手续不全",
    "无排污许可证",
    "用地手续不全；能耗超标",
    "",
    "",
    "",
]


def roster_rows(count: int, townships, parks, *, serial_offset=0, rng=None):
    from enterprises.validators import make_uscc

    rng = rng or random.Random(4)
    for index in range(count):
        township = townships[index % len(townships)]
        category = CATEGORIES[index % len(CATEGORIES)]
        park = parks[index % len(parks)].name if index % 5 == 0 else ("园区外" if index % 5 == 1 else None)
        sales = round(rng.uniform(50, 90000), 1)
        yield [
            index + 1,
            make_uscc(f"91320500{index + serial_offset:09d}"),
            f"示范化工有限公司{index + serial_offset}",
            township.name if index % 3 else township.code,
            f"{township.name}工业路{index}号",
            f"法人{index % 997}",
            f"0512-{6000000 + index}",
            KINDS[index % len(KINDS)],
            park,
            "规上" if index % 4 == 0 else "规模以下",
            f"{sales:,.1f}" if index % 2 else sales,
            "涂料、树脂",
            PROBLEMS[index % len(PROBLEMS)],
            "在产" if index % 7 else "停产",
            category,
            DEADLINES[index % len(DEADLINES)],
            "不属于化工企业" if category == "剔除" else None,
            "",
        ]


def write_roster(path, rows) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("汇总表")
    sheet.append(["示范市化工企业专项整治摸排汇总表"])
    sheet.append(["填报单位：示范市化治办", None, None, "填报日期：2021年3月1日"])
    sheet.append(HEADERS)
    written = 0
    for row in rows:
        sheet.append(row)
        written += 1
        if written % 5000 == 0:
            sheet.append([])  # a blank row in the middle
    sheet.append(["合计", f"{written}家"])
    workbook.save(path)


def read_cells(path) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    cells = 0
    for row in workbook.worksheets[0].iter_rows(values_only=True):
        cells += len(row)
    workbook.close()
    return cells


def import_export_baseline(path_rows, townships):
    """A plain django-import-export ModelResource import of the same rows (new codes, same fields)."""
    import tablib
    from import_export import fields, resources, widgets

    from enterprises.models import Enterprise
    from regions.models import Region

    class EnterpriseResource(resources.ModelResource):
        township = fields.Field(
            attribute="township", column_name="township", widget=widgets.ForeignKeyWidget(Region, "code")
        )

        class Meta:
            model = Enterprise
            import_id_fields = ("uscc",)
            fields = (
                "uscc",
                "name",
                "township",
                "address",
                "legal_representative",
                "contact_phone",
                "kind",
                "size",
                "annual_sales",
                "main_products",
                "status",
            )

    by_name = {t.name: t.code for t in townships}
    kinds = {"生产": "production", "经营": "trading", "储存": "storage", "使用": "use", "运输": "transport"}
    dataset = tablib.Dataset(
        headers=[
            "uscc",
            "name",
            "township",
            "address",
            "legal_representative",
            "contact_phone",
            "kind",
            "size",
            "annual_sales",
            "main_products",
            "status",
        ]
    )
    for row in path_rows:
        township = row[3] if str(row[3]).isdigit() else by_name[row[3]]
        sales = str(row[10]).replace(",", "")
        dataset.append(
            [
                row[1],
                row[2],
                township,
                row[4],
                row[5],
                row[6],
                kinds[row[7]],
                "above" if row[9] == "规上" else "below",
                sales,
                row[11],
                "operating" if row[13] == "在产" else "suspended",
            ]
        )
    result = EnterpriseResource().import_data(dataset, dry_run=False, raise_errors=True, use_transactions=True)
    return result.totals


def run():
    from django.db import connection

    from enterprises.models import Enterprise
    from imports import services
    from imports.models import RosterImport
    from inspections.models import Finding
    from rectification.models import Classification

    vendor = connection.vendor
    print(f"Roster import benchmark on {vendor}: {ROWS} rows", flush=True)
    user, campaign, townships, parks = build_register()
    results = {"vendor": vendor, "rows": ROWS}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "roster.xlsx"
        started = time.perf_counter()
        write_roster(path, roster_rows(ROWS, townships, parks))
        print(f"  generated {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s", flush=True)

        measured("baseline: read the cells", lambda: read_cells(path), results)

        from django.core.files import File

        def start():
            with open(path, "rb") as handle:
                return services.start_import(file=File(handle, name="示范市汇总表.xlsx"), user=user, campaign=campaign)

        record = measured("upload (checks, hash, store)", start, results)
        measured("preview", lambda: services.preview(record, user), results)
        record.refresh_from_db()
        print(
            f"    preview: {record.created_count} to create, {record.updated_count} to update, "
            f"{record.error_row_count} in error, {record.skipped_count} skipped",
            flush=True,
        )
        measured("commit", lambda: services.commit(record, user), results)
        results["written"] = {
            "enterprises": Enterprise.objects.count(),
            "enterprise_history": Enterprise.history.count(),
            "classifications": Classification.objects.count(),
            "findings": Finding.objects.count(),
        }
        print(f"    written: {results['written']}", flush=True)

        again = measured("re-import: preview of the same file", lambda: (start(), None)[0], results)
        measured("re-import: preview (same file)", lambda: services.preview(again, user), results)
        again.refresh_from_db()
        results["reimport"] = {
            "created": again.created_count,
            "updated": again.updated_count,
            "unchanged": again.unchanged_count,
        }
        print(f"    re-import finds: {results['reimport']}", flush=True)
        results.pop("re-import: preview of the same file", None)

        rows = list(roster_rows(ROWS, townships, parks, serial_offset=10_000_000))
        measured("baseline: django-import-export", lambda: import_export_baseline(rows, townships), results)

    floor = results["baseline: read the cells"]["seconds"]
    for label in ("preview", "commit", "baseline: django-import-export"):
        results[label]["ratio_to_reading"] = round(results[label]["seconds"] / floor, 2)
    print(
        f"  commit / reading = {results['commit']['ratio_to_reading']}x (target ≤ 3x); "
        f"preview / reading = {results['preview']['ratio_to_reading']}x; "
        f"import-export / reading = {results['baseline: django-import-export']['ratio_to_reading']}x",
        flush=True,
    )
    assert RosterImport.objects.count() == 2
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / f"import-{vendor}.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return results


def main():
    _setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment(debug=False)  # as deployed: no query log
    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        # A file, not the in-memory default: writes cost what they cost on a real deployment.
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(
            Path(tempfile.gettempdir()) / "bench_import.sqlite3"
        )
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        return run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    main()
