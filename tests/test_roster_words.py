"""Issue 10: the words, dates and codes township officers write in their rosters, read as they mean them.

Rows and words are copied from the seeds (001: 拟关闭、拟转停、拟关停、拟转移、待定, 建议搬迁; 002: 关停取缔, 改造提升,
整合搬迁, 清理取缔) and from the issue's list of forms.
"""

import datetime
import io

import pytest
from django.utils import translation

from enterprises.validators import make_uscc, normalize_uscc, validate_uscc
from imports.roster import read_roster
from rectification.choices import CATEGORY_WORDS, Category, category_from_word

from .import_support import roster_bytes

CODE = make_uscc("91320500000000001")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def read_one(**cells):
    """The one data row of a roster written with the standard headers."""
    row = {"统一社会信用代码": CODE, "企业名称": "甲化工", "乡镇（街道）": "甲一镇", **cells}
    return read_roster(io.BytesIO(roster_bytes([row]))).rows[0]


# --- Category words ----------------------------------------------------------------------------

ISSUE_WORDS = {
    Category.SHUTDOWN: [
        "关停",
        "关闭",
        "关停取缔",
        "清理取缔",
        "取缔",
        "关停退出",
        "关闭退出",
        "关闭淘汰",
        "淘汰退出",
        "转停",
        "转产",
        "退二进三",
    ],
    Category.RELOCATE: ["转移", "搬迁", "搬迁入园", "整合搬迁", "异地搬迁", "入园"],
    Category.UPGRADE: [
        "升级",
        "升级改造",
        "改造提升",
        "提升改造",
        "原地提升",
        "原地整治提升",
        "原址提升",
        "就地改造",
        "整治提升",
        "整合提升",
    ],
    Category.RESTRUCTURE: ["重组", "兼并重组", "整合重组", "兼并"],
    Category.EXCLUDED: ["剔除", "不纳入"],
    Category.UNDECIDED: ["待定"],
}
WORD_CASES = [(word, category) for category, words in ISSUE_WORDS.items() for word in words]


@pytest.mark.parametrize(("word", "category"), WORD_CASES)
@pytest.mark.parametrize("prefix", ["", "拟", "建议", "计划"])
def test_every_category_word_with_and_without_its_proposal_prefix(word, category, prefix):
    row = read_one(四个一批分类=prefix + word)
    assert row.errors == []
    assert row.values["category"] == category


def test_the_vocabulary_is_exactly_the_issue_list():
    assert dict(WORD_CASES) == CATEGORY_WORDS


@pytest.mark.parametrize(
    ("written", "category"),
    [
        # Seed 001: the county's opinions on the township's 34 enterprises.
        ("拟关闭", Category.SHUTDOWN),
        ("拟转停", Category.SHUTDOWN),
        ("拟关停", Category.SHUTDOWN),
        ("拟转移", Category.RELOCATE),
        ("待定", Category.UNDECIDED),
        ("建议搬迁", Category.RELOCATE),
        # Seed 002: the province's three ways.
        ("关停取缔", Category.SHUTDOWN),
        ("改造提升", Category.UPGRADE),
        ("整合搬迁", Category.RELOCATE),
        # Brackets as officers type them, full- or half-width, with spaces.
        ("关停（取缔）", Category.SHUTDOWN),
        ("关停(取缔)", Category.SHUTDOWN),
        ("拟关停（取缔）", Category.SHUTDOWN),
        ("【拟转移】", Category.RELOCATE),
        (" 兼并 重组 ", Category.RESTRUCTURE),
        ("原地整治（提升）", Category.UPGRADE),
        # Codes are words too (an export read again).
        ("shutdown", Category.SHUTDOWN),
    ],
)
def test_seed_words_brackets_and_codes(written, category):
    assert category_from_word(written) == category
    row = read_one(四个一批分类=written)
    assert row.errors == [] and row.values["category"] == category


@pytest.mark.parametrize("written", ["拟", "关停搬迁", "整改", "拟整改", "其他"])
def test_any_other_word_is_an_error_listing_the_accepted_words(written):
    row = read_one(四个一批分类=written)
    (error,) = row.errors
    assert error.column == "四个一批分类"
    assert f"“{written}” is not a category word" in error.message
    for word in ("关停取缔", "转停", "退二进三", "异地搬迁", "原地整治提升", "整合重组", "不纳入", "待定"):
        assert word in error.message
    assert "拟" in error.message and "建议" in error.message and "计划" in error.message
    assert "category" not in row.values


# --- Deadlines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # A trailing 前/之前/以前/完成 is ignored.
        ("2021年6月底前", datetime.date(2021, 6, 30)),
        ("2021年6月底", datetime.date(2021, 6, 30)),
        ("2021年6月末", datetime.date(2021, 6, 30)),
        ("2021年6月30日前", datetime.date(2021, 6, 30)),
        ("2021年6月30日之前", datetime.date(2021, 6, 30)),
        ("2021年6月30日以前", datetime.date(2021, 6, 30)),
        ("2021年6月30日前完成", datetime.date(2021, 6, 30)),
        ("2021年底前完成", datetime.date(2021, 12, 31)),
        ("2021年底前", datetime.date(2021, 12, 31)),
        ("2021年年底", datetime.date(2021, 12, 31)),
        ("2021年2月底前", datetime.date(2021, 2, 28)),
        # Halves and quarters.
        ("2021年上半年", datetime.date(2021, 6, 30)),
        ("2021年下半年", datetime.date(2021, 12, 31)),
        ("2021年上半年前", datetime.date(2021, 6, 30)),
        ("2021年第二季度", datetime.date(2021, 6, 30)),
        ("2021年二季度", datetime.date(2021, 6, 30)),
        ("2021年第一季度", datetime.date(2021, 3, 31)),
        ("2021年三季度末", datetime.date(2021, 9, 30)),
        ("2021年第四季度前", datetime.date(2021, 12, 31)),
        ("2021年第2季度", datetime.date(2021, 6, 30)),
        # Two-digit years are 20xx.
        ("21年6月30日", datetime.date(2021, 6, 30)),
        ("21.6.30", datetime.date(2021, 6, 30)),
        ("21年6月底前", datetime.date(2021, 6, 30)),
        ("22年下半年", datetime.date(2022, 12, 31)),
        # 号 for 日, a trailing dot, a date-time typed as text.
        ("2021年6月30号", datetime.date(2021, 6, 30)),
        ("2021年6月30号前", datetime.date(2021, 6, 30)),
        ("2021.6.30.", datetime.date(2021, 6, 30)),
        ("2021年6月30日。", datetime.date(2021, 6, 30)),
        ("2021-06-30 00:00:00", datetime.date(2021, 6, 30)),
        ("2021/6/30 0:00", datetime.date(2021, 6, 30)),
        # The forms read before stay as they were.
        ("2021-06-30", datetime.date(2021, 6, 30)),
        ("2021年6月", datetime.date(2021, 6, 30)),
        ("2021年底", datetime.date(2021, 12, 31)),
        (44377, datetime.date(2021, 6, 30)),
    ],
)
def test_deadline_forms(written, expected):
    row = read_one(完成时限=written)
    assert row.errors == []
    assert row.values["deadline"] == expected


@pytest.mark.parametrize("written", ["年底前", "6月30日前", "6月底前", "下半年", "第二季度", "6/30", "年底"])
def test_a_deadline_without_a_year_asks_for_the_year(written):
    row = read_one(完成时限=written)
    (error,) = row.errors
    assert error.column == "完成时限"
    assert "year is missing" in error.message and "2021年" in error.message
    assert "deadline" not in row.values


@pytest.mark.parametrize("written", ["尽快", "2021年第五季度", "2021-02-30", "2021年13月底前"])
def test_other_deadlines_are_errors_showing_the_forms(written):
    (error,) = read_one(完成时限=written).errors
    assert "is not a date" in error.message and "2021年下半年" in error.message


# --- Credit codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [913205000000000000, 9.13205e17, 123456789012345678])
def test_a_credit_code_stored_as_a_number_says_excel_dropped_characters(number):
    (error,) = read_one(统一社会信用代码=number).errors
    assert error.column == "统一社会信用代码"
    assert "holds a number" in error.message
    assert "format the column as text and type the code again" in error.message


@pytest.mark.parametrize(
    "written",
    [
        "\u200b" + CODE,
        CODE[:6] + "\u200b" + CODE[6:],
        "\ufeff" + CODE,
        CODE + "\u200d",
        CODE[:9] + "\u2060" + CODE[9:] + "\u200e",
        CODE[:3] + "\u00ad" + CODE[3:],
        CODE + "\t",
    ],
)
def test_invisible_characters_are_removed_before_the_code_is_checked(written):
    row = read_one(统一社会信用代码=written)
    assert row.errors == []
    assert row.values["uscc"] == CODE
    assert normalize_uscc(written) == CODE
    validate_uscc(written)  # the register's own check accepts it too


# --- The park cell -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"), [("园区外", ""), ("无", ""), (" 园区外 ", ""), ("临港化工园区", "临港化工园区")]
)
def test_park_cell_words(written, expected):
    assert read_one(所在园区=written).values["park"] == expected


@pytest.mark.parametrize("written", [None, "", "  "])
def test_an_empty_park_cell_sets_nothing(written):
    assert "park" not in read_one(所在园区=written).values


@pytest.mark.parametrize(
    ("written", "park_after", "action"),
    [
        (None, "kept", "unchanged"),
        ("园区外", None, "update"),
        ("无", None, "update"),
        ("甲县化工园区", "kept", "unchanged"),
    ],
)
def test_the_park_cell_rule_through_the_import(users, regions, written, park_after, action):
    """An empty 所在园区 cell keeps the enterprise in its park (it used to take it out); 园区外 or 无 takes it out."""
    from enterprises.models import Enterprise
    from imports import services
    from imports.models import RowAction

    from .factories import CampaignFactory, ChemicalParkFactory, EnterpriseFactory
    from .import_support import roster_upload

    park = ChemicalParkFactory(township=regions["town_a1"], name="甲县化工园区")
    enterprise = EnterpriseFactory(township=regions["town_a1"], name="甲一涂料厂", park=park)
    campaign = CampaignFactory(name="四个一批专项行动")
    user = users["town_a1"]
    cells = {
        "统一社会信用代码": enterprise.uscc,
        "企业名称": "甲一涂料厂",
        "乡镇（街道）": "甲一镇",
        "所在园区": written,
    }
    record = services.start_import(file=roster_upload([cells]), user=user, campaign=campaign)
    services.preview(record, user)
    record.refresh_from_db()
    assert record.errors == []
    assert record.updated_count == (action == "update") and record.unchanged_count == (action == "unchanged")
    if action == "update":
        assert record.rows.get(action=RowAction.UPDATE).changes == [["Chemical park", "甲县化工园区", ""]]
    services.commit(record, user)
    assert Enterprise.objects.get(pk=enterprise.pk).park == (park if park_after == "kept" else None)
