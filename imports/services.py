"""Roster import: preview (nothing written) and commit (all or nothing) of a township's Excel roster.

The rules live in the services of the register: enterprises.services (bulk_upsert_enterprises),
rectification.services (bulk_propose_classifications) and inspections.services (bulk_record_findings).
This module reads the roster (imports.roster), looks names up inside the user's region, asks those
services what they would do with each row (their plan_* functions, the same checks as the writes) and
records the outcome; on commit it calls their bulk writes in one transaction.
"""

import contextlib
import gzip
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, connections, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from accounts.permissions import Capability, require
from core.bulk import insert_rows
from enterprises import services as enterprise_services
from enterprises.forms import park_scope_region
from enterprises.models import Enterprise
from enterprises.validators import normalize_uscc
from inspections import services as inspection_services
from inspections.choices import AccessArea, Severity
from parks.models import ChemicalPark
from rectification import services as rectification_services
from rectification.choices import CampaignStatus
from rectification.models import Campaign, Classification
from regions.models import Region
from regions.scoping import ALL_REGIONS, scope_region

from . import roster as roster_module
from .models import ImportStatus, RosterImport, RosterImportRow, RowAction
from .roster import Roster, RosterRow, RosterUnreadable, normalise_text

#: Rows above this many are read and imported by the worker (the page shows a progress bar).
DEFAULT_INLINE_MAX_ROWS = 2000
ROW_RECORD_BATCH_SIZE = 1000


def inline_max_rows() -> int:
    return getattr(settings, "IMPORT_INLINE_MAX_ROWS", DEFAULT_INLINE_MAX_ROWS)


class ImportRefused(Exception):
    """The commit was refused (errors remain, already imported, …); the message says why."""

    def __init__(self, message, plan=None):
        super().__init__(message)
        self.plan = plan


# --- The upload ----------------------------------------------------------------------------


def check_upload(file) -> None:
    """Size (settings.UPLOAD_MAX_BYTES) and type by content: an .xlsx workbook, not encrypted.

    Raises ValidationError with one clear message.
    """
    name = getattr(file, "name", "") or ""
    size = getattr(file, "size", None) or 0
    if size == 0:
        raise ValidationError(_("The file %(name)s is empty.") % {"name": name}, code="empty")
    limit = settings.UPLOAD_MAX_BYTES
    if size > limit:
        raise ValidationError(
            _("The file %(name)s is %(size)s; files may be at most %(limit)s.")
            % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(limit)},
            code="too_large",
        )
    try:
        roster_module.open_workbook(file).close()
    except RosterUnreadable as error:
        raise ValidationError(str(error), code="unreadable") from error
    finally:
        file.seek(0)


def file_digest(file) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in iter(lambda: file.read(1 << 20), b""):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def import_region(user):
    """The region an import of this user belongs to (their own); refused for a user without one."""
    require(user, Capability.CHANGE_ENTERPRISE)
    region = scope_region(user)
    if region is None or region is ALL_REGIONS:
        raise PermissionDenied(_("Your account has no region; only a user of a region imports rosters."))
    return region


def campaigns_open_for_import():
    return Campaign.objects.exclude(status=CampaignStatus.CLOSED).order_by("-starts_on", "name")


@transaction.atomic
def start_import(*, file, user, campaign: Campaign) -> RosterImport:
    """Check the upload and keep it as a new import (status "reading the file"); nothing else is written."""
    region = import_region(user)
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError(
            _("The campaign %(campaign)s is closed; no more proposals are taken.") % {"campaign": campaign.name}
        )
    check_upload(file)
    record = RosterImport(
        created_by=user,
        file_name=(getattr(file, "name", "") or "roster.xlsx").rsplit("/", 1)[-1][-255:],
        sha256=file_digest(file),
        size=file.size,
        region=region,
        campaign=campaign,
        status=ImportStatus.PREVIEWING,
    )
    record.file.save(record.file_name, file, save=False)
    record.save()
    return record


def runs_in_worker(record: RosterImport) -> bool:
    """Large files are read and imported by the worker."""
    with record.file.open("rb") as handle:
        try:
            rows = roster_module.count_rows(handle)
        except RosterUnreadable:
            return False  # the inline preview reports it at once
    return rows > inline_max_rows()


# --- Progress --------------------------------------------------------------------------------

_side_connection = None


def _progress_connection():
    """A second connection (autocommit) so the page sees progress made inside the commit's transaction."""
    global _side_connection
    if _side_connection is None:
        default = connections["default"]
        _side_connection = default.__class__(dict(default.settings_dict), alias="imports_progress")
    return _side_connection


def _close_progress_connection() -> None:
    if _side_connection is not None:
        _side_connection.close()


class Progress:
    """Writes the percent done of an import, at most once per percent."""

    def __init__(self, record: RosterImport | None, *, live: bool = False):
        self.record = record
        self.last = -1
        #: Someone watches (the worker runs it): write progress made inside a transaction through a second
        #: connection. Inline runs finish before the page is shown, so they skip that.
        self.live = live

    def __call__(self, percent: float) -> None:
        percent = max(0, min(100, int(percent)))
        if self.record is None or self.record.pk is None or percent == self.last:
            return
        self.last = percent
        self.record.progress = percent
        if not connection.in_atomic_block:
            RosterImport.objects.filter(pk=self.record.pk).update(progress=percent, updated_at=timezone.now())
        elif self.live and connection.vendor != "sqlite":  # SQLite would wait for our own write lock
            side = _progress_connection()
            with side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {RosterImport._meta.db_table} SET progress = %s, updated_at = %s WHERE id = %s",
                    [percent, timezone.now(), self.record.pk],
                )

    def phase(self, start: float, end: float) -> Callable[[int, int], None]:
        """A callback for (done, total) mapped onto start…end percent."""

        def report(done: int, total: int) -> None:
            if total:
                self(start + (end - start) * min(done, total) / total)

        return report


# --- Looking names up inside the user's region ---------------------------------------------


class Lookups:
    """Townships, parks and absorbing enterprises the rows name, found with a few queries per file."""

    def __init__(self, user, roster: Roster):
        self.user = user
        scope = scope_region(user)
        townships = Region.objects.townships().select_related("parent")
        self.own_townships_by_code, self.own_townships_by_name = {}, {}
        self.other_townships = {}
        for township in townships:
            inside = scope is ALL_REGIONS or (scope is not None and scope.contains(township))
            key = normalise_text(township.name)
            if inside:
                self.own_townships_by_code[township.code] = township
                self.own_townships_by_name.setdefault(key, []).append(township)
            else:
                self.other_townships.setdefault(key, township)
                self.other_townships.setdefault(township.code, township)
        park_region = park_scope_region(user)
        parks = ChemicalPark.objects.select_related("township")
        self.own_parks, self.other_parks = {}, {}
        for park in parks:
            inside = park_region is ALL_REGIONS or (park_region is not None and park_region.contains(park.township))
            (self.own_parks if inside else self.other_parks).setdefault(normalise_text(park.name), []).append(park)
        wanted = {row.values["absorbing_enterprise"] for row in roster.rows if row.values.get("absorbing_enterprise")}
        self.absorbers_by_code, self.absorbers_by_name = {}, {}
        if wanted:
            codes = {normalize_uscc(value) for value in wanted}
            visible = Enterprise.objects.visible_to(user).select_related("township")
            for enterprise in visible.filter(uscc__in=codes):
                self.absorbers_by_code[enterprise.uscc] = enterprise
            for enterprise in visible.filter(name__in=wanted):
                self.absorbers_by_name.setdefault(normalise_text(enterprise.name), []).append(enterprise)

    def township(self, value: str):
        """(Region, None) or (None, message)."""
        if value in self.own_townships_by_code:
            return self.own_townships_by_code[value], None
        matches = self.own_townships_by_name.get(value, [])
        if len(matches) == 1:
            return matches[0], None
        if matches:
            codes = "、".join(f"{t.code}（{t.parent.name if t.parent_id else ''}）" for t in matches)
            return None, _(
                "Several townships in your region are called %(name)s; write the 9-digit code instead: %(codes)s."
            ) % {
                "name": value,
                "codes": codes,
            }
        other = self.other_townships.get(value)
        if other is not None:
            return None, _("%(township)s lies outside your region; import only enterprises of your own region.") % {
                "township": other.name
            }
        return None, _(
            "There is no township %(value)s in your region; write its name or 9-digit code as in the register."
        ) % {"value": value}

    def park(self, value: str, *, recognised_for_relocation: bool = False):
        """(ChemicalPark, None) or (None, message)."""
        matches = self.own_parks.get(value, [])
        if len(matches) == 1:
            return matches[0], None
        if matches:
            return None, _("Several parks are called %(name)s; ask the county office to tell them apart.") % {
                "name": value
            }
        if not recognised_for_relocation and value in self.other_parks:
            return None, _("The park %(name)s lies outside your county.") % {"name": value}
        if recognised_for_relocation and len(self.other_parks.get(value, [])) == 1:
            return self.other_parks[value][0], None
        return None, _(
            "There is no chemical park %(name)s in the register; write its name as in the register, or 园区外."
        ) % {"name": value}

    def absorber(self, value: str):
        code = normalize_uscc(value)
        if code in self.absorbers_by_code:
            return self.absorbers_by_code[code], None
        matches = self.absorbers_by_name.get(value, [])
        if len(matches) == 1:
            return matches[0], None
        if matches:
            return None, _("Several enterprises are called %(name)s; enter the credit code instead.") % {"name": value}
        return None, _(
            "No enterprise with the credit code or name %(value)s in your region; the absorbing enterprise must be "
            "registered first."
        ) % {"value": value}


# --- Problems become findings --------------------------------------------------------------

#: The access requirement a problem concerns, by the first keyword found (checked in this order).
AREA_KEYWORDS = [
    (AccessArea.ENVIRONMENT, ("环评", "环保", "排污", "污染", "废水", "废气", "固废", "危废", "噪声", "环境")),
    (AccessArea.LAND, ("用地", "土地", "违建", "违章建筑", "规划")),
    (AccessArea.ENERGY_USE, ("能耗", "节能", "用能")),
    (AccessArea.BUSINESS_REGISTRATION, ("营业执照", "工商", "登记", "注册")),
    (AccessArea.STAFF_QUALIFICATION, ("资质", "持证", "特种作业", "培训", "人员")),
    (AccessArea.TECHNOLOGY_QUALITY, ("工艺", "技术", "质量", "淘汰", "落后")),
    (AccessArea.PROJECT_APPROVAL, ("立项", "审批", "核准", "备案")),
]
#: Without a keyword a problem is a work-safety one (the preview shows the requirement of each).
DEFAULT_AREA = AccessArea.WORK_SAFETY
MAJOR_HAZARD_WORDS = ("重大事故隐患", "重大隐患")
_ENUMERATION = re.compile(r"^\s*(?:[(（]?\d{1,2}[)）.、．]|[一二三四五六七八九十]{1,2}[、.．]|[①-⑳])\s*")


def problem_area(text: str) -> str:
    for area, words in AREA_KEYWORDS:
        if any(word in text for word in words):
            return area
    return DEFAULT_AREA


def split_problems(text: str) -> list[str]:
    """One finding per problem: "1、未取得安全生产许可证；2、环评手续不全" gives two."""
    parts = re.split(r"[；;\n\r]+", text or "")
    problems = []
    for part in parts:
        part = _ENUMERATION.sub("", part).strip(" 。，,")
        if part:
            problems.append(part)
    return problems


# --- The plan ----------------------------------------------------------------------------------

#: Enterprise fields a roster sets (its column names are the keys of roster.COLUMN_HEADERS).
ENTERPRISE_FIELDS = (
    "name",
    "township",
    "park",
    "address",
    "legal_representative",
    "contact_person",
    "contact_phone",
    "kind",
    "size",
    "annual_sales",
    "staff_count",
    "main_products",
    "status",
    "note",
)
CLASSIFICATION_DETAILS = ("deadline", "problems", "destination_park", "absorbing_enterprise", "exclusion_reason")


@dataclass
class RowPlan:
    row: RosterRow
    action: str = RowAction.UNCHANGED
    enterprise_item: enterprise_services.EnterpriseUpsert | None = None
    enterprise_plan: object = None
    proposal_details: dict | None = None
    proposal_plan: object = None
    findings: list = field(default_factory=list)
    #: RowErrors that do not block: imported, but something to check (a park of another township) or needed
    #: before the county submits (a proposal's missing details).
    warnings: list = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.row.number

    @property
    def errors(self) -> list:
        return self.row.errors


@dataclass
class ImportPlan:
    roster: Roster
    rows: list
    #: Enterprises (of rows not in error) to record as surveyed in the campaign: none there yet.
    surveys: list = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for plan in self.rows if plan.action == action)

    @property
    def errors(self) -> list:
        return [error for plan in self.rows for error in plan.errors]

    @property
    def warnings(self) -> list:
        """Warnings of the rows that are imported (a row in error is not: its errors say what to do)."""
        return [warning for plan in self.rows if plan.action != RowAction.ERROR for warning in plan.warnings]

    @property
    def warning_rows(self) -> int:
        return sum(1 for plan in self.rows if plan.action != RowAction.ERROR and plan.warnings)

    @property
    def new_findings(self) -> int:
        return sum(len(plan.findings) for plan in self.rows if plan.action != RowAction.ERROR)


class Labels:
    """Field labels and choice labels, translated once per plan (not once per row)."""

    def __init__(self):
        self.labels, self.choices = {}, {}

    def label(self, model, name: str) -> str:
        key = (model, name)
        if key not in self.labels:
            self.labels[key] = capfirst(str(model._meta.get_field(name).verbose_name))
        return self.labels[key]

    def display(self, model, name: str, value) -> str:
        if value is None or value == "":
            return ""
        key = (model, name)
        if key not in self.choices:
            model_field = model._meta.get_field(name)
            flat = getattr(model_field, "flatchoices", None) if getattr(model_field, "choices", None) else None
            self.choices[key] = {code: str(label) for code, label in flat} if flat else None
        choices = self.choices[key]
        if choices is not None:
            return choices.get(value, str(value))
        if hasattr(value, "name"):
            return value.name
        return str(value)


def _column(roster: Roster, name: str, fallback: str = "uscc") -> str:
    """The header as written for a field (else the fallback's: the credit code for the row as a whole)."""
    return roster.headers.get(name) or roster.headers.get(fallback) or roster.headers["uscc"]


def build_plan(roster: Roster, user, campaign: Campaign, *, lock: bool = False, progress=None) -> ImportPlan:
    """What importing the roster would do, row by row, under the register's own rules."""
    lookups = Lookups(user, roster)
    plans = [RowPlan(row) for row in roster.rows]
    first_row = {}
    for plan in plans:
        row, values = plan.row, plan.row.values
        code = values.get("uscc")
        if code:
            if code in first_row:
                row.error(
                    roster.headers["uscc"],
                    _("The credit code %(code)s also appears in row %(row)d; keep one row per enterprise.")
                    % {"code": code, "row": first_row[code]},
                )
            else:
                first_row[code] = row.number
        data = {"uscc": code}
        for name in ENTERPRISE_FIELDS:
            if name in values:
                data[name] = values[name]
        if values.get("township"):
            township, message = lookups.township(values["township"])
            data["township"] = township
            if message:
                row.error(roster.headers["township"], message)
        if "park" in values:
            data["park"] = None
            if values["park"]:
                park, message = lookups.park(values["park"])
                data["park"] = park
                if message:
                    row.error(roster.headers["park"], message)
        details = None
        if values.get("category"):
            details = {name: values[name] for name in ("deadline", "problems", "exclusion_reason") if name in values}
            if values.get("destination_park"):
                park, message = lookups.park(values["destination_park"], recognised_for_relocation=True)
                details["destination_park"] = park
                if message:
                    row.error(roster.headers["destination_park"], message)
            if values.get("absorbing_enterprise"):
                absorber, message = lookups.absorber(values["absorbing_enterprise"])
                details["absorbing_enterprise"] = absorber
                if message:
                    row.error(roster.headers["absorbing_enterprise"], message)
        elif values.get("deadline") and "category" in roster.headers:
            row.error(
                roster.headers["category"],
                _("A deadline is given but no category; enter the category (关停, 转移, 升级, 重组, 剔除 or 待定)."),
            )
        elif values.get("deadline"):
            row.error(
                roster.headers["deadline"],
                _("A deadline belongs to a classification; add a column 四个一批分类 with the category."),
            )
        plan.proposal_details = details
        if not row.errors:
            plan.enterprise_item = enterprise_services.EnterpriseUpsert(row.number, data)
    if progress:
        progress(1, 4)

    # Enterprises: the register's own checks, row by row, with a fixed number of queries per batch.
    items = [plan.enterprise_item for plan in plans if plan.enterprise_item is not None]
    by_number = {plan.number: plan for plan in plans}
    for outcome in enterprise_services.plan_enterprise_upserts(items, actor=user, lock=lock):
        plan = by_number[outcome.key]
        plan.enterprise_plan = outcome
        plan.enterprise_item = None  # the plan holds what is needed from here on
        for name, messages in outcome.errors.items():
            for message in messages:
                plan.row.error(_column(roster, name), message)
        for name, messages in outcome.warnings.items():
            for message in messages:
                plan.warnings.append(roster_module.RowError(plan.number, _column(roster, name), message))
    if progress:
        progress(2, 4)

    # Classifications for the campaign.
    proposal_items = [
        rectification_services.ProposalItem(
            plan.number, plan.enterprise_plan.enterprise, plan.row.values["category"], plan.proposal_details
        )
        for plan in plans
        if plan.proposal_details is not None and not plan.errors and plan.enterprise_plan is not None
    ]
    if proposal_items:
        for outcome in rectification_services.plan_proposals(proposal_items, campaign, user, lock=lock):
            plan = by_number[outcome.key]
            plan.proposal_plan = outcome
            for name, messages in outcome.errors.items():
                for message in messages:
                    plan.row.error(_column(roster, name or "category", "category"), message)
            for name, messages in outcome.warnings.items():
                for message in messages:
                    # The detail's own column when the file has it, else the category's.
                    column = _column(roster, name, "category")
                    plan.warnings.append(roster_module.RowError(plan.number, column, message))
    if progress:
        progress(3, 4)

    # Problems become findings (the ones the enterprise has not got on record yet).
    today = timezone.localdate()
    finding_items = []
    for plan in plans:
        if plan.errors or plan.enterprise_plan is None or not plan.row.values.get("problems"):
            continue
        deadline = plan.row.values.get("deadline")
        for text in split_problems(plan.row.values["problems"]):
            finding_items.append(
                inspection_services.FindingItem(
                    key=plan.number,
                    enterprise=plan.enterprise_plan.enterprise,
                    area=problem_area(text),
                    description=text,
                    severity=Severity.MAJOR if any(word in text for word in MAJOR_HAZARD_WORDS) else Severity.GENERAL,
                    deadline=deadline if deadline and deadline >= today else None,
                )
            )
    if finding_items:
        for item, messages in inspection_services.plan_findings(finding_items, user):
            plan = by_number[item.key]
            plan.findings.append(item)
            for message in messages:
                plan.row.error(_column(roster, "problems"), message)

    for plan in plans:
        _decide(plan)

    # A roster is a survey (摸排) result: every enterprise it creates or matches counts as surveyed.
    surveys = inspection_services.plan_roster_surveys(
        [plan.enterprise_plan.enterprise for plan in plans if plan.action != RowAction.ERROR],
        campaign,
        user,
        lock=lock,
    )
    if progress:
        progress(4, 4)
    return ImportPlan(roster=roster, rows=plans, surveys=surveys)


def _decide(plan: RowPlan) -> None:
    if plan.errors:
        plan.action = RowAction.ERROR
    elif plan.enterprise_plan.action == enterprise_services.UpsertAction.CREATE:
        plan.action = RowAction.CREATE
    elif plan.enterprise_plan.changes or (plan.proposal_plan and plan.proposal_plan.changes) or plan.findings:
        plan.action = RowAction.UPDATE
    else:
        plan.action = RowAction.UNCHANGED


def _display_changes(plan: RowPlan, labels: Labels) -> list:
    """[[label, old, new], ...] of a row that creates or changes: what the preview tabs show."""
    changes = []
    enterprise_plan = plan.enterprise_plan
    if plan.action == RowAction.CREATE:
        values = plan.row.values
        for name in ENTERPRISE_FIELDS:
            value = getattr(enterprise_plan.enterprise, name) if name in values else None
            if value not in (None, ""):
                changes.append([labels.label(Enterprise, name), "", labels.display(Enterprise, name, value)])
    else:
        for name, (old, new) in enterprise_plan.changes.items():
            if name != "uscc":
                changes.append(
                    [
                        labels.label(Enterprise, name),
                        labels.display(Enterprise, name, old),
                        labels.display(Enterprise, name, new),
                    ]
                )
    proposal = plan.proposal_plan
    if proposal is not None:
        for name, (old, new) in proposal.changes.items():
            changes.append(
                [
                    labels.label(Classification, name),
                    labels.display(Classification, name, old),
                    labels.display(Classification, name, new),
                ]
            )
    for item in plan.findings:
        changes.append([_("New finding (%(area)s)") % {"area": AccessArea(item.area).label}, "", item.description])
    return changes


def _digest(plan: ImportPlan) -> str:
    """A fingerprint of what the plan does, row by row (the commit keeps the preview's row records when equal)."""
    digest = hashlib.sha256()
    for row in plan.rows:
        parts = [
            row.number,
            row.action,
            [[e.column, e.message] for e in row.errors],
            [[w.column, w.message] for w in row.warnings],
        ]
        if row.action != RowAction.ERROR:
            parts.append(sorted((name, str(new)) for name, (_old, new) in row.enterprise_plan.changes.items()))
            if row.proposal_plan is not None:
                parts.append(sorted((name, str(new)) for name, (_old, new) in row.proposal_plan.changes.items()))
            parts.append([item.description for item in row.findings])
        digest.update(json.dumps(parts, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()


def _record_plan(record: RosterImport, plan: ImportPlan, *, keep_rows: bool = False) -> None:
    """Store the counts, the error list and the rows that create, change or fail (in batches)."""
    roster = plan.roster
    record.sheet_name = roster.sheet_name[:100]
    record.header_row = roster.header_row
    record.ignored_columns = roster.ignored_columns
    record.rows_read = roster.rows_read
    record.created_count = plan.count(RowAction.CREATE)
    record.updated_count = plan.count(RowAction.UPDATE)
    record.unchanged_count = plan.count(RowAction.UNCHANGED)
    record.skipped_count = len(roster.skipped)
    record.error_row_count = plan.count(RowAction.ERROR)
    record.findings_count = plan.new_findings
    record.errors = [error.as_dict() for error in plan.errors]
    record.warnings = [warning.as_dict() for warning in plan.warnings]
    record.warning_row_count = plan.warning_rows
    record.surveyed_count = len(plan.surveys)
    digest = _digest(plan)
    if keep_rows and digest == record.plan_digest:
        return
    record.plan_digest = digest
    RosterImportRow.objects.filter(roster_import=record).delete()
    labels = Labels()
    batch = []
    for row in plan.rows:
        error = row.action == RowAction.ERROR
        warnings = [] if error else [{"column": w.column, "message": w.message} for w in row.warnings]
        if row.action not in (RowAction.CREATE, RowAction.UPDATE, RowAction.ERROR) and not warnings:
            continue
        batch.append(
            RosterImportRow(
                roster_import=record,
                row_number=row.number,
                action=row.action,
                uscc=(row.row.values.get("uscc") or "")[:40],
                name=(row.row.values.get("name") or "")[:200],
                changes=[] if error or row.action == RowAction.UNCHANGED else _display_changes(row, labels),
                errors=[{"column": e.column, "message": e.message} for e in row.errors],
                warnings=warnings,
                has_warnings=bool(warnings),
                new_findings=0 if error else len(row.findings),
            )
        )
        if len(batch) >= ROW_RECORD_BATCH_SIZE:
            insert_rows(RosterImportRow, batch)
            batch = []
    insert_rows(RosterImportRow, batch)


def _read(record: RosterImport, progress=None) -> Roster:
    """The roster as the preview read it (kept beside the file), else read from the file."""
    if record.parsed_name:
        try:
            with record.file.storage.open(record.parsed_name, "rb") as handle:
                data = json.loads(gzip.decompress(handle.read()))
            if data.get("sha256") == record.sha256:
                return Roster.from_json(data)
        except (OSError, ValueError, KeyError):
            pass  # gone or from another version: read the file again
    with record.file.open("rb") as handle:
        roster = roster_module.read_roster(handle, progress=progress)
    return roster


def _keep_parsed(record: RosterImport, roster: Roster) -> None:
    data = roster.to_json()
    data["sha256"] = record.sha256
    payload = gzip.compress(json.dumps(data, ensure_ascii=False).encode(), compresslevel=1)
    if record.parsed_name:
        record.file.storage.delete(record.parsed_name)
    record.parsed_name = record.file.storage.save(f"{record.file.name}.rows.json.gz", ContentFile(payload))


# --- Preview -----------------------------------------------------------------------------------


def preview(record: RosterImport, user, *, live: bool = False) -> RosterImport:
    """Read the file and record what importing it would do; nothing in the register is written.

    An unreadable file, or a campaign closed since the upload, leaves the import "failed" with the reason in
    `message`.
    """
    progress = Progress(record, live=live)
    try:
        roster = _read(record, progress=progress.phase(0, 70))
    except RosterUnreadable as error:
        record.status, record.message, record.progress = ImportStatus.FAILED, str(error), 100
        record.save(update_fields=["status", "message", "progress", "updated_at"])
        return record
    _keep_parsed(record, roster)
    try:
        with transaction.atomic():
            plan = build_plan(roster, user, record.campaign, progress=progress.phase(70, 95))
            _record_plan(record, plan)
            record.status, record.message, record.progress = ImportStatus.PREVIEWED, "", 100
            record.save()
    except ValidationError as error:  # the campaign takes no more proposals or surveys (closed meanwhile)
        record.status, record.message, record.progress = ImportStatus.FAILED, " ".join(error.messages), 100
        record.save(update_fields=["status", "message", "progress", "updated_at"])
    finally:
        _close_progress_connection()
    return record


def run_preview(import_id: int) -> str:
    """The worker's preview of a large file."""
    record = RosterImport.objects.select_related("created_by", "campaign").get(pk=import_id)
    if record.status != ImportStatus.PREVIEWING:
        return record.status
    try:
        preview(record, record.created_by, live=True)
    except Exception as error:
        _fail(record, error)
        raise
    return record.status


def _fail(record: RosterImport, error: Exception) -> None:
    RosterImport.objects.filter(pk=record.pk).update(
        status=ImportStatus.FAILED,
        message=_("The import failed: %(error)s") % {"error": error},
        updated_at=timezone.now(),
    )


# --- Commit --------------------------------------------------------------------------------------

COMMITTABLE_STATUSES = (ImportStatus.PREVIEWED, ImportStatus.REFUSED)


def why_not_commit(record: RosterImport, user) -> str | None:
    if record.created_by_id != user.pk:
        return _("Only %(user)s, who uploaded this roster, can import it.") % {"user": record.created_by.display_name}
    if record.status not in COMMITTABLE_STATUSES:
        return _("This import is %(status)s; it cannot be imported now.") % {"status": record.get_status_display()}
    return None


def claim_for_commit(record: RosterImport, user, *, skip_errors: bool) -> None:
    """Mark the import as being imported (once: a second click or a second worker finds it taken)."""
    reason = why_not_commit(record, user)
    if reason:
        raise ImportRefused(reason)
    claimed = RosterImport.objects.filter(pk=record.pk, status__in=COMMITTABLE_STATUSES).update(
        status=ImportStatus.COMMITTING, skip_errors=skip_errors, progress=0, message="", updated_at=timezone.now()
    )
    if not claimed:
        raise ImportRefused(_("This roster is already being imported."))
    record.status, record.skip_errors, record.progress = ImportStatus.COMMITTING, skip_errors, 0


def commit(record: RosterImport, user, *, skip_errors: bool = False, live: bool = False) -> RosterImport:
    """Import the roster: all of it, or (skip_errors) all its valid rows, or nothing.

    The file is read and checked again inside the transaction (the register may have changed since the
    preview). While rows are in error the commit is refused unless `skip_errors`. Every record written
    names `user` and the reason "导入 #<id> <file name>" in its history.
    """
    if record.status != ImportStatus.COMMITTING:
        claim_for_commit(record, user, skip_errors=skip_errors)
    progress = Progress(record, live=live)
    try:
        with transaction.atomic():
            roster = _read(record, progress=progress.phase(0, 40))
            plan = build_plan(roster, user, record.campaign, lock=True, progress=progress.phase(40, 60))
            error_rows = plan.count(RowAction.ERROR)
            if error_rows and not skip_errors:
                raise ImportRefused(
                    _(
                        "%(count)d row(s) are in error; nothing was imported. Correct them and upload the file again, "
                        "or choose to import only the valid rows."
                    )
                    % {"count": error_rows},
                    plan=plan,
                )
            _write(plan, record, user, progress)
            _record_plan(record, plan, keep_rows=True)
            record.status, record.committed_at, record.progress = ImportStatus.COMMITTED, timezone.now(), 100
            record.message = ""
            record.save()
    except ImportRefused as error:
        record.status, record.message, record.progress = ImportStatus.REFUSED, str(error), 0
        with transaction.atomic():
            if error.plan is not None:  # show the errors as they are now (the register may have changed)
                _record_plan(record, error.plan, keep_rows=True)
            record.save()
        raise
    except RosterUnreadable as error:
        RosterImport.objects.filter(pk=record.pk).update(
            status=ImportStatus.FAILED, message=str(error), updated_at=timezone.now()
        )
        record.status, record.message = ImportStatus.FAILED, str(error)
        raise ImportRefused(str(error)) from error
    except ValidationError as error:
        # The register changed between the plan and the write (another user at the same moment).
        message = _(
            "The register changed while importing; nothing was imported. Preview the file again. (%(error)s)"
        ) % {"error": " ".join(error.messages[:3])}
        RosterImport.objects.filter(pk=record.pk).update(
            status=ImportStatus.FAILED, message=message, updated_at=timezone.now()
        )
        record.status, record.message = ImportStatus.FAILED, message
        raise ImportRefused(message) from error
    except IntegrityError as error:
        # Another import or user registered one of these codes at the same moment.
        message = _(
            "Someone else registered some of these enterprises at the same moment; nothing was imported. "
            "Preview the file again."
        )
        RosterImport.objects.filter(pk=record.pk).update(
            status=ImportStatus.FAILED, message=message, updated_at=timezone.now()
        )
        record.status, record.message = ImportStatus.FAILED, message
        raise ImportRefused(message) from error
    except Exception as error:
        _fail(record, error)
        raise
    finally:
        _close_progress_connection()
    return record


def _write(plan: ImportPlan, record: RosterImport, user, progress: Progress) -> None:
    """Write the valid rows with the plans made (under lock) in this same transaction."""
    valid = [row for row in plan.rows if row.action != RowAction.ERROR and row.enterprise_plan is not None]
    reason = record.reason
    enterprise_services.apply_enterprise_upserts([row.enterprise_plan for row in valid], actor=user, reason=reason)
    progress(80)
    proposals = [row.proposal_plan for row in valid if row.proposal_plan is not None]
    if proposals:
        rectification_services.apply_proposals(proposals, user, reason=reason)
    progress(90)
    findings = [(item, []) for row in valid for item in row.findings]
    if findings:
        inspection_services.apply_findings(findings, user, reason=reason)
    if plan.surveys:
        inspection_services.apply_roster_surveys(
            plan.surveys,
            record.campaign,
            user,
            roster_import=record,
            surveyed_on=timezone.localdate(),
            reason=reason,
        )
    progress(99)


def run_commit(import_id: int, user_id: int, skip_errors: bool) -> str:
    """The worker's commit of a large file (already claimed by the page)."""
    record = RosterImport.objects.select_related("created_by", "campaign").get(pk=import_id)
    user = record.created_by if record.created_by_id == user_id else None
    if user is None or record.status != ImportStatus.COMMITTING:
        return record.status
    with contextlib.suppress(ImportRefused):  # recorded on the import (status refused, message)
        commit(record, user, skip_errors=skip_errors, live=True)
    return record.status


def same_file_imports(record: RosterImport):
    """Earlier imports of the same file (by hash) in the region that were committed."""
    return (
        RosterImport.objects.filter(sha256=record.sha256, region=record.region, status=ImportStatus.COMMITTED)
        .exclude(pk=record.pk)
        .order_by("-committed_at")
    )


def hand_to_worker(record, task, *args) -> None:
    """Queue `task` for a large import and remember its id on the record (the page polls the record)."""
    result = task.delay(*args)
    type(record).objects.filter(pk=record.pk).update(task_id=result.id or "", updated_at=timezone.now())
