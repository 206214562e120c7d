"""Roster imports: every Excel roster a user uploaded, what its preview found and what its commit wrote."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.uploads import EvidencePath
from regions.scoping import RegionScopedQuerySet


class ImportStatus(models.TextChoices):
    PREVIEWING = "previewing", _("Reading the file")
    PREVIEWED = "previewed", _("Previewed, not imported")
    COMMITTING = "committing", _("Importing")
    COMMITTED = "committed", _("Imported")
    FAILED = "failed", pgettext_lazy("roster import", "Failed")
    # A commit refused because rows are in error: nothing was written, and the same import can still be confirmed
    # (only its valid rows, or all of them once the register is corrected).
    REFUSED = "refused", _("Not imported yet: rows in error")


STATUS_CSS = {
    ImportStatus.PREVIEWING: "text-bg-info",
    ImportStatus.PREVIEWED: "text-bg-primary",
    ImportStatus.COMMITTING: "text-bg-info",
    ImportStatus.COMMITTED: "text-bg-success",
    ImportStatus.FAILED: "text-bg-danger",
    ImportStatus.REFUSED: "text-bg-warning",
}

#: Statuses in which the worker is still busy with the import (the page polls its progress).
RUNNING_STATUSES = (ImportStatus.PREVIEWING, ImportStatus.COMMITTING)


class RowAction(models.TextChoices):
    CREATE = "create", _("New")
    UPDATE = "update", _("Changed")
    UNCHANGED = "unchanged", _("Unchanged")
    SKIPPED = "skipped", _("Skipped")
    ERROR = "error", _("Error")


class RosterImportQuerySet(RegionScopedQuerySet):
    region_lookup = "region"


class RosterImport(models.Model):
    """One uploaded roster: who, when, which file (kept), for which region and campaign, and the outcome."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("imported by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True, db_index=True)
    committed_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    # Stored under a generated name (imports/<yyyy>/<mm>/<random>.xlsx) and served only by a scoped view.
    file = models.FileField(_("file"), max_length=255, upload_to=EvidencePath("imports"))
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    #: Storage name of the rows as the preview read them (gzipped JSON): the commit does not parse the file again.
    parsed_name = models.CharField(max_length=255, blank=True, editable=False)
    region = models.ForeignKey(
        "regions.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="roster_imports"
    )
    campaign = models.ForeignKey(
        "rectification.Campaign", verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="roster_imports"
    )
    status = models.CharField(
        pgettext_lazy("roster import", "status"),
        max_length=16,
        choices=ImportStatus.choices,
        default=ImportStatus.PREVIEWING,
        db_index=True,
    )
    skip_errors = models.BooleanField(_("only the valid rows"), default=False)
    sheet_name = models.CharField(_("sheet"), max_length=100, blank=True)
    header_row = models.PositiveIntegerField(_("header row"), null=True, blank=True)
    #: Headers as written in the file that the importer does not read (shown, never silently ignored).
    ignored_columns = models.JSONField(_("columns not imported"), default=list, blank=True)

    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    created_count = models.PositiveIntegerField(_("new"), default=0)
    updated_count = models.PositiveIntegerField(_("changed"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    error_row_count = models.PositiveIntegerField(_("rows in error"), default=0)
    findings_count = models.PositiveIntegerField(_("new findings"), default=0)
    #: [{"row": n, "column": "header as written", "message": "..."}], in row order.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    #: Rows imported with something still missing (a proposal without its destination park, absorbing enterprise
    #: or reason for exclusion: needed before the county submits); same shape as errors. Never block a commit.
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    warning_row_count = models.PositiveIntegerField(_("rows with warnings"), default=0)
    #: Enterprises the import records as surveyed (摸排) in its campaign: those without a survey there yet.
    surveyed_count = models.PositiveIntegerField(_("recorded as surveyed"), default=0)
    #: Hash of the previewed changes: a commit that finds the same plan keeps the preview's row records.
    plan_digest = models.CharField(max_length=64, blank=True, editable=False)

    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    task_id = models.CharField(_("worker task"), max_length=64, blank=True)
    #: Why the whole file was refused or the import failed (unreadable file, refused commit, crash).
    message = models.TextField(_("message"), blank=True)
    #: Bumped by every write, also the set-based status and progress updates (the API's incremental sync).
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RosterImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["updated_at", "id"], name="roster_import_sync")]  # the API's sync order
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")

    def __str__(self):
        return f"#{self.pk} {self.file_name}"

    @property
    def reason(self) -> str:
        """The change reason written into the history of every record this import changes."""
        return f"导入 #{self.pk} {self.file_name}"

    @property
    def status_css(self) -> str:
        return STATUS_CSS.get(self.status, "text-bg-secondary")

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATUSES


class RosterImportRowQuerySet(RegionScopedQuerySet):
    region_lookup = "roster_import__region"


class RosterImportRow(models.Model):
    """A row of the roster that creates, changes, fails or has warnings (other unchanged rows and skipped rows
    are only counted)."""

    roster_import = models.ForeignKey(
        RosterImport, verbose_name=_("roster import"), on_delete=models.CASCADE, related_name="rows"
    )
    row_number = models.PositiveIntegerField(_("row"))
    action = models.CharField(_("action"), max_length=16, choices=RowAction.choices)
    uscc = models.CharField(_("unified social credit code"), max_length=40, blank=True)
    name = models.CharField(_("enterprise name"), max_length=200, blank=True)
    #: [[field label, old, new], ...] (old is "" for a new enterprise).
    changes = models.JSONField(_("changes"), default=list, blank=True)
    #: [{"column": "header as written", "message": "..."}]
    errors = models.JSONField(_("errors"), default=list, blank=True)
    #: [{"column": "header as written", "message": "..."}]: imported, but needed before the county submits.
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    has_warnings = models.BooleanField(_("has warnings"), default=False)
    new_findings = models.PositiveSmallIntegerField(_("new findings"), default=0)

    objects = RosterImportRowQuerySet.as_manager()

    class Meta:
        ordering = ["roster_import", "row_number"]
        indexes = [
            models.Index(fields=["roster_import", "action", "row_number"], name="import_row_action"),
            # The preview's Warnings tab.
            models.Index(
                fields=["roster_import", "row_number"],
                condition=models.Q(has_warnings=True),
                name="import_row_warnings",
            ),
        ]
        verbose_name = _("import row")
        verbose_name_plural = _("import rows")

    def __str__(self):
        return f"{self.roster_import_id}:{self.row_number} {self.get_action_display()}"
