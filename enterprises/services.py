"""Writes to the enterprise register. Web forms, the admin, the importer and the API call these."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from accounts.permissions import Capability, require
from core.exceptions import ConflictError
from core.history import apply_changes, delete_tracked, save_tracked
from regions.choices import RegionLevel

from .hazards import assess
from .models import Enterprise, HazardInventoryLine, HazardousChemical, MajorHazardSource, Permit, YearlyTier
from .validators import normalize_uscc


def _check_township(township, park) -> None:
    if township is not None and township.level != RegionLevel.TOWNSHIP:
        raise ValidationError({"township": _("Choose a township or street, not a county or city.")})


def locked_version(model, pk) -> int:
    """The stored version, its row locked till the transaction ends: the check and the increment see the latest."""
    return model.objects.select_for_update().values_list("version", flat=True).get(pk=pk)


def touch(queryset) -> int:
    """Mark rows changed (version + 1, updated_at now) when something they show changed elsewhere.

    E.g. an enterprise when one of its permits or tiers changes: the API's ETags and incremental sync
    (ordered by updated_at) must see the enterprise as changed. Set-based: one query.
    """
    return queryset.update(version=F("version") + 1, updated_at=timezone.now())


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
def update_enterprise(
    *,
    actor,
    enterprise: Enterprise,
    data: dict,
    key_processes=None,
    reason: str = "",
    expected_version: int | None = None,
) -> list[str]:
    """Change only the fields that differ; an unchanged enterprise is not saved and gets no history entry.

    Returns the names of the changed fields ("key_processes" included when the set changed). Any change
    raises `version`; with `expected_version` (the version the caller's change is based on) a record
    changed meanwhile raises ConflictError instead of being overwritten.
    """
    require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
    stored_version = locked_version(Enterprise, enterprise.pk)
    if expected_version is not None and expected_version != stored_version:
        raise ConflictError(current_version=stored_version, expected_version=expected_version)
    data = dict(data)
    if "uscc" in data:
        data["uscc"] = normalize_uscc(data["uscc"])
    if "township" in data:
        # Moving an enterprise: the destination must be inside the actor's region too.
        require(actor, Capability.CHANGE_ENTERPRISE, data["township"])
        _check_township(data["township"], data.get("park", enterprise.park))
    changed = apply_changes(enterprise, data)
    processes_changed = False
    if key_processes is not None:
        wanted = {p.pk for p in key_processes}
        processes_changed = wanted != set(enterprise.key_processes.values_list("pk", flat=True))
    if changed:
        enterprise.version = stored_version + 1
        save_tracked(enterprise, actor=actor, reason=reason)
    if processes_changed:
        if not changed:
            # Only the processes changed: their change writes its own history entry, so raise the version
            # without a save (which would add an empty one).
            enterprise.version, enterprise.updated_at = stored_version + 1, timezone.now()
            Enterprise.objects.filter(pk=enterprise.pk).update(
                version=enterprise.version, updated_at=enterprise.updated_at
            )
            if getattr(actor, "pk", None):
                enterprise._history_user = actor
            if reason:
                enterprise._change_reason = reason
        enterprise.key_processes.set(key_processes)
        changed.append("key_processes")
    if "township" in changed:
        # Its hazard sources moved with it: a sync of the new township must pick them up.
        touch(MajorHazardSource.objects.filter(enterprise=enterprise))
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
    touch(Enterprise.objects.filter(pk=enterprise.pk))  # the enterprise shows its permits
    return permit


@transaction.atomic
def delete_permit(*, actor, permit: Permit, reason: str = "") -> None:
    require(actor, Capability.CHANGE_ENTERPRISE, permit.enterprise.township)
    delete_tracked(permit, actor=actor, reason=reason)
    touch(Enterprise.objects.filter(pk=permit.enterprise_id))


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
    touch(Enterprise.objects.filter(pk=enterprise.pk))  # the enterprise shows its tiers
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

    if hazard_source.pk:
        hazard_source.version = locked_version(MajorHazardSource, hazard_source.pk) + 1
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


#: Hazard sources recomputed per round trip by recompute_hazard_levels.
RECOMPUTE_CHUNK_SIZE = 1000
RECOMPUTE_REASON = "重新计算危险源级别（GB 18218-2018）"


def recompute_hazard_levels(*, chunk_size: int = RECOMPUTE_CHUNK_SIZE) -> int:
    """Recompute R and the level of every major hazard source from its inventory; return how many changed.

    For rows whose inventory was written without going through save_hazard_source (bulk loads,
    the admin, an older rule). Chunked by primary key: two queries per chunk (its rows locked while
    it is worked on), and one bulk update with history rows for the sources whose figures differ,
    which also raises their version and updated_at (ETags, incremental sync). Unchanged sources are
    not written, so running it twice changes nothing the second time.
    """
    changed_total = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            sources = list(
                MajorHazardSource.objects.select_for_update().filter(pk__gt=last_pk).order_by("pk")[:chunk_size]
            )
            if not sources:
                return changed_total
            first_pk, last_pk = sources[0].pk, sources[-1].pk
            lines: dict[int, list] = {}
            for source_id, quantity, threshold, beta in HazardInventoryLine.objects.filter(
                hazard_source_id__gte=first_pk, hazard_source_id__lte=last_pk
            ).values_list("hazard_source_id", "max_quantity_t", "threshold_t", "beta"):
                lines.setdefault(source_id, []).append((quantity, threshold, beta))
            now = timezone.now()
            changed = []
            for source in sources:
                triples = lines.get(source.pk)
                if triples:
                    result = assess(triples, source.exposed_population)
                    level, r_value = result.level, result.r_value
                else:
                    level, r_value = None, None
                if source.computed_level != level or source.r_value != r_value:
                    source.computed_level, source.r_value = level, r_value
                    source.version, source.updated_at = source.version + 1, now
                    changed.append(source)
            if changed:
                bulk_update_with_history(
                    changed,
                    MajorHazardSource,
                    ["computed_level", "r_value", "version", "updated_at"],
                    batch_size=500,
                    default_change_reason=RECOMPUTE_REASON,
                )
                changed_total += len(changed)
