"""Building roster workbooks for the import tests, shaped like the townships' own files."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

STANDARD_HEADERS = [
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
    "备注",
]


def roster_bytes(rows, headers=None, *, title=True, filler=True, total=True, sheet_title="名单") -> bytes:
    """An .xlsx roster: a merged title row and a 填报单位 line (when `title`), the header, `rows` (lists in
    header order, or dicts header -> value) and a closing 合计 row (when `total`)."""
    headers = headers or STANDARD_HEADERS
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title
    if title:
        sheet.append(["甲一镇化工企业专项整治摸排情况汇总表"])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        if filler:
            sheet.append(["填报单位：甲一镇人民政府", None, None, "填报日期：2021年3月1日"])
    sheet.append(headers)
    for index, row in enumerate(rows, start=1):
        if row is None:
            sheet.append([])
            continue
        if isinstance(row, dict):
            values = [row.get(header) for header in headers]
            if "序号" in headers and row.get("序号") is None:
                values[headers.index("序号")] = index
        else:
            values = list(row)
        sheet.append(values)
    if total:
        sheet.append(["合计", f"{len(rows)}家"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def roster_upload(rows, headers=None, name="甲一镇名单.xlsx", **options) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name,
        roster_bytes(rows, headers, **options),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def row(uscc, name, township="甲一镇", **values) -> dict:
    """A roster row as header -> value, with the standard headers' names as keyword arguments' values."""
    data = {"统一社会信用代码": uscc, "企业名称": name, "乡镇（街道）": township}
    aliases = {
        "address": "详细地址",
        "legal": "法定代表人",
        "phone": "联系电话",
        "kind": "企业类型",
        "park": "所在园区",
        "size": "规模",
        "sales": "开票销售（万元）",
        "products": "主要产品",
        "problems": "存在问题",
        "status": "生产状态",
        "category": "四个一批分类",
        "deadline": "完成时限",
        "note": "备注",
    }
    for key, value in values.items():
        data[aliases.get(key, key)] = value
    return data
