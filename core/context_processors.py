from functools import cached_property

from django.conf import settings

from accounts.permissions import Capability, can, role_can
from inspections.selectors import count_findings_to_verify
from rectification.reports import reports_within_reach
from rectification.selectors import work_queue_counts

#: Capabilities that give a user something in the work queue (the navigation shows the link to them).
QUEUE_CAPABILITIES = (
    Capability.SUBMIT_CLASSIFICATION,
    Capability.GIVE_OPINION,
    Capability.APPROVE_CLASSIFICATION,
    Capability.ACCEPT_CLASSIFICATION,
    Capability.MANAGE_TASKS,
    Capability.VERIFY_TASK,
    Capability.VERIFY_FINDING,
    Capability.MANAGE_FINDINGS,
    Capability.RECORD_INSPECTION,
)


def queue_counts(request) -> dict:
    """The work queue's numbers for the badge (classifications, tasks, findings to verify): three queries at
    most, computed once per request (the work queue page reuses them)."""
    counts = getattr(request, "_queue_counts", None)
    if counts is None:
        counts = dict(work_queue_counts(request.user))
        counts["findings_to_verify"] = count_findings_to_verify(request.user)
        request._queue_counts = counts
    return counts


class NavQueue:
    """The navigation's work queue badge, counted only when a template reads it."""

    def __init__(self, request):
        self.request = request

    @cached_property
    def counts(self) -> dict:
        return queue_counts(self.request)

    @cached_property
    def total(self) -> int:
        return sum(self.counts.values())


class NavNotifications:
    """The bell: the user's unread notifications, one COUNT when a template reads it."""

    def __init__(self, user):
        self.user = user

    @cached_property
    def unread(self) -> int:
        from .notifications import unread_count

        return unread_count(self.user)


def navigation(request):
    """What the base layout needs to draw the navigation for the current user."""
    user = getattr(request, "user", None)
    authenticated = user is not None and user.is_authenticated
    has_queue = authenticated and any(role_can(user, capability) for capability in QUEUE_CAPABILITIES)
    return {
        "APP_TITLE": settings.APP_TITLE,
        "nav_can_change_enterprise": can(user, Capability.CHANGE_ENTERPRISE),
        "nav_can_change_park": can(user, Capability.CHANGE_PARK),
        "nav_can_use_admin": can(user, Capability.USE_ADMIN),
        "nav_can_view_register": can(user, Capability.VIEW_REGISTER),
        "nav_sees_reports": authenticated and reports_within_reach(user),
        "nav_queue": NavQueue(request) if has_queue else None,
        "nav_notifications": NavNotifications(user) if authenticated else None,
    }
