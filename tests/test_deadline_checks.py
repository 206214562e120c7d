"""The daily deadline checks: each rule on a fixed date with its changes and notifications, idempotence
(twice the same day; a crash halfway then a rerun), and a query count that does not grow with the rows."""

import datetime
import io
import json
import random

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.choices import Role
from accounts.models import Department
from core import deadline_checks
from core.deadline_checks import run_deadline_checks
from core.models import Notification, NotificationKind
from core.tasks import check_deadlines
from enterprises.models import Enterprise
from inspections.models import Finding, Inspection
from parks.models import ChemicalPark
from rectification.models import Classification, Task

from .factories import (
    CampaignFactory,
    ChemicalParkFactory,
    ClassificationFactory,
    EnterpriseFactory,
    FindingFactory,
    PermitFactory,
    PlanFactory,
    TaskFactory,
    UserFactory,
    YearlyTierFactory,
)

ON = datetime.date(2021, 3, 31)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def safety(regions):
    department = Department.objects.get_or_create(name="应急管理局")[0]
    UserFactory(
        username="safety", role=Role.REVIEWER, region=regions["city"], department=department, email="safety@example.cn"
    )
    return department


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批", starts_on=datetime.date(2021, 1, 1), ends_on=datetime.date(2023, 12, 31))


def populate(regions, campaign, safety, on, k=1, tag=""):
    """k records of every kind each rule acts on, dated around `on`; returns them by name."""
    a1, a2, b1 = regions["town_a1"], regions["town_a2"], regions["town_b1"]
    made = {key: [] for key in ("overdue", "dept", "due7", "due1", "quiet", "f_over", "f_due", "five", "tier3")}
    made.update(expiring=[], expired=[], park=[], closed=[])
    for n in range(k):
        plan = PlanFactory(
            classification=ClassificationFactory(
                enterprise=EnterpriseFactory(township=a1, name=f"甲一化工{tag}{n}"),
                campaign=campaign,
                state="in_progress",
            )
        )
        made["overdue"].append(TaskFactory(plan=plan, deadline=on - DAY, status="in_progress"))
        made["dept"].append(TaskFactory(plan=plan, deadline=on - 30 * DAY, lead_region=None, lead_department=safety))
        made["due7"].append(TaskFactory(plan=plan, deadline=on + 5 * DAY))
        made["due1"].append(TaskFactory(plan=plan, deadline=on + DAY))
        made["quiet"].append(TaskFactory(plan=plan, deadline=on + 30 * DAY))
        TaskFactory(plan=plan, deadline=on - 30 * DAY, status="done")
        enterprise = plan.classification.enterprise
        made["f_over"].append(
            FindingFactory(enterprise=enterprise, deadline=on - 10 * DAY, responsible_department=safety)
        )
        made["f_due"].append(FindingFactory(enterprise=enterprise, deadline=on + 7 * DAY))
        FindingFactory(enterprise=enterprise, deadline=on - 10 * DAY, status="awaiting_verification")
        made["five"].append(
            ClassificationFactory(
                enterprise=EnterpriseFactory(township=a1),
                campaign=campaign,
                category="shutdown",
                state="in_progress",
                stop_order_on=on - 45 * DAY,
            )
        )
        tiered = EnterpriseFactory(township=a2, name=f"三档化工{tag}{n}")
        YearlyTierFactory(enterprise=tiered, year=on.year - 1, tier=3)
        YearlyTierFactory(enterprise=tiered, year=on.year, tier=3)
        made["tier3"].append(tiered)
        made["expiring"].append(PermitFactory(enterprise=EnterpriseFactory(township=a2), expires_on=on + 40 * DAY))
        expired_holder = EnterpriseFactory(township=a1)
        PermitFactory(enterprise=expired_holder, expires_on=on - 5 * DAY)
        made["expired"].append(expired_holder)
        made["park"].append(ChemicalParkFactory(township=a1, last_risk_assessment_on=on.replace(year=on.year - 6)))
        ChemicalParkFactory(township=a1, last_risk_assessment_on=on.replace(year=on.year - 1))
        made["closed"].append(EnterpriseFactory(township=a1, status="closed"))
        made["closed"].append(EnterpriseFactory(township=b1, status="closed"))
    return made


@pytest.fixture
def world(regions, users, campaign, safety):
    for user in users.values():
        user.email = f"{user.username}@example.cn"
        user.save()
    return populate(regions, campaign, safety, ON)


def kinds_for(user):
    return sorted(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_each_rule_on_a_fixed_date(world, users, regions):
    report = run_deadline_checks(ON, rng=random.Random(1))

    assert report["overdue_tasks"] == {"tasks_marked_overdue": 2, "notifications": 2}
    statuses = dict(Task.objects.values_list("pk", "status"))
    assert statuses[world["overdue"][0].pk] == statuses[world["dept"][0].pk] == "overdue"
    assert statuses[world["due7"][0].pk] == "not_started"
    assert report["task_reminders"] == {"tasks_due_soon": 2, "notifications": 2}
    assert report["overdue_findings"] == {"findings_marked_overdue": 1, "notifications": 2}
    assert Finding.objects.get(pk=world["f_over"][0].pk).overdue_since == ON
    assert report["finding_reminders"] == {"findings_due_soon": 1, "notifications": 1}
    assert report["five_thorough"] == {"shutdowns_flagged_five_thorough": 1, "notifications": 2}
    assert Classification.objects.get(pk=world["five"][0].pk).five_thorough_flagged_on == ON
    assert report["repeated_tier3"] == {"shutdown_proposals": 1, "notifications": 2}
    proposal = Classification.objects.get(enterprise=world["tier3"][0], category="shutdown")
    assert proposal.state == "proposed"
    assert report["expiring_permits"] == {"permits_expiring": 1, "notifications": 1}
    assert report["expired_permits"] == {
        "enterprises_flagged_permit_expired": 1,
        "permit_flags_lifted": 0,
        "notifications": 2,
    }
    assert Enterprise.objects.get(pk=world["expired"][0].pk).permit_expired_since == ON
    assert report["park_risk_assessments"] == {
        "parks_flagged_risk_assessment": 1,
        "park_flags_lifted": 0,
        "notifications": 3,
    }
    assert ChemicalPark.objects.get(pk=world["park"][0].pk).risk_assessment_overdue_since == ON
    assert ChemicalPark.objects.filter(risk_assessment_overdue_since__isnull=False).count() == 1
    assert report["recheck_sample"] == {"recheck_inspections_planned": 2, "notifications": 1}
    sample = Inspection.objects.get(enterprise__township=regions["town_a1"])
    assert (sample.kind, sample.status, sample.planned_on) == ("recheck", "planned", ON)

    # Who was told what.
    K = NotificationKind
    assert kinds_for(users["town_a1"]) == sorted(
        [
            K.TASK_OVERDUE,
            K.TASK_DUE_SOON,
            K.TASK_DUE_SOON,
            K.FINDING_OVERDUE,
            K.FINDING_DUE_SOON,
            K.PERMIT_EXPIRED,
            K.RISK_ASSESSMENT_OVERDUE,
            K.RECHECK_PLANNED,
        ]
    )
    assert kinds_for(users["town_a2"]) == sorted([K.SHUTDOWN_PROPOSED, K.PERMIT_EXPIRING])
    assert kinds_for(users["county_a"]) == sorted(
        [K.FIVE_THOROUGH, K.SHUTDOWN_PROPOSED, K.PERMIT_EXPIRED, K.RISK_ASSESSMENT_OVERDUE]
    )
    assert kinds_for(users["city"]) == sorted([K.FIVE_THOROUGH, K.RISK_ASSESSMENT_OVERDUE])
    safety_user = Notification.objects.filter(recipient__username="safety")
    assert sorted(safety_user.values_list("kind", flat=True)) == sorted([K.TASK_OVERDUE, K.FINDING_OVERDUE])
    assert kinds_for(users["supervisor"]) == [] and kinds_for(users["town_a2"]).count(K.TASK_OVERDUE) == 0
    overdue = Notification.objects.get(recipient=users["town_a1"], kind=K.TASK_OVERDUE)
    enterprise_id = world["overdue"][0].plan.classification.enterprise_id
    assert overdue.link == f"/enterprises/{enterprise_id}/#task-{world['overdue'][0].pk}"
    assert overdue.dedup_key == f"task-overdue:{world['overdue'][0].pk}:{(ON - DAY).isoformat()}"
    assert report["notifications"] == Notification.objects.count() == 18
    # One e-mail per recipient with an address (a digest of their notifications).
    assert report["emails"] == 18
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        f"{name}@example.cn" for name in ("town_a1", "town_a2", "county_a", "city", "safety")
    )


def test_running_twice_the_same_day_changes_and_notifies_nothing(world):
    run_deadline_checks(ON, rng=random.Random(1))
    counts = (Notification.objects.count(), Inspection.objects.count(), Classification.objects.count())
    versions = list(Task.objects.order_by("pk").values_list("version", flat=True))
    mail.outbox.clear()

    again = run_deadline_checks(ON, rng=random.Random(2))

    assert again["notifications"] == 0 and again["emails"] == 0 and mail.outbox == []
    assert again["overdue_tasks"]["tasks_marked_overdue"] == 0
    assert again["overdue_findings"]["findings_marked_overdue"] == 0
    assert again["five_thorough"]["shutdowns_flagged_five_thorough"] == 0
    assert again["repeated_tier3"]["shutdown_proposals"] == 0
    assert again["expired_permits"]["enterprises_flagged_permit_expired"] == 0
    assert again["park_risk_assessments"]["parks_flagged_risk_assessment"] == 0
    assert again["recheck_sample"]["recheck_inspections_planned"] == 0
    assert (Notification.objects.count(), Inspection.objects.count(), Classification.objects.count()) == counts
    assert list(Task.objects.order_by("pk").values_list("version", flat=True)) == versions


def test_crash_halfway_then_rerun_finishes_without_duplicates(world, monkeypatch):
    def disk_full(*args, **kwargs):
        raise RuntimeError("disk full")

    # The crash comes in the middle of the permit rule, after the earlier rules are done.
    monkeypatch.setattr(deadline_checks, "flag_expired_permits", disk_full)
    with pytest.raises(RuntimeError):
        run_deadline_checks(ON, rng=random.Random(1))
    assert Task.objects.filter(status="overdue").count() == 2  # earlier rules stand
    assert Enterprise.objects.filter(permit_expired_since__isnull=False).count() == 0
    done_before = Notification.objects.count()
    assert 0 < done_before < 18

    # A crash inside a rule, after its change but before its notifications, undoes that rule.
    monkeypatch.undo()
    monkeypatch.setattr(deadline_checks, "_notify_tasks", disk_full)
    with pytest.raises(RuntimeError):
        run_deadline_checks(ON + DAY, rng=random.Random(1))
    assert Task.objects.filter(status="overdue").count() == 2

    monkeypatch.undo()
    report = run_deadline_checks(ON, rng=random.Random(1))
    assert report["expired_permits"]["enterprises_flagged_permit_expired"] == 1
    assert report["overdue_tasks"]["notifications"] == 0  # already told
    assert Notification.objects.count() == 18
    keys = list(Notification.objects.values_list("recipient_id", "dedup_key"))
    assert len(keys) == len(set(keys))


def test_tasks_lifted_findings_and_permits_renewed(world):
    run_deadline_checks(ON, rng=random.Random(1))
    holder = world["expired"][0]
    PermitFactory(enterprise=holder, number="NEW-1", expires_on=ON + 400 * DAY)
    park = world["park"][0]
    park.refresh_from_db()
    park.last_risk_assessment_on = ON
    park.save()
    report = run_deadline_checks(ON + DAY, rng=random.Random(1))
    assert report["expired_permits"]["permit_flags_lifted"] == 1
    assert report["park_risk_assessments"]["park_flags_lifted"] == 1
    holder.refresh_from_db()
    park.refresh_from_db()
    assert holder.permit_expired_since is None and park.risk_assessment_overdue_since is None
    # The 1-day reminder comes on its day, once.
    assert report["task_reminders"]["notifications"] == 0
    later = run_deadline_checks(ON + 4 * DAY, rng=random.Random(1))
    assert later["task_reminders"]["notifications"] == 1  # due7 task: now due tomorrow


def test_query_count_does_not_grow_with_the_rows(regions, users, campaign, safety):
    populate(regions, campaign, safety, ON, k=1, tag="a")
    with CaptureQueriesContext(connection) as small:
        run_deadline_checks(ON, rng=random.Random(1))
    later = ON + 400 * DAY
    populate(regions, campaign, safety, later, k=4, tag="b")
    with CaptureQueriesContext(connection) as large:
        report = run_deadline_checks(later, rng=random.Random(1))
    assert report["overdue_tasks"]["tasks_marked_overdue"] == 8 + 3  # and the first batch's later tasks
    assert report["expired_permits"]["enterprises_flagged_permit_expired"] == 5  # 4 + the earlier expiring one
    assert len(large) == len(small), [q["sql"][:80] for q in large.captured_queries]


def test_command_and_task(world):
    out = io.StringIO()
    call_command("check_deadlines", "--date", "2021-03-31", "--no-email", stdout=out)
    report = json.loads(out.getvalue())
    assert report["date"] == "2021-03-31" and report["overdue_tasks"]["tasks_marked_overdue"] == 2
    assert report["emails"] == 0
    assert check_deadlines.delay("2021-03-31").get()["notifications"] == 0
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        call_command("check_deadlines", "--date", "31.03.2021")
