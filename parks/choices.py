from django.db import models
from django.utils.translation import gettext_lazy as _


class ParkLevel(models.TextChoices):
    PROVINCIAL = "provincial", _("Provincial")
    MUNICIPAL = "municipal", _("Municipal")
    CLUSTER = "cluster", _("Chemical cluster")


class RecognitionStatus(models.TextChoices):
    RECOGNISED = "recognised", _("Recognised")
    PENDING = "pending", _("Pending recognition")
    REVOKED = "revoked", _("Recognition revoked")


#: The infrastructure checklist of a park dossier: field name → label.
INFRASTRUCTURE_FIELDS = [
    "central_wastewater_treatment",
    "wastewater_open_pipes_monitored",
    "single_discharge_outlet",
    "central_heating",
    "hazardous_waste_disposal",
    "monitoring_centre",
    "closed_management",
    "fire_station",
    "emergency_command_platform",
]

#: A park's overall safety-risk assessment is due again after this many years.
RISK_ASSESSMENT_VALID_YEARS = 5
