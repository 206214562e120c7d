"""Who may call the API: reads need VIEW_REGISTER, writes API_WRITE and a region.

The objects themselves are reached only through `.visible_to(user)` (core.api.viewsets), so a record of
another region is a 404 before any permission is asked; the services called by writes check the
specific capability (CHANGE_ENTERPRISE, ...) and the record's region again.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.permissions import CAPABILITY_REFUSALS, Capability, can
from regions.scoping import scope_region

from .exceptions import ApiNotAuthenticated, ApiPermissionDenied

NOT_AUTHENTICATED = _("Send an API token ('Authorization: Token <token>') or log in.")
NO_REGION = _("Your account has no region: you cannot change anything.")


class RegisterPermission(BasePermission):
    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            raise ApiNotAuthenticated(NOT_AUTHENTICATED, code="not_authenticated")
        if not can(user, Capability.VIEW_REGISTER):
            raise ApiPermissionDenied(CAPABILITY_REFUSALS[Capability.VIEW_REGISTER], code="permission_denied")
        if request.method in SAFE_METHODS:
            return True
        if not can(user, Capability.API_WRITE):
            raise ApiPermissionDenied(CAPABILITY_REFUSALS[Capability.API_WRITE], code="read_only")
        if scope_region(user) is None:
            raise ApiPermissionDenied(NO_REGION, code="permission_denied")
        return True
