"""Filters of the API lists: the register's own FilterSets, with the API's parameter names."""

import django_filters
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from core.api.filters import CodeFilter, RegionCodeFilter

from ..choices import HazardLevel, HazardUnitKind, Tier
from ..filters import EnterpriseFilterSet, visible_parks, visible_regions, visible_townships
from ..models import KeyHazardousProcess, MajorHazardSource
from ..validators import normalize_uscc


def effective_level():
    """The level the register uses: computed from the inventory (MajorHazardSource.level), never the filed one."""
    return F("computed_level")


class EnterpriseApiFilterSet(EnterpriseFilterSet):
    """The enterprise list's filters (region incl. everything below, township, park, kind, size, status, tier,
    key process, permits, ordering) plus hazard level; `search` instead of the page's `q`."""

    q = None
    search = django_filters.CharFilter(
        method="filter_search", help_text=_("Part of the name, or the start of the unified social credit code.")
    )
    region = RegionCodeFilter(
        queryset=visible_regions, help_text=_("Region code: enterprises in this region and everything below it.")
    )
    township = CodeFilter(queryset=visible_townships, help_text=_("Township code: enterprises of this township."))
    park = CodeFilter(queryset=visible_parks, help_text=_("Park code: enterprises in this park."))
    key_process = CodeFilter(
        queryset=KeyHazardousProcess.objects.all(),
        field_name="key_processes",
        help_text=_("Key hazardous process code, e.g. nitration: enterprises running it."),
    )
    # The page's tier filter, typed for the schema: its values mix numbers and "none".
    tier = extend_schema_field({"type": "string", "enum": [*(str(value) for value in Tier.values), "none"]})(
        django_filters.ChoiceFilter(
            choices=[*Tier.choices, ("none", _("Not rated"))],
            method="filter_tier",
            help_text=_("Tier in tier_year (default: the latest year rated): 1, 2, 3, or none for not rated."),
        )
    )
    hazard_level = django_filters.TypedChoiceFilter(
        choices=HazardLevel.choices,
        coerce=int,
        method="filter_hazard_level",
        help_text=_("Enterprises with a major hazard source of this level (1 is the worst)."),
    )

    def filter_hazard_level(self, queryset, name, value: int):
        if value in (None, ""):
            return queryset
        sources = MajorHazardSource.objects.annotate(effective=effective_level()).filter(
            enterprise=OuterRef("pk"), effective=value
        )
        return queryset.filter(Exists(sources))


class HazardSourceApiFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        help_text=_("Part of the unit's or the enterprise's name, or the enterprise's credit code."),
    )
    region = RegionCodeFilter(
        queryset=visible_regions,
        help_text=_("Region code: hazard sources of enterprises in this region and everything below it."),
    )
    enterprise = django_filters.CharFilter(method="filter_enterprise", help_text=_("Credit code of the enterprise."))
    park = CodeFilter(
        queryset=visible_parks,
        field_name="enterprise__park",
        help_text=_("Park code: hazard sources of enterprises in this park."),
    )
    level = django_filters.TypedChoiceFilter(
        choices=HazardLevel.choices,
        coerce=int,
        method="filter_level",
        help_text=_("Level computed from the inventory by GB 18218-2018."),
    )
    unit_kind = django_filters.ChoiceFilter(choices=HazardUnitKind.choices)
    automated_monitoring = django_filters.BooleanFilter()
    video_to_park = django_filters.BooleanFilter()
    emergency_shutoff = django_filters.BooleanFilter()
    online_monitoring = django_filters.BooleanFilter()
    ordering = django_filters.OrderingFilter(
        fields=(("name", "name"), ("updated_at", "updated"), ("r_value", "r_value")),
        help_text=_("name, updated or r_value; prefix - for descending."),
    )

    class Meta:
        model = MajorHazardSource
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        condition = Q(name__icontains=value) | Q(enterprise__name__icontains=value)
        code = normalize_uscc(value)
        if code:
            condition |= Q(enterprise__uscc__startswith=code)
        return queryset.filter(condition)

    def filter_region(self, queryset, name, region):
        return queryset.in_region(region) if region else queryset

    def filter_enterprise(self, queryset, name, value):
        return queryset.filter(enterprise__uscc=normalize_uscc(value)) if value else queryset

    def filter_level(self, queryset, name, value: int):
        if value in (None, ""):
            return queryset
        return queryset.annotate(effective=effective_level()).filter(effective=value)
