"""Demo data of inspections, called by `manage.py demo` after rectification's (core.demo.DEMO_EXTENSIONS).

- Surveys (摸排) of most demo enterprises in the "四个一批" campaign, about a third with non-conforming
  access requirements, each of which became a finding;
- inspections of every kind (daily, quarterly joint supervision incl. parks, joint enforcement, expert
  verification, 双随机) with departments and findings, and a few planned ones;
- findings in every state (to be fixed, being fixed, awaiting verification, closed, reopened), some overdue
  (marked by the same set-based rule the worker runs);
- through the services, so the classification timeline shows them: one shutdown acceptance passed (销号), one
  failed on a 两断三清 item, the quarter's 回头看 sample, two re-checks that found the site still closed and one
  that found an enterprise producing again (reopened).

Everything is dated as it would have happened (core.demo.DemoCalendar: working days, office hours, nothing
after now): each survey in the campaign's first months and before its enterprise's proposal, findings from
the day they were found, then reported fixed and verified (one history row per change), inspections on
their day; the acceptances and re-checks run through the services at office moments of the last days.

Bulk rows carry "created" history entries with the demo reason. A second run finds the demo surveys already
there and changes nothing.
"""

import datetime
import random
from collections import Counter

from django.contrib.auth import get_user_model
from django.db.models import Max, Min
from django.utils import timezone, translation

from accounts.choices import Role
from accounts.models import Department
from core.demo import DemoCalendar, bulk_create_dated, history_row, pinned_clock, write_history
from core.history import record_m2m_in_created_rows
from enterprises.choices import OperatingStatus
from enterprises.models import Enterprise
from parks.models import ChemicalPark
from rectification.choices import CampaignKind, Category, ClassificationState, StandardItem, StepAction
from rectification.models import Campaign, Classification, ClassificationStep

from . import services
from .choices import (
    AccessArea,
    FindingStatus,
    InspectionKind,
    InspectionResult,
    InspectionStatus,
    Severity,
)
from .models import Finding, Inspection, Survey, SurveyItem

DEMO_REASON = "演示数据（manage.py demo）"
#: The campaign rectification's demo creates; any four-batches campaign otherwise.
FOUR_BATCHES_NAME = "化工企业“四个一批”专项整治行动"

SURVEYED_SHARE = 0.85
PROBLEM_SHARE = 0.33  # the seed township: 39 of 117 enterprises with problems

AREA_WEIGHTS = [
    (AccessArea.WORK_SAFETY, 30),
    (AccessArea.ENVIRONMENT, 25),
    (AccessArea.PROJECT_APPROVAL, 14),
    (AccessArea.LAND, 10),
    (AccessArea.TECHNOLOGY_QUALITY, 8),
    (AccessArea.STAFF_QUALIFICATION, 6),
    (AccessArea.ENERGY_USE, 4),
    (AccessArea.BUSINESS_REGISTRATION, 3),
]
PROBLEMS = {
    AccessArea.WORK_SAFETY: [
        ("安全生产许可证已过期，仍在组织生产", "《安全生产许可证条例》第十九条", Severity.MAJOR),
        ("涉及硝化工艺的装置未实现自动化控制", "《危险化学品生产企业安全生产许可证实施办法》第九条", Severity.MAJOR),
        ("甲类仓库与办公楼防火间距不足", "GB 50016-2014 第3.5.1条", Severity.GENERAL),
        ("可燃气体报警器未定期检定", "GB/T 50493-2019 第3.0.6条", Severity.GENERAL),
        ("安全出口被物料堵塞", "《安全生产法》第四十二条", Severity.GENERAL),
    ],
    AccessArea.ENVIRONMENT: [
        ("雨污未分流，初期雨水直排", "《水污染防治法》第三十九条", Severity.GENERAL),
        ("危险废物贮存场所未规范设置标识，台账缺失", "《固体废物污染环境防治法》第七十七条", Severity.GENERAL),
        ("无组织废气收集处理设施未运行", "《大气污染防治法》第四十八条", Severity.GENERAL),
        ("未取得排污许可证排放污染物", "《排污许可管理条例》第二条", Severity.GENERAL),
    ],
    AccessArea.PROJECT_APPROVAL: [
        ("扩建项目未批先建，无环评批复", "《环境影响评价法》第二十五条", Severity.GENERAL),
        ("技改项目未履行备案手续", "《企业投资项目核准和备案管理条例》第十三条", Severity.GENERAL),
    ],
    AccessArea.LAND: [
        ("厂区部分用地为集体土地，未取得建设用地手续", "《土地管理法》第四十四条", Severity.GENERAL),
        ("仓库占用基本农田", "《基本农田保护条例》第十七条", Severity.GENERAL),
    ],
    AccessArea.TECHNOLOGY_QUALITY: [
        ("使用国家明令淘汰的间歇式反应釜工艺", "《产业结构调整指导目录》淘汰类", Severity.GENERAL),
        ("产品质量检验能力不足，无出厂检验记录", "《产品质量法》第十二条", Severity.GENERAL),
    ],
    AccessArea.STAFF_QUALIFICATION: [
        ("主要负责人和安全管理人员未取得安全合格证", "《安全生产法》第二十七条", Severity.GENERAL),
        ("特种作业人员无证上岗", "《特种作业人员安全技术培训考核管理规定》第五条", Severity.GENERAL),
    ],
    AccessArea.ENERGY_USE: [("单位产品综合能耗高于国家限额标准", "《节约能源法》第十六条", Severity.GENERAL)],
    AccessArea.BUSINESS_REGISTRATION: [
        ("实际经营范围与营业执照登记不符", "《市场主体登记管理条例》第二十四条", Severity.GENERAL)
    ],
}
FINDING_STATES = [
    (FindingStatus.OPEN, 35),
    (FindingStatus.FIXING, 20),
    (FindingStatus.AWAITING_VERIFICATION, 13),
    (FindingStatus.CLOSED, 27),
    (FindingStatus.REOPENED, 5),
]
#: How a finding stands when recorded (its history's first row).
OPEN_VALUES = {
    "status": FindingStatus.OPEN,
    "fixed_by_id": None,
    "fixed_at": None,
    "fix_note": "",
    "verified_by_id": None,
    "verified_at": None,
    "verification_note": "",
}
FIX_NOTES = ["已完成整改，现场照片已上传", "已委托有资质单位处置完毕", "已补办相关手续", "已更换设备并通过检测"]
REJECT_NOTES = ["现场核查整改不到位，请继续整改", "佐证材料不足，请补充"]
INSPECTORS = ["王建军、李红", "刘志强、周文斌", "陈晓明、赵国庆、杨丽华", "张伟、孙磊", "专家组：钱立新、郑海"]
INSPECTION_PLAN = [
    (InspectionKind.DAILY, 30),
    (InspectionKind.DOUBLE_RANDOM, 12),
    (InspectionKind.JOINT_ENFORCEMENT, 8),
    (InspectionKind.EXPERT_VERIFICATION, 6),
    (InspectionKind.QUARTERLY_JOINT, 6),
]


def _weighted(rng, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


class DemoInspections:
    def __init__(self, rng: random.Random, today: datetime.date):
        self.rng = rng
        self.today = today
        self.calendar = DemoCalendar(today)
        self.now = self.calendar.now
        # Moments are drawn from their own generator: what is drawn stays the same.
        self.clock = random.Random(rng.getrandbits(64))
        self.created: Counter = Counter()
        self.finding_history: list = []
        User = get_user_model()
        users = list(
            User.objects.filter(
                is_active=True, role__in=[Role.CITY, Role.COUNTY, Role.TOWNSHIP, Role.SUPERVISOR, Role.REVIEWER]
            ).order_by("pk")
        )
        self.township_user = {}
        self.county_user = {}
        self.city_user = None
        # Who else verifies fixes where no county officer is set up: the supervision team, then the departments.
        self.other_verifiers = [u for u in users if u.role == Role.SUPERVISOR] + [
            u for u in users if u.role == Role.REVIEWER
        ]
        for user in users:
            if user.role == Role.TOWNSHIP:
                self.township_user.setdefault(user.region_id, user)
            elif user.role == Role.COUNTY:
                self.county_user.setdefault(user.region_id, user)
            elif user.role == Role.CITY and self.city_user is None:
                self.city_user = user
        self.departments = list(Department.objects.order_by("pk"))

    # --- helpers ---------------------------------------------------------------------------

    def at(self, day: datetime.date, not_before: datetime.datetime | None = None) -> datetime.datetime:
        """An office moment on (or near) `day`, not before `not_before`, never after now."""
        moment = self.calendar.moment(day, self.clock)
        if not_before is not None and moment < not_before:
            moment = min(self.calendar.advance(not_before, self.clock.randint(10, 120)), self.now)
        return moment

    def local_actor(self, township):
        """Who records and reports fixes for a township: its officer, else its county office, else the city."""
        return self.township_user.get(township.pk) or self.county_user.get(township.parent_id) or self.city_user

    def verifier(self, township, fixer):
        """Someone other than the fixer: the county office, else the city office."""
        for user in (self.county_user.get(township.parent_id), self.city_user, *self.other_verifiers):
            if user is not None and user != fixer:
                return user
        return None

    def finding(
        self, *, township, found_on: datetime.date, found_at, area, description, severity, legal_basis="", **fields
    ):
        """A finding recorded at `found_at` (the survey's or inspection's moment) and how far it has come since."""
        rng = self.rng
        deadline = found_on + datetime.timedelta(days=rng.choice((15, 30, 60, 90, 180)))
        finding = Finding(
            area=area,
            severity=severity,
            description=description,
            legal_basis=legal_basis,
            deadline=deadline,
            status=FindingStatus.OPEN,
            **fields,
        )
        found = finding.created_at = min(self.calendar.advance(found_at, self.clock.randint(5, 90)), self.now)
        finding.updated_at = found
        state = _weighted(rng, FINDING_STATES)
        fixer = self.local_actor(township)
        verifier = self.verifier(township, fixer)
        if verifier is None:  # nobody else could verify: leave it to be fixed
            state = FindingStatus.OPEN
        if state in (FindingStatus.OPEN, FindingStatus.FIXING, FindingStatus.REOPENED):
            # Deadlines of problems still being worked on: about a third already passed (overdue).
            if rng.random() < 0.3:
                finding.deadline = max(found_on, self.today - datetime.timedelta(days=rng.randint(1, 60)))
            else:
                finding.deadline = max(deadline, self.today + datetime.timedelta(days=rng.randint(7, 150)))
        # Its history: recorded open, then each change at its moment (rows written once the finding is saved).
        changes = []
        if state == FindingStatus.FIXING:
            fixing_on = min(found_on + datetime.timedelta(days=rng.randint(1, 30)), self.today)
            changes.append((self.at(fixing_on, not_before=found), {"status": FindingStatus.FIXING}))
        if state in (FindingStatus.AWAITING_VERIFICATION, FindingStatus.CLOSED, FindingStatus.REOPENED):
            fixed_on = min(found_on + datetime.timedelta(days=rng.randint(5, 80)), self.today)
            finding.fixed_by, finding.fixed_at, finding.fix_note = (
                fixer,
                self.at(fixed_on, not_before=found),
                rng.choice(FIX_NOTES),
            )
            changes.append(
                (
                    finding.fixed_at,
                    {
                        "status": FindingStatus.AWAITING_VERIFICATION,
                        "fixed_by_id": getattr(fixer, "pk", None),
                        "fixed_at": finding.fixed_at,
                        "fix_note": finding.fix_note,
                    },
                )
            )
            if state != FindingStatus.AWAITING_VERIFICATION:
                verified_on = min(fixed_on + datetime.timedelta(days=rng.randint(1, 15)), self.today)
                finding.verified_by, finding.verified_at = verifier, self.at(verified_on, not_before=finding.fixed_at)
                if state == FindingStatus.REOPENED:
                    finding.verification_note = rng.choice(REJECT_NOTES)
                else:
                    finding.verification_note = "现场核实，已整改到位，同意销号"
                changes.append(
                    (
                        finding.verified_at,
                        {
                            "status": state,
                            "verified_by_id": verifier.pk,
                            "verified_at": finding.verified_at,
                            "verification_note": finding.verification_note,
                        },
                    )
                )
        finding.status = state
        finding._history_user = fixer
        finding._history_date = found
        finding._history_values = dict(OPEN_VALUES)  # recorded open; each change in demo_changes
        finding.demo_changes = changes
        if changes:
            finding.updated_at = changes[-1][0]
        return finding

    # --- surveys ---------------------------------------------------------------------------

    def surveys(self, campaign: Campaign) -> None:
        rng = self.rng
        already = set(Survey.objects.filter(campaign=campaign).values_list("enterprise_id", flat=True))
        enterprises = [
            e
            for e in Enterprise.objects.select_related("township").order_by("township__code", "uscc")
            if e.pk not in already
        ]
        # A survey comes before the enterprise's first proposal in the campaign.
        proposed = {
            row["classification__enterprise_id"]: timezone.localdate(row["first"])
            for row in ClassificationStep.objects.filter(classification__campaign=campaign, action=StepAction.PROPOSE)
            .values("classification__enterprise_id")
            .annotate(first=Min("at"))
        }
        start = campaign.starts_on
        surveys, items_by_survey, findings_by_survey = [], [], []
        for enterprise in enterprises:
            if rng.random() >= SURVEYED_SHARE:
                continue
            surveyed_on = min(start + datetime.timedelta(days=rng.randint(10, 150)), self.today)
            first_proposal = proposed.get(enterprise.pk)
            if first_proposal is not None:
                latest = first_proposal - datetime.timedelta(days=self.clock.randint(1, 10))
                surveyed_on = max(start, min(surveyed_on, latest))
            surveyed_on = self.calendar.working_day_on_or_before(surveyed_on, not_before=start)
            actor = self.local_actor(enterprise.township)
            survey = Survey(
                enterprise=enterprise,
                campaign=campaign,
                surveyed_on=surveyed_on,
                surveyed_by=rng.choice(INSPECTORS),
                recorded_by=actor,
            )
            survey._history_user = actor
            survey._history_date = self.at(surveyed_on)
            failing = {}
            if rng.random() < PROBLEM_SHARE:
                while len(failing) < rng.choice((1, 1, 2, 3)):
                    area = _weighted(rng, AREA_WEIGHTS)
                    failing[area] = rng.choice(PROBLEMS[area])
            items = []
            findings = []
            for area in AccessArea:
                problem = failing.get(area)
                items.append(SurveyItem(area=area, conforming=problem is None, note=problem[0] if problem else ""))
                if problem:
                    findings.append(
                        self.finding(
                            township=enterprise.township,
                            found_on=surveyed_on,
                            found_at=survey._history_date,
                            area=area,
                            description=problem[0],
                            legal_basis=problem[1],
                            severity=Severity.GENERAL,  # a survey records non-conformities, inspections grade them
                            enterprise=enterprise,
                            created_by=actor,
                        )
                    )
            surveys.append(survey)
            items_by_survey.append(items)
            findings_by_survey.append(findings)
        saved = bulk_create_dated(Survey, surveys, reason=DEMO_REASON)
        items, findings = [], []
        for survey, survey_items, survey_findings in zip(saved, items_by_survey, findings_by_survey, strict=True):
            for item in survey_items:
                item.survey = survey
                item._history_user = survey.recorded_by
                item._history_date = survey._history_date
                items.append(item)
            for finding in survey_findings:
                finding.survey = survey
                findings.append(finding)
        bulk_create_dated(SurveyItem, items, reason=DEMO_REASON, batch_size=1000)
        self._save_findings(findings)
        self.created["surveys"] += len(saved)
        self.created["survey items"] += len(items)

    def _save_findings(self, findings: list[Finding]) -> None:
        """Saved with their history: recorded (open) when found, then each change at its moment."""
        saved = bulk_create_dated(Finding, findings, reason=DEMO_REASON)
        for finding in saved:
            values = dict(OPEN_VALUES)
            for at, changes in finding.demo_changes:
                values.update(changes)
                self.finding_history.append(history_row(finding, at=at, user=None, reason=DEMO_REASON, **values))
        self.created["findings"] += len(saved)

    # --- inspections -----------------------------------------------------------------------

    def inspections(self) -> None:
        rng = self.rng
        candidates = list(
            Enterprise.objects.filter(status__in=[OperatingStatus.OPERATING, OperatingStatus.SUSPENDED])
            .select_related("township")
            .order_by("uscc")
        )
        parks = list(ChemicalPark.objects.select_related("township").order_by("code"))
        if not candidates:
            return
        planned_rows = []  # (inspection, departments, findings)
        for kind, count in INSPECTION_PLAN:
            for index in range(count):
                park = rng.choice(parks) if kind == InspectionKind.QUARTERLY_JOINT and parks and index % 2 else None
                enterprise = None if park else rng.choice(candidates)
                township = (park or enterprise).township
                inspected_on = self.calendar.working_day(self.today - datetime.timedelta(days=rng.randint(3, 330)))
                actor = (
                    self.county_user.get(township.parent_id) or self.city_user
                    if kind != InspectionKind.DAILY
                    else self.local_actor(township)
                )
                with_issues = rng.random() < 0.6
                inspection = Inspection(
                    kind=kind,
                    status=InspectionStatus.DONE,
                    inspected_on=inspected_on,
                    enterprise=enterprise,
                    park=park,
                    inspectors=rng.choice(INSPECTORS),
                    result=InspectionResult.ISSUES_FOUND if with_issues else InspectionResult.NO_ISSUES,
                    result_note="" if with_issues else "未发现明显问题",
                    created_by=actor,
                )
                inspection._history_user = actor
                inspection._history_date = self.at(inspected_on)
                departments = rng.sample(self.departments, min(len(self.departments), rng.randint(1, 3)))
                findings = []
                for _ in range(rng.randint(1, 3) if with_issues else 0):
                    area = _weighted(rng, AREA_WEIGHTS)
                    description, basis, severity = rng.choice(PROBLEMS[area])
                    department = rng.choice(departments) if rng.random() < 0.4 else None
                    findings.append(
                        self.finding(
                            township=township,
                            found_on=inspected_on,
                            found_at=inspection._history_date,
                            area=area,
                            description=description,
                            legal_basis=basis,
                            severity=severity,
                            enterprise=enterprise,
                            park=park,
                            responsible_unit=department.name if department else str(enterprise or park),
                            responsible_department=department,
                            created_by=actor,
                        )
                    )
                planned_rows.append((inspection, departments, findings))
        # Two quarterly joint supervisions on the calendar for next month.
        for park in parks[:2]:
            inspection = Inspection(
                kind=InspectionKind.QUARTERLY_JOINT,
                status=InspectionStatus.PLANNED,
                planned_on=self.today + datetime.timedelta(days=rng.randint(10, 40)),
                park=park,
                inspectors="市化治办联合督查组",
                created_by=self.city_user,
            )
            inspection._history_user = self.city_user
            inspection._history_date = self.at(self.today - datetime.timedelta(days=rng.randint(1, 10)))
            planned_rows.append((inspection, self.departments[:3], []))

        saved = bulk_create_dated(Inspection, [row[0] for row in planned_rows], reason=DEMO_REASON)
        links, findings = [], []
        through = Inspection.departments.through
        for inspection, (_unsaved, departments, inspection_findings) in zip(saved, planned_rows, strict=True):
            links.extend(through(inspection_id=inspection.pk, department_id=d.pk) for d in departments)
            for finding in inspection_findings:
                finding.inspection = inspection
                findings.append(finding)
        through.objects.bulk_create(links, batch_size=1000)
        record_m2m_in_created_rows(Inspection, [inspection.pk for inspection in saved])  # written before the links
        self._save_findings(findings)
        self.created["inspections"] += len(saved)

    # --- through the services: acceptance and 回头看 ------------------------------------------

    def recent(self, working_days_back: int, after_steps_of=None) -> datetime.datetime:
        """An office moment `working_days_back` working days ago, after the last step of the classifications
        given (a step never comes before the one it follows)."""
        moment = self.calendar.moment(self.calendar.working_days_back(working_days_back), self.clock)
        if after_steps_of is not None:
            last = ClassificationStep.objects.filter(classification__in=after_steps_of).aggregate(last=Max("at"))[
                "last"
            ]
            if last is not None and last >= moment:
                moment = self.calendar.advance(last, self.clock.randint(20, 120))
        return min(moment, self.now)

    def acceptor(self, classification):
        enterprise = classification.enterprise
        county = self.county_user.get(enterprise.township.parent_id)
        done_by = (
            set(classification.plan.tasks.values_list("done_by_id", flat=True))
            if hasattr(classification, "plan")
            else set()
        )
        for user in (county, self.city_user):
            if user is not None and user.pk not in done_by:
                return user
        return None

    def acceptances(self, campaign: Campaign) -> None:
        awaiting = list(
            Classification.objects.filter(
                campaign=campaign,
                is_current=True,
                category=Category.SHUTDOWN,
                state=ClassificationState.AWAITING_ACCEPTANCE,
            )
            .select_related("enterprise__township")
            .order_by("pk")
        )
        # Leave most awaiting acceptance for the demo users to check in the browser.
        if len(awaiting) < 3:
            return
        for classification, passed in zip(awaiting[:2], (True, False), strict=True):
            actor = self.acceptor(classification)
            if actor is None:
                continue
            items = {item.value: (True, "现场核实") for item in services.SHUTDOWN_CHECK_ITEMS}
            if not passed:
                items[StandardItem.PRODUCTS_CLEARED] = (False, "成品仓库仍存放产品约20吨，未清运")
            moment = self.recent(2 if passed else 1, after_steps_of=[classification])
            with pinned_clock(moment):
                services.record_acceptance(
                    classification=classification,
                    actor=actor,
                    inspected_on=timezone.localdate(moment),
                    items=items,
                    comment="专家组现场验收，两断三清全部到位，同意销号" if passed else "",
                    departments=self.departments[:2],
                    inspectors="专家组：钱立新、郑海、王建军",
                )
            self.created["acceptance checks"] += 1

    def rechecks(self, campaign: Campaign) -> None:
        rng = self.rng
        month = (self.today.month - 1) // 3 * 3 + 1
        with pinned_clock(self.recent(6)):  # the quarter's sample was drawn before the re-checks below
            sampled = services.create_recheck_sample(self.today.replace(month=month, day=1), 0.1, rng)
        self.created["planned re-checks"] += len(sampled)

        reopened = (
            Classification.objects.filter(
                campaign=campaign,
                is_current=True,
                category=Category.SHUTDOWN,
                state=ClassificationState.ACCEPTED,
                enterprise__status=OperatingStatus.CLOSED,
            )
            .select_related("enterprise__township")
            .order_by("enterprise__township__code", "pk")
        )
        # Prefer an enterprise of the demo township officer, so the demo users see it.
        chosen = next((c for c in reopened if c.enterprise.township_id in self.township_user), reopened.first())
        if chosen is not None:
            enterprise = chosen.enterprise
            actor = self.county_user.get(enterprise.township.parent_id) or self.city_user
            moment = self.recent(1, after_steps_of=Classification.objects.filter(enterprise=enterprise))
            with pinned_clock(moment):
                services.record_recheck(
                    enterprise=enterprise,
                    actor=actor,
                    inspected_on=timezone.localdate(moment),
                    producing_again=True,
                    note="夜间偷偷恢复生产，车间有新投料痕迹，电表读数明显增加",
                    inspectors="回头看工作组",
                    departments=self.departments[:2],
                    deadline=self.today + datetime.timedelta(days=15),
                )
            self.created["re-checks (producing again)"] += 1
        for inspection in [i for i in sampled if chosen is None or i.enterprise_id != chosen.enterprise_id][:2]:
            enterprise = Enterprise.objects.select_related("township").get(pk=inspection.enterprise_id)
            moment = self.recent(rng.randint(1, 5), after_steps_of=Classification.objects.filter(enterprise=enterprise))
            with pinned_clock(moment):
                services.record_recheck(
                    enterprise=enterprise,
                    actor=self.local_actor(enterprise.township),
                    inspected_on=timezone.localdate(moment),
                    producing_again=False,
                    note="厂区断水断电，生产设备已拆除，未发现恢复生产迹象",
                    inspectors="回头看工作组",
                )
            self.created["re-checks (still closed)"] += 1

    def run(self) -> Counter:
        campaign = (
            Campaign.objects.filter(name=FOUR_BATCHES_NAME).first()
            or Campaign.objects.filter(kind=CampaignKind.FOUR_BATCHES).order_by("-starts_on").first()
        )
        if campaign is None or self.city_user is None:
            return self.created
        if Survey.history.filter(history_change_reason=DEMO_REASON).exists():
            return self.created  # loaded before
        # Texts the services compose (reasons, step comments) are stored in the interface's first language.
        with translation.override("zh-hans"):
            self.surveys(campaign)
            self.inspections()
            self.created["history rows of findings"] += write_history(self.finding_history)
            with pinned_clock(self.calendar.worker_moment(self.today)):  # the nightly deadline check
                self.created["findings marked overdue"] += services.mark_overdue_findings(self.today)
            self.acceptances(campaign)
            self.rechecks(campaign)
        return self.created


def build_demo_inspections(rng: random.Random, stdout=None, today: datetime.date | None = None) -> Counter:
    created = DemoInspections(rng, today or timezone.localdate()).run()
    if stdout is not None:
        for name, count in sorted(created.items()):
            if count:
                stdout.write(f"  created {count:>5} {name}")
    return created
