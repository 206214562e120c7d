"""Region scoping: the one place that decides which rows a user may reach.

Every model whose rows lie in a region gets a queryset subclass of
RegionScopedQuerySet naming the lookup to its Region; pages, admin, exports, the
importer, the API and reports all call `.visible_to(user)` on it.
"""

from django.db import models


class RegionScopedQuerySet(models.QuerySet):
    #: Lookup from this model to its Region ("" when the model *is* Region).
    region_lookup = "township"

    def _path_lookup(self) -> str:
        return f"{self.region_lookup}__path__startswith" if self.region_lookup else "path__startswith"

    def in_region(self, region):
        """Rows in `region` or anywhere below it."""
        return self.filter(**{self._path_lookup(): region.path})

    def visible_to(self, user):
        """Rows the user may see: their region and everything below it."""
        region = scope_region(user)
        if region is ALL_REGIONS:
            return self.all()
        if region is None:
            return self.none()
        return self.in_region(region)


class _AllRegions:
    def __repr__(self):
        return "ALL_REGIONS"


ALL_REGIONS = _AllRegions()


def scope_region(user):
    """The region a user's view is limited to, ALL_REGIONS, or None (sees nothing)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "region_id", None):
        return user.region
    if user.is_superuser:
        return ALL_REGIONS
    return None


def region_in_scope(user, region) -> bool:
    """True when `region` lies inside what the user may see."""
    scope = scope_region(user)
    if scope is ALL_REGIONS:
        return True
    return scope is not None and region is not None and scope.contains(region)
