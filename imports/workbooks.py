"""Workbooks the import pages hand out: the roster template and the error workbook of one import."""

import datetime
import tempfile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from core.xlsx import escape_cell
from parks.models import ChemicalPark
from regions.models import Region

from . import roster as roster_module
from .models import RosterImport

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
ERROR_FILL = PatternFill("solid", fgColor="F8D7DA")

#: Headers the error workbook adds; a re-uploaded error workbook does not report them as unknown columns.
ERROR_ROW_HEADER = "原行号"
ERROR_NOTE_HEADER = "错误说明"

# Template columns in order: field, width, required, note.
TEMPLATE_COLUMNS = [
    ("serial", 6, False, "序号，可留空"),
    ("uscc", 22, True, "18位统一社会信用代码（GB 32100-2015），全角字符和空格会自动更正"),
    ("name", 30, True, "与营业执照一致"),
    ("township", 14, True, "乡镇（街道）名称，或9位统计区划代码；同名乡镇须填代码"),
    ("address", 30, False, ""),
    ("legal_representative", 10, False, ""),
    ("contact_person", 10, False, ""),
    ("contact_phone", 14, False, ""),
    ("kind", 10, False, "生产、经营、储存、使用、运输、码头"),
    (
        "park",
        20,
        False,
        "园区名称，下拉列表为本乡镇已认定的化工园区；不在园区内填“园区外”或“无”；留空则保留已登记的园区（不作修改）。"
        "填写其他乡镇的园区照常导入，在预览“提示”页列出供核对；已取消定位的园区不能迁入",
    ),
    ("size", 10, False, "规上/规模以上、规下/规模以下"),
    ("annual_sales", 14, False, "万元，可写千分位，如 9,566.7"),
    ("staff_count", 10, False, "人"),
    ("main_products", 24, False, ""),
    ("problems", 36, False, "多个问题用分号或换行分开，每个问题登记为一条隐患"),
    ("status", 10, False, "在产/正常生产、停产/已停产、关闭/已关闭、注销"),
    (
        "category",
        14,
        False,
        "关停、转移、升级、重组、剔除、待定；也认：关停取缔、清理取缔、转停、转产、退二进三、搬迁入园、整合搬迁、"
        "改造提升、原地整治提升、兼并重组、不纳入等；前面的“拟”“建议”“计划”和括号不影响识别（拟关停＝关停）",
    ),
    (
        "deadline",
        14,
        False,
        "如 2021-06-30、2021/6/30、2021年6月30日、2021年6月底前（月末）、2021年上半年、2021年下半年、2021年第二季度、"
        "2021年底前；须写明年份，且不晚于专项行动结束日期",
    ),
    ("destination_park", 20, False, "转移类：迁入的已认定化工园区；暂未确定可留空，区县提交前须补填"),
    ("absorbing_enterprise", 24, False, "重组类：兼并方的统一社会信用代码或名称；暂未确定可留空，区县提交前须补填"),
    ("exclusion_reason", 24, False, "剔除类：剔除原因；暂未写明可留空，区县提交前须补填"),
    ("note", 20, False, ""),
]

_CODED_LISTS = {
    "kind": list(roster_module.KIND_VALUES),
    "size": ["规上", "规下"],
    "status": ["在产", "停产", "关闭", "注销"],
    "category": ["关停", "转移", "升级", "重组", "剔除", "待定"],
}


def template_workbook(user, file) -> None:
    """The roster template: headers, drop-down lists for the coded columns, an example row, a notes sheet."""
    from regions.scoping import ALL_REGIONS, scope_region

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "企业名单"
    lists = workbook.create_sheet("选项")
    notes = workbook.create_sheet("填写说明")

    scope = scope_region(user)
    townships = Region.objects.townships()
    if scope is not ALL_REGIONS:
        townships = townships.in_region(scope) if scope is not None else townships.none()
    township_names = list(townships.order_by("code").values_list("name", flat=True)[:500])
    # The drop-down offers the recognised parks of the user's own township (of their county or city for the
    # offices); another park may still be written: the import lists it to check (enterprises.services.check_park).
    parks = ChemicalPark.objects.recognised()
    if scope is not ALL_REGIONS:
        parks = parks.in_region(scope) if scope is not None else parks.none()
    park_names = ["园区外", *parks.order_by("name").values_list("name", flat=True)[:500]]

    choice_lists = {**_CODED_LISTS, "township": township_names, "park": park_names}
    list_columns = {}
    for column, (name, values) in enumerate(choice_lists.items(), start=1):
        letter = get_column_letter(column)
        lists.cell(row=1, column=column, value=roster_module.TEMPLATE_HEADERS[name])
        for index, value in enumerate(values, start=2):
            lists.cell(row=index, column=column, value=escape_cell(value))
        last = max(len(values) + 1, 2)
        list_columns[name] = f"{quote_sheetname(lists.title)}!${letter}$2:${letter}${last}"
    lists.sheet_state = "hidden"

    for column, (name, width, required, note) in enumerate(TEMPLATE_COLUMNS, start=1):
        header = roster_module.TEMPLATE_HEADERS[name]
        cell = sheet.cell(row=1, column=column, value=header)
        cell.font = Font(bold=True, color="C00000" if required else None)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        if note:
            cell.comment = Comment(note, "化治办")
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = width
        if name in list_columns:
            validation = DataValidation(
                type="list",
                formula1=f"={list_columns[name]}",
                allow_blank=True,
                showErrorMessage=name in _CODED_LISTS,
                errorTitle="取值不在列表中",
                error="请从下拉列表中选择。",
            )
            validation.add(f"{letter}2:{letter}5000")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "C2"

    from enterprises.validators import make_uscc

    example = {
        "serial": 1,
        "uscc": make_uscc("91320500MA1X0000" + "0"),
        "name": "示例化工有限公司（示例行，导入前请删除）",
        "township": township_names[0] if township_names else "",
        "address": "示例路1号",
        "legal_representative": "张三",
        "contact_person": "李四",
        "contact_phone": "0512-12345678",
        "kind": "生产",
        "park": "园区外",
        "size": "规上",
        "annual_sales": 9566.7,
        "staff_count": 85,
        "main_products": "涂料",
        "problems": "1、未取得安全生产许可证；2、环评手续不全",
        "status": "在产",
        "category": "关停",
        "deadline": datetime.date(datetime.date.today().year, 12, 31),
        "note": "",
    }
    for column, (name, _width, _required, _note) in enumerate(TEMPLATE_COLUMNS, start=1):
        value = example.get(name)
        cell = sheet.cell(row=2, column=column, value=escape_cell(value) if value not in (None, "") else None)
        cell.font = Font(italic=True, color="808080")
        if name == "deadline":
            cell.number_format = "yyyy-mm-dd"

    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 90
    notes.append(["化工企业摸排名单导入模板 填写说明"])
    notes["A1"].font = Font(bold=True, size=13)
    notes.append([])
    for line in (
        "1. 表头须位于前10行内；表头上方可以有标题行、填报单位行。红色表头为必填列。",
        "2. 每家企业一行，以统一社会信用代码识别：已登记的企业按所填内容逐项更新，未登记的新建；空单元格不修改已有数据"
        "（所在园区列也是如此，不在园区内请填“园区外”或“无”）。信用代码列请设为文本格式。",
        "3. 序号列、空行、以“合计”“总计”开头的行会被跳过。",
        "4. 同一信用代码在文件中出现两次时，后一行报错。乡镇须在本人所属区域内。",
        "5. 四个一批分类、完成时限、存在问题写入所选专项行动的分类建议；存在问题登记为隐患（重复导入不会重复登记）。"
        "转移、重组、剔除类缺少迁入园区、兼并企业、剔除原因的照样导入，在预览“提示”页列出，区县提交前须补填。",
        "6. 名单即摸排结果：导入的企业在所选专项行动中计为已摸排（导入日期）。",
        "7. 导入前先预览：有错误的行会标明行号、列名和原因，可下载错误清单修改后重新上传。",
        "8. 第2行为示例，导入前请删除。",
    ):
        notes.append([line])
        notes.merge_cells(start_row=notes.max_row, start_column=1, end_row=notes.max_row, end_column=2)
    notes.append([])
    notes.append(["列名", "说明（也可识别的列名）"])
    for cell in notes[notes.max_row]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for name, _width, required, note in TEMPLATE_COLUMNS:
        headers = roster_module.COLUMN_HEADERS[name]
        also = "；也可写作：" + "、".join(headers[1:]) if len(headers) > 1 else ""
        notes.append([headers[0] + ("（必填）" if required else ""), (note or "") + also])
    workbook.save(file)


def error_workbook(record: RosterImport, file) -> int:
    """The user's own rows in error, each with the original row number and what is wrong; the file's header row
    is kept so the corrected sheet can be uploaded again. Returns the number of rows written."""
    by_row: dict[int, list[str]] = {}
    for error in record.errors:
        by_row.setdefault(error["row"], []).append(
            f"{error['column']}：{error['message']}" if error.get("column") else error["message"]
        )
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=(record.sheet_name or "名单")[:31])
    sheet.freeze_panes = "A2"
    count = 0
    with record.file.open("rb") as handle:
        source = roster_module.open_workbook(handle)
        try:
            header_row = record.header_row or 1
            width = 0
            for number, cells in enumerate(source.worksheets[0].iter_rows(values_only=True), start=1):
                if number == header_row:
                    width = len(cells)
                    header = []
                    for value in [*cells, ERROR_ROW_HEADER, ERROR_NOTE_HEADER]:
                        cell = WriteOnlyCell(sheet, value=escape_cell(value))
                        cell.font = HEADER_FONT
                        cell.fill = HEADER_FILL
                        header.append(cell)
                    sheet.append(header)
                elif number in by_row:
                    values = [escape_cell(value) for value in cells] + [None] * (width - len(cells))
                    note = WriteOnlyCell(sheet, value=escape_cell("\n".join(by_row[number])))
                    note.fill = ERROR_FILL
                    note.alignment = Alignment(wrap_text=True, vertical="top")
                    sheet.append([*values[:width], number, note])
                    count += 1
        finally:
            source.close()
    workbook.save(file)
    return count


def temporary_file():
    return tempfile.TemporaryFile(suffix=".xlsx")
