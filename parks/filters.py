"""The one filter of the park register, shared by the list page and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from enterprises.filters import RegionFilter, visible_regions
from enterprises.forms import StyledFilterFormMixin

from .choices import ParkLevel, RecognitionStatus
from .models import ChemicalPark
from .selectors import with_enterprise_count


class ChemicalParkFilterSet(StyledFilterFormMixin, django_filters.FilterSet):
    """Filters the parks the requesting user may see; the queryset carries `enterprise_count`."""

    q = django_filters.CharFilter(method="filter_search", label=_("Name or park code"))
    region = RegionFilter(
        queryset=visible_regions,
        to_field_name="code",
        method="filter_region",
        label=_("Region"),
        empty_label=_("All regions"),
    )
    level = django_filters.ChoiceFilter(
        choices=ParkLevel.choices, label=pgettext_lazy("park", "Level"), empty_label=_("Any")
    )
    recognition_status = django_filters.ChoiceFilter(
        choices=RecognitionStatus.choices, label=_("Recognition status"), empty_label=_("Any")
    )
    ordering = django_filters.OrderingFilter(
        fields=(("code", "code"), ("name", "name"), ("enterprise_count", "enterprises")),
        field_labels={"code": _("Park code"), "name": _("Park name"), "enterprise_count": _("Enterprises")},
        label=_("Sort by"),
    )

    class Meta:
        model = ChemicalPark
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        user = getattr(request, "user", None)
        base = queryset if queryset is not None else ChemicalPark.objects.all()
        base = with_enterprise_count(base.visible_to(user).select_related("township__parent"))
        super().__init__(data, base, request=request, prefix=prefix)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by("code")
        return queryset

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value))

    def filter_region(self, queryset, name, region):
        return queryset.in_region(region) if region else queryset
