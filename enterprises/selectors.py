"""Reads of the enterprise register: list decoration, dossier, permit states, dashboard figures.

Every function takes the user (or an already scoped queryset) and scopes itself through
`visible_to`, so a page cannot reach a row outside the user's region by forgetting to.
"""

import datetime
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, PositiveSmallIntegerField, Prefetch, Q, Subquery, Value
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from core.history import HistoryEntry, HistorySource, read_history

from .choices import CORE_PERMIT_KINDS, EnterpriseKind, HazardDuty, OperatingStatus, PermitKind, PermitState
from .hazards import ACTIVE_STATUSES, breaches, must_stop_operating, stored_why_not
from .models import Enterprise, KeyHazardousProcess, MajorHazardSource, Permit, YearlyTier
from .validators import normalize_uscc

#: The dossier shows this many change-history entries (newest first).
HISTORY_LIMIT = 50


def today() -> datetime.date:
    return timezone.localdate()


def warning_horizon(on: datetime.date | None = None) -> datetime.date:
    """Permits expiring on or before this date are "expiring soon"."""
    return (on or today()) + datetime.timedelta(days=settings.PERMIT_EXPIRY_WARNING_DAYS)


# --- Permits -------------------------------------------------------------------------------


def current_permits():
    """Permits not superseded by a later permit of the same kind (a renewed licence replaces the old one).

    A permit is superseded when the same enterprise holds a permit of the same kind that expires later
    or never expires.
    """
    newer = Permit.objects.filter(enterprise=OuterRef("enterprise"), kind=OuterRef("kind")).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gt=OuterRef("expires_on"))
    )
    return Permit.objects.filter(Q(expires_on__isnull=True) | ~Exists(newer))


def expired_permit_exists(on: datetime.date | None = None) -> Exists:
    """Per enterprise (OuterRef pk): a current permit has expired."""
    return Exists(current_permits().filter(enterprise=OuterRef("pk"), expires_on__lt=on or today()))


def expiring_permit_exists(on: datetime.date | None = None) -> Exists:
    """Per enterprise (OuterRef pk): a current permit expires within the warning period."""
    on = on or today()
    return Exists(
        current_permits().filter(enterprise=OuterRef("pk"), expires_on__gte=on, expires_on__lte=warning_horizon(on))
    )


def missing_core_permit_q() -> Q:
    """Enterprises lacking at least one of the core permit kinds."""
    q = Q()
    for kind in CORE_PERMIT_KINDS:
        q |= ~Exists(Permit.objects.filter(enterprise=OuterRef("pk"), kind=kind))
    return q


@dataclass
class PermitRow:
    permit: Permit
    state: str  # a PermitState value
    superseded: bool
    days_left: int | None


def permit_rows(permits, on: datetime.date | None = None) -> list[PermitRow]:
    """The permits of one enterprise with their state, computed in Python (no query per permit)."""
    on = on or today()
    horizon = warning_horizon(on)
    permits = list(permits)
    latest = {}
    for permit in permits:
        best = latest.get(permit.kind)
        if best is None or (best.expires_on is not None and (permit.expires_on or datetime.date.max) > best.expires_on):
            latest[permit.kind] = permit
    rows = []
    for permit in permits:
        superseded = latest[permit.kind] is not permit
        if permit.expires_on is None:
            state, days_left = PermitState.VALID, None
        else:
            days_left = (permit.expires_on - on).days
            if permit.expires_on < on:
                state = PermitState.EXPIRED
            elif permit.expires_on <= horizon:
                state = PermitState.EXPIRING
            else:
                state = PermitState.VALID
        rows.append(PermitRow(permit=permit, state=state, superseded=superseded, days_left=days_left))
    return rows


def missing_core_permit_kinds(permits) -> list[str]:
    """Labels of the core permit kinds the enterprise holds no permit of."""
    held = {p.kind for p in permits}
    return [PermitKind(kind).label for kind in CORE_PERMIT_KINDS if kind not in held]


# --- Lists ---------------------------------------------------------------------------------


def latest_tier_year() -> int | None:
    """The latest year for which any tier was recorded (the default year of the tier filter/column)."""
    return YearlyTier.objects.aggregate(year=Max("year"))["year"]


def with_tier(queryset, year: int | None):
    """Annotate `tier_in_year`: the enterprise's tier in `year` (None when not rated)."""
    if year is None:
        return queryset.annotate(tier_in_year=Value(None, output_field=PositiveSmallIntegerField()))
    return queryset.annotate(
        tier_in_year=Subquery(YearlyTier.objects.filter(enterprise=OuterRef("pk"), year=year).values("tier")[:1])
    )


def for_list(queryset):
    """What a list page or export shows per row, fetched in a fixed number of queries."""
    return queryset.select_related("township__parent", "park").prefetch_related(
        Prefetch("key_processes", queryset=KeyHazardousProcess.objects.order_by("sort_order"))
    )


# --- Picking an enterprise by name or code ---------------------------------------------------

#: Suggestions the enterprise picker shows at most.
LOOKUP_LIMIT = 15
#: An 18-character credit code inside a text such as the picker's "名称（代码）".
_CODE_IN_TEXT = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")


def search_condition(text: str) -> Q:
    """Name containing the text, or credit code starting with it (full-width characters and spaces corrected)."""
    text = (text or "").strip()
    condition = Q(name__icontains=text)
    code = normalize_uscc(text)
    if code:
        condition |= Q(uscc__startswith=code)
    return condition


def enterprise_suggestions(user, text: str) -> list[Enterprise]:
    """The picker's suggestions: enterprises of the user's region matching the text, by name."""
    text = (text or "").strip()
    if not text:
        return []
    queryset = Enterprise.objects.visible_to(user).filter(search_condition(text)).select_related("township")
    return list(queryset.order_by("name", "id")[:LOOKUP_LIMIT])


def picker_label(enterprise: Enterprise) -> str:
    """What the picker writes into the field: the name and, in brackets, the code the form reads back."""
    return f"{enterprise.name}（{enterprise.uscc}）"


def pick_enterprise(user, text: str) -> tuple[Enterprise | None, str | None]:
    """(enterprise, None) or (None, why) for what was typed or picked: a credit code (alone or in the picker's
    "名称（代码）"), else the exact name. A part of a name is not guessed: the user chooses from the suggestions."""
    visible = Enterprise.objects.visible_to(user).select_related("township")
    code = normalize_uscc(text)
    found = _CODE_IN_TEXT.search(code)
    if found or len(code) == 18:
        code = found.group(0) if found else code
        enterprise = visible.filter(uscc=code).first()
        if enterprise is None:
            return None, _("No enterprise with credit code %(code)s in your region.") % {"code": code}
        return enterprise, None
    name = text.strip()
    matches = list(visible.filter(name=name)[:2])
    if len(matches) == 1:
        return matches[0], None
    if matches:
        return None, _(
            "Several enterprises are called %(name)s; choose one from the suggestions or enter the credit code."
        ) % {"name": name}
    return None, _(
        "No enterprise called %(name)s in your region; type part of its name or its credit code and choose it from "
        "the suggestions."
    ) % {"name": name}


# --- Dossier -------------------------------------------------------------------------------


def enterprise_for_user(user, pk, *, for_update: bool = False) -> Enterprise:
    """The enterprise if the user may see it, else 404 (so its existence does not leak)."""
    queryset = Enterprise.objects.visible_to(user).select_related("township__parent", "park")
    if for_update:
        queryset = queryset.select_for_update()
    return get_object_or_404(queryset, pk=pk)


@dataclass
class HazardRow:
    source: MajorHazardSource
    lines: list
    must_stop: bool
    level_differs: bool
    why_not: str | None = None
    breaches: list = None  # HazardDuty labels


def filed_level_differs(source) -> bool:
    """The level filed by the enterprise is not the computed one (also when the inventory is below S < 1)."""
    if source.declared_level is None:
        return False
    if source.is_major is False:
        return True
    return source.computed_level is not None and source.computed_level != source.declared_level


@dataclass
class Dossier:
    enterprise: Enterprise
    key_processes: list
    permits: list[PermitRow]
    missing_permits: list[str]
    tiers: list[YearlyTier]
    hazards: list[HazardRow]
    history: list[HistoryEntry]


def enterprise_history(enterprise: Enterprise, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """Changes to the enterprise and its permits, tiers and hazard sources (deleted ones too), newest first."""
    # Labels read the historical row's own fields: `row.instance` would query for excluded fields.
    sources = [
        HistorySource(Enterprise.history.filter(id=enterprise.pk), lambda row: _("Enterprise")),
        HistorySource(
            Permit.history.filter(enterprise_id=enterprise.pk),
            lambda row: _("Permit: %(kind)s %(number)s") % {"kind": row.get_kind_display(), "number": row.number},
        ),
        HistorySource(
            YearlyTier.history.filter(enterprise_id=enterprise.pk), lambda row: _("Tier: %(year)s") % {"year": row.year}
        ),
        HistorySource(
            MajorHazardSource.history.filter(enterprise_id=enterprise.pk),
            lambda row: _("Major hazard source: %(name)s") % {"name": row.name},
        ),
    ]
    return read_history(sources, limit=limit)


def enterprise_dossier(user, pk) -> Dossier:
    enterprise = enterprise_for_user(user, pk)
    permits = list(enterprise.permits.all())
    hazards = []
    for source in enterprise.hazard_sources.prefetch_related("inventory"):
        source.enterprise = enterprise  # the duties read its status; no query per source
        lines = list(source.inventory.all())
        hazards.append(
            HazardRow(
                source=source,
                lines=lines,
                must_stop=must_stop_operating(source),
                level_differs=filed_level_differs(source),
                why_not=stored_why_not(source, lines),
                breaches=[HazardDuty(duty).label for duty in breaches(source)],
            )
        )
    return Dossier(
        enterprise=enterprise,
        key_processes=list(enterprise.key_processes.all()),
        permits=permit_rows(permits),
        missing_permits=missing_core_permit_kinds(permits),
        tiers=list(enterprise.tiers.order_by("-year")),
        hazards=hazards,
        history=enterprise_history(enterprise),
    )


# --- Dashboard -----------------------------------------------------------------------------


@dataclass
class EnterpriseFigures:
    total: int
    in_park: int
    permit_expired: int
    permit_expiring: int
    permit_missing: int
    by_status: list  # (value, label, count)
    by_kind: list  # (value, label, count)


def _counts(queryset, field, choices) -> list[tuple[str, str, int]]:
    found = dict(queryset.order_by().values_list(field).annotate(n=Count("id")))
    return [(value, label, found.get(value, 0)) for value, label in choices]


def enterprise_figures(user) -> EnterpriseFigures:
    """Dashboard figures of the user's region in three queries."""
    visible = Enterprise.objects.visible_to(user)
    totals = visible.aggregate(
        total=Count("id"),
        in_park=Count("id", filter=Q(park__isnull=False)),
        permit_expired=Count("id", filter=Q(expired_permit_exists())),
        permit_expiring=Count("id", filter=Q(expiring_permit_exists())),
        permit_missing=Count("id", filter=missing_core_permit_q()),
    )
    return EnterpriseFigures(
        by_status=_counts(visible, "status", OperatingStatus.choices),
        by_kind=_counts(visible, "kind", EnterpriseKind.choices),
        **totals,
    )


# --- Major hazard source duties as of a moment (the quarterly report) -------------------------------------


def hazard_duty_shares_as_of(scope_path: str, before) -> dict[str, dict]:
    """Per township path under `scope_path`: the major hazard sources held to the duties and how many of them have
    automated monitoring, video transmitted to the park's platform, and (of those that need it) emergency
    shut-off, as each record stood just before `before` (its latest history row then; deleted ones left out),
    as rectification.reports.as_of reads the history.

    Counted: sources major by their inventory (S ≥ 1), or filed as major while their inventory cannot tell, of
    operating or suspended enterprises (the enterprise's status as of `before` too). One aggregate query; the
    caller adds the townships up along the region paths and divides:
    {path: {"sources", "monitored", "video", "shutoff_needed", "shutoff"}}.
    """
    history = MajorHazardSource.history.model
    latest = (
        history.objects.filter(history_date__lt=before).values("id").annotate(last=Max("history_id")).values("last")
    )
    enterprise_history = Enterprise.history.model
    latest_enterprise = (
        enterprise_history.objects.filter(history_date__lt=before)
        .values("id")
        .annotate(last=Max("history_id"))
        .values("last")
    )
    active_then = enterprise_history.objects.filter(
        history_id__in=latest_enterprise, status__in=ACTIVE_STATUSES
    ).exclude(history_type="-")
    needs = Q(holds_shutoff_substances=True) | Q(has_toxic_or_flammable_gas=True)
    rows = (
        history.objects.filter(history_id__in=latest)
        .exclude(history_type="-")
        .filter(enterprise__township__path__startswith=scope_path)
        .filter(Q(is_major=True) | Q(is_major__isnull=True, declared_level__isnull=False))
        .filter(enterprise_id__in=active_then.values("id"))
        .values("enterprise__township__path")
        .annotate(
            sources=Count("history_id"),
            monitored=Count("history_id", filter=Q(automated_monitoring=True)),
            video=Count("history_id", filter=Q(video_to_park=True)),
            shutoff_needed=Count("history_id", filter=needs),
            shutoff=Count("history_id", filter=needs & Q(emergency_shutoff=True)),
        )
        .order_by()
    )
    return {row.pop("enterprise__township__path"): row for row in rows}
