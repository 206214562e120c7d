from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    CITY = "city", _("City")
    COUNTY = "county", _("County/district")
    TOWNSHIP = "township", _("Township/street")


# Code length of each level: GB/T 2260 six digits for city and county, nine-digit
# statistical codes for townships (county code + 3 digits).
CODE_LENGTH = {RegionLevel.CITY: 6, RegionLevel.COUNTY: 6, RegionLevel.TOWNSHIP: 9}
