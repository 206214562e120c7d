from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .choices import RegionLevel
from .scoping import RegionScopedQuerySet


class RegionQuerySet(RegionScopedQuerySet):
    region_lookup = ""

    def townships(self):
        return self.filter(level=RegionLevel.TOWNSHIP)


class Region(models.Model):
    """A node of the administrative tree: city → county/district → township/street."""

    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(pgettext_lazy("region", "level"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # Materialised path "/<city>/<county>/<township>/": "this region and everything
    # below it" is a single indexed prefix match, whatever the depth.
    path = models.CharField(_("path"), max_length=64, db_index=True, editable=False)

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self):
        return self.name

    def build_path(self) -> str:
        prefix = self.parent.path if self.parent_id else "/"
        return f"{prefix}{self.code}/"

    def contains(self, other: "Region | None") -> bool:
        """True when `other` is this region or lies below it."""
        return other is not None and other.path.startswith(self.path)

    @property
    def is_township(self) -> bool:
        return self.level == RegionLevel.TOWNSHIP
