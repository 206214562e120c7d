"""Filters of the inspection and finding lists. The filter panels validate the input; the rows come from
the selectors (inspections_list, findings_list), which scope them to the user's region."""

import django_filters
from django import forms
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from enterprises.filters import RegionFilter, visible_regions
from enterprises.forms import StyledFilterFormMixin

from . import selectors
from .choices import AccessArea, FindingStatus, InspectionKind, InspectionResult, InspectionStatus, Severity
from .models import Finding, Inspection

YES_NO = [("yes", _("Yes")), ("no", _("No"))]
UNCLOSED = "unclosed"


def _user(request):
    return getattr(request, "user", None)


class SelectorFilterSet(StyledFilterFormMixin, django_filters.FilterSet):
    """A filter panel whose rows come from a selector called with the valid filter values."""

    def __init__(self, data=None, *, request=None, prefix=None):
        super().__init__(data, self._meta.model.objects.none(), request=request, prefix=prefix)

    def cleaned(self) -> dict:
        """The valid filter values (an invalid one is ignored and its error shown on the panel)."""
        if not self.is_bound:
            return {}
        self.form.is_valid()
        return {name: value for name, value in getattr(self.form, "cleaned_data", {}).items() if value}

    def rows(self, user):
        raise NotImplementedError

    @property
    def qs(self):
        if not hasattr(self, "_qs"):
            self._qs = self.rows(_user(self.request))
        return self._qs


class InspectionFilterSet(SelectorFilterSet):
    kind = django_filters.ChoiceFilter(
        choices=InspectionKind.choices, label=pgettext_lazy("inspection", "Kind"), empty_label=_("Any")
    )
    status = django_filters.ChoiceFilter(
        choices=InspectionStatus.choices, label=pgettext_lazy("inspection", "Status"), empty_label=_("Any")
    )
    result = django_filters.ChoiceFilter(choices=InspectionResult.choices, label=_("Result"), empty_label=_("Any"))
    region = RegionFilter(
        queryset=visible_regions, to_field_name="code", label=_("Region"), empty_label=_("All regions")
    )
    date_from = django_filters.DateFilter(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = django_filters.DateFilter(
        label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    class Meta:
        model = Inspection
        fields: list[str] = []

    def rows(self, user):
        # Newest first; a planned inspection counts by its planned date (the list's date column).
        return selectors.inspections_list(user, **self.cleaned()).order_by(
            Coalesce("inspected_on", "planned_on").desc(), "-id"
        )


class FindingFilterSet(SelectorFilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(UNCLOSED, _("Not closed yet")), *FindingStatus.choices],
        label=pgettext_lazy("finding", "Status"),
        empty_label=_("Any"),
    )
    severity = django_filters.ChoiceFilter(choices=Severity.choices, label=_("Severity"), empty_label=_("Any"))
    area = django_filters.ChoiceFilter(choices=AccessArea.choices, label=_("Access requirement"), empty_label=_("Any"))
    overdue = django_filters.ChoiceFilter(choices=YES_NO, label=_("Overdue"), empty_label=_("Any"))
    region = RegionFilter(
        queryset=visible_regions, to_field_name="code", label=_("Region"), empty_label=_("All regions")
    )

    class Meta:
        model = Finding
        fields: list[str] = []

    def rows(self, user):
        cleaned = self.cleaned()
        if cleaned.get("status") == UNCLOSED:
            del cleaned["status"]
            cleaned["unclosed"] = True
        if "overdue" in cleaned:
            cleaned["overdue"] = cleaned["overdue"] == "yes"
        return selectors.findings_list(user, **cleaned)
