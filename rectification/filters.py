"""Filter of a campaign's classification list (category, state, region, enterprise, overdue tasks)."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from enterprises.filters import RegionFilter, visible_regions
from enterprises.forms import StyledFilterFormMixin
from enterprises.validators import normalize_uscc

from .choices import Category, ClassificationState
from .models import Classification

OVERDUE_CHOICES = [("yes", _("With overdue tasks")), ("no", _("No overdue tasks"))]


class ClassificationFilterSet(StyledFilterFormMixin, django_filters.FilterSet):
    """Filters an already scoped classification queryset (selectors.classifications_for_campaign)."""

    q = django_filters.CharFilter(method="filter_search", label=_("Enterprise name or credit code"))
    category = django_filters.ChoiceFilter(choices=Category.choices, label=_("Category"), empty_label=_("Any"))
    state = django_filters.ChoiceFilter(
        choices=ClassificationState.choices, label=pgettext_lazy("classification", "State"), empty_label=_("Any")
    )
    region = RegionFilter(
        queryset=visible_regions,
        to_field_name="code",
        method="filter_region",
        label=_("Region"),
        empty_label=_("All regions"),
    )
    overdue = django_filters.ChoiceFilter(
        choices=OVERDUE_CHOICES, method="filter_overdue", label=_("Tasks"), empty_label=_("Any")
    )

    class Meta:
        model = Classification
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        condition = Q(enterprise__name__icontains=value)
        code = normalize_uscc(value)
        if code:
            condition |= Q(enterprise__uscc__startswith=code)
        return queryset.filter(condition)

    def filter_region(self, queryset, name, region):
        return queryset.in_region(region) if region else queryset

    def filter_overdue(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(tasks_overdue__gt=0)
        if value == "no":
            return queryset.filter(tasks_overdue=0)
        return queryset
