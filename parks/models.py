from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from regions.scoping import RegionScopedQuerySet

from .choices import ParkLevel, RecognitionStatus


class ChemicalParkQuerySet(RegionScopedQuerySet):
    region_lookup = "township"

    def recognised(self):
        return self.filter(recognition_status=RecognitionStatus.RECOGNISED)


class ChemicalPark(models.Model):
    """一园一档: the dossier of one chemical park or cluster."""

    code = models.CharField(_("park code"), max_length=32, unique=True)
    name = models.CharField(_("park name"), max_length=100)
    township = models.ForeignKey(
        "regions.Region", verbose_name=_("township"), on_delete=models.PROTECT, related_name="parks"
    )
    level = models.CharField(pgettext_lazy("park", "level"), max_length=16, choices=ParkLevel.choices)
    recognition_status = models.CharField(
        _("recognition status"), max_length=16, choices=RecognitionStatus.choices, default=RecognitionStatus.PENDING
    )
    area_km2 = models.DecimalField(
        _("planned area (km²)"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    industry_positioning = models.TextField(_("industry positioning"), blank=True)

    # Infrastructure checklist.
    central_wastewater_treatment = models.BooleanField(_("central wastewater treatment plant"), default=False)
    wastewater_open_pipes_monitored = models.BooleanField(
        _("wastewater in open pipes with online monitors"), default=False
    )
    single_discharge_outlet = models.BooleanField(_("a single discharge outlet"), default=False)
    central_heating = models.BooleanField(_("central heating"), default=False)
    hazardous_waste_disposal = models.BooleanField(_("hazardous-waste incineration or landfill"), default=False)
    monitoring_centre = models.BooleanField(_("online monitoring centre"), default=False)
    closed_management = models.BooleanField(_("closed-off management"), default=False)
    fire_station = models.BooleanField(_("special fire station"), default=False)
    emergency_command_platform = models.BooleanField(_("emergency command platform"), default=False)

    last_risk_assessment_on = models.DateField(_("last overall safety-risk assessment"), null=True, blank=True)
    # Set by the deadline check (flag_overdue_risk_assessments) the day the assessment is first seen overdue
    # (missing or older than RISK_ASSESSMENT_VALID_YEARS); cleared by a new assessment. Not in the history.
    risk_assessment_overdue_since = models.DateField(
        _("risk assessment overdue since"), null=True, blank=True, editable=False
    )
    protection_zone_residents_to_relocate = models.PositiveIntegerField(
        _("residents still to relocate from the 500 m protection zone"), default=0
    )
    protection_zone_note = models.TextField(_("health-protection zone note"), blank=True)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    #: Optimistic concurrency (API ETag): raised by the services on every change of this record as shown.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    history = HistoricalRecords(excluded_fields=["updated_at", "version", "risk_assessment_overdue_since"])
    objects = ChemicalParkQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("chemical park")
        verbose_name_plural = _("chemical parks")

    def __str__(self):
        return self.name


def _score_field(label):
    return models.DecimalField(
        label, max_digits=5, decimal_places=1, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )


class ParkEvaluationQuerySet(RegionScopedQuerySet):
    region_lookup = "park__township"


class ParkEvaluation(models.Model):
    """The yearly comprehensive evaluation of a park (scores out of 100)."""

    park = models.ForeignKey(ChemicalPark, verbose_name=_("park"), on_delete=models.CASCADE, related_name="evaluations")
    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    planning_score = _score_field(_("planning conformity"))
    management_score = _score_field(_("management"))
    industrial_chain_score = _score_field(_("industrial-chain completeness"))
    environment_score = _score_field(_("environmental quality"))
    satisfaction_score = _score_field(_("public satisfaction"))

    history = HistoricalRecords()
    objects = ParkEvaluationQuerySet.as_manager()

    class Meta:
        ordering = ["park", "-year"]
        constraints = [models.UniqueConstraint(fields=["park", "year"], name="park_evaluation_unique_year")]
        verbose_name = _("park evaluation")
        verbose_name_plural = _("park evaluations")

    def __str__(self):
        return f"{self.park} {self.year}"

    @property
    def average_score(self):
        scores = [
            self.planning_score,
            self.management_score,
            self.industrial_chain_score,
            self.environment_score,
            self.satisfaction_score,
        ]
        return round(sum(scores) / len(scores), 1)
