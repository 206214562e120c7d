"""Demo data of rectification, called by `manage.py demo` (core.demo.DEMO_EXTENSIONS).

Two campaigns around today: the city's three-year "四个一批" campaign (last year to next year) and a
"263" campaign on backward capacity (two years ago to this year); targets per county and township and
year; classifications of most demo enterprises in every workflow state, each with the steps that lead
there (who, when, opinions of each pre-review department), plans with their standard tasks (some
overdue, some done, some verified), one decision changed through a new proposal, one change pending.

Everything is dated over the campaign's period as it would have happened (core.demo.DemoCalendar: working
days, office hours, nothing after now): a campaign is launched before it starts, targets are signed in its
first weeks, each classification's steps follow each other (proposal, pre-review, approval, stop order,
tasks done and verified, acceptance), and the history rows (django-simple-history) carry the same moments,
one per change, so a report of a past quarter shows that quarter's figures. Accepted shutdowns close their
enterprise and accepted relocations move it to the destination park at the moment of acceptance.

Keys: a campaign by name, a target by (campaign, region, year); classifications, plans and tasks only in a
campaign holding no classification yet. A second run therefore inserts nothing and rows edited in the
browser are left alone. Actors are the demo users where their region covers the enterprise, else empty
(shown as the system).
"""

import datetime
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation

from accounts.choices import Role
from accounts.models import Department
from core.bulk import insert_rows
from core.demo import OFFICE_DAY_MINUTES, DemoCalendar, bulk_create_dated, history_row, keep_stamps, write_history
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
    """The events of one classification (its workflow steps and its tasks' progress) at increasing moments.

    Each event waits a gap of office time after the one before; a chain that would run past `limit` (now) is
    compressed to end there. So events fall on working days in office hours, follow each other, and none
    lies in the future.
    """

    def __init__(self, rng, calendar: DemoCalendar, start: datetime.datetime):
        self.rng = rng
        self.calendar = calendar
        self.start = min(calendar.office_after(start), calendar.now)
        self.events: list[tuple[int, object]] = []
        self.steps: list[ClassificationStep] = []
        self.review_round = 0

    def then(self, callback, after=(0.05, 5)) -> None:
        """Call `callback(moment)` with the moment `after` (working days, low–high) the previous event."""
        low, high = after
        self.events.append((self.rng.randint(int(low * OFFICE_DAY_MINUTES), int(high * OFFICE_DAY_MINUTES)), callback))

    def add(self, action, from_state, to_state, actor=None, after=(0.05, 5), **fields) -> ClassificationStep:
        step = ClassificationStep(
            action=action,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            review_round=self.review_round,
            **fields,
        )
        self.steps.append(step)
        self.then(lambda at: setattr(step, "at", at), after)
        return step

    def finish(self) -> None:
        limit = self.calendar.now
        total = sum(gap for gap, _callback in self.events)
        room = self.calendar.office_minutes(self.start, limit)
        scale = min(1.0, room / total) if total else 1.0
        moment = self.start
        for gap, callback in self.events:
            moment = min(self.calendar.advance(moment, gap * scale), limit)
            callback(moment)


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
        self.calendar = DemoCalendar(today)
        self.now = self.calendar.now
        # Moments are drawn from their own generator: the categories and states drawn stay the same.
        self.clock = random.Random(rng.getrandbits(64))
        self.actors = Actors.load()
        self.created: Counter = Counter()
        with translation.override("zh-hans"):
            self.task_labels = {item.value: str(item.label) for item in StandardItem}
            self.step_labels = {action.value: str(action.label) for action in StepAction}
            self.category_labels = {category.value: str(category.label) for category in Category}

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
        for campaign in new:  # launched a fortnight before it starts
            campaign._history_date = self.calendar.moment(campaign.starts_on - datetime.timedelta(days=15), self.clock)
            campaign._history_user = self.actors.city
        for campaign in bulk_create_dated(Campaign, new, reason=DEMO_REASON):
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
        # The targets of every year are signed (责任状) in the campaign's first weeks.
        for target in new:
            target._history_date = self.calendar.between(
                campaign.starts_on + datetime.timedelta(days=5),
                campaign.starts_on + datetime.timedelta(days=25),
                self.clock,
            )
            target._history_user = self.actors.city
        bulk_create_dated(Target, new, reason=DEMO_REASON)
        self.created["targets"] += len(new)

    # --- classifications -----------------------------------------------------------------

    def enterprises_to_classify(self, campaign):
        already = Classification.objects.filter(enterprise=OuterRef("pk"), campaign=campaign)
        return list(
            Enterprise.objects.exclude(Exists(already)).select_related("township").order_by("township__code", "uscc")
        )

    def county_actor(self, enterprise):
        return self.actors.county.get(enterprise.township.parent_id)

    def timeline(self, classification: Classification, target_state: str, start, tasks=()) -> Timeline:
        """The steps that lead a classification from its proposal to `target_state`, with its tasks' progress
        between the start of the rectification and the acceptance request."""
        rng = self.rng
        enterprise = classification.enterprise
        town, county, city = (
            self.actors.township.get(enterprise.township_id),
            self.county_actor(enterprise),
            self.actors.city,
        )
        line = Timeline(self.clock, self.calendar, start)
        line.add(StepAction.PROPOSE, "", S.PROPOSED, town, after=(0, 0))
        if target_state == S.PROPOSED:
            return line
        if target_state == S.WITHDRAWN:
            line.add(StepAction.WITHDRAW, S.PROPOSED, S.WITHDRAWN, town, after=(1, 20), comment="重复上报，撤回")
            return line
        line.review_round = 1
        line.add(StepAction.SUBMIT, S.PROPOSED, S.UNDER_REVIEW, county, after=(2, 25))
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
                after=(0.3, 8),
                department=department,
                opinion=opinion,
                comment=comment,
            )
        if target_state == S.UNDER_REVIEW:
            return line
        line.add(StepAction.REVIEW_COMPLETE, S.UNDER_REVIEW, S.REVIEWED, after=(0, 0.05))
        if target_state == S.REVIEWED:
            return line
        line.add(StepAction.FORWARD, S.REVIEWED, S.PENDING_APPROVAL, county, after=(1, 10))
        if target_state == S.PENDING_APPROVAL:
            return line
        if target_state == S.RETURNED:
            line.add(
                StepAction.RETURN,
                S.PENDING_APPROVAL,
                S.RETURNED,
                city,
                after=(2, 15),
                comment=rng.choice(RETURN_COMMENTS),
            )
            return line
        line.add(StepAction.APPROVE, S.PENDING_APPROVAL, S.APPROVED, city, after=(3, 25))
        if classification.category not in FOUR_BATCHES:
            return line
        # Approval creates the plan and starts the rectification at once (approve_classification).
        line.add(StepAction.START, S.APPROVED, S.IN_PROGRESS, city, after=(0, 0))
        if classification.category == Category.SHUTDOWN:
            line.add(StepAction.STOP_ORDER, S.IN_PROGRESS, S.IN_PROGRESS, town, after=(2, 20))
        self.task_events(line, tasks, enterprise)
        if target_state in (S.IN_PROGRESS, S.SUPERSEDED):
            return line
        line.add(StepAction.REQUEST_ACCEPTANCE, S.IN_PROGRESS, S.AWAITING_ACCEPTANCE, town, after=(2, 15))
        if target_state == S.AWAITING_ACCEPTANCE:
            return line
        line.add(StepAction.ACCEPT, S.AWAITING_ACCEPTANCE, S.ACCEPTED, county or city, after=(5, 30))
        return line

    def task_events(self, line: Timeline, tasks: list[Task], enterprise) -> None:
        """Each task started, done and verified one after the other (by the township, then the county)."""
        town = self.actors.township.get(enterprise.township_id)

        def done(task):
            def apply(at):
                task.done_at, task.done_by, task.completed_on = at, town, timezone.localdate(at)
                task.events.append(
                    (
                        at,
                        {
                            "status": TaskStatus.DONE,
                            "done_at": at,
                            "done_by_id": getattr(town, "pk", None),
                            "completed_on": task.completed_on,
                            "note": task.note,
                        },
                    )
                )

            return apply

        def verified(task):
            def apply(at):
                task.verified_at = at
                task.events.append(
                    (
                        at,
                        {
                            "status": TaskStatus.VERIFIED_CLOSED,
                            "verified_at": at,
                            "verified_by_id": getattr(task.verified_by, "pk", None),
                        },
                    )
                )

            return apply

        def started(task):
            return lambda at: task.events.append((at, {"status": TaskStatus.IN_PROGRESS}))

        for task in tasks:
            if task.status in (TaskStatus.DONE, TaskStatus.VERIFIED_CLOSED):
                line.then(done(task), after=(5, 50))
                if task.status == TaskStatus.VERIFIED_CLOSED:
                    line.then(verified(task), after=(1, 10))
            elif task.started:
                line.then(started(task), after=(1, 20))

    def start_time(self, target_state, campaign: Campaign) -> datetime.datetime:
        """When the township proposed: after the survey months at the campaign's start; the further a
        classification has come, the earlier (its whole timeline still lies in the past)."""
        begin = campaign.starts_on
        window = {
            S.ACCEPTED: (30, 330),
            S.AWAITING_ACCEPTANCE: (60, 420),
            S.IN_PROGRESS: (30, 520),
            S.SUPERSEDED: (30, 200),
            S.APPROVED: (30, 420),  # exclusions approved
        }.get(target_state)
        if window is None:  # still on its way: proposed in the last months
            first = max(begin + datetime.timedelta(days=30), self.today - datetime.timedelta(days=150))
            return self.calendar.between(first, self.today - datetime.timedelta(days=5), self.clock)
        low, high = window
        return self.calendar.between(
            begin + datetime.timedelta(days=low), begin + datetime.timedelta(days=high), self.clock
        )

    def tasks(self, classification: Classification, state: str) -> list[Task]:
        """The plan's standard tasks with the status each has reached (dated on the timeline)."""
        rng = self.rng
        enterprise = classification.enterprise
        county = self.county_actor(enterprise)
        items = STANDARD_TASKS[classification.category]
        done_count = rng.randint(0, len(items) - 1) if state in (S.IN_PROGRESS, S.SUPERSEDED) else len(items)
        tasks = []
        for index, item in enumerate(items, start=1):
            task = Task(
                order=index,
                standard_item=item,
                description=self.task_labels[item],
                lead_region=enterprise.township,
                responsible_person=rng.choice(["张海燕", "李明", "王强", "陈静", "刘洋"]),
                deadline=classification.deadline,
            )
            task.events = []
            task.started = False
            if index <= done_count:
                task.note = "已完成，现场核查照片已上传。"
                verified = state not in (S.IN_PROGRESS, S.SUPERSEDED) or rng.random() < 0.6
                if state == S.ACCEPTED or (verified and county is not None):
                    task.status = TaskStatus.VERIFIED_CLOSED
                    task.verified_by = county or self.actors.city
                else:
                    task.status = TaskStatus.DONE
            elif index == done_count + 1 and rng.random() < 0.6:
                task.status = TaskStatus.IN_PROGRESS
                task.started = True
            if task.status in (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS) and task.deadline < self.today:
                # The nightly deadline check marks it (a set-based update: no history row, as in the product).
                task.status = TaskStatus.OVERDUE
            tasks.append(task)
        return tasks

    def deadline(self, state, campaign) -> datetime.date:
        """A deadline as a township would set it; never after the campaign ends (the rule refuses that)."""
        if state == S.IN_PROGRESS and self.rng.random() < 0.3:
            day = self.days(-self.rng.randint(5, 150))  # overdue tasks
        elif state in (S.ACCEPTED, S.AWAITING_ACCEPTANCE):
            day = self.days(self.rng.randint(-60, 200))
        else:
            day = self.days(self.rng.randint(20, 400))
        return min(day, campaign.ends_on)

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
            deadline=self.deadline(state, campaign) if category in FOUR_BATCHES else None,
            **details,
        )
        reaches_plan = category in FOUR_BATCHES and state in (S.IN_PROGRESS, S.AWAITING_ACCEPTANCE, S.ACCEPTED)
        tasks = self.tasks(classification, state) if reaches_plan else []
        line = self.timeline(classification, state, start or self.start_time(state, campaign), tasks)
        line.finish()
        self.apply_steps(classification, line.steps)
        classification.proposed_by = line.steps[0].actor
        return Planned(classification, line.steps, tasks)

    @staticmethod
    def apply_steps(classification: Classification, steps: list[ClassificationStep]) -> None:
        """The fields the steps set: approval and acceptance moments, the stop order's date."""
        for step in steps:
            if step.action == StepAction.APPROVE:
                classification.approved_at = step.at
            elif step.action == StepAction.ACCEPT:
                classification.accepted_at = step.at
            elif step.action == StepAction.STOP_ORDER:
                classification.stop_order_on = timezone.localdate(step.at)
                step.details = {"stop_order_on": classification.stop_order_on.isoformat(), "previous": None}

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
        # The new proposal comes after everything done under the old decision.
        last_event = max([step.at for step in old.steps] + [at for task in old.tasks for at, _values in task.events])
        new = self.planned(enterprise, campaign, Category.SHUTDOWN, S.IN_PROGRESS, {}, start=last_event)
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
        for item in planned:
            item.classification.created_at = item.steps[0].at
            item.classification.updated_at = max(step.at for step in item.steps)
        with keep_stamps(Classification):
            insert_rows(Classification, [item.classification for item in first])
            for item in second:
                item.classification.replaces = planned[item.replaces_key].classification
                if item.steps and item.steps[0].action == StepAction.PROPOSE:
                    item.steps[0].details = {"replaces": item.classification.replaces.pk}
            insert_rows(Classification, [item.classification for item in second])
        for item in planned:
            for step in item.steps:
                step.classification = item.classification
            for step in item.steps:
                if step.action == StepAction.SUPERSEDE:
                    replacing = next(
                        other for other in second if other.classification.replaces_id == item.classification.pk
                    )
                    step.details = {"by": replacing.classification.pk}
        insert_rows(ClassificationStep, [step for item in planned for step in item.steps])
        history = [row for item in planned for row in self.classification_history(item)]

        with_tasks = [item for item in planned if item.tasks]
        plans = []
        for item in with_tasks:
            plan = Plan(classification=item.classification)
            plan._history_date = item.classification.approved_at  # approval creates the plan and its tasks
            plan._history_user = self.actors.city
            plans.append(plan)
        plans = bulk_create_dated(Plan, plans, reason=DEMO_REASON)
        tasks = []
        for item, plan in zip(with_tasks, plans, strict=True):
            for task in item.tasks:
                task.plan = plan
                task.created_at = plan._history_date
                task.updated_at = max([plan._history_date] + [at for at, _values in task.events])
                tasks.append(task)
        with keep_stamps(Task):
            insert_rows(Task, tasks)
        history += [row for task in tasks for row in self.task_history(task)]
        history += self.close_enterprises(planned)
        write_history(history)
        self.created["classifications"] += len(planned)
        self.created["workflow steps"] += sum(len(item.steps) for item in planned)
        self.created["plans"] += len(plans)
        self.created["tasks"] += len(tasks)

    def classification_history(self, item: Planned) -> list:
        """One history row per change the steps made, at the step's moment (the proposal creates the row)."""
        c = item.classification
        fields = {
            "state": S.PROPOSED,
            "is_current": item.replaces_key is None,  # a change request is in force only once approved
            "review_round": 0,
            "approved_at": None,
            "accepted_at": None,
            "stop_order_on": None,
        }
        rows = []
        for step in item.steps:
            changed = step.action in (StepAction.PROPOSE, StepAction.STOP_ORDER) or step.to_state != fields["state"]
            fields["state"] = step.to_state
            fields["review_round"] = step.review_round
            if step.action == StepAction.APPROVE:
                fields["approved_at"], fields["is_current"] = step.at, True
            elif step.action == StepAction.ACCEPT:
                fields["accepted_at"] = step.at
            elif step.action == StepAction.STOP_ORDER:
                fields["stop_order_on"] = c.stop_order_on
            elif step.action in (StepAction.SUPERSEDE, StepAction.WITHDRAW):
                fields["is_current"] = False
            if changed:
                first = step.action == StepAction.PROPOSE
                rows.append(
                    history_row(
                        c,
                        at=step.at,
                        kind="+" if first else "~",
                        user=step.actor,
                        reason=DEMO_REASON if first else self.step_labels[step.action],
                        **fields,
                    )
                )
        return rows

    def task_history(self, task: Task) -> list:
        """Created with the plan (not started), then each change at its moment."""
        values = {
            "status": TaskStatus.NOT_STARTED,
            "done_at": None,
            "done_by_id": None,
            "completed_on": None,
            "note": "",
            "verified_at": None,
            "verified_by_id": None,
        }
        rows = [history_row(task, at=task.created_at, kind="+", user=self.actors.city, reason=DEMO_REASON, **values)]
        for at, changes in sorted(task.events, key=lambda entry: entry[0]):
            values.update(changes)
            rows.append(history_row(task, at=at, kind="~", user=None, reason=DEMO_REASON, **values))
        return rows

    def close_enterprises(self, planned: list[Planned]) -> list:
        """At its acceptance a shutdown closes the enterprise and a relocation moves it to the destination
        park, where it keeps operating (as accept_classification does); returns the history rows."""
        accepted = {
            item.classification.enterprise_id: item.classification
            for item in planned
            if item.classification.state == S.ACCEPTED
            and item.classification.category in (Category.SHUTDOWN, Category.RELOCATE)
        }
        enterprises = list(
            Enterprise.objects.filter(
                pk__in=accepted, status__in=[OperatingStatus.OPERATING, OperatingStatus.SUSPENDED]
            ).select_related("township")
        )
        rows, closed, moved = [], 0, 0
        for enterprise in enterprises:
            classification = accepted[enterprise.pk]
            if classification.category == Category.SHUTDOWN:
                enterprise.status = OperatingStatus.CLOSED
                reason = f"{self.category_labels[Category.SHUTDOWN]}验收通过（{classification.campaign.name}）"
                closed += 1
            else:
                enterprise.status = OperatingStatus.OPERATING
                enterprise.park_id = classification.destination_park_id
                reason = f"{self.category_labels[Category.RELOCATE]}验收通过（{classification.campaign.name}）：原厂址已关闭，迁入园区生产经营"
                moved += 1
            enterprise.version += 1
            enterprise.updated_at = classification.accepted_at
            rows.append(
                history_row(
                    enterprise,
                    at=classification.accepted_at,
                    user=self.county_actor(enterprise) or self.actors.city,
                    reason=reason,
                )
            )
        with keep_stamps(Enterprise):
            Enterprise.objects.bulk_update(enterprises, ["status", "park", "version", "updated_at"], batch_size=500)
        self.created["enterprises closed"] += closed
        self.created["enterprises moved into a park"] += moved
        return rows

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
