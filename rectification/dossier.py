"""The classification section of the enterprise dossier, ready for the template.

`classification_dossier` (selectors) reads the classifications, steps, plans, tasks and evidence in a fixed
number of queries; this module adds what the page shows next to them: the workflow buttons of each step with
the reason a step is refused (services.explain_actions / why_not), the task buttons (services.task_actions),
the "propose" button of each campaign (services.why_not_propose) and readable step details. No rule is
decided here: every allowed/refused comes from the services.
"""

from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.permissions import Capability, role_can

from . import services
from .choices import (
    DECIDED_STATES,
    OPEN_PROPOSAL_STATES,
    OPEN_TASK_STATUSES,
    CampaignStatus,
    Category,
    ClassificationState,
    StepAction,
    TaskStatus,
)
from .models import Campaign, Classification
from .selectors import campaigns_for, classification_dossier

S = ClassificationState
TaskAction = services.TaskAction


def optional_url(name: str, **kwargs) -> str | None:
    """The URL of a page another app provides, or None while that page does not exist."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def acceptance_url(classification: Classification) -> str | None:
    """The acceptance inspection form (inspections app): it records the check and accepts or fails."""
    return optional_url("inspections:acceptance", classification_pk=classification.pk)


def dossier_url(enterprise_id: int, anchor: str = "") -> str:
    url = reverse("enterprises:detail", args=[enterprise_id])
    return f"{url}#{anchor}" if anchor else url


plan_why_not = services.plan_why_not


# --- Workflow buttons ------------------------------------------------------------------------


@dataclass
class StepButton:
    action: str
    label: str
    url: str | None
    allowed: bool
    reasons: list = field(default_factory=list)


def step_url(classification: Classification, action: str) -> str | None:
    if action == StepAction.UPDATE_PROPOSAL:
        return reverse("rectification:propose", args=[classification.enterprise_id, classification.campaign_id])
    if action in (StepAction.ACCEPT, StepAction.FAIL_ACCEPTANCE):
        return acceptance_url(classification)
    return reverse("rectification:step", args=[classification.pk, action])


def workflow_buttons(classification: Classification, user) -> tuple[list[StepButton], list[tuple[str, str]]]:
    """The user's steps (allowed, or disabled with the reason) and the steps other roles take in this state,
    grouped by reason: [(labels, reason)]."""
    checks = services.explain_actions(classification, user)
    buttons: list[StepButton] = []
    acceptance = None
    for check in checks:
        if check.action in (StepAction.ACCEPT, StepAction.FAIL_ACCEPTANCE):
            # Pass and failure are both recorded by one acceptance inspection.
            if acceptance is None:
                acceptance = StepButton(
                    "acceptance", _("Record the acceptance check"), acceptance_url(classification), False
                )
                buttons.append(acceptance)
            acceptance.allowed = acceptance.allowed or check.allowed
            if check.reason:
                acceptance.reasons.append(check.reason)
            continue
        buttons.append(
            StepButton(
                check.action,
                check.label,
                step_url(classification, check.action),
                check.allowed,
                [check.reason] if check.reason else [],
            )
        )
    if acceptance is not None and acceptance.url is None:
        acceptance.allowed = False
        acceptance.reasons.append(_("The acceptance form is not available."))
    carried = {check.action for check in checks}
    by_reason: dict[str, list[str]] = {}
    for action, transition in services.TRANSITIONS.items():
        if classification.state in transition.from_states and action not in carried:
            reason = services.why_not(classification, user, action) or ""
            by_reason.setdefault(reason, []).append(str(transition.label))
    others = [("、".join(labels), reason) for reason, labels in by_reason.items()]
    return buttons, others


# --- Timeline ----------------------------------------------------------------------------------


def _field_label(name: str) -> str:
    try:
        return str(Classification._meta.get_field(name).verbose_name)
    except Exception:  # a field renamed since the step was recorded
        return name


def _readable(name: str, value):
    if value in (None, ""):
        return "—"
    if name == "category" and value in Category.values:
        return Category(value).label
    return value


def describe_step(step) -> None:
    """Readable details of a step: field changes, stop order date, acceptance inspection, due date."""
    details = step.details or {}
    step.change_rows = [
        (_field_label(name), _readable(name, values[0]), _readable(name, values[1]))
        for name, values in (details.get("changes") or {}).items()
        if isinstance(values, (list, tuple)) and len(values) == 2
    ]
    step.stop_order_on = details.get("stop_order_on") if step.action == StepAction.STOP_ORDER else None
    step.previous_stop_order_on = details.get("previous") if step.action == StepAction.STOP_ORDER else None
    step.due_on = details.get("due_on") if step.action == StepAction.FIVE_THOROUGH else None
    inspection = details.get("inspection")
    step.inspection_id = inspection
    step.inspection_url = optional_url("inspections:detail", pk=inspection) if inspection else None


# --- Tasks -------------------------------------------------------------------------------------


@dataclass
class TaskButton:
    action: str
    label: str
    url: str
    allowed: bool
    reason: str | None


TASK_LABELS = {
    TaskAction.EDIT: gettext_lazy("Edit"),
    TaskAction.MARK_DONE: gettext_lazy("Mark done"),
    TaskAction.ADD_EVIDENCE: gettext_lazy("Add evidence"),
    TaskAction.DELETE: gettext_lazy("Delete"),
    TaskAction.VERIFY: gettext_lazy("Verify and close"),
    TaskAction.REOPEN: gettext_lazy("Reopen"),
}


def _task_button_actions(task, manage: bool, verify: bool) -> list[str]:
    """The buttons that make sense for the task's status and that the user's role carries."""
    if task.status in OPEN_TASK_STATUSES:
        actions = [TaskAction.EDIT, TaskAction.MARK_DONE, TaskAction.ADD_EVIDENCE] if manage else []
        if manage and not task.is_standard:
            actions.append(TaskAction.DELETE)
        return actions
    actions = []
    if task.status == TaskStatus.DONE:
        if verify:
            actions.append(TaskAction.VERIFY)
        if manage:
            actions += [TaskAction.REOPEN, TaskAction.ADD_EVIDENCE]
    elif task.status == TaskStatus.VERIFIED_CLOSED and verify:
        actions.append(TaskAction.REOPEN)
    return actions


def decorate_plan(plan, user, actionable: bool) -> None:
    """Task buttons with reasons, overdue marks and the plan-level refusal (shown once, not per task)."""
    today = timezone.localdate()
    plan.refusal = plan_why_not(plan, user) if actionable else None
    manage = role_can(user, Capability.MANAGE_TASKS)
    verify = role_can(user, Capability.VERIFY_TASK)
    tasks = plan.task_list
    any_allowed = False
    for index, task in enumerate(tasks):
        task.is_late = task.status == TaskStatus.OVERDUE or (
            task.status in OPEN_TASK_STATUSES and task.deadline < today
        )
        task.buttons, task.refusals = [], []
        task.can_move_up = task.can_move_down = False
        task.can_change_evidence = False
        if not actionable:
            continue
        reasons = services.task_actions(task, user)
        task.can_change_evidence = reasons[TaskAction.ADD_EVIDENCE] is None
        for action in _task_button_actions(task, manage, verify):
            reason = reasons[action]
            task.buttons.append(
                TaskButton(
                    action,
                    str(TASK_LABELS[action]),
                    reverse("rectification:task_step", args=[task.pk, action]),
                    reason is None,
                    reason,
                )
            )
            if reason and reason != plan.refusal and reason not in task.refusals:
                task.refusals.append(reason)
        any_allowed = any_allowed or any(button.allowed for button in task.buttons)
        if plan.refusal is None:
            task.can_move_up = index > 0
            task.can_move_down = index < len(tasks) - 1
    plan.show_actions = actionable and (manage or verify) and (plan.refusal is None or any_allowed)


# --- The section -------------------------------------------------------------------------------


@dataclass
class DossierCampaign:
    campaign: Campaign
    current: Classification | None = None
    pending_change: Classification | None = None
    earlier: list = field(default_factory=list)
    #: The campaign-level "propose" button: shown when no proposal is being edited in the campaign.
    show_propose: bool = False
    propose_label: str = ""
    propose_reason: str | None = None
    propose_url: str = ""


def decorate_classification(classification: Classification, user, actionable: bool) -> None:
    for step in classification.timeline:
        describe_step(step)
    # What a still-open proposal lacks before the county submits (a decided one is complete by then).
    classification.missing = (
        list(services.missing_details(classification).values()) if classification.state in OPEN_PROPOSAL_STATES else []
    )
    classification.buttons, classification.other_steps = [], []
    classification.recheck_url = None
    if actionable:
        classification.buttons, classification.other_steps = workflow_buttons(classification, user)
        if classification.state == S.ACCEPTED and role_can(user, Capability.RECORD_INSPECTION):
            # A 回头看 re-check finding the enterprise producing again reopens it (inspections app).
            classification.recheck_url = optional_url("inspections:recheck", enterprise_pk=classification.enterprise_id)
    if classification.plan_or_none is not None:
        decorate_plan(classification.plan_or_none, user, actionable)


def dossier_sections(enterprise, user) -> list[DossierCampaign]:
    """Per campaign (those with a classification of the enterprise, and the open campaigns the user may
    propose in): the decision in force, a pending change, earlier decisions, with buttons and reasons."""
    sections = {section.campaign.pk: section for section in classification_dossier(enterprise, user)}
    campaigns = [section.campaign for section in sections.values()]
    may_propose = role_can(user, Capability.PROPOSE_CLASSIFICATION)
    if may_propose:
        campaigns += [c for c in campaigns_for(user).exclude(status=CampaignStatus.CLOSED) if c.pk not in sections]
    campaigns.sort(key=lambda c: (-c.starts_on.toordinal(), c.name))
    result = []
    for campaign in campaigns:
        section = sections.get(campaign.pk)
        entry = DossierCampaign(campaign=campaign)
        if section is not None:
            entry.current, entry.pending_change, entry.earlier = (
                section.current,
                section.pending_change,
                section.earlier,
            )
        for classification in (entry.current, entry.pending_change):
            if classification is not None:
                decorate_classification(classification, user, actionable=True)
        for classification in entry.earlier:
            decorate_classification(classification, user, actionable=False)
        being_edited = any(c is not None and c.state == S.PROPOSED for c in (entry.current, entry.pending_change))
        if may_propose and not being_edited and campaign.status != CampaignStatus.CLOSED:
            entry.show_propose = True
            decided = entry.current is not None and entry.current.state in DECIDED_STATES
            entry.propose_label = _("Propose a change of the decision") if decided else _("Propose a classification")
            entry.propose_reason = services.why_not_propose(enterprise, campaign, user)
            entry.propose_url = reverse("rectification:propose", args=[enterprise.pk, campaign.pk])
        result.append(entry)
    return result
