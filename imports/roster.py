"""Reading a township's Excel roster as it is: finding the header, recognising columns, converting values.

Nothing here touches the database. `read_roster` returns the sheet's rows with each value converted to
what the register stores (dates, numbers, coded choices, normalised credit codes) or, when a value
cannot be converted, an error naming the Excel row as the user sees it, the column header as written in
the file and what to do. Names that must be looked up (township, park) are returned as normalised
text; imports.services resolves them inside the user's region.
"""

import calendar
import datetime
import itertools
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils.datetime import from_excel

from enterprises.choices import EnterpriseKind, EnterpriseSize, OperatingStatus
from enterprises.validators import INVISIBLE_CATEGORIES, normalize_uscc, validate_uscc
from rectification.choices import CATEGORY_WORDS, category_from_word, category_words_listing

#: Raised whenever the reading rules change: a roster parsed by an older version is read again.
PARSER_VERSION = 2

#: The header must be found within this many rows from the top (title and 填报单位 lines come first).
HEADER_SEARCH_ROWS = 10

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class RosterUnreadable(Exception):
    """The file as a whole cannot be read; the message says why and what to do."""


def normalise_text(value) -> str:
    """Full-width to half-width (NFKC), every kind of space and invisible character removed."""
    if value is None:
        return ""
    return "".join(
        ch
        for ch in unicodedata.normalize("NFKC", str(value))
        if not ch.isspace() and unicodedata.category(ch) not in INVISIBLE_CATEGORIES
    )


def clean_text(value) -> str:
    """A text cell as stored: NFKC-normalised punctuation is left alone, outer spaces trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _header_key(value) -> str:
    """A header as compared: NFKC, no spaces, no required-field markers, no trailing colon."""
    return normalise_text(value).strip("*※:")


# --- Columns -------------------------------------------------------------------------------

# field -> the header names it is recognised by (compared after _header_key).
COLUMN_HEADERS: dict[str, tuple[str, ...]] = {
    "serial": ("序号", "编号"),
    "uscc": ("统一社会信用代码", "社会信用代码", "信用代码"),
    "name": ("企业名称", "单位名称", "企业（单位）名称"),
    "township": ("乡镇（街道）", "所在乡镇", "乡镇/街道", "乡镇", "所在乡镇（街道）"),
    "address": ("详细地址", "地址", "企业地址"),
    "legal_representative": ("法定代表人", "法人代表"),
    "contact_person": ("联系人",),
    "contact_phone": ("联系电话", "联系方式"),
    "kind": ("企业类型",),
    "park": ("所在园区", "园区"),
    "size": ("规模",),
    "annual_sales": (
        "开票销售（万元）",
        "年销售额（万元）",
        "销售收入（万元）",
        "开票销售",
        "年销售额",
        "销售收入",
    ),
    "staff_count": ("从业人数", "职工人数", "员工人数"),
    "main_products": ("主要产品",),
    "problems": ("存在问题", "问题描述"),
    "note": ("备注",),
    "status": ("生产状态", "经营状态"),
    "category": ("四个一批分类", "整治类型", "处置意见", "整治方向"),
    "deadline": ("完成时限", "整治时限", "时间节点"),
    # Details some categories need (DOMAIN.md): the park a relocation goes to, the enterprise that absorbs a
    # restructured one, why an enterprise is excluded.
    "destination_park": ("迁入园区", "搬迁园区", "拟搬迁园区", "拟迁入园区"),
    "absorbing_enterprise": ("兼并企业", "重组企业", "兼并重组企业"),
    "exclusion_reason": ("剔除原因", "剔除理由"),
}
HEADER_FIELDS = {_header_key(header): name for name, headers in COLUMN_HEADERS.items() for header in headers}
REQUIRED_FIELDS = ("uscc", "name", "township")
#: Columns the error workbook adds; a corrected error workbook uploaded again does not list them as unknown.
SILENT_HEADERS = {"原行号", "错误说明"}
#: The first header of each field (the template's headers).
TEMPLATE_HEADERS = {name: headers[0] for name, headers in COLUMN_HEADERS.items()}

KIND_VALUES = {
    "生产": EnterpriseKind.PRODUCTION,
    "经营": EnterpriseKind.TRADING,
    "储存": EnterpriseKind.STORAGE,
    "使用": EnterpriseKind.USE,
    "运输": EnterpriseKind.TRANSPORT,
    "码头": EnterpriseKind.WHARF,
}
SIZE_VALUES = {
    "规上": EnterpriseSize.ABOVE,
    "规模以上": EnterpriseSize.ABOVE,
    "规下": EnterpriseSize.BELOW,
    "规模以下": EnterpriseSize.BELOW,
}
STATUS_VALUES = {
    "在产": OperatingStatus.OPERATING,
    "正常生产": OperatingStatus.OPERATING,
    "停产": OperatingStatus.SUSPENDED,
    "已停产": OperatingStatus.SUSPENDED,
    "关闭": OperatingStatus.CLOSED,
    "已关闭": OperatingStatus.CLOSED,
    "注销": OperatingStatus.DEREGISTERED,
}
#: The category words (rectification.choices owns them; a leading 拟/建议/计划 and brackets are ignored).
CATEGORY_VALUES = CATEGORY_WORDS
#: A park cell meaning "outside any park" (an empty cell keeps the park on record, like every empty cell).
OUTSIDE_PARK_VALUES = {"园区外", "无", "否", "/", "-", "—"}
#: The first cell of a closing totals row.
TOTAL_PREFIXES = ("合计", "总计", "小计")

CODED_VALUES = {
    "kind": KIND_VALUES,
    "size": SIZE_VALUES,
    "status": STATUS_VALUES,
}


# --- Values --------------------------------------------------------------------------------

_YEAR = r"(\d{4}|\d{2})"
#: 2021-06-30, 2021/6/30, 2021.6.30, 2021年6月30日, 21年6月30日, 21.6.30, 2021年6月30号, "2021-06-30 00:00:00".
_DATE_FULL = re.compile(_YEAR + r"[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?(?:T?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
#: 2021年6月, 2021年6月底, 2021年6月末, 2021-6, 21年6月底 (the last day of the month; a two-digit year needs 年).
_DATE_MONTH = re.compile(r"(?:(\d{4})[-/.年]|(\d{2})年)(\d{1,2})月?份?(?:底|末)?$")
#: 2021年底, 2021年末, 2021年年底, 21年底 (31 December).
_DATE_YEAR_END = re.compile(_YEAR + r"年?(?:年底|年末|底|末)$")
#: 2021年上半年 (30 June), 2021年下半年 (31 December).
_DATE_HALF = re.compile(_YEAR + r"年?(上|下)半年(?:底|末)?$")
#: 2021年第二季度, 2021年二季度, 2021年第2季度, 2021Q2 (the quarter's last day).
_DATE_QUARTER = re.compile(_YEAR + r"年?(?:第?([一二三四1-4])季度|[Qq]([1-4]))(?:底|末)?$")
_QUARTER_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
#: Dates written without a year (6月30日前, 年底前, 下半年, 6/30): refused with a request for the year.
_DATE_WITHOUT_YEAR = re.compile(
    r"(?:\d{1,2}月(?:\d{1,2}[日号]?|份|底|末)?|\d{1,2}[-/.]\d{1,2}|年底|年末|年内|月底|月末|底|"
    r"[上下]半年|第?[一二三四1-4]季度(?:底|末)?)$"
)
#: Words after a deadline that do not change it: 2021年6月底前, 2021年底之前, 2021年6月30日以前完成.
_DEADLINE_SUFFIXES = ("之前", "以前", "前", "完成")
#: Excel serial numbers of plausible dates (1954 … 2118).
_SERIAL_RANGE = (20000, 80000)


class DateWithoutYear(ValueError):
    """A date written without its year (6月30日前, 年底前): the officer must say which year."""


def _full_year(text: str) -> int:
    year = int(text)
    return 2000 + year if len(text) == 2 else year


def _month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def parse_date(value) -> datetime.date:
    """An Excel date, an Excel serial number, or text as officers write deadlines: 2021-06-30, 2021/6/30,
    2021.6.30, 2021年6月30日 (or 号), "2021-06-30 00:00:00", 2021年6月 / 2021年6月底 (the month's last day),
    2021年底 (31 December), 2021年上半年 / 下半年 (30 June / 31 December), 2021年第二季度 / 2021年二季度 (the
    quarter's last day); two-digit years (21年6月30日, 21.6.30) are 20xx; a trailing 前/之前/以前/完成 and a trailing
    full stop are ignored. Raises DateWithoutYear for a date with no year, ValueError for anything else."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]:
            return from_excel(value).date()
        raise ValueError
    text = normalise_text(value).rstrip(".。")
    stripped = True
    while stripped:
        stripped = False
        for suffix in _DEADLINE_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, stripped = text[: -len(suffix)].rstrip(".。"), True
    if text.isdigit() and _SERIAL_RANGE[0] <= int(text) <= _SERIAL_RANGE[1]:
        return from_excel(int(text)).date()
    match = _DATE_FULL.match(text)
    if match:
        return datetime.date(_full_year(match[1]), int(match[2]), int(match[3]))
    match = _DATE_MONTH.match(text)
    if match:
        return _month_end(_full_year(match[1] or match[2]), int(match[3]))
    match = _DATE_YEAR_END.match(text)
    if match:
        return datetime.date(_full_year(match[1]), 12, 31)
    match = _DATE_HALF.match(text)
    if match:
        year = _full_year(match[1])
        return datetime.date(year, 6, 30) if match[2] == "上" else datetime.date(year, 12, 31)
    match = _DATE_QUARTER.match(text)
    if match:
        quarter = _QUARTER_NUMBERS[match[2] or match[3]]
        return _month_end(_full_year(match[1]), quarter * 3)
    if _DATE_WITHOUT_YEAR.match(text):
        raise DateWithoutYear
    raise ValueError


def parse_amount(value) -> Decimal:
    """A non-negative amount with at most two decimals; thousands separators allowed ("9,566.7")."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))  # the shortest repr: 9566.7, not 9566.70000000000073
    else:
        text = normalise_text(value).replace(",", "")
        if not re.fullmatch(r"\d+(\.\d+)?", text):
            raise ValueError
        amount = Decimal(text)
    if amount < 0 or amount.as_tuple().exponent < -2:
        raise ValueError
    return amount


def parse_count(value) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    text = normalise_text(value).replace(",", "")
    if text.isdigit():
        return int(text)
    raise ValueError


# --- Rows ----------------------------------------------------------------------------------


@dataclass(slots=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(slots=True)
class RosterRow:
    number: int
    #: field -> converted value (text fields normalised; township/park/… still names to look up).
    values: dict
    errors: list = field(default_factory=list)

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.number, column, message))


@dataclass
class Roster:
    sheet_name: str
    header_row: int
    #: field -> header as written in the file.
    headers: dict
    #: Headers the importer does not read, as written.
    ignored_columns: list
    rows: list
    #: Excel row numbers of blank rows between data rows and of 合计/总计 rows.
    skipped: list

    @property
    def rows_read(self) -> int:
        return len(self.rows) + len(self.skipped)

    def to_json(self) -> dict:
        """The parsed roster as JSON-storable data (the commit reuses the preview's reading)."""

        def encode(values: dict) -> dict:
            return {
                name: value.isoformat()
                if isinstance(value, datetime.date)
                else str(value)
                if isinstance(value, Decimal)
                else value
                for name, value in values.items()
            }

        return {
            "version": PARSER_VERSION,
            "sheet_name": self.sheet_name,
            "header_row": self.header_row,
            "headers": self.headers,
            "ignored_columns": self.ignored_columns,
            "skipped": self.skipped,
            "rows": [
                [row.number, encode(row.values), [[error.column, error.message] for error in row.errors]]
                for row in self.rows
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> "Roster":
        if data.get("version") != PARSER_VERSION:
            raise ValueError("parsed by another version of the importer")
        rows = []
        for number, values, errors in data["rows"]:
            if "annual_sales" in values:
                values["annual_sales"] = Decimal(values["annual_sales"])
            if "deadline" in values:
                values["deadline"] = datetime.date.fromisoformat(values["deadline"])
            row = RosterRow(number, values)
            row.errors = [RowError(number, column, message) for column, message in errors]
            rows.append(row)
        return cls(
            sheet_name=data["sheet_name"],
            header_row=data["header_row"],
            headers=data["headers"],
            ignored_columns=data["ignored_columns"],
            rows=rows,
            skipped=data["skipped"],
        )


def _check_container(path_or_file) -> None:
    """Refuse early, with one clear message, what openpyxl cannot open."""
    if hasattr(path_or_file, "read"):
        path_or_file.seek(0)
        head = path_or_file.read(8)
        path_or_file.seek(0)
    else:
        with open(path_or_file, "rb") as handle:
            head = handle.read(8)
    if not head:
        raise RosterUnreadable(_("The file is empty."))
    if head.startswith(OLE_SIGNATURE):
        # An encrypted .xlsx is an OLE container; so is a legacy .xls.
        raise RosterUnreadable(
            _(
                "The file is password-protected or in the old Excel 97-2003 (.xls) format. Remove the password, "
                "or open it in Excel or WPS and save it as .xlsx, then upload it again."
            )
        )
    if not head.startswith(b"PK"):
        raise RosterUnreadable(
            _(
                "The file is not an Excel workbook (.xlsx). Open it in Excel or WPS, save it as .xlsx and upload it again."
            )
        )


def open_workbook(path_or_file):
    _check_container(path_or_file)
    try:
        return load_workbook(path_or_file, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as error:
        raise RosterUnreadable(
            _("The file could not be read as an Excel workbook (.xlsx): it may be damaged. Save it again as .xlsx.")
        ) from error


def _find_header(top_rows: list) -> tuple[int, tuple]:
    """(row number, header cells) of the header row among the first rows: the row naming most known columns."""
    best = None
    for number, cells in enumerate(top_rows, start=1):
        fields = {HEADER_FIELDS.get(_header_key(cell)) for cell in cells if cell is not None}
        fields.discard(None)
        score = len(fields)
        if score >= 2 and (best is None or score > best[0]):
            best = (score, number, cells)
    if best is None:
        if not any(any(cell not in (None, "") for cell in cells) for cells in top_rows):
            raise RosterUnreadable(_("The workbook's first sheet is empty."))
        raise RosterUnreadable(
            _(
                "No header row found in the first %(count)d rows. The header row must name the columns, e.g. "
                "统一社会信用代码, 企业名称, 乡镇（街道）. Download the template to see every column."
            )
            % {"count": HEADER_SEARCH_ROWS}
        )
    return best[1], best[2]


def _map_columns(header_cells) -> tuple[dict, dict, list]:
    """(field -> column index, field -> header as written, ignored headers); duplicate columns refused."""
    indexes, written, ignored = {}, {}, []
    for index, cell in enumerate(header_cells):
        if cell is None or str(cell).strip() == "":
            continue
        name = HEADER_FIELDS.get(_header_key(cell))
        header = str(cell).strip()
        if _header_key(cell) in SILENT_HEADERS:
            continue
        if name is None:
            ignored.append(header)
            continue
        if name in indexes:
            raise RosterUnreadable(
                _("The columns “%(first)s” and “%(second)s” both hold the same information; keep only one.")
                % {"first": written[name], "second": header}
            )
        indexes[name] = index
        written[name] = header
    missing = [TEMPLATE_HEADERS[name] for name in REQUIRED_FIELDS if name not in indexes]
    if missing:
        raise RosterUnreadable(
            _("The header row has no column %(columns)s; add it (the template shows every column).")
            % {"columns": "、".join(missing)}
        )
    return indexes, written, ignored


def _is_blank(cells, serial_index) -> bool:
    return all(
        cell is None or (isinstance(cell, str) and not cell.strip())
        for index, cell in enumerate(cells)
        if index != serial_index
    )


def _is_total(cells) -> bool:
    for cell in cells:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        return normalise_text(cell).startswith(TOTAL_PREFIXES)
    return False


def convert_row(number: int, cells, indexes: dict, headers: dict) -> RosterRow:
    """Convert one data row; every value that cannot be converted adds an error naming its column."""
    row = RosterRow(number, {})
    values = row.values

    def cell(name):
        index = indexes.get(name)
        if index is None or index >= len(cells):
            return None
        value = cells[index]
        if isinstance(value, str) and not value.strip():
            return None
        return value

    raw_code = cell("uscc")
    if isinstance(raw_code, float) and raw_code.is_integer():
        raw_code = int(raw_code)
    code = normalize_uscc(raw_code)
    values["uscc"] = code
    if not code:
        row.error(headers["uscc"], _("The unified social credit code is missing; enter the 18-character code."))
    elif isinstance(raw_code, (int, float)) and not isinstance(raw_code, bool):
        # Excel keeps 15 significant digits of a number and drops letters and leading zeros: the code is lost.
        row.error(
            headers["uscc"],
            _(
                "This cell holds a number (%(value)s), so Excel dropped characters of the credit code: format the "
                "column as text and type the code again."
            )
            % {"value": code},
        )
    else:
        try:
            validate_uscc(code)
        except ValidationError as error:
            row.error(
                headers["uscc"],
                _("%(code)s is not a valid unified social credit code (GB 32100-2015): %(reason)s")
                % {"code": code, "reason": " ".join(error.messages)},
            )

    name = clean_text(cell("name"))
    values["name"] = name
    if not name:
        row.error(headers["name"], _("The enterprise name is missing."))
    elif len(name) > 200:
        row.error(headers["name"], _("The name is longer than %(max)d characters.") % {"max": 200})

    raw_township = cell("township")
    if isinstance(raw_township, float) and raw_township.is_integer():
        raw_township = int(raw_township)  # a 9-digit code typed into a number cell
    township = normalise_text(raw_township)
    values["township"] = township
    if not township:
        row.error(headers["township"], _("The township is missing; enter its name or its 9-digit code."))

    for name_, limit in (
        ("address", 255),
        ("legal_representative", 50),
        ("contact_person", 50),
        ("contact_phone", 50),
        ("main_products", None),
        ("note", None),
        ("problems", None),
        ("exclusion_reason", None),
    ):
        if name_ not in indexes:
            continue
        text = clean_text(cell(name_))
        if not text:
            continue
        if limit and len(text) > limit:
            row.error(headers[name_], _("At most %(max)d characters are allowed here.") % {"max": limit})
            continue
        values[name_] = text

    for name_, choices in CODED_VALUES.items():
        if name_ not in indexes:
            continue
        raw = cell(name_)
        if raw is None:
            continue
        key = normalise_text(raw)
        if key in choices:
            values[name_] = choices[key]
        else:
            row.error(
                headers[name_],
                _("“%(value)s” is not one of: %(choices)s.")
                % {"value": clean_text(raw), "choices": "、".join(choices)},
            )

    if "category" in indexes and cell("category") is not None:
        raw = cell("category")
        category = category_from_word(raw)
        if category is not None:
            values["category"] = category
        else:
            row.error(
                headers["category"],
                _(
                    "“%(value)s” is not a category word. Write one of these (a leading 拟, 建议 or 计划 and brackets "
                    "are ignored): %(words)s."
                )
                % {"value": clean_text(raw), "words": category_words_listing()},
            )

    # An empty park cell keeps the park on record (like every empty cell); 园区外 or 无 means outside any park.
    if "park" in indexes and cell("park") is not None:
        park = normalise_text(cell("park"))
        if park:
            values["park"] = "" if park in OUTSIDE_PARK_VALUES else park
    for name_ in ("destination_park", "absorbing_enterprise"):
        if name_ in indexes and cell(name_) is not None:
            values[name_] = normalise_text(cell(name_))

    if "annual_sales" in indexes and cell("annual_sales") is not None:
        try:
            values["annual_sales"] = parse_amount(cell("annual_sales"))
        except (ValueError, InvalidOperation):
            row.error(
                headers["annual_sales"],
                _("“%(value)s” is not an amount in 10,000 yuan: write a number such as 9566.7 or 9,566.7.")
                % {"value": clean_text(cell("annual_sales"))},
            )
    if "staff_count" in indexes and cell("staff_count") is not None:
        try:
            values["staff_count"] = parse_count(cell("staff_count"))
        except ValueError:
            row.error(
                headers["staff_count"],
                _("“%(value)s” is not a number of persons.") % {"value": clean_text(cell("staff_count"))},
            )
    if "deadline" in indexes and cell("deadline") is not None:
        try:
            values["deadline"] = parse_date(cell("deadline"))
        except DateWithoutYear:
            row.error(
                headers["deadline"],
                _(
                    "“%(value)s” is not a date: the year is missing. Write it with the year, e.g. 2021年6月30日前 or 2021年底前."
                )
                % {"value": clean_text(cell("deadline"))},
            )
        except (ValueError, OverflowError):
            row.error(
                headers["deadline"],
                _(
                    "“%(value)s” is not a date: write e.g. 2021-06-30, 2021/6/30, 2021年6月30日, 2021年6月底前, "
                    "2021年下半年, 2021年第二季度 or 2021年底."
                )
                % {"value": clean_text(cell("deadline"))},
            )
    return row


def read_roster(path_or_file, progress=None) -> Roster:
    """Read the first sheet of an .xlsx roster. Raises RosterUnreadable for a file that cannot be read at all.

    `progress(done_rows, total_rows)` is called every 1,000 rows when given.
    """
    workbook = open_workbook(path_or_file)
    try:
        sheet = workbook.worksheets[0]
        total = sheet.max_row or 0
        rows_iter = sheet.iter_rows(values_only=True)
        top_rows = list(itertools.islice(rows_iter, HEADER_SEARCH_ROWS))
        header_row, header_cells = _find_header(top_rows)
        indexes, headers, ignored = _map_columns(header_cells)
        serial_index = indexes.get("serial")
        rows, skipped, pending_blanks = [], [], []
        data_rows = itertools.chain(top_rows[header_row:], rows_iter)
        for number, cells in enumerate(data_rows, start=header_row + 1):
            if _is_blank(cells, serial_index):
                pending_blanks.append(number)  # counted only when data follows (trailing blank rows are not rows)
                continue
            skipped.extend(pending_blanks)
            pending_blanks = []
            if _is_total(cells):
                skipped.append(number)
                continue
            code_cell = cells[indexes["uscc"]] if indexes["uscc"] < len(cells) else None
            if code_cell is not None and HEADER_FIELDS.get(_header_key(code_cell)) == "uscc":
                skipped.append(number)  # the header repeated (a roster printed over several pages)
                continue
            rows.append(convert_row(number, cells, indexes, headers))
            if progress is not None and number % 1000 == 0:
                progress(number, total)
    finally:
        workbook.close()
    if not rows:
        raise RosterUnreadable(_("The roster has a header row but no data rows."))
    return Roster(
        sheet_name=sheet.title,
        header_row=header_row,
        headers=headers,
        ignored_columns=ignored,
        rows=rows,
        skipped=skipped,
    )


def count_rows(path_or_file) -> int:
    """The sheet's row count as its dimension says (cheap; 0 when the writer left no dimension)."""
    workbook = open_workbook(path_or_file)
    try:
        return workbook.worksheets[0].max_row or 0
    finally:
        workbook.close()
