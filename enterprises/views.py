"""Pages of the enterprise register (一企一档). Thin: parse input, call a selector or service, render."""

import copy

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import Capability, can, require
from core.views import explain_forbidden, paginate
from core.xlsx import xlsx_response
from inspections.selectors import enterprise_sections
from rectification.dossier import dossier_sections

from . import services
from .choices import ExposedPopulation, HazardLevel
from .filters import EnterpriseFilterSet
from .forms import (
    CalculatorForm,
    CalculatorFormSet,
    EnterpriseForm,
    HazardSourceForm,
    InventoryFormSet,
    PermitForm,
    ReasonForm,
    YearlyTierForm,
    add_service_error,
    inventory_data,
    inventory_initial,
)
from .hazards import Reference, alpha_row, as_dict, build_line, grade, level_row
from .models import Enterprise, HazardCategory, HazardousChemical
from .selectors import enterprise_dossier, enterprise_for_user, enterprise_suggestions, for_list, picker_label


@login_required
@explain_forbidden
def enterprise_list(request):
    require(request.user, Capability.VIEW_REGISTER)
    filterset = EnterpriseFilterSet(request.GET, request=request)
    page = paginate(request, for_list(filterset.qs))
    export_query = request.GET.copy()
    export_query.pop("page", None)
    return render(
        request,
        "enterprises/list.html",
        {
            "filterset": filterset,
            "page_obj": page,
            "tier_year": filterset.selected_tier_year,
            "export_query": export_query.urlencode(),
            "can_change": can(request.user, Capability.CHANGE_ENTERPRISE),
            "can_export": can(request.user, Capability.EXPORT),
        },
    )


def export_columns():
    """(header, width, value of an enterprise) per column; headers translated at call time."""
    fields = Enterprise._meta

    def label(name):
        return str(fields.get_field(name).verbose_name)

    def yes_no(value):
        return _("Yes") if value else _("No")

    return [
        (label("uscc"), 22, lambda e: e.uscc),
        (label("name"), 36, lambda e: e.name),
        (_("County/district"), 12, lambda e: e.township.parent.name if e.township.parent_id else ""),
        (label("township"), 14, lambda e: e.township.name),
        (label("park"), 24, lambda e: e.park.name if e.park_id else _("Outside any park")),
        (label("address"), 36, lambda e: e.address),
        (label("legal_representative"), 12, lambda e: e.legal_representative),
        (label("contact_person"), 12, lambda e: e.contact_person),
        (label("contact_phone"), 16, lambda e: e.contact_phone),
        (label("industry_code"), 10, lambda e: e.industry_code),
        (label("kind"), 10, lambda e: e.get_kind_display()),
        (label("size"), 12, lambda e: e.get_size_display()),
        (label("annual_sales"), 14, lambda e: e.annual_sales),
        (label("staff_count"), 8, lambda e: e.staff_count),
        (label("main_products"), 30, lambda e: e.main_products),
        (label("process_mode"), 10, lambda e: e.get_process_mode_display()),
        (label("key_processes"), 30, lambda e: "、".join(str(p) for p in e.key_processes.all())),
        (label("automation_status"), 14, lambda e: e.get_automation_status_display()),
        (label("near_protected_river"), 12, lambda e: yes_no(e.near_protected_river)),
        (label("in_dense_urban_area"), 12, lambda e: yes_no(e.in_dense_urban_area)),
        (label("in_ecological_redline"), 12, lambda e: yes_no(e.in_ecological_redline)),
        (label("status"), 10, lambda e: e.get_status_display()),
        (_("Tier"), 8, lambda e: e.tier_in_year),
        (label("updated_at"), 18, lambda e: e.updated_at),
    ]


@login_required
@explain_forbidden
def enterprise_export(request):
    """The filtered list as xlsx, streamed from the database in chunks (50,000 rows stay cheap)."""
    require(request.user, Capability.EXPORT)
    filterset = EnterpriseFilterSet(request.GET, request=request)
    columns = export_columns()
    year = filterset.selected_tier_year
    headers = [header for header, _width, _value in columns]
    if year:
        headers[-2] = _("Tier %(year)s") % {"year": year}
    rows = (
        [value(enterprise) for _header, _width, value in columns]
        for enterprise in for_list(filterset.qs).iterator(chunk_size=2000)
    )
    stem = _("enterprises")
    filename = f"{stem}-{timezone.localdate().isoformat()}.xlsx"
    return xlsx_response(
        filename=filename,
        title=_("Enterprises"),
        headers=headers,
        rows=rows,
        column_widths=[width for _header, width, _value in columns],
    )


@login_required
@explain_forbidden
def enterprise_detail(request, pk):
    require(request.user, Capability.VIEW_REGISTER)
    dossier = enterprise_dossier(request.user, pk)
    return render(
        request,
        "enterprises/detail.html",
        {
            "dossier": dossier,
            "enterprise": dossier.enterprise,
            "can_change": can(request.user, Capability.CHANGE_ENTERPRISE, dossier.enterprise.township),
            "warning_days": settings.PERMIT_EXPIRY_WARNING_DAYS,
            "classification_sections": dossier_sections(dossier.enterprise, request.user),
            "inspection_sections": enterprise_sections(request.user, dossier.enterprise),
        },
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def enterprise_create(request):
    require(request.user, Capability.CHANGE_ENTERPRISE)
    form = EnterpriseForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            enterprise = services.create_enterprise(
                actor=request.user,
                data=form.service_data(),
                key_processes=form.cleaned_data["key_processes"],
                reason=form.cleaned_data["reason"],
                confirm_park_outside_township=form.cleaned_data["confirm_park_outside_township"],
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Enterprise %(name)s registered.") % {"name": enterprise.name})
            return redirect("enterprises:detail", pk=enterprise.pk)
    return render(
        request,
        "enterprises/form.html",
        {"form": form, "title": _("Register an enterprise"), "cancel_url": "enterprises:list"},
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def enterprise_update(request, pk):
    enterprise = enterprise_for_user(request.user, pk)
    require(request.user, Capability.CHANGE_ENTERPRISE, enterprise.township)
    # The form validates a copy: the service compares the stored record with the new values.
    form = EnterpriseForm(request.POST or None, instance=copy.copy(enterprise), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.update_enterprise(
                actor=request.user,
                enterprise=enterprise,
                data=form.service_data(),
                key_processes=form.cleaned_data["key_processes"],
                reason=form.cleaned_data["reason"],
                confirm_park_outside_township=form.cleaned_data["confirm_park_outside_township"],
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            if changed:
                messages.success(request, _("Changes to %(name)s saved.") % {"name": enterprise.name})
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("enterprises:detail", pk=enterprise.pk)
    return render(
        request,
        "enterprises/form.html",
        {"form": form, "enterprise": enterprise, "title": _("Edit enterprise"), "cancel_pk": enterprise.pk},
    )


def _editable_enterprise(request, pk):
    """The enterprise (404 outside the user's region) after checking the user may change it (403)."""
    enterprise = enterprise_for_user(request.user, pk)
    require(request.user, Capability.CHANGE_ENTERPRISE, enterprise.township)
    return enterprise


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def permit_edit(request, pk, permit_pk=None):
    enterprise = _editable_enterprise(request, pk)
    permit = get_object_or_404(enterprise.permits, pk=permit_pk) if permit_pk else None
    form = PermitForm(request.POST or None, instance=copy.copy(permit) if permit else None)
    reason_form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and reason_form.is_valid():
        try:
            services.save_permit(
                actor=request.user,
                enterprise=enterprise,
                data=form.cleaned_data,
                permit=permit,
                reason=reason_form.cleaned_data["reason"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Permit saved."))
            return redirect("enterprises:detail", pk=enterprise.pk)
    title = _("Edit permit") if permit else _("Add a permit")
    return render(
        request,
        "enterprises/subform.html",
        {"form": form, "extra_forms": [reason_form], "enterprise": enterprise, "title": title},
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def permit_delete(request, pk, permit_pk):
    enterprise = _editable_enterprise(request, pk)
    permit = get_object_or_404(enterprise.permits, pk=permit_pk)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.delete_permit(actor=request.user, permit=permit, reason=form.cleaned_data["reason"])
        messages.success(request, _("Permit %(permit)s deleted.") % {"permit": permit})
        return redirect("enterprises:detail", pk=enterprise.pk)
    return render(
        request,
        "enterprises/confirm_delete.html",
        {"form": form, "enterprise": enterprise, "object": permit, "title": _("Delete permit")},
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def tier_set(request, pk):
    enterprise = _editable_enterprise(request, pk)
    initial = {"year": request.GET.get("year") or timezone.localdate().year}
    form = YearlyTierForm(request.POST or None, initial=initial)
    reason_form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and reason_form.is_valid():
        try:
            services.set_yearly_tier(
                actor=request.user,
                enterprise=enterprise,
                year=form.cleaned_data["year"],
                tier=form.cleaned_data["tier"],
                note=form.cleaned_data["note"],
                reason=reason_form.cleaned_data["reason"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Tier for %(year)s saved.") % {"year": form.cleaned_data["year"]})
            return redirect("enterprises:detail", pk=enterprise.pk)
    return render(
        request,
        "enterprises/subform.html",
        {"form": form, "extra_forms": [reason_form], "enterprise": enterprise, "title": _("Set the yearly tier")},
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def hazard_source_edit(request, pk, hazard_pk=None):
    enterprise = _editable_enterprise(request, pk)
    source = get_object_or_404(enterprise.hazard_sources, pk=hazard_pk) if hazard_pk else None
    form = HazardSourceForm(request.POST or None, instance=copy.copy(source) if source else None)
    formset = InventoryFormSet(request.POST or None, initial=inventory_initial(source), prefix="inventory")
    reason_form = ReasonForm(request.POST or None)
    if request.method == "POST" and all([form.is_valid(), formset.is_valid(), reason_form.is_valid()]):
        try:
            source = services.save_hazard_source(
                actor=request.user,
                enterprise=enterprise,
                data=form.cleaned_data,
                inventory=inventory_data(formset),
                hazard_source=source,
                reason=reason_form.cleaned_data["reason"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Major hazard source %(name)s saved.") % {"name": source.name})
            return redirect("enterprises:detail", pk=enterprise.pk)
    title = _("Edit major hazard source") if source else _("Add a major hazard source")
    return render(
        request,
        "enterprises/hazard_form.html",
        {
            "form": form,
            "formset": formset,
            "reason_form": reason_form,
            "enterprise": enterprise,
            "title": title,
            "substances": HazardousChemical.objects.all(),
            "preview": _grading_preview(request.POST or (_source_query(source) if source else None)),
        },
    )


def _source_query(source) -> dict:
    """The saved source as the form would post it, for the first preview."""
    data = {"exposed_population": source.exposed_population}
    lines = list(source.inventory.all())
    for index, line in enumerate(lines):
        data[f"inventory-{index}-substance"] = line.chemical_name
        data[f"inventory-{index}-max_quantity_t"] = str(line.max_quantity_t)
        data[f"inventory-{index}-categories"] = line.categories
    data["inventory-TOTAL_FORMS"] = str(len(lines))
    return data


def _grading_preview(data) -> dict | None:
    """Grade what the form holds (`inventory-N-…` lines and exposed_population) without saving anything."""
    if not data:
        return None
    reference = Reference.load()
    lines, errors = [], []
    try:
        total = min(int(data.get("inventory-TOTAL_FORMS") or 0), 200)
    except ValueError:
        total = 0
    for index in range(total):
        text = (data.get(f"inventory-{index}-substance") or "").strip()
        quantity = (data.get(f"inventory-{index}-max_quantity_t") or "").strip()
        if not text or not quantity or data.get(f"inventory-{index}-DELETE"):
            continue
        try:
            lines.append(build_line(reference, text, quantity, data.get(f"inventory-{index}-categories", "")))
        except ValueError as error:
            errors.append({"line": index + 1, "message": str(error)})
    if not lines and not errors:
        return None
    exposed = data.get("exposed_population") or ""
    if exposed not in ExposedPopulation.values:
        exposed = ""
    grading = grade(lines, exposed, reference)
    return {
        "grading": grading,
        "data": as_dict(grading),
        "errors": errors,
        "alpha_row": alpha_row(exposed),
        "level_row": level_row(grading.level),
        "level_label": HazardLevel(grading.level).label if grading.level else "",
    }


@login_required
@explain_forbidden
@require_http_methods(["GET"])
def enterprise_lookup(request):
    """JSON suggestions for the enterprise picker (name or credit code), inside the user's region."""
    require(request.user, Capability.VIEW_REGISTER)
    found = enterprise_suggestions(request.user, request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {
                    "id": enterprise.pk,
                    "uscc": enterprise.uscc,
                    "name": enterprise.name,
                    "township": enterprise.township.name,
                    "label": picker_label(enterprise),
                }
                for enterprise in found
            ]
        }
    )


@login_required
@explain_forbidden
@require_http_methods(["GET"])
def hazard_grading(request):
    """JSON: S, R, α, each βq/Q term and the level of the lines given (the form's live preview); nothing saved."""
    require(request.user, Capability.VIEW_REGISTER)
    preview = _grading_preview(request.GET)
    if preview is None:
        return JsonResponse({"empty": True, "html": ""})
    html = render_to_string("enterprises/_hazard_grading.html", {"preview": preview}, request=request)
    return JsonResponse({**preview["data"], "errors": preview["errors"], "html": html})


@login_required
@explain_forbidden
@require_http_methods(["GET"])
def hazard_calculator(request):
    """The stand-alone GB 18218-2018 calculator for evaluation staff: grades a unit, saves nothing."""
    require(request.user, Capability.VIEW_REGISTER)
    submitted = "inventory-TOTAL_FORMS" in request.GET
    form = CalculatorForm(request.GET if submitted else None)
    formset = CalculatorFormSet(request.GET if submitted else None, prefix="inventory")
    if submitted:
        form.is_valid()
        formset.is_valid()
    return render(
        request,
        "enterprises/hazard_calculator.html",
        {
            "form": form,
            "formset": formset,
            "substances": HazardousChemical.objects.all(),
            "categories": HazardCategory.objects.all(),
            "preview": _grading_preview(request.GET) if submitted else None,
        },
    )


@login_required
@explain_forbidden
@require_POST
def hazard_source_delete(request, pk, hazard_pk):
    enterprise = _editable_enterprise(request, pk)
    source = get_object_or_404(enterprise.hazard_sources, pk=hazard_pk)
    services.delete_hazard_source(actor=request.user, hazard_source=source, reason=request.POST.get("reason", ""))
    messages.success(request, _("Major hazard source %(name)s deleted.") % {"name": source.name})
    return redirect("enterprises:detail", pk=enterprise.pk)
