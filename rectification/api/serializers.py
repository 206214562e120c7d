"""Campaigns, targets, classifications (with their workflow timeline) and tasks as the API shows them,
and the input of the workflow steps and of "task done"."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import FastRepresentationMixin, display_field
from core.uploads import validate_upload
from enterprises.api.serializers import EnterpriseRefSerializer, ParkRefSerializer
from enterprises.models import Enterprise
from enterprises.validators import normalize_uscc
from parks.models import ChemicalPark

from .. import services
from ..choices import (
    OPEN_PROPOSAL_STATES,
    Category,
    Opinion,
    StepAction,
    category_from_word,
    category_words_listing,
)
from ..models import Campaign, Classification, ClassificationStep, Target, Task, TaskEvidence
from ..selectors import campaigns_for
from .common import (
    VERSION_HELP,
    CampaignRefSerializer,
    DepartmentRefSerializer,
    person_name,
)


class CampaignSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """专项行动: a campaign with its period."""

    kind_display = display_field("get_kind_display")
    status_display = display_field("get_status_display")
    version = serializers.IntegerField(read_only=True, help_text=VERSION_HELP)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "kind_display",
            "starts_on",
            "ends_on",
            "status",
            "status_display",
            "description",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields


class TargetSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """责任状: how many enterprises a region must shut down, relocate, upgrade and restructure in one year."""

    campaign = CampaignRefSerializer(read_only=True)
    region_code = serializers.CharField(source="region.code", read_only=True, help_text=_("Code of the region."))
    region_name = serializers.CharField(source="region.name", read_only=True)
    version = serializers.IntegerField(read_only=True, help_text=VERSION_HELP)

    class Meta:
        model = Target
        fields = [
            "id",
            "campaign",
            "region_code",
            "region_name",
            "year",
            "shutdown",
            "relocate",
            "upgrade",
            "restructure",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields


class StepSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """One step of the workflow: who did what, when, from which state to which, and why."""

    action_display = display_field("get_action_display")
    from_state = serializers.CharField(allow_null=True, read_only=True)
    from_state_display = display_field("get_from_state_display")
    to_state_display = display_field("get_to_state_display")
    actor = serializers.SerializerMethodField(
        help_text=_("Who took the step (a person or an API client); null for steps taken by the system.")
    )
    department = DepartmentRefSerializer(read_only=True, allow_null=True)
    opinion = serializers.CharField(allow_null=True, read_only=True)
    opinion_display = display_field("get_opinion_display")

    class Meta:
        model = ClassificationStep
        fields = [
            "id",
            "action",
            "action_display",
            "from_state",
            "from_state_display",
            "to_state",
            "to_state_display",
            "actor",
            "department",
            "review_round",
            "opinion",
            "opinion_display",
            "comment",
            "details",
            "at",
        ]
        read_only_fields = fields

    def to_representation(self, step):
        data = super().to_representation(step)
        for name in ("from_state", "opinion"):
            data[name] = data[name] or None
        return data

    def get_actor(self, step) -> str | None:
        return person_name(step.actor)


class MissingDetailSerializer(serializers.Serializer):
    field = serializers.CharField(help_text=_("destination_park, absorbing_enterprise or exclusion_reason."))
    message = serializers.CharField(help_text=_("What is missing and what to do."))


class ClassificationSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """四个一批: the disposition of one enterprise in one campaign, its workflow state and its timeline."""

    enterprise = EnterpriseRefSerializer(read_only=True)
    region_code = serializers.CharField(
        source="enterprise.township.code", read_only=True, help_text=_("Code of its enterprise's township.")
    )
    campaign = CampaignRefSerializer(read_only=True)
    category_display = display_field("get_category_display")
    state_display = display_field("get_state_display")
    destination_park = ParkRefSerializer(read_only=True, allow_null=True, help_text=_("Relocation only."))
    absorbing_enterprise = EnterpriseRefSerializer(
        read_only=True, allow_null=True, help_text=_("Restructuring only: the enterprise taking this one over.")
    )
    replaces = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text=_("A change request: id of the decision in force it is to replace.")
    )
    proposed_by = serializers.SerializerMethodField()
    missing_details = serializers.SerializerMethodField(
        help_text=_(
            "What the category still needs before the county submits (a township's proposal may lack it): "
            "destination_park, absorbing_enterprise or exclusion_reason with the message; empty when complete "
            "or no longer open."
        )
    )
    steps = StepSerializer(many=True, read_only=True, help_text=_("The workflow timeline, oldest step first."))
    version = serializers.IntegerField(read_only=True, help_text=VERSION_HELP)

    class Meta:
        model = Classification
        fields = [
            "id",
            "enterprise",
            "region_code",
            "campaign",
            "category",
            "category_display",
            "state",
            "state_display",
            "is_current",
            "replaces",
            "destination_park",
            "absorbing_enterprise",
            "exclusion_reason",
            "problems",
            "deadline",
            "review_round",
            "proposed_by",
            "missing_details",
            "approved_at",
            "accepted_at",
            "stop_order_on",
            "five_thorough_flagged_on",
            "steps",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def get_proposed_by(self, classification) -> str | None:
        return person_name(classification.proposed_by)

    @extend_schema_field(MissingDetailSerializer(many=True))
    def get_missing_details(self, classification) -> list:
        if classification.state not in OPEN_PROPOSAL_STATES:  # decided, withdrawn or superseded: nothing to fill
            return []
        return [
            {"field": name, "message": message} for name, message in services.missing_details(classification).items()
        ]


#: The workflow actions POST classifications/{id}/steps/ takes (the others need more than a comment: the pages).
STEP_ACTIONS = [
    StepAction.SUBMIT,
    StepAction.OPINION,
    StepAction.RESUBMIT,
    StepAction.FORWARD,
    StepAction.APPROVE,
    StepAction.RETURN,
    StepAction.WITHDRAW,
    StepAction.STOP_ORDER,
    StepAction.REQUEST_ACCEPTANCE,
    StepAction.ACCEPT,
    StepAction.FAIL_ACCEPTANCE,
    StepAction.REOPEN,
]


class OpinionInputSerializer(serializers.Serializer):
    opinion = serializers.ChoiceField(
        choices=Opinion.choices, help_text=_("agree, agree_with_changes or disagree (the last two need a comment).")
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    version = serializers.IntegerField(required=False, min_value=1, help_text=VERSION_HELP)


class StepInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=[(action, StepAction(action).label) for action in STEP_ACTIONS],
        help_text=_(
            "The workflow step: submit, opinion, resubmit, forward, approve, return, withdraw, stop_order, "
            "request_acceptance, accept, fail_acceptance, reopen. Refused (403/400 with the reason) when your role, "
            "region or the classification's state does not allow it."
        ),
    )
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        default="",
        help_text=_("Why; required for return, fail_acceptance and reopen, and for an opinion other than agree."),
    )
    opinion = serializers.ChoiceField(choices=Opinion.choices, required=False, help_text=_("For action opinion."))
    stop_order_on = serializers.DateField(required=False, help_text=_("For action stop_order: date of the order."))
    failed_items = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=_("For action fail_acceptance: checklist items (standard task codes) whose tasks are reopened."),
    )
    version = serializers.IntegerField(required=False, min_value=1, help_text=VERSION_HELP)


class EvidenceSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    uploaded_by = serializers.SerializerMethodField()

    class Meta:
        model = TaskEvidence
        fields = ["id", "name", "size", "content_type", "uploaded_by", "uploaded_at"]
        read_only_fields = fields

    def get_uploaded_by(self, evidence) -> str | None:
        return person_name(evidence.uploaded_by)


class TaskSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """One task (措施) of a rectification plan, with its lead unit, deadline, status and evidence files."""

    classification = serializers.IntegerField(source="plan.classification_id", read_only=True)
    enterprise = EnterpriseRefSerializer(source="plan.classification.enterprise", read_only=True)
    region_code = serializers.CharField(
        source="plan.classification.enterprise.township.code",
        read_only=True,
        help_text=_("Code of its enterprise's township."),
    )
    campaign = CampaignRefSerializer(source="plan.classification.campaign", read_only=True)
    category = serializers.CharField(source="plan.classification.category", read_only=True)
    category_display = display_field("plan.classification.get_category_display")
    standard_item = serializers.CharField(allow_null=True, read_only=True)
    standard_item_display = display_field("get_standard_item_display")
    lead_department = DepartmentRefSerializer(read_only=True, allow_null=True)
    lead_region_code = serializers.CharField(source="lead_region.code", read_only=True, allow_null=True, default=None)
    lead_unit = serializers.SerializerMethodField(help_text=_("Name of the lead unit (牵头单位)."))
    status_display = display_field("get_status_display")
    overdue = serializers.SerializerMethodField(
        help_text=_("Past its deadline and not done (status overdue, set by the daily deadline check).")
    )
    done_by = serializers.SerializerMethodField()
    verified_by = serializers.SerializerMethodField()
    evidence = EvidenceSerializer(many=True, read_only=True, help_text=_("Evidence files (names and sizes)."))
    version = serializers.IntegerField(read_only=True, help_text=VERSION_HELP)

    class Meta:
        model = Task
        fields = [
            "id",
            "classification",
            "enterprise",
            "region_code",
            "campaign",
            "category",
            "category_display",
            "order",
            "standard_item",
            "standard_item_display",
            "description",
            "lead_department",
            "lead_region_code",
            "lead_unit",
            "cooperating_units",
            "responsible_person",
            "deadline",
            "status",
            "status_display",
            "overdue",
            "completed_on",
            "note",
            "done_by",
            "done_at",
            "verified_by",
            "verified_at",
            "evidence",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    def to_representation(self, task):
        data = super().to_representation(task)
        data["standard_item"] = data["standard_item"] or None
        return data

    def get_lead_unit(self, task) -> str | None:
        unit = task.lead_unit
        return str(unit) if unit is not None else None

    def get_overdue(self, task) -> bool:
        return task.status == "overdue"

    def get_done_by(self, task) -> str | None:
        return person_name(task.done_by)

    def get_verified_by(self, task) -> str | None:
        return person_name(task.verified_by)


@extend_schema_field({"type": "array", "items": {"type": "string", "format": "binary"}})
class EvidenceFilesField(serializers.ListField):
    child = serializers.FileField()


class TaskDoneSerializer(serializers.Serializer):
    completed_on = serializers.DateField(help_text=_("The day the task was completed (not in the future)."))
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    evidence = EvidenceFilesField(
        required=False,
        default=list,
        help_text=_(
            "Evidence files (multipart/form-data, the field repeated per file): photos, PDF, Office or WPS "
            "documents whose content matches their extension."
        ),
    )
    version = serializers.IntegerField(required=False, min_value=1, help_text=VERSION_HELP)

    def validate_evidence(self, files):
        # The service checks them again; here a bad file is reported under "evidence", not as a general error.
        for uploaded in files:
            validate_upload(uploaded, max_bytes=settings.RECTIFICATION_EVIDENCE_MAX_BYTES)
        return files


# --- A township's proposal ------------------------------------------------------------------------------


class ProposalCampaignField(serializers.PrimaryKeyRelatedField):
    """A campaign the caller sees, by id."""

    def get_queryset(self):
        return campaigns_for(self.context["request"].user)


@extend_schema_field(OpenApiTypes.STR)
class ProposalEnterpriseField(serializers.Field):
    """An enterprise of the caller's region, by its credit code (the absorbing enterprise also by its exact name)."""

    default_error_messages = {
        "not_found": _("No enterprise with the credit code or name %(value)s lies inside your region."),
        "ambiguous": _("Several enterprises are called %(value)s; give the credit code instead."),
    }

    def __init__(self, *, by_name: bool = False, **kwargs):
        self.by_name = by_name
        super().__init__(**kwargs)

    def to_representation(self, enterprise):
        return enterprise.uscc

    def to_internal_value(self, data):
        value = str(data).strip()
        enterprises = Enterprise.objects.visible_to(self.context["request"].user)
        found = enterprises.filter(uscc=normalize_uscc(value)).first()
        if found is None and self.by_name:
            matches = list(enterprises.filter(name=value)[:2])
            if len(matches) > 1:
                self._refuse("ambiguous", value=value)
            found = matches[0] if matches else None
        if found is None:
            self._refuse("not_found", value=value)
        return found

    def _refuse(self, key, **params):
        raise serializers.ValidationError(self.error_messages[key] % params, code=key)


@extend_schema_field(OpenApiTypes.STR)
class DestinationParkField(serializers.Field):
    """A chemical park by its code; a relocation may go to a recognised park anywhere (the service checks it)."""

    default_error_messages = {"not_found": _("No chemical park with the code %(code)s.")}

    def to_representation(self, park):
        return park.code

    def to_internal_value(self, data):
        park = ChemicalPark.objects.filter(code=str(data).strip()).first()
        if park is None:
            raise serializers.ValidationError(self.error_messages["not_found"] % {"code": data}, code="not_found")
        return park


class CategoryWordField(serializers.CharField):
    """A category code (shutdown, relocate, …) or a word as officers write it (拟关停, 搬迁入园, 关停（取缔）…)."""

    default_error_messages = {
        "unknown": _("“%(value)s” is not a category: write a code (%(codes)s) or one of %(words)s.")
    }

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        category = category_from_word(text)
        if category is None:
            params = {"value": text, "codes": ", ".join(Category.values), "words": category_words_listing()}
            raise serializers.ValidationError(self.error_messages["unknown"] % params, code="unknown")
        return category


class ProposalInputSerializer(serializers.Serializer):
    enterprise = ProposalEnterpriseField(help_text=_("Credit code of the enterprise."))
    campaign = ProposalCampaignField(queryset=Campaign.objects.all(), help_text=_("Campaign id."))
    category = CategoryWordField(
        help_text=_(
            "shutdown, relocate, upgrade, restructure, excluded or undecided, or the word a roster uses "
            "(拟关停, 转停, 搬迁入园, 改造提升, 兼并重组, 剔除 …)."
        )
    )
    destination_park = DestinationParkField(
        required=False,
        allow_null=True,
        help_text=_("Relocation: code of the recognised destination park; may follow later (needed before submit)."),
    )
    absorbing_enterprise = ProposalEnterpriseField(
        by_name=True,
        required=False,
        allow_null=True,
        help_text=_("Restructuring: credit code or exact name of the absorbing enterprise; may follow later."),
    )
    exclusion_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        help_text=_("Exclusion: why the enterprise is not in scope; may follow later."),
    )
    problems = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    deadline = serializers.DateField(required=False, allow_null=True, help_text=_("Within the campaign's period."))
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")

    def details(self) -> dict:
        """The details sent (a field left out keeps its stored value when a proposal is edited)."""
        data = self.validated_data
        names = ("destination_park", "absorbing_enterprise", "exclusion_reason", "problems", "deadline")
        return {name: data[name] for name in names if name in data}
