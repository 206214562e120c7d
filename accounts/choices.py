from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CITY = "city", _("City rectification office")
    COUNTY = "county", _("County rectification office")
    TOWNSHIP = "township", _("Township officer")
    REVIEWER = "reviewer", _("Pre-review department")
    SUPERVISOR = "supervisor", _("Supervision team")
    API = "api", _("API system")
