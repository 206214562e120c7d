from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from core.api.serializers import ErrorSerializer
from core.api.sync import TombstoneSource
from core.api.viewsets import DeletedRecordsMixin, RegisterViewSetMixin, tombstone_serializer
from enterprises.models import Enterprise

from .. import services
from ..choices import StepAction
from ..models import Campaign, Classification, ClassificationStep, Plan, Target, Task, TaskEvidence
from .common import checked, last_known_path
from .filters import CampaignApiFilterSet, ClassificationApiFilterSet, TargetApiFilterSet, TaskApiFilterSet
from .serializers import (
    CampaignSerializer,
    ClassificationSerializer,
    OpinionInputSerializer,
    ProposalInputSerializer,
    StepInputSerializer,
    TargetSerializer,
    TaskDoneSerializer,
    TaskSerializer,
)

SYNC_NOTE = _("With updated_since: incremental sync, ordered by (updated_at, id), cursor-paged.")
WRITE_NOTE = _(
    "Through the same service and workflow rules as the pages; the step shows in the dossier's timeline as taken by "
    "your API client. Needs a token created with --write, inside your region, and a role that may take the step. "
    "Send the version you read (or If-Match): a record changed meanwhile answers 409."
)


PROPOSAL_WRITE_NOTE = _(
    "Through the same service and rules as the proposal page; the proposal shows in the dossier's timeline as made by "
    "your API client. Needs a token created with --write (or the session of a township, county or city office), "
    "inside your region."
)


def _write_errors(*codes):
    """Documented error responses of a write action (the schema adds 401/403/429/404 itself)."""
    descriptions = {
        400: _("The step is refused in this state, or a value is invalid: errors names the field and the reason."),
        409: _("The record changed since the version you sent: reload it and try again."),
    }
    return {code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in codes}


@extend_schema_view(
    list=extend_schema(
        summary=_("List campaigns"),
        description=format_lazy("{} {}", _("The campaigns (专项行动) with their period and status."), SYNC_NOTE),
    ),
    retrieve=extend_schema(summary=_("One campaign, by id")),
)
class CampaignViewSet(RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Campaign.objects.all()
    serializer_class = CampaignSerializer
    filterset_class = CampaignApiFilterSet


@extend_schema_view(
    list=extend_schema(
        summary=_("List targets"),
        description=format_lazy(
            "{} {}", _("The targets (责任状) of the regions in your region, per campaign and year."), SYNC_NOTE
        ),
    ),
    retrieve=extend_schema(summary=_("One target, by id")),
    deleted=extend_schema(
        summary=_("Deleted targets (tombstones)"),
        description=_("Targets deleted after updated_since; cursor-paged like the sync."),
    ),
)
class TargetViewSet(DeletedRecordsMixin, RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Target.objects.all()
    serializer_class = TargetSerializer
    filterset_class = TargetApiFilterSet
    tombstones = TombstoneSource(Target, key_field="year", region_path="region__path", tracks_moves=False)
    tombstone_serializer_class = tombstone_serializer("TargetTombstone", "year", _("Year of the target."))

    def decorate_queryset(self, queryset):
        return queryset.select_related("campaign", "region").order_by("campaign", "region__code", "year", "pk")


def _classification_region_path():
    return last_known_path(Enterprise, "enterprise_id")


def _task_region_path():
    """The township path of a task's enterprise, also after the enterprise (and with it the plan) was deleted:
    from the latest history rows of its plan, classification and enterprise."""
    plan = Plan.history.model.objects.filter(id=OuterRef(OuterRef(OuterRef("plan_id")))).order_by("-history_id")
    classification = Classification.history.model.objects.filter(
        id=Subquery(plan.values("classification_id")[:1])
    ).order_by("-history_id")
    enterprise = Enterprise.history.model.objects.filter(
        id=Subquery(classification.values("enterprise_id")[:1])
    ).order_by("-history_id")
    return Coalesce(
        F("plan__classification__enterprise__township__path"), Subquery(enterprise.values("township__path")[:1])
    )


@extend_schema_view(
    list=extend_schema(
        summary=_("List classifications"),
        description=format_lazy(
            "{} {}",
            _(
                "The classifications (四个一批) of the enterprises in your region, one per enterprise and campaign plus "
                "pending change requests and withdrawn or superseded rows (filter is_current), each with its "
                "workflow timeline. A new step (also a pre-review opinion) counts as a change."
            ),
            SYNC_NOTE,
        ),
    ),
    retrieve=extend_schema(summary=_("One classification with its workflow timeline, by id")),
    deleted=extend_schema(
        summary=_("Deleted classifications (tombstones)"),
        description=_(
            "Classifications deleted after updated_since (with their enterprise), cursor-paged like the sync."
        ),
    ),
)
class ClassificationViewSet(DeletedRecordsMixin, RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Classification.objects.all()
    serializer_class = ClassificationSerializer
    filterset_class = ClassificationApiFilterSet
    service_field_names = {"reason": "comment", "reasons": "comment"}
    tombstones = TombstoneSource(
        Classification, key_field="enterprise_id", region_path=_classification_region_path, tracks_moves=False
    )
    tombstone_serializer_class = tombstone_serializer(
        "ClassificationTombstone", "enterprise_id", _("Id of its enterprise.")
    )

    def decorate_queryset(self, queryset):
        steps = ClassificationStep.objects.select_related("actor", "department").order_by("at", "id")
        return queryset.select_related(
            "enterprise__township", "campaign", "destination_park", "absorbing_enterprise", "proposed_by"
        ).prefetch_related(Prefetch("steps", queryset=steps))

    def get_serializer_class(self):
        if self.action == "opinion":
            return OpinionInputSerializer
        if self.action == "steps":
            return StepInputSerializer
        if self.action == "create":
            return ProposalInputSerializer
        return super().get_serializer_class()

    @extend_schema(
        summary=_("Propose a classification (the township's step)"),
        description=format_lazy(
            "{} {}",
            _(
                "Proposes the enterprise's classification in a campaign, or edits its proposal while it is still "
                "“proposed” (201 when new, 200 when edited; a detail left out keeps its stored value); for a decided "
                "classification it proposes a change. The category may be a code or a roster's word (拟关停, 转停, "
                "搬迁入园 …). A proposal may be incomplete: a relocation without its destination park, a "
                "restructuring without the absorbing enterprise, an exclusion without its reason are accepted and "
                "listed in missing_details; the county's submission is refused until they are filled in. Details "
                "given must be valid (a recognised park, a deadline within the campaign)."
            ),
            PROPOSAL_WRITE_NOTE,
        ),
        request=ProposalInputSerializer,
        responses={200: ClassificationSerializer, 201: ClassificationSerializer, **_write_errors(400)},
    )
    def create(self, request, *args, **kwargs):
        entry = ProposalInputSerializer(data=request.data, context=self.get_serializer_context())
        entry.is_valid(raise_exception=True)
        data = entry.validated_data
        enterprise, campaign = data["enterprise"], data["campaign"]
        with transaction.atomic():
            before = set(
                Classification.objects.filter(enterprise=enterprise, campaign=campaign).values_list("pk", flat=True)
            )
            classification = services.propose_classification(
                enterprise, campaign, data["category"], request.user, comment=data["comment"], **entry.details()
            )
        response = self._answer(classification)
        response.status_code = status.HTTP_200_OK if classification.pk in before else status.HTTP_201_CREATED
        return response

    def _answer(self, classification):
        fresh = self.get_queryset().get(pk=classification.pk)
        response = Response(ClassificationSerializer(fresh, context=self.get_serializer_context()).data)
        response["ETag"] = f'"{fresh.version}"'
        return response

    @extend_schema(
        summary=_("Give a pre-review opinion"),
        description=format_lazy(
            "{} {}",
            _(
                "The opinion of your client's pre-review department (its service user's department, set in the "
                "admin) in the current round: agree, agree_with_changes or disagree with a comment. The last "
                "missing opinion completes the pre-review."
            ),
            WRITE_NOTE,
        ),
        request=OpinionInputSerializer,
        responses={200: ClassificationSerializer, **_write_errors(400, 409)},
    )
    @action(detail=True, methods=["post"])
    def opinion(self, request, *args, **kwargs):
        classification = self.get_object()
        entry = OpinionInputSerializer(data=request.data)
        entry.is_valid(raise_exception=True)
        data = entry.validated_data
        checked(
            Classification,
            classification.pk,
            self.expected_version(),
            lambda: services.give_opinion(classification, request.user, data["opinion"], data["comment"]),
        )
        return self._answer(classification)

    @extend_schema(
        summary=_("Take a workflow step"),
        description=format_lazy(
            "{} {}",
            _(
                "One step of the classification workflow (the TRANSITIONS table of the pages): submit, opinion, "
                "resubmit, forward, approve, return, withdraw, stop_order, request_acceptance, accept, "
                "fail_acceptance or reopen, with a comment. A step your role, region or the current state does not "
                "allow is refused with the reason in Chinese and English."
            ),
            WRITE_NOTE,
        ),
        request=StepInputSerializer,
        responses={200: ClassificationSerializer, **_write_errors(400, 409)},
    )
    @action(detail=True, methods=["post"])
    def steps(self, request, *args, **kwargs):
        classification = self.get_object()
        entry = StepInputSerializer(data=request.data)
        entry.is_valid(raise_exception=True)
        data = entry.validated_data
        checked(
            Classification,
            classification.pk,
            self.expected_version(),
            lambda: _take_step(classification, request.user, data),
        )
        return self._answer(classification)


#: Steps whose service takes only (classification, actor, comment).
_COMMENT_STEPS = {
    StepAction.SUBMIT: services.submit_classification,
    StepAction.RESUBMIT: services.resubmit_classification,
    StepAction.FORWARD: services.forward_to_city,
    StepAction.APPROVE: services.approve_classification,
    StepAction.WITHDRAW: services.withdraw_classification,
    StepAction.REQUEST_ACCEPTANCE: services.request_acceptance,
    StepAction.ACCEPT: services.accept_classification,
}


def _take_step(classification, actor, data):
    step, comment = data["action"], data.get("comment", "")
    if step == StepAction.OPINION:
        if not data.get("opinion"):
            raise ValidationError(
                {"opinion": ValidationError(_("Choose agree, agree_with_changes or disagree."), code="required")}
            )
        return services.give_opinion(classification, actor, data["opinion"], comment)
    if step == StepAction.RETURN:
        return services.return_to_county(classification, actor, comment)
    if step == StepAction.REOPEN:
        return services.reopen_classification(classification, actor, reason=comment)
    if step == StepAction.STOP_ORDER:
        return services.record_stop_order(classification, actor, data.get("stop_order_on"), comment)
    if step == StepAction.FAIL_ACCEPTANCE:
        return services.fail_acceptance(classification, actor, reasons=comment, failed_items=data.get("failed_items"))
    return _COMMENT_STEPS[step](classification, actor, comment=comment)


@extend_schema_view(
    list=extend_schema(
        summary=_("List tasks"),
        description=format_lazy(
            "{} {}",
            _(
                "The tasks (措施) of the rectification plans in your region with lead unit, deadline, status and "
                "evidence files; overdue tasks are marked by the daily deadline check."
            ),
            SYNC_NOTE,
        ),
    ),
    retrieve=extend_schema(summary=_("One task, by id")),
    deleted=extend_schema(
        summary=_("Deleted tasks (tombstones)"),
        description=_(
            "Tasks deleted after updated_since, cursor-paged like the sync. Tasks deleted with their enterprise "
            "come with the enterprise's own tombstone: drop its classifications and tasks with it."
        ),
    ),
)
class TaskViewSet(DeletedRecordsMixin, RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Task.objects.all()
    serializer_class = TaskSerializer
    filterset_class = TaskApiFilterSet
    service_field_names = {"file": "evidence"}
    tombstones = TombstoneSource(
        Task,
        key_field="description",
        region_path=_task_region_path,
        tracks_moves=False,
    )
    tombstone_serializer_class = tombstone_serializer("TaskTombstone", "description", _("What the task was."))

    def decorate_queryset(self, queryset):
        evidence = TaskEvidence.objects.select_related("uploaded_by").order_by("uploaded_at", "id")
        return queryset.select_related(
            "plan__classification__enterprise__township",
            "plan__classification__campaign",
            "lead_department",
            "lead_region",
            "done_by",
            "verified_by",
        ).prefetch_related(Prefetch("evidence", queryset=evidence))

    def get_serializer_class(self):
        if self.action == "done":
            return TaskDoneSerializer
        return super().get_serializer_class()

    @extend_schema(
        summary=_("Mark a task done, with evidence"),
        description=format_lazy(
            "{} {}",
            _(
                "Report the task done on completed_on with a note and evidence files (multipart/form-data; JSON "
                "without files works too). Every file is checked (type by extension and content, size) before any "
                "is stored. The county or city verifies it afterwards."
            ),
            WRITE_NOTE,
        ),
        request={"multipart/form-data": TaskDoneSerializer, "application/json": TaskDoneSerializer},
        responses={200: TaskSerializer, **_write_errors(400, 409)},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser])
    def done(self, request, *args, **kwargs):
        task = self.get_object()
        entry = TaskDoneSerializer(data=request.data)
        entry.is_valid(raise_exception=True)
        data = entry.validated_data
        checked(
            Task,
            task.pk,
            self.expected_version(),
            lambda: services.mark_task_done(
                task, request.user, data["completed_on"], note=data["note"], evidence=data["evidence"]
            ),
        )
        fresh = self.get_queryset().get(pk=task.pk)
        response = Response(TaskSerializer(fresh, context=self.get_serializer_context()).data)
        response["ETag"] = f'"{fresh.version}"'
        return response
