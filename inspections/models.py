"""Surveys (摸排), inspections (检查) and their findings (问题/隐患) with the closed loop to 销号."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from core.history import HistoryManager
from core.models import Versioned
from core.uploads import EvidencePath
from enterprises.choices import HazardDuty
from regions.scoping import RegionScopedQuerySet

from .choices import (
    SHUTDOWN_CHECK_CHOICES,
    AccessArea,
    EvidenceStage,
    FindingStatus,
    InspectionKind,
    InspectionResult,
    InspectionStatus,
    Severity,
    SurveySource,
)


class EnterpriseOrParkQuerySet(RegionScopedQuerySet):
    """Rows that lie in a region through their enterprise or, for park-targeted ones, their park.

    `target_prefix` is the path from this model to the row holding the enterprise/park pair
    ("" for the row itself, "inspection__" for an attachment, ...).
    """

    target_prefix = ""
    # Read attribute by attribute (core.admin.region_of) through the models' `township` property;
    # filtering never uses it, in_region below does.
    region_lookup = "township"

    def in_region(self, region):
        prefix = self.target_prefix
        return self.filter(
            Q(**{f"{prefix}enterprise__township__path__startswith": region.path})
            | Q(**{f"{prefix}park__township__path__startswith": region.path})
        )


def _exactly_one_target(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(enterprise__isnull=False, park__isnull=True) | Q(enterprise__isnull=True, park__isnull=False),
        name=name,
    )


class UploadedFileFields(models.Model):
    """What every stored evidence file keeps besides the file itself."""

    file = models.FileField(_("file"), max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    file_kind = models.CharField(_("file type"), max_length=16, editable=False)
    size = models.PositiveBigIntegerField(_("size (bytes)"), editable=False)
    description = models.CharField(_("description"), max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self):
        return self.original_name


# --- Surveys -------------------------------------------------------------------------------


class SurveyQuerySet(RegionScopedQuerySet):
    region_lookup = "enterprise__township"


class Survey(models.Model):
    """摸排: one enterprise checked against the eight access requirements, once per campaign."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="surveys"
    )
    campaign = models.ForeignKey(
        "rectification.Campaign", verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="surveys"
    )
    surveyed_on = models.DateField(_("surveyed on"))
    surveyed_by = models.CharField(_("surveyed by"), max_length=200, blank=True, help_text=_("Names of the surveyors."))
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(
        _("recorded through"), max_length=16, choices=SurveySource.choices, default=SurveySource.BROWSER
    )
    #: The roster import that first recorded the enterprise as surveyed (kept when a survey of the eight
    #: requirements supersedes it). A string reference: imports depends on inspections, not the reverse.
    roster_import = models.ForeignKey(
        "imports.RosterImport",
        verbose_name=_("roster import"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="surveys",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = SurveyQuerySet.as_manager()

    class Meta:
        ordering = ["-surveyed_on", "-id"]
        constraints = [models.UniqueConstraint(fields=["enterprise", "campaign"], name="survey_once_per_campaign")]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")

    def __str__(self):
        return f"{self.enterprise} · {self.campaign}"

    @property
    def from_roster_import(self) -> bool:
        """Recorded by a roster import only: counted as surveyed, the eight requirements not recorded yet."""
        return self.source == SurveySource.ROSTER_IMPORT


class SurveyItemQuerySet(RegionScopedQuerySet):
    region_lookup = "survey__enterprise__township"


class SurveyItem(models.Model):
    """One access requirement of a survey: conforming or not, with a note."""

    survey = models.ForeignKey(Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="items")
    area = models.CharField(_("access requirement"), max_length=32, choices=AccessArea.choices)
    conforming = models.BooleanField(_("conforming"))
    note = models.TextField(_("note"), blank=True)

    history = HistoricalRecords()
    objects = SurveyItemQuerySet.as_manager()

    class Meta:
        ordering = ["survey", "id"]
        constraints = [models.UniqueConstraint(fields=["survey", "area"], name="survey_item_once_per_area")]
        verbose_name = _("survey item")
        verbose_name_plural = _("survey items")

    def __str__(self):
        return self.get_area_display()


# --- Inspections ---------------------------------------------------------------------------


class InspectionQuerySet(EnterpriseOrParkQuerySet):
    def planned(self):
        return self.filter(status=InspectionStatus.PLANNED)

    def done(self):
        return self.filter(status=InspectionStatus.DONE)


class Inspection(Versioned):
    """检查: one visit to an enterprise or a park, planned or carried out, with its result."""

    kind = models.CharField(pgettext_lazy("inspection", "kind"), max_length=24, choices=InspectionKind.choices)
    status = models.CharField(
        pgettext_lazy("inspection", "status"),
        max_length=16,
        choices=InspectionStatus.choices,
        default=InspectionStatus.DONE,
    )
    planned_on = models.DateField(
        _("to be carried out by"), null=True, blank=True, help_text=_("For a planned inspection.")
    )
    inspected_on = models.DateField(_("inspected on"), null=True, blank=True, db_index=True)
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inspections",
    )
    park = models.ForeignKey(
        "parks.ChemicalPark",
        verbose_name=_("chemical park"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inspections",
    )
    classification = models.ForeignKey(
        "rectification.Classification",
        verbose_name=_("classification"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="inspections",
        help_text=_("The classification an acceptance check decides on."),
    )
    departments = models.ManyToManyField(
        "accounts.Department", verbose_name=_("departments"), blank=True, related_name="inspections"
    )
    inspectors = models.CharField(_("inspectors"), max_length=255, blank=True)
    result = models.CharField(_("result"), max_length=24, choices=InspectionResult.choices, blank=True)
    result_note = models.TextField(_("result note"), blank=True)
    # A 回头看 drawn in the quarterly sample names the quarter (its first day): one per enterprise and quarter.
    sample_quarter = models.DateField(_("sampled for quarter"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(
        excluded_fields=["updated_at", "version"], m2m_fields=[departments], history_manager=HistoryManager
    )
    objects = InspectionQuerySet.as_manager()

    class Meta:
        ordering = ["-inspected_on", "-planned_on", "-id"]
        constraints = [
            _exactly_one_target("inspection_one_target"),
            models.CheckConstraint(
                condition=Q(status=InspectionStatus.PLANNED, planned_on__isnull=False)
                | (Q(status=InspectionStatus.DONE, inspected_on__isnull=False) & ~Q(result="")),
                name="inspection_planned_or_done",
            ),
            models.UniqueConstraint(
                fields=["enterprise", "sample_quarter"],
                condition=Q(sample_quarter__isnull=False),
                name="inspection_one_sample_per_quarter",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "status"], name="inspection_kind_status"),
            models.Index(fields=["updated_at", "id"], name="inspection_sync"),  # the API's sync order
        ]
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")

    def __str__(self):
        when = self.inspected_on or self.planned_on
        return f"{self.get_kind_display()} {when:%Y-%m-%d}" if when else str(self.get_kind_display())

    @property
    def target(self):
        return self.enterprise if self.enterprise_id else self.park

    @property
    def township(self):
        return self.target.township

    @property
    def is_planned(self) -> bool:
        return self.status == InspectionStatus.PLANNED


class InspectionChildQuerySet(EnterpriseOrParkQuerySet):
    target_prefix = "inspection__"
    region_lookup = "inspection__township"


class InspectionAttachment(UploadedFileFields):
    inspection = models.ForeignKey(
        Inspection, verbose_name=_("inspection"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), max_length=255, upload_to=EvidencePath("inspections"))

    objects = InspectionChildQuerySet.as_manager()

    class Meta:
        ordering = ["inspection", "id"]
        verbose_name = _("inspection attachment")
        verbose_name_plural = _("inspection attachments")


class AcceptanceCheckItem(models.Model):
    """One 两断三清 item checked at the acceptance of a shutdown."""

    inspection = models.ForeignKey(
        Inspection, verbose_name=_("inspection"), on_delete=models.CASCADE, related_name="check_items"
    )
    item = models.CharField(_("item"), max_length=24, choices=SHUTDOWN_CHECK_CHOICES)
    passed = models.BooleanField(_("passed"))
    note = models.CharField(_("note"), max_length=500, blank=True)

    objects = InspectionChildQuerySet.as_manager()

    class Meta:
        ordering = ["inspection", "id"]
        constraints = [models.UniqueConstraint(fields=["inspection", "item"], name="acceptance_item_once")]
        verbose_name = _("acceptance check item")
        verbose_name_plural = _("acceptance check items")

    def __str__(self):
        return self.get_item_display()


# --- Findings ------------------------------------------------------------------------------


class FindingQuerySet(EnterpriseOrParkQuerySet):
    pass


class Finding(Versioned):
    """问题/隐患: a problem found by a survey or an inspection, followed until verified and closed (销号)."""

    inspection = models.ForeignKey(
        Inspection,
        verbose_name=_("inspection"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
    )
    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
    )
    park = models.ForeignKey(
        "parks.ChemicalPark",
        verbose_name=_("chemical park"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
    )
    area = models.CharField(_("access requirement"), max_length=32, choices=AccessArea.choices)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices, default=Severity.GENERAL)
    description = models.TextField(_("description"))
    legal_basis = models.TextField(_("legal basis"), blank=True)
    responsible_unit = models.CharField(_("responsible unit"), max_length=200, blank=True)
    responsible_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("responsible department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="findings",
        help_text=_("When the responsible unit is a department, its users are notified of the deadline."),
    )
    deadline = models.DateField(_("deadline"), null=True, blank=True, db_index=True)
    status = models.CharField(
        pgettext_lazy("finding", "status"), max_length=24, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    # A breach of a major hazard source's duty found by the daily check (record_hazard_duty_findings): one
    # unclosed finding per source and duty at most.
    hazard_source = models.ForeignKey(
        "enterprises.MajorHazardSource",
        verbose_name=_("major hazard source"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="findings",
        editable=False,
    )
    hazard_duty = models.CharField(
        _("major hazard source duty"), max_length=16, choices=HazardDuty.choices, blank=True, editable=False
    )
    # Set by the deadline check (mark_overdue_findings) the day the finding is first seen overdue.
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True, editable=False)

    fixed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("fix reported by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    fixed_at = models.DateTimeField(_("fix reported at"), null=True, blank=True)
    fix_note = models.TextField(_("fix note"), blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verification_note = models.TextField(_("verification note"), blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["updated_at", "version"])
    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            _exactly_one_target("finding_one_target"),
            # 完成一项、销号一项: whoever reported the fix cannot be the one who verifies it.
            models.CheckConstraint(
                condition=Q(verified_by__isnull=True) | Q(fixed_by__isnull=True) | ~Q(verified_by=F("fixed_by")),
                name="finding_verified_by_another",
            ),
            models.CheckConstraint(
                condition=~Q(status=FindingStatus.CLOSED) | Q(verified_by__isnull=False),
                name="finding_closed_only_verified",
            ),
            # Not recorded again while the one recorded for the same breach is not closed.
            models.UniqueConstraint(
                fields=["hazard_source", "hazard_duty"],
                condition=Q(hazard_source__isnull=False) & ~Q(status=FindingStatus.CLOSED),
                name="finding_one_open_per_hazard_duty",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "deadline"], name="finding_status_deadline"),
            models.Index(fields=["updated_at", "id"], name="finding_sync"),  # the API's sync order
        ]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self):
        return f"{self.get_area_display()}: {self.description[:40]}"

    @property
    def target(self):
        return self.enterprise if self.enterprise_id else self.park

    @property
    def township(self):
        return self.target.township


class FindingChildQuerySet(EnterpriseOrParkQuerySet):
    target_prefix = "finding__"
    region_lookup = "finding__township"


class FindingEvidence(UploadedFileFields):
    finding = models.ForeignKey(Finding, verbose_name=_("finding"), on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(_("file"), max_length=255, upload_to=EvidencePath("findings"))
    stage = models.CharField(_("stage"), max_length=16, choices=EvidenceStage.choices, default=EvidenceStage.FOUND)

    objects = FindingChildQuerySet.as_manager()

    class Meta:
        ordering = ["finding", "id"]
        verbose_name = _("finding evidence")
        verbose_name_plural = _("finding evidence")
