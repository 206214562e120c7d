from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from regions.scoping import RegionScopedQuerySet

from .choices import Role


class Department(models.Model):
    """A government unit: a pre-review department or a lead unit (牵头单位) of tasks."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    short_name = models.CharField(_("short name"), max_length=30, blank=True)
    reviews_classifications = models.BooleanField(
        _("gives pre-review opinions"),
        default=False,
        help_text=_("Departments that give an opinion on every proposed classification."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self):
        return self.name


class UserQuerySet(RegionScopedQuerySet):
    region_lookup = "region"


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A person (or, with role API, another bureau system) working inside one region."""

    region = models.ForeignKey(
        "regions.Region",
        verbose_name=_("region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text=_("The user sees and edits only this region and everything below it."),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class ApiClientQuerySet(RegionScopedQuerySet):
    region_lookup = "region"


class ApiClient(models.Model):
    """Another bureau system reading (and, with can_write, writing) the register over the REST API.

    Each client acts through its own service user (role API, same region), so region scoping,
    permissions and change history treat it exactly like a person: a record it changes shows in the
    history as changed by this client. Only the SHA-256 of the token is stored; the token itself is
    shown once, when the client is created.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    region = models.ForeignKey(
        "regions.Region",
        verbose_name=_("region"),
        on_delete=models.PROTECT,
        related_name="api_clients",
        help_text=_("The client reads and writes only this region and everything below it."),
    )
    can_write = models.BooleanField(
        _("may write"), default=False, help_text=_("Read-only clients are refused on every change.")
    )
    user = models.OneToOneField(
        User, verbose_name=_("service user"), on_delete=models.PROTECT, related_name="api_client", editable=False
    )
    key_prefix = models.CharField(_("token prefix"), max_length=8, db_index=True, editable=False)
    key_hash = models.CharField(_("token hash (SHA-256)"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        User,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    objects = ApiClientQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self):
        return self.name

    def refusal(self, now=None):
        """Why the token is refused now, as (lazy message, params), or None when it may be used."""
        from django.utils import timezone

        now = now or timezone.now()
        if self.revoked_at is not None:
            return _("This API token was revoked on %(date)s; ask for a new one."), {"date": _when(self.revoked_at)}
        if self.expires_at is not None and self.expires_at <= now:
            return _("This API token expired on %(date)s; ask for a new one."), {"date": _when(self.expires_at)}
        if not self.user.is_active:
            return _("The service user of this API client is deactivated."), {}
        return None


def _when(moment) -> str:
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
