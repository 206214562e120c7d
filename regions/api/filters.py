import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.api.filters import RegionCodeFilter

from ..choices import RegionLevel
from ..models import Region


def visible_regions(request):
    return Region.objects.visible_to(getattr(request, "user", None))


class RegionApiFilterSet(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=RegionLevel.choices, help_text=_("Only regions of this level."))
    parent = django_filters.CharFilter(
        field_name="parent__code", help_text=_("Only the regions directly below this code.")
    )
    within = RegionCodeFilter(
        queryset=visible_regions,
        method="filter_within",
        help_text=_("This region (by code) and everything below it."),
    )
    search = django_filters.CharFilter(
        method="filter_search", help_text=_("Part of the name, or the start of the code.")
    )

    class Meta:
        model = Region
        fields: list[str] = []

    def filter_within(self, queryset, name, region):
        return queryset.in_region(region) if region else queryset

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        return queryset.filter(Q(name__icontains=value) | Q(code__startswith=value)) if value else queryset
