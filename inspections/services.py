"""Writes for surveys, inspections and findings. Pages, the importer, the API and the worker call these.

Every function takes the acting user, checks the permission through accounts.permissions for the
region of the enterprise or park concerned, validates, and runs in one transaction. Findings follow
a closed loop: open → being fixed → awaiting verification → closed (销号), or reopened; nobody closes
a finding whose fix they reported themselves ("完成一项、销号一项").
"""

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history

from accounts.permissions import Capability, require
from core.changes import mark_changed
from core.history import apply_changes, delete_tracked, save_tracked
from core.uploads import validate_upload
from enterprises.choices import HazardDuty, HazardLevel, OperatingStatus
from enterprises.models import Enterprise
from enterprises.services import touch, update_enterprise
from rectification import services as rectification_services
from rectification.choices import CampaignStatus, Category, ClassificationState

from .choices import (
    ACTIVE_FINDING_STATES,
    GENERAL_RESULTS,
    REQUIRED_SHUTDOWN_CHECKS,
    RESULTS_BY_KIND,
    SHUTDOWN_CHECK_ITEMS,
    UNCLOSED_FINDING_STATES,
    WORKFLOW_KINDS,
    AccessArea,
    EvidenceStage,
    FindingStatus,
    InspectionKind,
    InspectionResult,
    InspectionStatus,
    Severity,
    SurveySource,
)
from .models import (
    AcceptanceCheckItem,
    Finding,
    FindingEvidence,
    Inspection,
    InspectionAttachment,
    Survey,
    SurveyItem,
)

#: Enterprises the quarterly 回头看 sample is drawn from.
CLOSED_STATUSES = (OperatingStatus.CLOSED, OperatingStatus.DEREGISTERED)


def _today() -> datetime.date:
    return timezone.localdate()


def _not_in_future(field: str, value: datetime.date | None, label: str) -> None:
    if value is None:
        raise ValidationError({field: _("Enter the %(label)s.") % {"label": label}})
    if value > _today():
        raise ValidationError({field: _("The %(label)s cannot be in the future.") % {"label": label}})


def _target_region(enterprise=None, park=None):
    return (enterprise or park).township


# --- Surveys -------------------------------------------------------------------------------


def _clean_survey_items(items: dict) -> dict[str, tuple[bool, str]]:
    """Check that each of the eight requirements is answered; a non-conformity needs a description."""
    errors = {}
    unknown = [str(key) for key in items if key not in AccessArea.values]
    if unknown:
        errors["items"] = _("Unknown access requirement(s): %(codes)s.") % {"codes": ", ".join(unknown)}
    cleaned = {}
    for area in AccessArea:
        value = items.get(area.value)
        if value is None:
            errors[area.value] = _("Say whether %(area)s conforms.") % {"area": area.label}
            continue
        conforming, note = value
        if conforming not in (True, False):
            errors[area.value] = _("Say whether %(area)s conforms.") % {"area": area.label}
            continue
        note = (note or "").strip()
        if not conforming and not note:
            errors[area.value] = _("Describe what does not conform in %(area)s: it becomes a finding.") % {
                "area": area.label
            }
            continue
        cleaned[area.value] = (conforming, note)
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def save_survey(
    *,
    enterprise: Enterprise,
    campaign,
    actor,
    items: dict,
    surveyed_on: datetime.date,
    note: str = "",
    surveyed_by: str = "",
) -> Survey:
    """Create or update the survey (摸排) of an enterprise in a campaign and keep its findings in step.

    `items` maps each of the eight AccessArea codes to (conforming, note); all eight are required and a
    non-conforming one needs a note, which becomes the finding's description.

    Findings follow the changes of the survey, so saving the same survey again changes nothing:
    - an area that becomes non-conforming (new survey, or conforming before) gets one open finding,
      unless an unclosed finding of this survey for that area already exists (that one is reopened if
      it was awaiting verification);
    - an area still non-conforming updates the description of its unclosed finding (a finding already
      verified and closed stays closed);
    - an area that becomes conforming moves its unclosed finding to "awaiting verification", its fix
      reported by the actor: it is closed only when someone else verifies it. Nothing is closed here.
    """
    require(actor, Capability.RECORD_SURVEY, enterprise.township)
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError({"campaign": _("The campaign %(campaign)s is closed.") % {"campaign": campaign}})
    _not_in_future("surveyed_on", surveyed_on, _("survey date"))
    cleaned = _clean_survey_items(items)

    survey = Survey.objects.select_for_update().filter(enterprise=enterprise, campaign=campaign).first()
    data = {
        "surveyed_on": surveyed_on,
        "note": note.strip(),
        "surveyed_by": surveyed_by.strip(),
        "source": SurveySource.BROWSER,
    }
    survey_saved = True
    if survey is None:
        survey = Survey(enterprise=enterprise, campaign=campaign, recorded_by=actor, **data)
        save_tracked(survey, actor=actor)
        previous = {}
    else:
        if survey.source == SurveySource.ROSTER_IMPORT:
            # The eight requirements recorded supersede the roster's "surveyed": the same record, upgraded (the
            # import it came from stays named); its recorder is now the person who surveyed.
            data["recorded_by"] = actor if getattr(actor, "pk", None) else survey.recorded_by
        survey_saved = apply_changes(survey, data)
        if survey_saved:
            save_tracked(survey, actor=actor)
        previous = {item.area: item for item in survey.items.all()}

    open_findings = {
        finding.area: finding
        for finding in survey.findings.select_for_update().filter(status__in=UNCLOSED_FINDING_STATES).order_by("id")
    }
    now = timezone.now()
    for area, (conforming, item_note) in cleaned.items():
        item = previous.get(area)
        was_conforming = None if item is None else item.conforming
        if item is None:
            save_tracked(SurveyItem(survey=survey, area=area, conforming=conforming, note=item_note), actor=actor)
        elif apply_changes(item, {"conforming": conforming, "note": item_note}):
            save_tracked(item, actor=actor)
            if not survey_saved:
                # The survey shows its items: a changed item is a change of the survey (the API's sync).
                Survey.objects.filter(pk=survey.pk).update(updated_at=now)
                survey_saved = True

        finding = open_findings.get(area)
        if not conforming:
            if finding is None:
                if was_conforming is not False:  # newly non-conforming
                    finding = Finding(
                        survey=survey,
                        enterprise=enterprise,
                        area=area,
                        severity=Severity.GENERAL,
                        description=item_note,
                        created_by=actor,
                    )
                    save_tracked(finding, actor=actor, reason=_("Survey of %(date)s") % {"date": surveyed_on})
                continue
            changes = {"description": item_note}
            if finding.status == FindingStatus.AWAITING_VERIFICATION and was_conforming:
                changes["status"] = FindingStatus.REOPENED
            if apply_changes(finding, changes):
                save_tracked(finding, actor=actor, reason=_("Survey of %(date)s") % {"date": surveyed_on})
        elif finding is not None and was_conforming is False and finding.status in ACTIVE_FINDING_STATES:
            apply_changes(
                finding,
                {
                    "status": FindingStatus.AWAITING_VERIFICATION,
                    "fixed_by": actor,
                    "fixed_at": now,
                    "fix_note": _("The survey of %(date)s records this requirement as conforming.")
                    % {"date": surveyed_on},
                    "verified_by": None,
                    "verified_at": None,
                    "verification_note": "",
                },
            )
            save_tracked(finding, actor=actor, reason=_("Survey of %(date)s") % {"date": surveyed_on})
    return survey


# --- Inspections ---------------------------------------------------------------------------


def _check_target(enterprise, park) -> None:
    if (enterprise is None) == (park is None):
        raise ValidationError({"enterprise": _("Choose either an enterprise or a chemical park as the target.")})


def _check_result(kind: str, result: str) -> None:
    allowed = RESULTS_BY_KIND.get(kind, GENERAL_RESULTS)
    if result not in allowed:
        raise ValidationError(
            {
                "result": _("A %(kind)s ends with one of: %(results)s.")
                % {
                    "kind": InspectionKind(kind).label,
                    "results": "、".join(str(InspectionResult(r).label) for r in sorted(allowed)),
                }
            }
        )


def _take_planned(planned: Inspection | None, *, kind, enterprise, park) -> Inspection | None:
    """Lock a planned inspection being carried out; it must match what is recorded."""
    if planned is None:
        return None
    planned = Inspection.objects.select_for_update().get(pk=planned.pk)
    if planned.status != InspectionStatus.PLANNED:
        raise ValidationError(_("This inspection has already been recorded."))
    if (
        planned.kind != kind
        or planned.enterprise_id != getattr(enterprise, "pk", None)
        or planned.park_id != getattr(park, "pk", None)
    ):
        raise ValidationError(_("The planned inspection is of another kind or target."))
    return planned


def _save_inspection(inspection: Inspection, *, actor, departments, reason: str = "") -> Inspection:
    """Save with history (one row, the departments included); `departments` None keeps those already set
    (e.g. on a planned inspection)."""
    many = {"departments": departments} if departments is not None else None
    save_tracked(inspection, actor=actor, reason=reason, many_to_many=many)
    return inspection


@transaction.atomic
def plan_inspection(
    *,
    actor,
    kind: str,
    planned_on: datetime.date,
    enterprise: Enterprise | None = None,
    park=None,
    departments=(),
    inspectors: str = "",
    note: str = "",
) -> Inspection:
    """Put an inspection on the calendar; record_inspection (or record_recheck) later records what it found."""
    _check_target(enterprise, park)
    require(actor, Capability.RECORD_INSPECTION, _target_region(enterprise, park))
    if kind == InspectionKind.ACCEPTANCE:
        raise ValidationError({"kind": _("Acceptance checks are recorded from the classification, not planned.")})
    if kind == InspectionKind.RECHECK and enterprise is None:
        raise ValidationError({"enterprise": _("A re-check is made at a closed enterprise.")})
    if planned_on is None:
        raise ValidationError({"planned_on": _("Enter the date by which the inspection is to be carried out.")})
    inspection = Inspection(
        kind=kind,
        status=InspectionStatus.PLANNED,
        planned_on=planned_on,
        enterprise=enterprise,
        park=park,
        inspectors=inspectors.strip(),
        result_note=note.strip(),
        created_by=actor,
    )
    return _save_inspection(inspection, actor=actor, departments=departments)


@transaction.atomic
def cancel_planned_inspection(*, inspection: Inspection, actor, reason: str) -> None:
    """Drop a planned inspection that will not take place (the history keeps who and why)."""
    require(actor, Capability.RECORD_INSPECTION, inspection.township)
    inspection = Inspection.objects.select_for_update().get(pk=inspection.pk)
    if inspection.status != InspectionStatus.PLANNED:
        raise ValidationError(_("Only a planned inspection can be cancelled; this one has been recorded."))
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the inspection is cancelled.")})
    delete_tracked(inspection, actor=actor, reason=reason.strip())


@transaction.atomic
def record_inspection(
    *,
    actor,
    kind: str,
    inspected_on: datetime.date,
    result: str,
    enterprise: Enterprise | None = None,
    park=None,
    departments=None,
    inspectors: str = "",
    result_note: str = "",
    findings: list[dict] = (),
    attachments=(),
    planned: Inspection | None = None,
) -> Inspection:
    """Record an inspection carried out (a new one, or the `planned` one), with its findings and files.

    Each finding dict holds the arguments of record_finding (area, severity, description, legal_basis,
    responsible_unit, responsible_department, deadline). Acceptance checks and 回头看 re-checks have
    their own services (record_acceptance, record_recheck) because they move the classification.
    """
    _check_target(enterprise, park)
    require(actor, Capability.RECORD_INSPECTION, _target_region(enterprise, park))
    if kind in WORKFLOW_KINDS:
        raise ValidationError(
            {"kind": _("Record acceptance checks and re-checks from the classification or the closed enterprise.")}
        )
    if kind not in InspectionKind.values:
        raise ValidationError({"kind": _("Choose the kind of inspection.")})
    _not_in_future("inspected_on", inspected_on, _("inspection date"))
    if findings and result == InspectionResult.NO_ISSUES:
        raise ValidationError({"result": _("Findings were entered, so the result is “issues found”.")})
    _check_result(kind, result)
    attachments = _check_files(attachments)
    findings = [dict(data, evidence=_check_files(data.get("evidence"))) for data in findings]

    inspection = _take_planned(planned, kind=kind, enterprise=enterprise, park=park) or Inspection(
        kind=kind, enterprise=enterprise, park=park
    )
    apply_changes(
        inspection,
        {
            "status": InspectionStatus.DONE,
            "inspected_on": inspected_on,
            "inspectors": inspectors.strip() or inspection.inspectors,
            "created_by": inspection.created_by or actor,
            "result": result,
            "result_note": result_note.strip(),
        },
    )
    _save_inspection(inspection, actor=actor, departments=departments)

    errors = {}
    for index, data in enumerate(findings, start=1):
        try:
            _create_finding(actor=actor, inspection=inspection, **data)
        except ValidationError as error:
            errors[f"finding_{index}"] = [
                _("Finding %(n)d: %(error)s") % {"n": index, "error": m} for m in error.messages
            ]
    if errors:
        raise ValidationError(errors)
    for upload in attachments:
        _attach(inspection, actor=actor, file=upload)
    return inspection


def _attach(inspection: Inspection, *, actor, file, description: str = "") -> InspectionAttachment:
    try:
        kind = validate_upload(file)
    except ValidationError as error:
        raise ValidationError({"file": error.messages}) from error
    attachment = InspectionAttachment(
        inspection=inspection,
        file=file,
        original_name=(file.name or "")[-255:],
        file_kind=kind,
        size=file.size,
        description=description.strip(),
        uploaded_by=actor,
    )
    attachment.save()
    return attachment


@transaction.atomic
def add_attachment(*, inspection: Inspection, actor, file, description: str = "") -> InspectionAttachment:
    """Attach a file (photo, PDF, Office document: core.uploads rules) to an inspection."""
    require(actor, Capability.RECORD_INSPECTION, inspection.township)
    return _attach(inspection, actor=actor, file=file, description=description)


# --- Findings ------------------------------------------------------------------------------


def _clean_finding_fields(data: dict, *, found_on: datetime.date | None) -> None:
    errors = {}
    if data.get("area") not in AccessArea.values:
        errors["area"] = _("Choose the access requirement concerned.")
    if data.get("severity") not in Severity.values:
        errors["severity"] = _("Choose the severity: general hazard or major accident hazard.")
    if not (data.get("description") or "").strip():
        errors["description"] = _("Describe the problem.")
    deadline = data.get("deadline")
    if deadline is not None and found_on is not None and deadline < found_on:
        errors["deadline"] = _("The deadline cannot be before the day the problem was found (%(date)s).") % {
            "date": found_on
        }
    if errors:
        raise ValidationError(errors)
    for field in ("description", "legal_basis", "responsible_unit"):
        if field in data:
            data[field] = (data[field] or "").strip()


def _create_finding(
    *,
    actor,
    inspection: Inspection | None = None,
    enterprise: Enterprise | None = None,
    park=None,
    area: str,
    description: str,
    severity: str = Severity.GENERAL,
    legal_basis: str = "",
    responsible_unit: str = "",
    responsible_department=None,
    deadline: datetime.date | None = None,
    evidence=(),
) -> Finding:
    if inspection is not None:
        if inspection.status != InspectionStatus.DONE:
            raise ValidationError(_("Record the inspection before adding findings to it."))
        if (enterprise and enterprise.pk != inspection.enterprise_id) or (park and park.pk != inspection.park_id):
            raise ValidationError(_("A finding concerns the target of its inspection."))
        enterprise, park = inspection.enterprise, inspection.park
    _check_target(enterprise, park)
    require(actor, Capability.MANAGE_FINDINGS, _target_region(enterprise, park))
    data = {
        "area": area,
        "severity": severity,
        "description": description,
        "legal_basis": legal_basis,
        "responsible_unit": responsible_unit,
        "responsible_department": responsible_department,
        "deadline": deadline,
    }
    _clean_finding_fields(data, found_on=inspection.inspected_on if inspection else _today())
    if not data["responsible_unit"] and responsible_department is not None:
        data["responsible_unit"] = responsible_department.name
    finding = Finding(inspection=inspection, enterprise=enterprise, park=park, created_by=actor, **data)
    save_tracked(finding, actor=actor)
    for upload in evidence:
        _add_evidence(finding, actor=actor, file=upload, stage=EvidenceStage.FOUND)
    return finding


@transaction.atomic
def record_finding(
    *,
    actor,
    inspection: Inspection | None = None,
    enterprise: Enterprise | None = None,
    park=None,
    area: str,
    description: str,
    severity: str = Severity.GENERAL,
    legal_basis: str = "",
    responsible_unit: str = "",
    responsible_department=None,
    deadline: datetime.date | None = None,
    evidence=(),
) -> Finding:
    """Record a problem found by an inspection (or, without one, reported for an enterprise or park).

    A general inspection recorded as "no issues" becomes "issues found".
    """
    evidence = _check_files(evidence)
    if inspection is not None:
        inspection = (
            Inspection.objects.select_for_update(of=("self",))
            .select_related("enterprise", "park")
            .get(pk=inspection.pk)
        )
    finding = _create_finding(
        actor=actor,
        inspection=inspection,
        enterprise=enterprise,
        park=park,
        area=area,
        description=description,
        severity=severity,
        legal_basis=legal_basis,
        responsible_unit=responsible_unit,
        responsible_department=responsible_department,
        deadline=deadline,
        evidence=evidence,
    )
    if inspection is not None and inspection.result == InspectionResult.NO_ISSUES:
        inspection.result = InspectionResult.ISSUES_FOUND
        save_tracked(inspection, actor=actor, reason=_("Finding added"))
    return finding


def _locked(finding: Finding) -> Finding:
    return (
        Finding.objects.select_for_update(of=("self",))
        .select_related("enterprise__township", "park__township")
        .get(pk=finding.pk)
    )


class FindingAction:
    """The steps a user may take on a finding (pages show each with the reason it is refused, if it is)."""

    EDIT = "edit"
    START_FIXING = "start_fixing"
    SUBMIT_FIX = "submit_fix"
    VERIFY = "verify"
    REOPEN = "reopen"
    ADD_EVIDENCE = "add_evidence"


# action -> (capability, states it starts from, verb for the refusal)
_FINDING_RULES = {
    FindingAction.EDIT: (Capability.MANAGE_FINDINGS, UNCLOSED_FINDING_STATES, gettext_lazy("edited")),
    FindingAction.START_FIXING: (
        Capability.MANAGE_FINDINGS,
        (FindingStatus.OPEN, FindingStatus.REOPENED),
        gettext_lazy("started"),
    ),
    FindingAction.SUBMIT_FIX: (Capability.MANAGE_FINDINGS, ACTIVE_FINDING_STATES, gettext_lazy("reported fixed")),
    FindingAction.VERIFY: (
        Capability.VERIFY_FINDING,
        (FindingStatus.AWAITING_VERIFICATION,),
        gettext_lazy("verified"),
    ),
    FindingAction.REOPEN: (Capability.VERIFY_FINDING, (FindingStatus.CLOSED,), gettext_lazy("reopened")),
    FindingAction.ADD_EVIDENCE: (
        Capability.MANAGE_FINDINGS,
        UNCLOSED_FINDING_STATES,
        gettext_lazy("given more evidence"),
    ),
}


def _finding_refusal(finding: Finding, user, action: str) -> Exception | None:
    """PermissionDenied (role, region, own fix) or ValidationError (state) for `action`, else None."""
    capability, states, verb = _FINDING_RULES[action]
    try:
        require(user, capability, finding.township)
        if action in (FindingAction.VERIFY, FindingAction.REOPEN) and finding.severity == Severity.MAJOR:
            require(user, Capability.VERIFY_MAJOR_FINDING, finding.township)
    except PermissionDenied as refusal:
        return refusal
    if finding.status not in states:
        return ValidationError(
            {
                "status": _("This finding is %(status)s; it cannot be %(action)s.")
                % {"status": finding.get_status_display(), "action": verb}
            }
        )
    if action == FindingAction.VERIFY and finding.fixed_by_id is not None and finding.fixed_by_id == user.pk:
        return PermissionDenied(_("You reported this fix yourself; someone else must verify it."))
    return None


def finding_why_not(finding: Finding, user, action: str) -> str | None:
    """Why `user` cannot take `action` (a FindingAction) on the finding now, or None when they can."""
    refusal = _finding_refusal(finding, user, action)
    if refusal is None:
        return None
    return " ".join(refusal.messages) if isinstance(refusal, ValidationError) else str(refusal)


def finding_actions(finding: Finding, user) -> dict[str, str | None]:
    """Every FindingAction with None (allowed) or the reason it is refused; no queries when `finding.enterprise`
    (or park) and its township are loaded."""
    return {action: finding_why_not(finding, user, action) for action in _FINDING_RULES}


def _ensure_finding(finding: Finding, user, action: str) -> None:
    refusal = _finding_refusal(finding, user, action)
    if refusal is not None:
        raise refusal


def _check_files(files) -> list:
    """Validate every upload before anything is stored: a bad file leaves no other file behind on disk."""
    files = list(files or ())
    for upload in files:
        try:
            validate_upload(upload)
        except ValidationError as error:
            raise ValidationError({"file": error.messages}) from error
    return files


#: Fields of a finding that may be corrected while it is not closed.
EDITABLE_FINDING_FIELDS = (
    "area",
    "severity",
    "description",
    "legal_basis",
    "responsible_unit",
    "responsible_department",
    "deadline",
)


@transaction.atomic
def update_finding(*, finding: Finding, actor, data: dict, reason: str = "") -> list[str]:
    """Correct a finding not yet closed; moving the deadline later lifts the overdue mark. Returns changed fields."""
    finding = _locked(finding)
    _ensure_finding(finding, actor, FindingAction.EDIT)
    unknown = set(data) - set(EDITABLE_FINDING_FIELDS)
    if unknown:
        raise ValidationError(_("These fields cannot be changed here: %(fields)s.") % {"fields": ", ".join(unknown)})
    merged = {field: getattr(finding, field) for field in EDITABLE_FINDING_FIELDS} | dict(data)
    found_on = None  # an unchanged deadline is not judged again
    if "deadline" in data and data["deadline"] != finding.deadline:
        found_on = finding.inspection.inspected_on if finding.inspection_id else timezone.localdate(finding.created_at)
    _clean_finding_fields(merged, found_on=found_on)
    changed = apply_changes(finding, {field: merged[field] for field in data})
    if "deadline" in changed and finding.overdue_since and (finding.deadline is None or finding.deadline >= _today()):
        finding.overdue_since = None
    if changed:
        save_tracked(finding, actor=actor, reason=reason)
    return changed


@transaction.atomic
def start_fixing(*, finding: Finding, actor, note: str = "") -> Finding:
    """The responsible unit has started on the problem: open/reopened → being fixed."""
    finding = _locked(finding)
    _ensure_finding(finding, actor, FindingAction.START_FIXING)
    finding.status = FindingStatus.FIXING
    save_tracked(finding, actor=actor, reason=note.strip())
    return finding


@transaction.atomic
def submit_fix(*, finding: Finding, actor, note: str, evidence=()) -> Finding:
    """Report the problem fixed, with what was done and (optionally) evidence: → awaiting verification."""
    finding = _locked(finding)
    _ensure_finding(finding, actor, FindingAction.SUBMIT_FIX)
    if not (note or "").strip():
        raise ValidationError({"note": _("Say what was done to fix the problem.")})
    evidence = _check_files(evidence)
    apply_changes(
        finding,
        {
            "status": FindingStatus.AWAITING_VERIFICATION,
            "fixed_by": actor,
            "fixed_at": timezone.now(),
            "fix_note": note.strip(),
            # A new fix is verified afresh (possibly by whoever judged an earlier one).
            "verified_by": None,
            "verified_at": None,
            "verification_note": "",
        },
    )
    save_tracked(finding, actor=actor)
    for upload in evidence:
        _add_evidence(finding, actor=actor, file=upload, stage=EvidenceStage.FIXED)
    return finding


@transaction.atomic
def verify_finding(*, finding: Finding, actor, passed: bool = True, note: str = "") -> Finding:
    """Check a reported fix: passed → closed (销号); not passed → reopened with the reason.

    Refused when the actor reported the fix themselves.
    """
    finding = _locked(finding)
    _ensure_finding(finding, actor, FindingAction.VERIFY)
    note = (note or "").strip()
    if not passed and not note:
        raise ValidationError({"note": _("Say why the fix is not accepted.")})
    apply_changes(
        finding,
        {
            "status": FindingStatus.CLOSED if passed else FindingStatus.REOPENED,
            "verified_by": actor,
            "verified_at": timezone.now(),
            "verification_note": note,
        },
    )
    save_tracked(finding, actor=actor, reason=note)
    return finding


@transaction.atomic
def reopen_finding(*, finding: Finding, actor, reason: str) -> Finding:
    """Reopen a closed finding (the problem is back): closed → reopened, with the reason."""
    finding = _locked(finding)
    _ensure_finding(finding, actor, FindingAction.REOPEN)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the finding is reopened.")})
    finding.status = FindingStatus.REOPENED
    save_tracked(finding, actor=actor, reason=reason.strip())
    return finding


def _add_evidence(finding: Finding, *, actor, file, stage: str, description: str = "") -> FindingEvidence:
    try:
        kind = validate_upload(file)
    except ValidationError as error:
        raise ValidationError({"file": error.messages}) from error
    evidence = FindingEvidence(
        finding=finding,
        stage=stage,
        file=file,
        original_name=(file.name or "")[-255:],
        file_kind=kind,
        size=file.size,
        description=description.strip(),
        uploaded_by=actor,
    )
    evidence.save()
    return evidence


@transaction.atomic
def add_finding_evidence(
    *, finding: Finding, actor, file, stage: str = EvidenceStage.FIXED, description: str = ""
) -> FindingEvidence:
    """Add a photo or document to a finding not yet closed."""
    finding = _locked(finding)
    _ensure_finding(finding, actor, FindingAction.ADD_EVIDENCE)
    if stage not in EvidenceStage.values:
        raise ValidationError({"stage": _("Choose whether the file shows the problem or the fix.")})
    evidence = _add_evidence(finding, actor=actor, file=file, stage=stage, description=description)
    touch(Finding.objects.filter(pk=finding.pk))  # the API shows a finding with its evidence
    return evidence


def mark_overdue_findings(on_date: datetime.date) -> int:
    """Deadline check: mark findings past their deadline and still waiting for the unit (set-based, idempotent).

    Findings open, being fixed or reopened with a deadline before `on_date` get `overdue_since = on_date`
    unless already marked; the worker notifies the units of the rows marked on that date. A mark whose
    deadline was since moved to `on_date` or later is lifted. Returns the number newly marked.
    """
    with transaction.atomic():
        # version and updated_at too: the API's sync and ETags must see the mark change.
        now = timezone.now()
        Finding.objects.filter(
            overdue_since__isnull=False, status__in=ACTIVE_FINDING_STATES, deadline__gte=on_date
        ).update(overdue_since=None, version=F("version") + 1, updated_at=now)
        return Finding.objects.filter(
            status__in=ACTIVE_FINDING_STATES, deadline__lt=on_date, overdue_since__isnull=True
        ).update(overdue_since=on_date, version=F("version") + 1, updated_at=now)


# --- Acceptance of a classification --------------------------------------------------------


def _clean_check_items(classification, items: dict | None) -> tuple[dict[str, tuple[bool, str]], list[str]]:
    """Shutdowns: every 两断三清 item given, each passed or not; returns the items and the failed labels."""
    items = items or {}
    if classification.category != Category.SHUTDOWN:
        if items:
            raise ValidationError({"items": _("Only the acceptance of a shutdown checks the 两断三清 items.")})
        return {}, []
    known = {item.value: item for item in SHUTDOWN_CHECK_ITEMS}
    errors = {}
    unknown = [str(code) for code in items if code not in known]
    if unknown:
        errors["items"] = _("Unknown check item(s): %(codes)s.") % {"codes": ", ".join(unknown)}
    cleaned = {}
    for code, item in known.items():
        value = items.get(code)
        if value is None:
            if code in REQUIRED_SHUTDOWN_CHECKS:
                errors[code] = _("Check “%(item)s”: every 两断三清 item must be checked.") % {"item": item.label}
            continue
        passed, note = value
        if passed not in (True, False):
            errors[code] = _("Say whether “%(item)s” passed.") % {"item": item.label}
            continue
        note = (note or "").strip()
        if not passed and not note:
            errors[code] = _("Say what is wrong with “%(item)s”.") % {"item": item.label}
            continue
        cleaned[code] = (passed, note)
    if errors:
        raise ValidationError(errors)
    failed = [code for code, (passed, _note) in cleaned.items() if not passed]
    return cleaned, failed


@transaction.atomic
def record_acceptance(
    *,
    classification,
    actor,
    inspected_on: datetime.date,
    passed: bool | None = None,
    items: dict | None = None,
    reasons: str = "",
    comment: str = "",
    departments=(),
    inspectors: str = "",
    attachments=(),
) -> Inspection:
    """Record the acceptance check (验收) of a classification awaiting acceptance and decide it.

    For a shutdown, `items` maps each shutdown check item (rectification.choices.StandardItem codes:
    the five 两断三清 items are required, hazardous_disposed and licence_changed optional) to
    (passed, note); the acceptance passes only when every item given passed, and `passed` may be
    left None. A pass closes the classification (销号) through rectification.services.accept_classification;
    a failure sends it back to in progress with the reasons (the failed items and/or `reasons`)
    through rectification.services.fail_acceptance.
    """
    enterprise = classification.enterprise
    require(actor, Capability.RECORD_INSPECTION, enterprise.township)
    require(actor, Capability.ACCEPT_CLASSIFICATION, enterprise.township)
    if classification.state != ClassificationState.AWAITING_ACCEPTANCE:
        raise ValidationError(
            _("The classification is %(state)s; only one awaiting acceptance can be checked.")
            % {"state": classification.get_state_display()}
        )
    _not_in_future("inspected_on", inspected_on, _("inspection date"))
    cleaned, failed_items = _clean_check_items(classification, items)
    attachments = _check_files(attachments)
    if classification.category == Category.SHUTDOWN:
        items_passed = not failed_items
        if passed is True and not items_passed:
            raise ValidationError({"passed": _("Not every 两断三清 item passed, so the acceptance cannot pass.")})
        if passed is False and items_passed and not reasons.strip():
            raise ValidationError({"reasons": _("Every item passed; say why the acceptance is not passed.")})
        passed = items_passed if passed is None else passed
    elif passed is None:
        raise ValidationError({"passed": _("Say whether the acceptance is passed.")})
    labels = {item.value: item.label for item in SHUTDOWN_CHECK_ITEMS}
    reason_list = [f"{labels[code]}：{cleaned[code][1]}" for code in failed_items]
    if reasons.strip():
        reason_list.append(reasons.strip())
    reasons_text = "\n".join(reason_list)
    if not passed and not reasons_text:
        raise ValidationError({"reasons": _("Give the reasons the acceptance is not passed.")})

    inspection = Inspection(
        kind=InspectionKind.ACCEPTANCE,
        status=InspectionStatus.DONE,
        inspected_on=inspected_on,
        enterprise=enterprise,
        classification=classification,
        inspectors=inspectors.strip(),
        result=InspectionResult.PASSED if passed else InspectionResult.FAILED,
        result_note=(comment.strip() if passed else reasons_text),
        created_by=actor,
    )
    _save_inspection(inspection, actor=actor, departments=departments)
    AcceptanceCheckItem.objects.bulk_create(
        AcceptanceCheckItem(inspection=inspection, item=code, passed=ok, note=note)
        for code, (ok, note) in cleaned.items()
    )
    for upload in attachments:
        _attach(inspection, actor=actor, file=upload)
    if passed:
        rectification_services.accept_classification(classification, actor, inspection=inspection, comment=comment)
    else:
        rectification_services.fail_acceptance(
            classification, actor, reason_list, inspection=inspection, failed_items=failed_items
        )
    return inspection


# --- 回头看 re-checks of closed enterprises -------------------------------------------------


def _accepted_shutdowns(enterprise: Enterprise):
    return enterprise.classifications.select_for_update().filter(
        is_current=True, category=Category.SHUTDOWN, state=ClassificationState.ACCEPTED
    )


@transaction.atomic
def record_recheck(
    *,
    enterprise: Enterprise,
    actor,
    inspected_on: datetime.date,
    producing_again: bool,
    note: str = "",
    departments=None,
    inspectors: str = "",
    area: str = AccessArea.WORK_SAFETY,
    deadline: datetime.date | None = None,
    attachments=(),
) -> Inspection:
    """Record a 回头看 at a closed enterprise (completing its planned re-check when there is one).

    When it is producing again: the enterprise is set back to operating, a major-accident-hazard finding
    is recorded (area `area`, description from `note`, deadline `deadline`), and its accepted shutdown
    classification(s) are reopened (back to in progress) through rectification.services.reopen_classification.
    Reopening changes the enterprise and its classification, so it needs CHANGE_ENTERPRISE (and
    REOPEN_CLASSIFICATION when a shutdown was accepted): county and city offices; a township officer who
    finds a site producing again is refused before anything is written and reports it to the county.
    """
    require(actor, Capability.RECORD_INSPECTION, enterprise.township)
    _not_in_future("inspected_on", inspected_on, _("inspection date"))
    accepted = list(_accepted_shutdowns(enterprise))
    if enterprise.status not in CLOSED_STATUSES and not accepted:
        raise ValidationError(
            {
                "enterprise": _("%(enterprise)s is not closed; a re-check is made at closed enterprises.")
                % {"enterprise": enterprise}
            }
        )
    note = (note or "").strip()
    attachments = _check_files(attachments)
    if producing_again:
        # Checked before anything is written: the enterprise's status is changed too.
        require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
        require(actor, Capability.MANAGE_FINDINGS, enterprise.township)
        if accepted:
            require(actor, Capability.REOPEN_CLASSIFICATION, enterprise.township)
        if not note:
            raise ValidationError({"note": _("Describe what was found: it becomes a major finding.")})

    planned = (
        Inspection.objects.select_for_update()
        .filter(enterprise=enterprise, kind=InspectionKind.RECHECK, status=InspectionStatus.PLANNED)
        .order_by("planned_on", "id")
        .first()
    )
    inspection = planned or Inspection(kind=InspectionKind.RECHECK, enterprise=enterprise)
    apply_changes(
        inspection,
        {
            "status": InspectionStatus.DONE,
            "inspected_on": inspected_on,
            "inspectors": inspectors.strip() or inspection.inspectors,
            "created_by": inspection.created_by or actor,
            "result": InspectionResult.PRODUCING_AGAIN if producing_again else InspectionResult.NOT_PRODUCING,
            "result_note": note,
        },
    )
    _save_inspection(inspection, actor=actor, departments=departments)
    for upload in attachments:
        _attach(inspection, actor=actor, file=upload)
    if not producing_again:
        return inspection

    reason = _("Re-check (回头看) of %(date)s: found producing again") % {"date": inspected_on}
    for classification in accepted:
        rectification_services.reopen_classification(classification, actor, f"{reason}：{note}", inspection=inspection)
    enterprise.refresh_from_db()
    if enterprise.status != OperatingStatus.OPERATING:  # e.g. deregistered, or closed outside any campaign
        update_enterprise(actor=actor, enterprise=enterprise, data={"status": OperatingStatus.OPERATING}, reason=reason)
    _create_finding(
        actor=actor,
        inspection=inspection,
        area=area,
        severity=Severity.MAJOR,
        description=_("Closed enterprise found producing again: %(note)s") % {"note": note},
        deadline=deadline,
    )
    return inspection


def quarter_bounds(quarter_start: datetime.date) -> tuple[datetime.date, datetime.date]:
    """First and last day of the quarter starting on `quarter_start` (which must be 1 Jan/Apr/Jul/Oct)."""
    if quarter_start.day != 1 or quarter_start.month not in (1, 4, 7, 10):
        raise ValidationError(
            {"quarter_start": _("%(date)s is not the first day of a quarter.") % {"date": quarter_start}}
        )
    next_month = quarter_start.month + 3
    following = quarter_start.replace(
        year=quarter_start.year + (next_month > 12), month=next_month - 12 if next_month > 12 else next_month
    )
    return quarter_start, following - datetime.timedelta(days=1)


@transaction.atomic
def create_recheck_sample(quarter_start: datetime.date, share: float, rng) -> list[Inspection]:
    """Draw the quarter's 回头看 sample: planned re-checks of randomly chosen closed enterprises.

    Per township holding closed (or deregistered) enterprises, ceil(share × their number), at least one,
    are drawn with `rng` (a random.Random) and get a planned re-check due by the quarter's last day.
    Idempotent per quarter: a township already sampled for that quarter is left alone, so a second run
    (or a rerun after a crash) adds nothing twice. Returns the planned inspections created.
    """
    first_day, last_day = quarter_bounds(quarter_start)
    if not 0 < share <= 1:
        raise ValidationError({"share": _("The sample share must be above 0 and at most 1.")})
    sampled_townships = set(
        Inspection.objects.filter(sample_quarter=first_day).values_list("enterprise__township_id", flat=True)
    )
    closed_by_township: dict[int, list[int]] = defaultdict(list)
    rows = (
        Enterprise.objects.filter(status__in=CLOSED_STATUSES)
        .exclude(township_id__in=sampled_townships)
        .order_by("township_id", "pk")
        .values_list("township_id", "pk")
    )
    for township_id, enterprise_id in rows.iterator(chunk_size=5000):
        closed_by_township[township_id].append(enterprise_id)
    planned = []
    for township_id in sorted(closed_by_township):
        enterprise_ids = closed_by_township[township_id]
        count = min(len(enterprise_ids), max(1, math.ceil(share * len(enterprise_ids))))
        for enterprise_id in sorted(rng.sample(enterprise_ids, count)):
            planned.append(
                Inspection(
                    kind=InspectionKind.RECHECK,
                    status=InspectionStatus.PLANNED,
                    planned_on=last_day,
                    enterprise_id=enterprise_id,
                    sample_quarter=first_day,
                )
            )
    if not planned:
        return []
    return bulk_create_with_history(
        planned,
        Inspection,
        batch_size=1000,
        default_change_reason=_("Re-check (回头看) sample for the quarter starting %(date)s") % {"date": first_day},
    )


# --- Bulk findings (the roster importer) -----------------------------------------------------

#: Findings per query of a bulk record.
FINDING_BATCH_SIZE = 1000


@dataclass
class FindingItem:
    """A problem reported for an enterprise without an inspection (a roster's 存在问题). `enterprise` may be
    unsaved while an import is only previewed."""

    key: object
    enterprise: Enterprise
    area: str
    description: str
    severity: str = Severity.GENERAL
    deadline: datetime.date | None = None


def _description_key(text: str) -> str:
    return "".join((text or "").split())


def plan_findings(items, actor) -> list[tuple[FindingItem, list[str]]]:
    """The items `bulk_record_findings` would record, each with its errors (empty when valid).

    A problem the enterprise already has on record (the same text, spaces aside, in any state) or that
    an earlier item repeats is left out: importing the same roster again records nothing twice.
    """
    require(actor, Capability.MANAGE_FINDINGS)
    items = list(items)
    saved_ids = sorted({item.enterprise.pk for item in items if item.enterprise.pk})
    known = set()
    for start in range(0, len(saved_ids), FINDING_BATCH_SIZE):
        chunk = saved_ids[start : start + FINDING_BATCH_SIZE]
        known.update(
            (enterprise_id, _description_key(text))
            for enterprise_id, text in Finding.objects.filter(enterprise_id__in=chunk).values_list(
                "enterprise_id", "description"
            )
        )
    planned = []
    today = _today()
    for item in items:
        identity = (item.enterprise.pk or id(item.enterprise), _description_key(item.description))
        if identity in known:
            continue
        known.add(identity)
        errors = []
        try:
            require(actor, Capability.MANAGE_FINDINGS, item.enterprise.township)
        except PermissionDenied as error:
            errors.append(str(error))
        data = {"area": item.area, "severity": item.severity, "description": item.description}
        data["deadline"] = item.deadline
        try:
            _clean_finding_fields(data, found_on=today)
        except ValidationError as error:
            errors.extend(error.messages)
        planned.append((item, errors))
    return planned


@transaction.atomic
def bulk_record_findings(items, actor, reason: str = "") -> list[Finding]:
    """Record many enterprise findings at once (plan_findings rules; an item in error raises ValidationError
    keyed by the items' keys and nothing is written). Each finding gets a history row naming the actor and
    `reason`. Batched: a fixed number of queries per FINDING_BATCH_SIZE items."""
    return apply_findings(plan_findings(items, actor), actor, reason)


def apply_findings(planned: list[tuple[FindingItem, list[str]]], actor, reason: str = "") -> list[Finding]:
    """Record what plan_findings planned (see bulk_record_findings); the enterprises must be saved by now."""
    from core.bulk import insert_history, insert_rows

    errors = {str(item.key): messages for item, messages in planned if messages}
    if errors:
        raise ValidationError(errors)
    user = actor if getattr(actor, "pk", None) else None
    findings = [
        Finding(
            enterprise=item.enterprise,
            area=item.area,
            severity=item.severity,
            description=item.description.strip(),
            deadline=item.deadline,
            created_by=user,
        )
        for item, _messages in planned
    ]
    insert_rows(Finding, findings)
    insert_history(Finding, findings, user=user, reason=reason, history_type="+")
    return findings


# --- A roster import is a survey result ---------------------------------------------------------

SURVEY_BATCH_SIZE = 1000


def plan_roster_surveys(enterprises, campaign, actor, *, lock: bool = False) -> list[Enterprise]:
    """The enterprises of a roster import to record as surveyed (摸排) in `campaign`: those without a survey
    there yet (each once). A roster is the township's survey result, so every enterprise it creates or matches
    counts as surveyed from the import's date; an existing survey, imported or of the eight requirements, is
    left as it is. New (unsaved) enterprises have none. A fixed number of queries per SURVEY_BATCH_SIZE."""
    require(actor, Capability.RECORD_SURVEY)
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError({"campaign": _("The campaign %(campaign)s is closed.") % {"campaign": campaign}})
    enterprises = list(enterprises)
    saved_ids = sorted({enterprise.pk for enterprise in enterprises if enterprise.pk})
    surveyed = set()
    for start in range(0, len(saved_ids), SURVEY_BATCH_SIZE):
        rows = Survey.objects.filter(campaign=campaign, enterprise_id__in=saved_ids[start : start + SURVEY_BATCH_SIZE])
        if lock:
            rows = rows.select_for_update()
        surveyed.update(rows.values_list("enterprise_id", flat=True))
    planned, seen = [], set()
    for enterprise in enterprises:
        identity = enterprise.pk or id(enterprise)
        if identity in seen or enterprise.pk in surveyed:
            continue
        seen.add(identity)
        require(actor, Capability.RECORD_SURVEY, enterprise.township)
        planned.append(enterprise)
    return planned


def apply_roster_surveys(
    enterprises, campaign, actor, *, roster_import, surveyed_on: datetime.date, reason: str = ""
) -> list[int]:
    """Record what plan_roster_surveys planned (in the same transaction; the enterprises saved by now): one survey
    per enterprise dated `surveyed_on`, naming the import, with its history row (the quarterly report counts
    surveys from the history). Rows that differ only in their enterprise: written without a model instance each
    (core.bulk.insert_uniform_rows), in batches like the rest of the import. Returns the new surveys' ids."""
    from core.bulk import insert_uniform_rows

    user = actor if getattr(actor, "pk", None) else None
    return insert_uniform_rows(
        Survey,
        "enterprise_id",
        [enterprise.pk for enterprise in enterprises],
        {
            "campaign_id": campaign.pk,
            "surveyed_on": surveyed_on,
            "recorded_by_id": user.pk if user else None,
            "source": SurveySource.ROSTER_IMPORT,
            "roster_import_id": roster_import.pk,
        },
        user=user,
        reason=reason,
    )


# --- Major hazard source duties (the daily check) -----------------------------------------------------------

#: What each breach asks for, and where the duty is written.
HAZARD_DUTY_TEXTS = {
    HazardDuty.MONITORING: gettext_lazy(
        "Major hazard source “%(source)s” (%(level)s) has no automated monitoring: install it and transmit its "
        "signals to the park's major hazard source monitoring system."
    ),
    HazardDuty.VIDEO: gettext_lazy(
        "Major hazard source “%(source)s” (%(level)s) transmits no video to the park's monitoring platform: "
        "connect its video surveillance."
    ),
    HazardDuty.SHUTOFF: gettext_lazy(
        "Major hazard source “%(source)s” (%(level)s) holds toxic gases, highly toxic liquids or flammable gases "
        "without emergency shut-off: install emergency shut-off devices."
    ),
    HazardDuty.MUST_STOP: gettext_lazy(
        "Major hazard source “%(source)s” is a %(level)s storage unit without emergency shut-off: it must stop "
        "operating until emergency shut-off is installed."
    ),
}
HAZARD_DUTY_BASIS = gettext_lazy(
    "City mobilisation speech on chemical rectification, (六) “all major hazard sources of hazardous chemicals must "
    "have automated monitoring and remote video transmission … toxic gases, highly toxic liquids and flammable "
    "gases must have emergency shut-off; level 1 or 2 tank farms without emergency stop or shut-off must stop "
    "operating”; GB 18218-2018."
)


def record_hazard_duty_findings(found_on: datetime.date) -> list[Finding]:
    """Record a major accident hazard (重大事故隐患) finding for each breach of a major hazard source's duties
    that has no unclosed finding yet (the daily check; the worker, no actor).

    The breaches are those enterprises.hazards.breach_q selects from the figures the grading stored. Set-based:
    per duty one SELECT of the new breaches (those without an unclosed finding for the same source and duty),
    then one multi-row INSERT with its history rows. A breach whose finding is open, being fixed, awaiting
    verification or reopened is not recorded again; once it is closed, a breach found again is a new finding.
    The database also refuses a second unclosed finding for a source and duty (finding_one_open_per_hazard_duty).
    Returns the findings created.
    """
    from core.bulk import insert_history, insert_rows
    from enterprises.hazards import breach_q
    from enterprises.models import MajorHazardSource

    levels = dict(HazardLevel.choices)
    findings = []
    for duty in HazardDuty:
        unclosed = Finding.objects.filter(hazard_source=OuterRef("pk"), hazard_duty=duty).exclude(
            status=FindingStatus.CLOSED
        )
        rows = (
            MajorHazardSource.objects.filter(breach_q(duty))
            .exclude(Exists(unclosed))
            .order_by("pk")
            .values_list("pk", "enterprise_id", "name", "computed_level")
        )
        for source_id, enterprise_id, name, level in rows.iterator(chunk_size=2000):
            level_label = str(levels[level]) if level else str(_("level not computed"))
            findings.append(
                Finding(
                    enterprise_id=enterprise_id,
                    hazard_source_id=source_id,
                    hazard_duty=duty,
                    area=AccessArea.WORK_SAFETY,
                    severity=Severity.MAJOR,
                    description=str(HAZARD_DUTY_TEXTS[duty]) % {"source": name, "level": level_label},
                    legal_basis=str(HAZARD_DUTY_BASIS),
                    status=FindingStatus.OPEN,
                )
            )
    insert_rows(Finding, findings)
    insert_history(
        Finding,
        findings,
        reason=_("Daily check of major hazard source duties, %(date)s") % {"date": found_on},
        history_type="+",
    )
    return findings


def refresh_enterprise_references(sender, enterprise_ids, **kwargs) -> None:
    """Receiver of enterprises.signals.enterprise_reference_changed: surveys, inspections and findings show
    their enterprise's code, name and township in the API, so a sync must fetch them again."""
    for model in (Survey, Inspection, Finding):
        mark_changed(model.objects.filter(enterprise_id__in=enterprise_ids))
