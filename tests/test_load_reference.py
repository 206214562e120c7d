"""`manage.py load_reference`: regions and parks from a workbook (or regions from a .csv), all or nothing."""

from decimal import Decimal
from io import StringIO

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from core import reference
from parks.choices import ParkLevel, RecognitionStatus
from parks.models import ChemicalPark
from regions.choices import RegionLevel
from regions.models import Region

REGION_HEADER = ["代码", "名称", "上级代码"]
PARK_HEADER = ["园区代码", "园区名称", "所在乡镇代码", "级别", "认定状态"]
REGION_ROWS = [
    ["320500", "示范市", None],
    ["320501", "甲县", "320500"],
    ["320502", "乙县", "320500"],
    ["320501001", "甲一镇", "320501"],
    ["320502001", "乙一镇", "320502"],
]
PARK_ROWS = [
    ["P001", "甲一化工园", "320501001", "省级", "已认定"],
    ["P002", "乙一集聚区", "320502001", "集聚区", "待认定"],
]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def workbook(tmp_path, sheets: dict, name="reference.xlsx"):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def standard(tmp_path, regions=None, parks=None, **extra):
    return workbook(
        tmp_path,
        {
            "行政区划": [REGION_HEADER, *(REGION_ROWS if regions is None else regions)],
            "化工园区": [PARK_HEADER, *(PARK_ROWS if parks is None else parks)],
            **extra,
        },
    )


def load(path):
    out, err = StringIO(), StringIO()
    call_command("load_reference", str(path), stdout=out, stderr=err)
    return out.getvalue()


def load_failing(path) -> str:
    """Run the command expecting it to refuse; return everything it said."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("load_reference", str(path), stdout=out, stderr=err)
    return err.getvalue() + str(raised.value)


def snapshot():
    return (
        list(Region.objects.order_by("code").values_list("code", "name", "level", "parent__code", "path")),
        list(ChemicalPark.objects.order_by("code").values_list("code", "name", "township__code", "level")),
        ChemicalPark.history.count(),
    )


# --- Loading ---------------------------------------------------------------------------------


def test_loads_regions_and_parks(db, tmp_path):
    output = load(standard(tmp_path))
    town = Region.objects.get(code="320501001")
    assert town.level == RegionLevel.TOWNSHIP
    assert town.parent.code == "320501" and town.parent.level == RegionLevel.COUNTY
    assert Region.objects.get(code="320500").level == RegionLevel.CITY
    assert town.path == "/320500/320501/320501001/"
    assert Region.objects.in_region(Region.objects.get(code="320501")).count() == 2
    park = ChemicalPark.objects.get(code="P001")
    assert (park.name, park.township, park.level, park.recognition_status) == (
        "甲一化工园",
        town,
        ParkLevel.PROVINCIAL,
        RecognitionStatus.RECOGNISED,
    )
    assert ChemicalPark.objects.get(code="P002").recognition_status == RecognitionStatus.PENDING
    # Parks are written through parks.services: the history says where they came from.
    assert park.history.get().history_change_reason == "load_reference reference.xlsx"
    assert "行政区划: 5 created, 0 updated, 0 unchanged." in output
    assert "化工园区: 2 created, 0 updated, 0 unchanged." in output


def test_second_run_changes_nothing(db, tmp_path):
    path = standard(tmp_path)
    load(path)
    before = snapshot()
    output = load(path)
    assert snapshot() == before  # incl. no new history rows
    assert "行政区划: 0 created, 0 updated, 5 unchanged." in output
    assert "化工园区: 0 created, 0 updated, 2 unchanged." in output


def test_changed_rows_are_updated_with_history(db, tmp_path):
    load(standard(tmp_path))
    regions = [row[:] for row in REGION_ROWS]
    regions[1][1] = "甲区"
    parks = [row[:] for row in PARK_ROWS]
    parks[0][4] = "取消定位"
    output = load(standard(tmp_path, regions=regions, parks=parks))
    assert Region.objects.get(code="320501").name == "甲区"
    park = ChemicalPark.objects.get(code="P001")
    assert park.recognition_status == RecognitionStatus.REVOKED
    assert park.history.count() == 2
    assert ChemicalPark.objects.get(code="P002").history.count() == 1
    assert "行政区划: 0 created, 1 updated, 4 unchanged." in output
    assert "化工园区: 0 created, 1 updated, 1 unchanged." in output


def test_children_before_parents_in_the_sheet(db, tmp_path):
    load(standard(tmp_path, regions=list(reversed(REGION_ROWS))))
    assert Region.objects.get(code="320502001").path == "/320500/320502/320502001/"


def test_parent_may_already_be_in_the_register(db, tmp_path):
    load(standard(tmp_path, parks=[]))
    load(workbook(tmp_path, {"行政区划": [REGION_HEADER, ["320501002", "甲二镇", "320501"]]}, name="more.xlsx"))
    assert Region.objects.get(code="320501002").path == "/320500/320501/320501002/"


def test_headers_with_spaces_and_full_width_characters(db, tmp_path):
    path = workbook(
        tmp_path,
        {
            " 行政区划 ": [[" 代码", "名 称 ", "上级代码"], *REGION_ROWS],
            "化工园区": [
                ["园区代码", "园区名称", "所在乡镇代码", "级别", "认定状态", "规划面积（平方公里）", "备注"],
                ["Ｐ００１", "甲一化工园", "３２０５０１００１", " 市级 ", "已认定", "12.5", "ignored"],
            ],
        },
    )
    output = load(path)
    park = ChemicalPark.objects.get(code="P001")
    assert park.level == ParkLevel.MUNICIPAL
    assert park.area_km2 == Decimal("12.5")
    assert "备注" in output  # the unused column is named in a notice


def test_codes_typed_as_numbers(db, tmp_path):
    regions = [[320500, "示范市", None], [320501, "甲县", 320500.0], [320501001, "甲一镇", 320501]]
    load(standard(tmp_path, regions=regions, parks=[]))
    assert Region.objects.get(code="320501001").parent.code == "320501"


def test_unknown_sheets_are_ignored_with_a_notice(db, tmp_path):
    output = load(standard(tmp_path, 说明=[["本表说明"]]))
    assert "Sheet 说明 is not a reference sheet and was ignored." in output
    assert Region.objects.count() == 5


def test_optional_column_absent_leaves_the_field_alone(db, tmp_path):
    load(
        workbook(
            tmp_path,
            {
                "行政区划": [REGION_HEADER, *REGION_ROWS],
                "化工园区": [[*PARK_HEADER, "产业定位"], [*PARK_ROWS[0], "精细化工"]],
            },
        )
    )
    load(standard(tmp_path, parks=PARK_ROWS[:1]))
    assert ChemicalPark.objects.get(code="P001").industry_positioning == "精细化工"


# --- Rejection: everything or nothing ------------------------------------------------------------


def test_unknown_parent_rejects_everything(db, tmp_path):
    regions = [*REGION_ROWS, ["320503001", "丙一镇", "320503"]]
    said = load_failing(standard(tmp_path, regions=regions))
    assert "Sheet 行政区划, row 7, column 上级代码:" in said
    assert "320503" in said
    assert "nothing was loaded" in said
    assert Region.objects.count() == 0
    assert ChemicalPark.objects.count() == 0
    assert ChemicalPark.history.count() == 0


def test_bad_level_value_rejects_everything(db, tmp_path):
    parks = [PARK_ROWS[0], ["P002", "乙一集聚区", "320502001", "国家级", "待认定"]]
    said = load_failing(standard(tmp_path, parks=parks))
    assert "Sheet 化工园区, row 3, column 级别: 国家级 is not allowed; use one of: 省级、市级、集聚区." in said
    assert Region.objects.count() == 0 and ChemicalPark.objects.count() == 0


def test_duplicate_code_rejects_everything(db, tmp_path):
    regions = [*REGION_ROWS, ["320501001", "甲一镇（重复）", "320501"]]
    said = load_failing(standard(tmp_path, regions=regions))
    assert "Sheet 行政区划, row 7, column 代码: 320501001 already appears in row 5" in said
    assert Region.objects.count() == 0


def test_duplicate_park_code(db, tmp_path):
    said = load_failing(standard(tmp_path, parks=[PARK_ROWS[0], PARK_ROWS[0]]))
    assert "Sheet 化工园区, row 3, column 园区代码: P001 already appears in row 2" in said
    assert ChemicalPark.objects.count() == 0


def test_missing_column_is_named(db, tmp_path):
    path = workbook(
        tmp_path,
        {
            "行政区划": [REGION_HEADER, *REGION_ROWS],
            "化工园区": [["园区代码", "园区名称", "所在乡镇代码", "级别"], PARK_ROWS[0][:4]],
        },
    )
    said = load_failing(path)
    assert "Sheet 化工园区, row 1, column 认定状态: This required column is missing" in said
    assert Region.objects.count() == 0


def test_township_under_a_city_is_refused(db, tmp_path):
    said = load_failing(standard(tmp_path, regions=[*REGION_ROWS, ["320501002", "甲二镇", "320500"]], parks=[]))
    assert "Sheet 行政区划, row 7, column 上级代码:" in said
    assert "City" in said and "County/district" in said
    assert Region.objects.count() == 0


def test_malformed_codes_are_refused(db, tmp_path):
    regions = [*REGION_ROWS, ["32050", "短码", "320500"], ["320000", "某省", None]]
    said = load_failing(standard(tmp_path, regions=regions, parks=[]))
    assert "Sheet 行政区划, row 7, column 代码: A region code has 6 digits" in said
    assert "Sheet 行政区划, row 8, column 代码: 320000 is a province code" in said


def test_park_in_a_county_is_refused(db, tmp_path):
    said = load_failing(standard(tmp_path, parks=[["P009", "县级园区", "320501", "市级", "已认定"]]))
    assert "Sheet 化工园区, row 2, column 所在乡镇代码:" in said
    assert "9-digit" in said
    assert ChemicalPark.objects.count() == 0


def test_park_of_a_rejected_township_points_at_its_row(db, tmp_path):
    regions = [*REGION_ROWS[:3], ["320501001", "", "320501"]]
    said = load_failing(standard(tmp_path, regions=regions, parks=PARK_ROWS[:1]))
    assert "Sheet 行政区划, row 5, column 名称: This cell is empty; fill it in." in said
    assert "Sheet 化工园区, row 2, column 所在乡镇代码: Township 320501001 is in row 5 of sheet 行政区划" in said


def test_every_error_is_reported_and_existing_data_kept(db, tmp_path):
    load(standard(tmp_path))
    before = snapshot()
    regions = [row[:] for row in REGION_ROWS]
    regions[1][1] = "改名县"
    parks = [["P001", "甲一化工园", "320501001", "省级", "认定中"], ["P003", "新园", "999999999", "市级", "已认定"]]
    said = load_failing(standard(tmp_path, regions=regions, parks=parks))
    assert "Sheet 化工园区, row 2, column 认定状态" in said
    assert "Sheet 化工园区, row 3, column 所在乡镇代码" in said
    assert "2 errors in reference.xlsx" in said
    assert snapshot() == before  # the valid region rename was rolled back too


def test_error_display_is_capped(db, tmp_path):
    regions = [[f"3205{index:02d}", f"县{index}", "999900"] for index in range(1, 100)]
    regions += [[f"320501{index:03d}", f"镇{index}", "999999"] for index in range(1, 151)]
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="249 errors"):
        call_command("load_reference", str(standard(tmp_path, regions=regions, parks=[])), stdout=out, stderr=err)
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 201
    assert lines[-1] == "… and 49 more errors."


def test_no_reference_sheet(db, tmp_path):
    said = load_failing(workbook(tmp_path, {"Sheet1": [["a", "b"], [1, 2]]}))
    assert "No reference sheet found; name the sheets 行政区划、化工园区" in said


def test_not_a_workbook(db, tmp_path):
    path = tmp_path / "regions.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(CommandError, match="cannot be read as an Excel workbook"):
        call_command("load_reference", str(path), stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="does not exist"):
        call_command("load_reference", str(tmp_path / "missing.xlsx"), stdout=StringIO(), stderr=StringIO())


# --- CSV -----------------------------------------------------------------------------------------


def write_csv(tmp_path, lines, encoding="utf-8"):
    path = tmp_path / "regions.csv"
    path.write_bytes("\n".join(lines).encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_loads_regions(db, tmp_path, encoding):
    lines = ["code,name,parent_code", *(",".join(value or "" for value in row) for row in REGION_ROWS)]
    path = write_csv(tmp_path, lines, encoding)
    output = load(path)
    assert Region.objects.get(code="320502001").name == "乙一镇"
    assert "5 created" in output
    assert "0 created, 0 updated, 5 unchanged" in load(path)


def test_csv_bad_row_names_row_and_column(db, tmp_path):
    path = write_csv(tmp_path, ["code,name,parent_code", "320500,示范市,", "320501,甲县,320599"])
    said = load_failing(path)
    assert "Sheet 行政区划, row 3, column 上级代码:" in said
    assert Region.objects.count() == 0


def test_registry_lists_the_sheets_in_load_order():
    sheets = [loader.sheet for loader in reference.registry()]
    assert sheets.index("行政区划") < sheets.index("化工园区")


# --- Other apps register sheets ------------------------------------------------------------------


@pytest.fixture
def target_sheet():
    """A sheet another app might register (issue 3 adds 专项行动 and 目标任务 this way)."""
    from regions.reference import regions_by_code

    applied = []

    def apply(values, ctx):
        if values["year"] == 1999:
            from django.db import IntegrityError

            raise IntegrityError("simulated constraint")
        region = regions_by_code(ctx).get(values["region_code"])
        if region is None:
            raise reference.RowError("region_code", "unknown region")
        applied.append((region.name, values["year"], values["closures"], values.get("starts_on")))
        return reference.CREATED

    # The same sheet name as rectification's real loader: put that one back afterwards.
    previous = reference._REGISTRY.get(reference.normalize_header("目标任务"))
    loader = reference.register(
        reference.SheetLoader(
            sheet="目标任务",
            order=40,
            columns=[
                reference.Column("区域代码", "region_code", parse=reference.code),
                reference.Column("年度", "year", parse=reference.integer),
                reference.Column("关停", "closures", parse=reference.integer),
                reference.Column("开始日期", "starts_on", parse=reference.date, required=False, blank=True),
            ],
            key=("region_code", "year"),
            apply=apply,
        )
    )
    yield applied
    reference._REGISTRY.pop(reference.normalize_header(loader.sheet))
    if previous is not None:
        reference.register(previous)


def test_a_registered_sheet_loads_after_the_regions_it_cites(db, tmp_path, target_sheet):
    import datetime

    path = standard(
        tmp_path,
        目标任务=[
            ["区域代码", "年度", "关停", "开始日期"],
            ["320501001", 2021, "18", datetime.datetime(2021, 1, 1)],
            ["320501001", "2022", 12.0, "2022年3月1日"],
        ],
    )
    output = load(path)
    assert target_sheet == [
        ("甲一镇", 2021, 18, datetime.date(2021, 1, 1)),
        ("甲一镇", 2022, 12, datetime.date(2022, 3, 1)),
    ]
    assert "目标任务: 2 created" in output


def test_a_registered_sheet_reports_bad_cells_duplicates_and_database_refusals(db, tmp_path, target_sheet):
    path = standard(
        tmp_path,
        目标任务=[
            ["区域代码", "年度", "关停"],
            ["320501001", "二〇二一", "18"],
            ["320501001", 2022, "1.5"],
            ["320501001", 2023, 1],
            ["320501001", 2023, 2],
            ["320501001", 1999, 2],
        ],
    )
    said = load_failing(path)
    assert "Sheet 目标任务, row 2, column 年度: 二〇二一 is not a number." in said
    assert "Sheet 目标任务, row 3, column 关停: 1.5 is not a whole number." in said
    assert "Sheet 目标任务, row 5, column 区域代码: 320501001 / 2023 already appears in row 4" in said
    assert "Sheet 目标任务, row 6: The database refused this row: simulated constraint" in said
    assert Region.objects.count() == 0
