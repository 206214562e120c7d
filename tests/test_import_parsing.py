"""Reading rosters as townships write them: headers, value variants, title/blank/total rows, unreadable files."""

import datetime
import io
from decimal import Decimal

import pytest
from django.utils import translation
from openpyxl import Workbook

from enterprises.validators import make_uscc
from imports import roster
from imports.roster import COLUMN_HEADERS, RosterUnreadable, read_roster

from .import_support import roster_bytes

CODE = make_uscc("91320500000000001")
CODE2 = make_uscc("91320500000000002")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def read(rows, headers=None, **options):
    return read_roster(io.BytesIO(roster_bytes(rows, headers, **options)))


def base_row(**extra):
    return {"统一社会信用代码": CODE, "企业名称": "甲化工", "乡镇（街道）": "甲一镇", **extra}


# --- Headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "header"),
    [(field, header) for field, headers in COLUMN_HEADERS.items() for header in headers],
)
def test_every_header_variant_is_recognised(field, header):
    headers = {"uscc": "统一社会信用代码", "name": "企业名称", "township": "乡镇（街道）"}
    headers[field] = header
    columns = list(dict.fromkeys(headers.values()))
    parsed = read([[CODE, "甲化工", "甲一镇"] + [None] * (len(columns) - 3)], columns)
    assert parsed.headers[field] == header
    assert parsed.ignored_columns == []


@pytest.mark.parametrize(
    "written",
    ["统一社会 信用代码", " 统一社会信用代码 ", "统一社会信用代码*", "统一社会\n信用代码"],
)
def test_headers_are_compared_without_spaces_and_markers(written):
    parsed = read([[CODE, "甲化工", "甲一镇"]], [written, "企业名称", "乡镇（街道）"])
    assert parsed.headers["uscc"] == written.strip()


def test_full_width_and_half_width_brackets_match():
    parsed = read([[CODE, "甲化工", "甲一镇", "1,000"]], ["信用代码", "企业(单位)名称", "乡镇／街道", "开票销售(万元)"])
    assert set(parsed.headers) == {"uscc", "name", "township", "annual_sales"}
    assert parsed.rows[0].values["annual_sales"] == Decimal("1000")


def test_unknown_columns_are_listed_not_silently_dropped():
    parsed = read([[CODE, "甲化工", "甲一镇", "x"]], ["信用代码", "企业名称", "所在乡镇", "行业代码"])
    assert parsed.ignored_columns == ["行业代码"]


def test_header_found_below_title_rows_and_row_numbers_are_excel_rows():
    parsed = read([base_row()], title=True, filler=True)
    assert parsed.header_row == 3
    assert parsed.rows[0].number == 4


def test_header_must_be_within_the_first_ten_rows():
    workbook = Workbook()
    sheet = workbook.active
    for index in range(10):
        sheet.append([f"说明第{index + 1}行"])
    sheet.append(["统一社会信用代码", "企业名称", "乡镇（街道）"])
    sheet.append([CODE, "甲化工", "甲一镇"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(RosterUnreadable, match="No header row found in the first 10 rows"):
        read_roster(io.BytesIO(buffer.getvalue()))


def test_missing_required_column_is_one_clear_message():
    with pytest.raises(RosterUnreadable, match="乡镇（街道）"):
        read([[CODE, "甲化工"]], ["统一社会信用代码", "企业名称"])


def test_two_columns_for_the_same_field_are_refused():
    with pytest.raises(RosterUnreadable, match="both hold the same information"):
        read([[CODE, "甲化工", "甲一镇", "x"]], ["统一社会信用代码", "企业名称", "乡镇（街道）", "单位名称"])


# --- Rows skipped -------------------------------------------------------------------------------


def test_blank_serial_only_and_total_rows_are_skipped_and_counted():
    rows = [base_row(), None, {"序号": 9}, base_row(统一社会信用代码=CODE2, 企业名称="乙化工")]
    parsed = read(rows, total=True)
    # Rows 4 and 7 are data; 5 (blank), 6 (only 序号) and 8 (合计) are skipped.
    assert [row.number for row in parsed.rows] == [4, 7]
    assert parsed.skipped == [5, 6, 8]
    assert parsed.rows_read == 5


@pytest.mark.parametrize("first_cell", ["合计", "总计", "合 计", "总计："])
def test_closing_total_rows_are_skipped(first_cell):
    parsed = read([base_row(), {"序号": first_cell, "统一社会信用代码": "3家"}], total=False)
    assert len(parsed.rows) == 1
    assert parsed.skipped == [5]


def test_trailing_blank_rows_are_not_counted():
    parsed = read([base_row(), None, None, None], total=False)
    assert parsed.skipped == []
    assert parsed.rows_read == 1


def test_repeated_header_row_is_skipped():
    parsed = read([base_row(), {"序号": "序号", "统一社会信用代码": "统一社会信用代码"}], total=False)
    assert len(parsed.rows) == 1
    assert parsed.skipped == [5]


# --- Values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("91320500000000001" + CODE[-1], CODE),
        (" 9132 0500 0000 0000 1" + CODE[-1], CODE),
        ("９１３２０５００００００００００１" + CODE[-1], CODE),
        (CODE.lower(), CODE),
    ],
)
def test_codes_are_normalised_before_they_are_checked(written, expected):
    parsed = read([base_row(统一社会信用代码=written)])
    assert parsed.rows[0].values["uscc"] == expected
    assert parsed.rows[0].errors == []


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("9132050000000000", "has 18 characters; this one has 16"),
        ("91320500000000000I", "are not allowed"),
        (CODE[:17] + ("0" if CODE[-1] != "0" else "1"), "check character"),
    ],
)
def test_invalid_codes_name_the_rule_row_and_column(code, rule):
    parsed = read([base_row(统一社会信用代码=code)])
    (error,) = parsed.rows[0].errors
    assert (error.row, error.column) == (4, "统一社会信用代码")
    assert "GB 32100-2015" in error.message and rule in error.message


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2021-06-30", datetime.date(2021, 6, 30)),
        ("2021/6/30", datetime.date(2021, 6, 30)),
        ("2021.6.30", datetime.date(2021, 6, 30)),
        ("2021年6月30日", datetime.date(2021, 6, 30)),
        ("2021年6月", datetime.date(2021, 6, 30)),
        ("2021年2月", datetime.date(2021, 2, 28)),
        ("2020年2月", datetime.date(2020, 2, 29)),
        ("2021年底", datetime.date(2021, 12, 31)),
        ("２０２１年６月３０日", datetime.date(2021, 6, 30)),
        (44377, datetime.date(2021, 6, 30)),
        ("44377", datetime.date(2021, 6, 30)),
        (datetime.datetime(2021, 6, 30), datetime.date(2021, 6, 30)),
        (datetime.date(2021, 6, 30), datetime.date(2021, 6, 30)),
    ],
)
def test_date_forms(written, expected):
    parsed = read([base_row(完成时限=written)])
    assert parsed.rows[0].errors == []
    assert parsed.rows[0].values["deadline"] == expected


@pytest.mark.parametrize("written", ["明年", "2021-13-01", "6月30日", "2021年"])
def test_bad_dates_are_errors_with_row_and_column(written):
    parsed = read([base_row(完成时限=written)])
    (error,) = parsed.rows[0].errors
    assert (error.row, error.column) == (4, "完成时限")
    assert "is not a date" in error.message


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("9,566.7", Decimal("9566.7")),
        ("9，566.7", Decimal("9566.7")),
        (9566.7, Decimal("9566.7")),
        (120, Decimal(120)),
        ("1,234,567", Decimal("1234567")),
    ],
)
def test_amounts_with_thousands_separators(written, expected):
    parsed = read([base_row(**{"开票销售（万元）": written})])
    assert parsed.rows[0].values["annual_sales"] == expected


@pytest.mark.parametrize("written", ["约500", "-3", "1.234"])
def test_bad_amounts_are_errors(written):
    parsed = read([base_row(**{"开票销售（万元）": written})])
    (error,) = parsed.rows[0].errors
    assert error.column == "开票销售（万元）"


@pytest.mark.parametrize(
    ("field", "header", "mapping"),
    [
        ("kind", "企业类型", roster.KIND_VALUES),
        ("size", "规模", roster.SIZE_VALUES),
        ("status", "生产状态", roster.STATUS_VALUES),
        ("category", "四个一批分类", roster.CATEGORY_VALUES),
    ],
)
def test_every_coded_value_variant(field, header, mapping):
    rows = [
        base_row(统一社会信用代码=make_uscc(f"9132050000000{index:04d}"), **{header: written})
        for index, written in enumerate(mapping)
    ]
    parsed = read(rows)
    assert [row.values[field] for row in parsed.rows] == list(mapping.values())
    assert all(row.errors == [] for row in parsed.rows)


def test_category_variants_cover_the_issue_list():
    """Issue 10's list (a leading 拟/建议/计划 and brackets are ignored, so 拟关闭 is 关闭): tests/test_roster_words.py."""
    from .test_roster_words import ISSUE_WORDS

    for category, words in ISSUE_WORDS.items():
        assert {word for word, value in roster.CATEGORY_VALUES.items() if value == category} == set(words)


def test_unknown_coded_value_lists_the_choices():
    parsed = read([base_row(企业类型="化工")])
    (error,) = parsed.rows[0].errors
    assert error.column == "企业类型"
    assert "生产" in error.message and "运输" in error.message


@pytest.mark.parametrize(("written", "expected"), [("园区外", ""), ("无", ""), ("化工园区1", "化工园区1")])
def test_park_outside_values(written, expected):
    parsed = read([base_row(所在园区=written)])
    assert parsed.rows[0].values["park"] == expected


@pytest.mark.parametrize("written", [None, "", "   "])
def test_empty_park_cell_keeps_the_stored_park(written):
    """An empty cell keeps the stored value, the park column too (it used to mean "outside any park")."""
    parsed = read([base_row(所在园区=written)])
    assert "park" not in parsed.rows[0].values


def test_township_code_typed_as_a_number():
    parsed = read([base_row(**{"乡镇（街道）": 320501001})])
    assert parsed.rows[0].values["township"] == "320501001"


def test_missing_required_values_are_errors():
    parsed = read([{"序号": 1, "统一社会信用代码": None, "企业名称": "甲化工", "乡镇（街道）": None}])
    columns = sorted(error.column for error in parsed.rows[0].errors)
    assert columns == ["乡镇（街道）", "统一社会信用代码"]


# --- Unreadable files ----------------------------------------------------------------------


def test_not_an_excel_file():
    with pytest.raises(RosterUnreadable, match="not an Excel workbook"):
        read_roster(io.BytesIO("统一社会信用代码,企业名称\n".encode()))


def test_password_protected_workbook():
    # An encrypted .xlsx is an OLE compound file, not a zip.
    encrypted = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    with pytest.raises(RosterUnreadable, match="password-protected"):
        read_roster(io.BytesIO(encrypted))


def test_damaged_zip():
    with pytest.raises(RosterUnreadable, match="damaged"):
        read_roster(io.BytesIO(b"PK\x03\x04" + b"\x00" * 100))


def test_empty_file_and_empty_sheet_and_header_without_rows():
    with pytest.raises(RosterUnreadable, match="empty"):
        read_roster(io.BytesIO(b""))
    buffer = io.BytesIO()
    Workbook().save(buffer)
    with pytest.raises(RosterUnreadable, match="empty"):
        read_roster(io.BytesIO(buffer.getvalue()))
    with pytest.raises(RosterUnreadable, match="no data rows"):
        read([], total=False)


def test_parsed_roster_round_trips_through_json():
    parsed = read([base_row(完成时限="2021年底", **{"开票销售（万元）": "9,566.7"}), base_row(统一社会信用代码="bad")])
    again = roster.Roster.from_json(parsed.to_json())
    assert [row.values for row in again.rows] == [row.values for row in parsed.rows]
    assert [[e.as_dict() for e in row.errors] for row in again.rows] == [
        [e.as_dict() for e in row.errors] for row in parsed.rows
    ]
    assert (again.skipped, again.headers, again.header_row) == (parsed.skipped, parsed.headers, parsed.header_row)
