"""Writes to the park register (一园一档)."""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from accounts.permissions import Capability, require
from core.history import apply_changes, save_tracked
from enterprises.models import Enterprise
from enterprises.services import locked_version, touch
from regions.choices import RegionLevel

from .models import ChemicalPark, ParkEvaluation


def _check_township(township) -> None:
    if township is not None and township.level != RegionLevel.TOWNSHIP:
        raise ValidationError({"township": _("Choose a township or street, not a county or city.")})


@transaction.atomic
def create_park(*, actor, data: dict, reason: str = "") -> ChemicalPark:
    require(actor, Capability.CHANGE_PARK, data.get("township"))
    _check_township(data.get("township"))
    park = ChemicalPark(**data)
    save_tracked(park, actor=actor, reason=reason)
    return park


@transaction.atomic
def update_park(*, actor, park: ChemicalPark, data: dict, reason: str = "") -> list[str]:
    require(actor, Capability.CHANGE_PARK, park.township)
    if "township" in data:
        require(actor, Capability.CHANGE_PARK, data["township"])
        _check_township(data["township"])
    stored_version = locked_version(ChemicalPark, park.pk)
    changed = apply_changes(park, data)
    if changed:
        park.version = stored_version + 1
        save_tracked(park, actor=actor, reason=reason)
    if {"code", "name"} & set(changed):
        # Enterprises show their park's code and name: the API's sync must see them as changed.
        touch(Enterprise.objects.filter(park=park))
    return changed


@transaction.atomic
def save_park_evaluation(*, actor, park: ChemicalPark, year: int, scores: dict, reason: str = "") -> ParkEvaluation:
    require(actor, Capability.CHANGE_PARK, park.township)
    evaluation = ParkEvaluation.objects.filter(park=park, year=year).first()
    if evaluation is None:
        evaluation = ParkEvaluation(park=park, year=year, **scores)
    elif not apply_changes(evaluation, scores):
        return evaluation
    save_tracked(evaluation, actor=actor, reason=reason)
    return evaluation


# --- Deadline check: overdue safety-risk assessments (worker, no actor) --------------------------


@transaction.atomic
def flag_overdue_risk_assessments(on_date) -> tuple[list[int], int]:
    """Parks whose overall safety-risk assessment is missing or older than RISK_ASSESSMENT_VALID_YEARS on
    `on_date` get `risk_assessment_overdue_since = on_date` (once); a newer assessment lifts the flag.

    Returns (ids flagged by this run, number of flags lifted). Idempotent: a second run changes nothing.
    Parks are few (hundreds), so the exact due date is worked out per row in Python after a cheap filter.
    """
    from .selectors import risk_assessment_overdue

    rows = list(
        ChemicalPark.objects.select_for_update()
        .filter(
            models.Q(risk_assessment_overdue_since__isnull=True)
            | models.Q(risk_assessment_overdue_since__isnull=False, last_risk_assessment_on__isnull=False)
        )
        .only("pk", "last_risk_assessment_on", "risk_assessment_overdue_since")
    )
    flag = [p.pk for p in rows if p.risk_assessment_overdue_since is None and risk_assessment_overdue(p, on_date)]
    lift = [
        p.pk for p in rows if p.risk_assessment_overdue_since is not None and not risk_assessment_overdue(p, on_date)
    ]
    if flag:
        ChemicalPark.objects.filter(pk__in=flag).update(risk_assessment_overdue_since=on_date)
    if lift:
        ChemicalPark.objects.filter(pk__in=lift).update(risk_assessment_overdue_since=None)
    return flag, len(lift)
