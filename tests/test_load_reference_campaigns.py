"""`load_reference`: the 专项行动 and 目标任务 sheets — idempotent, all or nothing, errors naming sheet/row/column."""

import datetime
from io import StringIO

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from rectification.choices import CampaignKind, CampaignStatus
from rectification.models import Campaign, Target

REGIONS = [
    ["代码", "名称", "上级代码"],
    ["320500", "示范市", None],
    ["320501", "甲县", "320500"],
    ["320501001", "甲一镇", "320501"],
    ["320501002", "甲二镇", "320501"],
]
CAMPAIGN_HEADER = ["名称", "类型", "开始日期", "结束日期"]
CAMPAIGNS = [
    ["四个一批专项行动", "四个一批", datetime.datetime(2021, 1, 1), datetime.datetime(2023, 12, 31)],
    ["263专项行动", 263, "2021-03-01", "2022年12月31日"],
]
TARGET_HEADER = ["专项行动", "区域代码", "年度", "关停", "转移", "升级", "重组"]
TARGETS = [
    ["四个一批专项行动", "320501001", 2021, 18, 2, 0, 0],
    ["四个一批专项行动", "320501001", 2022, 12, 0, 1, 0],
    ["四个一批专项行动", "320501", 2021, 30, 2, 5, 1],
    ["263专项行动", "320501002", 2022, 3, 0, 0, 0],
]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def workbook(tmp_path, campaigns=None, targets=None, name="campaigns.xlsx", campaign_header=None):
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheets = {
        "行政区划": REGIONS,
        "专项行动": [campaign_header or CAMPAIGN_HEADER, *(CAMPAIGNS if campaigns is None else campaigns)],
        "目标任务": [TARGET_HEADER, *(TARGETS if targets is None else targets)],
    }
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def load(path) -> str:
    out, err = StringIO(), StringIO()
    call_command("load_reference", str(path), stdout=out, stderr=err)
    return out.getvalue()


def load_failing(path) -> str:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("load_reference", str(path), stdout=out, stderr=err)
    return err.getvalue() + str(raised.value)


def snapshot():
    return (
        list(
            Campaign.objects.order_by("name").values_list("name", "kind", "starts_on", "ends_on", "status", "version")
        ),
        list(
            Target.objects.order_by("campaign__name", "region__code", "year").values_list(
                "campaign__name", "region__code", "year", "shutdown", "relocate", "upgrade", "restructure", "version"
            )
        ),
        Campaign.history.count(),
        Target.history.count(),
    )


def test_loads_campaigns_and_targets(db, tmp_path):
    output = load(workbook(tmp_path))
    four = Campaign.objects.get(name="四个一批专项行动")
    assert (four.kind, four.starts_on, four.ends_on, four.status) == (
        CampaignKind.FOUR_BATCHES,
        datetime.date(2021, 1, 1),
        datetime.date(2023, 12, 31),
        CampaignStatus.ACTIVE,
    )
    other = Campaign.objects.get(name="263专项行动")
    assert (other.kind, other.starts_on, other.ends_on) == (
        CampaignKind.CAMPAIGN_263,
        datetime.date(2021, 3, 1),
        datetime.date(2022, 12, 31),
    )
    target = Target.objects.get(campaign=four, region__code="320501001", year=2021)
    assert (target.shutdown, target.relocate, target.upgrade, target.restructure) == (18, 2, 0, 0)
    assert Target.objects.count() == 4
    assert target.history.get().history_change_reason == "load_reference campaigns.xlsx"
    assert "专项行动: 2 created, 0 updated, 0 unchanged." in output
    assert "目标任务: 4 created, 0 updated, 0 unchanged." in output


def test_second_run_changes_nothing(db, tmp_path):
    path = workbook(tmp_path)
    load(path)
    before = snapshot()
    output = load(path)
    assert snapshot() == before
    assert "专项行动: 0 created, 0 updated, 2 unchanged." in output
    assert "目标任务: 0 created, 0 updated, 4 unchanged." in output


def test_changes_are_updated(db, tmp_path):
    load(workbook(tmp_path))
    targets = [row[:] for row in TARGETS]
    targets[0][3] = 20
    campaigns = [row[:] for row in CAMPAIGNS]
    campaigns[1][3] = "2023-06-30"
    output = load(workbook(tmp_path, campaigns=campaigns, targets=targets))
    assert Target.objects.get(region__code="320501001", year=2021).shutdown == 20
    assert Campaign.objects.get(name="263专项行动").ends_on == datetime.date(2023, 6, 30)
    assert "专项行动: 0 created, 1 updated, 1 unchanged." in output
    assert "目标任务: 0 created, 1 updated, 3 unchanged." in output


def test_optional_status_column(db, tmp_path):
    header = [*CAMPAIGN_HEADER, "状态", "说明"]
    campaigns = [[*CAMPAIGNS[0], "已结束", "三年行动"], [*CAMPAIGNS[1], None, None]]
    load(workbook(tmp_path, campaigns=campaigns, campaign_header=header))
    four = Campaign.objects.get(name="四个一批专项行动")
    assert (four.status, four.description) == (CampaignStatus.CLOSED, "三年行动")
    assert Campaign.objects.get(name="263专项行动").status == CampaignStatus.ACTIVE


@pytest.mark.parametrize(
    ("campaigns", "targets", "expected"),
    [
        (
            [CAMPAIGNS[0], ["263专项行动", "淘汰", "2021-03-01", "2022-12-31"]],
            None,
            "Sheet 专项行动, row 3, column 类型: 淘汰 is not allowed; use one of: 四个一批、263、散乱污、其他.",
        ),
        (
            [CAMPAIGNS[0], ["263专项行动", "263", "2022-03-01", "2021-12-31"]],
            None,
            "Sheet 专项行动, row 3, column 结束日期: The campaign ends before it starts",
        ),
        (
            None,
            [*TARGETS[:3], ["263专项行动", "320501002", 2025, 3, 0, 0, 0]],
            "Sheet 目标任务, row 5, column 年度: 2025 lies outside the campaign 263专项行动",
        ),
        (
            None,
            [*TARGETS[:3], ["263专项行动", "320599001", 2022, 3, 0, 0, 0]],
            "Sheet 目标任务, row 5, column 区域代码: No region has the code 320599001",
        ),
        (
            None,
            [*TARGETS[:3], ["散乱污行动", "320501002", 2022, 3, 0, 0, 0]],
            "Sheet 目标任务, row 5, column 专项行动: No campaign is named 散乱污行动",
        ),
        (
            None,
            [*TARGETS[:3], ["263专项行动", "320501002", 2022, -3, 0, 0, 0]],
            "Sheet 目标任务, row 5, column 关停: -3 is negative",
        ),
        (
            None,
            [*TARGETS[:3], ["263专项行动", "320501002", 2022, None, 0, 0, 0]],
            "Sheet 目标任务, row 5, column 关停: This cell is empty",
        ),
        (
            None,
            [*TARGETS, TARGETS[0]],
            "Sheet 目标任务, row 6, column 专项行动: 四个一批专项行动 / 320501001 / 2021 already appears in row 2",
        ),
    ],
)
def test_bad_row_loads_nothing(db, tmp_path, campaigns, targets, expected):
    message = load_failing(workbook(tmp_path, campaigns=campaigns, targets=targets))
    assert expected in message
    assert "nothing was loaded" in message
    assert not Campaign.objects.exists() and not Target.objects.exists()


def test_bad_row_leaves_earlier_data_untouched(db, tmp_path):
    load(workbook(tmp_path))
    before = snapshot()
    targets = [row[:] for row in TARGETS]
    targets[0][3] = 99  # a good change …
    targets[1][2] = 2030  # … and a bad row: nothing of the file is applied
    message = load_failing(workbook(tmp_path, targets=targets))
    assert "row 3, column 年度" in message
    assert snapshot() == before


def test_target_of_a_rejected_campaign_row_points_at_that_row(db, tmp_path):
    campaigns = [CAMPAIGNS[0], ["263专项行动", "263", "2021-03-01", "不是日期"]]
    message = load_failing(workbook(tmp_path, campaigns=campaigns))
    assert "Sheet 专项行动, row 3, column 结束日期" in message
    assert "Sheet 目标任务, row 5, column 专项行动: The campaign 263专项行动 is in row 3 of sheet 专项行动" in message
