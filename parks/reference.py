"""The 化工园区 sheet of a reference workbook (see core.reference).

Columns 园区代码, 园区名称, 所在乡镇代码, 级别 (省级/市级/集聚区), 认定状态 (已认定/待认定/取消定位);
optionally 规划面积（平方公里） and 产业定位. Parks are written through parks.services, so every
change is in the park's history with the load as its reason.
"""

from django.utils.translation import gettext as _

from core import reference
from regions.choices import RegionLevel
from regions.reference import SHEET as REGION_SHEET
from regions.reference import regions_by_code

from .choices import ParkLevel, RecognitionStatus
from .models import ChemicalPark
from .services import create_park, update_park

SHEET = "化工园区"

LEVELS = {"省级": ParkLevel.PROVINCIAL, "市级": ParkLevel.MUNICIPAL, "集聚区": ParkLevel.CLUSTER}
RECOGNITION = {
    "已认定": RecognitionStatus.RECOGNISED,
    "待认定": RecognitionStatus.PENDING,
    "取消定位": RecognitionStatus.REVOKED,
}


def apply_park(values, ctx) -> str:
    township_code = values["township_code"]
    rejected_row = ctx.rejected(REGION_SHEET, township_code)
    if rejected_row is not None:
        raise reference.RowError(
            "township_code",
            _("Township %(code)s is in row %(row)d of sheet %(sheet)s, which has errors; fix that row first.")
            % {"code": township_code, "row": rejected_row, "sheet": REGION_SHEET},
        )
    township = regions_by_code(ctx).get(township_code)
    if township is None:
        raise reference.RowError(
            "township_code",
            _("No region has the code %(code)s; add it to sheet %(sheet)s or correct the code.")
            % {"code": township_code, "sheet": REGION_SHEET},
        )
    if township.level != RegionLevel.TOWNSHIP:
        raise reference.RowError(
            "township_code",
            _("%(name)s (%(code)s) is a %(level)s; a park lies in a township or street: give its 9-digit code.")
            % {"name": township.name, "code": township.code, "level": RegionLevel(township.level).label},
        )

    data = {
        "name": values["name"],
        "township": township,
        "level": values["level"],
        "recognition_status": values["recognition_status"],
    }
    # Optional columns change their field only when the sheet has them.
    if "area_km2" in values:
        data["area_km2"] = values["area_km2"]
    if "industry_positioning" in values:
        data["industry_positioning"] = values["industry_positioning"] or ""

    parks = ctx.cache("parks", lambda: {park.code: park for park in ChemicalPark.objects.select_related("township")})
    park = parks.get(values["code"])
    if park is None:
        parks[values["code"]] = create_park(actor=ctx.actor, data={"code": values["code"], **data}, reason=ctx.reason)
        return reference.CREATED
    if update_park(actor=ctx.actor, park=park, data=data, reason=ctx.reason):
        return reference.UPDATED
    return reference.UNCHANGED


reference.register(
    reference.SheetLoader(
        sheet=SHEET,
        order=20,
        columns=[
            reference.Column("园区代码", "code", parse=reference.code),
            reference.Column("园区名称", "name"),
            reference.Column("所在乡镇代码", "township_code", parse=reference.code),
            reference.Column("级别", "level", parse=reference.choice(LEVELS)),
            reference.Column("认定状态", "recognition_status", parse=reference.choice(RECOGNITION)),
            reference.Column(
                "规划面积（平方公里）",
                "area_km2",
                parse=reference.decimal,
                required=False,
                blank=True,
                aliases=("规划面积",),
            ),
            reference.Column("产业定位", "industry_positioning", required=False, blank=True),
        ],
        key=("code",),
        apply=apply_park,
        field_columns={"township": "township_code"},
    )
)
