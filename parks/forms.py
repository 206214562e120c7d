"""Web forms of the park register. They validate input; parks.services writes."""

from django import forms
from django.utils.translation import gettext_lazy as _

from enterprises.forms import BootstrapFormMixin
from regions.models import Region

from .choices import INFRASTRUCTURE_FIELDS
from .models import ChemicalPark, ParkEvaluation

SCORE_FIELDS = [
    "planning_score",
    "management_score",
    "industrial_chain_score",
    "environment_score",
    "satisfaction_score",
]


class ParkForm(BootstrapFormMixin, forms.ModelForm):
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=200,
        required=False,
        help_text=_("Recorded in the change history."),
    )

    class Meta:
        model = ChemicalPark
        fields = [
            "code",
            "name",
            "township",
            "level",
            "recognition_status",
            "area_km2",
            "industry_positioning",
            *INFRASTRUCTURE_FIELDS,
            "last_risk_assessment_on",
            "protection_zone_residents_to_relocate",
            "protection_zone_note",
        ]
        widgets = {
            "industry_positioning": forms.Textarea(attrs={"rows": 2}),
            "protection_zone_note": forms.Textarea(attrs={"rows": 2}),
            "last_risk_assessment_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["township"].queryset = Region.objects.visible_to(user).townships()

    def service_data(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "reason"}


class ParkEvaluationForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = ParkEvaluation
        fields = ["year", *SCORE_FIELDS]

    def validate_unique(self):
        """A second evaluation of the same year corrects the first (save_park_evaluation), so no unique check."""

    def scores(self) -> dict:
        return {name: self.cleaned_data[name] for name in SCORE_FIELDS}
