"""In-app notifications: what the deadline checks (and the report builder) tell each user concerned."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from regions.scoping import RegionScopedQuerySet


class Versioned(models.Model):
    """`version` grows on every save: the API's optimistic concurrency (If-Match / version → 409) and ETags."""

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            self.version += 1
        super().save(*args, **kwargs)


class NotificationKind(models.TextChoices):
    TASK_DUE_SOON = "task_due_soon", _("Task due soon")
    TASK_OVERDUE = "task_overdue", _("Task overdue")
    FINDING_DUE_SOON = "finding_due_soon", _("Finding due soon")
    FINDING_OVERDUE = "finding_overdue", _("Finding overdue")
    FIVE_THOROUGH = "five_thorough", _("Shutdown flagged for 五彻底")
    SHUTDOWN_PROPOSED = "shutdown_proposed", _("Shutdown proposed (tier 3 two years running)")
    PERMIT_EXPIRING = "permit_expiring", _("Permit expiring")
    PERMIT_EXPIRED = "permit_expired", _("Permit expired")
    RISK_ASSESSMENT_OVERDUE = "risk_assessment_overdue", _("Park risk assessment overdue")
    RECHECK_PLANNED = "recheck_planned", _("回头看 re-check planned")
    HAZARD_DUTY_BREACH = "hazard_duty_breach", _("Major hazard source duty breached")
    REPORT_READY = "report_ready", _("Report ready")


class NotificationQuerySet(RegionScopedQuerySet):
    #: In the admin, staff see the notifications of the users of their region; pages show only one's own.
    region_lookup = "recipient__region"


class Notification(models.Model):
    """One message to one user. `dedup_key` is unique per recipient, so a rule run twice notifies once."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(pgettext_lazy("notification", "kind"), max_length=32, choices=NotificationKind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("record type"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(_("record id"), null=True, blank=True)
    dedup_key = models.CharField(_("deduplication key"), max_length=200)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    #: Bumped when it is read (a set-based update that names it; the API's incremental sync).
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedup_key"], name="notification_once_per_recipient"),
        ]
        indexes = [
            # The bell: unread of one user.
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
            # The e-mail sweep: not yet e-mailed.
            models.Index(fields=["emailed_at", "id"], name="notification_to_email"),
            # The API's sync order.
            models.Index(fields=["updated_at", "id"], name="notification_sync"),
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self):
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
