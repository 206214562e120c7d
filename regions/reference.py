"""The 行政区划 sheet of a reference workbook (see core.reference): 代码, 名称, 上级代码.

The level comes from the code (regions.services.level_for_code); rows are applied cities first,
then counties, then townships, so a parent may come later in the sheet than its children.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core import reference

from .choices import RegionLevel
from .models import Region
from .services import level_for_code, save_region

SHEET = "行政区划"
LEVEL_ORDER = {RegionLevel.CITY: 0, RegionLevel.COUNTY: 1, RegionLevel.TOWNSHIP: 2}


def regions_by_code(ctx) -> dict[str, Region]:
    """Every region by code, read once per load and kept current as rows are applied."""
    return ctx.cache("regions", lambda: {region.code: region for region in Region.objects.all()})


def region_code(value) -> str:
    value = reference.code(value)
    level_for_code(value)  # reject a malformed code at parse time, naming the 代码 column
    return value


def _sort_key(values):
    try:
        level = level_for_code(values["code"])
    except ValidationError:
        level = RegionLevel.TOWNSHIP
    return LEVEL_ORDER[level], values["code"]


def apply_region(values, ctx) -> str:
    regions = regions_by_code(ctx)
    code, name, parent_code = values["code"], values["name"], values.get("parent_code")
    parent = None
    if parent_code:
        rejected_row = ctx.rejected(SHEET, parent_code)
        if rejected_row is not None:
            raise reference.RowError(
                "parent_code",
                _("The parent %(code)s is in row %(row)d, which has errors; fix that row first.")
                % {"code": parent_code, "row": rejected_row},
            )
        parent = regions.get(parent_code)
        if parent is None:
            raise reference.RowError(
                "parent_code",
                _(
                    "No region has the code %(code)s, neither in the register nor in this sheet; add it or correct the code."
                )
                % {"code": parent_code},
            )
    region = regions.get(code)
    if region is not None and region.name == name and region.parent_id == (parent.pk if parent else None):
        return reference.UNCHANGED
    created = region is None
    if created:
        region = Region(code=code)
    region.name = name
    region.parent = parent
    save_region(actor=ctx.actor, region=region)
    regions[code] = region
    return reference.CREATED if created else reference.UPDATED


reference.register(
    reference.SheetLoader(
        sheet=SHEET,
        order=10,
        columns=[
            reference.Column("代码", "code", parse=region_code, aliases=("code",)),
            reference.Column("名称", "name", aliases=("name",)),
            reference.Column("上级代码", "parent_code", parse=reference.code, blank=True, aliases=("parent_code",)),
        ],
        key=("code",),
        apply=apply_region,
        sort_key=_sort_key,
        field_columns={"parent": "parent_code", "level": "code", "path": "code"},
    )
)
