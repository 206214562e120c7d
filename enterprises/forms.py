"""Web forms of the enterprise register. They validate input; the services in services.py write."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from parks.choices import RecognitionStatus
from parks.models import ChemicalPark
from regions.choices import RegionLevel
from regions.models import Region
from regions.scoping import ALL_REGIONS, scope_region

from .choices import ExposedPopulation, Tier
from .models import Enterprise, KeyHazardousProcess, MajorHazardSource, Permit
from .services import asks_park_confirmation
from .validators import normalize_uscc, validate_uscc


def add_bootstrap_classes(fields, *, small: bool = False) -> None:
    """Give every widget the Bootstrap 5 class it needs (templates then render fields uniformly)."""
    suffix = "-sm" if small else ""
    for field in fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxSelectMultiple):
            continue
        if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect)):
            css = "form-check-input"
        elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
            css = f"form-select form-select{suffix}" if small else "form-select"
        else:
            css = f"form-control form-control{suffix}" if small else "form-control"
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class BootstrapFormMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        add_bootstrap_classes(self.fields)


class StyledFilterFormMixin:
    """For FilterSets: the filter panel's form gets small Bootstrap widgets."""

    @property
    def form(self):
        form = super().form
        if not getattr(form, "_bootstrap_styled", False):
            add_bootstrap_classes(form.fields, small=True)
            form._bootstrap_styled = True
        return form


def add_service_error(form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the named field when the form has it, else on top."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            target = field if field in form.fields else None
            for message in messages:
                if target is None and field != "__all__":
                    form.add_error(None, message)
                else:
                    form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def park_scope_region(user):
    """Parks an enterprise form may offer: the user's county or below (a township officer sees the county's parks)."""
    region = scope_region(user)
    if region is None or region is ALL_REGIONS:
        return region
    if region.level == RegionLevel.TOWNSHIP and region.parent_id:
        return region.parent
    return region


class EnterpriseParkField(forms.ModelChoiceField):
    """A park with its township, and its recognition when not recognised: the user sees a park of another
    township, or one whose recognition was revoked, before choosing it."""

    def label_from_instance(self, obj):
        label = f"{obj.name}（{obj.township.name}）"
        if obj.recognition_status != RecognitionStatus.RECOGNISED:
            label += f" · {obj.get_recognition_status_display()}"
        return label


class EnterpriseForm(BootstrapFormMixin, forms.ModelForm):
    uscc = forms.CharField(
        label=_("unified social credit code"),
        max_length=40,
        help_text=Enterprise._meta.get_field("uscc").help_text,
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=200,
        required=False,
        help_text=_("Recorded in the change history, e.g. the survey or document the correction comes from."),
    )
    #: Shown (as a checkbox under the park) only when the park rules ask for it: see ask_park_confirmation.
    confirm_park_outside_township = forms.BooleanField(
        label=_("The park lies in another township: I confirm the township and the park"),
        required=False,
        widget=forms.HiddenInput,
    )

    class Meta:
        model = Enterprise
        fields = [
            "uscc",
            "name",
            "legal_representative",
            "contact_person",
            "contact_phone",
            "address",
            "township",
            "park",
            "longitude",
            "latitude",
            "industry_code",
            "kind",
            "size",
            "annual_sales",
            "staff_count",
            "main_products",
            "process_mode",
            "key_processes",
            "automation_status",
            "near_protected_river",
            "in_dense_urban_area",
            "in_ecological_redline",
            "status",
            "note",
        ]
        widgets = {
            "key_processes": forms.CheckboxSelectMultiple,
            "main_products": forms.Textarea(attrs={"rows": 2}),
            "note": forms.Textarea(attrs={"rows": 2}),
        }
        field_classes = {"park": EnterpriseParkField}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["township"].queryset = Region.objects.visible_to(user).townships()
        park_region = park_scope_region(user)
        parks = ChemicalPark.objects.all() if park_region is ALL_REGIONS else ChemicalPark.objects.none()
        if park_region not in (None, ALL_REGIONS):
            parks = ChemicalPark.objects.in_region(park_region)
        self.fields["park"].queryset = parks.select_related("township").order_by("name")
        self.fields["park"].empty_label = gettext("— outside any park —")
        self.fields["key_processes"].queryset = KeyHazardousProcess.objects.all()
        # The confirmation sits right under the park.
        confirm = self.fields.pop("confirm_park_outside_township")
        fields = list(self.fields.items())
        at = [name for name, _field in fields].index("park") + 1
        self.fields = dict([*fields[:at], ("confirm_park_outside_township", confirm), *fields[at:]])
        if self.is_bound and self.data.get(self.add_prefix("confirm_park_outside_township")) in ("on", "True", "true"):
            self.ask_park_confirmation()  # confirmed once: keep the box on the page while other fields are fixed

    def ask_park_confirmation(self) -> None:
        """Show the confirmation checkbox (the park rules asked for it: a park of another township)."""
        field = self.fields["confirm_park_outside_township"]
        field.widget = forms.CheckboxInput(attrs={"class": "form-check-input"})

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's error; when the park rules ask for a confirmation, offer the checkbox."""
        add_service_error(self, error)
        if asks_park_confirmation(error):
            self.ask_park_confirmation()

    def clean_uscc(self):
        code = normalize_uscc(self.cleaned_data.get("uscc"))
        validate_uscc(code)
        return code

    def service_data(self) -> dict:
        """Cleaned values for create_enterprise / update_enterprise (key processes, reason, confirmation apart)."""
        apart = ("key_processes", "reason", "confirm_park_outside_township")
        return {name: value for name, value in self.cleaned_data.items() if name not in apart}


class PermitForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Permit
        fields = ["kind", "number", "issued_on", "expires_on", "note"]
        widgets = {
            "issued_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "expires_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def clean(self):
        cleaned = super().clean()
        issued, expires = cleaned.get("issued_on"), cleaned.get("expires_on")
        if issued and expires and expires < issued:
            self.add_error("expires_on", _("The expiry date is before the issue date."))
        return cleaned


class YearlyTierForm(BootstrapFormMixin, forms.Form):
    year = forms.IntegerField(label=_("year"), min_value=2000, max_value=2100)
    tier = forms.TypedChoiceField(label=_("tier"), coerce=int, choices=Tier.choices)
    note = forms.CharField(label=_("note"), max_length=255, required=False)


class HazardSourceForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = MajorHazardSource
        fields = [
            "name",
            "unit_kind",
            "exposed_population",
            "declared_level",
            "filing_number",
            "has_toxic_or_flammable_gas",
            "automated_monitoring",
            "video_to_park",
            "emergency_shutoff",
            "online_monitoring",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Empty means "not known": the level then cannot be computed (GB 18218-2018 表5), never α = 1.
        self.fields["exposed_population"].choices = [("", _("Not known")), *ExposedPopulation.choices]


class InventoryLineForm(BootstrapFormMixin, forms.Form):
    substance = forms.CharField(
        label=_("substance"),
        max_length=200,
        help_text=_("Name, alias, CAS number or 表1 entry (e.g. 表1-44)."),
        widget=forms.TextInput(attrs={"list": "gb18218-substances", "autocomplete": "off"}),
    )
    max_quantity_t = forms.DecimalField(label=_("maximum quantity (t)"), min_value=0, max_digits=12, decimal_places=3)
    categories = forms.CharField(
        label=_("hazard categories"),
        max_length=60,
        required=False,
        help_text=_("表2 codes, e.g. W2: needed for a substance not in 表1 or 表3."),
    )


InventoryFormSet = forms.formset_factory(InventoryLineForm, extra=3, can_delete=True)
CalculatorFormSet = forms.formset_factory(InventoryLineForm, extra=5, can_delete=True)


class CalculatorForm(BootstrapFormMixin, forms.Form):
    """The unit of the calculator page (nothing is saved)."""

    exposed_population = forms.ChoiceField(
        label=_("people within 500 m of the plant boundary"),
        choices=[("", _("Not known")), *ExposedPopulation.choices],
        required=False,
    )


def inventory_initial(hazard_source) -> list[dict]:
    if hazard_source is None:
        return []
    return [
        {"substance": line.chemical_name, "max_quantity_t": line.max_quantity_t, "categories": line.categories}
        for line in hazard_source.inventory.all()
    ]


def inventory_data(formset) -> list[dict]:
    """The filled-in, not deleted lines of a valid inventory formset."""
    lines = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE"):
            continue
        lines.append({key: value for key, value in data.items() if key != "DELETE"})
    return lines


class ReasonForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
