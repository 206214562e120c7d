"""Streaming xlsx exports: rows go to a temporary file through openpyxl's write-only mode.

Memory stays flat however many rows are written; the finished file is handed to a
FileResponse, and the temporary file disappears when the response closes it.
"""

import datetime
import tempfile
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import FileResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

#: A cell starting with one of these would be read as a formula (or DDE) by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def escape_cell(value):
    """Make a value safe to put in a cell: text that could start a formula gets a leading quote.

    Numbers, dates and booleans pass through; anything else (lazy translations, model choices)
    becomes text first. Aware datetimes become local wall-clock time (Excel has no time zones).
    """
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if value is None or isinstance(value, (bool, int, float, Decimal, datetime.date)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def write_xlsx_rows(
    file,
    *,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence],
    column_widths: Sequence[int] | None = None,
) -> int:
    """Write one sheet (bold header row, frozen) and all `rows` to `file`; return the number of data rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for index, width in enumerate(column_widths or [], start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=escape_cell(str(header)))
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    count = 0
    for row in rows:
        sheet.append([escape_cell(value) for value in row])
        count += 1
    workbook.save(file)
    return count


def xlsx_response(
    *,
    filename: str,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence],
    column_widths: Sequence[int] | None = None,
) -> FileResponse:
    """Write the sheet to an anonymous temporary file and stream it as a download."""
    file = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 -- closed by FileResponse
    try:
        write_xlsx_rows(file, title=title, headers=headers, rows=rows, column_widths=column_widths)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return FileResponse(file, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
