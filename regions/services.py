"""Writes to the region tree (行政区划). The reference loader and the admin both call `save_region`.

Regions are reference data without change history; what must stay right is the tree: the level
follows from the code, the parent is one level up, and every materialised path below a moved or
re-coded region is rewritten with it.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

from accounts.permissions import Capability, require

from .choices import RegionLevel
from .models import Region

#: The level a region's parent must have.
PARENT_LEVEL = {RegionLevel.COUNTY: RegionLevel.CITY, RegionLevel.TOWNSHIP: RegionLevel.COUNTY}


def level_for_code(code: str) -> str:
    """The level a code denotes (DOMAIN.md "Regions"); ValidationError when it denotes none we keep.

    GB/T 2260: a city is XXXX00, a county XXXXYY with YY ≠ 00; a township is its county's 6 digits
    plus 3 (the statistical code). A province (XX0000) is above the register's top level.
    """
    if not code.isdigit() or not code.isascii():
        raise ValidationError(
            _("A region code has digits only; %(code)s has other characters.") % {"code": code}, code="region_digits"
        )
    if len(code) == 9:
        return RegionLevel.TOWNSHIP
    if len(code) == 6:
        if code.endswith("0000"):
            raise ValidationError(
                _("%(code)s is a province code; the register starts at the city (e.g. 320500).") % {"code": code},
                code="region_province",
            )
        return RegionLevel.CITY if code.endswith("00") else RegionLevel.COUNTY
    raise ValidationError(
        _(
            "A region code has 6 digits (city or county, GB/T 2260) or 9 digits (township or street); "
            "%(code)s has %(count)d."
        )
        % {"code": code, "count": len(code)},
        code="region_length",
    )


def check_parent(code: str, level: str, parent: Region | None) -> None:
    """Raise ValidationError on "parent" when `parent` cannot hold a region of `code` and `level`."""
    if level == RegionLevel.CITY:
        if parent is not None:
            raise ValidationError(
                {"parent": _("A city is the top of the tree: leave its parent empty.")}, code="region_city_parent"
            )
        return
    wanted = PARENT_LEVEL[level]
    if parent is None:
        raise ValidationError(
            {
                "parent": _("Enter the parent code: a %(level)s belongs to a %(parent_level)s.")
                % {"level": RegionLevel(level).label, "parent_level": wanted.label}
            },
            code="region_parent_missing",
        )
    if parent.level != wanted:
        raise ValidationError(
            {
                "parent": _("%(parent)s (%(code)s) is a %(actual)s; a %(level)s belongs to a %(parent_level)s.")
                % {
                    "parent": parent.name,
                    "code": parent.code,
                    "actual": RegionLevel(parent.level).label,
                    "level": RegionLevel(level).label,
                    "parent_level": wanted.label,
                }
            },
            code="region_parent_level",
        )
    # Codes nest: a county shares its city's first 4 digits, a township is its county's 6 digits + 3.
    prefix = parent.code[:4] if level == RegionLevel.COUNTY else parent.code
    if not code.startswith(prefix):
        raise ValidationError(
            {
                "parent": _(
                    "Code %(code)s does not lie under %(parent)s (%(parent_code)s): it should start with %(prefix)s."
                )
                % {"code": code, "parent": parent.name, "parent_code": parent.code, "prefix": prefix}
            },
            code="region_parent_prefix",
        )


@transaction.atomic
def save_region(*, actor, region: Region) -> None:
    """Validate and save `region` (new or changed), keeping the paths of it and its descendants right.

    The level is derived from the code. `actor` needs MANAGE_REFERENCE over the region's parent
    (over the region itself for a city).
    """
    region.code = (region.code or "").strip()
    region.name = (region.name or "").strip()
    try:
        region.level = level_for_code(region.code)
    except ValidationError as error:
        raise ValidationError({"code": error.messages}) from error
    require(actor, Capability.MANAGE_REFERENCE, region.parent or region)
    # Levels strictly nest (township → county → city), so this also rules out cycles.
    check_parent(region.code, region.level, region.parent)
    # The stored path, not the in-memory one: an ancestor may have moved earlier in the same load.
    old_path = Region.objects.filter(pk=region.pk).values_list("path", flat=True).first() if region.pk else None
    region.path = region.build_path()
    region.full_clean()
    region.save()
    if old_path and old_path != region.path:
        # One set-based update moves the whole subtree; no query per descendant.
        Region.objects.filter(path__startswith=old_path).exclude(pk=region.pk).update(
            path=Concat(Value(region.path), Substr("path", len(old_path) + 1))
        )
