"""Reads of surveys, inspections and findings, each scoped through `visible_to(user)`.

Lists come back as querysets with what a row shows already joined or prefetched, so a page
makes a fixed number of queries whatever its length; pages paginate them.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import BooleanField, Count, ExpressionWrapper, F, Prefetch, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.permissions import Capability, role_can
from core.history import HistoryEntry, HistorySource, read_history

from .choices import ACTIVE_FINDING_STATES, UNCLOSED_FINDING_STATES, AccessArea, FindingStatus, Severity
from .models import Finding, Inspection, Survey, SurveyItem

_AREA_ORDER = {value: index for index, value in enumerate(AccessArea.values)}


def _today() -> datetime.date:
    return timezone.localdate()


def overdue_q(on: datetime.date | None = None) -> Q:
    """Findings past their deadline and still waiting for the responsible unit."""
    return Q(status__in=ACTIVE_FINDING_STATES, deadline__lt=on or _today())


def with_overdue(queryset, on: datetime.date | None = None):
    """Annotate `is_overdue` (computed as of `on`, not relying on the worker's mark)."""
    return queryset.annotate(is_overdue=ExpressionWrapper(overdue_q(on), output_field=BooleanField()))


# --- Surveys -------------------------------------------------------------------------------


def sorted_items(survey: Survey) -> list[SurveyItem]:
    """A survey's items in the order of the eight requirements (uses the prefetched items)."""
    return sorted(survey.items.all(), key=lambda item: _AREA_ORDER.get(item.area, 99))


@dataclass
class SurveyForm:
    """What the survey form shows for one enterprise and campaign: the survey (if any) and each area's answer."""

    survey: Survey | None
    answers: dict = field(default_factory=dict)  # area code -> (conforming, note); missing when unanswered


def survey_for_form(user, enterprise, campaign) -> SurveyForm:
    survey = (
        Survey.objects.visible_to(user)
        .filter(enterprise=enterprise, campaign=campaign)
        .prefetch_related("items")
        .first()
    )
    if survey is None:
        return SurveyForm(survey=None)
    return SurveyForm(survey=survey, answers={item.area: (item.conforming, item.note) for item in survey.items.all()})


def surveys_list(user, *, campaign=None, region=None, enterprise=None, non_conforming_area: str | None = None):
    """Surveys with their enterprise and campaign and the number of non-conforming areas."""
    queryset = Survey.objects.visible_to(user)
    if campaign is not None:
        queryset = queryset.filter(campaign=campaign)
    if region is not None:
        queryset = queryset.in_region(region)
    if enterprise is not None:
        queryset = queryset.filter(enterprise=enterprise)
    if non_conforming_area:
        queryset = queryset.filter(items__area=non_conforming_area, items__conforming=False)
    return queryset.select_related("enterprise__township", "campaign", "recorded_by").annotate(
        non_conforming_count=Count("items", filter=Q(items__conforming=False), distinct=True)
    )


# --- Inspections ---------------------------------------------------------------------------


def _inspection_rows(queryset):
    return (
        queryset.select_related("enterprise__township", "park__township", "created_by", "classification__campaign")
        .prefetch_related("departments")
        .annotate(
            finding_count=Count("findings", distinct=True),
            open_finding_count=Count("findings", filter=Q(findings__status__in=UNCLOSED_FINDING_STATES), distinct=True),
        )
        # Meta.ordering is dropped by GROUP BY queries; planned (not yet inspected) first on every database.
        .order_by(F("inspected_on").desc(nulls_first=True), "-planned_on", "-id")
    )


def inspections_list(
    user,
    *,
    kind: str | None = None,
    status: str | None = None,
    result: str | None = None,
    region=None,
    enterprise=None,
    park=None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
):
    """Inspections (planned and carried out) with target, departments and finding counts, newest first."""
    queryset = Inspection.objects.visible_to(user)
    if kind:
        queryset = queryset.filter(kind=kind)
    if status:
        queryset = queryset.filter(status=status)
    if result:
        queryset = queryset.filter(result=result)
    if region is not None:
        queryset = queryset.in_region(region)
    if enterprise is not None:
        queryset = queryset.filter(enterprise=enterprise)
    if park is not None:
        queryset = queryset.filter(park=park)
    if date_from:
        queryset = queryset.filter(
            Q(inspected_on__gte=date_from) | Q(inspected_on__isnull=True, planned_on__gte=date_from)
        )
    if date_to:
        queryset = queryset.filter(Q(inspected_on__lte=date_to) | Q(inspected_on__isnull=True, planned_on__lte=date_to))
    return _inspection_rows(queryset)


def inspection_detail(user, pk) -> Inspection:
    """One inspection with departments, attachments, check items and findings; 404 outside the user's region."""
    queryset = (
        Inspection.objects.visible_to(user)
        .select_related("enterprise__township", "park__township", "created_by", "classification__campaign")
        .prefetch_related(
            "departments",
            "attachments",
            "check_items",
            Prefetch(
                "findings",
                queryset=with_overdue(Finding.objects.select_related("responsible_department").order_by("id")),
            ),
        )
    )
    return get_object_or_404(queryset, pk=pk)


def planned_inspections(user, *, kind: str | None = None):
    """Work queue: planned inspections in the user's region (e.g. the quarter's 回头看 sample), soonest first."""
    if not role_can(user, Capability.RECORD_INSPECTION):
        return Inspection.objects.none()
    queryset = Inspection.objects.visible_to(user).planned()
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.select_related("enterprise__township", "park__township").order_by("planned_on", "id")


# --- Findings ------------------------------------------------------------------------------


def _finding_rows(queryset):
    return queryset.select_related(
        "enterprise__township",
        "park__township",
        "inspection",
        "survey__campaign",
        "responsible_department",
        "fixed_by",
        "verified_by",
    )


def findings_list(
    user,
    *,
    status: str | None = None,
    severity: str | None = None,
    area: str | None = None,
    overdue: bool | None = None,
    region=None,
    enterprise=None,
    park=None,
    unclosed: bool | None = None,
    on: datetime.date | None = None,
):
    """Findings filtered by status, severity, area, overdue (as of `on`, default today), region and target.

    Rows carry `is_overdue`; newest first.
    """
    queryset = Finding.objects.visible_to(user)
    if status:
        queryset = queryset.filter(status=status)
    if unclosed is True:
        queryset = queryset.filter(status__in=UNCLOSED_FINDING_STATES)
    elif unclosed is False:
        queryset = queryset.filter(status=FindingStatus.CLOSED)
    if severity:
        queryset = queryset.filter(severity=severity)
    if area:
        queryset = queryset.filter(area=area)
    if overdue is True:
        queryset = queryset.filter(overdue_q(on))
    elif overdue is False:
        queryset = queryset.exclude(overdue_q(on))
    if region is not None:
        queryset = queryset.in_region(region)
    if enterprise is not None:
        queryset = queryset.filter(enterprise=enterprise)
    if park is not None:
        queryset = queryset.filter(park=park)
    return with_overdue(_finding_rows(queryset), on)


def findings_to_verify(user):
    """Work queue: fixes awaiting verification that this user may verify (not their own fixes), oldest first."""
    if not role_can(user, Capability.VERIFY_FINDING):
        return Finding.objects.none()
    queryset = Finding.objects.visible_to(user).filter(status=FindingStatus.AWAITING_VERIFICATION)
    queryset = queryset.exclude(fixed_by=user)
    if not role_can(user, Capability.VERIFY_MAJOR_FINDING):
        queryset = queryset.exclude(severity=Severity.MAJOR)
    return with_overdue(_finding_rows(queryset)).order_by("fixed_at", "id")


def count_findings_to_verify(user) -> int:
    """The navigation badge: one COUNT query."""
    return findings_to_verify(user).order_by().count()


def findings_due(user, *, within_days: int = 7, on: datetime.date | None = None):
    """Work queue: unclosed findings overdue or due within `within_days`, for users who follow findings up."""
    if not role_can(user, Capability.MANAGE_FINDINGS):
        return Finding.objects.none()
    on = on or _today()
    queryset = Finding.objects.visible_to(user).filter(
        status__in=ACTIVE_FINDING_STATES, deadline__lte=on + datetime.timedelta(days=within_days)
    )
    return with_overdue(_finding_rows(queryset), on).order_by("deadline", "id")


@dataclass
class FindingDetail:
    finding: Finding
    evidence: list
    history: list[HistoryEntry]
    #: FindingAction -> None when the user may take it now, else the reason it is refused.
    actions: dict[str, str | None]


def finding_detail(user, pk) -> FindingDetail:
    """A finding with its evidence, its history (every state change: who, when, why) and the user's possible steps;
    404 outside the user's region."""
    from .services import finding_actions

    finding = get_object_or_404(with_overdue(_finding_rows(Finding.objects.visible_to(user))), pk=pk)
    return FindingDetail(
        finding=finding,
        evidence=list(finding.evidence.select_related("uploaded_by")),
        history=read_history([HistorySource(finding.history.all(), lambda row: str(row.get_status_display()))]),
        actions=finding_actions(finding, user),
    )


# --- Enterprise dossier --------------------------------------------------------------------


@dataclass
class InspectionSections:
    """The dossier's surveys, inspections and findings of one enterprise."""

    surveys: list[Survey]  # each with .sorted_items and .finding_list
    inspections: list[Inspection]  # each with departments, attachments, check_items prefetched
    findings: list[Finding]  # each with is_overdue
    open_findings: int
    overdue_findings: int
    major_open_findings: int


def enterprise_sections(user, enterprise) -> InspectionSections:
    """Surveys with items, inspections and findings of one enterprise in seven queries, whatever their number."""
    surveys = list(
        Survey.objects.visible_to(user)
        .filter(enterprise=enterprise)
        .select_related("campaign", "recorded_by")
        .prefetch_related("items")
    )
    inspections = list(
        Inspection.objects.visible_to(user)
        .filter(enterprise=enterprise)
        .select_related("created_by", "classification__campaign")
        .prefetch_related("departments", "attachments", "check_items")
    )
    findings = list(
        with_overdue(
            Finding.objects.visible_to(user)
            .filter(enterprise=enterprise)
            .select_related("responsible_department", "fixed_by", "verified_by", "inspection", "survey__campaign")
        )
    )
    by_survey: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.survey_id:
            by_survey.setdefault(finding.survey_id, []).append(finding)
    for survey in surveys:
        survey.sorted_items = sorted_items(survey)
        survey.finding_list = by_survey.get(survey.pk, [])
    unclosed = [f for f in findings if f.status in UNCLOSED_FINDING_STATES]
    return InspectionSections(
        surveys=surveys,
        inspections=inspections,
        findings=findings,
        open_findings=len(unclosed),
        overdue_findings=sum(1 for f in findings if f.is_overdue),
        major_open_findings=sum(1 for f in unclosed if f.severity == Severity.MAJOR),
    )
