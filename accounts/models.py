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
