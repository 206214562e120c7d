"""Pages of the park register (一园一档). Thin: parse input, call a selector or service, render."""

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.permissions import Capability, can, require
from core.views import explain_forbidden, paginate
from enterprises.forms import add_service_error
from enterprises.models import Enterprise
from enterprises.selectors import for_list

from . import services
from .choices import RISK_ASSESSMENT_VALID_YEARS
from .filters import ChemicalParkFilterSet
from .forms import ParkEvaluationForm, ParkForm
from .selectors import (
    infrastructure_checklist,
    park_for_user,
    park_history,
    risk_assessment_due,
    risk_assessment_overdue,
)


@login_required
@explain_forbidden
def park_list(request):
    require(request.user, Capability.VIEW_REGISTER)
    filterset = ChemicalParkFilterSet(request.GET, request=request)
    return render(
        request,
        "parks/list.html",
        {
            "filterset": filterset,
            "page_obj": paginate(request, filterset.qs),
            "can_change": can(request.user, Capability.CHANGE_PARK),
        },
    )


@login_required
@explain_forbidden
def park_detail(request, pk):
    require(request.user, Capability.VIEW_REGISTER)
    park = park_for_user(request.user, pk)
    enterprises = for_list(Enterprise.objects.visible_to(request.user).filter(park=park).order_by("name", "id"))
    return render(
        request,
        "parks/detail.html",
        {
            "park": park,
            "infrastructure": infrastructure_checklist(park),
            "risk_due": risk_assessment_due(park),
            "risk_overdue": risk_assessment_overdue(park),
            "risk_valid_years": RISK_ASSESSMENT_VALID_YEARS,
            "evaluations": list(park.evaluations.order_by("-year")),
            "enterprise_page": paginate(request, enterprises),
            "history": park_history(park),
            "can_change": can(request.user, Capability.CHANGE_PARK, park.township),
        },
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def park_create(request):
    require(request.user, Capability.CHANGE_PARK)
    form = ParkForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            park = services.create_park(
                actor=request.user, data=form.service_data(), reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Park %(name)s registered.") % {"name": park.name})
            return redirect("parks:detail", pk=park.pk)
    return render(request, "parks/form.html", {"form": form, "title": _("Register a chemical park")})


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def park_update(request, pk):
    park = park_for_user(request.user, pk)
    require(request.user, Capability.CHANGE_PARK, park.township)
    # The form validates a copy: the service compares the stored record with the new values.
    form = ParkForm(request.POST or None, instance=copy.copy(park), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.update_park(
                actor=request.user, park=park, data=form.service_data(), reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            if changed:
                messages.success(request, _("Changes to %(name)s saved.") % {"name": park.name})
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("parks:detail", pk=park.pk)
    return render(request, "parks/form.html", {"form": form, "park": park, "title": _("Edit chemical park")})


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def evaluation_set(request, pk):
    park = park_for_user(request.user, pk)
    require(request.user, Capability.CHANGE_PARK, park.township)
    form = ParkEvaluationForm(request.POST or None, initial={"year": timezone.localdate().year})
    if request.method == "POST" and form.is_valid():
        try:
            services.save_park_evaluation(
                actor=request.user, park=park, year=form.cleaned_data["year"], scores=form.scores()
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Evaluation for %(year)s saved.") % {"year": form.cleaned_data["year"]})
            return redirect("parks:detail", pk=park.pk)
    return render(
        request, "parks/form.html", {"form": form, "park": park, "title": _("Yearly comprehensive evaluation")}
    )
