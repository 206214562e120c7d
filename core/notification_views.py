"""The user's notifications: list (own only, paginated), open (marks read, goes to the record), mark read."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .notifications import mark_all_read, mark_read, notifications_for
from .views import paginate


@login_required
def notification_list(request):
    notifications = notifications_for(request.user)
    unread_only = request.GET.get("unread") == "1"
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    page_obj = paginate(request, notifications)
    return render(request, "core/notifications.html", {"page_obj": page_obj, "unread_only": unread_only})


def _back(request):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notifications")


@login_required
@require_POST
def notification_read(request, pk):
    # Someone else's notification is simply not there (404).
    notification = get_object_or_404(notifications_for(request.user), pk=pk)
    mark_read(request.user, [notification.pk])
    return _back(request)


@login_required
@require_POST
def notification_open(request, pk):
    """Mark read and go to the record the notification is about."""
    notification = get_object_or_404(notifications_for(request.user), pk=pk)
    mark_read(request.user, [notification.pk])
    if notification.link and url_has_allowed_host_and_scheme(notification.link, allowed_hosts={request.get_host()}):
        return redirect(notification.link)
    return redirect("notifications")


@login_required
@require_POST
def notification_read_all(request):
    count = mark_all_read(request.user)
    messages.success(request, _("%(count)d notifications marked read.") % {"count": count})
    return _back(request)
