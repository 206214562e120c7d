"""Demo data of rectification, called by `manage.py demo` (core.demo.DEMO_EXTENSIONS).

Two campaigns around today: the city's three-year "四个一批" campaign (last year to next year) and a
"263" campaign on backward capacity (two years ago to this year); targets per county and township and
year; classifications of most demo enterprises in every workflow state, each with the steps that lead
there (who, when, opinions of each pre-review department), plans with their standard tasks (some
overdue, some done, some verified), one decision changed through a new proposal, one change pending.

Rows are bulk-inserted with "created" history entries. Keys: a campaign by name, a target by
(campaign, region, year); classifications, plans and tasks only in a campaign holding no
classification yet. A second run therefore inserts nothing and rows edited in the browser are left alone.
Actors are the demo users where their region covers the enterprise, else empty (shown as the system).
"""

import datetime
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from accounts.choices import Role
from accounts.models import Department
from enterprises.choices import EnterpriseKind, EnterpriseSize, OperatingStatus
from enterprises.models import Enterprise, YearlyTier
from parks.models import ChemicalPark
from regions.choices import RegionLevel
from regions.models import Region

from .choices import (
    FOUR_BATCHES,
    STANDARD_TASKS,
    CampaignKind,
    CampaignStatus,
    Category,
    ClassificationState,
    Opinion,
    StandardItem,
    StepAction,
    TaskStatus,
)
from .models import Campaign, Classification, ClassificationStep, Plan, Target, Task

S = ClassificationState
DEMO_REASON = "演示数据（manage.py demo）"

FOUR_BATCHES_NAME = "化工企业“四个一批”专项整治行动"
CAMPAIGN_263_NAME = "“263”专项行动·淘汰落后化工产能"

#: Workflow states drawn for a four-batch classification (weights).
STATE_WEIGHTS = [
    (S.PROPOSED, 12),
    (S.UNDER_REVIEW, 8),
    (S.REVIEWED, 4),
    (S.PENDING_APPROVAL, 6),
    (S.RETURNED, 3),
    (S.IN_PROGRESS, 36),
    (S.AWAITING_ACCEPTANCE, 7),
    (S.ACCEPTED, 21),
    (S.WITHDRAWN, 3),
]
CATEGORY_WEIGHTS = [
    (Category.SHUTDOWN, 34),
    (Category.UPGRADE, 36),
    (Category.RELOCATE, 8),
    (Category.RESTRUCTURE, 5),
    (Category.EXCLUDED, 7),
    (Category.UNDECIDED, 3),
    (None, 7),  # not classified yet: the township can propose one in the browser
]
PROBLEMS = [
    "安全生产许可证过期，手续不全",
    "距离通榆河不足1公里，位于敏感区域",
    "涉及硝化工艺，自动化控制未改造到位",
    "环评批复与实际生产不符，未批先建",
    "规模小、工艺落后，属淘汰类产能",
    "厂区与居民区安全距离不足",
    "危废贮存不规范，台账缺失",
    "重大危险源未接入园区监控平台",
]
OPINION_COMMENTS = {
    Opinion.AGREE_WITH_CHANGES: ["建议补充危废处置方案", "建议明确停产时间节点", "请补充安全评价意见"],
    Opinion.DISAGREE: ["该企业手续齐全，建议改为升级改造", "搬迁目的地产业定位不符"],
}
RETURN_COMMENTS = ["整治期限偏长，请调整后重新报送", "请补充各部门意见的落实情况"]
EXCLUSION_REASONS = ["经精准识别不属于化工企业（仅从事化工产品贸易，无仓储）", "已于专项行动前注销"]


def _weighted(rng, pairs):
    total = sum(weight for _value, weight in pairs)
    pick = rng.uniform(0, total)
    for value, weight in pairs:
        pick -= weight
        if pick <= 0:
            return value
    return pairs[-1][0]


@dataclass
class Actors:
    """The demo users who act for each region, and the reviewers by department."""

    township: dict = field(default_factory=dict)  # township id → user
    county: dict = field(default_factory=dict)  # county id → user
    city: object = None
    reviewers: dict = field(default_factory=dict)  # department id → user
    departments: list = field(default_factory=list)

    @classmethod
    def load(cls):
        actors = cls()
        users = get_user_model().objects.filter(is_active=True, role__in=[Role.CITY, Role.COUNTY, Role.TOWNSHIP])
        for user in users.select_related("region").order_by("pk"):
            if user.role == Role.TOWNSHIP:
                actors.township.setdefault(user.region_id, user)
            elif user.role == Role.COUNTY:
                actors.county.setdefault(user.region_id, user)
            elif actors.city is None:
                actors.city = user
        actors.departments = list(Department.objects.filter(reviews_classifications=True).order_by("pk"))
        reviewers = (
            get_user_model()
            .objects.filter(is_active=True, role=Role.REVIEWER, department__in=actors.departments)
            .order_by("pk")
        )
        for user in reviewers:
            actors.reviewers.setdefault(user.department_id, user)
        return actors


class Timeline:
    """Steps of one classification at increasing times."""

    def __init__(self, rng, start: datetime.datetime, now: datetime.datetime):
        self.rng = rng
        self.now = now
        self.at = min(start, now)
        self.steps: list[ClassificationStep] = []
        self.review_round = 0

    def add(self, action, from_state, to_state, actor=None, **fields):
        # Never in the future: a long timeline that would pass "now" is squeezed at its end.
        self.at = min(self.at + datetime.timedelta(hours=self.rng.randint(3, 24 * 5)), self.now)
        self.steps.append(
            ClassificationStep(
                action=action,
                from_state=from_state,
                to_state=to_state,
                actor=actor,
                review_round=self.review_round,
                at=self.at,
                **fields,
            )
        )
        return self.at


@dataclass
class Planned:
    classification: Classification
    steps: list
    tasks: list = field(default_factory=list)
    replaces_key: int | None = None  # index of the planned row this one replaces


class DemoRectification:
    def __init__(self, rng: random.Random, today: datetime.date):
        self.rng = rng
        self.today = today
        self.now = timezone.now()
        self.actors = Actors.load()
        self.created: Counter = Counter()
        with translation.override("zh-hans"):
            self.task_labels = {item.value: str(item.label) for item in StandardItem}

    def days(self, offset: int) -> datetime.date:
        return self.today + datetime.timedelta(days=offset)

    # --- campaigns and targets -----------------------------------------------------------

    def campaigns(self) -> tuple[Campaign, Campaign]:
        year = self.today.year
        wanted = [
            Campaign(
                name=FOUR_BATCHES_NAME,
                kind=CampaignKind.FOUR_BATCHES,
                starts_on=datetime.date(year - 1, 1, 1),
                ends_on=datetime.date(year + 1, 12, 31),
                status=CampaignStatus.ACTIVE,
                description="按照“关停一批、转移一批、升级一批、重组一批”要求，三年内完成全市化工企业专项整治。",
            ),
            Campaign(
                name=CAMPAIGN_263_NAME,
                kind=CampaignKind.CAMPAIGN_263,
                starts_on=datetime.date(year - 2, 1, 1),
                ends_on=datetime.date(year, 12, 31),
                status=CampaignStatus.ACTIVE,
                description="两减六治三提升（263）专项行动：淘汰规模小、工艺落后的化工产能。",
            ),
        ]
        existing = {c.name: c for c in Campaign.objects.filter(name__in=[c.name for c in wanted])}
        new = [c for c in wanted if c.name not in existing]
        for campaign in bulk_create_with_history(new, Campaign, default_change_reason=DEMO_REASON):
            existing[campaign.name] = campaign
        self.created["campaigns"] += len(new)
        return existing[FOUR_BATCHES_NAME], existing[CAMPAIGN_263_NAME]

    def targets(self, campaign: Campaign, planned: list[Planned], categories=FOUR_BATCHES) -> None:
        """Targets per township and year from the planned classifications, and the counties' sums."""
        townships = {r.pk: r for r in Region.objects.filter(level=RegionLevel.TOWNSHIP)}
        per_township = defaultdict(Counter)
        for item in planned:
            c = item.classification
            if c.category in categories and c.state != S.WITHDRAWN and c.is_current:
                per_township[c.enterprise.township_id][c.category] += 1
        years = campaign.years
        shares = [0.5, 0.3, 0.2][: len(years)] if len(years) == 3 else [1 / len(years)] * len(years)
        rows: dict[tuple[int, int], Counter] = {}
        for township_id, counts in per_township.items():
            for index, year in enumerate(years):
                target = Counter()
                for category in categories:
                    total = counts[category] + (self.rng.randint(0, 2) if counts[category] else 0)
                    target[category] = round(total * shares[index])
                rows[(township_id, year)] = target
                county_id = townships[township_id].parent_id
                rows.setdefault((county_id, year), Counter()).update(target)
        existing = set(Target.objects.filter(campaign=campaign).values_list("region_id", "year"))
        new = [
            Target(campaign=campaign, region_id=region_id, year=year, **{c: counts[c] for c in FOUR_BATCHES})
            for (region_id, year), counts in sorted(rows.items())
            if (region_id, year) not in existing
        ]
        bulk_create_with_history(new, Target, batch_size=500, default_change_reason=DEMO_REASON)
        self.created["targets"] += len(new)

    # --- classifications -----------------------------------------------------------------

    def enterprises_to_classify(self, campaign):
        already = Classification.objects.filter(enterprise=OuterRef("pk"), campaign=campaign)
        return list(
            Enterprise.objects.exclude(Exists(already)).select_related("township").order_by("township__code", "uscc")
        )

    def county_actor(self, enterprise):
        return self.actors.county.get(enterprise.township.parent_id)

    def timeline(self, classification: Classification, target_state: str, start) -> Timeline:
        """The steps that lead a classification from its proposal to `target_state`."""
        rng = self.rng
        enterprise = classification.enterprise
        town, county, city = (
            self.actors.township.get(enterprise.township_id),
            self.county_actor(enterprise),
            self.actors.city,
        )
        line = Timeline(rng, start, self.now)
        line.add(StepAction.PROPOSE, "", S.PROPOSED, town)
        if target_state == S.PROPOSED:
            return line
        if target_state == S.WITHDRAWN:
            line.add(StepAction.WITHDRAW, S.PROPOSED, S.WITHDRAWN, town, comment="重复上报，撤回")
            return line
        line.review_round = 1
        line.add(StepAction.SUBMIT, S.PROPOSED, S.UNDER_REVIEW, county)
        departments = self.actors.departments
        given = len(departments) if target_state != S.UNDER_REVIEW else rng.randint(0, max(len(departments) - 1, 0))
        for department in departments[:given]:
            opinion = _weighted(rng, [(Opinion.AGREE, 80), (Opinion.AGREE_WITH_CHANGES, 15), (Opinion.DISAGREE, 5)])
            comment = rng.choice(OPINION_COMMENTS[opinion]) if opinion != Opinion.AGREE else ""
            line.add(
                StepAction.OPINION,
                S.UNDER_REVIEW,
                S.UNDER_REVIEW,
                self.actors.reviewers.get(department.pk),
                department=department,
                opinion=opinion,
                comment=comment,
            )
        if target_state == S.UNDER_REVIEW:
            return line
        line.add(StepAction.REVIEW_COMPLETE, S.UNDER_REVIEW, S.REVIEWED)
        if target_state == S.REVIEWED:
            return line
        line.add(StepAction.FORWARD, S.REVIEWED, S.PENDING_APPROVAL, county)
        if target_state == S.PENDING_APPROVAL:
            return line
        if target_state == S.RETURNED:
            line.add(StepAction.RETURN, S.PENDING_APPROVAL, S.RETURNED, city, comment=rng.choice(RETURN_COMMENTS))
            return line
        classification.approved_at = line.add(StepAction.APPROVE, S.PENDING_APPROVAL, S.APPROVED, city)
        if classification.category not in FOUR_BATCHES:
            return line
        line.add(StepAction.START, S.APPROVED, S.IN_PROGRESS, city)
        if classification.category == Category.SHUTDOWN:
            at = line.add(StepAction.STOP_ORDER, S.IN_PROGRESS, S.IN_PROGRESS, town)
            classification.stop_order_on = timezone.localdate(at)
            line.steps[-1].details = {"stop_order_on": classification.stop_order_on.isoformat(), "previous": None}
        if target_state in (S.IN_PROGRESS, S.SUPERSEDED):
            return line
        line.add(StepAction.REQUEST_ACCEPTANCE, S.IN_PROGRESS, S.AWAITING_ACCEPTANCE, town)
        if target_state == S.AWAITING_ACCEPTANCE:
            return line
        classification.accepted_at = line.add(StepAction.ACCEPT, S.AWAITING_ACCEPTANCE, S.ACCEPTED, county or city)
        return line

    def start_time(self, target_state) -> datetime.datetime:
        """Early enough for the whole timeline to lie in the past, later states further back."""
        back = {S.ACCEPTED: (200, 520), S.AWAITING_ACCEPTANCE: (150, 300)}.get(target_state, (90, 300))
        return self.now - datetime.timedelta(days=self.rng.randint(*back), hours=self.rng.randint(0, 23))

    def tasks(self, classification: Classification, state: str, line: Timeline) -> list[Task]:
        rng = self.rng
        enterprise = classification.enterprise
        town, county = self.actors.township.get(enterprise.township_id), self.county_actor(enterprise)
        items = STANDARD_TASKS[classification.category]
        done_count = rng.randint(0, len(items) - 1) if state == S.IN_PROGRESS else len(items)
        tasks = []
        approved = classification.approved_at
        for index, item in enumerate(items, start=1):
            task = Task(
                order=index,
                standard_item=item,
                description=self.task_labels[item],
                lead_region=enterprise.township,
                responsible_person=rng.choice(["张海燕", "李明", "王强", "陈静", "刘洋"]),
                deadline=classification.deadline,
            )
            if index <= done_count:
                done_at = min(approved + datetime.timedelta(days=rng.randint(5, 60) + index * 3), self.now)
                task.done_at, task.done_by, task.completed_on = done_at, town, timezone.localdate(done_at)
                task.note = "已完成，现场核查照片已上传。"
                verified = state != S.IN_PROGRESS or rng.random() < 0.6
                if state == S.ACCEPTED or (verified and county is not None):
                    task.status = TaskStatus.VERIFIED_CLOSED
                    task.verified_by = county or self.actors.city
                    task.verified_at = min(done_at + datetime.timedelta(days=rng.randint(1, 10)), self.now)
                else:
                    task.status = TaskStatus.DONE
            elif index == done_count + 1 and rng.random() < 0.6:
                task.status = TaskStatus.IN_PROGRESS
            if task.status in (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS) and task.deadline < self.today:
                task.status = TaskStatus.OVERDUE
            tasks.append(task)
        return tasks

    def deadline(self, state) -> datetime.date:
        if state == S.IN_PROGRESS and self.rng.random() < 0.3:
            return self.days(-self.rng.randint(5, 150))  # overdue tasks
        if state in (S.ACCEPTED, S.AWAITING_ACCEPTANCE):
            return self.days(self.rng.randint(-60, 200))
        return self.days(self.rng.randint(20, 400))

    def details(self, enterprise, category, recognised_parks, absorbers) -> dict | None:
        rng = self.rng
        if category == Category.RELOCATE:
            parks = [p for p in recognised_parks if p.pk != enterprise.park_id]
            return {"destination_park": rng.choice(parks)} if parks else None
        if category == Category.RESTRUCTURE:
            candidates = [e for e in absorbers.get(enterprise.township.parent_id, []) if e.pk != enterprise.pk]
            return {"absorbing_enterprise": rng.choice(candidates)} if candidates else None
        if category == Category.EXCLUDED:
            return {"exclusion_reason": rng.choice(EXCLUSION_REASONS)}
        return {}

    def plan_four_batches(self, campaign: Campaign) -> list[Planned]:
        rng = self.rng
        enterprises = self.enterprises_to_classify(campaign)
        recognised_parks = list(ChemicalPark.objects.recognised().order_by("code"))
        tier3_twice = set(
            YearlyTier.objects.filter(tier=3, year=self.today.year - 1)
            .filter(
                Exists(YearlyTier.objects.filter(enterprise=OuterRef("enterprise"), tier=3, year=self.today.year - 2))
            )
            .values_list("enterprise_id", flat=True)
        )
        absorbers = defaultdict(list)
        for enterprise in enterprises:
            if enterprise.status == OperatingStatus.OPERATING and enterprise.kind == EnterpriseKind.PRODUCTION:
                absorbers[enterprise.township.parent_id].append(enterprise)
        planned = []
        for enterprise in enterprises:
            if enterprise.status in (OperatingStatus.CLOSED, OperatingStatus.DEREGISTERED):
                category, state = Category.SHUTDOWN, S.ACCEPTED
            else:
                category = Category.SHUTDOWN if enterprise.pk in tier3_twice else _weighted(rng, CATEGORY_WEIGHTS)
                if category is None:
                    continue
                state = _weighted(rng, STATE_WEIGHTS)
                if category == Category.UNDECIDED:
                    state = S.PROPOSED
                elif category == Category.EXCLUDED and state in (S.IN_PROGRESS, S.AWAITING_ACCEPTANCE, S.ACCEPTED):
                    state = S.APPROVED
            details = self.details(enterprise, category, recognised_parks, absorbers)
            if details is None:
                category, details = Category.UPGRADE, {}
            planned.append(self.planned(enterprise, campaign, category, state, details))
        self.add_changes(planned, campaign)
        return planned

    def planned(self, enterprise, campaign, category, state, details, start=None) -> Planned:
        rng = self.rng
        classification = Classification(
            enterprise=enterprise,
            campaign=campaign,
            category=category,
            state=state,
            is_current=state != S.WITHDRAWN,
            review_round=0 if state in (S.PROPOSED, S.WITHDRAWN) else 1,
            problems=rng.choice(PROBLEMS) if category != Category.EXCLUDED else "",
            deadline=self.deadline(state),
            **details,
        )
        line = self.timeline(classification, state, start or self.start_time(state))
        classification.proposed_by = line.steps[0].actor
        item = Planned(classification, line.steps)
        if category in FOUR_BATCHES and classification.approved_at is not None:
            item.tasks = self.tasks(classification, state, line)
        return item

    def add_changes(self, planned: list[Planned], campaign) -> None:
        """One decision changed through a new proposal (upgrade → shutdown), one change still pending."""
        candidates = [
            index
            for index, item in enumerate(planned)
            if item.classification.category == Category.UPGRADE
            and item.classification.state == S.IN_PROGRESS
            and item.classification.enterprise.township_id in self.actors.township
        ]
        if len(candidates) < 2:
            return
        superseded_index, pending_index = candidates[0], candidates[1]
        old = planned[superseded_index]
        old.classification.state = S.SUPERSEDED
        old.classification.is_current = False
        enterprise = old.classification.enterprise
        new = self.planned(enterprise, campaign, Category.SHUTDOWN, S.IN_PROGRESS, {}, start=old.steps[-1].at)
        new.classification.problems = "升级改造后仍不能稳定达标，经重新评估调整为关停"
        new.replaces_key = superseded_index
        new.steps[0].details = {"replaces": None}
        old.steps.append(
            ClassificationStep(
                action=StepAction.SUPERSEDE,
                from_state=S.IN_PROGRESS,
                to_state=S.SUPERSEDED,
                actor=self.actors.city,
                review_round=1,
                at=new.classification.approved_at,
                details={},
            )
        )
        planned.append(new)
        current = planned[pending_index]
        change = self.planned(
            current.classification.enterprise, campaign, Category.SHUTDOWN, S.PROPOSED, {}, start=current.steps[-1].at
        )
        change.classification.is_current = False
        change.classification.problems = "年度分档连续两年为三档，建议调整为关停"
        change.replaces_key = pending_index
        planned.append(change)

    def plan_263(self, campaign: Campaign) -> list[Planned]:
        """Small backward-capacity producers below designated size: shutdowns in several states."""
        rng = self.rng
        enterprises = [
            e
            for e in self.enterprises_to_classify(campaign)
            if e.kind == EnterpriseKind.PRODUCTION
            and e.size == EnterpriseSize.BELOW
            and e.status == OperatingStatus.OPERATING
        ]
        chosen = rng.sample(enterprises, min(len(enterprises), 30))
        chosen.sort(key=lambda e: (e.township.code, e.uscc))
        states = [(S.ACCEPTED, 45), (S.IN_PROGRESS, 30), (S.PENDING_APPROVAL, 10), (S.PROPOSED, 15)]
        return [self.planned(e, campaign, Category.SHUTDOWN, _weighted(rng, states), {}) for e in chosen]

    # --- writing -------------------------------------------------------------------------

    def write(self, planned: list[Planned]) -> None:
        if not planned:
            return
        # Rows replaced by others first, so the replacing rows can point at them.
        first = [item for item in planned if item.replaces_key is None]
        second = [item for item in planned if item.replaces_key is not None]
        bulk_create_with_history(
            [item.classification for item in first], Classification, batch_size=500, default_change_reason=DEMO_REASON
        )
        for item in second:
            item.classification.replaces = planned[item.replaces_key].classification
            if item.steps and item.steps[0].action == StepAction.PROPOSE:
                item.steps[0].details = {"replaces": item.classification.replaces.pk}
        bulk_create_with_history(
            [item.classification for item in second], Classification, batch_size=500, default_change_reason=DEMO_REASON
        )
        for item in planned:
            for step in item.steps:
                step.classification = item.classification
            for step in item.steps:
                if step.action == StepAction.SUPERSEDE:
                    replacing = next(
                        other for other in second if other.classification.replaces_id == item.classification.pk
                    )
                    step.details = {"by": replacing.classification.pk}
        ClassificationStep.objects.bulk_create([step for item in planned for step in item.steps], batch_size=1000)
        with_tasks = [item for item in planned if item.tasks]
        plans = bulk_create_with_history(
            [Plan(classification=item.classification) for item in with_tasks],
            Plan,
            batch_size=500,
            default_change_reason=DEMO_REASON,
        )
        tasks = []
        for item, plan in zip(with_tasks, plans, strict=True):
            for task in item.tasks:
                task.plan = plan
                tasks.append(task)
        bulk_create_with_history(tasks, Task, batch_size=1000, default_change_reason=DEMO_REASON)
        self.close_enterprises(planned)
        self.created["classifications"] += len(planned)
        self.created["workflow steps"] += sum(len(item.steps) for item in planned)
        self.created["plans"] += len(plans)
        self.created["tasks"] += len(tasks)

    def close_enterprises(self, planned: list[Planned]) -> None:
        """Accepted shutdowns and relocations close the enterprise (as accept_classification does)."""
        closing = {
            item.classification.enterprise_id
            for item in planned
            if item.classification.state == S.ACCEPTED
            and item.classification.category in (Category.SHUTDOWN, Category.RELOCATE)
        }
        enterprises = list(
            Enterprise.objects.filter(pk__in=closing, status__in=[OperatingStatus.OPERATING, OperatingStatus.SUSPENDED])
        )
        for enterprise in enterprises:
            enterprise.status = OperatingStatus.CLOSED
        bulk_update_with_history(enterprises, Enterprise, ["status"], batch_size=500, default_change_reason=DEMO_REASON)
        self.created["enterprises closed"] += len(enterprises)

    def run(self) -> Counter:
        four, c263 = self.campaigns()
        # A campaign that already holds classifications (an earlier run, or real work) is left alone.
        if not Classification.objects.filter(campaign=four).exists():
            planned = self.plan_four_batches(four)
            self.write(planned)
            self.targets(four, planned)
        if not Classification.objects.filter(campaign=c263).exists():
            planned_263 = self.plan_263(c263)
            self.write(planned_263)
            self.targets(c263, planned_263, categories=[Category.SHUTDOWN])
        return self.created


def build_demo_rectification(rng: random.Random, stdout=None, today: datetime.date | None = None) -> Counter:
    created = +DemoRectification(rng, today or timezone.localdate()).run()  # + drops the zero counts
    if stdout is not None:
        for name, count in sorted(created.items()):
            if count:
                stdout.write(f"  created {count:>5} {name}")
    return created
