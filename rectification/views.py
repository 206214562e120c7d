"""Pages of rectification (四个一批): campaigns and progress, classification lists, one form per workflow
step, plans, tasks and evidence. Thin: parse input, call a selector or a service, render. Whether a step is
allowed, and why not, always comes from rectification.services (why_not, why_not_propose, task_why_not)."""

import copy
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import Capability, can, require, role_can
from core.views import explain_forbidden, paginate
from enterprises.selectors import enterprise_for_user

from . import services
from .choices import FOUR_BATCHES, Category, ClassificationState, StepAction
from .dossier import acceptance_url, describe_step, dossier_url, plan_why_not
from .filters import ClassificationFilterSet
from .forms import (
    CampaignForm,
    ClassificationForm,
    CommentForm,
    EvidenceForm,
    MarkDoneForm,
    OpinionForm,
    ReopenForm,
    ReturnForm,
    StopOrderForm,
    TargetForm,
    TaskForm,
    TaskReasonForm,
    TaskReopenForm,
    add_step_error,
)
from .models import Classification, ClassificationStep, Plan, Task, TaskEvidence
from .reports import percent
from .selectors import campaign_progress, campaigns_for, classifications_for_campaign, targets_for

S = ClassificationState
TaskAction = services.TaskAction


def _data(request):
    """The submitted data of a POST (even an empty one), None for a GET (an unbound form)."""
    return request.POST if request.method == "POST" else None


def _campaign(user, pk):
    return get_object_or_404(campaigns_for(user), pk=pk)


# --- Campaigns, progress and targets ---------------------------------------------------------


@login_required
@explain_forbidden
def campaign_list(request):
    require(request.user, Capability.VIEW_REGISTER)
    return render(
        request,
        "rectification/campaign_list.html",
        {
            "page_obj": paginate(request, campaigns_for(request.user)),
            "can_manage": can(request.user, Capability.MANAGE_CAMPAIGNS),
        },
    )


def _selected_year(request, campaign) -> int | None:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        return None
    return year if year in campaign.years else None


@login_required
@explain_forbidden
def campaign_detail(request, pk):
    """Targets and computed progress by region (county rows with their townships indented)."""
    user = request.user
    require(user, Capability.VIEW_REGISTER)
    campaign = _campaign(user, pk)
    year = _selected_year(request, campaign)
    rows = campaign_progress(campaign, user, year=year)
    manages_campaigns = role_can(user, Capability.MANAGE_CAMPAIGNS)
    for row in rows:
        rate = row.completion_rate
        row.rate_percent = None if rate is None else percent(rate)
        row.bar_width = 0 if rate is None else min(100, round(rate * 100))
        row.cells = [
            (row.target[c], row.proposed[c], row.decided[c], row.completed[c], percent(row.rate_for(c)))
            for c in FOUR_BATCHES
        ]
        # save_target refuses a county its own target (the city sets it): offer no link there.
        row.can_set_target = can(user, Capability.SET_TARGETS, row.region) and (
            manages_campaigns or row.region.pk != user.region_id
        )
    return render(
        request,
        "rectification/campaign_detail.html",
        {
            "campaign": campaign,
            "rows": rows,
            "year": year,
            "categories": [Category(c).label for c in FOUR_BATCHES],
            "can_manage": manages_campaigns,
        },
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def campaign_create(request):
    require(request.user, Capability.MANAGE_CAMPAIGNS)
    form = CampaignForm(_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.create_campaign(request.user, form.service_data(), reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_step_error(form, error)
        else:
            messages.success(request, _("Campaign %(name)s created.") % {"name": campaign.name})
            return redirect("rectification:campaign", pk=campaign.pk)
    return render(request, "rectification/campaign_form.html", {"form": form, "title": _("New campaign")})


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def campaign_update(request, pk):
    campaign = _campaign(request.user, pk)
    require(request.user, Capability.MANAGE_CAMPAIGNS)
    # The form validates a copy: the service compares the stored campaign with the new values.
    form = CampaignForm(_data(request), instance=copy.copy(campaign))
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.update_campaign(
                campaign, request.user, form.service_data(), reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_step_error(form, error)
        else:
            if changed:
                messages.success(request, _("Changes to %(name)s saved.") % {"name": campaign.name})
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("rectification:campaign", pk=campaign.pk)
    return render(
        request,
        "rectification/campaign_form.html",
        {"form": form, "campaign": campaign, "title": _("Edit campaign")},
    )


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def target_edit(request, pk):
    """Set (or delete) the target of one region and year; ?region=<code>&year=<year> preselects it."""
    user = request.user
    campaign = _campaign(user, pk)
    require(user, Capability.SET_TARGETS)
    targets = targets_for(campaign, user)
    initial, existing = {}, None
    if request.method == "GET":
        code, year = request.GET.get("region", ""), request.GET.get("year", "")
        initial = {"region": code, "year": year}
        if code and year.isdigit():
            existing = targets.filter(region__code=code, year=int(year)).first()
        if existing is not None:
            initial.update({name: getattr(existing, name) for name in services.TARGET_COUNTS})
    form = TargetForm(_data(request), user=user, campaign=campaign, initial=initial)
    if request.method == "POST" and form.is_valid():
        region, year = form.cleaned_data["region"], form.cleaned_data["year"]
        reason = form.cleaned_data["reason"]
        existing = targets.filter(region=region, year=year).first()
        try:
            if "delete" in request.POST:
                if existing is None:
                    raise ValidationError(
                        _("%(region)s has no target for %(year)s.") % {"region": region, "year": year}
                    )
                services.delete_target(user, existing, reason=reason)
                messages.success(
                    request, _("Target of %(region)s for %(year)s deleted.") % {"region": region, "year": year}
                )
            else:
                services.save_target(user, campaign, region, year, form.counts(), reason=reason)
                messages.success(
                    request, _("Target of %(region)s for %(year)s saved.") % {"region": region, "year": year}
                )
        except ValidationError as error:
            add_step_error(form, error)
        else:
            return redirect(f"{reverse('rectification:campaign', args=[campaign.pk])}?year={year}")
    return render(
        request,
        "rectification/target_form.html",
        {"form": form, "campaign": campaign, "existing": existing, "title": _("Set a target")},
    )


@login_required
@explain_forbidden
def classification_list(request, pk):
    """The campaign's classifications in the user's region, filterable, paginated (annotated: no query per row)."""
    user = request.user
    require(user, Capability.VIEW_REGISTER)
    campaign = _campaign(user, pk)
    filterset = ClassificationFilterSet(
        request.GET, queryset=classifications_for_campaign(campaign, user), request=request
    )
    return render(
        request,
        "rectification/classification_list.html",
        {"campaign": campaign, "filterset": filterset, "page_obj": paginate(request, filterset.qs)},
    )


# --- Proposal and workflow steps ------------------------------------------------------------------


def _enterprise_anchor(classification) -> str:
    return dossier_url(classification.enterprise_id, f"campaign-{classification.campaign_id}")


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def propose(request, enterprise_pk, campaign_pk):
    """Propose a classification, edit the proposal still at "proposed", or propose a change of a decision."""
    user = request.user
    require(user, Capability.VIEW_REGISTER)
    enterprise = enterprise_for_user(user, enterprise_pk)
    campaign = _campaign(user, campaign_pk)
    rows = Classification.objects.filter(enterprise=enterprise, campaign=campaign).select_related(
        "destination_park", "absorbing_enterprise"
    )
    pending = rows.pending_changes().first()
    current = rows.current().first()
    edited = (
        pending if pending is not None else current if current is not None and current.state == S.PROPOSED else None
    )
    form = ClassificationForm(_data(request), user=user, instance=edited or current)
    if request.method == "POST" and form.is_valid():
        before = (edited.pk, edited.version) if edited is not None else None
        try:
            result = services.propose_classification(
                enterprise,
                campaign,
                form.cleaned_data["category"],
                user,
                comment=form.cleaned_data["comment"],
                **form.service_details(),
            )
        except ValidationError as error:
            add_step_error(form, error)
        else:
            if before == (result.pk, result.version):
                messages.info(request, _("Nothing was changed."))
            elif before is not None:
                messages.success(request, _("Proposal for %(name)s updated.") % {"name": enterprise.name})
            elif result.replaces_id:
                messages.success(
                    request,
                    _("Change of the decision for %(name)s proposed; it goes through the same workflow.")
                    % {"name": enterprise.name},
                )
            else:
                messages.success(request, _("Classification of %(name)s proposed.") % {"name": enterprise.name})
            for message in services.missing_details(result).values():
                messages.warning(request, message)  # a valid proposal; the county needs it before submitting
            return redirect(_enterprise_anchor(result))
    if edited is not None:
        title = _("Edit the proposal")
    elif current is not None and current.state in (S.APPROVED, S.IN_PROGRESS, S.AWAITING_ACCEPTANCE, S.ACCEPTED):
        title = _("Propose a change of the decision")
    else:
        title = _("Propose a classification")
    return render(
        request,
        "rectification/propose_form.html",
        {
            "enterprise": enterprise,
            "campaign": campaign,
            "current": current,
            "edited": edited,
            "form": form,
            "reason": services.why_not_propose(enterprise, campaign, user),
            "title": title,
        },
    )


@dataclass(frozen=True)
class StepPage:
    form_class: type
    #: Calls the service: (classification, actor, valid form) → None.
    perform: Callable
    #: What the step does, in a sentence.
    effect: Promise


def _comment(form) -> str:
    return form.cleaned_data.get("comment", "")


STEP_PAGES = {
    StepAction.SUBMIT: StepPage(
        CommentForm,
        lambda c, actor, form: services.submit_classification(c, actor, comment=_comment(form)),
        gettext_lazy("The proposal goes to the pre-review departments for their opinions."),
    ),
    StepAction.OPINION: StepPage(
        OpinionForm,
        lambda c, actor, form: services.give_opinion(c, actor, form.cleaned_data["opinion"], comment=_comment(form)),
        gettext_lazy(
            "Your department's opinion is recorded for this pre-review round; when every department has given "
            "its opinion the pre-review is complete."
        ),
    ),
    StepAction.ADJUST: StepPage(
        ClassificationForm,
        lambda c, actor, form: services.adjust_classification(
            c, actor, form.cleaned_data["category"], comment=_comment(form), **form.service_details()
        ),
        gettext_lazy("The county changes the category or its details; the state stays the same."),
    ),
    StepAction.RESUBMIT: StepPage(
        CommentForm,
        lambda c, actor, form: services.resubmit_classification(c, actor, comment=_comment(form)),
        gettext_lazy("A new pre-review round starts: every department gives its opinion again."),
    ),
    StepAction.FORWARD: StepPage(
        CommentForm,
        lambda c, actor, form: services.forward_to_city(c, actor, comment=_comment(form)),
        gettext_lazy("The classification goes to the city office for approval."),
    ),
    StepAction.APPROVE: StepPage(
        CommentForm,
        lambda c, actor, form: services.approve_classification(c, actor, comment=_comment(form)),
        gettext_lazy(
            "The decision takes effect. For shut down, relocate, upgrade and restructure the plan with the "
            "standard tasks is created and the rectification starts; a decision it changes is superseded."
        ),
    ),
    StepAction.RETURN: StepPage(
        ReturnForm,
        lambda c, actor, form: services.return_to_county(c, actor, comment=_comment(form)),
        gettext_lazy("The classification goes back to the county office with your reason."),
    ),
    StepAction.WITHDRAW: StepPage(
        CommentForm,
        lambda c, actor, form: services.withdraw_classification(c, actor, comment=_comment(form)),
        gettext_lazy("The proposal is withdrawn; a decision in force stays as it is."),
    ),
    StepAction.STOP_ORDER: StepPage(
        StopOrderForm,
        lambda c, actor, form: services.record_stop_order(
            c, actor, form.cleaned_data["stop_order_on"], comment=_comment(form)
        ),
        gettext_lazy("The date of the stop order is recorded; the expert acceptance is due one month later."),
    ),
    StepAction.REQUEST_ACCEPTANCE: StepPage(
        CommentForm,
        lambda c, actor, form: services.request_acceptance(c, actor, comment=_comment(form)),
        gettext_lazy("Every task is done: the county or city office is asked for the acceptance check."),
    ),
    StepAction.REOPEN: StepPage(
        ReopenForm,
        lambda c, actor, form: services.reopen_classification(c, actor, form.cleaned_data["reason"]),
        gettext_lazy(
            "The closed classification goes back to rectification in progress; a closed shutdown or "
            "relocation makes the enterprise operating again."
        ),
    ),
}


def classification_for(user, pk) -> Classification:
    """A classification in the user's region (404 outside it) with its timeline."""
    steps = ClassificationStep.objects.select_related("actor", "department").order_by("at", "id")
    return get_object_or_404(
        Classification.objects.visible_to(user)
        .select_related(
            "enterprise__township__parent",
            "enterprise__park",
            "campaign",
            "destination_park",
            "absorbing_enterprise",
            "proposed_by",
        )
        .prefetch_related(Prefetch("steps", queryset=steps, to_attr="timeline")),
        pk=pk,
    )


def _target_state_label(classification, action) -> str:
    transition = services.TRANSITIONS[action]
    if action == StepAction.APPROVE and classification.has_plan:
        return f"{S.APPROVED.label} → {S.IN_PROGRESS.label}"
    if transition.to_state is None:
        return _("state unchanged")
    return str(S(transition.to_state).label)


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def classification_step(request, pk, action):
    """One workflow step: the classification, what the step does, why it is refused (if it is), the form.

    A POST always goes through the service, which checks again and refuses with its reason.
    """
    user = request.user
    require(user, Capability.VIEW_REGISTER)
    classification = classification_for(user, pk)
    if action == StepAction.UPDATE_PROPOSAL:
        return redirect("rectification:propose", classification.enterprise_id, classification.campaign_id)
    if action in (StepAction.ACCEPT, StepAction.FAIL_ACCEPTANCE):
        url = acceptance_url(classification)
        if url is None:
            raise Http404
        return redirect(url)
    page = STEP_PAGES.get(action)
    if page is None:
        raise Http404
    form_kwargs = {"user": user, "instance": classification} if page.form_class is ClassificationForm else {}
    form = page.form_class(_data(request), **form_kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            page.perform(classification, user, form)
        except ValidationError as error:
            add_step_error(form, error, {"reasons": "comment"})
        else:
            messages.success(
                request,
                _("%(step)s: recorded for %(name)s.")
                % {"step": services.TRANSITIONS[action].label, "name": classification.enterprise.name},
            )
            return redirect(_enterprise_anchor(classification))
    for step in classification.timeline:
        describe_step(step)
    show_reviewers = action in (StepAction.OPINION, StepAction.FORWARD) and classification.state in (
        S.UNDER_REVIEW,
        S.REVIEWED,
    )
    return render(
        request,
        "rectification/step_form.html",
        {
            "classification": classification,
            "enterprise": classification.enterprise,
            "action": action,
            "title": services.TRANSITIONS[action].label,
            "effect": page.effect,
            "to_state": _target_state_label(classification, action),
            "reason": services.why_not(classification, user, action),
            "missing_reviewers": services.missing_reviewers(classification) if show_reviewers else None,
            "form": form,
        },
    )


# --- Plans and tasks ------------------------------------------------------------------------------


def _task_for(user, pk) -> Task:
    return get_object_or_404(
        Task.objects.visible_to(user).select_related(
            "plan__classification__enterprise__township__parent",
            "plan__classification__campaign",
            "lead_department",
            "lead_region",
            "done_by",
            "verified_by",
        ),
        pk=pk,
    )


def _task_anchor(task) -> str:
    return dossier_url(task.plan.classification.enterprise_id, f"task-{task.pk}")


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def task_create(request, plan_pk):
    user = request.user
    require(user, Capability.VIEW_REGISTER)
    plan = get_object_or_404(
        Plan.objects.visible_to(user).select_related(
            "classification__enterprise__township__parent", "classification__campaign"
        ),
        pk=plan_pk,
    )
    classification = plan.classification
    form = TaskForm(_data(request), township=classification.enterprise.township)
    if request.method == "POST" and form.is_valid():
        try:
            task = services.add_task(plan, user, **form.service_fields())
        except ValidationError as error:
            add_step_error(form, error, TaskForm.RENAMES)
        else:
            messages.success(request, _("Task added to the plan."))
            return redirect(_task_anchor(task))
    return render(
        request,
        "rectification/task_form.html",
        {
            "classification": classification,
            "enterprise": classification.enterprise,
            "task": None,
            "title": _("Add a task"),
            "reason": plan_why_not(plan, user),
            "form": form,
        },
    )


def _edit_task(task, actor, form):
    return services.update_task(task, actor, reason=form.cleaned_data.get("reason", ""), **form.service_fields())


def _add_evidence(task, actor, form):
    # All files or none: a refused file rolls back those stored before it.
    with transaction.atomic():
        for uploaded in form.cleaned_data["files"]:
            services.add_evidence(task, actor, uploaded)
    return True


TASK_PAGES = {
    TaskAction.EDIT: (
        TaskForm,
        gettext_lazy("Edit task"),
        _edit_task,
    ),
    TaskAction.MARK_DONE: (
        MarkDoneForm,
        gettext_lazy("Mark the task done"),
        lambda task, actor, form: services.mark_task_done(
            task,
            actor,
            form.cleaned_data["completed_on"],
            note=form.cleaned_data["note"],
            evidence=form.cleaned_data["evidence"],
        ),
    ),
    TaskAction.VERIFY: (
        CommentForm,
        gettext_lazy("Verify and close the task"),
        lambda task, actor, form: services.verify_task(task, actor, comment=form.cleaned_data["comment"]),
    ),
    TaskAction.REOPEN: (
        TaskReopenForm,
        gettext_lazy("Reopen the task"),
        lambda task, actor, form: services.reopen_task(task, actor, form.cleaned_data["reason"]),
    ),
    TaskAction.ADD_EVIDENCE: (EvidenceForm, gettext_lazy("Add evidence"), _add_evidence),
    TaskAction.DELETE: (
        TaskReasonForm,
        gettext_lazy("Delete the task"),
        lambda task, actor, form: services.delete_task(task, actor, reason=form.cleaned_data["reason"]),
    ),
}

TASK_SUCCESS = {
    TaskAction.EDIT: gettext_lazy("Task saved."),
    TaskAction.MARK_DONE: gettext_lazy("Task marked done; it is closed once someone else verifies it."),
    TaskAction.VERIFY: gettext_lazy("Task verified and closed."),
    TaskAction.REOPEN: gettext_lazy("Task reopened."),
    TaskAction.ADD_EVIDENCE: gettext_lazy("Evidence added."),
    TaskAction.DELETE: gettext_lazy("Task deleted."),
}


@login_required
@explain_forbidden
@require_http_methods(["GET", "POST"])
def task_step(request, pk, action):
    """One task step (edit, mark done, verify, reopen, add evidence, delete) with the reason it is refused."""
    user = request.user
    require(user, Capability.VIEW_REGISTER)
    task = _task_for(user, pk)
    if action not in TASK_PAGES:
        raise Http404
    form_class, title, perform = TASK_PAGES[action]
    form_kwargs = (
        {"township": task.plan.classification.enterprise.township, "task": task} if form_class is TaskForm else {}
    )
    form = form_class(_data(request), request.FILES if request.method == "POST" else None, **form_kwargs)
    if request.method == "POST" and form.is_valid():
        anchor = _task_anchor(task)
        try:
            result = perform(task, user, form)
        except ValidationError as error:
            add_step_error(form, error, TaskForm.RENAMES | {"file": "files"})
        else:
            if action == TaskAction.EDIT and not result:
                messages.info(request, _("Nothing was changed."))
            else:
                messages.success(request, TASK_SUCCESS[action])
            if action == TaskAction.DELETE:
                anchor = dossier_url(task.plan.classification.enterprise_id, f"plan-{task.plan_id}")
            return redirect(anchor)
    return render(
        request,
        "rectification/task_form.html",
        {
            "classification": task.plan.classification,
            "enterprise": task.plan.classification.enterprise,
            "task": task,
            "evidence": list(task.evidence.select_related("uploaded_by")),
            "title": title,
            "action": action,
            "reason": services.task_why_not(task, user, action),
            "form": form,
        },
    )


@login_required
@explain_forbidden
@require_POST
def task_move(request, pk):
    """Move a task one place up or down in its plan (reorder_tasks with the whole new order)."""
    task = _task_for(request.user, pk)
    direction = request.POST.get("direction")
    ids = list(task.plan.tasks.order_by("order", "id").values_list("pk", flat=True))
    index = ids.index(task.pk)
    other = index - 1 if direction == "up" else index + 1 if direction == "down" else None
    if other is not None and 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
        try:
            services.reorder_tasks(task.plan, request.user, ids)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return redirect(dossier_url(task.plan.classification.enterprise_id, f"plan-{task.plan_id}"))


@login_required
@explain_forbidden
def evidence_download(request, pk):
    """An evidence file, only for users whose region holds the enterprise (404 otherwise), as a download."""
    require(request.user, Capability.VIEW_REGISTER)
    evidence = get_object_or_404(TaskEvidence.objects.visible_to(request.user), pk=pk)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError as error:
        raise Http404(_("The file is missing from the storage.")) from error
    return FileResponse(handle, as_attachment=True, filename=evidence.original_name, content_type=evidence.content_type)


@login_required
@explain_forbidden
@require_POST
def evidence_delete(request, pk):
    evidence = get_object_or_404(
        TaskEvidence.objects.visible_to(request.user).select_related("task__plan__classification"), pk=pk
    )
    task = evidence.task
    try:
        services.delete_evidence(evidence, request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Evidence file %(name)s deleted.") % {"name": evidence.original_name})
    return redirect(_task_anchor(task))
