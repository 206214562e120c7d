"""Writes to the enterprise register. Web forms, the admin, the importer and the API call these."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import Capability, require
from core.history import apply_changes, delete_tracked, save_tracked
from regions.choices import RegionLevel

from .hazards import assess
from .models import Enterprise, HazardInventoryLine, HazardousChemical, MajorHazardSource, Permit, YearlyTier
from .validators import normalize_uscc


def _check_township(township, park) -> None:
    if township is not None and township.level != RegionLevel.TOWNSHIP:
        raise ValidationError({"township": _("Choose a township or street, not a county or city.")})


@transaction.atomic
def create_enterprise(*, actor, data: dict, key_processes=None, reason: str = "") -> Enterprise:
    """Register a new enterprise in a township inside the actor's region."""
    data = dict(data)
    data["uscc"] = normalize_uscc(data.get("uscc"))
    township = data.get("township")
    require(actor, Capability.CHANGE_ENTERPRISE, township)
    _check_township(township, data.get("park"))
    enterprise = Enterprise(**data)
    save_tracked(enterprise, actor=actor, reason=reason)
    if key_processes is not None:
        enterprise.key_processes.set(key_processes)
    return enterprise


@transaction.atomic
def update_enterprise(*, actor, enterprise: Enterprise, data: dict, key_processes=None, reason: str = "") -> list[str]:
    """Change only the fields that differ; an unchanged enterprise is not saved and gets no history entry.

    Returns the names of the changed fields ("key_processes" included when the set changed).
    """
    require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
    data = dict(data)
    if "uscc" in data:
        data["uscc"] = normalize_uscc(data["uscc"])
    if "township" in data:
        # Moving an enterprise: the destination must be inside the actor's region too.
        require(actor, Capability.CHANGE_ENTERPRISE, data["township"])
        _check_township(data["township"], data.get("park", enterprise.park))
    changed = apply_changes(enterprise, data)
    if changed:
        save_tracked(enterprise, actor=actor, reason=reason)
    if key_processes is not None:
        wanted = {p.pk for p in key_processes}
        current = set(enterprise.key_processes.values_list("pk", flat=True))
        if wanted != current:
            enterprise.key_processes.set(key_processes)
            changed.append("key_processes")
    return changed


@transaction.atomic
def save_permit(*, actor, enterprise: Enterprise, data: dict, permit: Permit | None = None, reason: str = "") -> Permit:
    require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
    if permit is None:
        permit = Permit(enterprise=enterprise, **data)
    elif permit.enterprise_id != enterprise.pk:
        raise ValidationError(_("This permit belongs to another enterprise."))
    else:
        if not apply_changes(permit, data):
            return permit
    save_tracked(permit, actor=actor, reason=reason)
    return permit


@transaction.atomic
def delete_permit(*, actor, permit: Permit, reason: str = "") -> None:
    require(actor, Capability.CHANGE_ENTERPRISE, permit.enterprise.township)
    delete_tracked(permit, actor=actor, reason=reason)


@transaction.atomic
def set_yearly_tier(
    *, actor, enterprise: Enterprise, year: int, tier: int, note: str = "", reason: str = ""
) -> YearlyTier:
    """Record (or correct) the tier of one year."""
    require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
    record = YearlyTier.objects.filter(enterprise=enterprise, year=year).first()
    if record is None:
        record = YearlyTier(enterprise=enterprise, year=year, tier=tier, note=note)
    elif not apply_changes(record, {"tier": tier, "note": note}):
        return record
    save_tracked(record, actor=actor, reason=reason)
    return record


def reference_for_cas(cas: str) -> HazardousChemical | None:
    cas = (cas or "").strip()
    return HazardousChemical.objects.filter(cas=cas).first() if cas else None


def _recompute_level(hazard_source: MajorHazardSource, lines) -> None:
    triples = [(line.max_quantity_t, line.threshold_t, line.beta) for line in lines]
    if not triples:
        hazard_source.computed_level = None
        hazard_source.r_value = None
        return
    result = assess(triples, hazard_source.exposed_population)
    hazard_source.computed_level = result.level
    hazard_source.r_value = result.r_value


@transaction.atomic
def save_hazard_source(
    *,
    actor,
    enterprise: Enterprise,
    data: dict,
    inventory: list[dict] | None = None,
    hazard_source: MajorHazardSource | None = None,
    reason: str = "",
) -> MajorHazardSource:
    """Create or update a hazard source and (when given) replace its inventory; recompute its level.

    Each inventory dict has chemical_name, cas, max_quantity_t and optionally threshold_t and beta;
    a CAS number found in the GB 18218 reference table fills threshold and β when they are left empty.
    """
    require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
    if hazard_source is None:
        hazard_source = MajorHazardSource(enterprise=enterprise, **data)
    else:
        apply_changes(hazard_source, data)

    lines = None
    if inventory is not None:
        lines = []
        errors = {}
        for index, item in enumerate(inventory, start=1):
            item = dict(item)
            reference = reference_for_cas(item.get("cas", ""))
            if item.get("threshold_t") in (None, "") and reference:
                item["threshold_t"] = reference.threshold_t
            if item.get("beta") in (None, "") and reference:
                item["beta"] = reference.beta
            if item.get("beta") in (None, ""):
                item["beta"] = Decimal(1)
            if item.get("threshold_t") in (None, ""):
                errors[f"inventory_{index}"] = _(
                    "Line %(n)d (%(chemical)s): enter the threshold quantity; the CAS number is not in the "
                    "GB 18218-2018 reference table."
                ) % {"n": index, "chemical": item.get("chemical_name") or "?"}
                continue
            lines.append(HazardInventoryLine(**item))
        if errors:
            raise ValidationError(errors)
        _recompute_level(hazard_source, lines)
    else:
        _recompute_level(hazard_source, list(hazard_source.inventory.all()) if hazard_source.pk else [])

    save_tracked(hazard_source, actor=actor, reason=reason)
    if lines is not None:
        existing = list(hazard_source.inventory.all())
        for line in existing:
            delete_tracked(line, actor=actor, reason=reason)
        for line in lines:
            line.hazard_source = hazard_source
            save_tracked(line, actor=actor, reason=reason)
    return hazard_source


@transaction.atomic
def delete_hazard_source(*, actor, hazard_source: MajorHazardSource, reason: str = "") -> None:
    require(actor, Capability.CHANGE_ENTERPRISE, hazard_source.enterprise.township)
    delete_tracked(hazard_source, actor=actor, reason=reason)
