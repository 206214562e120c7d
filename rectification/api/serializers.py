"""Campaigns, targets, classifications (with their workflow timeline) and tasks as the API shows them,
and the input of the workflow steps and of "task done"."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import FastRepresentationMixin, display_field
from core.uploads import validate_upload
from enterprises.api.serializers import EnterpriseRefSerializer, ParkRefSerializer

from ..choices import Opinion, StepAction
from ..models import Campaign, Classification, ClassificationStep, Target, Task, TaskEvidence
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
