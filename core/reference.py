"""Reference workbooks: the sheet loaders behind `python manage.py load_reference FILE`.

A reference workbook holds one sheet per kind of reference data (行政区划, 化工园区, …). Each kind
is described once by a SheetLoader, registered by the app that owns the data.

Registering a sheet
-------------------
Put a module `reference.py` in the app; `load_reference` imports it in every installed app
(autodiscovery, like admin.py) before reading a file. In it::

    from core import reference

    def apply_park(values, ctx):
        ...  # validate against the database, write through the app's services
        return reference.CREATED  # or UPDATED / UNCHANGED

    reference.register(
        reference.SheetLoader(
            sheet="化工园区",
            order=20,                       # sheets load in this order: parents before the rows citing them
            columns=[
                reference.Column("园区代码", "code", parse=reference.code),
                reference.Column("级别", "level", parse=reference.choice({"省级": "provincial", ...})),
                reference.Column("规划面积", "area_km2", parse=reference.decimal, required=False, blank=True),
            ],
            key=("code",),                  # identifies a row: a second row with the same key is an error
            apply=apply_park,
        )
    )

Columns:
- `header` is matched after normalising both sides (full-width to half-width, spaces removed, case
  ignored); `aliases` are other accepted headers (e.g. the English ones of a .csv file).
- `required=False`: the column may be missing from the sheet; the loader then gets no value for it
  (the key is absent from `values`) and should leave the field alone.
- `blank=True`: a cell may be empty; the loader gets None.
- `parse` turns the cell (str, int, float, date, …) into the value, raising ValueError or
  ValidationError with a message for the user. The parsers below cover text, codes, choices,
  dates, numbers.

`apply(values, ctx)` gets the parsed values keyed by column key (only rows whose cells all parsed)
and a LoadContext: `ctx.actor` (the actor to pass to services), `ctx.reason` (the change reason),
`ctx.cache(name, build)` for lookups shared across rows, `ctx.rejected(sheet, key)` to tell that a
row a later row depends on was itself rejected. It raises RowError(column_key, message) or a
ValidationError keyed by column key or model field name (map odd field names with `field_columns`).
An optional `sort_key(values)` orders the rows before they are applied (regions: cities first).

How a load runs
---------------
Every sheet is read and every cell parsed first, collecting every error. Then, inside one
transaction, the rows are applied sheet by sheet (each row in a savepoint, so one bad row does not
hide the errors of the rows after it). If anything at all went wrong the transaction is rolled back:
a file loads entirely or not at all. Rows are upserts keyed by their code, so loading the same file
twice changes nothing the second time (no writes, no history rows).
"""

import csv
import datetime
import io
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"

#: A .csv file holds this sheet alone (its header may use the English aliases).
CSV_SHEET = "行政区划"


# --- Cell parsers ----------------------------------------------------------------------------


def normalize_header(value) -> str:
    """Compare headers and sheet names loosely: full-width → half-width, no spaces, case-folded."""
    text = unicodedata.normalize("NFKC", cell_text(value))
    return "".join(text.split()).casefold()


def cell_text(value) -> str:
    """A cell as text: numbers typed into Excel (320500, 320500.0) come back as their digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time(0):
        return value.date().isoformat()
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value).strip()


def text(value) -> str:
    return cell_text(value)


def code(value) -> str:
    """A code: full-width characters and spaces corrected, letters upper-cased."""
    normalized = unicodedata.normalize("NFKC", cell_text(value))
    return "".join(normalized.split()).upper()


def choice(mapping: dict[str, str]) -> Callable:
    """A value from a fixed list; the message names the allowed values."""
    lookup = {normalize_header(label): value for label, value in mapping.items()}

    def parse(value):
        found = lookup.get(normalize_header(value))
        if found is None:
            raise ValueError(
                _("%(value)s is not allowed; use one of: %(allowed)s.")
                % {"value": cell_text(value), "allowed": "、".join(mapping)}
            )
        return found

    parse.allowed = list(mapping)
    return parse


def date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raw = unicodedata.normalize("NFKC", cell_text(value))
    cleaned = raw.replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-").replace(".", "-")
    try:
        return datetime.date.fromisoformat("-".join(part.zfill(2) for part in cleaned.split("-")))
    except ValueError:
        raise ValueError(
            _("%(value)s is not a date; write it as 2021-03-31 or use an Excel date cell.") % {"value": raw}
        ) from None


def decimal(value) -> Decimal:
    raw = unicodedata.normalize("NFKC", cell_text(value)).replace(",", "")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise ValueError(_("%(value)s is not a number.") % {"value": raw}) from None
    if not number.is_finite():
        raise ValueError(_("%(value)s is not a number.") % {"value": raw})
    return number


def integer(value) -> int:
    number = decimal(value)
    if number != number.to_integral_value():
        raise ValueError(_("%(value)s is not a whole number.") % {"value": cell_text(value)})
    return int(number)


# --- Loaders and their registry -----------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    parse: Callable = text
    required: bool = True
    blank: bool = False
    aliases: tuple[str, ...] = ()

    def matches(self, header) -> bool:
        wanted = normalize_header(header)
        return wanted == normalize_header(self.header) or any(wanted == normalize_header(a) for a in self.aliases)


@dataclass(frozen=True)
class SheetLoader:
    sheet: str
    order: int
    columns: list[Column]
    apply: Callable
    key: tuple[str, ...] = ()
    sort_key: Callable | None = None
    #: Model field name → column key, for ValidationErrors keyed by a field no column is named after.
    field_columns: dict[str, str] = field(default_factory=dict)

    def column(self, key: str) -> Column | None:
        return next((column for column in self.columns if column.key == key), None)


_REGISTRY: dict[str, SheetLoader] = {}
_discovered = False


def register(loader: SheetLoader) -> SheetLoader:
    """Add (or replace, on re-import) the loader of one sheet."""
    _REGISTRY[normalize_header(loader.sheet)] = loader
    return loader


def registry() -> list[SheetLoader]:
    """Every registered loader in load order (imports each app's reference module on first use)."""
    global _discovered
    if not _discovered:
        autodiscover_modules("reference")
        _discovered = True
    return sorted(_REGISTRY.values(), key=lambda loader: loader.order)


def loader_for(sheet_name: str) -> SheetLoader | None:
    registry()
    return _REGISTRY.get(normalize_header(sheet_name))


# --- Errors, context, report ---------------------------------------------------------------


class RowError(Exception):
    """Raised by a loader's apply(): `column` is a column key (or "" for the whole row)."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass
class LoadError:
    sheet: str
    row: int | None
    column: str
    message: str

    def __str__(self):
        if self.row is None:
            return _("Sheet %(sheet)s: %(message)s") % {"sheet": self.sheet, "message": self.message}
        if not self.column:
            return _("Sheet %(sheet)s, row %(row)d: %(message)s") % {
                "sheet": self.sheet,
                "row": self.row,
                "message": self.message,
            }
        return _("Sheet %(sheet)s, row %(row)d, column %(column)s: %(message)s") % {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class SheetCounts:
    sheet: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class LoadReport:
    errors: list[LoadError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    counts: list[SheetCounts] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class LoadContext:
    def __init__(self, *, actor, reason: str):
        self.actor = actor
        self.reason = reason
        self._caches: dict[str, object] = {}
        self._rejected: dict[tuple[str, tuple], int] = {}

    def cache(self, name: str, build: Callable[[], object]):
        """A lookup built once per load (e.g. every region by code) and kept up to date by the loaders."""
        if name not in self._caches:
            self._caches[name] = build()
        return self._caches[name]

    def reject(self, sheet: str, key: tuple, row: int) -> None:
        self._rejected[(normalize_header(sheet), key)] = row

    def rejected(self, sheet: str, key) -> int | None:
        """The row number of a rejected row of `sheet` with this key, else None."""
        key = key if isinstance(key, tuple) else (key,)
        return self._rejected.get((normalize_header(sheet), key))


# --- Reading files ---------------------------------------------------------------------------


@dataclass
class RawSheet:
    name: str
    header: list
    rows: list[tuple[int, tuple]]  # (row number as the user sees it, cell values)


class UnreadableFile(Exception):
    pass


def read_file(path: Path) -> list[RawSheet]:
    if path.suffix.lower() == ".csv":
        return [_read_csv(path)]
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise UnreadableFile(
            _("%(name)s is neither an .xlsx workbook nor a .csv file; save it as .xlsx (Excel 2007 or later).")
            % {"name": path.name}
        )
    return _read_xlsx(path)


def _read_xlsx(path: Path) -> list[RawSheet]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged or foreign file
        raise UnreadableFile(
            _("%(name)s cannot be read as an Excel workbook (%(error)s).") % {"name": path.name, "error": error}
        ) from error
    try:
        sheets = []
        for worksheet in workbook.worksheets:
            # Some tools write wrong dimensions; recompute them so no column is cut off.
            worksheet.reset_dimensions()
            rows = worksheet.iter_rows(values_only=True)
            header = list(next(rows, ()) or ())
            body = [(number, tuple(values)) for number, values in enumerate(rows, start=2)]
            sheets.append(RawSheet(worksheet.title, header, body))
        return sheets
    finally:
        workbook.close()


def _read_csv(path: Path) -> RawSheet:
    data = path.read_bytes()
    # Excel on Chinese Windows saves CSV in GB18030 (GBK); everything else writes UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            content = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte sequence
        raise UnreadableFile(_("%(name)s is not UTF-8 or GB18030 text.") % {"name": path.name})
    reader = csv.reader(io.StringIO(content))
    header = next(reader, [])
    return RawSheet(CSV_SHEET, header, [(number, tuple(values)) for number, values in enumerate(reader, start=2)])


# --- Loading ---------------------------------------------------------------------------------


@dataclass
class _ParsedRow:
    number: int
    values: dict


def _is_empty(values: Iterable) -> bool:
    return all(cell_text(value) == "" for value in values)


def _parse_sheet(raw: RawSheet, loader: SheetLoader, report: LoadReport, ctx: LoadContext) -> list[_ParsedRow]:
    positions: dict[str, int] = {}
    unknown = []
    for index, header in enumerate(raw.header):
        if cell_text(header) == "":
            continue
        column = next((c for c in loader.columns if c.matches(header)), None)
        if column is None:
            unknown.append(cell_text(header))
        elif column.key in positions:
            report.errors.append(
                LoadError(raw.name, 1, column.header, _("The column appears twice; keep one and delete the other."))
            )
        else:
            positions[column.key] = index
    if unknown:
        report.notices.append(
            _("Sheet %(sheet)s: columns %(columns)s are not used and were ignored.")
            % {"sheet": raw.name, "columns": "、".join(unknown)}
        )
    missing = [column for column in loader.columns if column.required and column.key not in positions]
    for column in missing:
        report.errors.append(
            LoadError(
                raw.name,
                1,
                column.header,
                _("This required column is missing; the first row must hold the headers %(headers)s.")
                % {"headers": "、".join(c.header for c in loader.columns if c.required)},
            )
        )
    if missing:
        return []

    parsed = []
    seen: dict[tuple, int] = {}
    for number, cells in raw.rows:
        if _is_empty(cells):
            continue
        values, failed = {}, False
        for column in loader.columns:
            if column.key not in positions:
                continue
            index = positions[column.key]
            cell = cells[index] if index < len(cells) else None
            if cell_text(cell) == "":
                if not column.blank:
                    report.errors.append(
                        LoadError(raw.name, number, column.header, _("This cell is empty; fill it in."))
                    )
                    failed = True
                values[column.key] = None
                continue
            try:
                values[column.key] = column.parse(cell)
            except (ValueError, ValidationError) as error:
                message = "；".join(error.messages) if isinstance(error, ValidationError) else str(error)
                report.errors.append(LoadError(raw.name, number, column.header, message))
                failed = True
        key = tuple(values.get(name) for name in loader.key) if loader.key else None
        if key is not None and None not in key:
            if key in seen:
                column = loader.column(loader.key[0])
                report.errors.append(
                    LoadError(
                        raw.name,
                        number,
                        column.header,
                        _("%(value)s already appears in row %(row)d; each may appear only once.")
                        % {"value": " / ".join(str(part) for part in key), "row": seen[key]},
                    )
                )
                failed = True
            else:
                seen[key] = number
        if failed:
            if key is not None and None not in key:
                ctx.reject(loader.sheet, key, number)
            continue
        parsed.append(_ParsedRow(number, values))
    return parsed


def _record_validation_error(report, raw_name, loader: SheetLoader, number: int, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            report.errors.append(LoadError(raw_name, number, "", message))
        return
    for name, messages in error.message_dict.items():
        column = loader.column(loader.field_columns.get(name, name))
        for message in messages:
            report.errors.append(LoadError(raw_name, number, column.header if column else "", message))


def load_file(path, *, actor, reason: str = "") -> LoadReport:
    """Load every known sheet of the file; on any error nothing is written. See the module docstring."""
    path = Path(path)
    report = LoadReport()
    ctx = LoadContext(actor=actor, reason=reason or f"load_reference {path.name}")
    sheets = read_file(path)

    plan: list[tuple[SheetLoader, RawSheet, list[_ParsedRow]]] = []
    for raw in sheets:
        loader = loader_for(raw.name)
        if loader is None:
            if raw.header or raw.rows:
                report.notices.append(
                    _("Sheet %(sheet)s is not a reference sheet and was ignored.") % {"sheet": raw.name}
                )
            continue
        if any(existing is loader for existing, _raw, _rows in plan):
            report.errors.append(
                LoadError(
                    raw.name, None, "", _("Two sheets are named %(sheet)s; merge them.") % {"sheet": loader.sheet}
                )
            )
            continue
        plan.append((loader, raw, _parse_sheet(raw, loader, report, ctx)))
    if not plan:
        report.errors.append(
            LoadError(
                path.name,
                None,
                "",
                _("No reference sheet found; name the sheets %(sheets)s.")
                % {"sheets": "、".join(loader.sheet for loader in registry())},
            )
        )
        return report
    plan.sort(key=lambda item: item[0].order)

    with transaction.atomic():
        for loader, raw, rows in plan:
            counts = SheetCounts(raw.name)
            report.counts.append(counts)
            if loader.sort_key is not None:
                rows = sorted(rows, key=lambda row, loader=loader: loader.sort_key(row.values))
            for row in rows:
                try:
                    with transaction.atomic():
                        outcome = loader.apply(row.values, ctx)
                except RowError as error:
                    column = loader.column(error.column)
                    report.errors.append(
                        LoadError(raw.name, row.number, column.header if column else "", error.message)
                    )
                except ValidationError as error:
                    _record_validation_error(report, raw.name, loader, row.number, error)
                except (IntegrityError, DataError) as error:
                    # A rule the database knows and the loader did not check: still name the row.
                    report.errors.append(
                        LoadError(
                            raw.name, row.number, "", _("The database refused this row: %(error)s") % {"error": error}
                        )
                    )
                else:
                    setattr(counts, outcome, getattr(counts, outcome) + 1)
                    continue
                if loader.key:
                    ctx.reject(loader.sheet, tuple(row.values.get(name) for name in loader.key), row.number)
        if report.errors:
            transaction.set_rollback(True)
    # Rows were applied parents first; report the errors in the order of the file.
    sheet_order = {raw.name: index for index, (_loader, raw, _rows) in enumerate(plan)}
    report.errors.sort(key=lambda error: (sheet_order.get(error.sheet, -1), error.row or 0))
    return report
