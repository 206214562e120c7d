from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class EnterpriseKind(models.TextChoices):
    PRODUCTION = "production", _("Production")
    TRADING = "trading", _("Trading")
    STORAGE = "storage", _("Storage")
    USE = "use", _("Use")
    TRANSPORT = "transport", _("Transport")
    WHARF = "wharf", _("Wharf")


class EnterpriseSize(models.TextChoices):
    ABOVE = "above", _("Above designated size")
    BELOW = "below", _("Below designated size")


class OperatingStatus(models.TextChoices):
    OPERATING = "operating", _("Operating")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")
    DEREGISTERED = "deregistered", _("Deregistered")


class ProcessMode(models.TextChoices):
    BATCH = "batch", pgettext_lazy("process mode", "Batch")
    CONTINUOUS = "continuous", _("Continuous")


class AutomationStatus(models.TextChoices):
    NOT_REQUIRED = "not_required", _("Not required")
    NOT_STARTED = "not_started", _("Not retrofitted")
    IN_PROGRESS = "in_progress", _("Retrofit in progress")
    DONE = "done", _("Retrofit completed")


class PermitKind(models.TextChoices):
    FILING = "filing", _("Filing")
    WORK_SAFETY = "work_safety", _("Work-safety licence")
    DISCHARGE = "discharge", _("Pollutant discharge permit")
    EIA = "eia", _("EIA approval")
    SAFETY_ASSESSMENT = "safety_assessment", _("Safety assessment")
    LAND_USE = "land_use", _("Land-use right")
    BUSINESS_LICENCE = "business_licence", _("Business licence")


class Tier(models.IntegerChoices):
    TIER_1 = 1, _("Tier 1")
    TIER_2 = 2, _("Tier 2")
    TIER_3 = 3, _("Tier 3")


class HazardLevel(models.IntegerChoices):
    LEVEL_1 = 1, _("Level 1")
    LEVEL_2 = 2, _("Level 2")
    LEVEL_3 = 3, _("Level 3")
    LEVEL_4 = 4, _("Level 4")


class HazardUnitKind(models.TextChoices):
    PRODUCTION = "production", _("Production unit")
    STORAGE = "storage", _("Storage unit")
    TANK_FARM = "tank_farm", _("Tank farm")
    WAREHOUSE = "warehouse", _("Warehouse")


class ExposedPopulation(models.TextChoices):
    """People living within 500 m of the plant boundary (GB 18218-2018 表5, α)."""

    OVER_100 = "over_100", _("100 or more")
    FROM_50 = "50_99", _("50 to 99")
    FROM_30 = "30_49", _("30 to 49")
    FROM_1 = "1_29", _("1 to 29")
    NONE = "none", _("None")


#: Each band's rows of 表5: (lowest, highest or None), in the order of enterprises.standards.gb18218_2018.TABLE_5.
EXPOSURE_BANDS = {
    ExposedPopulation.OVER_100: (100, None),
    ExposedPopulation.FROM_50: (50, 99),
    ExposedPopulation.FROM_30: (30, 49),
    ExposedPopulation.FROM_1: (1, 29),
    ExposedPopulation.NONE: (0, 0),
}


class SubstanceForm(models.TextChoices):
    GAS = "gas", _("Gas")
    LIQUID = "liquid", _("Liquid")
    SOLID = "solid", _("Solid")


class HazardDuty(models.TextChoices):
    """What every major hazard source must have (seed 000 (六); DOMAIN.md): a missing one is a breach."""

    MONITORING = "monitoring", _("Automated monitoring missing")
    VIDEO = "video", _("Video not transmitted to the park's monitoring platform")
    SHUTOFF = "shutoff", _("Emergency shut-off missing for toxic gases, highly toxic liquids or flammable gases")
    MUST_STOP = "must_stop", _("Level 1 or 2 storage unit without emergency shut-off: must stop operating")


#: Unit kinds that store (tank farm, warehouse, storage area): at level 1 or 2 without shut-off they must stop.
STORAGE_UNIT_KINDS = (HazardUnitKind.STORAGE, HazardUnitKind.TANK_FARM, HazardUnitKind.WAREHOUSE)


class PermitState(models.TextChoices):
    VALID = "valid", _("Valid")
    EXPIRING = "expiring", _("Expiring within 60 days")
    EXPIRED = "expired", _("Expired")
    MISSING = "missing", _("Missing")


#: Permits every enterprise in the register must hold; a missing one is grounds for closure
#: ("手续不全"). The dossier lists the missing ones and the list can filter on them.
CORE_PERMIT_KINDS = [
    PermitKind.BUSINESS_LICENCE,
    PermitKind.WORK_SAFETY,
    PermitKind.EIA,
    PermitKind.DISCHARGE,
]
