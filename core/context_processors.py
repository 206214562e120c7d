from django.conf import settings

from accounts.permissions import Capability, can


def navigation(request):
    """What the base layout needs to draw the navigation for the current user."""
    user = getattr(request, "user", None)
    return {
        "APP_TITLE": settings.APP_TITLE,
        "nav_can_change_enterprise": can(user, Capability.CHANGE_ENTERPRISE),
        "nav_can_change_park": can(user, Capability.CHANGE_PARK),
        "nav_can_use_admin": can(user, Capability.USE_ADMIN),
    }
