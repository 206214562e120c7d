"""The daily deadline checks (DOMAIN.md, "Rules the worker enforces"): one entry point for the beat task,
`python manage.py check_deadlines` and the tests.

Why here (core) and not in one app: the checks cross every app (tasks and shutdowns in rectification,
findings and the 回头看 sample in inspections, permits in enterprises, risk assessments in parks) and the
notifications are core's. This module only orchestrates: each rule's change is made by the owning app's
set-based service, and this module works out who to tell.

Each rule runs in its own transaction together with its notifications, so a crash inside a rule leaves
neither the change nor its notifications, and a rerun redoes exactly that rule. Every rule is idempotent
(it changes only rows not changed yet) and every notification has a dedup key naming the rule, the record
and the date it is about, so running the checks twice on the same day changes and notifies nothing the
second time. Queries are set-based or chunked: their number grows with the rows *changed* (per chunk of
NOTIFY_IDS_CHUNK), never with the size of the register.
"""

import datetime
import random
from collections import defaultdict
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from enterprises.choices import OperatingStatus, PermitKind
from enterprises.models import Enterprise
from enterprises.selectors import current_permits, latest_tier_year
from enterprises.services import flag_expired_permits
from inspections.choices import ACTIVE_FINDING_STATES
from inspections.models import Finding, Inspection
from inspections.services import create_recheck_sample, mark_overdue_findings, record_hazard_duty_findings
from parks.choices import RISK_ASSESSMENT_VALID_YEARS
from parks.models import ChemicalPark
from parks.services import flag_overdue_risk_assessments
from rectification.choices import CampaignKind, CampaignStatus, ClassificationState, TaskStatus
from rectification.models import Campaign, Classification, Task
from rectification.selectors import GOVERNMENT_ROLES, lead_unit_users
from rectification.services import (
    flag_overdue_shutdown_acceptance,
    mark_overdue_tasks,
    propose_shutdowns_for_repeated_tier3,
)

from .models import NotificationKind
from .notifications import Message, notify_many, send_pending_emails

#: Records whose recipients are looked up per query (lead units, townships).
NOTIFY_IDS_CHUNK = 2000


def _chunks(items: list, size: int = NOTIFY_IDS_CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def quarter_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _government_users(region_ids: Iterable[int], roles=GOVERNMENT_ROLES) -> dict[int, list[int]]:
    """Active office/township users attached exactly to each region: {region id: [user ids]} (one query)."""
    region_ids = {pk for pk in region_ids if pk}
    result: dict[int, list[int]] = defaultdict(list)
    if region_ids:
        for user_id, region_id in (
            get_user_model()
            .objects.filter(is_active=True, region_id__in=region_ids, role__in=list(roles))
            .values_list("pk", "region_id")
        ):
            result[region_id].append(user_id)
    return result


def _enterprise_link(enterprise_id: int, anchor: str = "") -> str:
    return reverse("enterprises:detail", args=[enterprise_id]) + (f"#{anchor}" if anchor else "")


# --- Tasks -----------------------------------------------------------------------------------------


def _task_rows(ids: list[int]) -> dict[int, tuple]:
    return {
        row[0]: row
        for row in Task.objects.filter(pk__in=ids).values_list(
            "pk",
            "description",
            "deadline",
            "plan__classification__enterprise_id",
            "plan__classification__enterprise__name",
        )
    }


def _notify_tasks(ids: list[int], make_message: Callable[[tuple], Message]) -> int:
    created = 0
    for chunk in _chunks(ids):
        recipients = lead_unit_users(chunk)
        rows = _task_rows(chunk)
        created += notify_many(
            (user, make_message(rows[task_id]))
            for task_id in chunk
            if task_id in rows
            for user in recipients.get(task_id, ())
        )
    return created


def _task_overdue_message(row) -> Message:
    task_id, description, deadline, enterprise_id, enterprise_name = row
    return Message(
        kind=NotificationKind.TASK_OVERDUE,
        title=_("Task overdue: %(enterprise)s") % {"enterprise": enterprise_name},
        body=_("“%(task)s” was due on %(deadline)s and is not done.") % {"task": description, "deadline": deadline},
        link=_enterprise_link(enterprise_id, f"task-{task_id}"),
        dedup_key=f"task-overdue:{task_id}:{deadline.isoformat()}",
    )


def check_overdue_tasks(on_date: datetime.date) -> dict:
    ids = mark_overdue_tasks(on_date)
    return {"tasks_marked_overdue": len(ids), "notifications": _notify_tasks(ids, _task_overdue_message)}


def _reminder_windows(on_date: datetime.date) -> list[tuple[int, datetime.date, datetime.date]]:
    """(days, first deadline, last deadline): e.g. 7 → due in 2…7 days, 1 → due today or tomorrow."""
    days = sorted(settings.DEADLINE_REMINDER_DAYS)
    windows, low = [], 0
    for n in days:
        windows.append((n, on_date + datetime.timedelta(days=low), on_date + datetime.timedelta(days=n)))
        low = n + 1
    return windows


def check_task_reminders(on_date: datetime.date) -> dict:
    reminded = created = 0
    for days, first, last in _reminder_windows(on_date):
        ids = list(
            Task.objects.filter(
                status__in=[TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS],
                deadline__gte=first,
                deadline__lte=last,
                plan__classification__state=ClassificationState.IN_PROGRESS,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        reminded += len(ids)

        def message(row, days=days) -> Message:
            task_id, description, deadline, enterprise_id, enterprise_name = row
            return Message(
                kind=NotificationKind.TASK_DUE_SOON,
                title=_("Task due on %(deadline)s: %(enterprise)s")
                % {"deadline": deadline, "enterprise": enterprise_name},
                body=_("“%(task)s” is due on %(deadline)s.") % {"task": description, "deadline": deadline},
                link=_enterprise_link(enterprise_id, f"task-{task_id}"),
                dedup_key=f"task-due-{days}:{task_id}:{deadline.isoformat()}",
            )

        created += _notify_tasks(ids, message)
    return {"tasks_due_soon": reminded, "notifications": created}


# --- Findings --------------------------------------------------------------------------------------


def _finding_recipients(rows: list[tuple]) -> dict[int, list[int]]:
    """{finding id: [user ids]}: the responsible department's users whose region holds the target, and the
    township officers of the target's township (three queries)."""
    township_ids = {row[5] for row in rows}
    department_ids = {row[6] for row in rows if row[6]}
    townships = _government_users(township_ids, roles=["township"])
    by_department = defaultdict(list)
    if department_ids:
        for user_id, department_id, region_path in (
            get_user_model()
            .objects.filter(is_active=True, department_id__in=department_ids)
            .values_list("pk", "department_id", "region__path")
        ):
            by_department[department_id].append((user_id, region_path))
    result = {}
    for row in rows:
        finding_id, township_id, department_id, township_path = row[0], row[5], row[6], row[7]
        users = list(townships.get(township_id, ()))
        users += [
            user_id
            for user_id, region_path in by_department.get(department_id, ())
            if region_path is None or township_path.startswith(region_path)
        ]
        result[finding_id] = users
    return result


def _finding_rows(queryset) -> list[tuple]:
    return list(
        queryset.annotate(
            target_name=Coalesce(F("enterprise__name"), F("park__name")),
            target_township=Coalesce(F("enterprise__township_id"), F("park__township_id")),
            target_path=Coalesce(F("enterprise__township__path"), F("park__township__path")),
        ).values_list(
            "pk",
            "description",
            "deadline",
            "target_name",
            "enterprise_id",
            "target_township",
            "responsible_department_id",
            "target_path",
        )
    )


def _notify_findings(ids: list[int], make_message: Callable[[tuple], Message]) -> int:
    created = 0
    for chunk in _chunks(ids):
        rows = _finding_rows(Finding.objects.filter(pk__in=chunk).order_by("pk"))
        recipients = _finding_recipients(rows)
        created += notify_many((user, make_message(row)) for row in rows for user in recipients[row[0]])
    return created


def _finding_link(finding_id: int) -> str:
    return reverse("inspections:finding_detail", args=[finding_id])


def check_overdue_findings(on_date: datetime.date) -> dict:
    marked = mark_overdue_findings(on_date)
    # Everything marked on this date (also by an earlier run the same day): the dedup keys skip the notified.
    ids = list(Finding.objects.filter(overdue_since=on_date).order_by("pk").values_list("pk", flat=True))

    def message(row) -> Message:
        finding_id, description, deadline, target_name = row[:4]
        return Message(
            kind=NotificationKind.FINDING_OVERDUE,
            title=_("Finding overdue: %(target)s") % {"target": target_name},
            body=_("“%(finding)s” was due on %(deadline)s and is not fixed.")
            % {"finding": description[:200], "deadline": deadline},
            link=_finding_link(finding_id),
            dedup_key=f"finding-overdue:{finding_id}:{deadline.isoformat()}",
        )

    return {"findings_marked_overdue": marked, "notifications": _notify_findings(ids, message)}


def check_finding_reminders(on_date: datetime.date) -> dict:
    reminded = created = 0
    for days, first, last in _reminder_windows(on_date):
        ids = list(
            Finding.objects.filter(status__in=ACTIVE_FINDING_STATES, deadline__gte=first, deadline__lte=last)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        reminded += len(ids)

        def message(row, days=days) -> Message:
            finding_id, description, deadline, target_name = row[:4]
            return Message(
                kind=NotificationKind.FINDING_DUE_SOON,
                title=_("Finding due on %(deadline)s: %(target)s") % {"deadline": deadline, "target": target_name},
                body=_("“%(finding)s” must be fixed by %(deadline)s.")
                % {"finding": description[:200], "deadline": deadline},
                link=_finding_link(finding_id),
                dedup_key=f"finding-due-{days}:{finding_id}:{deadline.isoformat()}",
            )

        created += _notify_findings(ids, message)
    return {"findings_due_soon": reminded, "notifications": created}


# --- Shutdowns: 五彻底 and tier 3 ---------------------------------------------------------------------


def _classification_rows(ids: list[int]) -> list[tuple]:
    return list(
        Classification.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list(
            "pk",
            "enterprise_id",
            "enterprise__name",
            "stop_order_on",
            "enterprise__township_id",
            "enterprise__township__parent_id",
            "enterprise__township__parent__parent_id",
        )
    )


def check_five_thorough(on_date: datetime.date) -> dict:
    ids = flag_overdue_shutdown_acceptance(on_date)
    created = 0
    for chunk in _chunks(ids):
        rows = _classification_rows(chunk)
        users = _government_users({row[5] for row in rows} | {row[6] for row in rows}, roles=["county", "city"])
        pairs = []
        for pk, enterprise_id, name, stop_order_on, _township, county_id, city_id in rows:
            message = Message(
                kind=NotificationKind.FIVE_THOROUGH,
                title=_("Shutdown not accepted one month after the stop order: %(enterprise)s") % {"enterprise": name},
                body=_("Stop order of %(date)s; the township must apply the 五彻底 forced measures.")
                % {"date": stop_order_on},
                link=_enterprise_link(enterprise_id, f"classification-{pk}"),
                dedup_key=f"five-thorough:{pk}:{stop_order_on.isoformat()}",
            )
            pairs += [(user, message) for user in users.get(county_id, []) + users.get(city_id, [])]
        created += notify_many(pairs)
    return {"shutdowns_flagged_five_thorough": len(ids), "notifications": created}


def active_four_batch_campaigns(on_date: datetime.date):
    return Campaign.objects.filter(
        status=CampaignStatus.ACTIVE, kind=CampaignKind.FOUR_BATCHES, starts_on__lte=on_date, ends_on__gte=on_date
    ).order_by("pk")


def check_repeated_tier3(on_date: datetime.date) -> dict:
    """Tier 3 in the latest rated year and the one before → a shutdown proposal in each active 四个一批 campaign."""
    year = latest_tier_year()
    if year is None:
        return {"shutdown_proposals": 0, "notifications": 0}
    year = min(year, on_date.year)
    proposed = created = 0
    for campaign in active_four_batch_campaigns(on_date):
        ids = [c.pk for c in propose_shutdowns_for_repeated_tier3(year, campaign)]
        proposed += len(ids)
        for chunk in _chunks(ids):
            rows = _classification_rows(chunk)
            users = _government_users({row[4] for row in rows} | {row[5] for row in rows}, roles=["township", "county"])
            pairs = []
            for pk, enterprise_id, name, _stop, township_id, county_id, _city in rows:
                message = Message(
                    kind=NotificationKind.SHUTDOWN_PROPOSED,
                    title=_("Shutdown proposed: %(enterprise)s") % {"enterprise": name},
                    body=_("Tier 3 in %(previous)d and %(year)d: a shutdown is proposed in “%(campaign)s”.")
                    % {"previous": year - 1, "year": year, "campaign": campaign.name},
                    link=_enterprise_link(enterprise_id, f"classification-{pk}"),
                    dedup_key=f"tier3-proposal:{pk}",
                )
                pairs += [(user, message) for user in users.get(township_id, []) + users.get(county_id, [])]
            created += notify_many(pairs)
    return {"shutdown_proposals": proposed, "notifications": created}


# --- Permits and parks -------------------------------------------------------------------------------


def check_expiring_permits(on_date: datetime.date) -> dict:
    """Current permits expiring within PERMIT_EXPIRY_WARNING_DAYS: the township's officers are reminded once per
    permit and expiry date."""
    horizon = on_date + datetime.timedelta(days=settings.PERMIT_EXPIRY_WARNING_DAYS)
    rows = list(
        current_permits()
        .filter(expires_on__gte=on_date, expires_on__lte=horizon)
        .exclude(enterprise__status__in=[OperatingStatus.CLOSED, OperatingStatus.DEREGISTERED])
        .order_by("pk")
        .values_list(
            "pk", "kind", "number", "expires_on", "enterprise_id", "enterprise__name", "enterprise__township_id"
        )
    )
    labels = dict(PermitKind.choices)
    created = 0
    for chunk in _chunks(rows):
        users = _government_users({row[6] for row in chunk}, roles=["township"])
        pairs = []
        for pk, kind, number, expires_on, enterprise_id, name, township_id in chunk:
            message = Message(
                kind=NotificationKind.PERMIT_EXPIRING,
                title=_("Permit expires on %(date)s: %(enterprise)s") % {"date": expires_on, "enterprise": name},
                body=_("%(kind)s %(number)s expires on %(date)s.")
                % {"kind": labels.get(kind, kind), "number": number, "date": expires_on},
                link=_enterprise_link(enterprise_id, "permits"),
                dedup_key=f"permit-expiring:{pk}:{expires_on.isoformat()}",
            )
            pairs += [(user, message) for user in users.get(township_id, [])]
        created += notify_many(pairs)
    return {"permits_expiring": len(rows), "notifications": created}


def check_expired_permits(on_date: datetime.date) -> dict:
    ids, lifted = flag_expired_permits(on_date)
    created = 0
    for chunk in _chunks(ids):
        rows = list(
            Enterprise.objects.filter(pk__in=chunk).values_list(
                "pk", "name", "permit_expired_since", "township_id", "township__parent_id"
            )
        )
        users = _government_users({r[3] for r in rows} | {r[4] for r in rows}, roles=["township", "county"])
        pairs = []
        for pk, name, since, township_id, county_id in rows:
            message = Message(
                kind=NotificationKind.PERMIT_EXPIRED,
                title=_("Permit expired: %(enterprise)s") % {"enterprise": name},
                body=_("A current permit of the enterprise has expired; it is flagged in the register."),
                link=_enterprise_link(pk, "permits"),
                dedup_key=f"permit-expired:{pk}:{since.isoformat()}",
            )
            pairs += [(user, message) for user in users.get(township_id, []) + users.get(county_id, [])]
        created += notify_many(pairs)
    return {"enterprises_flagged_permit_expired": len(ids), "permit_flags_lifted": lifted, "notifications": created}


def check_park_risk_assessments(on_date: datetime.date) -> dict:
    ids, lifted = flag_overdue_risk_assessments(on_date)
    rows = list(
        ChemicalPark.objects.filter(pk__in=ids).values_list(
            "pk",
            "name",
            "last_risk_assessment_on",
            "risk_assessment_overdue_since",
            "township_id",
            "township__parent_id",
            "township__parent__parent_id",
        )
    )
    users = _government_users({r[4] for r in rows} | {r[5] for r in rows} | {r[6] for r in rows})
    pairs = []
    for pk, name, last, _since, township_id, county_id, city_id in rows:
        body = (
            _("The last overall safety-risk assessment was on %(date)s; it is due every %(years)d years.")
            % {"date": last, "years": RISK_ASSESSMENT_VALID_YEARS}
            if last
            else _("No overall safety-risk assessment is recorded.")
        )
        message = Message(
            kind=NotificationKind.RISK_ASSESSMENT_OVERDUE,
            title=_("Safety-risk assessment overdue: %(park)s") % {"park": name},
            body=body,
            link=reverse("parks:detail", args=[pk]),
            dedup_key=f"park-risk:{pk}:{last.isoformat() if last else 'none'}",
        )
        recipients = users.get(township_id, []) + users.get(county_id, []) + users.get(city_id, [])
        pairs += [(user, message) for user in recipients]
    return {"parks_flagged_risk_assessment": len(ids), "park_flags_lifted": lifted, "notifications": notify_many(pairs)}


# --- Major hazard source duties ----------------------------------------------------------------------------


def check_hazard_duties(on_date: datetime.date) -> dict:
    """Each breach of a major hazard source's duties (monitoring, video to the park, emergency shut-off, a level 1
    or 2 storage unit without shut-off that must stop) becomes a major accident hazard finding of its enterprise
    once (inspections.services.record_hazard_duty_findings), and the township's and county's officers are told.

    Reads the levels and figures stored by the grading (save_hazard_source, and recompute_hazard_levels which
    the beat runs before the deadline checks)."""
    findings = record_hazard_duty_findings(on_date)
    ids = [finding.pk for finding in findings]
    created = 0
    for chunk in _chunks(ids):
        rows = list(
            Finding.objects.filter(pk__in=chunk)
            .order_by("pk")
            .values_list(
                "pk",
                "description",
                "enterprise__name",
                "enterprise__township_id",
                "enterprise__township__parent_id",
            )
        )
        users = _government_users({r[3] for r in rows} | {r[4] for r in rows}, roles=["township", "county"])
        pairs = []
        for pk, description, name, township_id, county_id in rows:
            message = Message(
                kind=NotificationKind.HAZARD_DUTY_BREACH,
                title=_("Major accident hazard at a major hazard source: %(enterprise)s") % {"enterprise": name},
                body=description,
                link=_finding_link(pk),
                dedup_key=f"hazard-duty:{pk}",
            )
            pairs += [(user, message) for user in users.get(township_id, []) + users.get(county_id, [])]
        created += notify_many(pairs)
    by_duty: dict[str, int] = defaultdict(int)
    for finding in findings:
        by_duty[str(finding.hazard_duty)] += 1
    return {"hazard_duty_findings": len(ids), "by_duty": dict(by_duty), "notifications": created}


# --- 回头看 sample -------------------------------------------------------------------------------------


def check_recheck_sample(on_date: datetime.date, rng=None) -> dict:
    """The quarter's 回头看 sample (create_recheck_sample is idempotent per quarter and township: the first run
    of a quarter draws it; later runs only add townships that had no closed enterprise before)."""
    first_day = quarter_start(on_date)
    created = create_recheck_sample(first_day, settings.RECHECK_SAMPLE_SHARE, rng or random.SystemRandom())
    ids = [i.pk for i in created if i.pk is not None]
    if len(ids) != len(created):  # backends that do not return keys from a bulk insert
        ids = list(Inspection.objects.filter(sample_quarter=first_day).values_list("pk", flat=True))
    notified = 0
    for chunk in _chunks(ids):
        rows = list(
            Inspection.objects.filter(pk__in=chunk).values_list(
                "pk", "planned_on", "enterprise_id", "enterprise__name", "enterprise__township_id"
            )
        )
        users = _government_users({r[4] for r in rows}, roles=["township"])
        pairs = []
        for pk, planned_on, _enterprise_id, name, township_id in rows:
            message = Message(
                kind=NotificationKind.RECHECK_PLANNED,
                title=_("回头看 re-check of %(enterprise)s by %(date)s") % {"enterprise": name, "date": planned_on},
                body=_("The enterprise was drawn for this quarter's re-check of closed enterprises."),
                link=reverse("inspections:detail", args=[pk]),
                dedup_key=f"recheck:{pk}",
            )
            pairs += [(user, message) for user in users.get(township_id, [])]
        notified += notify_many(pairs)
    return {"recheck_inspections_planned": len(created), "notifications": notified}


# --- The run -----------------------------------------------------------------------------------------

#: The rules in the order they run; each runs (with its notifications) in one transaction.
RULES: list[tuple[str, Callable]] = [
    ("overdue_tasks", check_overdue_tasks),
    ("task_reminders", check_task_reminders),
    ("overdue_findings", check_overdue_findings),
    ("finding_reminders", check_finding_reminders),
    ("five_thorough", check_five_thorough),
    ("repeated_tier3", check_repeated_tier3),
    ("expiring_permits", check_expiring_permits),
    ("expired_permits", check_expired_permits),
    ("park_risk_assessments", check_park_risk_assessments),
    ("hazard_duties", check_hazard_duties),
    ("recheck_sample", check_recheck_sample),
]


def run_deadline_checks(on_date: datetime.date | None = None, *, rng=None, send_email: bool = True) -> dict:
    """Run every rule as of `on_date` (today by default); returns {"date", rule: {figures}, "notifications",
    "emails"}. Texts are stored in the site's language (Chinese)."""
    on_date = on_date or timezone.localdate()
    report: dict = {"date": on_date.isoformat()}
    total = 0
    with translation.override(settings.LANGUAGE_CODE):
        for name, rule in RULES:
            with transaction.atomic():
                result = rule(on_date, rng) if rule is check_recheck_sample else rule(on_date)
            report[name] = result
            total += result.get("notifications", 0)
        report["notifications"] = total
        report["emails"] = send_pending_emails() if send_email else 0
    return report
