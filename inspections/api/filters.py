"""Filters of the inspection and finding lists."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.api.filters import CodeFilter, RegionCodeFilter
from enterprises.filters import visible_parks, visible_regions
from enterprises.validators import normalize_uscc
from rectification.api.filters import RegionScopedFilterSet, enterprise_search

from ..choices import (
    ACTIVE_FINDING_STATES,
    AccessArea,
    FindingStatus,
    InspectionKind,
    InspectionResult,
    InspectionStatus,
    Severity,
)
from ..models import Finding, Inspection


class TargetFilterSet(RegionScopedFilterSet):
    """Rows about an enterprise or a park (in_region covers both)."""

    region = RegionCodeFilter(
        queryset=visible_regions,
        help_text=_("Region code: rows about enterprises and parks in this region and everything below it."),
    )
    park = CodeFilter(
        queryset=visible_parks,
        method="filter_park",
        help_text=_("Park code: rows about this park or about enterprises in it."),
    )
    enterprise = django_filters.CharFilter(method="filter_enterprise", help_text=_("Credit code of the enterprise."))

    def filter_park(self, queryset, name, park):
        return queryset.filter(Q(park=park) | Q(enterprise__park=park)) if park else queryset

    def filter_enterprise(self, queryset, name, value):
        return queryset.filter(enterprise__uscc=normalize_uscc(value)) if value else queryset

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(self.search_condition(value))

    def search_condition(self, value) -> Q:
        return enterprise_search("enterprise__", value) | Q(park__name__icontains=value)


class InspectionApiFilterSet(TargetFilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        help_text=_("Part of the enterprise's or park's name, the start of the credit code, or an inspector's name."),
    )
    kind = django_filters.ChoiceFilter(choices=InspectionKind.choices)
    status = django_filters.ChoiceFilter(choices=InspectionStatus.choices)
    result = django_filters.ChoiceFilter(choices=InspectionResult.choices)
    inspected_after = django_filters.DateFilter(
        field_name="inspected_on", lookup_expr="gte", help_text=_("Inspected on or after this date.")
    )
    inspected_before = django_filters.DateFilter(
        field_name="inspected_on", lookup_expr="lte", help_text=_("Inspected on or before this date.")
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("id", "id"),
            ("inspected_on", "inspected_on"),
            ("planned_on", "planned_on"),
            ("updated_at", "updated"),
        ),
        help_text=_("id, inspected_on, planned_on or updated; prefix - for descending."),
    )

    class Meta:
        model = Inspection
        fields: list[str] = []

    def search_condition(self, value) -> Q:
        return super().search_condition(value) | Q(inspectors__icontains=value)


class FindingApiFilterSet(TargetFilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        help_text=_("Part of the description, of the enterprise's or park's name, or the start of the credit code."),
    )
    inspection = django_filters.NumberFilter(field_name="inspection_id", help_text=_("Inspection id."))
    campaign = django_filters.NumberFilter(
        field_name="survey__campaign_id", help_text=_("Campaign id: findings of that campaign's surveys.")
    )
    area = django_filters.ChoiceFilter(choices=AccessArea.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    status = django_filters.ChoiceFilter(choices=FindingStatus.choices)
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        help_text=_("true: marked overdue by the daily deadline check and still waiting for the responsible unit."),
    )
    deadline_after = django_filters.DateFilter(
        field_name="deadline", lookup_expr="gte", help_text=_("Deadline on or after this date.")
    )
    deadline_before = django_filters.DateFilter(
        field_name="deadline", lookup_expr="lte", help_text=_("Deadline on or before this date.")
    )
    ordering = django_filters.OrderingFilter(
        fields=(("id", "id"), ("deadline", "deadline"), ("created_at", "created"), ("updated_at", "updated")),
        help_text=_("id, deadline, created or updated; prefix - for descending."),
    )

    class Meta:
        model = Finding
        fields: list[str] = []

    def search_condition(self, value) -> Q:
        return super().search_condition(value) | Q(description__icontains=value)

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Q(overdue_since__isnull=False, status__in=ACTIVE_FINDING_STATES)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
