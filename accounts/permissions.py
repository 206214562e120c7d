"""Who may do what: the one place where roles are turned into permissions.

A permission check has two halves: the role must carry the capability, and the
record's region must lie inside the user's region (regions.scoping). Views, admin,
services and the API all ask `can()` / `require()`; none of them tests roles itself.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from regions.scoping import region_in_scope

from .choices import Role


class Capability:
    VIEW_REGISTER = "view_register"
    CHANGE_ENTERPRISE = "change_enterprise"
    CHANGE_PARK = "change_park"
    EXPORT = "export"
    USE_ADMIN = "use_admin"


_HUMAN_READ = {Capability.VIEW_REGISTER, Capability.EXPORT}

ROLE_CAPABILITIES: dict[str, set[str]] = {
    Role.CITY: _HUMAN_READ | {Capability.CHANGE_ENTERPRISE, Capability.CHANGE_PARK, Capability.USE_ADMIN},
    Role.COUNTY: _HUMAN_READ | {Capability.CHANGE_ENTERPRISE, Capability.CHANGE_PARK, Capability.USE_ADMIN},
    # Township officers surveyed the enterprises themselves and correct them.
    Role.TOWNSHIP: _HUMAN_READ | {Capability.CHANGE_ENTERPRISE},
    Role.REVIEWER: set(_HUMAN_READ),
    Role.SUPERVISOR: set(_HUMAN_READ),
    Role.API: {Capability.VIEW_REGISTER},
}

#: Roles whose users get into the Django admin (bureau staff).
STAFF_ROLES = {Role.CITY, Role.COUNTY}

CAPABILITY_REFUSALS = {
    Capability.VIEW_REGISTER: _("Your role cannot view the register."),
    Capability.CHANGE_ENTERPRISE: _("Your role cannot create or edit enterprises."),
    Capability.CHANGE_PARK: _("Only city and county offices can create or edit chemical parks."),
    Capability.EXPORT: _("Your role cannot export data."),
    Capability.USE_ADMIN: _("Your role cannot use the administration site."),
}


def role_can(user, capability: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return capability in ROLE_CAPABILITIES.get(user.role, set())


def can(user, capability: str, region=None) -> bool:
    """True when the user's role has `capability` and `region` (if given) is in their scope."""
    if not role_can(user, capability):
        return False
    return region is None or region_in_scope(user, region)


def require(user, capability: str, region=None) -> None:
    """Raise PermissionDenied with a message that says why."""
    if not role_can(user, capability):
        raise PermissionDenied(CAPABILITY_REFUSALS.get(capability, _("You do not have permission to do this.")))
    if region is not None and not region_in_scope(user, region):
        raise PermissionDenied(_("%(region)s lies outside your region.") % {"region": region})
