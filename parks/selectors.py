"""Reads of the park register: list decoration, dossier, dashboard figures (scoped to the user)."""

import datetime
from dataclasses import dataclass

from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from core.history import HistoryEntry, HistorySource, read_history

from .choices import INFRASTRUCTURE_FIELDS, RISK_ASSESSMENT_VALID_YEARS, RecognitionStatus
from .models import ChemicalPark, ParkEvaluation

HISTORY_LIMIT = 50


def with_enterprise_count(queryset):
    """Annotate `enterprise_count`: enterprises registered inside each park."""
    return queryset.annotate(enterprise_count=Count("enterprises", distinct=True))


def park_for_user(user, pk) -> ChemicalPark:
    """The park if the user may see it, else 404 (so its existence does not leak)."""
    return get_object_or_404(ChemicalPark.objects.visible_to(user).select_related("township__parent"), pk=pk)


def risk_assessment_due(park: ChemicalPark) -> datetime.date | None:
    """When the next overall safety-risk assessment is due (None when none was ever made)."""
    done = park.last_risk_assessment_on
    if done is None:
        return None
    try:
        return done.replace(year=done.year + RISK_ASSESSMENT_VALID_YEARS)
    except ValueError:  # 29 February
        return done.replace(year=done.year + RISK_ASSESSMENT_VALID_YEARS, day=28)


def risk_assessment_overdue(park: ChemicalPark, on: datetime.date | None = None) -> bool:
    """True when the assessment is missing or older than RISK_ASSESSMENT_VALID_YEARS."""
    due = risk_assessment_due(park)
    return due is None or due < (on or timezone.localdate())


@dataclass
class InfrastructureItem:
    field: str
    label: str
    done: bool


def infrastructure_checklist(park: ChemicalPark) -> list[InfrastructureItem]:
    return [
        InfrastructureItem(
            field=name, label=str(ChemicalPark._meta.get_field(name).verbose_name), done=getattr(park, name)
        )
        for name in INFRASTRUCTURE_FIELDS
    ]


def park_history(park: ChemicalPark, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """Changes to the park and its yearly evaluations, newest first."""
    sources = [
        HistorySource(ChemicalPark.history.filter(id=park.pk), lambda row: _("Park")),
        HistorySource(
            ParkEvaluation.history.filter(park_id=park.pk), lambda row: _("Evaluation %(year)s") % {"year": row.year}
        ),
    ]
    return read_history(sources, limit=limit)


@dataclass
class ParkFigures:
    total: int
    by_status: list  # (value, label, count)


def park_figures(user) -> ParkFigures:
    """Parks of the user's region by recognition status, in one query."""
    found = dict(
        ChemicalPark.objects.visible_to(user).order_by().values_list("recognition_status").annotate(n=Count("id"))
    )
    by_status = [(value, label, found.get(value, 0)) for value, label in RecognitionStatus.choices]
    return ParkFigures(total=sum(found.values()), by_status=by_status)
