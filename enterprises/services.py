"""Writes to the enterprise register. Web forms, the admin, the importer and the API call these."""

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import Capability, require
from core.bulk import insert_history, insert_rows, update_rows
from core.exceptions import ConflictError
from core.history import apply_changes, apply_many_to_many, delete_tracked, save_tracked
from parks.choices import RecognitionStatus
from regions.choices import RegionLevel
from regions.scoping import region_in_scope

from .hazards import Grading, Line, Reference, grade, resolve
from .models import Enterprise, HazardInventoryLine, MajorHazardSource, Permit, YearlyTier
from .signals import REFERENCE_FIELDS, enterprise_reference_changed
from .validators import normalize_uscc


def _check_township(township, park) -> None:
    if township is not None and township.level != RegionLevel.TOWNSHIP:
        raise ValidationError({"township": _("Choose a township or street, not a county or city.")})


# --- The park rules ------------------------------------------------------------------------------

#: Codes of the park rules' errors: a form shows a confirmation checkbox for PARK_OUTSIDE_TOWNSHIP.
PARK_REVOKED = "park_revoked"
PARK_OUTSIDE_TOWNSHIP = "park_outside_township"


@dataclass
class ParkCheck:
    """What the park rules say about an enterprise of a township in a park."""

    #: Why the park is refused (its recognition was revoked), or None.
    refusal: str | None = None
    #: Why the park needs a confirmation (it lies in another township), or None.
    outside: str | None = None


def check_park(*, township, park, current: Enterprise | None = None) -> ParkCheck:
    """The park rules, in one place: the web form, the admin, the API and the roster import call them.

    - A park whose recognition was revoked (取消定位) takes no enterprise in: refused, with the reason.
    - A park of another township than the enterprise's: the form and the API ask for a confirmation, the
      roster import warns (officers write the parks they know; the row is imported and listed to check).
    Only a change is judged (`current` is the stored enterprise, None for a new one): an enterprise already in
    a park keeps it when other fields are edited, even after the park lost its recognition.
    """
    check = ParkCheck()
    if park is None:
        return check
    moving_in = current is None or current.park_id != park.pk
    moving = moving_in or (township is not None and township.pk != current.township_id)
    if moving_in and park.recognition_status == RecognitionStatus.REVOKED:
        check.refusal = _(
            "%(park)s lost its recognition as a chemical park (取消定位); no enterprise can be moved into it. "
            "Choose a recognised park, or leave the enterprise outside any park."
        ) % {"park": park.name}
    if moving and township is not None and park.township_id != township.pk:
        check.outside = _(
            "%(park)s lies in %(park_township)s, not in %(township)s where the enterprise is registered. "
            "Check the township and the park; if both are right, confirm."
        ) % {"park": park.name, "park_township": park.township.name, "township": township.name}
    return check


def _enforce_park_rules(*, township, park, current=None, confirmed: bool) -> None:
    """Raise the park rules' ValidationError (on "park"): a refusal always, an outside park unless confirmed."""
    check = check_park(township=township, park=park, current=current)
    if check.refusal:
        raise ValidationError({"park": ValidationError(check.refusal, code=PARK_REVOKED)})
    if check.outside and not confirmed:
        raise ValidationError({"park": ValidationError(check.outside, code=PARK_OUTSIDE_TOWNSHIP)})


def asks_park_confirmation(error: ValidationError) -> bool:
    """True when `error` is the park rules' request for a confirmation (a form then offers the checkbox)."""
    if not hasattr(error, "error_dict"):
        return False
    return any(item.code == PARK_OUTSIDE_TOWNSHIP for item in error.error_dict.get("park", []))


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
def create_enterprise(
    *, actor, data: dict, key_processes=None, reason: str = "", confirm_park_outside_township: bool = False
) -> Enterprise:
    """Register a new enterprise in a township inside the actor's region (park rules: check_park)."""
    data = dict(data)
    data["uscc"] = normalize_uscc(data.get("uscc"))
    township = data.get("township")
    require(actor, Capability.CHANGE_ENTERPRISE, township)
    _check_township(township, data.get("park"))
    _enforce_park_rules(township=township, park=data.get("park"), confirmed=confirm_park_outside_township)
    enterprise = Enterprise(**data)
    # The processes are set with the save: its one "created" history row holds them.
    many = {"key_processes": key_processes} if key_processes is not None else None
    save_tracked(enterprise, actor=actor, reason=reason, many_to_many=many)
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
    confirm_park_outside_township: bool = False,
) -> list[str]:
    """Change only the fields that differ; an unchanged enterprise is not saved and gets no history entry.

    Returns the names of the changed fields ("key_processes" included when the set changed). Any change
    raises `version`; with `expected_version` (the version the caller's change is based on) a record
    changed meanwhile raises ConflictError instead of being overwritten. A new park or township follows the
    park rules (check_park).
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
    if "township" in data or "park" in data:
        _enforce_park_rules(
            township=data.get("township", enterprise.township),
            park=data.get("park", enterprise.park),
            current=enterprise,
            confirmed=confirm_park_outside_township,
        )
    changed = apply_changes(enterprise, data)
    if key_processes is not None:
        # Set only when the set differs, without simple-history's row per add/remove: the save below
        # writes the one history row of this change, fields and processes together.
        changed += apply_many_to_many(enterprise, {"key_processes": key_processes})
    if changed:
        enterprise.version = stored_version + 1
        save_tracked(enterprise, actor=actor, reason=reason)
    if "township" in changed:
        # Its hazard sources moved with it: a sync of the new township must pick them up.
        touch(MajorHazardSource.objects.filter(enterprise=enterprise))
    if REFERENCE_FIELDS.intersection(changed):
        enterprise_reference_changed.send(sender=Enterprise, enterprise_ids=[enterprise.pk])
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


CAS_PATTERN = re.compile(r"^\d{2,7}-\d{2}-\d$")
#: Keys an inventory item may have (Q and β are never typed in: the standard's tables give them).
INVENTORY_KEYS = frozenset({"substance", "chemical_name", "cas", "max_quantity_t", "categories"})


def _inventory_lines(reference: Reference, inventory: list[dict]) -> list[tuple[HazardInventoryLine, Line]]:
    """Resolve each item's substance (name, alias, CAS or 表1-N) and categories; ValidationError per line."""
    pairs, errors = [], {}
    for index, item in enumerate(inventory, start=1):
        unknown = set(item) - INVENTORY_KEYS
        if unknown:
            raise TypeError(f"Inventory keys not accepted: {', '.join(sorted(unknown))}")
        text = unicodedata.normalize("NFKC", str(item.get("substance") or item.get("chemical_name") or "")).strip()
        cas = unicodedata.normalize("NFKC", str(item.get("cas") or "")).strip()
        if not cas and CAS_PATTERN.match(text):
            cas = text
        key = f"inventory_{index}"
        try:
            substance = resolve(reference, text, cas)
            categories = reference.parse_categories(item.get("categories"))
        except ValueError as error:
            errors[key] = _("Line %(n)d: %(error)s") % {"n": index, "error": error}
            continue
        if substance is None and not text:
            errors[key] = _("Line %(n)d: name the substance (name, alias or CAS number).") % {"n": index}
            continue
        quantity = item.get("max_quantity_t")
        if quantity in (None, ""):
            errors[key] = _("Line %(n)d: enter the maximum quantity in tonnes.") % {"n": index}
            continue
        name = substance.name if substance else text
        record = HazardInventoryLine(
            chemical_id=substance.pk if substance else None,
            chemical_name=name[:200],
            cas=(cas or (substance.cas if substance else ""))[:20],
            categories=",".join(categories),
            max_quantity_t=Decimal(quantity),
        )
        pairs.append((record, Line(name, record.max_quantity_t, substance, record.cas, categories)))
    if errors:
        raise ValidationError(errors)
    return pairs


def line_of(reference: Reference, *, chemical_id, chemical_name, cas, categories, max_quantity_t) -> Line:
    """A stored inventory line as hazards.grade() takes it. A line written without its substance (a bulk load)
    is matched by name or CAS number when exactly one entry has it."""
    try:
        codes = reference.parse_categories(categories)
    except ValueError:  # a code the reference no longer has: the line then needs its category again
        codes = ()
    substance = reference.by_pk(chemical_id) if chemical_id else None
    if substance is None:
        try:
            substance = resolve(reference, chemical_name, cas)
        except ValueError:
            substance = None
    return Line(chemical_name, max_quantity_t, substance, cas, codes)


def _stored(value: Decimal | None) -> Decimal | None:
    """Stored with 6 decimals (the level was decided on the exact value before)."""
    return None if value is None else value.quantize(Decimal("0.000001"))


def _apply_grading(source: MajorHazardSource, grading: Grading) -> bool:
    """Set the figures of `grading` on the source; True when any changed."""
    values = {
        "computed_level": grading.level,
        "r_value": _stored(grading.r_value),
        "s_value": _stored(grading.s_value),
        "is_major": grading.is_major,
        "holds_shutoff_substances": grading.holds_shutoff_substances,
    }
    return bool(apply_changes(source, values))


def _apply_terms(records, grading: Grading) -> list:
    """Set each line's Q and β as the standard gives them; the lines whose figures changed."""
    changed = []
    for record, term in zip(records, grading.terms, strict=True):
        substance = term.line.substance
        values = {
            "threshold_t": term.threshold_t,
            "beta": term.beta,
            "chemical_id": substance.pk if substance else None,
        }
        if apply_changes(record, values):
            changed.append(record)
    return changed


def _hazard_source_fields() -> list:
    """The fields whose change is a change of the hazard source (not its stamps or version)."""
    return [
        f
        for f in MajorHazardSource._meta.concrete_fields
        if not f.primary_key and f.name not in ("created_at", "updated_at", "version")
    ]


def _inventory_key(lines) -> list:
    """An inventory as the user gives it (Q and β follow from the tables), comparable, in no particular order."""

    def number(value):
        return Decimal(str(value)) if value not in (None, "") else None

    return sorted(
        (
            line.chemical_name or "",
            line.cas or "",
            line.categories or "",
            number(line.max_quantity_t),
        )
        for line in lines
    )


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
    """Create or update a hazard source and (when given) replace its inventory; grade it (GB 18218-2018).

    Each inventory item names its substance by name, alias, CAS number or 表1 entry ("substance", or the older
    "chemical_name"/"cas"), its maximum quantity ("max_quantity_t", t) and, for a substance neither 表1 nor 表3
    names, its hazard categories ("categories", 表2 codes). Q and β come from the tables only. What cannot be
    computed yet (a category or the people within 500 m missing) is saved and shown with the reason.
    A save that changes nothing (fields, grading or inventory) writes nothing and adds no history entry.
    """
    require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
    if hazard_source is None:
        hazard_source = MajorHazardSource(enterprise=enterprise, **data)
    else:
        apply_changes(hazard_source, data)

    reference = Reference.load()
    existing = list(hazard_source.inventory.all()) if hazard_source.pk else []
    if inventory is not None:
        pairs = _inventory_lines(reference, inventory)
        records = [pair[0] for pair in pairs]
        replace_inventory = not hazard_source.pk or _inventory_key(existing) != _inventory_key(records)
    else:
        replace_inventory = False
    if replace_inventory:
        lines = [pair[1] for pair in pairs]
    else:
        records = existing  # the same inventory (or none given): its stored lines are graded again
        lines = [
            line_of(
                reference,
                chemical_id=r.chemical_id,
                chemical_name=r.chemical_name,
                cas=r.cas,
                categories=r.categories,
                max_quantity_t=r.max_quantity_t,
            )
            for r in records
        ]
    grading = grade(lines, hazard_source.exposed_population, reference)
    _apply_grading(hazard_source, grading)
    changed_lines = _apply_terms(records, grading)

    if hazard_source.pk is None:
        save_tracked(hazard_source, actor=actor, reason=reason)
    else:
        # Compared with the stored row (locked), not with `data`: the admin sets the fields before calling.
        stored = MajorHazardSource.objects.select_for_update().values().get(pk=hazard_source.pk)
        source_changed = any(stored[f.attname] != getattr(hazard_source, f.attname) for f in _hazard_source_fields())
        if not source_changed and not replace_inventory and not changed_lines:
            return hazard_source  # nothing changed: no save, no history entry
        hazard_source.version = stored["version"] + 1
        if source_changed:
            save_tracked(hazard_source, actor=actor, reason=reason)
        else:
            # Only inventory lines changed (their own history records it), not the level or R: the source is
            # marked changed for the API without a history row of its own that would show no change.
            hazard_source.updated_at = timezone.now()
            MajorHazardSource.objects.filter(pk=hazard_source.pk).update(
                version=hazard_source.version, updated_at=hazard_source.updated_at
            )
    if replace_inventory:
        for line in existing:
            delete_tracked(line, actor=actor, reason=reason)
        for line in records:
            line.hazard_source = hazard_source
            save_tracked(line, actor=actor, reason=reason)
    else:
        for line in changed_lines:
            save_tracked(line, actor=actor, reason=reason)
    return hazard_source


@transaction.atomic
def delete_hazard_source(*, actor, hazard_source: MajorHazardSource, reason: str = "") -> None:
    require(actor, Capability.CHANGE_ENTERPRISE, hazard_source.enterprise.township)
    delete_tracked(hazard_source, actor=actor, reason=reason)


#: Hazard sources recomputed per round trip by recompute_hazard_levels.
RECOMPUTE_CHUNK_SIZE = 1000
RECOMPUTE_REASON = "重新计算危险源级别（GB 18218-2018）"
_LINE_COLUMNS = ("pk", "hazard_source_id", "chemical_id", "chemical_name", "cas", "categories", "max_quantity_t")


def recompute_hazard_levels(*, chunk_size: int = RECOMPUTE_CHUNK_SIZE) -> int:
    """Grade every major hazard source again from its inventory and the reference tables; return how many changed.

    For a change of the reference tables, and rows written without going through save_hazard_source (bulk
    loads, older rules). Chunked by primary key: a fixed number of queries per chunk (its rows locked while it
    is worked on), multi-row updates with history rows for the sources and lines whose figures differ, which also
    raise the sources' version and updated_at (ETags, incremental sync). Unchanged rows are not written, so
    running it twice changes nothing the second time.
    """
    reference = Reference.load()
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
            records: dict[int, list] = {}
            for line in HazardInventoryLine.objects.filter(
                hazard_source_id__gte=first_pk, hazard_source_id__lte=last_pk
            ).order_by("hazard_source_id", "pk"):
                records.setdefault(line.hazard_source_id, []).append(line)
            now = timezone.now()
            changed, changed_lines = [], []
            for source in sources:
                own = records.get(source.pk, [])
                lines = [
                    line_of(
                        reference,
                        chemical_id=r.chemical_id,
                        chemical_name=r.chemical_name,
                        cas=r.cas,
                        categories=r.categories,
                        max_quantity_t=r.max_quantity_t,
                    )
                    for r in own
                ]
                grading = grade(lines, source.exposed_population, reference)
                changed_lines += _apply_terms(own, grading)
                if _apply_grading(source, grading):
                    source.version, source.updated_at = source.version + 1, now
                    changed.append(source)
            # Set-based writes with one history row each (who: the worker; why: RECOMPUTE_REASON).
            update_rows(HazardInventoryLine, changed_lines, ["threshold_t", "beta", "chemical"])
            insert_history(HazardInventoryLine, changed_lines, reason=RECOMPUTE_REASON, history_type="~")
            if changed:
                update_rows(
                    MajorHazardSource,
                    changed,
                    [
                        "computed_level",
                        "r_value",
                        "s_value",
                        "is_major",
                        "holds_shutoff_substances",
                        "version",
                        "updated_at",
                    ],
                )
                insert_history(MajorHazardSource, changed, reason=RECOMPUTE_REASON, history_type="~")
                changed_total += len(changed)


# --- Deadline check: expired permits (worker, no actor) --------------------------------------------


@transaction.atomic
def flag_expired_permits(on_date) -> tuple[list[int], int]:
    """Flag enterprises holding a current permit expired before `on_date` (set-based, idempotent).

    `permit_expired_since = on_date` on enterprises not flagged yet; the flag is lifted from enterprises
    whose permits were renewed since. Returns (ids flagged by this run, number of flags lifted); a second
    run the same day flags and lifts nothing.
    """
    from .selectors import expired_permit_exists

    expired = expired_permit_exists(on_date)
    lifted = (
        Enterprise.objects.filter(permit_expired_since__isnull=False).exclude(expired).update(permit_expired_since=None)
    )
    due = Enterprise.objects.filter(expired, permit_expired_since__isnull=True)
    ids = list(due.select_for_update(of=("self",)).values_list("pk", flat=True))
    if ids:
        due.filter(pk__lte=max(ids)).update(permit_expired_since=on_date)
    return ids, lifted


# --- Bulk upsert by credit code (the roster importer) ----------------------------------------------

#: Fields a bulk upsert may set: the columns of a township's roster.
UPSERT_FIELDS = frozenset(
    {
        "uscc",
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
    }
)
#: Rows per query of a bulk upsert (lookups, inserts, updates, history rows).
UPSERT_BATCH_SIZE = 1000


class UpsertAction:
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class EnterpriseUpsert:
    """One enterprise to create or update, keyed by its credit code.

    `data` holds the fields to set: "uscc" always; "township" a Region and "park" a ChemicalPark or None
    (looked up by the caller). Fields left out keep their stored value. `key` is the caller's reference
    (the importer's Excel row number), returned with the outcome.
    """

    key: object
    data: dict


@dataclass
class UpsertPlan:
    key: object
    action: str
    #: The new (unsaved) enterprise, or the stored one with the new values set.
    enterprise: Enterprise | None
    #: field -> (old value, new value) of a stored enterprise (empty for a new one: it holds the values).
    changes: dict = field(default_factory=dict)
    #: field -> [messages]
    errors: dict = field(default_factory=dict)
    #: field -> [messages] that do not block (a park of another township: imported, listed to check)
    warnings: dict = field(default_factory=dict)


def _in_batches(items, size=UPSERT_BATCH_SIZE):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stored_by_code(codes, *, lock: bool) -> dict:
    found = {}
    for chunk in _in_batches(sorted(codes)):
        queryset = Enterprise.objects.filter(uscc__in=chunk).select_related("township", "park__township")
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        found.update((enterprise.uscc, enterprise) for enterprise in queryset)
    return found


def _comparable(name: str, value):
    if Enterprise._meta.get_field(name).is_relation:
        return value.pk if value is not None else None
    return value


def _stored_value(enterprise: Enterprise, name: str):
    model_field = Enterprise._meta.get_field(name)
    return getattr(enterprise, model_field.attname if model_field.is_relation else name)


def _field_errors(enterprise: Enterprise, names) -> dict:
    """The model's own field rules (length, choices, validators such as GB 32100) for `names`, without a
    query: related records were looked up by the caller and uniqueness is settled by credit code."""
    exclude = [f.name for f in Enterprise._meta.concrete_fields if f.name not in names or f.is_relation]
    try:
        enterprise.clean_fields(exclude=exclude)
    except ValidationError as error:
        return error.message_dict
    return {}


def plan_enterprise_upserts(items, *, actor, lock: bool = False) -> list[UpsertPlan]:
    """What `bulk_upsert_enterprises` would do with each item, with the same checks, writing nothing.

    Checks the actor's capability and region for the enterprise where it is and where it goes, the
    township level, the park rules (a revoked park is an error, a park of another township a warning),
    each field's rules and credit codes given twice; a fixed number of queries per
    UPSERT_BATCH_SIZE items. With `lock` the stored rows are locked till the transaction ends.
    """
    require(actor, Capability.CHANGE_ENTERPRISE)
    items = list(items)
    for item in items:
        unknown = set(item.data) - UPSERT_FIELDS
        if unknown:
            raise TypeError(f"Fields not accepted by a bulk upsert: {', '.join(sorted(unknown))}")
    codes = {normalize_uscc(item.data.get("uscc")) for item in items} - {""}
    stored = _stored_by_code(codes, lock=lock)
    first_key = {}
    plans = []
    for item in items:
        data = dict(item.data)
        code = data["uscc"] = normalize_uscc(data.get("uscc"))
        errors: dict[str, list] = {}
        if code in first_key:
            errors["uscc"] = [_("The credit code %(code)s is given twice.") % {"code": code}]
        first_key.setdefault(code, item.key)
        township = data.get("township")
        if township is not None:
            if township.level != RegionLevel.TOWNSHIP:
                errors["township"] = [_("Choose a township or street, not a county or city.")]
            elif not region_in_scope(actor, township):
                errors["township"] = [_("%(region)s lies outside your region.") % {"region": township.name}]
        current = stored.get(code)
        parks = check_park(
            township=township if township is not None else getattr(current, "township", None),
            park=data["park"] if "park" in data else getattr(current, "park", None),
            current=current,
        )
        if parks.refusal:
            errors.setdefault("park", []).append(parks.refusal)
        warnings = {"park": [parks.outside]} if parks.outside else {}
        if current is None:
            if township is None:
                errors.setdefault("township", []).append(_("A new enterprise needs its township."))
            enterprise = Enterprise(**data)
            if not errors:
                errors = _field_errors(enterprise, data)
            action = UpsertAction.ERROR if errors else UpsertAction.CREATE
            plans.append(UpsertPlan(item.key, action, enterprise, {}, errors, warnings))
            continue
        if not region_in_scope(actor, current.township):
            errors.setdefault("uscc", []).append(
                _("%(name)s (%(code)s) is registered in %(region)s, outside your region.")
                % {"name": current.name, "code": code, "region": current.township.name}
            )
        changes = {
            name: (getattr(current, name), value)
            for name, value in data.items()
            if _stored_value(current, name) != _comparable(name, value)
        }
        if not errors and changes:
            for name in changes:
                setattr(current, name, data[name])
            errors = _field_errors(current, changes)
        action = UpsertAction.ERROR if errors else UpsertAction.UPDATE if changes else UpsertAction.UNCHANGED
        plans.append(UpsertPlan(item.key, action, current, changes, errors, warnings))
    return plans


@dataclass
class BulkUpsertResult:
    #: key -> the saved enterprise, for every item (created, updated or unchanged).
    enterprises: dict
    created: int
    updated: int
    unchanged: int


@transaction.atomic
def bulk_upsert_enterprises(items, *, actor, reason: str = "", batch_size: int = UPSERT_BATCH_SIZE) -> BulkUpsertResult:
    """Create or update many enterprises by credit code in a few batched queries, all or nothing.

    The same rules as create_enterprise/update_enterprise (plan_enterprise_upserts): an item in error makes
    the whole call raise ValidationError keyed by the items' keys, and nothing is written. New enterprises
    and changed ones get one history row each naming the actor and `reason`; unchanged ones are not
    written. Changed ones get version + 1 and a new updated_at (API ETags and incremental sync).
    """
    plans = plan_enterprise_upserts(items, actor=actor, lock=True)
    return apply_enterprise_upserts(plans, actor=actor, reason=reason, batch_size=batch_size)


def apply_enterprise_upserts(
    plans: list[UpsertPlan], *, actor, reason: str = "", batch_size: int = UPSERT_BATCH_SIZE
) -> BulkUpsertResult:
    """Write what plan_enterprise_upserts(..., lock=True) planned earlier IN THE SAME TRANSACTION (the rows it
    read are locked, so the plan still holds): for a caller that plans first (an import's checks) and writes
    after, without checking everything twice."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_enterprise_upserts runs inside the transaction that planned with lock=True.")
    errors = {
        str(plan.key): [message for messages in plan.errors.values() for message in messages]
        for plan in plans
        if plan.action == UpsertAction.ERROR
    }
    if errors:
        raise ValidationError(errors)
    user = actor if getattr(actor, "pk", None) else None
    new = [plan.enterprise for plan in plans if plan.action == UpsertAction.CREATE]
    insert_rows(Enterprise, new)
    insert_history(Enterprise, new, user=user, reason=reason, history_type="+")
    changed = [plan for plan in plans if plan.action == UpsertAction.UPDATE]
    if changed:
        now = timezone.now()
        fields = sorted({name for plan in changed for name in plan.changes})
        enterprises = [plan.enterprise for plan in changed]
        for enterprise in enterprises:
            enterprise.version += 1
            enterprise.updated_at = now
        Enterprise.objects.bulk_update(enterprises, [*fields, "version", "updated_at"], batch_size=batch_size)
        # Each row also records the enterprise's key processes as they are (unchanged by an upsert).
        insert_history(Enterprise, enterprises, user=user, reason=reason, history_type="~")
        moved = [plan.enterprise.pk for plan in changed if "township" in plan.changes]
        for chunk in _in_batches(moved):
            touch(MajorHazardSource.objects.filter(enterprise_id__in=chunk))
        renamed = [plan.enterprise.pk for plan in changed if REFERENCE_FIELDS.intersection(plan.changes)]
        for chunk in _in_batches(renamed):
            enterprise_reference_changed.send(sender=Enterprise, enterprise_ids=chunk)
    return BulkUpsertResult(
        enterprises={plan.key: plan.enterprise for plan in plans},
        created=len(new),
        updated=len(changed),
        unchanged=sum(1 for plan in plans if plan.action == UpsertAction.UNCHANGED),
    )
