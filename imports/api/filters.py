"""Filters of the roster import list."""

import datetime

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.api.filters import RegionCodeFilter
from enterprises.filters import visible_regions
from rectification.api.filters import RegionScopedFilterSet

from ..models import ImportStatus, RosterImport


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class RosterImportApiFilterSet(RegionScopedFilterSet):
    status = django_filters.ChoiceFilter(choices=ImportStatus.choices)
    campaign = django_filters.NumberFilter(field_name="campaign_id", help_text=_("Campaign id."))
    region = RegionCodeFilter(
        queryset=visible_regions, help_text=_("Region code: imports of this region and every region below it.")
    )
    created_after = django_filters.DateFilter(
        method="filter_created_after", help_text=_("Uploaded on or after this date.")
    )
    created_before = django_filters.DateFilter(
        method="filter_created_before", help_text=_("Uploaded on or before this date.")
    )
    ordering = django_filters.OrderingFilter(
        fields=(("id", "id"), ("created_at", "created"), ("committed_at", "committed")),
        help_text=_("id, created or committed; prefix - for descending."),
    )

    class Meta:
        model = RosterImport
        fields: list[str] = []

    # Whole days in the server's time zone, compared on the indexed column (no per-row date conversion).
    def filter_created_after(self, queryset, name, day):
        return queryset.filter(created_at__gte=_day_start(day)) if day else queryset

    def filter_created_before(self, queryset, name, day):
        return queryset.filter(created_at__lt=_day_start(day + datetime.timedelta(days=1))) if day else queryset
