"""Campaigns, targets, the "四个一批" classification with its workflow steps, plans, tasks and evidence.

Every rule and transition lives in rectification.services; these models only hold the data and the
constraints the database itself can keep (one decision in force per enterprise and campaign, at most one
pending change, one opinion per department and round, one lead unit per task).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from core.models import Versioned
from core.uploads import EvidencePath
from regions.scoping import RegionScopedQuerySet, scope_region

from .choices import (
    FOUR_BATCHES,
    OPEN_PROPOSAL_STATES,
    CampaignKind,
    CampaignStatus,
    Category,
    ClassificationState,
    Opinion,
    StandardItem,
    StepAction,
    TaskStatus,
)


class VersionedModel(Versioned):
    """A record other systems sync and update: `version` grows on every save (optimistic concurrency)."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        abstract = True


# --- Campaigns and targets -----------------------------------------------------------------


class CampaignQuerySet(RegionScopedQuerySet):
    """Campaigns are city-wide: every user with a region sees all of them (their figures are scoped)."""

    region_lookup = None

    def in_region(self, region):
        return self.all()

    def visible_to(self, user):
        return self.all() if scope_region(user) is not None else self.none()

    def active(self):
        return self.filter(status=CampaignStatus.ACTIVE)


class Campaign(VersionedModel):
    """专项行动: a rectification campaign with a period and targets per region."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(
        pgettext_lazy("campaign", "kind"),
        max_length=24,
        choices=CampaignKind.choices,
        default=CampaignKind.FOUR_BATCHES,
    )
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    status = models.CharField(
        pgettext_lazy("campaign", "status"),
        max_length=16,
        choices=CampaignStatus.choices,
        default=CampaignStatus.ACTIVE,
    )
    description = models.TextField(_("description"), blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="campaign_period"),
        ]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self):
        return self.name

    @property
    def years(self) -> list[int]:
        return list(range(self.starts_on.year, self.ends_on.year + 1))


class TargetQuerySet(RegionScopedQuerySet):
    region_lookup = "region"


class Target(VersionedModel):
    """责任状: how many enterprises a region must shut down, relocate, upgrade and restructure in one year."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="targets")
    region = models.ForeignKey(
        "regions.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="rectification_targets"
    )
    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    shutdown = models.PositiveIntegerField(_("shut down"), default=0)
    relocate = models.PositiveIntegerField(_("relocate"), default=0)
    upgrade = models.PositiveIntegerField(_("upgrade"), default=0)
    restructure = models.PositiveIntegerField(_("restructure"), default=0)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = TargetQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "region__code", "year"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "region", "year"], name="target_unique_region_year"),
        ]
        verbose_name = pgettext_lazy("campaign", "target")
        verbose_name_plural = pgettext_lazy("campaign", "targets")

    def __str__(self):
        return f"{self.campaign} {self.region} {self.year}"

    def count_for(self, category: str) -> int:
        return getattr(self, category) if category in FOUR_BATCHES else 0


# --- Classification ------------------------------------------------------------------------


class ClassificationQuerySet(RegionScopedQuerySet):
    region_lookup = "enterprise__township"

    def current(self):
        """The decision in force (or the first proposal) of each enterprise and campaign."""
        return self.filter(is_current=True)

    def pending_changes(self):
        """Proposals to change a decision in force, still on their way through the workflow."""
        return self.filter(is_current=False, state__in=OPEN_PROPOSAL_STATES)


class Classification(VersionedModel):
    """四个一批: the disposition of one enterprise in one campaign, with its workflow state.

    A change of an approved category is a new row (`replaces` → the decision in force) going through the
    same workflow; when approved, the old row becomes `superseded` and stays, with its steps and plan, in
    the dossier's history.
    """

    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        on_delete=models.CASCADE,
        related_name="classifications",
    )
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="classifications"
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    destination_park = models.ForeignKey(
        "parks.ChemicalPark",
        verbose_name=_("destination park"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incoming_relocations",
        help_text=_("Relocation only: a recognised chemical park."),
    )
    absorbing_enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("absorbing enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="absorptions",
        help_text=_("Restructuring only: the enterprise that takes this one over."),
    )
    exclusion_reason = models.TextField(_("reason for exclusion"), blank=True)
    problems = models.TextField(_("problems found"), blank=True)
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    state = models.CharField(
        pgettext_lazy("classification", "state"),
        max_length=24,
        choices=ClassificationState.choices,
        default=ClassificationState.PROPOSED,
    )
    is_current = models.BooleanField(
        _("decision in force"),
        default=True,
        help_text=_("False for a pending change proposal and for withdrawn or superseded rows."),
    )
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("changes the decision"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="changes",
    )
    review_round = models.PositiveSmallIntegerField(_("pre-review round"), default=0)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    stop_order_on = models.DateField(_("stop order date"), null=True, blank=True)
    five_thorough_flagged_on = models.DateField(
        _("flagged for 五彻底 on"),
        null=True,
        blank=True,
        help_text=_("Set when a shutdown is not accepted one month after its stop order."),
    )

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = ClassificationQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "campaign"],
                condition=models.Q(is_current=True),
                name="classification_one_current",
            ),
            models.UniqueConstraint(
                fields=["enterprise", "campaign"],
                condition=models.Q(is_current=False, state__in=OPEN_PROPOSAL_STATES),
                name="classification_one_pending_change",
            ),
            models.CheckConstraint(
                condition=models.Q(destination_park__isnull=True) | models.Q(category=Category.RELOCATE),
                name="classification_park_only_relocate",
            ),
            models.CheckConstraint(
                condition=models.Q(absorbing_enterprise__isnull=True) | models.Q(category=Category.RESTRUCTURE),
                name="classification_absorber_only_restructure",
            ),
        ]
        indexes = [
            models.Index(fields=["state"], name="classification_state"),
            models.Index(fields=["campaign", "category"], name="classification_campaign_cat"),
            models.Index(fields=["campaign", "state"], name="classification_campaign_state"),
            # The API's incremental sync pages by (updated_at, id).
            models.Index(fields=["updated_at", "id"], name="classification_sync"),
        ]
        verbose_name = _("classification")
        verbose_name_plural = _("classifications")

    def __str__(self):
        return f"{self.enterprise} · {self.campaign} · {self.get_category_display()}"

    @property
    def is_change_request(self) -> bool:
        return self.replaces_id is not None

    @property
    def has_plan(self) -> bool:
        return self.category in FOUR_BATCHES

    @property
    def takes_deadline(self) -> bool:
        """An exclusion (剔除) takes the enterprise out of the campaign's scope: it has no deadline."""
        return self.category != Category.EXCLUDED


class ClassificationStepQuerySet(RegionScopedQuerySet):
    region_lookup = "classification__enterprise__township"


class ClassificationStep(models.Model):
    """One step of the workflow: who did what, when, from which state to which, and why (the dossier timeline)."""

    classification = models.ForeignKey(
        Classification, verbose_name=_("classification"), on_delete=models.CASCADE, related_name="steps"
    )
    action = models.CharField(_("action"), max_length=24, choices=StepAction.choices)
    from_state = models.CharField(_("from state"), max_length=24, choices=ClassificationState.choices, blank=True)
    to_state = models.CharField(_("to state"), max_length=24, choices=ClassificationState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="classification_steps",
        help_text=_("Empty for steps taken by the system (deadline checks)."),
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="classification_steps",
    )
    review_round = models.PositiveSmallIntegerField(_("pre-review round"), default=0)
    opinion = models.CharField(
        pgettext_lazy("pre-review", "opinion"), max_length=24, choices=Opinion.choices, blank=True
    )
    comment = models.TextField(_("comment"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

    objects = ClassificationStepQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["classification", "review_round", "department"],
                condition=models.Q(action=StepAction.OPINION),
                name="classification_one_opinion_per_round",
            ),
        ]
        verbose_name = _("workflow step")
        verbose_name_plural = _("workflow steps")

    def __str__(self):
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"


# --- Plans, tasks and evidence -------------------------------------------------------------


class PlanQuerySet(RegionScopedQuerySet):
    region_lookup = "classification__enterprise__township"


class Plan(VersionedModel):
    """整治方案: the plan of an approved classification, created with the standard tasks of its category."""

    classification = models.OneToOneField(
        Classification, verbose_name=_("classification"), on_delete=models.CASCADE, related_name="plan"
    )
    note = models.TextField(_("note"), blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = PlanQuerySet.as_manager()

    class Meta:
        verbose_name = _("rectification plan")
        verbose_name_plural = _("rectification plans")

    def __str__(self):
        return str(self.classification)


class TaskQuerySet(RegionScopedQuerySet):
    region_lookup = "plan__classification__enterprise__township"


class Task(VersionedModel):
    """One task (措施) of a plan with its lead unit, deadline and status; closed only after verification."""

    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="tasks")
    order = models.PositiveIntegerField(_("order"), default=0)
    standard_item = models.CharField(_("standard item"), max_length=32, choices=StandardItem.choices, blank=True)
    description = models.TextField(_("task"))
    lead_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("lead department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="led_tasks",
    )
    lead_region = models.ForeignKey(
        "regions.Region",
        verbose_name=_("lead government"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="led_tasks",
        help_text=_("A township or county government leading the task."),
    )
    cooperating_units = models.CharField(_("cooperating units"), max_length=255, blank=True)
    responsible_person = models.CharField(_("responsible person"), max_length=50, blank=True)
    deadline = models.DateField(_("deadline"))
    status = models.CharField(
        pgettext_lazy("task", "status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.NOT_STARTED
    )
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    note = models.TextField(_("completion note"), blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("marked done by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    done_at = models.DateTimeField(_("marked done at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lead_department__isnull=False, lead_region__isnull=True)
                | models.Q(lead_department__isnull=True, lead_region__isnull=False),
                name="task_one_lead_unit",
            ),
            models.UniqueConstraint(
                fields=["plan", "standard_item"],
                condition=~models.Q(standard_item=""),
                name="task_standard_item_once",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "deadline"], name="task_status_deadline"),
            # The API's incremental sync pages by (updated_at, id), also through thousands of tasks changed at once.
            models.Index(fields=["updated_at", "id"], name="task_sync"),
        ]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")

    def __str__(self):
        return self.description[:60]

    @property
    def lead_unit(self):
        """The department or government leading the task."""
        return self.lead_department or self.lead_region

    @property
    def is_standard(self) -> bool:
        return bool(self.standard_item)


class TaskEvidenceQuerySet(RegionScopedQuerySet):
    region_lookup = "task__plan__classification__enterprise__township"


class TaskEvidence(models.Model):
    """A file proving a task was done (photo, PDF, Office document)."""

    task = models.ForeignKey(Task, verbose_name=_("task"), on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(_("file"), upload_to=EvidencePath("evidence"), max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=100)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    objects = TaskEvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["task", "uploaded_at", "id"]
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")

    def __str__(self):
        return self.original_name


# --- Quarterly supervision report (季度督查通报) -------------------------------------------------


class ReportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Being built")
    DONE = "done", _("Ready")
    FAILED = "failed", pgettext_lazy("report", "Failed")


class SupervisionReportQuerySet(RegionScopedQuerySet):
    #: A report lies in its scope region: a county's users see their county's reports, not the city's.
    region_lookup = "region"


class SupervisionReport(models.Model):
    """One build of the quarterly supervision report of a campaign for a region: who asked, its progress,
    the workbook, and the figures it holds (the 通报 page is rendered from them)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="supervision_reports"
    )
    quarter = models.CharField(
        _("quarter"), max_length=6, help_text=_("Stored as a code, e.g. 2026Q3; shown as 2026年第三季度.")
    )
    region = models.ForeignKey(
        "regions.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="supervision_reports"
    )
    #: The notice (通报) as an official document: who issues it, its number (文号) and date.
    issuing_office = models.CharField(_("issuing office"), max_length=100, blank=True)
    document_number = models.CharField(
        _("document number"), max_length=50, blank=True, help_text=_("文号, e.g. 临化治办〔2026〕12号.")
    )
    issued_on = models.DateField(_("issue date"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty for reports built on the schedule."),
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now, db_index=True)
    status = models.CharField(
        pgettext_lazy("report", "status"), max_length=16, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    file = models.FileField(_("workbook"), upload_to="reports/%Y/", max_length=255, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    #: Bumped by every write, also the worker's set-based progress updates (the API's incremental sync).
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SupervisionReportQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["updated_at", "id"], name="supervision_report_sync")]  # the API's sync order
        verbose_name = _("quarterly supervision report")
        verbose_name_plural = _("quarterly supervision reports")

    def __str__(self):
        return f"{self.region} {self.campaign} {self.quarter_label}"

    @property
    def quarter_label(self) -> str:
        """The quarter as people read it: 2026年第三季度."""
        from .quarters import quarter_label

        return quarter_label(self.quarter)
