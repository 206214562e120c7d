from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from core.history import HistoryManager
from regions.scoping import RegionScopedQuerySet

from .choices import (
    AutomationStatus,
    EnterpriseKind,
    EnterpriseSize,
    ExposedPopulation,
    HazardLevel,
    HazardUnitKind,
    OperatingStatus,
    PermitKind,
    ProcessMode,
    SubstanceForm,
    Tier,
)
from .validators import validate_uscc


class KeyHazardousProcess(models.Model):
    """One of the 18 key supervised hazardous chemical processes (重点监管危险化工工艺)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=80)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order"]
        verbose_name = _("key hazardous process")
        verbose_name_plural = _("key hazardous processes")

    def __str__(self):
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "").startswith("en") else self.name


class EnterpriseQuerySet(RegionScopedQuerySet):
    region_lookup = "township"


class Enterprise(models.Model):
    """一企一档: the dossier of one chemical enterprise, keyed by its unified social credit code."""

    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        unique=True,
        validators=[validate_uscc],
        help_text=_("18 characters, GB 32100-2015; full-width characters and spaces are corrected automatically."),
    )
    name = models.CharField(_("enterprise name"), max_length=200, db_index=True)
    legal_representative = models.CharField(_("legal representative"), max_length=50, blank=True)
    contact_person = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    township = models.ForeignKey(
        "regions.Region", verbose_name=_("township"), on_delete=models.PROTECT, related_name="enterprises"
    )
    park = models.ForeignKey(
        "parks.ChemicalPark",
        verbose_name=_("chemical park"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enterprises",
        help_text=_("Leave empty for an enterprise outside any park."),
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(73), MaxValueValidator(136)],
    )
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=8,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(3), MaxValueValidator(54)],
    )
    industry_code = models.CharField(
        _("industry code"),
        max_length=8,
        blank=True,
        help_text=_("GB/T 4754 national economic industry code, e.g. C2614."),
    )
    kind = models.CharField(
        pgettext_lazy("enterprise", "kind"),
        max_length=16,
        choices=EnterpriseKind.choices,
        default=EnterpriseKind.PRODUCTION,
    )
    size = models.CharField(_("size"), max_length=8, choices=EnterpriseSize.choices, blank=True)
    annual_sales = models.DecimalField(
        _("yearly invoiced sales (10,000 yuan)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    staff_count = models.PositiveIntegerField(_("staff"), null=True, blank=True)
    main_products = models.TextField(_("main products"), blank=True)
    process_mode = models.CharField(_("process mode"), max_length=16, choices=ProcessMode.choices, blank=True)
    key_processes = models.ManyToManyField(
        KeyHazardousProcess, verbose_name=_("key hazardous processes"), blank=True, related_name="enterprises"
    )
    automation_status = models.CharField(
        _("automation retrofit"), max_length=16, choices=AutomationStatus.choices, default=AutomationStatus.NOT_REQUIRED
    )
    near_protected_river = models.BooleanField(_("within 1 km of a protected river or canal"), default=False)
    in_dense_urban_area = models.BooleanField(_("in a densely populated urban area"), default=False)
    in_ecological_redline = models.BooleanField(
        _("in an ecological red line or water-source protection zone"), default=False
    )
    status = models.CharField(
        _("operating status"), max_length=16, choices=OperatingStatus.choices, default=OperatingStatus.OPERATING
    )
    note = models.TextField(_("note"), blank=True)
    # Set by the deadline check (flag_expired_permits) the day a current permit is first seen expired;
    # cleared when the permit is renewed. Derived from the permits, so kept out of the change history.
    permit_expired_since = models.DateField(_("permit expired since"), null=True, blank=True, editable=False)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    #: Optimistic concurrency (API ETag): raised by the services on every change of this record as shown.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    history = HistoricalRecords(
        excluded_fields=["updated_at", "version", "permit_expired_since"],
        m2m_fields=[key_processes],
        history_manager=HistoryManager,
    )
    objects = EnterpriseQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        indexes = [models.Index(fields=["status", "kind"], name="enterprise_status_kind")]

    def __str__(self):
        return self.name

    @property
    def in_park(self) -> bool:
        return self.park_id is not None


class EnterpriseChildQuerySet(RegionScopedQuerySet):
    region_lookup = "enterprise__township"


class Permit(models.Model):
    """A permit or approval (手续) held by an enterprise; missing or expired ones are grounds for closure."""

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="permits"
    )
    kind = models.CharField(_("permit kind"), max_length=24, choices=PermitKind.choices)
    number = models.CharField(_("number"), max_length=100)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    expires_on = models.DateField(_("expires on"), null=True, blank=True, db_index=True)
    note = models.CharField(_("note"), max_length=255, blank=True)

    history = HistoricalRecords()
    objects = EnterpriseChildQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "-expires_on"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "kind", "number"], name="permit_unique_number"),
            models.CheckConstraint(
                condition=models.Q(expires_on__isnull=True)
                | models.Q(issued_on__isnull=True)
                | models.Q(expires_on__gte=models.F("issued_on")),
                name="permit_expires_after_issue",
            ),
        ]
        verbose_name = _("permit")
        verbose_name_plural = _("permits")

    def __str__(self):
        return f"{self.get_kind_display()} {self.number}"


class YearlyTier(models.Model):
    """分档认定: the tier a retained production enterprise is rated for one year."""

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="tiers"
    )
    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices)
    note = models.CharField(_("note"), max_length=255, blank=True)

    history = HistoricalRecords()
    objects = EnterpriseChildQuerySet.as_manager()

    class Meta:
        ordering = ["enterprise", "-year"]
        constraints = [models.UniqueConstraint(fields=["enterprise", "year"], name="tier_unique_year")]
        verbose_name = _("yearly tier")
        verbose_name_plural = _("yearly tiers")

    def __str__(self):
        return f"{self.year} {self.get_tier_display()}"


class HazardCategory(models.Model):
    """A hazard category of GB 18218-2018 表2 (Q for substances not in 表1) with its β of 表4."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    hazard_class = models.CharField(_("hazard class"), max_length=50)
    description = models.CharField(_("description"), max_length=200)
    threshold_t = models.DecimalField(_("critical quantity Q (t)"), max_digits=10, decimal_places=3)
    beta = models.DecimalField(_("correction factor β"), max_digits=5, decimal_places=2)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order"]
        verbose_name = _("hazard category (GB 18218 表2/表4)")
        verbose_name_plural = _("hazard categories (GB 18218 表2/表4)")

    def __str__(self):
        return f"{self.code} {self.hazard_class}：{self.description}"


class HazardousChemical(models.Model):
    """A substance named by GB 18218-2018: an entry of 表1 (with its Q), or a toxic gas of 表3 that 表1 does
    not list (Q from 表2 by category). Loaded from enterprises/standards/gb18218_2018.py by migrations."""

    entry_no = models.PositiveSmallIntegerField(
        _("表1 entry"),
        null=True,
        blank=True,
        unique=True,
        help_text=_("Its number in 表1; empty for a 表3 gas 表1 does not list."),
    )
    name = models.CharField(_("chemical"), max_length=200)
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    cas = models.CharField(_("CAS number"), max_length=20, blank=True, help_text=_("The first CAS number given."))
    cas_numbers = models.JSONField(_("CAS numbers"), default=list, blank=True)
    threshold_t = models.DecimalField(
        _("critical quantity Q (t)"),
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("From 表1; empty when Q comes from 表2 by hazard category."),
    )
    table3_beta = models.DecimalField(
        _("β of 表3"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("For the toxic gases 表3 names; empty when β comes from 表4 by hazard category."),
    )
    form = models.CharField(_("physical form"), max_length=8, choices=SubstanceForm.choices, blank=True)
    categories = models.JSONField(
        _("hazard categories"),
        default=list,
        blank=True,
        help_text=_("The register's classification in 表2's codes (after the 2015 catalogue of hazardous chemicals)."),
    )
    clause = models.CharField(_("clause"), max_length=120, blank=True)

    class Meta:
        ordering = [models.F("entry_no").asc(nulls_last=True), "name"]
        verbose_name = _("hazardous chemical (GB 18218)")
        verbose_name_plural = _("hazardous chemicals (GB 18218)")

    def __str__(self):
        label = f"表1-{self.entry_no} {self.name}" if self.entry_no else f"表3 {self.name}"
        return f"{label} ({self.cas})" if self.cas else label


class MajorHazardSource(models.Model):
    """重大危险源 (GB 18218-2018): a unit whose inventory reaches the thresholds."""

    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("enterprise"), on_delete=models.CASCADE, related_name="hazard_sources"
    )
    name = models.CharField(_("unit name"), max_length=100)
    unit_kind = models.CharField(_("unit kind"), max_length=16, choices=HazardUnitKind.choices)
    exposed_population = models.CharField(
        _("people within 500 m of the plant boundary"),
        max_length=16,
        choices=ExposedPopulation.choices,
        blank=True,
        help_text=_("GB 18218-2018 表5 (α). Left empty, the level cannot be computed."),
    )
    declared_level = models.PositiveSmallIntegerField(
        _("filed level"), choices=HazardLevel.choices, null=True, blank=True, help_text=_("The level on the filing.")
    )
    computed_level = models.PositiveSmallIntegerField(
        _("computed level"), choices=HazardLevel.choices, null=True, blank=True, editable=False
    )
    r_value = models.DecimalField(_("R value"), max_digits=16, decimal_places=6, null=True, blank=True, editable=False)
    s_value = models.DecimalField(_("S value"), max_digits=16, decimal_places=6, null=True, blank=True, editable=False)
    #: S ≥ 1 by its inventory; None while the inventory cannot tell (a line's Q unknown and the known part < 1).
    is_major = models.BooleanField(_("major hazard source by its inventory"), null=True, editable=False)
    #: Toxic gases, highly toxic liquids or flammable gases in its inventory (GB 18218 表3 and categories).
    holds_shutoff_substances = models.BooleanField(
        _("inventory holds toxic gases, highly toxic liquids or flammable gases"), default=False, editable=False
    )
    has_toxic_or_flammable_gas = models.BooleanField(
        _("holds toxic gases, highly toxic liquids or flammable gases"),
        default=False,
        help_text=_("Tick it when the inventory cannot show it (e.g. a highly toxic liquid entered by category)."),
    )
    automated_monitoring = models.BooleanField(_("automated monitoring"), default=False)
    video_to_park = models.BooleanField(_("video transmitted to the park's monitoring system"), default=False)
    emergency_shutoff = models.BooleanField(_("emergency shut-off"), default=False)
    online_monitoring = models.BooleanField(_("connected to online monitoring"), default=False)
    filing_number = models.CharField(_("filing number"), max_length=100, blank=True)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    #: Optimistic concurrency (API ETag): raised by the services on every change of this record as shown.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    history = HistoricalRecords(excluded_fields=["updated_at", "version"])
    objects = EnterpriseChildQuerySet.as_manager()

    class Meta:
        ordering = ["enterprise", "name"]
        verbose_name = _("major hazard source")
        verbose_name_plural = _("major hazard sources")

    def __str__(self):
        return self.name

    @property
    def level(self):
        """The level: computed from the inventory (GB 18218-2018), never the filed one."""
        return self.computed_level

    @property
    def needs_emergency_shutoff(self) -> bool:
        return self.holds_shutoff_substances or self.has_toxic_or_flammable_gas


class HazardInventoryLineQuerySet(RegionScopedQuerySet):
    region_lookup = "hazard_source__enterprise__township"


class HazardInventoryLine(models.Model):
    """One substance held in a hazard source: its maximum quantity q, and the Q and β the standard gives it."""

    hazard_source = models.ForeignKey(
        MajorHazardSource, verbose_name=_("hazard source"), on_delete=models.CASCADE, related_name="inventory"
    )
    chemical = models.ForeignKey(
        HazardousChemical,
        verbose_name=_("GB 18218 substance"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty for a substance neither 表1 nor 表3 names: its categories then give Q and β."),
    )
    chemical_name = models.CharField(_("chemical"), max_length=200)
    cas = models.CharField(_("CAS number"), max_length=20, blank=True)
    categories = models.CharField(
        _("hazard categories"),
        max_length=60,
        blank=True,
        help_text=_("表2 codes, e.g. W2 or W5.3,J5: needed for a substance not in 表1 or 表3."),
    )
    max_quantity_t = models.DecimalField(
        _("maximum quantity (t)"), max_digits=12, decimal_places=3, validators=[MinValueValidator(0)]
    )
    threshold_t = models.DecimalField(
        _("critical quantity Q (t)"), max_digits=10, decimal_places=3, null=True, blank=True, editable=False
    )
    beta = models.DecimalField(
        _("correction factor β"), max_digits=5, decimal_places=2, null=True, blank=True, editable=False
    )

    history = HistoricalRecords()
    objects = HazardInventoryLineQuerySet.as_manager()

    class Meta:
        ordering = ["hazard_source", "id"]
        verbose_name = _("inventory line")
        verbose_name_plural = _("inventory lines")

    def __str__(self):
        return f"{self.chemical_name} {self.max_quantity_t} t"
