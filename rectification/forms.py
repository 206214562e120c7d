"""Web forms of rectification: campaigns, targets, workflow steps, plans and tasks.

They only check input; rectification.services decides and writes.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Department
from core.uploads import allowed_extensions, validate_upload
from enterprises.filters import RegionChoiceField
from enterprises.forms import BootstrapFormMixin, add_service_error, park_scope_region
from enterprises.models import Enterprise
from enterprises.validators import normalize_uscc
from parks.models import ChemicalPark
from regions.models import Region
from regions.scoping import ALL_REGIONS

from .choices import Category, Opinion, TaskStatus
from .models import Campaign, Classification, Task

TARGET_COUNTS = ("shutdown", "relocate", "upgrade", "restructure")


def date_input():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def text_area(rows=3):
    return forms.Textarea(attrs={"rows": rows})


def add_step_error(form, error: ValidationError, renames: dict | None = None) -> None:
    """A service's ValidationError on the form; `renames` maps service field names to form fields."""
    if renames and hasattr(error, "error_dict"):
        error = ValidationError({renames.get(name, name): messages for name, messages in error.message_dict.items()})
    add_service_error(form, error)


# --- Campaigns and targets ------------------------------------------------------------------


class CampaignForm(BootstrapFormMixin, forms.ModelForm):
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    class Meta:
        model = Campaign
        fields = ["name", "kind", "starts_on", "ends_on", "status", "description"]
        widgets = {"starts_on": date_input(), "ends_on": date_input(), "description": text_area()}

    def clean(self):
        data = super().clean()
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The campaign cannot end before it starts."))
        return data

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class TargetForm(BootstrapFormMixin, forms.Form):
    region = RegionChoiceField(queryset=Region.objects.none(), to_field_name="code", label=_("Region"))
    year = forms.TypedChoiceField(label=_("Year"), coerce=int)
    shutdown = forms.IntegerField(label=_("Shut down"), min_value=0, initial=0)
    relocate = forms.IntegerField(label=_("Relocate"), min_value=0, initial=0)
    upgrade = forms.IntegerField(label=_("Upgrade"), min_value=0, initial=0)
    restructure = forms.IntegerField(label=_("Restructure"), min_value=0, initial=0)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, user, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.visible_to(user).order_by("path")
        self.fields["year"].choices = [(year, year) for year in campaign.years]

    def counts(self) -> dict:
        return {name: self.cleaned_data[name] for name in TARGET_COUNTS}


# --- Classification and its workflow steps -------------------------------------------------


class ParkChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.get_level_display()}）"


class ClassificationForm(BootstrapFormMixin, forms.Form):
    """Category and details of a proposal or of the county's adjustment.

    The fields that do not belong to the chosen category are ignored (the service empties them).
    """

    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    destination_park = ParkChoiceField(
        queryset=ChemicalPark.objects.none(),
        required=False,
        label=_("Destination park"),
        empty_label=_("Choose a recognised park"),
        help_text=_("Relocation only: a recognised chemical park in your area."),
    )
    absorbing_enterprise = forms.CharField(
        label=_("Absorbing enterprise"),
        max_length=100,
        required=False,
        help_text=_("Restructuring only: the credit code or the exact name of an enterprise in your region."),
    )
    exclusion_reason = forms.CharField(
        label=_("Reason for exclusion"),
        required=False,
        widget=text_area(2),
        help_text=_("Exclusion only: why the enterprise is not in the campaign's scope."),
    )
    problems = forms.CharField(label=_("Problems found"), required=False, widget=text_area(2))
    deadline = forms.DateField(
        label=_("Deadline"),
        required=False,
        widget=date_input(),
        help_text=_("Not for an exclusion (剔除): it has no deadline."),
    )
    comment = forms.CharField(label=_("Comment"), required=False, widget=text_area(2))

    #: Fields shown only for one category (a small script hides the others; without it all are shown).
    CATEGORY_FIELDS = {
        "destination_park": Category.RELOCATE,
        "absorbing_enterprise": Category.RESTRUCTURE,
        "exclusion_reason": Category.EXCLUDED,
    }

    def __init__(self, *args, user, instance: Classification | None = None, **kwargs):
        self.user = user
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "category": instance.category,
                "destination_park": instance.destination_park_id,
                "absorbing_enterprise": instance.absorbing_enterprise.uscc if instance.absorbing_enterprise else "",
                "exclusion_reason": instance.exclusion_reason,
                "problems": instance.problems,
                "deadline": instance.deadline,
            }
        super().__init__(*args, **kwargs)
        parks = ChemicalPark.objects.recognised()
        region = park_scope_region(user)
        if region is None:
            parks = parks.none()
        elif region is not ALL_REGIONS:
            parks = parks.in_region(region)
        if instance is not None and instance.destination_park_id:
            # Keep the park already chosen (e.g. by the city, outside a township's area) selectable.
            parks = ChemicalPark.objects.filter(Q(pk__in=parks.values("pk")) | Q(pk=instance.destination_park_id))
        self.fields["destination_park"].queryset = parks.order_by("name")
        for name, category in self.CATEGORY_FIELDS.items():
            self.fields[name].widget.attrs["data-category"] = category
        self.fields["deadline"].widget.attrs["data-category-not"] = Category.EXCLUDED

    def clean_absorbing_enterprise(self):
        value = (self.cleaned_data.get("absorbing_enterprise") or "").strip()
        if not value or self.data.get(self.add_prefix("category")) != Category.RESTRUCTURE:
            return None
        enterprises = Enterprise.objects.visible_to(self.user)
        code = normalize_uscc(value)
        if len(code) == 18:
            match = enterprises.filter(uscc=code).first()
            if match is not None:
                return match
        matches = list(enterprises.filter(name=value)[:2])
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ValidationError(
                _("Several enterprises are called %(name)s; enter the credit code instead.") % {"name": value}
            )
        raise ValidationError(
            _("No enterprise with the credit code or name %(value)s in your region.") % {"value": value}
        )

    def service_details(self) -> dict:
        data = self.cleaned_data
        return {
            "destination_park": data.get("destination_park"),
            "absorbing_enterprise": data.get("absorbing_enterprise"),
            "exclusion_reason": data.get("exclusion_reason", ""),
            "problems": data.get("problems", ""),
            "deadline": data.get("deadline"),
        }


class CommentForm(BootstrapFormMixin, forms.Form):
    comment = forms.CharField(label=_("Comment"), required=False, widget=text_area())


class ReturnForm(BootstrapFormMixin, forms.Form):
    comment = forms.CharField(
        label=_("Why is it returned?"),
        widget=text_area(),
        error_messages={"required": _("Say why the classification is returned.")},
    )


class OpinionForm(BootstrapFormMixin, forms.Form):
    opinion = forms.ChoiceField(label=pgettext_lazy("pre-review", "Opinion"), choices=Opinion.choices)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=text_area(),
        help_text=_("Required unless you agree: what should change, or why you disagree."),
    )

    def clean(self):
        data = super().clean()
        if data.get("opinion") and data["opinion"] != Opinion.AGREE and not (data.get("comment") or "").strip():
            self.add_error("comment", _("Say what should change or why you disagree."))
        return data


class StopOrderForm(BootstrapFormMixin, forms.Form):
    stop_order_on = forms.DateField(label=_("Stop order date"), widget=date_input())
    comment = forms.CharField(label=_("Comment"), required=False, widget=text_area(2))


class ReopenForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why is it reopened?"),
        widget=text_area(),
        error_messages={"required": _("Say why it is reopened.")},
    )


# --- Plans and tasks ---------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceFilesField(forms.FileField):
    """Several evidence files at once; each is checked (type by extension and content, size) and every
    refused file is named in its own error."""

    def __init__(self, *args, **kwargs):
        accept = ",".join(f".{extension}" for extension in allowed_extensions())
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": accept}))
        kwargs.setdefault(
            "help_text",
            _("Photos (JPG, PNG, GIF, WEBP), PDF or Office/WPS documents; several files may be chosen at once."),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [item for item in (data if isinstance(data, (list, tuple)) else [data]) if item]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        single = super().clean
        cleaned, errors = [], []
        for uploaded in files:
            try:
                uploaded = single(uploaded, initial)
                validate_upload(uploaded, max_bytes=settings.RECTIFICATION_EVIDENCE_MAX_BYTES)
            except ValidationError as error:
                errors.extend(error.messages)
            else:
                cleaned.append(uploaded)
        if errors:
            raise ValidationError(errors)
        return cleaned


def lead_unit_choices(township) -> list:
    """The enterprise's governments (township, county, city) and every department, as grouped choices."""
    codes = [code for code in township.path.strip("/").split("/") if code]
    governments = Region.objects.filter(code__in=codes).order_by("-path")
    return [
        (_("Government"), [(f"region:{region.pk}", region.name) for region in governments]),
        (_("Department"), [(f"department:{d.pk}", d.name) for d in Department.objects.order_by("name")]),
    ]


class TaskForm(BootstrapFormMixin, forms.Form):
    description = forms.CharField(label=_("Task"), widget=text_area(2))
    lead_unit = forms.ChoiceField(
        label=_("Lead unit"), help_text=_("The government or department leading the task (牵头单位).")
    )
    cooperating_units = forms.CharField(label=_("Cooperating units"), max_length=255, required=False)
    responsible_person = forms.CharField(label=_("Responsible person"), max_length=50, required=False)
    deadline = forms.DateField(label=_("Deadline"), widget=date_input())
    status = forms.ChoiceField(
        label=pgettext_lazy("task", "Progress"),
        required=False,
        choices=[
            ("", _("Unchanged")),
            (TaskStatus.NOT_STARTED, TaskStatus.NOT_STARTED.label),
            (TaskStatus.IN_PROGRESS, TaskStatus.IN_PROGRESS.label),
        ],
        help_text=_("Use “mark done” to report the task completed."),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=text_area(2))
    reason = forms.CharField(label=_("Reason for the change"), max_length=200, required=False)

    #: Service field names → this form's field (for the service's field-keyed errors).
    RENAMES = {"lead_department": "lead_unit", "lead_region": "lead_unit"}

    def __init__(self, *args, township, task: Task | None = None, **kwargs):
        if task is not None and "initial" not in kwargs:
            lead = (
                f"department:{task.lead_department_id}" if task.lead_department_id else f"region:{task.lead_region_id}"
            )
            kwargs["initial"] = {
                "description": task.description,
                "lead_unit": lead,
                "cooperating_units": task.cooperating_units,
                "responsible_person": task.responsible_person,
                "deadline": task.deadline,
                "status": task.status if task.status in (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS) else "",
                "note": task.note,
            }
        elif task is None:
            kwargs.setdefault("initial", {"lead_unit": f"region:{township.pk}"})
        super().__init__(*args, **kwargs)
        self.fields["lead_unit"].choices = lead_unit_choices(township)
        if task is None:
            del self.fields["status"]
            del self.fields["reason"]

    def clean_lead_unit(self):
        kind, _sep, pk = (self.cleaned_data.get("lead_unit") or "").partition(":")
        model = {"region": Region, "department": Department}.get(kind)
        unit = model.objects.filter(pk=pk).first() if model and pk.isdigit() else None
        if unit is None:
            raise ValidationError(_("Choose the lead unit from the list."))
        return unit

    def service_fields(self) -> dict:
        """Keyword arguments of add_task / update_task."""
        data = self.cleaned_data
        unit = data["lead_unit"]
        fields = {
            "description": data["description"],
            "deadline": data["deadline"],
            "lead_department": unit if isinstance(unit, Department) else None,
            "lead_region": unit if isinstance(unit, Region) else None,
            "cooperating_units": data.get("cooperating_units", ""),
            "responsible_person": data.get("responsible_person", ""),
            "note": data.get("note", ""),
        }
        if data.get("status"):
            fields["status"] = data["status"]
        return fields


class MarkDoneForm(BootstrapFormMixin, forms.Form):
    completed_on = forms.DateField(label=_("Completed on"), widget=date_input())
    note = forms.CharField(label=_("Completion note"), required=False, widget=text_area())
    evidence = EvidenceFilesField(label=_("Evidence files"), required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"completed_on": timezone.localdate()})
        super().__init__(*args, **kwargs)


class EvidenceForm(BootstrapFormMixin, forms.Form):
    files = EvidenceFilesField(label=_("Evidence files"))


class TaskReasonForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class TaskReopenForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why is the task reopened?"),
        widget=text_area(2),
        error_messages={"required": _("Say why the task is reopened.")},
    )
