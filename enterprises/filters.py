"""The one filter of the enterprise register, shared by the list page, the export and the API."""

import django_filters
from django import forms
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from parks.models import ChemicalPark
from regions.models import Region

from .choices import EnterpriseKind, EnterpriseSize, OperatingStatus, Tier
from .forms import StyledFilterFormMixin
from .models import Enterprise, KeyHazardousProcess
from .selectors import (
    expired_permit_exists,
    expiring_permit_exists,
    latest_tier_year,
    missing_core_permit_q,
    search_condition,
    with_tier,
)

IDEOGRAPHIC_SPACE = "\u3000"


class RegionChoiceField(forms.ModelChoiceField):
    """Regions indented by level so the tree reads in a flat select."""

    def label_from_instance(self, obj):
        depth = max(obj.path.count("/") - 2, 0)
        return IDEOGRAPHIC_SPACE * depth + obj.name


class RegionFilter(django_filters.ModelChoiceFilter):
    field_class = RegionChoiceField


def _user(request):
    return getattr(request, "user", None)


def visible_regions(request):
    return Region.objects.visible_to(_user(request))


def visible_townships(request):
    return Region.objects.visible_to(_user(request)).townships()


def visible_parks(request):
    return ChemicalPark.objects.visible_to(_user(request)).order_by("name")


IN_PARK_CHOICES = [("yes", _("In a chemical park")), ("no", _("Outside any park"))]

PERMIT_FILTER_CHOICES = [
    ("expiring", _("A permit expires soon")),
    ("expired", _("A permit has expired")),
    ("missing", _("A core permit is missing")),
]


class BlanksLastOrderingFilter(django_filters.OrderingFilter):
    """Sort with empty values last in both directions and ties broken by id.

    SQLite and PostgreSQL put NULLs at opposite ends by default; a list must read the same
    on both, and pagination needs a total order.
    """

    def get_ordering_value(self, param):
        descending = param.startswith("-")
        field = F(self.param_map[param[1:] if descending else param])
        return field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        return qs.order_by(*qs.query.order_by, "id") if value else qs


class EnterpriseFilterSet(StyledFilterFormMixin, django_filters.FilterSet):
    """Filters the enterprises the requesting user may see; always scoped by `visible_to(user)`.

    The queryset gets `tier_in_year`, the tier of `tier_year` (default: the latest year with tiers).
    """

    q = django_filters.CharFilter(method="filter_search", label=_("Name or credit code"))
    region = RegionFilter(
        queryset=visible_regions,
        to_field_name="code",
        method="filter_region",
        label=_("Region"),
        empty_label=_("All regions"),
    )
    township = django_filters.ModelChoiceFilter(
        queryset=visible_townships, to_field_name="code", label=_("Township"), empty_label=_("All townships")
    )
    park = django_filters.ModelChoiceFilter(queryset=visible_parks, label=_("Chemical park"), empty_label=_("Any"))
    in_park = django_filters.ChoiceFilter(
        choices=IN_PARK_CHOICES, method="filter_in_park", label=_("Location"), empty_label=_("Any")
    )
    kind = django_filters.ChoiceFilter(
        choices=EnterpriseKind.choices, label=pgettext_lazy("enterprise", "Kind"), empty_label=_("Any")
    )
    size = django_filters.ChoiceFilter(choices=EnterpriseSize.choices, label=_("Size"), empty_label=_("Any"))
    status = django_filters.ChoiceFilter(
        choices=OperatingStatus.choices, label=_("Operating status"), empty_label=_("Any")
    )
    tier_year = django_filters.NumberFilter(method="filter_noop", label=_("Tier year"), min_value=2000, max_value=2100)
    tier = django_filters.ChoiceFilter(
        choices=[*Tier.choices, ("none", _("Not rated"))],
        method="filter_tier",
        label=_("Tier"),
        empty_label=_("Any"),
    )
    key_process = django_filters.ModelChoiceFilter(
        queryset=KeyHazardousProcess.objects.all(),
        to_field_name="code",
        field_name="key_processes",
        label=_("Key hazardous process"),
        empty_label=_("Any"),
    )
    permit = django_filters.ChoiceFilter(
        choices=PERMIT_FILTER_CHOICES, method="filter_permit", label=_("Permits"), empty_label=_("Any")
    )
    ordering = BlanksLastOrderingFilter(
        fields=(
            ("name", "name"),
            ("uscc", "code"),
            ("township__code", "township"),
            ("annual_sales", "sales"),
            ("updated_at", "updated"),
        ),
        field_labels={
            "name": _("Enterprise name"),
            "uscc": _("Credit code"),
            "township__code": _("Township"),
            "annual_sales": _("Sales"),
            "updated_at": pgettext_lazy("last change", "Updated"),
        },
        label=_("Sort by"),
    )

    class Meta:
        model = Enterprise
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        user = _user(request)
        base = queryset if queryset is not None else Enterprise.objects.all()
        super().__init__(data, base.visible_to(user), request=request, prefix=prefix)

    @property
    def selected_tier_year(self) -> int | None:
        """The year whose tier is filtered on and shown: the requested one, else the latest rated year."""
        if not hasattr(self, "_tier_year"):
            year = None
            if self.is_bound and self.form.is_valid():
                year = self.form.cleaned_data.get("tier_year")
            self._tier_year = int(year) if year else latest_tier_year()
        return self._tier_year

    @property
    def qs(self):
        if not hasattr(self, "_qs"):
            queryset = with_tier(self.queryset.all(), self.selected_tier_year)
            if self.is_bound:
                self.form.is_valid()  # validate before filtering
                queryset = self.filter_queryset(queryset)
            else:
                queryset = queryset.order_by("name", "id")
            self._qs = queryset
        return self._qs

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by("name", "id")
        return queryset

    # --- filter methods -------------------------------------------------------------------

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(search_condition(value))

    def filter_region(self, queryset, name, region):
        return queryset.in_region(region) if region else queryset

    def filter_in_park(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(park__isnull=False)
        if value == "no":
            return queryset.filter(park__isnull=True)
        return queryset

    def filter_tier(self, queryset, name, value):
        if value == "none":
            return queryset.filter(tier_in_year__isnull=True)
        if value:
            return queryset.filter(tier_in_year=int(value))
        return queryset

    def filter_permit(self, queryset, name, value):
        if value == "expired":
            return queryset.filter(expired_permit_exists())
        if value == "expiring":
            return queryset.filter(expiring_permit_exists())
        if value == "missing":
            return queryset.filter(missing_core_permit_q())
        return queryset
