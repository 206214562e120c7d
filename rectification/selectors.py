"""Reads of rectification: campaign progress, classification lists, the dossier section, the work queue.

Every function scopes itself through `visible_to(user)` and costs a fixed number of queries whatever the
number of regions, enterprises or tasks (aggregates grouped in the database, rolled up in Python along the
region paths; prefetches instead of per-row queries).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.choices import Role
from accounts.permissions import Capability, role_can
from enterprises.models import Enterprise
from inspections.models import Survey
from regions.models import Region

from .choices import (
    DECIDED_STATES,
    FOUR_BATCHES,
    OPEN_PROPOSAL_STATES,
    OPEN_TASK_STATUSES,
    Category,
    ClassificationState,
    StepAction,
    TaskStatus,
)
from .models import Campaign, Classification, ClassificationStep, Plan, Target, Task, TaskEvidence

S = ClassificationState

#: Tasks due within this many days appear in the work queue ("due soon").
DUE_SOON_DAYS = 7


def today() -> datetime.date:
    return timezone.localdate()


# --- Campaigns and progress ------------------------------------------------------------------


def campaigns_for(user):
    """The campaigns the user sees (all of them for anyone with a region), newest first."""
    return Campaign.objects.visible_to(user).order_by("-starts_on", "name")


def targets_for(campaign: Campaign, user, year: int | None = None):
    """The campaign's targets inside the user's region."""
    targets = Target.objects.visible_to(user).filter(campaign=campaign).select_related("region")
    if year is not None:
        targets = targets.filter(year=year)
    return targets.order_by("region__path", "year")


def _counts() -> dict:
    return dict.fromkeys(FOUR_BATCHES, 0)


# --- Completion rates: one definition for the campaign page and the quarterly report ---------------


def category_rates(completed: dict, target: dict) -> dict:
    """Completion rate of each batch against that batch's target (1.0 = 100 %); None where it has no target."""
    return {name: (completed[name] / target[name] if target[name] else None) for name in FOUR_BATCHES}


def overall_rate(completed: dict, target: dict) -> float | None:
    """The overall completion rate, over the batches that have a target only.

    Completions in a batch without a target do not count, nor those beyond a batch's target (a batch done
    twice over cannot make up for another left undone): sum of min(completed, target) / sum of targets.
    None when no batch has a target.
    """
    targeted = [name for name in FOUR_BATCHES if target[name]]
    total = sum(target[name] for name in targeted)
    if not total:
        return None
    return sum(min(completed[name], target[name]) for name in targeted) / total


@dataclass
class RegionProgress:
    """Targets and computed progress of one region (itself and everything below it)."""

    region: Region
    depth: int
    #: Target counts per category: the region's own target, or the sum of its children's when it has none.
    target: dict = field(default_factory=_counts)
    has_own_target: bool = False
    #: Decisions in force proposed but not yet approved (proposed … awaiting approval, returned), per batch.
    proposed: dict = field(default_factory=_counts)
    #: Decisions in force approved (approved, in progress, awaiting acceptance, accepted), per batch.
    decided: dict = field(default_factory=_counts)
    #: … of which accepted (销号); with a year, those accepted in that year.
    completed: dict = field(default_factory=_counts)
    #: Enterprises excluded (剔除) by an approved decision.
    excluded: int = 0
    #: Enterprises in the register in the region (any kind or status).
    enterprises: int = 0
    #: Enterprises with a survey (摸排) in the campaign (a roster import counts).
    surveyed: int = 0

    @property
    def target_total(self) -> int:
        return sum(self.target.values())

    @property
    def completed_total(self) -> int:
        return sum(self.completed.values())

    @property
    def decided_total(self) -> int:
        return sum(self.decided.values())

    @property
    def proposed_total(self) -> int:
        return sum(self.proposed.values())

    @property
    def completion_rate(self) -> float | None:
        """The overall rate over the targeted batches (see overall_rate), None without any target."""
        return overall_rate(self.completed, self.target)

    def rate_for(self, category: str) -> float | None:
        return category_rates(self.completed, self.target)[category]


def campaign_progress(campaign: Campaign, user, year: int | None = None, root: Region | None = None):
    """Progress against target for every region in the user's scope (or below `root`), ordered along the tree.

    Three queries whatever the number of regions: the regions, the targets summed per region, and the
    enterprises in the register counted per township with their decision in force (category and state) and
    whether they were surveyed in the campaign. Township figures are added up to every ancestor by the
    materialised path. With `year`, targets of that year and classifications accepted in it.
    """
    regions_qs = Region.objects.visible_to(user)
    if root is not None:
        regions_qs = regions_qs.in_region(root)
    regions = list(regions_qs.order_by("path"))
    if not regions:
        return []
    by_code = {region.code: region for region in regions}
    top_depth = min(region.path.count("/") for region in regions)
    progress = {
        region.pk: RegionProgress(region=region, depth=region.path.count("/") - top_depth) for region in regions
    }

    def along(path: str):
        """The entries of the regions on a township's path (the township and its ancestors in scope)."""
        return [progress[by_code[code].pk] for code in path.strip("/").split("/") if code in by_code]

    targets = Target.objects.visible_to(user).filter(campaign=campaign)
    enterprises = Enterprise.objects.visible_to(user)
    if root is not None:
        targets = targets.in_region(root)
        enterprises = enterprises.in_region(root)
    if year is not None:
        targets = targets.filter(year=year)
    own_targets = {}
    for row in targets.values("region_id").annotate(**{name: Sum(name) for name in FOUR_BATCHES}):
        own_targets[row["region_id"]] = {name: row[name] or 0 for name in FOUR_BATCHES}

    # One query over the enterprises: each with its decision in force (category, state) and whether it was
    # surveyed in the campaign, counted per township, category and state.
    current = Classification.objects.filter(enterprise=OuterRef("pk"), campaign=campaign, is_current=True)
    accepted = current.filter(state=S.ACCEPTED)
    if year is not None:
        accepted = accepted.filter(accepted_at__year=year)
    rows = (
        enterprises.annotate(
            category=Subquery(current.values("category")[:1]),
            state=Subquery(current.values("state")[:1]),
            counts_completed=Exists(accepted),
        )
        .alias(surveyed=Exists(Survey.objects.filter(campaign=campaign, enterprise=OuterRef("pk"))))
        .values("township__path", "category", "state", "counts_completed")
        .annotate(total=Count("pk"), surveyed_count=Count("pk", filter=Q(surveyed=True)))
        .order_by()
    )
    for row in rows:
        category, state, n = row["category"], row["state"], row["total"]
        for entry in along(row["township__path"]):
            entry.enterprises += n
            entry.surveyed += row["surveyed_count"]
            if category in FOUR_BATCHES:
                if state in OPEN_PROPOSAL_STATES:
                    entry.proposed[category] += n
                elif state in DECIDED_STATES:
                    entry.decided[category] += n
                    if row["counts_completed"]:
                        entry.completed[category] += n
            elif category == Category.EXCLUDED and state in DECIDED_STATES:
                entry.excluded += n

    # Targets: a region's own, else the sum of its children's effective targets (deepest regions first).
    for region in sorted(regions, key=lambda r: r.path.count("/"), reverse=True):
        entry = progress[region.pk]
        if region.pk in own_targets:
            entry.target = dict(own_targets[region.pk])
            entry.has_own_target = True
        parent = progress.get(region.parent_id)
        if parent is not None and region.parent_id not in own_targets:
            for name in FOUR_BATCHES:
                parent.target[name] += entry.target[name]
    return [progress[region.pk] for region in regions]


# --- Classification lists ---------------------------------------------------------------------


def _task_count(**filters):
    tasks = Task.objects.filter(plan__classification=OuterRef("pk"), **filters).order_by()
    return Coalesce(
        Subquery(tasks.values("plan__classification").annotate(n=Count("pk")).values("n")[:1]),
        Value(0),
        output_field=IntegerField(),
    )


def annotate_classifications(queryset):
    """Decorate a classification queryset for a list: related rows joined, task counts, pending change."""
    return queryset.select_related(
        "enterprise__township__parent", "campaign", "destination_park", "absorbing_enterprise"
    ).annotate(
        tasks_total=_task_count(),
        tasks_closed=_task_count(status=TaskStatus.VERIFIED_CLOSED),
        tasks_done=_task_count(status=TaskStatus.DONE),  # reported done, not verified yet
        tasks_overdue=_task_count(status=TaskStatus.OVERDUE),
        has_pending_change=Exists(
            Classification.objects.filter(replaces=OuterRef("pk"), is_current=False, state__in=OPEN_PROPOSAL_STATES)
        ),
    )


def classifications_for_campaign(
    campaign: Campaign,
    user,
    category: str | None = None,
    state: str | None = None,
    region: Region | None = None,
    include_changes: bool = True,
):
    """The campaign's classifications in the user's scope, filterable, annotated, ordered by enterprise.

    The current classification of each enterprise, plus (with `include_changes`) pending change requests.
    """
    rows = Classification.objects.visible_to(user).filter(campaign=campaign)
    rows = (
        rows.filter(Q(is_current=True) | Q(is_current=False, state__in=OPEN_PROPOSAL_STATES))
        if include_changes
        else rows.current()
    )
    if category:
        rows = rows.filter(category=category)
    if state:
        rows = rows.filter(state=state)
    if region is not None:
        rows = rows.in_region(region)
    return annotate_classifications(rows).order_by("enterprise__name", "enterprise_id", "-is_current", "id")


# --- The enterprise dossier --------------------------------------------------------------------


@dataclass
class CampaignSection:
    campaign: Campaign
    #: The decision in force (or the first proposal), None when only withdrawn rows exist.
    current: Classification | None
    #: A proposal to change the decision in force, still on its way.
    pending_change: Classification | None
    #: Superseded and withdrawn classifications, newest first (each with its steps and plan).
    earlier: list


def classification_dossier(enterprise, user) -> list[CampaignSection]:
    """The enterprise's classifications per campaign with their steps, plans, tasks and evidence.

    Five queries whatever the number of campaigns, steps or tasks. Each classification has `.timeline`
    (its steps, oldest first, actor and department joined) and `.plan_or_none` (the plan with
    `.task_list`, each task with `.evidence_list`).
    """
    tasks = Task.objects.select_related("lead_department", "lead_region", "done_by", "verified_by").prefetch_related(
        Prefetch("evidence", queryset=TaskEvidence.objects.select_related("uploaded_by"), to_attr="evidence_list")
    )
    classifications = list(
        Classification.objects.visible_to(user)
        .filter(enterprise=enterprise)
        .select_related("campaign", "destination_park", "absorbing_enterprise", "proposed_by", "enterprise__township")
        .prefetch_related(
            Prefetch(
                "steps",
                queryset=ClassificationStep.objects.select_related("actor", "department").order_by("at", "id"),
                to_attr="timeline",
            ),
            Prefetch(
                "plan", queryset=Plan.objects.prefetch_related(Prefetch("tasks", queryset=tasks, to_attr="task_list"))
            ),
        )
        .order_by("-campaign__starts_on", "campaign_id", "-id")
    )
    sections: dict[int, CampaignSection] = {}
    for classification in classifications:
        classification.plan_or_none = getattr(classification, "plan", None) if _has_plan(classification) else None
        section = sections.get(classification.campaign_id)
        if section is None:
            section = sections[classification.campaign_id] = CampaignSection(
                campaign=classification.campaign, current=None, pending_change=None, earlier=[]
            )
        if classification.is_current:
            section.current = classification
        elif classification.state in OPEN_PROPOSAL_STATES:
            section.pending_change = classification
        else:
            section.earlier.append(classification)
    return list(sections.values())


def _has_plan(classification) -> bool:
    try:
        classification.plan  # noqa: B018 — prefetched; raises when there is none
    except Plan.DoesNotExist:
        return False
    return True


# --- Work queue ------------------------------------------------------------------------------------


@dataclass
class WorkQueue:
    """What waits for the user; each entry a scoped queryset (empty when the role has nothing to do there)."""

    to_submit: object  # proposals the county submits for pre-review
    to_process: object  # reviewed or returned: the county adjusts, resubmits or forwards
    opinions_to_give: object  # classifications in pre-review still lacking the user's department's opinion
    to_approve: object  # awaiting the city's decision
    to_accept: object  # awaiting acceptance
    tasks_due: object  # open tasks due within DUE_SOON_DAYS or overdue
    tasks_to_verify: object  # tasks marked done by someone else

    def counts(self) -> dict:
        return {name: queryset.count() for name, queryset in vars(self).items()}


def _opinion_given(user):
    return Exists(
        ClassificationStep.objects.filter(
            classification=OuterRef("pk"),
            action=StepAction.OPINION,
            review_round=OuterRef("review_round"),
            department_id=getattr(user, "department_id", None),
        )
    )


def _reviews(user) -> bool:
    department = getattr(user, "department", None)
    return role_can(user, Capability.GIVE_OPINION) and department is not None and department.reviews_classifications


def work_queue(user, on: datetime.date | None = None) -> WorkQueue:
    on = on or today()
    classifications = annotate_classifications(Classification.objects.visible_to(user)).order_by(
        "enterprise__name", "id"
    )
    none = classifications.none()
    tasks = (
        Task.objects.visible_to(user)
        .filter(plan__classification__state__in=[S.IN_PROGRESS, S.AWAITING_ACCEPTANCE])
        .select_related(
            "plan__classification__enterprise__township",
            "plan__classification__campaign",
            "lead_department",
            "lead_region",
            "done_by",
        )
        .order_by("deadline", "id")
    )
    can_submit = role_can(user, Capability.SUBMIT_CLASSIFICATION)
    can_accept = role_can(user, Capability.ACCEPT_CLASSIFICATION)
    return WorkQueue(
        to_submit=classifications.filter(state=S.PROPOSED).exclude(category=Category.UNDECIDED) if can_submit else none,
        to_process=classifications.filter(state__in=[S.REVIEWED, S.RETURNED]) if can_submit else none,
        opinions_to_give=classifications.filter(state__in=[S.UNDER_REVIEW, S.REVIEWED]).exclude(_opinion_given(user))
        if _reviews(user)
        else none,
        to_approve=classifications.filter(state=S.PENDING_APPROVAL)
        if role_can(user, Capability.APPROVE_CLASSIFICATION)
        else none,
        to_accept=classifications.filter(state=S.AWAITING_ACCEPTANCE) if can_accept else none,
        tasks_due=tasks.filter(
            plan__classification__state=S.IN_PROGRESS,
            status__in=OPEN_TASK_STATUSES,
            deadline__lte=on + datetime.timedelta(days=DUE_SOON_DAYS),
        )
        if role_can(user, Capability.MANAGE_TASKS)
        else tasks.none(),
        tasks_to_verify=tasks.filter(status=TaskStatus.DONE).exclude(done_by=user)
        if role_can(user, Capability.VERIFY_TASK)
        else tasks.none(),
    )


def work_queue_counts(user, on: datetime.date | None = None) -> dict:
    """The numbers of the work queue for the navigation: two queries (classifications, tasks)."""
    on = on or today()
    counts = dict.fromkeys(
        ["to_submit", "to_process", "opinions_to_give", "to_approve", "to_accept", "tasks_due", "tasks_to_verify"], 0
    )
    if user is None or not user.is_authenticated:
        return counts
    zero = Q(pk__in=[])
    can_submit = role_can(user, Capability.SUBMIT_CLASSIFICATION)
    aggregates = {
        "to_submit": Q(state=S.PROPOSED) & ~Q(category=Category.UNDECIDED) if can_submit else zero,
        "to_process": Q(state__in=[S.REVIEWED, S.RETURNED]) if can_submit else zero,
        "opinions_to_give": Q(state__in=[S.UNDER_REVIEW, S.REVIEWED], opinion_given=False) if _reviews(user) else zero,
        "to_approve": Q(state=S.PENDING_APPROVAL) if role_can(user, Capability.APPROVE_CLASSIFICATION) else zero,
        "to_accept": Q(state=S.AWAITING_ACCEPTANCE) if role_can(user, Capability.ACCEPT_CLASSIFICATION) else zero,
    }
    wanted = {name: condition for name, condition in aggregates.items() if condition is not zero}
    if wanted:
        rows = Classification.objects.visible_to(user).filter(
            state__in=[S.PROPOSED, S.UNDER_REVIEW, S.REVIEWED, S.RETURNED, S.PENDING_APPROVAL, S.AWAITING_ACCEPTANCE]
        )
        if "opinions_to_give" in wanted:
            rows = rows.annotate(opinion_given=_opinion_given(user))
        counts.update(rows.aggregate(**{name: Count("pk", filter=condition) for name, condition in wanted.items()}))
    task_aggregates = {}
    if role_can(user, Capability.MANAGE_TASKS):
        task_aggregates["tasks_due"] = Count(
            "pk",
            filter=Q(
                plan__classification__state=S.IN_PROGRESS,
                status__in=OPEN_TASK_STATUSES,
                deadline__lte=on + datetime.timedelta(days=DUE_SOON_DAYS),
            ),
        )
    if role_can(user, Capability.VERIFY_TASK):
        task_aggregates["tasks_to_verify"] = Count("pk", filter=Q(status=TaskStatus.DONE) & ~Q(done_by=user))
    if task_aggregates:
        counts.update(
            Task.objects.visible_to(user)
            .filter(plan__classification__state__in=[S.IN_PROGRESS, S.AWAITING_ACCEPTANCE])
            .aggregate(**task_aggregates)
        )
    return counts


# --- Tasks and their lead units ---------------------------------------------------------------


def tasks_for(user):
    """Tasks in the user's scope with what a task list shows joined."""
    return Task.objects.visible_to(user).select_related(
        "plan__classification__enterprise__township",
        "plan__classification__campaign",
        "lead_department",
        "lead_region",
        "done_by",
        "verified_by",
    )


#: Roles that act for a government (a region) when that government leads a task.
GOVERNMENT_ROLES = [Role.CITY, Role.COUNTY, Role.TOWNSHIP]


def lead_unit_users(tasks) -> dict[int, list]:
    """`tasks`: a Task queryset or task ids. The users to notify for each task: {task id: [users]} (three queries whatever the number of tasks).

    - a department leads: the active users of that department whose region contains the enterprise;
    - a government leads: the active office/township users attached exactly to that region.
    """
    task_ids = tasks.values("pk") if isinstance(tasks, QuerySet) else list(tasks)
    rows = list(
        Task.objects.filter(pk__in=task_ids).values_list(
            "pk", "lead_department_id", "lead_region_id", "plan__classification__enterprise__township__path"
        )
    )
    if not rows:
        return {}
    department_ids = {row[1] for row in rows if row[1]}
    region_ids = {row[2] for row in rows if row[2]}
    users = get_user_model().objects.filter(is_active=True).select_related("region", "department")
    by_department = defaultdict(list)
    if department_ids:
        for user in users.filter(department_id__in=department_ids):
            by_department[user.department_id].append(user)
    by_region = defaultdict(list)
    if region_ids:
        for user in users.filter(region_id__in=region_ids, role__in=GOVERNMENT_ROLES):
            by_region[user.region_id].append(user)
    result = {}
    for task_id, department_id, region_id, township_path in rows:
        if department_id:
            result[task_id] = [
                user
                for user in by_department[department_id]
                if user.region_id is None or township_path.startswith(user.region.path)
            ]
        else:
            result[task_id] = list(by_region[region_id])
    return result


def lead_unit_name(task: Task) -> str:
    unit = task.lead_unit
    return unit.name if unit is not None else ""
