"""The quarterly supervision report (季度督查通报): figures as of a quarter's last day, the workbook, the notice's
statement, the record.

Figures come from the change history (django-simple-history): for every record the latest historical row
saved before the end of the quarter's last day is its state "as of" then, so a report for a past quarter
gives the same figures when rebuilt after later changes. Each figure is one aggregate query grouped by
township (then added up along the region paths), so the number of queries does not depend on the number
of enterprises, tasks or findings. The workbook is written by openpyxl in write-only mode; the rows of the
overdue-items sheet (tens of thousands at province scale) are streamed from the database straight into that
sheet's XML, so memory stays flat and the build stays close to the time of its SQL (bench/bench_report.py).

Every figure has one definition, written out in `definitions()` (the workbook's notes sheet and the notice):
- enterprises: every enterprise in the register that day, whatever its kind or status;
- surveyed: enterprises with a 摸排 survey in the campaign dated on or before the day (a roster import is one);
- excluded: enterprises whose exclusion (剔除) is approved;
- proposed per batch: decisions in force proposed and not yet approved (proposed, in pre-review, reviewed,
  awaiting the city's approval, returned); a pending change of an approved decision is not counted;
- approved / completed per batch: decisions in force approved (approved … accepted) / accepted (销号);
- target: the targets (责任状) of the campaign's years up to the quarter's year, a region's own or its parts' sum;
- completion rate per batch: completed / that batch's target; overall: over the targeted batches only,
  each batch counting at most its target (rectification.selectors.overall_rate);
- in-park rate (入园进区率): operating or suspended production enterprises in a recognised park / all
  operating or suspended production enterprises (park and its recognition as of the day);
- closure rate (关闭率): production enterprises in scope whose shutdown is accepted / production enterprises
  in scope (surveyed in the campaign, less the excluded);
- tasks / findings overdue, findings opened and closed, the online-monitoring rate: see definitions().
"""

import copy
import datetime
import logging
import re
import secrets
import tempfile
import zipfile
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Max, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from accounts.permissions import Capability, can, require
from core.xlsx import escape_cell
from enterprises.choices import EnterpriseKind, OperatingStatus
from enterprises.models import Enterprise, MajorHazardSource
from enterprises.selectors import hazard_duty_shares_as_of
from inspections.choices import ACTIVE_FINDING_STATES, FindingStatus
from inspections.models import Finding, Survey
from parks.choices import RecognitionStatus
from parks.models import ChemicalPark
from regions.choices import RegionLevel
from regions.models import Region
from regions.scoping import ALL_REGIONS, region_in_scope, scope_region

from .choices import DECIDED_STATES, FOUR_BATCHES, OPEN_PROPOSAL_STATES, Category, ClassificationState, TaskStatus
from .models import Campaign, Classification, ReportStatus, SupervisionReport, Target, Task
from .quarters import Quarter, campaign_quarters, long_date, quarter_label
from .selectors import category_rates, overall_rate

__all__ = ["Quarter", "build_report", "campaign_quarters", "compute_figures", "request_report"]

logger = logging.getLogger(__name__)

S = ClassificationState
OPEN_TASK_STATES = [TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE]
WORKING_STATES = [S.IN_PROGRESS, S.AWAITING_ACCEPTANCE]
ACTIVE_STATUSES = [OperatingStatus.OPERATING, OperatingStatus.SUSPENDED]
#: Keys of figures counted per batch (each a {batch: count} dict in a row).
PER_BATCH = ["proposed", "approved", "completed", "target"]


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


# --- State as of a moment (simple-history) ----------------------------------------------------------


def as_of(model, before: datetime.datetime):
    """Historical rows of `model` giving each record's state just before `before` (deleted records left out).

    The latest historical row per record is the one with the highest history_id among those saved before
    the moment (history ids grow with time). One subquery; the caller filters and aggregates on top.
    """
    history = model.history.model
    latest = (
        history.objects.filter(history_date__lt=before).values("id").annotate(last=Max("history_id")).values("last")
    )
    return history.objects.filter(history_id__in=latest).exclude(history_type="-")


# --- Figures -----------------------------------------------------------------------------------------


def _blank_row(region: Region, depth: int) -> dict:
    return {
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "depth": depth,
        "parent_code": None,
        "enterprises": 0,
        "surveyed": 0,
        "excluded": 0,
        **{key: dict.fromkeys(FOUR_BATCHES, 0) for key in PER_BATCH},
        "has_own_target": False,
        "tasks_overdue": 0,
        "findings_overdue": 0,
        "overdue_units": {},
        "findings_opened": 0,
        "findings_closed": 0,
        "hazard_sources": 0,
        "hazard_monitored": 0,
        "duty_sources": 0,
        "duty_monitoring": 0,
        "duty_video": 0,
        "duty_shutoff_needed": 0,
        "duty_shutoff": 0,
        "production_active": 0,
        "production_in_park": 0,
        "production_in_scope": 0,
        "production_closed": 0,
    }


def _rate(part, whole):
    return round(part / whole, 4) if whole else None


def _rounded(rate):
    return None if rate is None else round(rate, 4)


class _Rollup:
    """Township-level counts added to every region of the scope on the township's path."""

    def __init__(self, regions: list[Region]):
        top = min(r.path.count("/") for r in regions)
        self.rows = {r.code: _blank_row(r, r.path.count("/") - top) for r in regions}
        by_pk = {r.pk: r for r in regions}
        for r in regions:
            parent = by_pk.get(r.parent_id)
            self.rows[r.code]["parent_code"] = parent.code if parent else None
        self.regions = regions

    def add(self, path: str | None, key: str, amount, sub: str | None = None):
        if not path or not amount:
            return
        for code in path.strip("/").split("/"):
            row = self.rows.get(code)
            if row is None:
                continue
            if sub is None:
                row[key] += amount
            else:
                row[key][sub] = row[key].get(sub, 0) + amount


def _current_classifications(campaign: Campaign, before: datetime.datetime):
    return as_of(Classification, before).filter(campaign_id=campaign.pk, is_current=True)


def _classification_counts(rollup: _Rollup, campaign: Campaign, scope: Region, before: datetime.datetime):
    rows = (
        _current_classifications(campaign, before)
        .filter(enterprise__township__path__startswith=scope.path)
        .values("enterprise__township__path", "category")
        .annotate(
            proposed=Count("id", filter=Q(state__in=OPEN_PROPOSAL_STATES)),
            approved=Count("id", filter=Q(state__in=DECIDED_STATES)),
            completed=Count("id", filter=Q(state=S.ACCEPTED)),
        )
        .order_by()
    )
    for row in rows:
        path, category = row["enterprise__township__path"], row["category"]
        if category in FOUR_BATCHES:
            for key in ("proposed", "approved", "completed"):
                rollup.add(path, key, row[key], category)
        elif category == Category.EXCLUDED:
            rollup.add(path, "excluded", row["approved"])


def _targets(rollup: _Rollup, campaign: Campaign, scope: Region, year: int, before: datetime.datetime):
    own = {}
    for row in (
        as_of(Target, before)
        .filter(campaign_id=campaign.pk, year__lte=year, region__path__startswith=scope.path)
        .values("region__code")
        .annotate(**{name: Sum(name) for name in FOUR_BATCHES})
        .order_by()
    ):
        own[row["region__code"]] = {name: row[name] or 0 for name in FOUR_BATCHES}
    # A region's own target, else the sum of its children's (deepest first), as campaign_progress does.
    for region in sorted(rollup.regions, key=lambda r: r.path.count("/"), reverse=True):
        entry = rollup.rows[region.code]
        if region.code in own:
            entry["target"] = dict(own[region.code])
            entry["has_own_target"] = True
        parent = rollup.rows.get(entry["parent_code"]) if entry["parent_code"] else None
        if parent is not None and entry["parent_code"] not in own:
            for name in FOUR_BATCHES:
                parent["target"][name] += entry["target"][name]


def _enterprise_counts(
    rollup: _Rollup, campaign: Campaign, scope: Region, last_day: datetime.date, before: datetime.datetime
):
    """One query over the enterprises as they stood: the register, the surveyed, the in-park and closure rates.

    Kind, status and park are the enterprise's as of the day, and the park's recognition too (a park whose
    recognition was revoked before the day counts as outside); survey, exclusion and accepted shutdown are
    the campaign's records as of the day. Each of these is an uncorrelated IN (SELECT …), which the database
    evaluates once (a correlated EXISTS over the history would be re-run for every enterprise); the rows are
    counted per township and combination of flags, and added up here.
    """

    def flag(condition):
        return ExpressionWrapper(condition, output_field=BooleanField())

    current = _current_classifications(campaign, before)
    recognised_parks = as_of(ChemicalPark, before).filter(recognition_status=RecognitionStatus.RECOGNISED)
    surveyed = as_of(Survey, before).filter(campaign_id=campaign.pk, surveyed_on__lte=last_day)
    excluded = current.filter(category=Category.EXCLUDED, state__in=DECIDED_STATES)
    shut_down = current.filter(category=Category.SHUTDOWN, state=S.ACCEPTED)
    rows = (
        as_of(Enterprise, before)
        .filter(township__path__startswith=scope.path)
        .annotate(
            in_recognised_park=flag(Q(park_id__in=recognised_parks.values("id"))),
            is_surveyed=flag(Q(id__in=surveyed.values("enterprise_id"))),
            is_excluded=flag(Q(id__in=excluded.values("enterprise_id"))),
            is_shut_down=flag(Q(id__in=shut_down.values("enterprise_id"))),
        )
        .values("township__path", "kind", "status", "in_recognised_park", "is_surveyed", "is_excluded", "is_shut_down")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        path, n = row["township__path"], row["n"]
        rollup.add(path, "enterprises", n)
        if row["is_surveyed"]:
            rollup.add(path, "surveyed", n)
        if row["kind"] != EnterpriseKind.PRODUCTION:
            continue
        if row["status"] in ACTIVE_STATUSES:
            rollup.add(path, "production_active", n)
            if row["in_recognised_park"]:
                rollup.add(path, "production_in_park", n)
        if row["is_surveyed"] and not row["is_excluded"]:
            rollup.add(path, "production_in_scope", n)
            if row["is_shut_down"]:
                rollup.add(path, "production_closed", n)


def _working_classifications(campaign: Campaign, before: datetime.datetime):
    return as_of(Classification, before).filter(campaign_id=campaign.pk, state__in=WORKING_STATES).values("id")


def overdue_tasks_as_of(campaign: Campaign, scope: Region, last_day: datetime.date, before: datetime.datetime):
    return as_of(Task, before).filter(
        status__in=OPEN_TASK_STATES,
        deadline__lte=last_day,
        plan__classification_id__in=_working_classifications(campaign, before),
        plan__classification__enterprise__township__path__startswith=scope.path,
    )


def overdue_findings_as_of(scope: Region, last_day: datetime.date, before: datetime.datetime):
    return (
        as_of(Finding, before)
        .annotate(target_path=Coalesce(F("enterprise__township__path"), F("park__township__path")))
        .filter(status__in=ACTIVE_FINDING_STATES, deadline__lte=last_day, target_path__startswith=scope.path)
    )


def _task_lead_unit(department, region) -> str:
    return department or (_("%(region)s government") % {"region": region} if region else "")


def _finish_row(row: dict, previous: dict) -> dict:
    """Totals and rates of one region's row (and the change against the previous quarter's end)."""
    for key in PER_BATCH:
        row[f"{key}_total"] = sum(row[key].values())
    row["rates"] = {name: _rounded(rate) for name, rate in category_rates(row["completed"], row["target"]).items()}
    row["completion_rate"] = _rounded(overall_rate(row["completed"], row["target"]))
    row["monitoring_rate"] = _rate(row["hazard_monitored"], row["hazard_sources"])
    row["duty_monitoring_rate"] = _rate(row["duty_monitoring"], row["duty_sources"])
    row["duty_video_rate"] = _rate(row["duty_video"], row["duty_sources"])
    row["duty_shutoff_rate"] = _rate(row["duty_shutoff"], row["duty_shutoff_needed"])
    row["in_park_rate"] = _rate(row["production_in_park"], row["production_active"])
    row["closure_rate"] = _rate(row["production_closed"], row["production_in_scope"])
    prev_completed = sum(previous["completed"].values())
    prev_rate = _rounded(overall_rate(previous["completed"], previous["target"]))
    row["previous_completed_total"] = prev_completed
    row["previous_completion_rate"] = prev_rate
    row["change_completed"] = row["completed_total"] - prev_completed
    row["change_rate"] = (
        round(row["completion_rate"] - prev_rate, 4)
        if row["completion_rate"] is not None and prev_rate is not None
        else None
    )
    row["overdue_units"] = sorted(row["overdue_units"].items(), key=lambda item: (-item[1], item[0]))
    return row


def compute_figures(
    campaign: Campaign, scope: Region, quarter: Quarter, as_of_day: datetime.date | None = None
) -> dict:
    """Every figure of the report for `scope` and the regions below it, as of the quarter's last day (or
    `as_of_day` for a quarter still running). A fixed number of aggregate queries whatever the data size."""
    last_day = min(quarter.last_day, as_of_day) if as_of_day else quarter.last_day
    before = _day_start(last_day + datetime.timedelta(days=1))
    quarter_start = _day_start(quarter.first_day)
    regions = list(Region.objects.in_region(scope).order_by("path"))
    rollup = _Rollup(regions)

    _enterprise_counts(rollup, campaign, scope, last_day, before)
    _classification_counts(rollup, campaign, scope, before)
    _targets(rollup, campaign, scope, quarter.year, before)

    units_total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in (
        overdue_tasks_as_of(campaign, scope, last_day, before)
        .values("plan__classification__enterprise__township__path", "lead_department__name", "lead_region__name")
        .annotate(n=Count("id"))
        .order_by()
    ):
        path = row["plan__classification__enterprise__township__path"]
        unit = _task_lead_unit(row["lead_department__name"], row["lead_region__name"])
        rollup.add(path, "tasks_overdue", row["n"])
        rollup.add(path, "overdue_units", row["n"], unit)
        units_total[unit][0] += row["n"]

    for row in (
        overdue_findings_as_of(scope, last_day, before)
        .values("target_path", "responsible_department__name", "responsible_unit")
        .annotate(n=Count("id"))
        .order_by()
    ):
        unit = row["responsible_department__name"] or row["responsible_unit"] or _("(no responsible unit)")
        rollup.add(row["target_path"], "findings_overdue", row["n"])
        rollup.add(row["target_path"], "overdue_units", row["n"], unit)
        units_total[unit][1] += row["n"]

    finding_history = Finding.history.model.objects.annotate(
        target_path=Coalesce(F("enterprise__township__path"), F("park__township__path"))
    ).filter(target_path__startswith=scope.path)
    for row in (
        finding_history.filter(history_type="+", created_at__gte=quarter_start, created_at__lt=before)
        .values("target_path")
        .annotate(n=Count("id", distinct=True))
        .order_by()
    ):
        rollup.add(row["target_path"], "findings_opened", row["n"])
    for row in (
        finding_history.filter(
            status=FindingStatus.CLOSED, verified_at__gte=quarter_start, verified_at__lt=before, history_date__lt=before
        )
        .values("target_path")
        .annotate(n=Count("id", distinct=True))
        .order_by()
    ):
        rollup.add(row["target_path"], "findings_closed", row["n"])

    for row in (
        as_of(MajorHazardSource, before)
        .filter(enterprise__township__path__startswith=scope.path)
        .values("enterprise__township__path")
        .annotate(total=Count("id"), monitored=Count("id", filter=Q(online_monitoring=True)))
        .order_by()
    ):
        rollup.add(row["enterprise__township__path"], "hazard_sources", row["total"])
        rollup.add(row["enterprise__township__path"], "hazard_monitored", row["monitored"])
    # The duties of major hazard sources (GB 18218-2018 graded; seed 000): monitoring, video, emergency shut-off.
    for path, counts in hazard_duty_shares_as_of(scope.path, before).items():
        rollup.add(path, "duty_sources", counts["sources"])
        rollup.add(path, "duty_monitoring", counts["monitored"])
        rollup.add(path, "duty_video", counts["video"])
        rollup.add(path, "duty_shutoff_needed", counts["shutoff_needed"])
        rollup.add(path, "duty_shutoff", counts["shutoff"])

    # The previous quarter: completed and target as they stood at its end, for the change column.
    previous = quarter.previous()
    previous_rollup = _Rollup(regions)
    previous_before = _day_start(previous.last_day + datetime.timedelta(days=1))
    _classification_counts(previous_rollup, campaign, scope, previous_before)
    _targets(previous_rollup, campaign, scope, previous.year, previous_before)

    rows = [_finish_row(rollup.rows[region.code], previous_rollup.rows[region.code]) for region in regions]
    return {
        "campaign": campaign.name,
        "campaign_id": campaign.pk,
        "quarter": str(quarter),
        "previous_quarter": str(previous),
        "first_day": quarter.first_day.isoformat(),
        "as_of": last_day.isoformat(),
        "region": {"code": scope.code, "name": scope.name, "level": scope.level},
        "categories": list(FOUR_BATCHES),
        "rows": rows,
        "overdue_units": sorted(
            ([unit, tasks, findings] for unit, (tasks, findings) in units_total.items()),
            key=lambda item: (-(item[1] + item[2]), item[0]),
        ),
    }


# --- What people read: percentages, the statement, the definitions ----------------------------------


def percent(rate) -> str:
    """A rate as documents write it: 39.0% (one decimal); a dash where there is no rate."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def category_label(category: str) -> str:
    return str(Category(category).label)


def _batch_list(counts: dict, whole: int) -> str:
    """关停19004家（占70.0%）、升级7798家（占28.7%） — the batches with any count, each with its share."""
    items = [
        _("%(batch)s %(count)s (%(share)s)")
        % {"batch": category_label(name), "count": counts[name], "share": percent(_rate(counts[name], whole))}
        for name in FOUR_BATCHES
        if counts[name]
    ]
    return pgettext("list separator", ", ").join(items)


def statement(row: dict, *, region_name: str, as_of_day: datetime.date, target_year: int) -> list[str]:
    """The notice's opening, in the form of the provincial summary (seed 002): 共摸排X家，经精准识别剔除Y家，
    纳入整治Z家，其中关停A家（占B%）…

    Mid-campaign it says what each number is: 纳入整治 counts the decisions approved by the city (the
    batch is decided), 完成整治 those whose acceptance passed (验收销号); each share is of its own total.
    Proposals still awaiting approval are named apart, then the overall completion rate.
    """
    approved = row["approved_total"]
    opening = _(
        "As of %(date)s, %(region)s has surveyed %(surveyed)s enterprises in all; after precise identification "
        "%(excluded)s were excluded and %(approved)s were taken into the rectification (batch approved)"
    ) % {
        "date": long_date(as_of_day),
        "region": region_name,
        "surveyed": row["surveyed"],
        "excluded": row["excluded"],
        "approved": approved,
    }
    if approved:
        opening = _("%(sentence)s, of which %(batches)s.") % {
            "sentence": opening,
            "batches": _batch_list(row["approved"], approved),
        }
    else:
        opening = _("%(sentence)s.") % {"sentence": opening}
    sentences = [opening]
    completed = row["completed_total"]
    if completed:
        sentences.append(
            _("%(completed)s have completed their rectification (accepted and closed), of which %(batches)s.")
            % {"completed": completed, "batches": _batch_list(row["completed"], completed)}
        )
    else:
        sentences.append(_("No rectification has been accepted and closed yet."))
    if row["proposed_total"]:
        sentences.append(
            _("The batch of another %(proposed)s enterprises has been proposed and awaits approval.")
            % {"proposed": row["proposed_total"]}
        )
    if row["completion_rate"] is not None:
        sentences.append(
            _("Against the targets up to %(year)s the overall completion rate is %(rate)s.")
            % {"year": target_year, "rate": percent(row["completion_rate"])}
        )
    return sentences


def definitions() -> list[str]:
    """How each figure is counted (the workbook's notes sheet and the notice)."""
    return [
        _(
            "Figures are as of the end of the quarter's last day (for the quarter still running, the day the "
            "report is built), from the change history of each record: a report of a past quarter keeps its figures."
        ),
        _("Enterprises: every enterprise in the register on that day, whatever its kind or operating status."),
        _(
            "Surveyed (摸排): enterprises with a survey in the campaign dated on or before that day; an imported "
            "township roster counts as a survey."
        ),
        _("Excluded (剔除): enterprises whose exclusion after precise identification has been approved."),
        _(
            "Proposed: enterprises whose batch has been proposed but not yet approved by the city (proposed by the "
            "township, in pre-review, awaiting approval or returned). A proposed change of an approved decision is "
            "not counted: the approved decision counts until the change is approved."
        ),
        _(
            "Approved: decisions approved by the city and in force (approved, being rectified, awaiting acceptance "
            "or accepted); they include the completed ones. The statement's 纳入整治 is this figure."
        ),
        _(
            "Completed: approved decisions whose acceptance has passed (验收销号). The statement's 完成整治 is this figure."
        ),
        _(
            "Target: the targets (责任状) of the campaign's years up to the quarter's year; a region's own target, "
            "else the sum of the targets of the regions below it."
        ),
        _("Completion rate of a batch: completed ÷ that batch's target; none where the batch has no target."),
        _(
            "Overall completion rate: over the batches that have a target only — the completed of each targeted "
            "batch, at most its target, ÷ the sum of those targets. Completions in a batch without a target, or "
            "beyond a batch's target, do not count."
        ),
        _("Change since last quarter: completed and overall completion rate against the end of the previous quarter."),
        _("Shares in the statement: each batch ÷ the approved (纳入整治) or the completed (完成整治) total."),
        _("Tasks overdue: open tasks of classifications being rectified whose deadline has passed."),
        _("Findings overdue: findings still waiting for the responsible unit whose deadline has passed."),
        _("Findings opened / closed: findings recorded / verified and closed during the quarter."),
        _("Online-monitoring rate: major hazard sources connected to online monitoring ÷ all major hazard sources."),
        _(
            "Duties of major hazard sources (GB 18218-2018): of the sources that are major by their inventory (S ≥ 1; "
            "or filed as major where the inventory cannot tell) at operating or suspended enterprises, the share "
            "with automated monitoring and the share transmitting video to the park's platform; of those holding "
            "toxic gases, highly toxic liquids or flammable gases, the share with emergency shut-off."
        ),
        _(
            "In-park rate (入园进区率): operating or suspended production enterprises in a recognised (认定) chemical "
            "park ÷ all operating or suspended production enterprises. Trading, storage and other kinds are not "
            "counted; a park pending recognition or revoked counts as outside; an accepted relocation counts in "
            "its destination park."
        ),
        _(
            "Closure rate (关闭率): production enterprises in scope whose shutdown has been accepted ÷ production "
            "enterprises in scope at the campaign's start, i.e. surveyed in the campaign less those excluded."
        ),
    ]


# --- Workbook ----------------------------------------------------------------------------------------

THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
COUNT_FORMAT = "#,##0"
RATE_FORMAT = "0.0%"
CHANGE_FORMAT = "+0.0%;-0.0%;0.0%"


def summary_columns() -> list[tuple[str, str, int]]:
    """(header, key, width) of the summary and county sheets; keys name a row's figure ("approved.shutdown" is
    row["approved"]["shutdown"])."""
    columns = [
        (_("Region"), "name", 14),
        (_("Enterprises in the register"), "enterprises", 9),
        (_("Surveyed"), "surveyed", 8),
        (_("Excluded"), "excluded", 8),
    ]
    for name in FOUR_BATCHES:
        batch = {"batch": category_label(name)}
        columns += [
            (_("%(batch)s: proposed, awaiting approval") % batch, f"proposed.{name}", 9),
            (_("%(batch)s: approved") % batch, f"approved.{name}", 8),
            (_("%(batch)s: completed") % batch, f"completed.{name}", 8),
            (_("%(batch)s: target") % batch, f"target.{name}", 8),
            (_("%(batch)s: completion rate") % batch, f"rates.{name}", 9),
        ]
    columns += [
        (_("Proposed, awaiting approval: total"), "proposed_total", 9),
        (_("Approved: total"), "approved_total", 8),
        (_("Completed: total"), "completed_total", 8),
        (_("Target: total"), "target_total", 8),
        (_("Overall completion rate (targeted batches)"), "completion_rate", 10),
        (_("Change since last quarter"), "change_rate", 10),
        (_("Tasks overdue"), "tasks_overdue", 8),
        (_("Findings overdue"), "findings_overdue", 8),
        (_("Findings opened in the quarter"), "findings_opened", 9),
        (_("Findings closed in the quarter"), "findings_closed", 9),
        (_("Online-monitoring rate of major hazard sources"), "monitoring_rate", 11),
        (_("Major hazard sources held to the duties"), "duty_sources", 9),
        (_("… share with automated monitoring"), "duty_monitoring_rate", 10),
        (_("… share with video to the park's platform"), "duty_video_rate", 10),
        (_("Share with emergency shut-off (of those needing it)"), "duty_shutoff_rate", 11),
        (_("Production enterprises operating or suspended"), "production_active", 10),
        (_("… of which in a recognised park"), "production_in_park", 10),
        (_("In-park rate"), "in_park_rate", 9),
        (_("Production enterprises in scope (surveyed less excluded)"), "production_in_scope", 11),
        (_("… of which shutdown accepted"), "production_closed", 10),
        (_("Closure rate"), "closure_rate", 9),
        (_("Overdue lead units"), "overdue_units", 40),
    ]
    return columns


def _is_rate(key: str) -> bool:
    return key.endswith("_rate") or key.startswith("rates.")


def _value(row: dict, key: str):
    if "." in key:
        outer, inner = key.split(".", 1)
        value = row[outer][inner]
    else:
        value = row[key]
    if key == "overdue_units":
        return "；".join(f"{unit} {n}" for unit, n in value)
    if value is None and _is_rate(key):
        return "—"  # no target (or nothing to count): a dash, not an empty cell or 0 %
    return value


def _number_format(key: str) -> str | None:
    if _is_rate(key):
        return CHANGE_FORMAT if key == "change_rate" else RATE_FORMAT
    if key in ("name", "overdue_units"):
        return None
    return COUNT_FORMAT


_STYLE_CACHE_ATTRIBUTE = "_report_styles"


def _cell(sheet, value, *, bold=False, size=None, fill=None, number_format=None, border=False, wrap=False):
    """A styled cell. Styles are registered with the workbook once per combination and then copied: setting
    fonts and fills cell by cell hashes them every time, which dominates the time of a large sheet."""
    cell = WriteOnlyCell(sheet, value=escape_cell(value))
    key = (bold, size, id(fill) if fill is not None else None, number_format, border, wrap)
    cache = getattr(sheet.parent, _STYLE_CACHE_ATTRIBUTE, None)
    if cache is None:
        cache = {}
        setattr(sheet.parent, _STYLE_CACHE_ATTRIBUTE, cache)
    style = cache.get(key)
    if style is None:
        if bold or size:
            cell.font = Font(bold=bold, size=size or 11)
        if fill is not None:
            cell.fill = fill
        if number_format:
            cell.number_format = number_format
        if border:
            cell.border = BORDER
        if wrap:
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        cache[key] = copy.copy(cell._style)
    else:
        cell._style = copy.copy(style)
    return cell


def _table_sheet(workbook, title: str, heading: str, subtitle: str, rows: list[dict], total: dict, *, chart=False):
    """A printable sheet: title, subtitle, Chinese headers, one row per region, a totals row."""
    sheet = workbook.create_sheet(title=title[:31])
    columns = summary_columns()
    for index, (_header, _key, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "B5"
    sheet.print_title_rows = "4:4"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.append([_cell(sheet, heading, bold=True, size=14)])
    sheet.append([_cell(sheet, subtitle)])
    sheet.append([])
    sheet.append(
        [_cell(sheet, header, bold=True, fill=HEADER_FILL, border=True, wrap=True) for header, _k, _w in columns]
    )
    for row in rows:
        sheet.append(
            [_cell(sheet, _value(row, key), number_format=_number_format(key), border=True) for _h, key, _w in columns]
        )
    total_row = dict(total, name=_("Total"))
    sheet.append(
        [
            _cell(
                sheet,
                _value(total_row, key),
                bold=True,
                fill=TOTAL_FILL,
                number_format=_number_format(key),
                border=True,
            )
            for _h, key, _w in columns
        ]
    )
    if chart and rows:
        rate_column = [key for _h, key, _w in columns].index("completion_rate") + 1
        bar = BarChart()
        bar.type = "col"
        bar.title = _("Completion rate by region")
        bar.y_axis.number_format = RATE_FORMAT
        bar.y_axis.title = _("Completion rate")
        bar.legend = None
        bar.height, bar.width = 8, 18
        data = Reference(sheet, min_col=rate_column, min_row=4, max_row=4 + len(rows))
        categories = Reference(sheet, min_col=1, min_row=5, max_row=4 + len(rows))
        bar.add_data(data, titles_from_data=True)
        bar.set_categories(categories)
        sheet.add_chart(bar, f"A{len(rows) + 8}")
    return sheet


def overdue_item_rows(campaign: Campaign, scope: Region, last_day: datetime.date, before: datetime.datetime):
    """The overdue tasks and findings one by one (streamed: two queries however many)."""
    tasks = (
        overdue_tasks_as_of(campaign, scope, last_day, before)
        .order_by("plan__classification__enterprise__township__path", "deadline", "id")
        .values_list(
            "plan__classification__enterprise__township__parent__name",
            "plan__classification__enterprise__township__name",
            "plan__classification__enterprise__name",
            "description",
            "deadline",
            "lead_department__name",
            "lead_region__name",
            "responsible_person",
        )
    )
    task_kind = _("Task")
    for county, township, enterprise, description, deadline, department, region, person in tasks.iterator(
        chunk_size=2000
    ):
        yield (
            county,
            township,
            enterprise,
            task_kind,
            description,
            deadline,
            (last_day - deadline).days,
            _task_lead_unit(department, region),
            person,
        )
    findings = (
        overdue_findings_as_of(scope, last_day, before)
        .annotate(
            county_name=Coalesce(F("enterprise__township__parent__name"), F("park__township__parent__name")),
            township_name=Coalesce(F("enterprise__township__name"), F("park__township__name")),
            target_name=Coalesce(F("enterprise__name"), F("park__name")),
        )
        .order_by("target_path", "deadline", "id")
        .values_list(
            "county_name",
            "township_name",
            "target_name",
            "description",
            "deadline",
            "responsible_department__name",
            "responsible_unit",
        )
    )
    finding_kind = _("Finding")
    for county, township, target, description, deadline, department, unit in findings.iterator(chunk_size=2000):
        yield (
            county,
            township,
            target,
            finding_kind,
            description,
            deadline,
            (last_day - deadline).days,
            department or unit,
            "",
        )


def overdue_columns() -> list[tuple[str, int]]:
    return [
        (_("County"), 10),
        (_("Township"), 12),
        (_("Enterprise or park"), 28),
        (pgettext("overdue item", "Kind"), 8),
        (_("Item"), 48),
        (_("Deadline"), 11),
        (_("Days overdue"), 8),
        (_("Lead unit"), 24),
        (_("Responsible person"), 12),
    ]


def report_heading(figures: dict, region_name: str) -> str:
    """The workbook's title: 示范市化工企业“四个一批”专项整治行动2026年第三季度督查通报统计表."""
    return _("%(region)s · %(campaign)s · quarterly supervision report, %(quarter)s") % {
        "region": region_name,
        "campaign": figures["campaign"],
        "quarter": quarter_label(figures["quarter"]),
    }


def document_line(document: dict | None) -> str:
    """发文单位、文号、日期 as one line (the workbook's notes); empty parts left out."""
    if not document:
        return ""
    parts = []
    if document.get("issuing_office"):
        parts.append(_("Issued by %(office)s") % {"office": document["issuing_office"]})
    if document.get("document_number"):
        parts.append(document["document_number"])
    if document.get("issued_on"):
        parts.append(long_date(document["issued_on"]))
    return pgettext("list separator", ", ").join(parts)


def write_workbook(
    file, figures: dict, campaign: Campaign, scope: Region, on_progress=None, document: dict | None = None
) -> int:
    """Write the report's workbook to `file`; returns the number of overdue items listed. `document`: the
    notice's issuing_office, document_number and issued_on, named on the notes sheet."""
    rows = figures["rows"]
    by_code = {row["code"]: row for row in rows}
    total = by_code[scope.code]
    heading = report_heading(figures, scope.name)
    as_of_day = datetime.date.fromisoformat(figures["as_of"])
    subtitle = _("Figures as of %(date)s (compared with the end of %(previous)s). Built %(built)s.") % {
        "date": long_date(as_of_day),
        "previous": quarter_label(figures["previous_quarter"]),
        "built": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
    }
    workbook = Workbook(write_only=True)
    children = [row for row in rows if row["parent_code"] == scope.code]
    _table_sheet(workbook, _("Summary"), heading, subtitle, children or [total], total, chart=True)
    if on_progress:
        on_progress(75)
    counties = [row for row in rows if row["level"] == RegionLevel.COUNTY]
    for county in counties:
        townships = [row for row in rows if row["parent_code"] == county["code"]]
        county_heading = f"{heading} · {county['name']}"
        _table_sheet(workbook, county["name"], county_heading, subtitle, townships, county)

    sheet = workbook.create_sheet(title=_("Overdue items")[:31])
    columns = overdue_columns()
    for index, (_header, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.append([_cell(sheet, header, bold=True, fill=HEADER_FILL, border=True, wrap=True) for header, _w in columns])
    last_day = datetime.date.fromisoformat(figures["as_of"])
    before = _day_start(last_day + datetime.timedelta(days=1))
    items = overdue_item_rows(campaign, scope, last_day, before)
    # openpyxl writes the header and the first item (so the sheet's layout and the date style are its own);
    # the other items are streamed into that sheet's XML afterwards (see _stream_rows_into_sheet).
    first = next(items, None)
    if first is not None:
        sheet.append([escape_cell(value) for value in first])
    detail_sheet_number = len(workbook.worksheets)
    notes = workbook.create_sheet(title=_("Notes")[:31])
    notes.column_dimensions["A"].width = 110
    notes.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    notes.append([_cell(notes, heading, bold=True, size=12)])
    line = document_line(document)
    if line:
        notes.append([_cell(notes, line)])
    notes.append([])
    notes.append([_cell(notes, _("Overall progress"), bold=True)])
    quarter = Quarter.parse(figures["quarter"])
    for sentence in statement(total, region_name=scope.name, as_of_day=as_of_day, target_year=quarter.year):
        notes.append([_cell(notes, sentence, wrap=True)])
    notes.append([])
    notes.append([_cell(notes, _("How the figures are counted"), bold=True)])
    for definition in definitions():
        notes.append([_cell(notes, definition, wrap=True)])
    if first is None:
        workbook.save(file)
        return 0
    with tempfile.TemporaryFile(suffix=".xlsx") as staged:
        workbook.save(staged)
        staged.seek(0)
        return 1 + _stream_rows_into_sheet(staged, file, f"xl/worksheets/sheet{detail_sheet_number}.xml", items)


_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DATE_STYLE = re.compile(r'<c r="F2" s="(\d+)"')


def _xml_text(value: str) -> str:
    value = _ILLEGAL_XML.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _stream_rows_into_sheet(source, target, sheet_path: str, items) -> int:
    """Copy the xlsx `source` to `target`, appending `items` (rows from the third on) to one sheet's data.

    openpyxl spends some 20 µs per cell even in write-only mode, which at province scale (tens of thousands
    of overdue items) is most of the report's time; these rows are plain values written as inline strings,
    numbers and dates (in the date style openpyxl gave the first item), so the XML is produced directly.
    Returns the number of rows appended. Values are escaped like every other cell (core.xlsx.escape_cell).
    """
    count = 0
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as output:
        for info in original.infolist():
            data = original.read(info.filename)
            if info.filename != sheet_path:
                output.writestr(info, data)
                continue
            xml = data.decode("utf-8")
            head, tail = xml.split("</sheetData>", 1)
            # The dimension is an optional hint; the one openpyxl wrote covers only its rows.
            head = re.sub(r"<dimension [^>]*/>", "", head, count=1)
            date_style = _DATE_STYLE.search(head)
            date_attribute = f' s="{date_style.group(1)}"' if date_style else ""
            streamed = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            streamed.compress_type = zipfile.ZIP_DEFLATED
            with output.open(streamed, "w", force_zip64=True) as stream:
                stream.write(head.encode("utf-8"))
                buffer = []
                for number, item in enumerate(items, start=3):
                    cells = []
                    for column, value in zip(_COLUMN_LETTERS, item, strict=False):
                        value = escape_cell(value)
                        reference = f"{column}{number}"
                        if value is None or value == "":
                            continue
                        if isinstance(value, bool):
                            cells.append(f'<c r="{reference}" t="b"><v>{int(value)}</v></c>')
                        elif isinstance(value, datetime.date):
                            serial = (value - EXCEL_EPOCH).days
                            cells.append(f'<c r="{reference}"{date_attribute}><v>{serial}</v></c>')
                        elif isinstance(value, (int, float)):
                            cells.append(f'<c r="{reference}"><v>{value}</v></c>')
                        else:
                            text = _xml_text(str(value))
                            cells.append(
                                f'<c r="{reference}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
                            )
                    buffer.append(f'<row r="{number}">{"".join(cells)}</row>')
                    count += 1
                    if len(buffer) >= 1000:
                        stream.write("".join(buffer).encode("utf-8"))
                        buffer = []
                stream.write("".join(buffer).encode("utf-8"))
                stream.write(("</sheetData>" + tail).encode("utf-8"))
    return count


_COLUMN_LETTERS = [get_column_letter(index) for index in range(1, 27)]
#: Day 0 of Excel's 1900 date system as openpyxl writes it (serial 1 = 1900-01-01, with the 1900 leap-year bug).
EXCEL_EPOCH = datetime.date(1899, 12, 30)


# --- The report record -------------------------------------------------------------------------------


def report_regions_for(user):
    """Regions the user may request a report for: their own and the counties below (or every city/county)."""
    return Region.objects.visible_to(user).filter(level__in=[RegionLevel.CITY, RegionLevel.COUNTY]).order_by("path")


def reports_within_reach(user) -> bool:
    """True when a quarterly report can lie in the user's scope: reports are built for cities and counties, so a
    township officer's scope holds none (the navigation leaves the page out, the page says why)."""
    if not can(user, Capability.VIEW_REGISTER):
        return False
    region = scope_region(user)
    return region is ALL_REGIONS or (region is not None and region.level != RegionLevel.TOWNSHIP)


#: Brackets people type around a document number's year, written as the standard's 六角括号: 〔2026〕.
_YEAR_BRACKETS = re.compile(r"[\[(（【〔［]\s*(\d{4})\s*[\])）】〕］]")
_NUMBER_IN_DOCUMENT = re.compile(r"〔(\d{4})〕\s*(\d+)\s*号")


def normalize_document_number(text: str) -> str:
    """临化治办[2026]12号 → 临化治办〔2026〕12号 (GB/T 9704: the year in 六角括号); spaces trimmed."""
    text = re.sub(r"\s+", "", text or "")
    return _YEAR_BRACKETS.sub(lambda match: f"〔{match.group(1)}〕", text)


def suggested_document_number(year: int) -> str:
    """The next document number of the year under the prefix from settings: 化治办〔2026〕13号 after 12号."""
    prefix = f"{settings.REPORT_DOCUMENT_PREFIX}〔{year}〕"
    used = [0]
    for number in SupervisionReport.objects.filter(document_number__startswith=prefix).values_list(
        "document_number", flat=True
    ):
        match = _NUMBER_IN_DOCUMENT.search(number)
        if match:
            used.append(int(match.group(2)))
    return f"{prefix}{max(used) + 1}号"


def check_quarter(campaign: Campaign, quarter: Quarter, today: datetime.date | None = None) -> None:
    """A report covers a quarter of the campaign's period that has started."""
    today = today or timezone.localdate()
    if quarter.first_day > today:
        raise ValidationError({"quarter": _("%(quarter)s has not started yet.") % {"quarter": quarter.label()}})
    if quarter.last_day < campaign.starts_on or quarter.first_day > campaign.ends_on:
        raise ValidationError(
            {
                "quarter": _("%(quarter)s lies outside the campaign's period (%(start)s to %(end)s).")
                % {
                    "quarter": quarter.label(),
                    "start": long_date(campaign.starts_on),
                    "end": long_date(campaign.ends_on),
                }
            }
        )


def request_report(
    *,
    actor,
    campaign: Campaign,
    quarter: str,
    region: Region,
    issuing_office: str | None = None,
    document_number: str | None = None,
    issued_on: datetime.date | None = None,
) -> SupervisionReport:
    """Record a request (status queued); the caller enqueues the build after the commit.

    `quarter`: 2026Q3 or 2026年第三季度. The notice's issuing office, document number (文号) and issue date
    default to the office in settings, the next number of the year and today.
    """
    require(actor, Capability.REQUEST_REPORT, region)
    if not region_in_scope(actor, region):
        raise PermissionDenied(_("The region lies outside your own."))
    parsed = Quarter.parse(quarter)
    check_quarter(campaign, parsed)
    today = timezone.localdate()
    issued_on = issued_on or today
    if issued_on < parsed.first_day:
        raise ValidationError(
            {
                "issued_on": _("The notice cannot be issued before its quarter begins (%(start)s).")
                % {"start": long_date(parsed.first_day)}
            }
        )
    office = (issuing_office or "").strip() if issuing_office is not None else settings.REPORT_ISSUING_OFFICE
    number = (
        normalize_document_number(document_number)
        if document_number is not None
        else suggested_document_number(issued_on.year)
    )
    report = SupervisionReport(
        campaign=campaign,
        quarter=str(parsed),
        region=region,
        requested_by=actor,
        issuing_office=office,
        document_number=number,
        issued_on=issued_on,
    )
    report.full_clean()
    report.save()
    return report


def report_filename(report: SupervisionReport) -> str:
    """The workbook's download name: 临江市-化工企业“四个一批”专项整治行动-2026年第三季度.xlsx."""
    return f"{report.region.name}-{report.campaign.name}-{report.quarter_label}.xlsx"


def _set(report: SupervisionReport, **fields) -> None:
    for name, value in fields.items():
        setattr(report, name, value)
    # A set-based update skips auto_now: bump updated_at so incremental sync sees the change.
    SupervisionReport.objects.filter(pk=report.pk).update(**fields, updated_at=timezone.now())


def _notify_requester(report: SupervisionReport) -> None:
    if report.requested_by_id is None:
        return
    from core.models import NotificationKind
    from core.notifications import notify

    with translation.override(settings.LANGUAGE_CODE):
        notify(
            [report.requested_by_id],
            kind=NotificationKind.REPORT_READY,
            title=_("Quarterly supervision report ready: %(region)s, %(campaign)s, %(quarter)s")
            % {"campaign": report.campaign.name, "quarter": report.quarter_label, "region": report.region.name},
            link=reverse("rectification:reports"),
            dedup_key=f"report-ready:{report.pk}",
            target=report,
        )


def build_report(report_id: int) -> SupervisionReport:
    """Build a queued report: figures, workbook, status. Failures are stored on the record (status failed,
    the error) rather than raised, so the requester sees what happened."""
    report = SupervisionReport.objects.select_related("campaign", "region").get(pk=report_id)
    if report.status in (ReportStatus.DONE, ReportStatus.RUNNING):
        return report  # delivered twice (acks late): the first build stands
    _set(report, status=ReportStatus.RUNNING, progress=5, started_at=timezone.now(), error="")
    try:
        with translation.override(settings.LANGUAGE_CODE):
            quarter = Quarter.parse(report.quarter)
            figures = compute_figures(report.campaign, report.region, quarter, as_of_day=timezone.localdate())
            figures["built_at"] = timezone.now().isoformat()
            _set(report, progress=60, figures=figures)
            with tempfile.TemporaryFile(suffix=".xlsx") as handle:
                items = write_workbook(
                    handle,
                    figures,
                    report.campaign,
                    report.region,
                    on_progress=lambda p: _set(report, progress=p),
                    document={
                        "issuing_office": report.issuing_office,
                        "document_number": report.document_number,
                        "issued_on": report.issued_on,
                    },
                )
                handle.seek(0)
                # A random part: the file is only served through the scoped download view, never by a guessable URL.
                name = f"supervision-{report.quarter}-{report.region.code}-{report.pk}-{secrets.token_hex(8)}.xlsx"
                report.file.save(name, File(handle), save=False)
            figures["overdue_items"] = items
        _set(
            report,
            file=report.file.name,
            figures=figures,
            status=ReportStatus.DONE,
            progress=100,
            finished_at=timezone.now(),
        )
        _notify_requester(report)
    except Exception as error:  # any failure is reported on the record
        logger.exception("Building supervision report %s failed", report.pk)
        _set(report, status=ReportStatus.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now())
    return report


def schedule_quarterly_reports(on_date: datetime.date | None = None) -> list[SupervisionReport]:
    """After a quarter ends: one city-scope report of the quarter just ended for every active campaign
    (not twice: an existing scheduled report of the same campaign, quarter and city is reused)."""
    on_date = on_date or timezone.localdate()
    quarter = str(Quarter.of(on_date).previous())
    reports = []
    with transaction.atomic():
        for campaign in Campaign.objects.active().order_by("pk"):
            for city in Region.objects.filter(level=RegionLevel.CITY).order_by("path"):
                report, _created = SupervisionReport.objects.get_or_create(
                    campaign=campaign,
                    quarter=quarter,
                    region=city,
                    requested_by=None,
                    # Issued by the office in settings; numbered by the office when it issues the notice.
                    defaults={"status": ReportStatus.QUEUED, "issuing_office": settings.REPORT_ISSUING_OFFICE},
                )
                reports.append(report)
    return reports
