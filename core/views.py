from functools import wraps

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.generic import TemplateView

from accounts.permissions import Capability, can
from enterprises.selectors import enterprise_figures
from parks.selectors import park_figures


def paginate(request, queryset, per_page=None):
    """The page of `queryset` the request asks for (?page=N); out-of-range pages give the last one."""
    return Paginator(queryset, per_page or settings.LIST_PAGE_SIZE).get_page(request.GET.get("page"))


def forbidden_response(request, error: PermissionDenied):
    """A 403 page that tells the user why (the message of PermissionDenied from accounts.permissions)."""
    return render(request, "includes/forbidden.html", {"reason": str(error) if error.args else ""}, status=403)


def explain_forbidden(view):
    """Decorator: turn PermissionDenied raised by the view or a service into a 403 page with the reason."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as error:
            return forbidden_response(request, error)

    return wrapper


class HomeView(LoginRequiredMixin, TemplateView):
    """Dashboard of the user's region: enterprises by status and kind, permits, parks."""

    template_name = "core/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["enterprises"] = enterprise_figures(user)
        context["parks"] = park_figures(user)
        context["can_change_enterprise"] = can(user, Capability.CHANGE_ENTERPRISE)
        context["can_change_park"] = can(user, Capability.CHANGE_PARK)
        return context
