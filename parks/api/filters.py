import datetime

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.api.filters import RegionCodeFilter
from enterprises.filters import visible_regions

from ..choices import RISK_ASSESSMENT_VALID_YEARS
from ..filters import ChemicalParkFilterSet


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


class ChemicalParkApiFilterSet(ChemicalParkFilterSet):
    """The park list's filters, with the API's parameter names (search instead of q)."""

    q = None
    search = django_filters.CharFilter(method="filter_search", help_text=_("Part of the name or the park code."))
    region = RegionCodeFilter(
        queryset=visible_regions, help_text=_("Region code: parks in this region and everything below it.")
    )
    code = django_filters.CharFilter(field_name="code", help_text=_("Exactly this park code."))
    risk_assessment_overdue = django_filters.BooleanFilter(
        method="filter_risk_assessment_overdue",
        help_text=_("true: the overall safety-risk assessment is missing or older than 5 years; false: it is current."),
    )

    def filter_risk_assessment_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        # Mirrors parks.selectors.risk_assessment_overdue: the assessment is valid until the same day 5 years on.
        limit = _years_before(timezone.localdate(), RISK_ASSESSMENT_VALID_YEARS)
        overdue = Q(last_risk_assessment_on__isnull=True) | Q(last_risk_assessment_on__lt=limit)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
