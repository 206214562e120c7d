"""Every rule and transition of rectification: campaigns, targets, the "四个一批" workflow, plans, tasks, evidence.

Web pages, the importer, the API and the worker call these functions; none of them changes a classification
or a task any other way. Each function takes the `actor`, checks the role's capability and the enterprise's
region through accounts.permissions, raises PermissionDenied (wrong role or region) or ValidationError
(wrong state or bad data) with a reason, runs in one transaction and locks the classification row
(select_for_update) so that two people cannot take the same step twice.

The workflow is one table, TRANSITIONS: for each action the states it starts from, the state it leads to and
the capability it needs. `why_not(classification, user, action)` and `available_actions(...)` read the same
table, so a page shows exactly the buttons the service would accept and, for the others, the reason.
"""

import datetime
import mimetypes
import os
from calendar import monthrange
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history

from accounts.models import Department
from accounts.permissions import Capability, require, role_can
from core.changes import mark_changed
from core.history import apply_changes, delete_tracked, save_tracked
from core.uploads import validate_upload
from enterprises.choices import OperatingStatus
from enterprises.models import Enterprise, YearlyTier
from enterprises.services import touch
from parks.choices import RecognitionStatus

from .choices import (
    OPEN_PROPOSAL_STATES,
    SHUTDOWN_ACCEPTANCE_MONTHS,
    STANDARD_TASKS,
    CampaignStatus,
    Category,
    ClassificationState,
    Opinion,
    StandardItem,
    StepAction,
    TaskStatus,
)
from .models import Campaign, Classification, ClassificationStep, Plan, Target, Task, TaskEvidence

S = ClassificationState

# --- The workflow table --------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    from_states: frozenset
    #: The state the action leads to; None when it stays (adjust, opinion, stop order) or the service decides.
    to_state: str | None
    capability: str
    label: Promise


TRANSITIONS: dict[str, Transition] = {
    StepAction.UPDATE_PROPOSAL: Transition(
        frozenset({S.PROPOSED}), S.PROPOSED, Capability.PROPOSE_CLASSIFICATION, gettext_lazy("Edit the proposal")
    ),
    StepAction.SUBMIT: Transition(
        frozenset({S.PROPOSED}), S.UNDER_REVIEW, Capability.SUBMIT_CLASSIFICATION, gettext_lazy("Submit for pre-review")
    ),
    StepAction.OPINION: Transition(
        frozenset({S.UNDER_REVIEW, S.REVIEWED}),
        None,
        Capability.GIVE_OPINION,
        gettext_lazy("Give a pre-review opinion"),
    ),
    StepAction.ADJUST: Transition(
        frozenset({S.PROPOSED, S.REVIEWED, S.RETURNED}), None, Capability.SUBMIT_CLASSIFICATION, gettext_lazy("Adjust")
    ),
    StepAction.RESUBMIT: Transition(
        frozenset({S.REVIEWED, S.RETURNED}),
        S.UNDER_REVIEW,
        Capability.SUBMIT_CLASSIFICATION,
        gettext_lazy("Resubmit for pre-review"),
    ),
    StepAction.FORWARD: Transition(
        frozenset({S.UNDER_REVIEW, S.REVIEWED, S.RETURNED}),
        S.PENDING_APPROVAL,
        Capability.SUBMIT_CLASSIFICATION,
        gettext_lazy("Forward to the city"),
    ),
    StepAction.APPROVE: Transition(
        frozenset({S.PENDING_APPROVAL}), S.APPROVED, Capability.APPROVE_CLASSIFICATION, gettext_lazy("Approve")
    ),
    StepAction.RETURN: Transition(
        frozenset({S.PENDING_APPROVAL}),
        S.RETURNED,
        Capability.APPROVE_CLASSIFICATION,
        gettext_lazy("Return to the county"),
    ),
    StepAction.WITHDRAW: Transition(
        frozenset({S.PROPOSED, S.REVIEWED, S.RETURNED}),
        S.WITHDRAWN,
        Capability.PROPOSE_CLASSIFICATION,
        gettext_lazy("Withdraw"),
    ),
    StepAction.STOP_ORDER: Transition(
        frozenset({S.IN_PROGRESS, S.AWAITING_ACCEPTANCE}),
        None,
        Capability.MANAGE_TASKS,
        gettext_lazy("Record the stop order"),
    ),
    StepAction.REQUEST_ACCEPTANCE: Transition(
        frozenset({S.IN_PROGRESS}), S.AWAITING_ACCEPTANCE, Capability.MANAGE_TASKS, gettext_lazy("Request acceptance")
    ),
    StepAction.ACCEPT: Transition(
        frozenset({S.AWAITING_ACCEPTANCE}),
        S.ACCEPTED,
        Capability.ACCEPT_CLASSIFICATION,
        gettext_lazy("Accept and close"),
    ),
    StepAction.FAIL_ACCEPTANCE: Transition(
        frozenset({S.AWAITING_ACCEPTANCE}),
        S.IN_PROGRESS,
        Capability.ACCEPT_CLASSIFICATION,
        gettext_lazy("Record a failed acceptance"),
    ),
    StepAction.REOPEN: Transition(
        frozenset({S.ACCEPTED}), S.IN_PROGRESS, Capability.REOPEN_CLASSIFICATION, gettext_lazy("Reopen")
    ),
}

#: Classification states in which the plan's tasks are worked on.
TASK_WORK_STATES = {S.IN_PROGRESS}
#: ... and in which a done task may still be verified (the county verifies while preparing the acceptance).
TASK_VERIFY_STATES = {S.IN_PROGRESS, S.AWAITING_ACCEPTANCE}

#: Fields of a classification a proposal or an adjustment may set.
DETAIL_FIELDS = ("destination_park", "absorbing_enterprise", "exclusion_reason", "problems", "deadline")


@dataclass(frozen=True)
class Refusal:
    """Why a step is refused; `permission` → PermissionDenied (role/region), else ValidationError (state/data)."""

    message: str
    permission: bool = False
    #: {field: message} when the refusal is about fields (missing or invalid details): raised keyed by field.
    fields: dict | None = None

    def exception(self):
        if self.permission:
            return PermissionDenied(self.message)
        return ValidationError(self.fields) if self.fields else ValidationError(self.message)


def _permission_refusal(user, capability: str, region) -> Refusal | None:
    try:
        require(user, capability, region)
    except PermissionDenied as error:
        return Refusal(str(error), permission=True)
    return None


def _state_refusal(classification: Classification, action: str) -> Refusal:
    return Refusal(
        _("This classification is currently “%(state)s”; “%(action)s” is not possible.")
        % {"state": classification.get_state_display(), "action": TRANSITIONS[action].label}
    )


def missing_reviewers(classification: Classification) -> list[Department]:
    """Pre-review departments that have not given their opinion in the classification's current round."""
    given = ClassificationStep.objects.filter(
        classification=classification, action=StepAction.OPINION, review_round=classification.review_round
    ).values("department_id")
    return list(Department.objects.filter(reviews_classifications=True).exclude(pk__in=given))


def _department_names(departments) -> str:
    return "、".join(d.short_name or d.name for d in departments)


def _extra_refusal(classification: Classification, user, action: str) -> Refusal | None:
    """The conditions of an action beyond role, region and state."""
    if action in (StepAction.SUBMIT, StepAction.RESUBMIT) and classification.category == Category.UNDECIDED:
        return Refusal(_("Choose a category first: an undecided classification cannot be submitted."))
    if action == StepAction.OPINION:
        department = getattr(user, "department", None)
        if department is None or not department.reviews_classifications:
            return Refusal(
                _("Your account does not belong to a pre-review department, so you cannot give an opinion."),
                permission=True,
            )
        already = ClassificationStep.objects.filter(
            classification=classification,
            action=StepAction.OPINION,
            review_round=classification.review_round,
            department=department,
        ).exists()
        if already:
            return Refusal(
                _("%(department)s has already given its opinion in this pre-review round.")
                % {"department": department.name}
            )
    if action == StepAction.FORWARD:
        missing = missing_reviewers(classification)
        if missing:
            return Refusal(
                _("Waiting for the pre-review opinions of: %(departments)s.")
                % {"departments": _department_names(missing)}
            )
    if action in (StepAction.SUBMIT, StepAction.RESUBMIT, StepAction.FORWARD, StepAction.APPROVE):
        try:
            _check_details(classification)
        except ValidationError as error:
            return Refusal(" ".join(error.messages), fields=error.message_dict)
    if action == StepAction.STOP_ORDER and classification.category != Category.SHUTDOWN:
        return Refusal(_("Only a shutdown has a stop order."))
    if action == StepAction.REQUEST_ACCEPTANCE:
        return _acceptance_request_refusal(classification)
    if action == StepAction.ACCEPT and getattr(user, "pk", None):
        own = Task.objects.filter(plan__classification=classification, status=TaskStatus.DONE, done_by_id=user.pk)
        if own.exists():
            return Refusal(
                _(
                    "You marked some of this plan's tasks done yourself; the acceptance must be made by someone "
                    "other than the person who marked them done."
                ),
                permission=True,
            )
    return None


def _acceptance_request_refusal(classification: Classification) -> Refusal | None:
    tasks = Task.objects.filter(plan__classification=classification)
    if not tasks.exists():
        return Refusal(_("The plan has no tasks yet; add its tasks before requesting acceptance."))
    open_tasks = list(tasks.exclude(status__in=[TaskStatus.DONE, TaskStatus.VERIFIED_CLOSED])[:6])
    if open_tasks:
        names = "；".join(task.description[:30] for task in open_tasks[:5])
        return Refusal(
            _("Every task must be done before acceptance; still open: %(tasks)s%(more)s.")
            % {"tasks": names, "more": "…" if len(open_tasks) > 5 else ""}
        )
    return None


def why_not(classification: Classification, user, action: str) -> str | None:
    """The reason `user` cannot take `action` on the classification now, or None when they can."""
    refusal = _refusal(classification, user, action)
    return refusal.message if refusal else None


def _refusal(classification: Classification, user, action: str) -> Refusal | None:
    transition = TRANSITIONS[action]
    refusal = _permission_refusal(user, transition.capability, classification.enterprise.township)
    if refusal:
        return refusal
    if classification.state not in transition.from_states:
        return _state_refusal(classification, action)
    return _extra_refusal(classification, user, action)


def _ensure(classification: Classification, user, action: str) -> None:
    refusal = _refusal(classification, user, action)
    if refusal:
        raise refusal.exception()


@dataclass(frozen=True)
class ActionCheck:
    action: str
    label: str
    allowed: bool
    reason: str | None


def explain_actions(classification: Classification, user) -> list[ActionCheck]:
    """The actions of the classification's current state that the user's role carries, each allowed or with
    the reason it is refused (for showing enabled and disabled buttons)."""
    checks = []
    for action, transition in TRANSITIONS.items():
        if classification.state not in transition.from_states or not role_can(user, transition.capability):
            continue
        reason = why_not(classification, user, action)
        checks.append(ActionCheck(action, str(transition.label), reason is None, reason))
    return checks


def available_actions(classification: Classification, user) -> list[str]:
    """The actions the user can take on the classification now."""
    return [check.action for check in explain_actions(classification, user) if check.allowed]


# --- Helpers ---------------------------------------------------------------------------------


def _user_or_none(actor):
    return actor if getattr(actor, "pk", None) else None


def _lock(classification: Classification) -> Classification:
    return (
        Classification.objects.select_for_update(of=("self",))
        .select_related("enterprise__township", "campaign")
        .get(pk=classification.pk)
    )


def _sync(target, source) -> None:
    """Bring the caller's instance up to date with the (locked) row the service changed."""
    if target is source:
        return
    for field in type(source)._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def _step(classification, actor, action, from_state, *, comment="", department=None, opinion="", details=None):
    return ClassificationStep.objects.create(
        classification=classification,
        action=action,
        from_state=from_state,
        to_state=classification.state,
        actor=_user_or_none(actor),
        department=department,
        review_round=classification.review_round,
        opinion=opinion,
        comment=comment,
        details=details or {},
    )


def _touch_enterprise(classification) -> None:
    """The enterprise's API record shows its classifications: mark it changed for sync and ETags.

    A loaded enterprise instance gets the new version, so a later save of it (status change) keeps it.
    """
    touch(Enterprise.objects.filter(pk=classification.enterprise_id))
    loaded = Classification.enterprise.field.get_cached_value(classification, None)
    if loaded is not None:
        loaded.version = Enterprise.objects.values_list("version", flat=True).get(pk=loaded.pk)


def _move(classification, actor, action, to_state, *, comment="", reason="", **step_fields):
    """Change the state, save with history and record the step."""
    from_state = classification.state
    classification.state = to_state
    save_tracked(classification, actor=actor, reason=reason or comment or str(StepAction(action).label), validate=False)
    _touch_enterprise(classification)
    return _step(classification, actor, action, from_state, comment=comment, **step_fields)


def _in_chinese(text) -> str:
    """Text stored in the register (task descriptions) is written in the register's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def _today() -> datetime.date:
    return timezone.localdate()


# --- Details of a classification ----------------------------------------------------------


def _normalise_details(category: str, details: dict) -> dict:
    """Keep the detail fields that apply to the category; the others are emptied (a park means nothing
    for an upgrade)."""
    unknown = set(details) - set(DETAIL_FIELDS)
    if unknown:
        raise TypeError(f"Unknown classification fields: {', '.join(sorted(unknown))}")
    if category not in Category.values:
        raise ValidationError({"category": _("Choose one of the categories.")})
    data = dict(details)
    if category != Category.RELOCATE:
        data["destination_park"] = None
    if category != Category.RESTRUCTURE:
        data["absorbing_enterprise"] = None
    if category != Category.EXCLUDED and "exclusion_reason" in data:
        data["exclusion_reason"] = ""
    if category == Category.EXCLUDED and "deadline" in data:
        data["deadline"] = None  # an exclusion (剔除) takes the enterprise out of scope: nothing to complete by
    for text_field in ("exclusion_reason", "problems"):
        if text_field in data:
            data[text_field] = (data[text_field] or "").strip()
    return data


#: What a category needs before the county submits it. A township's proposal may lack it (拟转移 before the
#: destination park is agreed, 拟重组 before the absorbing enterprise is, 剔除 before the written reason is): the
#: proposal is valid and shows what is missing; submit, resubmit, forward and approval are refused until filled.
REQUIRED_DETAILS = {
    Category.RELOCATE: "destination_park",
    Category.RESTRUCTURE: "absorbing_enterprise",
    Category.EXCLUDED: "exclusion_reason",
}
MISSING_DETAIL_MESSAGES = {
    "destination_park": gettext_lazy(
        "The destination park (迁入园区) is needed before the county submits: choose the recognised chemical park "
        "the enterprise moves to."
    ),
    "absorbing_enterprise": gettext_lazy(
        "The absorbing enterprise (兼并企业) is needed before the county submits: give the credit code or name of "
        "the enterprise that takes this one over."
    ),
    "exclusion_reason": gettext_lazy(
        "The reason for exclusion (剔除原因) is needed before the county submits: say why the enterprise is not in "
        "the campaign's scope."
    ),
}


def missing_details(classification: Classification) -> dict[str, str]:
    """{field: message} of what the classification's category still needs before the county submits it; empty
    when complete. Reads only the row's own columns (no query)."""
    name = REQUIRED_DETAILS.get(classification.category)
    if name is None:
        return {}
    if name == "exclusion_reason":
        present = bool((classification.exclusion_reason or "").strip())
    else:
        present = getattr(classification, f"{name}_id") is not None
    return {} if present else {name: str(MISSING_DETAIL_MESSAGES[name])}


def _check_given_details(classification: Classification) -> None:
    """The details given are valid (checked at the proposal and again at every later step: a park may lose its
    recognition); details still missing are not checked here (see missing_details)."""
    errors = {}
    category = classification.category
    if category == Category.RELOCATE and classification.destination_park_id is not None:
        park = classification.destination_park
        if park.recognition_status != RecognitionStatus.RECOGNISED:
            errors["destination_park"] = _(
                "%(park)s is not a recognised chemical park (%(status)s); an enterprise may only relocate to a "
                "recognised park."
            ) % {"park": park.name, "status": park.get_recognition_status_display()}
        elif park.pk == classification.enterprise.park_id:
            errors["destination_park"] = _("The enterprise is already in %(park)s.") % {"park": park.name}
    absorber_id = classification.absorbing_enterprise_id
    if category == Category.RESTRUCTURE and absorber_id is not None and absorber_id == classification.enterprise_id:
        errors["absorbing_enterprise"] = _("An enterprise cannot absorb itself; choose another enterprise.")
    if classification.deadline:
        campaign = classification.campaign
        if classification.deadline < campaign.starts_on:
            errors["deadline"] = _("The deadline lies before the campaign starts (%(date)s).") % {
                "date": campaign.starts_on
            }
        elif classification.deadline > campaign.ends_on:
            errors["deadline"] = _(
                "The deadline %(deadline)s lies after the campaign ends (%(date)s); choose a date by then."
            ) % {"deadline": classification.deadline, "date": campaign.ends_on}
    if errors:
        raise ValidationError(errors)


def _check_complete(classification: Classification) -> None:
    """Refuse a step beyond the proposal while the category's details are missing, saying what to fill in."""
    missing = missing_details(classification)
    if missing:
        raise ValidationError(
            {
                name: _(
                    "The classification is not complete yet. %(missing)s The township edits its proposal, or the "
                    "county adjusts it, to fill this in."
                )
                % {"missing": message}
                for name, message in missing.items()
            }
        )


def _check_details(classification: Classification) -> None:
    """Everything the category requires, given and valid: the condition of submit, resubmit, forward, approval."""
    _check_given_details(classification)
    _check_complete(classification)


def _apply_details(classification: Classification, category: str, details: dict) -> dict:
    """Set category and details; return {field: [old, new]} of what changed (for the step)."""
    data = _normalise_details(category, details)
    data["category"] = category
    before = {name: _plain(getattr(classification, name)) for name in data}
    changed = apply_changes(classification, data)
    _check_given_details(classification)
    classification.full_clean(exclude=["enterprise", "campaign", "replaces", "proposed_by"], validate_unique=False)
    return {name: [before[name], _plain(getattr(classification, name))] for name in changed}


def _plain(value):
    """A JSON-storable form of a field value (for step details)."""
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


# --- Proposals -------------------------------------------------------------------------------


def why_not_propose(enterprise: Enterprise, campaign: Campaign, user) -> str | None:
    """The reason `user` cannot propose (or edit the proposal of) a classification for the enterprise, or None."""
    refusal = _permission_refusal(user, Capability.PROPOSE_CLASSIFICATION, enterprise.township)
    if refusal:
        return refusal.message
    if campaign.status == CampaignStatus.CLOSED:
        return _("The campaign %(campaign)s is closed; no more proposals are taken.") % {"campaign": campaign.name}
    rows = Classification.objects.filter(enterprise=enterprise, campaign=campaign)
    current = rows.filter(is_current=True).first()
    pending = rows.pending_changes().first()
    blocking = pending if pending is not None else current
    if blocking is not None and blocking.state in OPEN_PROPOSAL_STATES and blocking.state != S.PROPOSED:
        return _blocked_message(blocking)
    return None


def _blocked_message(classification: Classification) -> str:
    return _(
        "A proposal for this enterprise is already on its way (currently “%(state)s”); ask the county office to "
        "adjust it instead."
    ) % {"state": classification.get_state_display()}


@transaction.atomic
def propose_classification(
    enterprise: Enterprise, campaign: Campaign, category: str, actor, comment: str = "", **details
) -> Classification:
    """Propose the enterprise's classification in the campaign (the township's step).

    - no classification yet (or only withdrawn ones): a new proposal;
    - a proposal still at "proposed": updated in place (a step "proposal updated" records what changed);
    - a decided classification (approved … accepted): a change request, i.e. a new row replacing it once
      approved through the same workflow (the old decision stays, superseded, in the history);
    - anything already on its way to a decision: refused (the county adjusts it).
    `details`: destination_park, absorbing_enterprise, exclusion_reason, problems, deadline.
    """
    require(actor, Capability.PROPOSE_CLASSIFICATION, enterprise.township)
    reason = why_not_propose(enterprise, campaign, actor)
    if reason:
        raise ValidationError(reason)

    rows = Classification.objects.select_for_update(of=("self",)).filter(enterprise=enterprise, campaign=campaign)
    current = rows.filter(is_current=True).first()
    pending = rows.filter(is_current=False, state__in=OPEN_PROPOSAL_STATES).first()

    # The row a new proposal would edit: a pending change, else a current row not decided yet.
    undecided_current = current if current is not None and current.state in OPEN_PROPOSAL_STATES else None
    editable = pending or undecided_current
    if editable is not None:
        if editable.state != S.PROPOSED:  # changed since the check above
            raise ValidationError(_blocked_message(editable))
        editable.enterprise = enterprise
        editable.campaign = campaign
        changes = _apply_details(editable, category, details)
        if not changes:
            return editable
        save_tracked(editable, actor=actor, reason=comment or _("Proposal updated"), validate=False)
        _touch_enterprise(editable)
        _step(editable, actor, StepAction.UPDATE_PROPOSAL, S.PROPOSED, comment=comment, details={"changes": changes})
        return editable

    classification = Classification(
        enterprise=enterprise,
        campaign=campaign,
        state=S.PROPOSED,
        proposed_by=_user_or_none(actor),
        is_current=current is None,
        replaces=current if current is not None else None,
    )
    _apply_details(classification, category, details)
    if current is not None:
        same = current.category == classification.category and all(
            getattr(current, name) == getattr(classification, name) for name in DETAIL_FIELDS
        )
        if same:
            raise ValidationError(
                _("The proposal is the same as the decision in force (%(category)s); change the category or details.")
                % {"category": current.get_category_display()}
            )
    try:
        with transaction.atomic():
            save_tracked(classification, actor=actor, reason=comment or _("Proposed"), validate=False)
    except IntegrityError as error:
        raise ValidationError(
            _("Someone else proposed a classification for this enterprise at the same moment; reload the page.")
        ) from error
    _touch_enterprise(classification)
    details_record = {"replaces": current.pk} if current is not None else {}
    _step(classification, actor, StepAction.PROPOSE, "", comment=comment, details=details_record)
    return classification


@transaction.atomic
def withdraw_classification(classification: Classification, actor, comment: str = "") -> Classification:
    """Withdraw a proposal not yet forwarded to the city; the decision in force (if any) stays."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.WITHDRAW)
    locked.is_current = False
    _move(locked, actor, StepAction.WITHDRAW, S.WITHDRAWN, comment=comment)
    _sync(classification, locked)
    return locked


# --- Pre-review ---------------------------------------------------------------------------


def _complete_review_if_due(classification: Classification) -> None:
    """When every pre-review department has given its opinion, the round is complete (a step by the system)."""
    if classification.state == S.UNDER_REVIEW and not missing_reviewers(classification):
        _move(classification, None, StepAction.REVIEW_COMPLETE, S.REVIEWED)


@transaction.atomic
def submit_classification(classification: Classification, actor, comment: str = "") -> Classification:
    """The county submits a township's proposal for pre-review (round 1)."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.SUBMIT)  # also: the category's details given and valid
    locked.review_round += 1
    _move(locked, actor, StepAction.SUBMIT, S.UNDER_REVIEW, comment=comment)
    _complete_review_if_due(locked)
    _sync(classification, locked)
    return locked


@transaction.atomic
def give_opinion(classification: Classification, actor, opinion: str, comment: str = "") -> ClassificationStep:
    """A pre-review department's opinion for the current round (one per department and round)."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.OPINION)
    if opinion not in Opinion.values:
        raise ValidationError({"opinion": _("Choose agree, agree with changes or disagree.")})
    comment = (comment or "").strip()
    if opinion != Opinion.AGREE and not comment:
        raise ValidationError({"comment": _("Say what should change or why you disagree.")})
    try:
        with transaction.atomic():
            step = _step(
                locked,
                actor,
                StepAction.OPINION,
                locked.state,
                comment=comment,
                department=actor.department,
                opinion=opinion,
            )
    except IntegrityError as error:
        raise ValidationError(
            _("%(department)s has already given its opinion in this pre-review round.")
            % {"department": actor.department.name}
        ) from error
    # The opinion is part of the classification's record (its timeline): the API's sync must see it.
    locked.version += 1
    Classification.objects.filter(pk=locked.pk).update(version=locked.version, updated_at=timezone.now())
    _complete_review_if_due(locked)
    _sync(classification, locked)
    return step


@transaction.atomic
def adjust_classification(
    classification: Classification, actor, category: str | None = None, comment: str = "", **details
) -> Classification:
    """The county adjusts the proposal (category and details) after the opinions or the city's return."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.ADJUST)
    changes = _apply_details(locked, category or locked.category, details)
    if not changes:
        raise ValidationError(
            _("The adjustment changes nothing; to pass the classification on unchanged, forward or resubmit it.")
        )
    save_tracked(locked, actor=actor, reason=comment or _("Adjusted by the county"), validate=False)
    _touch_enterprise(locked)
    _step(locked, actor, StepAction.ADJUST, locked.state, comment=comment, details={"changes": changes})
    _sync(classification, locked)
    return locked


@transaction.atomic
def resubmit_classification(classification: Classification, actor, comment: str = "") -> Classification:
    """The county sends the (adjusted) classification through a new pre-review round."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.RESUBMIT)  # also: the category's details given and valid
    locked.review_round += 1
    _move(locked, actor, StepAction.RESUBMIT, S.UNDER_REVIEW, comment=comment)
    _complete_review_if_due(locked)
    _sync(classification, locked)
    return locked


@transaction.atomic
def forward_to_city(classification: Classification, actor, comment: str = "") -> Classification:
    """The county forwards the reviewed classification to the city for approval."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.FORWARD)  # also: the category's details given and valid
    _move(locked, actor, StepAction.FORWARD, S.PENDING_APPROVAL, comment=comment)
    _sync(classification, locked)
    return locked


# --- City decision ------------------------------------------------------------------------


@transaction.atomic
def approve_classification(classification: Classification, actor, comment: str = "") -> Classification:
    """The city approves. A change request supersedes the decision in force; a four-batch category gets its
    plan with the standard tasks and its rectification starts at once (steps "approved" and "started")."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.APPROVE)  # also: the category's details given and valid
    if locked.replaces_id:
        old = _lock(locked.replaces)
        old.is_current = False
        _move(
            old,
            actor,
            StepAction.SUPERSEDE,
            S.SUPERSEDED,
            reason=_("Superseded by a new decision"),
            details={"by": locked.pk},
        )
    locked.is_current = True
    locked.approved_at = timezone.now()
    _move(locked, actor, StepAction.APPROVE, S.APPROVED, comment=comment)
    if locked.has_plan:
        _create_plan(locked, actor)
        _move(locked, actor, StepAction.START, S.IN_PROGRESS)
    _sync(classification, locked)
    return locked


def _create_plan(classification: Classification, actor) -> Plan:
    plan = Plan(classification=classification)
    save_tracked(plan, actor=actor, validate=False)
    deadline = classification.deadline or classification.campaign.ends_on
    tasks = [
        Task(
            plan=plan,
            order=index,
            standard_item=item,
            description=_in_chinese(StandardItem(item).label),
            lead_region=classification.enterprise.township,
            deadline=deadline,
        )
        for index, item in enumerate(STANDARD_TASKS[classification.category], start=1)
    ]
    bulk_create_with_history(
        tasks, Task, default_user=_user_or_none(actor), default_change_reason=_("Standard task of the plan")
    )
    return plan


@transaction.atomic
def return_to_county(classification: Classification, actor, comment: str) -> Classification:
    """The city returns the classification to the county, saying why."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.RETURN)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("Say why the classification is returned.")})
    _move(locked, actor, StepAction.RETURN, S.RETURNED, comment=comment)
    _sync(classification, locked)
    return locked


# --- Shutdown stop order, acceptance, 回头看 ---------------------------------------------


@transaction.atomic
def record_stop_order(classification: Classification, actor, date: datetime.date, comment: str = "") -> Classification:
    """Record (or correct) the date of a shutdown's stop order; its expert acceptance is due a month later."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.STOP_ORDER)
    if date is None:
        raise ValidationError({"stop_order_on": _("Enter the date of the stop order.")})
    if date > _today():
        raise ValidationError({"stop_order_on": _("The stop order date cannot lie in the future.")})
    if locked.stop_order_on == date:
        return locked
    previous = locked.stop_order_on
    locked.stop_order_on = date
    # A corrected date is judged afresh by the deadline check.
    locked.five_thorough_flagged_on = None
    save_tracked(locked, actor=actor, reason=comment or _("Stop order recorded"), validate=False)
    _step(
        locked,
        actor,
        StepAction.STOP_ORDER,
        locked.state,
        comment=comment,
        details={"stop_order_on": date.isoformat(), "previous": previous.isoformat() if previous else None},
    )
    _sync(classification, locked)
    return locked


@transaction.atomic
def request_acceptance(classification: Classification, actor, comment: str = "") -> Classification:
    """All tasks done (or verified): ask the county/city for the acceptance check."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.REQUEST_ACCEPTANCE)
    _move(locked, actor, StepAction.REQUEST_ACCEPTANCE, S.AWAITING_ACCEPTANCE, comment=comment)
    _sync(classification, locked)
    return locked


def _set_enterprise_status(enterprise, actor, status: str, reason: str) -> None:
    """The enterprise's operating status follows the workflow (closed on acceptance, operating again on a
    reopening). The transition's own capability authorises it, so a supervisor's 回头看 may reopen an
    enterprise without holding the right to edit enterprises; the change is in the enterprise's history."""
    if enterprise.status != status:
        enterprise.status = status
        enterprise.version += 1  # Enterprise.save() does not raise it; the API's ETags and sync need it
        save_tracked(enterprise, actor=actor, reason=reason, validate=False)


def _inspection_details(inspection) -> dict:
    return {"inspection": inspection.pk} if inspection is not None else {}


@transaction.atomic
def accept_classification(classification: Classification, actor, inspection=None, comment: str = "") -> Classification:
    """Acceptance passed: the classification is closed (销号).

    Tasks still "done" are verified by the acceptor (who must not be the person who marked them done). A shutdown
    closes the enterprise. A relocation moves it to its destination park, where it keeps operating: the old
    site's closure is recorded in the step's details and the enterprise's history (the report then counts it
    in the park).
    """
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.ACCEPT)
    now = timezone.now()
    Task.objects.filter(plan__classification=locked, status=TaskStatus.DONE).update(
        status=TaskStatus.VERIFIED_CLOSED,
        verified_by=_user_or_none(actor),
        verified_at=now,
        version=F("version") + 1,
        updated_at=now,
    )
    locked.accepted_at = now
    enterprise = locked.enterprise
    details = _inspection_details(inspection)
    moving = locked.category == Category.RELOCATE and locked.destination_park_id is not None
    if moving:
        details |= {"old_site_closed": True, "from_park": enterprise.park_id, "to_park": locked.destination_park_id}
    _move(locked, actor, StepAction.ACCEPT, S.ACCEPTED, comment=comment, details=details)
    reason = _("%(category)s accepted in %(campaign)s") % {
        "category": locked.get_category_display(),
        "campaign": locked.campaign.name,
    }
    if locked.category == Category.SHUTDOWN:
        if enterprise.status not in (OperatingStatus.CLOSED, OperatingStatus.DEREGISTERED):
            _set_enterprise_status(enterprise, actor, OperatingStatus.CLOSED, reason)
    elif moving and enterprise.status != OperatingStatus.DEREGISTERED:
        enterprise.park = locked.destination_park
        enterprise.status = OperatingStatus.OPERATING
        enterprise.version += 1  # Enterprise.save() does not raise it; the API's ETags and sync need it
        save_tracked(
            enterprise,
            actor=actor,
            reason=_("%(reason)s: old site closed, now operating in %(park)s")
            % {"reason": reason, "park": locked.destination_park.name},
            validate=False,
        )
    _sync(classification, locked)
    return locked


@transaction.atomic
def fail_acceptance(
    classification: Classification, actor, reasons, inspection=None, failed_items=None
) -> Classification:
    """Acceptance failed: back to "in progress" with the reasons; the tasks of `failed_items`
    (StandardItem codes, e.g. the 两断三清 items the inspection found unmet) are reopened."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.FAIL_ACCEPTANCE)
    if isinstance(reasons, str):
        reasons = [reasons]
    reasons = [str(reason).strip() for reason in reasons or [] if str(reason).strip()]
    if not reasons:
        raise ValidationError({"reasons": _("Say why the acceptance failed.")})
    failed_items = list(failed_items or [])
    unknown = [item for item in failed_items if item not in StandardItem.values]
    if unknown:
        raise ValidationError(
            {"failed_items": _("Unknown checklist items: %(items)s.") % {"items": ", ".join(unknown)}}
        )
    reopened = []
    if failed_items:
        for task in Task.objects.filter(plan__classification=locked, standard_item__in=failed_items):
            if task.status in (TaskStatus.DONE, TaskStatus.VERIFIED_CLOSED):
                _reset_task(task)
                save_tracked(
                    task,
                    actor=actor,
                    reason=_("Acceptance failed: %(reasons)s") % {"reasons": "；".join(reasons)},
                    validate=False,
                )
                reopened.append(task.pk)
    details = _inspection_details(inspection) | {"reasons": reasons, "reopened_tasks": reopened}
    _move(locked, actor, StepAction.FAIL_ACCEPTANCE, S.IN_PROGRESS, comment="；".join(reasons), details=details)
    _sync(classification, locked)
    return locked


@transaction.atomic
def reopen_classification(classification: Classification, actor, reason: str, inspection=None) -> Classification:
    """A 回头看 found the closed enterprise producing again (or the acceptance was wrong): back to
    "in progress". A closed shutdown or relocation puts the enterprise back to "operating"."""
    locked = _lock(classification)
    _ensure(locked, actor, StepAction.REOPEN)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the classification is reopened.")})
    locked.accepted_at = None
    _move(locked, actor, StepAction.REOPEN, S.IN_PROGRESS, comment=reason, details=_inspection_details(inspection))
    if locked.category in (Category.SHUTDOWN, Category.RELOCATE) and locked.enterprise.status == OperatingStatus.CLOSED:
        _set_enterprise_status(locked.enterprise, actor, OperatingStatus.OPERATING, reason)
    _sync(classification, locked)
    return locked


# --- Tasks ---------------------------------------------------------------------------------


TASK_EDIT_FIELDS = (
    "description",
    "deadline",
    "lead_department",
    "lead_region",
    "cooperating_units",
    "responsible_person",
    "note",
    "status",
)


class TaskAction:
    EDIT = "edit"
    DELETE = "delete"
    MARK_DONE = "mark_done"
    VERIFY = "verify"
    REOPEN = "reopen"
    ADD_EVIDENCE = "add_evidence"


def _classification_of(task: Task) -> Classification:
    return task.plan.classification


def _plan_refusal(plan: Plan, user, capability=Capability.MANAGE_TASKS, states=TASK_WORK_STATES) -> Refusal | None:
    classification = plan.classification
    refusal = _permission_refusal(user, capability, classification.enterprise.township)
    if refusal:
        return refusal
    if classification.state not in states:
        return Refusal(
            _("The plan can only be changed while the rectification is in progress; it is “%(state)s”.")
            % {"state": classification.get_state_display()}
        )
    return None


def plan_why_not(plan: Plan, user) -> str | None:
    """Why the user cannot add or reorder tasks of the plan now (the check add_task and reorder_tasks make)."""
    refusal = _plan_refusal(plan, user)
    return refusal.message if refusal else None


def task_why_not(task: Task, user, action: str) -> str | None:
    """The reason `user` cannot take `action` (a TaskAction) on the task now, or None."""
    refusal = _task_refusal(task, user, action)
    return refusal.message if refusal else None


def task_actions(task: Task, user) -> dict[str, str | None]:
    """Every TaskAction with None (allowed) or the reason it is refused."""
    return {
        action: task_why_not(task, user, action)
        for action in (
            TaskAction.EDIT,
            TaskAction.DELETE,
            TaskAction.MARK_DONE,
            TaskAction.VERIFY,
            TaskAction.REOPEN,
            TaskAction.ADD_EVIDENCE,
        )
    }


def _task_refusal(task: Task, user, action: str) -> Refusal | None:
    if action == TaskAction.VERIFY:
        refusal = _plan_refusal(task.plan, user, Capability.VERIFY_TASK, TASK_VERIFY_STATES)
        if refusal:
            return refusal
        if task.status != TaskStatus.DONE:
            return Refusal(
                _("Only a task marked done can be verified; this one is “%(status)s”.")
                % {"status": task.get_status_display()}
            )
        if task.done_by_id and task.done_by_id == getattr(user, "pk", None):
            return Refusal(
                _("You marked this task done yourself; it must be verified by someone else."), permission=True
            )
        return None
    if action == TaskAction.REOPEN:
        capability = Capability.VERIFY_TASK if task.status == TaskStatus.VERIFIED_CLOSED else Capability.MANAGE_TASKS
        refusal = _plan_refusal(task.plan, user, capability)
        if refusal:
            return refusal
        if task.status not in (TaskStatus.DONE, TaskStatus.VERIFIED_CLOSED):
            return Refusal(_("Only a done or closed task can be reopened."))
        return None
    refusal = _plan_refusal(task.plan, user)
    if refusal:
        return refusal
    if action == TaskAction.ADD_EVIDENCE:
        if task.status == TaskStatus.VERIFIED_CLOSED:
            return Refusal(_("The task is closed; reopen it to add evidence."))
        return None
    if task.status in (TaskStatus.DONE, TaskStatus.VERIFIED_CLOSED):
        return Refusal(
            _("The task is “%(status)s”; reopen it before changing it.") % {"status": task.get_status_display()}
        )
    if action == TaskAction.DELETE and task.is_standard:
        return Refusal(_("A standard task of the category cannot be deleted; it is part of the checklist."))
    return None


def _ensure_task(task: Task, user, action: str) -> None:
    refusal = _task_refusal(task, user, action)
    if refusal:
        raise refusal.exception()


def _lock_task(task: Task) -> Task:
    return (
        Task.objects.select_for_update(of=("self",))
        .select_related("plan__classification__enterprise__township", "plan__classification__campaign")
        .get(pk=task.pk)
    )


def _check_lead_unit(task: Task) -> None:
    errors = {}
    if task.lead_department_id and task.lead_region_id:
        errors["lead_region"] = _("Choose one lead unit: a department or a government, not both.")
    elif not task.lead_department_id and not task.lead_region_id:
        errors["lead_department"] = _("Choose the lead unit: a department or the township/county government.")
    elif task.lead_region_id:
        township = task.plan.classification.enterprise.township
        if not task.lead_region.contains(township):
            errors["lead_region"] = _("The lead government must be the enterprise's own township, county or city.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def add_task(
    plan: Plan,
    actor,
    description: str,
    deadline: datetime.date,
    lead_department=None,
    lead_region=None,
    cooperating_units: str = "",
    responsible_person: str = "",
    note: str = "",
) -> Task:
    """Add a task at the end of the plan; without a lead unit the enterprise's township leads it."""
    plan = Plan.objects.select_related("classification__enterprise__township", "classification__campaign").get(
        pk=plan.pk
    )
    _lock(plan.classification)
    refusal = _plan_refusal(plan, actor)
    if refusal:
        raise refusal.exception()
    if lead_department is None and lead_region is None:
        lead_region = plan.classification.enterprise.township
    last = plan.tasks.aggregate(last=Max("order"))["last"] or 0
    task = Task(
        plan=plan,
        order=last + 1,
        description=(description or "").strip(),
        deadline=deadline,
        lead_department=lead_department,
        lead_region=lead_region,
        cooperating_units=cooperating_units,
        responsible_person=responsible_person,
        note=note,
    )
    _check_lead_unit(task)
    task.full_clean(exclude=["plan"])
    save_tracked(task, actor=actor, reason=_("Task added"), validate=False)
    return task


@transaction.atomic
def update_task(task: Task, actor, reason: str = "", **changes) -> list[str]:
    """Edit a task (description, deadline, lead unit, cooperating units, responsible person, note) or report
    progress (status not_started / in_progress). Returns the changed fields; an overdue task given a deadline
    not yet past is back "in progress"."""
    locked = _lock_task(task)
    _ensure_task(locked, actor, TaskAction.EDIT)
    unknown = set(changes) - set(TASK_EDIT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown task fields: {', '.join(sorted(unknown))}")
    new_status = changes.get("status", locked.status)
    if new_status != locked.status and new_status not in (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS):
        raise ValidationError(
            {"status": _("Use “mark done” to complete a task; here only “not started” or “in progress” can be set.")}
        )
    if "lead_department" in changes and changes["lead_department"] is not None:
        changes.setdefault("lead_region", None)
    if "lead_region" in changes and changes["lead_region"] is not None:
        changes.setdefault("lead_department", None)
    if "description" in changes:
        changes["description"] = (changes["description"] or "").strip()
    changed = apply_changes(locked, changes)
    if locked.status == TaskStatus.OVERDUE and locked.deadline >= _today():
        locked.status = TaskStatus.IN_PROGRESS
        changed.append("status")
    if not changed:
        return []
    _check_lead_unit(locked)
    locked.full_clean(exclude=["plan"])
    save_tracked(locked, actor=actor, reason=reason or _("Task edited"), validate=False)
    _sync(task, locked)
    return changed


@transaction.atomic
def reorder_tasks(plan: Plan, actor, ordered_ids) -> None:
    """Put the plan's tasks in the given order; `ordered_ids` must list every task of the plan exactly once."""
    plan = Plan.objects.select_related("classification__enterprise__township", "classification__campaign").get(
        pk=plan.pk
    )
    _lock(plan.classification)
    refusal = _plan_refusal(plan, actor)
    if refusal:
        raise refusal.exception()
    try:
        ordered_ids = [int(pk) for pk in ordered_ids]
    except (TypeError, ValueError) as error:
        raise ValidationError(_("The new order names something that is not a task.")) from error
    tasks = {task.pk: task for task in plan.tasks.all()}
    if len(ordered_ids) != len(set(ordered_ids)) or set(ordered_ids) != set(tasks):
        raise ValidationError(_("The new order must list every task of this plan exactly once; reload the page."))
    now = timezone.now()
    moved = []
    for position, pk in enumerate(ordered_ids, start=1):
        task = tasks[pk]
        if task.order != position:
            task.order = position
            task.version += 1
            task.updated_at = now
            moved.append(task)
    if moved:
        Task.objects.bulk_update(moved, ["order", "version", "updated_at"])


@transaction.atomic
def delete_task(task: Task, actor, reason: str = "") -> None:
    """Delete a task added by hand that is not done; standard tasks stay (they are the category's checklist)."""
    locked = _lock_task(task)
    _ensure_task(locked, actor, TaskAction.DELETE)
    delete_tracked(locked, actor=actor, reason=reason or _("Task deleted"))


@transaction.atomic
def mark_task_done(task: Task, actor, completed_on: datetime.date, note: str = "", evidence=()) -> Task:
    """Report a task done on `completed_on` with a note and evidence files (each checked by type and size)."""
    locked = _lock_task(task)
    _ensure_task(locked, actor, TaskAction.MARK_DONE)
    if completed_on is None:
        raise ValidationError({"completed_on": _("Enter the date the task was completed.")})
    if completed_on > _today():
        raise ValidationError({"completed_on": _("The completion date cannot lie in the future.")})
    evidence = list(evidence)
    # Check every file before storing any, so one bad file leaves nothing behind.
    for uploaded in evidence:
        validate_upload(uploaded, max_bytes=settings.RECTIFICATION_EVIDENCE_MAX_BYTES)
    for uploaded in evidence:
        _store_evidence(locked, actor, uploaded)
    locked.status = TaskStatus.DONE
    locked.completed_on = completed_on
    locked.note = (note or "").strip() or locked.note
    locked.done_by = _user_or_none(actor)
    locked.done_at = timezone.now()
    locked.verified_by = None
    locked.verified_at = None
    save_tracked(locked, actor=actor, reason=_("Task marked done"), validate=False)
    _sync(task, locked)
    return locked


@transaction.atomic
def verify_task(task: Task, actor, comment: str = "") -> Task:
    """Verify a done task and close it (销号); refused to the person who marked it done."""
    locked = _lock_task(task)
    _ensure_task(locked, actor, TaskAction.VERIFY)
    locked.status = TaskStatus.VERIFIED_CLOSED
    locked.verified_by = _user_or_none(actor)
    locked.verified_at = timezone.now()
    save_tracked(locked, actor=actor, reason=comment or _("Task verified and closed"), validate=False)
    _sync(task, locked)
    return locked


def _reset_task(task: Task) -> None:
    task.status = TaskStatus.IN_PROGRESS
    task.completed_on = None
    task.done_by = None
    task.done_at = None
    task.verified_by = None
    task.verified_at = None


@transaction.atomic
def reopen_task(task: Task, actor, reason: str) -> Task:
    """Send a done or closed task back to "in progress" (the evidence stays)."""
    locked = _lock_task(task)
    _ensure_task(locked, actor, TaskAction.REOPEN)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the task is reopened.")})
    _reset_task(locked)
    save_tracked(locked, actor=actor, reason=reason, validate=False)
    _sync(task, locked)
    return locked


#: Content types of the accepted extensions (taken from the checked extension, never from the browser).
_CONTENT_TYPES = {"wps": "application/vnd.ms-works", "et": "application/vnd.ms-excel"}


def _store_evidence(task: Task, actor, uploaded) -> TaskEvidence:
    validate_upload(uploaded, max_bytes=settings.RECTIFICATION_EVIDENCE_MAX_BYTES)
    name = os.path.basename(uploaded.name or "")
    if len(name) > 255:
        raise ValidationError({"file": _("The file name is longer than 255 characters; rename the file and retry.")})
    extension = os.path.splitext(name)[1].lower().lstrip(".")
    content_type = _CONTENT_TYPES.get(extension) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    evidence = TaskEvidence(
        task=task,
        original_name=name,
        size=uploaded.size,
        content_type=content_type,
        uploaded_by=_user_or_none(actor),
    )
    evidence.file.save(name, uploaded, save=False)
    try:
        evidence.save()
    except Exception:
        evidence.file.delete(save=False)
        raise
    return evidence


@transaction.atomic
def add_evidence(task: Task, actor, uploaded_file) -> TaskEvidence:
    """Attach an evidence file to a task: JPG/PNG/GIF/WEBP, PDF, Office or WPS documents whose content matches
    their extension, not empty and at most settings.RECTIFICATION_EVIDENCE_MAX_BYTES."""
    locked = _lock_task(task)
    _ensure_task(locked, actor, TaskAction.ADD_EVIDENCE)
    evidence = _store_evidence(locked, actor, uploaded_file)
    touch(Task.objects.filter(pk=locked.pk))  # the API shows a task with its evidence
    return evidence


@transaction.atomic
def delete_evidence(evidence: TaskEvidence, actor) -> None:
    """Remove an evidence file of a task not yet closed."""
    locked = _lock_task(evidence.task)
    _ensure_task(locked, actor, TaskAction.ADD_EVIDENCE)
    stored = evidence.file.name
    evidence.delete()
    touch(Task.objects.filter(pk=locked.pk))
    storage = evidence.file.storage
    transaction.on_commit(lambda: storage.delete(stored))


# --- Rules the worker runs ----------------------------------------------------------------


_CHUNK = 500


def _chunks(items, size=_CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


@transaction.atomic
def flag_overdue_shutdown_acceptance(on_date: datetime.date) -> list[int]:
    """Shutdowns not accepted one month after their stop order are flagged for the 五彻底 forced measures.

    Set-based and idempotent: flags only rows not flagged yet (five_thorough_flagged_on = on_date, a step by
    the system on each) and returns their ids; a second run the same day returns [].
    """
    candidates = list(
        Classification.objects.select_for_update(of=("self",))
        .filter(
            is_current=True,
            category=Category.SHUTDOWN,
            state__in=[S.APPROVED, S.IN_PROGRESS, S.AWAITING_ACCEPTANCE],
            five_thorough_flagged_on__isnull=True,
            # a month is at least 28 days: a cheap bound, refined exactly below
            stop_order_on__lt=on_date - datetime.timedelta(days=28),
        )
        .values_list("pk", "stop_order_on", "state", "review_round")
    )
    due = [row for row in candidates if add_months(row[1], SHUTDOWN_ACCEPTANCE_MONTHS) < on_date]
    if not due:
        return []
    now = timezone.now()
    ids = [row[0] for row in due]
    for chunk in _chunks(ids):
        Classification.objects.filter(pk__in=chunk, five_thorough_flagged_on__isnull=True).update(
            five_thorough_flagged_on=on_date, version=F("version") + 1, updated_at=now
        )
    ClassificationStep.objects.bulk_create(
        [
            ClassificationStep(
                classification_id=pk,
                action=StepAction.FIVE_THOROUGH,
                from_state=state,
                to_state=state,
                review_round=review_round,
                details={
                    "stop_order_on": stop_order_on.isoformat(),
                    "due_on": add_months(stop_order_on, SHUTDOWN_ACCEPTANCE_MONTHS).isoformat(),
                    "flagged_on": on_date.isoformat(),
                },
                at=now,
            )
            for pk, stop_order_on, state, review_round in due
        ],
        batch_size=_CHUNK,
    )
    return ids


@transaction.atomic
def mark_overdue_tasks(on_date: datetime.date) -> list[int]:
    """Tasks not started or in progress whose deadline has passed become "overdue" (set-based, idempotent).

    Only tasks of plans being worked on count. Returns the ids of the tasks changed by this run.
    """
    due = Task.objects.filter(
        status__in=[TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS],
        deadline__lt=on_date,
        plan__classification__state=S.IN_PROGRESS,
    )
    # Lock and read the rows first (the worker notifies their lead units), then one UPDATE for all of them:
    # the locks keep those rows as read, and pk <= the highest read leaves out tasks added meanwhile.
    ids = list(due.select_for_update(of=("self",)).values_list("pk", flat=True))
    if ids:
        due.filter(pk__lte=max(ids)).update(
            status=TaskStatus.OVERDUE, version=F("version") + 1, updated_at=timezone.now()
        )
    return ids


@transaction.atomic
def propose_shutdowns_for_repeated_tier3(year: int, campaign: Campaign, actor=None) -> list[Classification]:
    """Enterprises rated tier 3 in `year - 1` and `year` get a shutdown proposal in the campaign.

    Skipped: enterprises that already have a shutdown classification in the campaign in any state (so a
    proposal withdrawn by the county is not made again), those with a proposal on its way, closed or
    deregistered ones. An enterprise with a decided classification of another category gets a change request.
    Bulk and idempotent: a second run creates nothing. Returns the classifications created.
    With an `actor`, only enterprises in their region and only if their role may propose.
    """
    enterprises = Enterprise.objects.all()
    if actor is not None:
        require(actor, Capability.PROPOSE_CLASSIFICATION)
        enterprises = enterprises.visible_to(actor)
    tier3 = YearlyTier.objects.filter(enterprise=OuterRef("pk"), tier=3)
    in_campaign = Classification.objects.filter(enterprise=OuterRef("pk"), campaign=campaign)
    candidates = (
        enterprises.filter(Exists(tier3.filter(year=year)), Exists(tier3.filter(year=year - 1)))
        .exclude(status__in=[OperatingStatus.CLOSED, OperatingStatus.DEREGISTERED])
        .exclude(Exists(in_campaign.filter(category=Category.SHUTDOWN)))
        .exclude(Exists(in_campaign.filter(state__in=OPEN_PROPOSAL_STATES)))
        .annotate(current_id=Subquery(in_campaign.filter(is_current=True).values("pk")[:1]))
        .values_list("pk", "current_id")
        .order_by("pk")
    )
    rows = list(candidates)
    if not rows:
        return []
    user = _user_or_none(actor)
    problems = _("Tier 3 in %(previous)d and %(year)d: on the shutdown list.") % {"previous": year - 1, "year": year}
    new = [
        Classification(
            enterprise_id=enterprise_id,
            campaign=campaign,
            category=Category.SHUTDOWN,
            problems=problems,
            deadline=campaign.ends_on,
            state=S.PROPOSED,
            is_current=current_id is None,
            replaces_id=current_id,
            proposed_by=user,
        )
        for enterprise_id, current_id in rows
    ]
    created = bulk_create_with_history(new, Classification, default_user=user, default_change_reason=problems)
    if any(c.pk is None for c in created):  # backends that do not return keys from a bulk insert
        created = list(
            Classification.objects.filter(
                campaign=campaign, enterprise_id__in=[r[0] for r in rows], state=S.PROPOSED, category=Category.SHUTDOWN
            )
        )
    for chunk in _chunks([c.enterprise_id for c in created]):
        touch(Enterprise.objects.filter(pk__in=chunk))
    now = timezone.now()
    ClassificationStep.objects.bulk_create(
        [
            ClassificationStep(
                classification=c,
                action=StepAction.PROPOSE,
                from_state="",
                to_state=S.PROPOSED,
                actor=user,
                comment=problems,
                details={"rule": "tier3_two_years", "year": year}
                | ({"replaces": c.replaces_id} if c.replaces_id else {}),
                at=now,
            )
            for c in created
        ],
        batch_size=_CHUNK,
    )
    return created


# --- Campaigns and targets ----------------------------------------------------------------

CAMPAIGN_FIELDS = ("name", "kind", "starts_on", "ends_on", "status", "description")


@transaction.atomic
def create_campaign(actor, data: dict, reason: str = "") -> Campaign:
    require(actor, Capability.MANAGE_CAMPAIGNS)
    unknown = set(data) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown campaign fields: {', '.join(sorted(unknown))}")
    campaign = Campaign(**data)
    save_tracked(campaign, actor=actor, reason=reason)
    return campaign


@transaction.atomic
def update_campaign(campaign: Campaign, actor, data: dict, reason: str = "") -> list[str]:
    """Change the campaign's fields that differ; a shortened period must still hold every target's year."""
    require(actor, Capability.MANAGE_CAMPAIGNS)
    unknown = set(data) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown campaign fields: {', '.join(sorted(unknown))}")
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk) if campaign.pk else campaign
    changed = apply_changes(campaign, data)
    if not changed:
        return []
    if campaign.starts_on and campaign.ends_on:
        outside = (
            campaign.targets.exclude(year__gte=campaign.starts_on.year, year__lte=campaign.ends_on.year)
            .values_list("year", flat=True)
            .distinct()
        )
        years = sorted(set(outside))
        if years:
            raise ValidationError(
                {
                    "ends_on": _("Targets exist for %(years)s, outside the new period; change or delete them first.")
                    % {"years": "、".join(str(y) for y in years)}
                }
            )
    save_tracked(campaign, actor=actor, reason=reason)
    return changed


TARGET_COUNTS = ("shutdown", "relocate", "upgrade", "restructure")


def _target_permission(actor, region) -> None:
    require(actor, Capability.SET_TARGETS, region)
    # A county sets its townships' targets; its own target (责任状) is set by the city.
    own_region_id = getattr(actor, "region_id", None)
    if own_region_id == region.pk and not role_can(actor, Capability.MANAGE_CAMPAIGNS):
        raise PermissionDenied(_("Your own region's target is set by the level above."))


@transaction.atomic
def save_target(actor, campaign: Campaign, region, year: int, counts: dict, reason: str = "") -> Target:
    """Create or update the target (责任状) of a region for one year of the campaign.

    `counts`: shutdown, relocate, upgrade, restructure (missing ones keep their value, 0 for a new target).
    """
    _target_permission(actor, region)
    unknown = set(counts) - set(TARGET_COUNTS)
    if unknown:
        raise TypeError(f"Unknown target counts: {', '.join(sorted(unknown))}")
    if year not in campaign.years:
        raise ValidationError(
            {
                "year": _("%(year)s lies outside the campaign %(campaign)s (%(start)s–%(end)s).")
                % {
                    "year": year,
                    "campaign": campaign.name,
                    "start": campaign.starts_on.year,
                    "end": campaign.ends_on.year,
                }
            }
        )
    errors = {}
    for name, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors[name] = _("Enter a whole number of 0 or more.")
    if errors:
        raise ValidationError(errors)
    target = Target.objects.select_for_update().filter(campaign=campaign, region=region, year=year).first()
    if target is None:
        target = Target(campaign=campaign, region=region, year=year, **counts)
    elif not apply_changes(target, counts):
        return target
    save_tracked(target, actor=actor, reason=reason)
    return target


@transaction.atomic
def delete_target(actor, target: Target, reason: str = "") -> None:
    _target_permission(actor, target.region)
    delete_tracked(target, actor=actor, reason=reason)


# --- Bulk proposals (the roster importer) ----------------------------------------------------


#: Classifications per query of a bulk proposal.
PROPOSAL_BATCH_SIZE = 1000


class ProposalAction:
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class ProposalItem:
    """One enterprise's proposed category and details (a subset of DETAIL_FIELDS; the others keep their
    stored value). `enterprise` may be unsaved while an import is only previewed."""

    key: object
    enterprise: Enterprise
    category: str
    details: dict


@dataclass
class ProposalPlan:
    key: object
    action: str
    classification: Classification | None
    #: field -> [old, new] (JSON-storable, as in a step's details)
    changes: dict
    #: field ("" for the classification as a whole) -> [messages]
    errors: dict
    #: field -> [messages]: what the proposal still lacks before the county submits (missing_details); a proposal
    #: with warnings is valid and is written.
    warnings: dict = dataclass_field(default_factory=dict)


def _proposal_batches(items):
    for start in range(0, len(items), PROPOSAL_BATCH_SIZE):
        yield items[start : start + PROPOSAL_BATCH_SIZE]


def _rows_by_enterprise(campaign: Campaign, enterprise_ids, *, lock: bool) -> tuple[dict, dict]:
    current, pending = {}, {}
    for chunk in _proposal_batches(sorted(enterprise_ids)):
        rows = Classification.objects.filter(campaign=campaign, enterprise_id__in=chunk).select_related(
            "destination_park", "absorbing_enterprise"
        )
        if lock:
            rows = rows.select_for_update(of=("self",))
        for row in rows.current():
            current[row.enterprise_id] = row
        for row in rows.pending_changes():
            pending[row.enterprise_id] = row
    return current, pending


def _set_details_in_memory(classification: Classification, category: str, details: dict) -> dict:
    """_apply_details without a query per row: the related records were looked up by the caller and the
    category's field rules (_normalise_details) already keep the check constraints."""
    data = _normalise_details(category, details)
    data["category"] = category
    before = {name: _plain(getattr(classification, name)) for name in data}
    changed = apply_changes(classification, data)
    _check_given_details(classification)
    # The fields set here (text lengths, the category's choices, dates); related records are checked above.
    classification.clean_fields(
        exclude=[f.name for f in Classification._meta.concrete_fields if f.name not in data or f.is_relation]
    )
    return {name: [before[name], _plain(getattr(classification, name))] for name in changed}


def _decided_message(classification: Classification) -> str:
    return _(
        "The classification in this campaign is already decided (%(category)s, “%(state)s”) and the roster differs "
        "from it; a decided classification is changed through a change request in the enterprise's dossier, "
        "not by import."
    ) % {"category": classification.get_category_display(), "state": classification.get_state_display()}


def _differs(classification: Classification, category: str, details: dict) -> bool:
    data = _normalise_details(category, details)
    return classification.category != category or any(
        getattr(classification, name) != value for name, value in data.items()
    )


def plan_proposals(items, campaign: Campaign, actor, *, lock: bool = False) -> list[ProposalPlan]:
    """What `bulk_propose_classifications` would do with each item, under the rules of propose_classification.

    No classification (or only withdrawn ones): a new proposal. A proposal still at "proposed": updated.
    A classification beyond the proposal stage: unchanged when the item says the same, else an error
    explaining why (pre-review under way: the county adjusts it; decided: a change request in the dossier).
    A fixed number of queries per PROPOSAL_BATCH_SIZE items.
    """
    require(actor, Capability.PROPOSE_CLASSIFICATION)
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError(
            _("The campaign %(campaign)s is closed; no more proposals are taken.") % {"campaign": campaign.name}
        )
    items = list(items)
    saved_ids = {item.enterprise.pk for item in items if item.enterprise.pk}
    current, pending = _rows_by_enterprise(campaign, saved_ids, lock=lock)
    user = _user_or_none(actor)
    plans = []
    for item in items:
        enterprise = item.enterprise
        refusal = _permission_refusal(actor, Capability.PROPOSE_CLASSIFICATION, enterprise.township)
        if refusal is not None:
            plans.append(ProposalPlan(item.key, ProposalAction.ERROR, None, {}, {"": [refusal.message]}))
            continue
        target = pending.get(enterprise.pk) or current.get(enterprise.pk)
        try:
            if target is None:
                classification = Classification(
                    enterprise=enterprise,
                    campaign=campaign,
                    state=S.PROPOSED,
                    proposed_by=user,
                    is_current=True,
                )
                _set_details_in_memory(classification, item.category, item.details)
                changes = {
                    name: [None, _plain(getattr(classification, name))]
                    for name in ("category", *item.details)
                    if getattr(classification, name) not in (None, "")
                }
                plans.append(ProposalPlan(item.key, ProposalAction.CREATE, classification, changes, {}))
            elif target.state == S.PROPOSED:
                target.enterprise, target.campaign = enterprise, campaign
                changes = _set_details_in_memory(target, item.category, item.details)
                action = ProposalAction.UPDATE if changes else ProposalAction.UNCHANGED
                plans.append(ProposalPlan(item.key, action, target, changes, {}))
            elif _differs(target, item.category, item.details):
                message = _blocked_message(target) if target.state in OPEN_PROPOSAL_STATES else _decided_message(target)
                plans.append(ProposalPlan(item.key, ProposalAction.ERROR, target, {}, {"category": [message]}))
            else:
                plans.append(ProposalPlan(item.key, ProposalAction.UNCHANGED, target, {}, {}))
        except ValidationError as error:
            errors = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            plans.append(ProposalPlan(item.key, ProposalAction.ERROR, target, {}, errors))
            continue
        planned = plans[-1]
        if planned.classification is not None and planned.classification.state == S.PROPOSED:
            planned.warnings = {name: [message] for name, message in missing_details(planned.classification).items()}
        if (
            item.category == Category.EXCLUDED
            and item.details.get("deadline")
            and planned.action != ProposalAction.ERROR
        ):
            # Not silently dropped: the row says the deadline written is not kept.
            planned.warnings.setdefault("deadline", []).append(
                _("An exclusion (剔除) has no deadline; the deadline %(deadline)s is not kept.")
                % {"deadline": item.details["deadline"]}
            )
    return plans


@dataclass
class BulkProposalResult:
    created: int
    updated: int
    unchanged: int


@transaction.atomic
def bulk_propose_classifications(items, campaign: Campaign, actor, reason: str = "") -> BulkProposalResult:
    """Propose (or update still-proposed) classifications of many enterprises, all or nothing.

    The rules of plan_proposals; an item in error makes the whole call raise ValidationError keyed by the
    items' keys. Each new or changed classification gets a history row naming the actor and `reason` and
    its step (proposed / proposal updated, with the changes) in the timeline; its enterprise is marked
    changed for the API. Batched: a fixed number of queries per PROPOSAL_BATCH_SIZE items.
    """
    plans = plan_proposals(items, campaign, actor, lock=True)
    return apply_proposals(plans, actor, reason)


def apply_proposals(plans: list[ProposalPlan], actor, reason: str = "") -> BulkProposalResult:
    """Write what plan_proposals(..., lock=True) planned earlier IN THE SAME TRANSACTION (see
    bulk_propose_classifications). New enterprises of the plan must have been saved since."""
    from core.bulk import insert_history, insert_rows
    from enterprises.services import touch as touch_enterprises

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_proposals runs inside the transaction that planned with lock=True.")
    errors = {
        str(plan.key): [message for messages in plan.errors.values() for message in messages]
        for plan in plans
        if plan.action == ProposalAction.ERROR
    }
    if errors:
        raise ValidationError(errors)
    user = _user_or_none(actor)
    comment = reason or str(StepAction.PROPOSE.label)
    new = [plan.classification for plan in plans if plan.action == ProposalAction.CREATE]
    insert_rows(Classification, new)
    insert_history(Classification, new, user=user, reason=comment, history_type="+")
    changed = [plan for plan in plans if plan.action == ProposalAction.UPDATE]
    if changed:
        now = timezone.now()
        rows = [plan.classification for plan in changed]
        fields = sorted({name for plan in changed for name in plan.changes})
        for row in rows:
            row.version += 1
            row.updated_at = now
        Classification.objects.bulk_update(rows, [*fields, "version", "updated_at"], batch_size=PROPOSAL_BATCH_SIZE)
        insert_history(Classification, rows, user=user, reason=comment, history_type="~")
    steps = [
        ClassificationStep(
            classification=classification,
            action=StepAction.PROPOSE,
            from_state="",
            to_state=S.PROPOSED,
            actor=user,
            comment=reason,
        )
        for classification in new
    ] + [
        ClassificationStep(
            classification=plan.classification,
            action=StepAction.UPDATE_PROPOSAL,
            from_state=S.PROPOSED,
            to_state=S.PROPOSED,
            actor=user,
            comment=reason,
            details={"changes": plan.changes},
        )
        for plan in changed
    ]
    insert_rows(ClassificationStep, steps)
    touched = [classification.enterprise_id for classification in new] + [
        plan.classification.enterprise_id for plan in changed
    ]
    for chunk in _proposal_batches(sorted(touched)):
        touch_enterprises(Enterprise.objects.filter(pk__in=chunk))
    return BulkProposalResult(
        created=len(new),
        updated=len(changed),
        unchanged=sum(1 for plan in plans if plan.action == ProposalAction.UNCHANGED),
    )


def refresh_enterprise_references(sender, enterprise_ids, **kwargs) -> None:
    """Receiver of enterprises.signals.enterprise_reference_changed: classifications and tasks show their
    enterprise's code, name and township in the API, so a sync must fetch them again."""
    mark_changed(
        Classification.objects.filter(
            Q(enterprise_id__in=enterprise_ids) | Q(absorbing_enterprise_id__in=enterprise_ids)
        )
    )
    mark_changed(Task.objects.filter(plan__classification__enterprise_id__in=enterprise_ids))
