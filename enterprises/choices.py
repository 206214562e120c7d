from django.db import models
from django.utils.translation import gettext_lazy as _


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
    BATCH = "batch", _("Batch")
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
    """Persons who may be exposed outside the plant within 500 m (GB 18218-2018 table 5, α)."""

    OVER_100 = "over_100", _("100 or more")
    FROM_50 = "50_99", _("50 to 99")
    FROM_30 = "30_49", _("30 to 49")
    FROM_1 = "1_29", _("1 to 29")
    NONE = "none", _("None")


EXPOSURE_ALPHA = {
    ExposedPopulation.OVER_100: 2.0,
    ExposedPopulation.FROM_50: 1.5,
    ExposedPopulation.FROM_30: 1.2,
    ExposedPopulation.FROM_1: 1.0,
    ExposedPopulation.NONE: 0.5,
}


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
