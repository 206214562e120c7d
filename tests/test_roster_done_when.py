"""Issue 10, "Done when": a township roster of 110 valid rows written the way officers write them (seed 001's
proposals 拟转移/拟重组/剔除 without further detail, 拟关停 and 转停, text deadlines such as 2021年6月底前 and
2021年下半年), with three rows that are really wrong, previews with 110 to create and those three errors only,
commits 110, is recorded as the township's survey, and changes nothing when imported again."""

import datetime
import itertools

import pytest
from django.utils import timezone, translation

from enterprises.models import Enterprise
from imports import services
from imports.models import ImportStatus
from inspections.choices import SurveySource
from inspections.models import Finding, Survey
from rectification.choices import FOUR_BATCHES, Category
from rectification.models import Classification, ClassificationStep, ReportStatus
from rectification.quarters import Quarter
from rectification.reports import build_report, request_report

from .factories import CampaignFactory, ChemicalParkFactory, EnterpriseFactory, next_uscc
from .import_support import STANDARD_HEADERS, roster_upload

HEADERS = [*STANDARD_HEADERS, "迁入园区"]

#: (what the officer wrote, the category it means, the detail missing before the county submits)
PROPOSALS = [
    ("拟转移", Category.RELOCATE, "destination_park"),
    ("拟重组", Category.RESTRUCTURE, "absorbing_enterprise"),
    ("剔除", Category.EXCLUDED, "exclusion_reason"),
    ("拟关停", Category.SHUTDOWN, None),
    ("转停", Category.SHUTDOWN, None),
    ("拟关闭", Category.SHUTDOWN, None),
    ("关停（取缔）", Category.SHUTDOWN, None),
    ("清理取缔", Category.SHUTDOWN, None),
    ("改造提升", Category.UPGRADE, None),
    ("原地整治提升", Category.UPGRADE, None),
    ("整合搬迁", Category.RELOCATE, None),  # with its park in 迁入园区
    ("待定", Category.UNDECIDED, None),
]
#: (as written, the date meant)
DEADLINES = [
    ("2021年6月底前", datetime.date(2021, 6, 30)),
    ("2021年下半年", datetime.date(2021, 12, 31)),
    ("2022年第二季度", datetime.date(2022, 6, 30)),
    ("2021年底前完成", datetime.date(2021, 12, 31)),
    ("21.6.30", datetime.date(2021, 6, 30)),
    ("2021年6月30号", datetime.date(2021, 6, 30)),
    ("2021-06-30 00:00:00", datetime.date(2021, 6, 30)),
    ("2022年上半年", datetime.date(2022, 6, 30)),
    (datetime.date(2022, 12, 31), datetime.date(2022, 12, 31)),
]
PRODUCTS = [
    "橡胶制品",
    "有机溶剂",
    "消毒剂",
    "化工助剂",
    "涂料",
    "油墨",
    "净水剂",
    "润滑剂",
    "乳胶",
    "氧化锌",
    "塑料母粒",
]
PROBLEMS = ["无环评审批手续", "未取得安全生产许可证", "1、环保设施陈旧；2、危废暂存不规范", None, None]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项整治 2021-2023")


def township_roster(park_name):
    """110 valid rows, then three rows with real errors; the expected (category, deadline, missing) per code."""
    rows, expected = [], {}
    proposals, deadlines = itertools.cycle(PROPOSALS), itertools.cycle(DEADLINES)
    for index in range(110):
        code = next_uscc()
        written, category, missing = next(proposals)
        written_deadline, deadline = next(deadlines)
        if category == Category.UNDECIDED:
            written_deadline = deadline = None
        product = PRODUCTS[index % len(PRODUCTS)]
        rows.append(
            {
                "统一社会信用代码": code,
                "企业名称": f"甲一{product}化工有限公司{index + 1:03d}",
                "乡镇（街道）": "甲一镇",
                "企业类型": "生产" if index % 4 else "经营",
                "所在园区": ["园区外", None, "无"][index % 3],
                "规模": "规上" if index % 3 == 0 else "规下",
                "开票销售（万元）": f"{1000 + index * 37:,}.5",
                "主要产品": product,
                "存在问题": PROBLEMS[index % len(PROBLEMS)],
                "生产状态": "在产" if index % 5 else "停产",
                "四个一批分类": written,
                "完成时限": written_deadline,
                "迁入园区": park_name if written == "整合搬迁" else None,
            }
        )
        # An exclusion has no deadline: the one written is not kept, and the row says so (issue 17).
        expected[code] = (category, None if category == Category.EXCLUDED else deadline, missing)
    rows += [
        {"统一社会信用代码": 913205000000000000, "企业名称": "甲一数字代码厂", "乡镇（街道）": "甲一镇"},
        {
            "统一社会信用代码": next_uscc(),
            "企业名称": "甲一无年份厂",
            "乡镇（街道）": "甲一镇",
            "四个一批分类": "拟关停",
            "完成时限": "年底前",
        },
        {"统一社会信用代码": next_uscc(), "企业名称": "甲一新词厂", "乡镇（街道）": "甲一镇", "四个一批分类": "拟整改"},
    ]
    return rows, expected


def run(user, campaign, rows):
    record = services.start_import(file=roster_upload(rows, HEADERS), user=user, campaign=campaign)
    services.preview(record, user)
    record.refresh_from_db()
    return record


def snapshot():
    return (
        Enterprise.objects.count(),
        Enterprise.history.count(),
        Classification.objects.count(),
        Classification.history.count(),
        ClassificationStep.objects.count(),
        Finding.objects.count(),
        Survey.objects.count(),
        Survey.history.count(),
    )


def test_a_township_roster_of_110_proposals_as_officers_write_them(users, regions, campaign):
    officer = users["town_a1"]
    park = ChemicalParkFactory(township=regions["town_a2"], name="甲县化工园区")
    EnterpriseFactory(township=regions["town_b1"], name="别处的企业")  # outside the township: untouched
    rows, expected = township_roster(park.name)

    record = run(officer, campaign, rows)
    assert record.status == ImportStatus.PREVIEWED
    assert (record.rows_read, record.created_count, record.updated_count, record.unchanged_count) == (114, 110, 0, 0)
    # Its real errors only: header on row 3, data from row 4, so the last three data rows are 114, 115, 116.
    assert record.error_row_count == 3
    errors = {(e["row"], e["column"]): e["message"] for e in record.errors}
    assert list(errors) == [(114, "统一社会信用代码"), (115, "完成时限"), (116, "四个一批分类")]
    assert "holds a number" in errors[(114, "统一社会信用代码")]
    assert "year is missing" in errors[(115, "完成时限")]
    assert "not a category word" in errors[(116, "四个一批分类")]
    # The incomplete proposals are warnings, listed row by row; they do not count as errors.
    incomplete = sum(1 for _c, _d, missing in expected.values() if missing)
    assert record.warning_row_count == incomplete == 10 + 10 + 9  # 拟转移, 拟重组, 剔除
    no_deadline = [w for w in record.warnings if "An exclusion (剔除) has no deadline" in w["message"]]
    assert len(no_deadline) == 9 and {w["column"] for w in no_deadline} == {"完成时限"}
    assert all("needed before the county submits" in w["message"] for w in record.warnings if w not in no_deadline)
    assert record.surveyed_count == 110
    assert not Enterprise.objects.filter(township=regions["town_a1"]).exists()

    services.commit(record, officer, skip_errors=True)
    record.refresh_from_db()
    assert record.status == ImportStatus.COMMITTED and record.created_count == 110
    today = timezone.localdate()

    enterprises = Enterprise.objects.filter(township=regions["town_a1"])
    assert enterprises.count() == 110
    classifications = {c.enterprise.uscc: c for c in Classification.objects.select_related("enterprise")}
    assert len(classifications) == 110
    for code, (category, deadline, missing) in expected.items():
        c = classifications[code]
        assert (c.category, c.deadline, c.state) == (category, deadline, "proposed"), code
        if category == Category.RELOCATE and not missing:
            assert c.destination_park == park
    # 110 rows through the 12 proposals: the first two ten times, the others nine times (worked out by hand).
    by_category = dict.fromkeys(Category.values, 0)
    for c in classifications.values():
        by_category[c.category] += 1
    assert by_category == {
        "shutdown": 45,
        "relocate": 19,
        "upgrade": 18,
        "restructure": 10,
        "excluded": 9,
        "undecided": 9,
    }

    # The roster is the township's survey: 110 enterprises surveyed in the campaign on the import's date.
    surveys = Survey.objects.filter(campaign=campaign, enterprise__township=regions["town_a1"])
    assert surveys.count() == 110
    assert set(surveys.values_list("surveyed_on", "source", "roster_import")) == {
        (today, SurveySource.ROSTER_IMPORT, record.pk)
    }
    assert Survey.history.filter(history_type="+", roster_import=record).count() == 110

    # Importing it again changes nothing.
    before = snapshot()
    again = run(officer, campaign, rows)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 110)
    assert again.error_row_count == 3 and again.surveyed_count == 0 and again.findings_count == 0
    services.commit(again, officer, skip_errors=True)
    assert snapshot() == before


def test_right_after_the_import_the_current_quarter_report_counts_the_roster(users, regions):
    """Issue 10, "Done when": right after that import the quarterly report of the current quarter shows the
    township's 110 enterprises as surveyed and its proposals per category (requested and built as a county
    office would)."""
    today = timezone.localdate()
    campaign = CampaignFactory(
        name="四个一批专项整治", starts_on=datetime.date(2021, 1, 1), ends_on=datetime.date(today.year + 1, 12, 31)
    )
    officer = users["town_a1"]
    park = ChemicalParkFactory(township=regions["town_a2"], name="甲县化工园区")
    rows, _expected = township_roster(park.name)
    record = run(officer, campaign, rows)
    services.commit(record, officer, skip_errors=True)

    quarter = Quarter.of(today)
    report = request_report(
        actor=users["county_a"], campaign=campaign, quarter=str(quarter), region=regions["county_a"]
    )
    report = build_report(report.pk)
    assert report.status == ReportStatus.DONE, report.error
    township = {row["code"]: row for row in report.figures["rows"]}[regions["town_a1"].code]
    assert (township["enterprises"], township["surveyed"]) == (110, 110)
    # The same counts as above (worked out by hand): proposals are not approved yet, nothing is excluded yet.
    assert township["proposed"] == {"shutdown": 45, "relocate": 19, "upgrade": 18, "restructure": 10}
    assert township["approved"] == dict.fromkeys(FOUR_BATCHES, 0)
    assert township["excluded"] == 0
