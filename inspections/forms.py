"""Web forms of surveys, inspections, findings, acceptance checks and 回头看 re-checks.

They check the input's shape (and uploaded files through core.uploads); the services in services.py
decide everything else and their ValidationErrors are shown on these forms (`add_service_error`).
"""

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Department
from core.uploads import allowed_extensions, validate_upload
from enterprises.forms import BootstrapFormMixin, add_bootstrap_classes
from enterprises.selectors import pick_enterprise
from parks.models import ChemicalPark
from rectification.choices import SHUTDOWN_CHECKLIST

from .choices import (
    GENERAL_RESULTS,
    SHUTDOWN_CHECK_ITEMS,
    WORKFLOW_KINDS,
    AccessArea,
    EvidenceStage,
    InspectionKind,
    InspectionResult,
    Severity,
)
from .services import EDITABLE_FINDING_FIELDS

DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}


def date_input():
    return forms.DateInput(**DATE_WIDGET)


def _today():
    return timezone.localdate()


# --- Files ------------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by core.uploads (type by extension and content, size)."""

    def __init__(self, *args, **kwargs):
        accept = ",".join(f".{extension}" for extension in allowed_extensions())
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": accept}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def has_changed(self, initial, data):
        # An empty list of files is no change (a blank inline finding row stays blank).
        return not self.disabled and bool(data)

    def clean(self, data, initial=None):
        single = super().clean
        files = [item for item in (data if isinstance(data, (list, tuple)) else [data]) if item]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        cleaned = [single(item, initial) for item in files]
        errors = []
        for upload in cleaned:
            try:
                validate_upload(upload)
            except ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return cleaned


def evidence_field(label, **kwargs):
    return MultipleFileField(
        label=label,
        help_text=_("Photos, PDF or Office documents; several files may be chosen at once."),
        **kwargs,
    )


# --- Service errors ---------------------------------------------------------------------------


def add_service_error(form, error: ValidationError, field_map: dict | None = None) -> None:
    """Show a service's ValidationError on the form: on the field it names (through `field_map` when the
    service's key differs from the form's field name), else at the top of the form."""
    field_map = field_map or {}
    if hasattr(error, "error_dict"):
        for key, messages in error.message_dict.items():
            target = field_map.get(key, key)
            if target not in form.fields:
                target = None
            for message in messages:
                form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


# --- Shared pieces ----------------------------------------------------------------------------


def department_field(**kwargs):
    return forms.ModelMultipleChoiceField(
        label=_("departments"),
        queryset=Department.objects.order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        **kwargs,
    )


class TargetFieldsMixin:
    """An inspection's target when the page was not opened from a dossier: an enterprise (picked by name or credit
    code among the suggestions of the user's region) or a chemical park."""

    def add_target_fields(self, user):
        self.user = user
        self.fields["enterprise_code"] = forms.CharField(
            label=_("Enterprise (name or credit code)"),
            max_length=240,
            required=False,
            help_text=_("Type part of its name or its credit code and choose it from the suggestions."),
            # static/enterprises/enterprise-picker.js fills the suggestions; without it a full name or code works.
            widget=forms.TextInput(
                attrs={"data-enterprise-lookup": reverse_lazy("enterprises:lookup"), "autocomplete": "off"}
            ),
        )
        self.fields["park"] = forms.ModelChoiceField(
            label=_("or chemical park"),
            queryset=ChemicalPark.objects.visible_to(user).order_by("name"),
            required=False,
            empty_label=gettext("— no park —"),
        )
        add_bootstrap_classes({name: self.fields[name] for name in ("enterprise_code", "park")})

    def clean_target(self):
        """Resolve the target fields into `cleaned_data["enterprise"]` / `["park"]`."""
        text = (self.cleaned_data.get("enterprise_code") or "").strip()
        park = self.cleaned_data.get("park")
        enterprise = None
        if text:
            enterprise, why_not = pick_enterprise(self.user, text)
            if enterprise is None:
                self.add_error("enterprise_code", why_not)
                return
        if (enterprise is None) == (park is None):
            self.add_error("enterprise_code", gettext("Give either an enterprise or a chemical park."))
            return
        self.cleaned_data["enterprise"] = enterprise
        self.cleaned_data["park"] = park


# --- Surveys ----------------------------------------------------------------------------------

CONFORMING_CHOICES = [("yes", _("Conforming")), ("no", _("Not conforming"))]


class SurveyForm(BootstrapFormMixin, forms.Form):
    """The eight access requirements on one screen: each conforming (the default) or not, with a note that is
    required when it does not conform (it becomes the finding's description)."""

    surveyed_on = forms.DateField(label=_("surveyed on"), widget=date_input())
    surveyed_by = forms.CharField(
        label=_("surveyed by"), max_length=200, required=False, help_text=_("Names of the surveyors.")
    )
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, answers=None, **kwargs):
        super().__init__(*args, **kwargs)
        answers = answers or {}
        for area in AccessArea:
            conforming, note = answers.get(area.value, (True, ""))
            self.fields[f"{area.value}_conforming"] = forms.ChoiceField(
                label=area.label,
                choices=CONFORMING_CHOICES,
                widget=forms.RadioSelect,
                initial="yes" if conforming else "no",
            )
            label = gettext("%(area)s: note") % {"area": area.label}
            self.fields[f"{area.value}_note"] = forms.CharField(
                label=label,
                required=False,
                initial=note,
                widget=forms.Textarea(attrs={"rows": 1, "class": "form-control form-control-sm", "aria-label": label}),
            )
        self.fields["surveyed_on"].initial = _today()

    def areas(self):
        """(label, conforming field, note field) per access requirement, in order, for the template."""
        return [
            (area.label, self[f"{area.value}_conforming"], self[f"{area.value}_note"], area.value)
            for area in AccessArea
        ]

    def clean(self):
        cleaned = super().clean()
        for area in AccessArea:
            if (
                cleaned.get(f"{area.value}_conforming") == "no"
                and not (cleaned.get(f"{area.value}_note") or "").strip()
            ):
                self.add_error(
                    f"{area.value}_note",
                    gettext("Describe what does not conform in %(area)s: it becomes a finding.") % {"area": area.label},
                )
        return cleaned

    def items(self) -> dict:
        return {
            area.value: (
                self.cleaned_data[f"{area.value}_conforming"] == "yes",
                self.cleaned_data.get(f"{area.value}_note", ""),
            )
            for area in AccessArea
        }

    @staticmethod
    def field_map() -> dict:
        """Service error keys (area codes) → the note field next to that area."""
        return {area.value: f"{area.value}_note" for area in AccessArea}


# --- Inspections -------------------------------------------------------------------------------


def recordable_kinds():
    """Kinds recorded with the general inspection form (acceptance and 回头看 have their own pages)."""
    return [(value, label) for value, label in InspectionKind.choices if value not in WORKFLOW_KINDS]


def plannable_kinds():
    return [(value, label) for value, label in InspectionKind.choices if value != InspectionKind.ACCEPTANCE]


class InspectionForm(TargetFieldsMixin, BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=pgettext_lazy("inspection", "kind"), choices=recordable_kinds)
    inspected_on = forms.DateField(label=_("inspected on"), widget=date_input())
    departments = department_field()
    inspectors = forms.CharField(label=_("inspectors"), max_length=255, required=False)
    result = forms.ChoiceField(
        label=_("result"),
        choices=[(value, label) for value, label in InspectionResult.choices if value in GENERAL_RESULTS],
    )
    result_note = forms.CharField(label=_("result note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    attachments = evidence_field(label=_("Attachments"))

    def __init__(self, *args, user, target=None, planned=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.target = target
        self.fields["inspected_on"].initial = _today()
        if planned is not None:
            # Carrying out a planned inspection: its kind and target are fixed.
            del self.fields["kind"]
            self.fields["departments"].initial = list(planned.departments.all())
            self.fields["inspectors"].initial = planned.inspectors
        if target is None:
            self.add_target_fields(user)

    def clean(self):
        cleaned = super().clean()
        if self.target is None:
            self.clean_target()
        return cleaned

    FIELD_MAP = {"enterprise": "enterprise_code", "file": "attachments"}


class PlanInspectionForm(TargetFieldsMixin, BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=pgettext_lazy("inspection", "kind"), choices=plannable_kinds)
    planned_on = forms.DateField(label=_("to be carried out by"), widget=date_input())
    departments = department_field()
    inspectors = forms.CharField(label=_("inspectors"), max_length=255, required=False)
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, target=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.target = target
        if target is None:
            self.add_target_fields(user)

    def clean(self):
        cleaned = super().clean()
        if self.target is None:
            self.clean_target()
        return cleaned

    FIELD_MAP = {"enterprise": "enterprise_code"}


class FindingRowForm(BootstrapFormMixin, forms.Form):
    """One finding typed in with its inspection; a row left blank is skipped."""

    area = forms.ChoiceField(label=_("access requirement"), choices=AccessArea.choices, initial=AccessArea.WORK_SAFETY)
    severity = forms.ChoiceField(label=_("severity"), choices=Severity.choices, initial=Severity.GENERAL)
    description = forms.CharField(label=_("description"), widget=forms.Textarea(attrs={"rows": 2}))
    legal_basis = forms.CharField(label=_("legal basis"), required=False, widget=forms.Textarea(attrs={"rows": 1}))
    responsible_unit = forms.CharField(label=_("responsible unit"), max_length=200, required=False)
    responsible_department = forms.ModelChoiceField(
        label=_("responsible department"), queryset=Department.objects.order_by("name"), required=False
    )
    deadline = forms.DateField(label=_("deadline"), required=False, widget=date_input())
    evidence = evidence_field(label=_("Evidence"))

    def finding_data(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.fields} | {
            "evidence": self.cleaned_data.get("evidence") or []
        }


FindingRowFormSet = forms.formset_factory(FindingRowForm, extra=3, max_num=20, validate_max=True)


def finding_rows(formset) -> list[tuple[int, dict]]:
    """(form index, record_finding kwargs) of the rows filled in."""
    rows = []
    for index, form in enumerate(formset.forms):
        if form.has_changed() and form.cleaned_data:
            rows.append((index, form.finding_data()))
    return rows


class AttachmentForm(BootstrapFormMixin, forms.Form):
    files = evidence_field(label=_("Attachments"), required=True)
    description = forms.CharField(label=_("description"), max_length=255, required=False)


class CancelForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


# --- Findings ---------------------------------------------------------------------------------


class FindingForm(BootstrapFormMixin, forms.Form):
    """A finding recorded on its own (for an inspection already recorded, an enterprise or a park)."""

    area = forms.ChoiceField(label=_("access requirement"), choices=AccessArea.choices)
    severity = forms.ChoiceField(label=_("severity"), choices=Severity.choices, initial=Severity.GENERAL)
    description = forms.CharField(label=_("description"), widget=forms.Textarea(attrs={"rows": 3}))
    legal_basis = forms.CharField(label=_("legal basis"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    responsible_unit = forms.CharField(label=_("responsible unit"), max_length=200, required=False)
    responsible_department = forms.ModelChoiceField(
        label=_("responsible department"), queryset=Department.objects.order_by("name"), required=False
    )
    deadline = forms.DateField(label=_("deadline"), required=False, widget=date_input())
    evidence = evidence_field(label=_("Evidence"))

    FIELD_MAP = {"file": "evidence"}


class FindingEditForm(BootstrapFormMixin, forms.Form):
    area = forms.ChoiceField(label=_("access requirement"), choices=AccessArea.choices)
    severity = forms.ChoiceField(label=_("severity"), choices=Severity.choices)
    description = forms.CharField(label=_("description"), widget=forms.Textarea(attrs={"rows": 3}))
    legal_basis = forms.CharField(label=_("legal basis"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    responsible_unit = forms.CharField(label=_("responsible unit"), max_length=200, required=False)
    responsible_department = forms.ModelChoiceField(
        label=_("responsible department"), queryset=Department.objects.order_by("name"), required=False
    )
    deadline = forms.DateField(label=_("deadline"), required=False, widget=date_input())
    reason = forms.CharField(label=_("Reason for the change"), max_length=200, required=False)

    @classmethod
    def initial_for(cls, finding) -> dict:
        return {name: getattr(finding, name) for name in EDITABLE_FINDING_FIELDS}

    def finding_data(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in EDITABLE_FINDING_FIELDS}


class NoteForm(BootstrapFormMixin, forms.Form):
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class FixForm(BootstrapFormMixin, forms.Form):
    note = forms.CharField(
        label=_("What was done"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Describe the rectification carried out; it is checked by someone else before closing."),
    )
    evidence = evidence_field(label=_("Evidence of the fix"))

    FIELD_MAP = {"file": "evidence"}


VERIFY_CHOICES = [("pass", _("Fix accepted: close the finding (销号)")), ("fail", _("Fix not accepted: reopen"))]


class VerifyForm(BootstrapFormMixin, forms.Form):
    outcome = forms.ChoiceField(label=_("Verification"), choices=VERIFY_CHOICES, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when the fix is not accepted."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") == "fail" and not (cleaned.get("note") or "").strip():
            self.add_error("note", gettext("Say why the fix is not accepted."))
        return cleaned


class ReopenForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class EvidenceForm(BootstrapFormMixin, forms.Form):
    files = evidence_field(label=_("Files"), required=True)
    stage = forms.ChoiceField(label=_("stage"), choices=EvidenceStage.choices, initial=EvidenceStage.FIXED)
    description = forms.CharField(label=_("description"), max_length=255, required=False)


# --- Acceptance ---------------------------------------------------------------------------------

ITEM_CHOICES = [("passed", _("Passed")), ("failed", pgettext_lazy("acceptance item", "Failed"))]
OPTIONAL_ITEM_CHOICES = [("", _("Not checked")), *ITEM_CHOICES]
ACCEPTANCE_CHOICES = [("pass", _("Passed: close the classification (销号)")), ("fail", _("Not passed"))]


class AcceptanceForm(BootstrapFormMixin, forms.Form):
    """An acceptance check. A shutdown checks each 两断三清 item (the five are required; hazardous materials and
    the business licence optional) and the decision follows from the items; other categories pass or fail."""

    inspected_on = forms.DateField(label=_("inspected on"), widget=date_input())
    outcome = forms.ChoiceField(label=_("Acceptance"), choices=ACCEPTANCE_CHOICES, widget=forms.RadioSelect)
    reasons = forms.CharField(
        label=_("Reasons it is not passed"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when the acceptance is not passed."),
    )
    comment = forms.CharField(label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    departments = department_field()
    inspectors = forms.CharField(label=_("inspectors"), max_length=255, required=False)
    attachments = evidence_field(label=_("Attachments"))

    def __init__(self, *args, shutdown: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.shutdown = shutdown
        self.fields["inspected_on"].initial = _today()
        if shutdown:
            # The decision follows from the items.
            del self.fields["outcome"]
            self.fields["reasons"].help_text = _("Further reasons, besides the failed items.")
            required = {item.value for item in SHUTDOWN_CHECKLIST}
            for item in SHUTDOWN_CHECK_ITEMS:
                self.fields[f"{item.value}_result"] = forms.ChoiceField(
                    label=item.label,
                    choices=ITEM_CHOICES if item.value in required else OPTIONAL_ITEM_CHOICES,
                    widget=forms.RadioSelect,
                    required=item.value in required,
                )
                label = gettext("%(item)s: note") % {"item": item.label}
                self.fields[f"{item.value}_note"] = forms.CharField(
                    label=label,
                    required=False,
                    max_length=500,
                    widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "aria-label": label}),
                )

    def check_items(self):
        """(label, result field, note field, required) per shutdown item, for the template."""
        required = {item.value for item in SHUTDOWN_CHECKLIST}
        return [
            (item.label, self[f"{item.value}_result"], self[f"{item.value}_note"], item.value in required)
            for item in SHUTDOWN_CHECK_ITEMS
        ]

    def clean(self):
        cleaned = super().clean()
        if self.shutdown:
            for item in SHUTDOWN_CHECK_ITEMS:
                if (
                    cleaned.get(f"{item.value}_result") == "failed"
                    and not (cleaned.get(f"{item.value}_note") or "").strip()
                ):
                    self.add_error(
                        f"{item.value}_note", gettext("Say what is wrong with “%(item)s”.") % {"item": item.label}
                    )
        elif cleaned.get("outcome") == "fail" and not (cleaned.get("reasons") or "").strip():
            self.add_error("reasons", gettext("Give the reasons the acceptance is not passed."))
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        kwargs = {
            "inspected_on": data["inspected_on"],
            "reasons": data.get("reasons", ""),
            "comment": data.get("comment", ""),
            "departments": list(data.get("departments") or []),
            "inspectors": data.get("inspectors", ""),
            "attachments": data.get("attachments") or [],
        }
        if self.shutdown:
            kwargs["items"] = {
                item.value: (data[f"{item.value}_result"] == "passed", data.get(f"{item.value}_note", ""))
                for item in SHUTDOWN_CHECK_ITEMS
                if data.get(f"{item.value}_result")
            }
        else:
            kwargs["passed"] = data["outcome"] == "pass"
        return kwargs

    def field_map(self) -> dict:
        mapping = {"file": "attachments", "passed": "outcome" if not self.shutdown else None, "items": None}
        for item in SHUTDOWN_CHECK_ITEMS:
            mapping[item.value] = f"{item.value}_note"
        return {key: value for key, value in mapping.items() if value}


# --- 回头看 ----------------------------------------------------------------------------------------

RECHECK_CHOICES = [("closed", _("Still closed")), ("producing", _("Producing again"))]


class RecheckForm(BootstrapFormMixin, forms.Form):
    inspected_on = forms.DateField(label=_("inspected on"), widget=date_input())
    outcome = forms.ChoiceField(label=_("Finding of the re-check"), choices=RECHECK_CHOICES, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("What was found"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when the enterprise is producing again: it becomes a major finding."),
    )
    area = forms.ChoiceField(
        label=_("access requirement of the finding"), choices=AccessArea.choices, initial=AccessArea.WORK_SAFETY
    )
    deadline = forms.DateField(label=_("deadline of the finding"), required=False, widget=date_input())
    departments = department_field()
    inspectors = forms.CharField(label=_("inspectors"), max_length=255, required=False)
    attachments = evidence_field(label=_("Attachments"))
    confirm = forms.BooleanField(
        label=_("I have read the consequences above and confirm that the enterprise is producing again."),
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inspected_on"].initial = _today()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") == "producing":
            if not (cleaned.get("note") or "").strip():
                self.add_error("note", gettext("Describe what was found: it becomes a major finding."))
            if not cleaned.get("confirm"):
                self.add_error(
                    "confirm", gettext("Tick the confirmation: recording “producing again” reopens the enterprise.")
                )
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "inspected_on": data["inspected_on"],
            "producing_again": data["outcome"] == "producing",
            "note": data.get("note", ""),
            "departments": list(data.get("departments") or []),
            "inspectors": data.get("inspectors", ""),
            "area": data.get("area") or AccessArea.WORK_SAFETY,
            "deadline": data.get("deadline"),
            "attachments": data.get("attachments") or [],
        }

    FIELD_MAP = {"file": "attachments", "enterprise": None}
