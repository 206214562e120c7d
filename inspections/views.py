"""Pages of surveys (摸排), inspections, findings, acceptance checks and 回头看 re-checks.

Thin: look the record up in the user's region (404 outside it), check the capability (403 with the reason),
validate the form, call the service, show its ValidationError on the form.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.permissions import Capability, can, require
from core.views import explain_forbidden, paginate
from enterprises.choices import OperatingStatus
from enterprises.models import Enterprise
from enterprises.selectors import enterprise_for_user
from parks.selectors import park_for_user
from rectification import services as rectification_services
from rectification.choices import CampaignStatus, Category, ClassificationState, StepAction
from rectification.models import Classification
from rectification.selectors import campaigns_for, tasks_for

from . import selectors, services
from .choices import InspectionKind, InspectionResult, InspectionStatus, SurveySource
from .filters import FindingFilterSet, InspectionFilterSet
from .forms import (
    AcceptanceForm,
    AttachmentForm,
    CancelForm,
    EvidenceForm,
    FindingEditForm,
    FindingForm,
    FindingRowFormSet,
    FixForm,
    InspectionForm,
    NoteForm,
    PlanInspectionForm,
    RecheckForm,
    ReopenForm,
    SurveyForm,
    VerifyForm,
    add_service_error,
    finding_rows,
)
from .models import FindingEvidence, Inspection, InspectionAttachment, Survey
from .services import FindingAction


def _dossier_url(enterprise, anchor: str = "") -> str:
    url = reverse("enterprises:detail", args=[enterprise.pk])
    return f"{url}#{anchor}" if anchor else url


def _target_url(target) -> str:
    if isinstance(target, Enterprise):
        return reverse("enterprises:detail", args=[target.pk])
    return reverse("parks:detail", args=[target.pk])


def _target_from_query(request):
    """The enterprise or park a form was opened for (?enterprise=pk or ?park=pk), looked up in the user's region."""
    enterprise_pk = request.GET.get("enterprise")
    park_pk = request.GET.get("park")
    try:
        if enterprise_pk:
            return enterprise_for_user(request.user, int(enterprise_pk))
        if park_pk:
            return park_for_user(request.user, int(park_pk))
    except ValueError as error:
        raise Http404 from error
    return None


def _target_kwargs(target) -> dict:
    if isinstance(target, Enterprise):
        return {"enterprise": target, "park": None}
    return {"enterprise": None, "park": target}


# --- Surveys ---------------------------------------------------------------------------------


def _next_enterprise_to_survey(user, enterprise, campaign):
    """The next enterprise (by name) of the same township without a survey of the eight requirements in the
    campaign (none, or only its roster's): one query.

    Deregistered (注销) enterprises no longer exist and are not offered.
    """
    surveyed = Survey.objects.filter(enterprise=OuterRef("pk"), campaign=campaign, source=SurveySource.BROWSER)
    return (
        Enterprise.objects.visible_to(user)
        .filter(township_id=enterprise.township_id)
        .exclude(pk=enterprise.pk)
        .exclude(status=OperatingStatus.DEREGISTERED)
        .exclude(Exists(surveyed))
        .order_by("name", "id")
        .first()
    )


@login_required
@explain_forbidden
def survey_start(request, enterprise_pk):
    """Choose the campaign of the survey; with a single open campaign go straight to the form."""
    enterprise = enterprise_for_user(request.user, enterprise_pk)
    require(request.user, Capability.RECORD_SURVEY, enterprise.township)
    campaigns = list(campaigns_for(request.user).exclude(status=CampaignStatus.CLOSED))
    if len(campaigns) == 1:
        return redirect("inspections:survey", enterprise_pk=enterprise.pk, campaign_pk=campaigns[0].pk)
    return render(request, "inspections/survey_campaign.html", {"enterprise": enterprise, "campaigns": campaigns})


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def survey_edit(request, enterprise_pk, campaign_pk):
    user = request.user
    enterprise = enterprise_for_user(user, enterprise_pk)
    require(user, Capability.RECORD_SURVEY, enterprise.township)
    campaign = get_object_or_404(campaigns_for(user), pk=campaign_pk)
    existing = selectors.survey_for_form(user, enterprise, campaign)
    initial = {}
    if existing.survey is not None and not existing.survey.from_roster_import:  # a roster's date is not a visit's
        initial = {
            "surveyed_on": existing.survey.surveyed_on,
            "surveyed_by": existing.survey.surveyed_by,
            "note": existing.survey.note,
        }
    form = SurveyForm(request.POST or None, answers=existing.answers, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_survey(
                enterprise=enterprise,
                campaign=campaign,
                actor=user,
                items=form.items(),
                surveyed_on=form.cleaned_data["surveyed_on"],
                note=form.cleaned_data["note"],
                surveyed_by=form.cleaned_data["surveyed_by"],
            )
        except ValidationError as error:
            add_service_error(form, error, SurveyForm.field_map())
        else:
            failing = sum(1 for conforming, _note in form.items().values() if not conforming)
            messages.success(
                request,
                _("Survey of %(name)s saved: %(count)s of 8 access requirements do not conform.")
                % {"name": enterprise.name, "count": failing},
            )
            if "save_next" in request.POST:
                following = _next_enterprise_to_survey(user, enterprise, campaign)
                if following is not None:
                    return redirect("inspections:survey", enterprise_pk=following.pk, campaign_pk=campaign.pk)
                messages.info(
                    request,
                    _("Every enterprise of %(township)s now has a survey in %(campaign)s.")
                    % {"township": enterprise.township.name, "campaign": campaign.name},
                )
            return redirect(_dossier_url(enterprise, "surveys"))
    return render(
        request,
        "inspections/survey_form.html",
        {
            "form": form,
            "enterprise": enterprise,
            "campaign": campaign,
            "survey": existing.survey,
            "campaign_closed": campaign.status == CampaignStatus.CLOSED,
        },
    )


# --- Inspections -----------------------------------------------------------------------------


@login_required
@explain_forbidden
def inspection_list(request):
    require(request.user, Capability.VIEW_REGISTER)
    filterset = InspectionFilterSet(request.GET, request=request)
    return render(
        request,
        "inspections/list.html",
        {
            "filterset": filterset,
            "page_obj": paginate(request, filterset.qs),
            "can_record": can(request.user, Capability.RECORD_INSPECTION),
        },
    )


@login_required
@explain_forbidden
def inspection_detail(request, pk):
    require(request.user, Capability.VIEW_REGISTER)
    inspection = selectors.inspection_detail(request.user, pk)
    region = inspection.township
    return render(
        request,
        "inspections/detail.html",
        {
            "inspection": inspection,
            "target_url": _target_url(inspection.target),
            "can_record": can(request.user, Capability.RECORD_INSPECTION, region),
            "can_add_finding": can(request.user, Capability.MANAGE_FINDINGS, region)
            and inspection.status == InspectionStatus.DONE,
        },
    )


def _split_finding_errors(error: ValidationError, rows, formset) -> ValidationError | None:
    """Put the errors of finding n (keyed "finding_<n>") on its row of the formset; return the rest."""
    if not hasattr(error, "error_dict"):
        return error
    rest = {}
    for key, messages_ in error.message_dict.items():
        if key.startswith("finding_") and key[8:].isdigit() and 0 < int(key[8:]) <= len(rows):
            form_index = rows[int(key[8:]) - 1][0]
            for message in messages_:
                formset.forms[form_index].add_error(None, message)
        else:
            rest[key] = messages_
    return ValidationError(rest) if rest else None


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def inspection_record(request, pk=None):
    """Record an inspection carried out (a new one, or the planned inspection `pk`) with findings and files."""
    user = request.user
    planned = None
    if pk is not None:
        planned = get_object_or_404(
            Inspection.objects.visible_to(user).planned().select_related("enterprise__township", "park__township"),
            pk=pk,
        )
        if planned.kind == InspectionKind.RECHECK:
            return redirect("inspections:recheck", enterprise_pk=planned.enterprise_id)
        target = planned.target
    else:
        target = _target_from_query(request)
    require(user, Capability.RECORD_INSPECTION, target.township if target is not None else None)
    form = InspectionForm(request.POST or None, request.FILES or None, user=user, target=target, planned=planned)
    formset = FindingRowFormSet(request.POST or None, request.FILES or None, prefix="findings")
    if request.method == "POST" and all([form.is_valid(), formset.is_valid()]):
        data = form.cleaned_data
        rows = finding_rows(formset)
        chosen = (
            _target_kwargs(target) if target is not None else {"enterprise": data["enterprise"], "park": data["park"]}
        )
        try:
            inspection = services.record_inspection(
                actor=user,
                kind=planned.kind if planned else data["kind"],
                inspected_on=data["inspected_on"],
                result=data["result"],
                departments=list(data["departments"]),
                inspectors=data["inspectors"],
                result_note=data["result_note"],
                findings=[finding for _index, finding in rows],
                attachments=data["attachments"],
                planned=planned,
                **chosen,
            )
        except ValidationError as error:
            rest = _split_finding_errors(error, rows, formset)
            if rest is not None:
                add_service_error(form, rest, InspectionForm.FIELD_MAP)
        else:
            messages.success(
                request,
                _("Inspection recorded with %(count)s finding(s).") % {"count": len(rows)},
            )
            return redirect("inspections:detail", pk=inspection.pk)
    title = _("Record the planned inspection") if planned else _("Record an inspection")
    return render(
        request,
        "inspections/record_form.html",
        {"form": form, "formset": formset, "target": target, "planned": planned, "title": title},
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def inspection_plan(request):
    user = request.user
    target = _target_from_query(request)
    require(user, Capability.RECORD_INSPECTION, target.township if target is not None else None)
    form = PlanInspectionForm(request.POST or None, user=user, target=target)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = (
            _target_kwargs(target) if target is not None else {"enterprise": data["enterprise"], "park": data["park"]}
        )
        try:
            inspection = services.plan_inspection(
                actor=user,
                kind=data["kind"],
                planned_on=data["planned_on"],
                departments=list(data["departments"]),
                inspectors=data["inspectors"],
                note=data["note"],
                **chosen,
            )
        except ValidationError as error:
            add_service_error(form, error, PlanInspectionForm.FIELD_MAP)
        else:
            messages.success(request, _("Inspection planned."))
            return redirect("inspections:detail", pk=inspection.pk)
    return render(
        request,
        "inspections/simple_form.html",
        {"form": form, "target": target, "title": _("Plan an inspection"), "cancel_url": reverse("inspections:list")},
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def inspection_cancel(request, pk):
    inspection = selectors.inspection_detail(request.user, pk)
    require(request.user, Capability.RECORD_INSPECTION, inspection.township)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_planned_inspection(
                inspection=inspection, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The planned inspection was cancelled."))
            return redirect("inspections:list")
    return render(
        request,
        "inspections/simple_form.html",
        {
            "form": form,
            "inspection": inspection,
            "title": _("Cancel the planned inspection"),
            "cancel_url": reverse("inspections:detail", args=[inspection.pk]),
            "submit_label": _("Cancel the inspection"),
            "danger": True,
        },
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def attachment_add(request, pk):
    inspection = selectors.inspection_detail(request.user, pk)
    require(request.user, Capability.RECORD_INSPECTION, inspection.township)
    form = AttachmentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # several files: all stored or none
                for upload in form.cleaned_data["files"]:
                    services.add_attachment(
                        inspection=inspection,
                        actor=request.user,
                        file=upload,
                        description=form.cleaned_data["description"],
                    )
        except ValidationError as error:
            add_service_error(form, error, {"file": "files"})
        else:
            messages.success(request, _("Attachments added."))
            return redirect("inspections:detail", pk=inspection.pk)
    return render(
        request,
        "inspections/simple_form.html",
        {
            "form": form,
            "inspection": inspection,
            "title": _("Add attachments"),
            "cancel_url": reverse("inspections:detail", args=[inspection.pk]),
            "multipart": True,
        },
    )


def _file_response(stored):
    """An uploaded file as a download under its original name (never served straight from MEDIA_URL)."""
    try:
        handle = stored.file.open("rb")
    except FileNotFoundError as error:
        raise Http404(_("The file is missing from the storage.")) from error
    return FileResponse(handle, as_attachment=True, filename=stored.original_name)


@login_required
@explain_forbidden
def attachment_download(request, pk):
    require(request.user, Capability.VIEW_REGISTER)
    return _file_response(get_object_or_404(InspectionAttachment.objects.visible_to(request.user), pk=pk))


# --- Findings --------------------------------------------------------------------------------


@login_required
@explain_forbidden
def finding_list(request):
    require(request.user, Capability.VIEW_REGISTER)
    filterset = FindingFilterSet(request.GET, request=request)
    return render(
        request,
        "inspections/finding_list.html",
        {"filterset": filterset, "page_obj": paginate(request, filterset.qs)},
    )


#: The finding's steps as buttons, in the order of the closed loop.
STEP_LABELS = {
    FindingAction.START_FIXING: gettext_lazy("Start fixing"),
    FindingAction.SUBMIT_FIX: gettext_lazy("Report fixed"),
    FindingAction.VERIFY: gettext_lazy("Verify"),
    FindingAction.REOPEN: gettext_lazy("Reopen"),
    FindingAction.EDIT: gettext_lazy("Edit"),
    FindingAction.ADD_EVIDENCE: gettext_lazy("Add evidence"),
}


@login_required
@explain_forbidden
def finding_detail(request, pk):
    require(request.user, Capability.VIEW_REGISTER)
    detail = selectors.finding_detail(request.user, pk)
    steps = [
        {"action": action, "label": label, "reason": detail.actions.get(action)}
        for action, label in STEP_LABELS.items()
    ]
    return render(
        request,
        "inspections/finding_detail.html",
        {
            "finding": detail.finding,
            "evidence": detail.evidence,
            "history": detail.history,
            "steps": steps,
            "target_url": _target_url(detail.finding.target),
        },
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def finding_create(request):
    """Record a finding for an inspection already recorded (?inspection=pk), an enterprise or a park."""
    user = request.user
    inspection = None
    if request.GET.get("inspection"):
        try:
            inspection = selectors.inspection_detail(user, int(request.GET["inspection"]))
        except ValueError as error:
            raise Http404 from error
        target = inspection.target
    else:
        target = _target_from_query(request)
        if target is None:
            raise Http404(_("Open this page from an inspection, an enterprise or a park."))
    require(user, Capability.MANAGE_FINDINGS, target.township)
    form = FindingForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            finding = services.record_finding(
                actor=user,
                inspection=inspection,
                **({} if inspection else _target_kwargs(target)),
                area=data["area"],
                severity=data["severity"],
                description=data["description"],
                legal_basis=data["legal_basis"],
                responsible_unit=data["responsible_unit"],
                responsible_department=data["responsible_department"],
                deadline=data["deadline"],
                evidence=data["evidence"],
            )
        except ValidationError as error:
            add_service_error(form, error, FindingForm.FIELD_MAP)
        else:
            messages.success(request, _("Finding recorded."))
            return redirect("inspections:finding_detail", pk=finding.pk)
    cancel_url = reverse("inspections:detail", args=[inspection.pk]) if inspection else _target_url(target)
    return render(
        request,
        "inspections/simple_form.html",
        {
            "form": form,
            "target": target,
            "inspection": inspection,
            "title": _("Record a finding"),
            "cancel_url": cancel_url,
            "multipart": True,
        },
    )


def _run_step(action, finding, user, form):
    """Call the service of a finding step with the form's data."""
    data = form.cleaned_data
    if action == FindingAction.EDIT:
        services.update_finding(finding=finding, actor=user, data=form.finding_data(), reason=data["reason"])
    elif action == FindingAction.START_FIXING:
        services.start_fixing(finding=finding, actor=user, note=data["note"])
    elif action == FindingAction.SUBMIT_FIX:
        services.submit_fix(finding=finding, actor=user, note=data["note"], evidence=data["evidence"])
    elif action == FindingAction.VERIFY:
        services.verify_finding(finding=finding, actor=user, passed=data["outcome"] == "pass", note=data["note"])
    elif action == FindingAction.REOPEN:
        services.reopen_finding(finding=finding, actor=user, reason=data["reason"])
    elif action == FindingAction.ADD_EVIDENCE:
        with transaction.atomic():  # several files: all stored or none
            for upload in data["files"]:
                services.add_finding_evidence(
                    finding=finding, actor=user, file=upload, stage=data["stage"], description=data["description"]
                )


STEP_PAGES = {
    # action: (form class, title, success message)
    FindingAction.EDIT: (FindingEditForm, gettext_lazy("Edit the finding"), gettext_lazy("Finding updated.")),
    FindingAction.START_FIXING: (NoteForm, gettext_lazy("Start fixing"), gettext_lazy("The finding is being fixed.")),
    FindingAction.SUBMIT_FIX: (
        FixForm,
        gettext_lazy("Report the finding fixed"),
        gettext_lazy("Fix reported; it awaits verification."),
    ),
    FindingAction.VERIFY: (VerifyForm, gettext_lazy("Verify the fix"), gettext_lazy("Verification recorded.")),
    FindingAction.REOPEN: (ReopenForm, gettext_lazy("Reopen the finding"), gettext_lazy("The finding was reopened.")),
    FindingAction.ADD_EVIDENCE: (EvidenceForm, gettext_lazy("Add evidence"), gettext_lazy("Evidence added.")),
}


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def finding_step(request, pk, action):
    if action not in STEP_PAGES:
        raise Http404
    user = request.user
    finding = get_object_or_404(selectors.findings_list(user), pk=pk)
    refusal = services.finding_why_not(finding, user, action)
    if refusal is not None:
        raise PermissionDenied(refusal)
    form_class, title, success = STEP_PAGES[action]
    initial = FindingEditForm.initial_for(finding) if action == FindingAction.EDIT else None
    form = form_class(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            _run_step(action, finding, user, form)
        except ValidationError as error:
            add_service_error(form, error, getattr(form_class, "FIELD_MAP", {"file": "files"}))
        else:
            messages.success(request, str(success))
            return redirect("inspections:finding_detail", pk=finding.pk)
    return render(
        request,
        "inspections/finding_step.html",
        {
            "form": form,
            "finding": finding,
            "action": action,
            "title": title,
            "multipart": action in (FindingAction.SUBMIT_FIX, FindingAction.ADD_EVIDENCE),
        },
    )


@login_required
@explain_forbidden
def evidence_download(request, pk):
    require(request.user, Capability.VIEW_REGISTER)
    return _file_response(get_object_or_404(FindingEvidence.objects.visible_to(request.user), pk=pk))


# --- Acceptance of a classification ----------------------------------------------------------------


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def acceptance(request, classification_pk):
    """The acceptance check (验收) of a classification awaiting acceptance: item by item for a shutdown."""
    user = request.user
    require(user, Capability.VIEW_REGISTER)
    classification = get_object_or_404(
        Classification.objects.visible_to(user).select_related(
            "enterprise__township__parent", "campaign", "destination_park", "absorbing_enterprise"
        ),
        pk=classification_pk,
    )
    enterprise = classification.enterprise
    tasks = list(tasks_for(user).filter(plan__classification=classification).order_by("order", "id"))
    context = {"classification": classification, "enterprise": enterprise, "tasks": tasks}
    # Role, region and state: recording any acceptance result is a step of the workflow.
    refusal = rectification_services.why_not(classification, user, StepAction.FAIL_ACCEPTANCE)
    if refusal is None and not can(user, Capability.RECORD_INSPECTION, enterprise.township):
        refusal = _("Your role cannot record inspections.")
    if refusal is not None:
        return render(request, "inspections/acceptance.html", context | {"refusal": refusal}, status=403)
    shutdown = classification.category == Category.SHUTDOWN
    form = AcceptanceForm(request.POST or None, request.FILES or None, shutdown=shutdown)
    if request.method == "POST" and form.is_valid():
        try:
            inspection = services.record_acceptance(classification=classification, actor=user, **form.service_kwargs())
        except ValidationError as error:
            add_service_error(form, error, form.field_map())
        else:
            if inspection.result == InspectionResult.PASSED:
                messages.success(request, _("Acceptance passed: the classification is closed (销号)."))
            else:
                messages.warning(
                    request, _("Acceptance not passed: the classification is back in progress with the reasons.")
                )
            return redirect(_dossier_url(enterprise))
    context |= {
        "form": form,
        "shutdown": shutdown,
        # A pass is refused to someone who marked tasks done themselves; a failed acceptance is not.
        "pass_refusal": rectification_services.why_not(classification, user, StepAction.ACCEPT),
    }
    return render(request, "inspections/acceptance.html", context)


# --- 回头看 ---------------------------------------------------------------------------------------


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def recheck(request, enterprise_pk):
    """Record a 回头看 at a closed enterprise; "producing again" reopens it, so the page spells that out first."""
    user = request.user
    enterprise = enterprise_for_user(user, enterprise_pk)
    require(user, Capability.RECORD_INSPECTION, enterprise.township)
    accepted = list(
        Classification.objects.visible_to(user)
        .filter(enterprise=enterprise, is_current=True, category=Category.SHUTDOWN, state=ClassificationState.ACCEPTED)
        .select_related("campaign")
    )
    planned = selectors.planned_inspections(user, kind=InspectionKind.RECHECK).filter(enterprise=enterprise).first()
    form = RecheckForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            inspection = services.record_recheck(enterprise=enterprise, actor=user, **form.service_kwargs())
        except ValidationError as error:
            add_service_error(form, error, RecheckForm.FIELD_MAP)
        except PermissionDenied as refusal:
            # E.g. a township may record "still closed" but not reopen an accepted shutdown: keep the form.
            form.add_error(None, str(refusal))
        else:
            if form.cleaned_data["outcome"] == "producing":
                messages.warning(
                    request,
                    _("Re-check recorded: %(name)s is producing again; it was reopened with a major finding.")
                    % {"name": enterprise.name},
                )
            else:
                messages.success(request, _("Re-check recorded: %(name)s is still closed.") % {"name": enterprise.name})
            return redirect("inspections:detail", pk=inspection.pk)
    return render(
        request,
        "inspections/recheck.html",
        {
            "form": form,
            "enterprise": enterprise,
            "accepted": accepted,
            "planned": planned,
            "is_closed": enterprise.status in (OperatingStatus.CLOSED, OperatingStatus.DEREGISTERED),
        },
    )
