"""Filters of the campaign, target, classification and task lists."""

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.api.filters import CodeFilter, RegionCodeFilter
from enterprises.filters import visible_parks, visible_regions
from enterprises.validators import normalize_uscc

from ..choices import (
    OPEN_TASK_STATUSES,
    CampaignKind,
    CampaignStatus,
    Category,
    ClassificationState,
    StandardItem,
    TaskStatus,
)
from ..models import Campaign, Classification, Target, Task


class RegionScopedFilterSet(django_filters.FilterSet):
    def filter_region(self, queryset, name, region):
        return queryset.in_region(region) if region else queryset


def enterprise_search(prefix: str, value: str) -> Q:
    """Part of the enterprise's name, or the start of its credit code."""
    condition = Q(**{f"{prefix}name__icontains": value})
    code = normalize_uscc(value)
    if code:
        condition |= Q(**{f"{prefix}uscc__startswith": code})
    return condition


class CampaignApiFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains", help_text=_("Part of the name."))
    kind = django_filters.ChoiceFilter(choices=CampaignKind.choices)
    status = django_filters.ChoiceFilter(choices=CampaignStatus.choices)
    ordering = django_filters.OrderingFilter(
        fields=(("starts_on", "starts_on"), ("name", "name"), ("updated_at", "updated")),
        help_text=_("starts_on, name or updated; prefix - for descending."),
    )

    class Meta:
        model = Campaign
        fields: list[str] = []


class TargetApiFilterSet(RegionScopedFilterSet):
    campaign = django_filters.NumberFilter(field_name="campaign_id", help_text=_("Campaign id."))
    region = RegionCodeFilter(
        queryset=visible_regions, help_text=_("Region code: targets of this region and every region below it.")
    )
    year = django_filters.NumberFilter(help_text=_("Year of the target."))
    ordering = django_filters.OrderingFilter(
        fields=(("year", "year"), ("region__code", "region"), ("updated_at", "updated")),
        help_text=_("year, region or updated; prefix - for descending."),
    )

    class Meta:
        model = Target
        fields: list[str] = []


class ClassificationApiFilterSet(RegionScopedFilterSet):
    search = django_filters.CharFilter(
        method="filter_search", help_text=_("Part of the enterprise's name, or the start of its credit code.")
    )
    region = RegionCodeFilter(
        queryset=visible_regions,
        help_text=_("Region code: classifications of enterprises in this region and everything below it."),
    )
    park = CodeFilter(
        queryset=visible_parks, field_name="enterprise__park", help_text=_("Park code: enterprises in this park.")
    )
    enterprise = django_filters.CharFilter(method="filter_enterprise", help_text=_("Credit code of the enterprise."))
    campaign = django_filters.NumberFilter(field_name="campaign_id", help_text=_("Campaign id."))
    category = django_filters.ChoiceFilter(choices=Category.choices)
    state = django_filters.ChoiceFilter(choices=ClassificationState.choices)
    is_current = django_filters.BooleanFilter(
        help_text=_(
            "true: only decisions in force (and first proposals); false: pending change requests, withdrawn and "
            "superseded rows."
        )
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", help_text=_("true: with at least one overdue task; false: with none.")
    )
    deadline_after = django_filters.DateFilter(
        field_name="deadline", lookup_expr="gte", help_text=_("Deadline on or after this date.")
    )
    deadline_before = django_filters.DateFilter(
        field_name="deadline", lookup_expr="lte", help_text=_("Deadline on or before this date.")
    )
    ordering = django_filters.OrderingFilter(
        fields=(("id", "id"), ("deadline", "deadline"), ("updated_at", "updated"), ("enterprise__name", "enterprise")),
        help_text=_("id, deadline, updated or enterprise; prefix - for descending."),
    )

    class Meta:
        model = Classification
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        return queryset.filter(enterprise_search("enterprise__", value)) if value else queryset

    def filter_enterprise(self, queryset, name, value):
        return queryset.filter(enterprise__uscc=normalize_uscc(value)) if value else queryset

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Exists(Task.objects.filter(plan__classification=OuterRef("pk"), status=TaskStatus.OVERDUE))
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class TaskApiFilterSet(RegionScopedFilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        help_text=_("Part of the task's text or the enterprise's name, or the start of its credit code."),
    )
    region = RegionCodeFilter(
        queryset=visible_regions, help_text=_("Region code: tasks of enterprises in this region and everything below.")
    )
    park = CodeFilter(
        queryset=visible_parks,
        field_name="plan__classification__enterprise__park",
        help_text=_("Park code: tasks of enterprises in this park."),
    )
    enterprise = django_filters.CharFilter(method="filter_enterprise", help_text=_("Credit code of the enterprise."))
    campaign = django_filters.NumberFilter(field_name="plan__classification__campaign_id", help_text=_("Campaign id."))
    classification = django_filters.NumberFilter(
        field_name="plan__classification_id", help_text=_("Classification id.")
    )
    category = django_filters.ChoiceFilter(
        choices=Category.choices, field_name="plan__classification__category", help_text=_("Category of its plan.")
    )
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices)
    standard_item = django_filters.ChoiceFilter(choices=StandardItem.choices)
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        help_text=_("true: past its deadline and not done (as of today); false: the others."),
    )
    lead_department = django_filters.NumberFilter(field_name="lead_department_id", help_text=_("Department id."))
    deadline_after = django_filters.DateFilter(
        field_name="deadline", lookup_expr="gte", help_text=_("Deadline on or after this date.")
    )
    deadline_before = django_filters.DateFilter(
        field_name="deadline", lookup_expr="lte", help_text=_("Deadline on or before this date.")
    )
    ordering = django_filters.OrderingFilter(
        fields=(("id", "id"), ("deadline", "deadline"), ("updated_at", "updated")),
        help_text=_("id, deadline or updated; prefix - for descending."),
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(description__icontains=value) | enterprise_search("plan__classification__enterprise__", value)
        )

    def filter_enterprise(self, queryset, name, value):
        return queryset.filter(plan__classification__enterprise__uscc=normalize_uscc(value)) if value else queryset

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Q(status=TaskStatus.OVERDUE) | Q(status__in=OPEN_TASK_STATUSES, deadline__lt=timezone.localdate())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
