"""The "四个一批" classification workflow: every step allowed and refused, by role, region and state."""

import datetime
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import translation

from accounts.choices import Role
from accounts.models import Department
from enterprises.choices import OperatingStatus
from parks.choices import RecognitionStatus
from rectification import services
from rectification.choices import Category, ClassificationState, Opinion, StandardItem, StepAction, TaskStatus
from rectification.models import Classification, ClassificationStep, Plan, Task
from rectification.selectors import classification_dossier

from .factories import CampaignFactory, ChemicalParkFactory, EnterpriseFactory, UserFactory

S = ClassificationState


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def reviewers(regions):
    """One reviewer per pre-review department (the five default departments)."""
    departments = list(Department.objects.filter(reviews_classifications=True))
    assert len(departments) == 5
    return [
        UserFactory(username=f"reviewer{d.pk}", role=Role.REVIEWER, region=regions["city"], department=d)
        for d in departments
    ]


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批 2021-2023")


@pytest.fixture
def enterprise(regions):
    return EnterpriseFactory(township=regions["town_a1"], name="甲一化工")


def all_opinions(classification, reviewers, opinion=Opinion.AGREE):
    for reviewer in reviewers:
        services.give_opinion(classification, reviewer, opinion, comment="" if opinion == Opinion.AGREE else "注意")


def to_pending_approval(enterprise, campaign, users, reviewers, category=Category.UPGRADE, **details):
    c = services.propose_classification(enterprise, campaign, category, users["town_a1"], **details)
    services.submit_classification(c, users["county_a"])
    all_opinions(c, reviewers)
    services.forward_to_city(c, users["county_a"])
    return c


def to_in_progress(enterprise, campaign, users, reviewers, category=Category.UPGRADE, **details):
    c = to_pending_approval(enterprise, campaign, users, reviewers, category, **details)
    services.approve_classification(c, users["city"])
    return c


def finish_tasks(classification, doer):
    for task in Task.objects.filter(plan__classification=classification):
        services.mark_task_done(task, doer, completed_on=datetime.date(2021, 6, 1), note="已完成")


def test_walk_from_proposal_to_closure(enterprise, campaign, users, reviewers):
    town, county, city = users["town_a1"], users["county_a"], users["city"]
    c = services.propose_classification(enterprise, campaign, Category.SHUTDOWN, town, problems="手续不全")
    assert (c.state, c.is_current, c.proposed_by) == (S.PROPOSED, True, town)

    services.submit_classification(c, county, comment="报送")
    assert (c.state, c.review_round) == (S.UNDER_REVIEW, 1)

    for reviewer in reviewers[:-1]:
        services.give_opinion(c, reviewer, Opinion.AGREE)
        c.refresh_from_db()
        assert c.state == S.UNDER_REVIEW
    services.give_opinion(c, reviewers[-1], Opinion.AGREE_WITH_CHANGES, comment="补充危废处置")
    assert c.state == S.REVIEWED

    services.forward_to_city(c, county)
    assert c.state == S.PENDING_APPROVAL
    services.approve_classification(c, city, comment="同意关停")
    assert c.state == S.IN_PROGRESS and c.approved_at is not None

    plan = Plan.objects.get(classification=c)
    items = list(plan.tasks.order_by("order").values_list("standard_item", flat=True))
    assert items == [
        "water_cut",
        "power_cut",
        "equipment_removed",
        "materials_cleared",
        "products_cleared",
        "hazardous_disposed",
        "licence_changed",
    ]
    assert all(t.lead_region_id == enterprise.township_id for t in plan.tasks.all())
    assert all(t.deadline == c.deadline or t.deadline == campaign.ends_on for t in plan.tasks.all())

    services.record_stop_order(c, town, datetime.date(2021, 5, 1))
    finish_tasks(c, town)
    services.request_acceptance(c, town)
    assert c.state == S.AWAITING_ACCEPTANCE
    services.accept_classification(c, city, comment="验收合格")
    assert c.state == S.ACCEPTED and c.accepted_at is not None
    assert set(plan.tasks.values_list("status", flat=True)) == {TaskStatus.VERIFIED_CLOSED}
    enterprise.refresh_from_db()
    assert enterprise.status == OperatingStatus.CLOSED

    steps = list(c.steps.order_by("at", "id").values_list("action", "actor__username", "to_state"))
    actions = [s[0] for s in steps]
    assert actions == [
        "propose",
        "submit",
        "opinion",
        "opinion",
        "opinion",
        "opinion",
        "opinion",
        "review_complete",
        "forward",
        "approve",
        "start",
        "stop_order",
        "request_acceptance",
        "accept",
    ]
    assert steps[0][1] == "town_a1" and steps[1][1] == "county_a" and steps[9][1] == "city"
    assert steps[7][1] is None  # the round completed by itself
    opinion = c.steps.get(action="opinion", department=reviewers[-1].department)
    assert (opinion.opinion, opinion.comment, opinion.review_round) == ("agree_with_changes", "补充危废处置", 1)
    # Every step is in the classification's change history too.
    assert c.history.count() >= 8


@pytest.mark.parametrize(
    ("action", "user_key", "message"),
    [
        ("submit", "town_a1", "Only the county office submits"),
        ("submit", "city", "Only the county office submits"),
        ("submit", "reviewer", "Only the county office submits"),
        ("submit", "supervisor", "Only the county office submits"),
        ("submit", "county_b", "outside your region"),
    ],
)
def test_submit_refused_to_wrong_role_or_region(enterprise, campaign, users, regions, action, user_key, message):
    users["county_b"] = UserFactory(username="county_b", role=Role.COUNTY, region=regions["county_b"])
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    with pytest.raises(PermissionDenied, match=message):
        services.submit_classification(c, users[user_key])
    c.refresh_from_db()
    assert c.state == S.PROPOSED and not c.steps.filter(action="submit").exists()
    assert services.why_not(c, users[user_key], StepAction.SUBMIT)
    assert services.why_not(c, users["county_a"], StepAction.SUBMIT) is None


def test_township_cannot_act_on_another_townships_enterprise(enterprise, campaign, users):
    with pytest.raises(PermissionDenied, match="outside your region"):
        services.propose_classification(enterprise, campaign, Category.SHUTDOWN, users["town_a2"])
    assert not Classification.objects.exists()
    c = services.propose_classification(enterprise, campaign, Category.SHUTDOWN, users["town_a1"])
    with pytest.raises(PermissionDenied, match="outside your region"):
        services.withdraw_classification(c, users["town_a2"])
    assert services.why_not_propose(enterprise, campaign, users["town_a2"])


def test_roles_that_cannot_propose(enterprise, campaign, users):
    for key in ("reviewer", "supervisor"):
        with pytest.raises(PermissionDenied, match="propose"):
            services.propose_classification(enterprise, campaign, Category.SHUTDOWN, users[key])
    # county and city offices may propose too
    c = services.propose_classification(enterprise, campaign, Category.SHUTDOWN, users["county_a"])
    assert c.state == S.PROPOSED


def test_approve_and_return_only_by_city(enterprise, campaign, users, reviewers):
    c = to_pending_approval(enterprise, campaign, users, reviewers)
    for key in ("county_a", "town_a1", "reviewer", "supervisor"):
        with pytest.raises(PermissionDenied, match="Only the city office approves"):
            services.approve_classification(c, users[key])
        with pytest.raises(PermissionDenied):
            services.return_to_county(c, users[key], comment="x")
    c.refresh_from_db()
    assert c.state == S.PENDING_APPROVAL
    assert not Plan.objects.exists()


def test_wrong_state_is_refused_with_the_state_named(enterprise, campaign, users, reviewers):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    with pytest.raises(ValidationError, match="currently “Proposed by the township”; “Approve” is not possible"):
        services.approve_classification(c, users["city"])
    with pytest.raises(ValidationError, match="not possible"):
        services.forward_to_city(c, users["county_a"])
    with pytest.raises(ValidationError):
        services.accept_classification(c, users["city"])
    with pytest.raises(ValidationError):
        services.reopen_classification(c, users["city"], reason="x")
    services.submit_classification(c, users["county_a"])
    with pytest.raises(ValidationError, match="“Submit for pre-review” is not possible"):
        services.submit_classification(c, users["county_a"])
    assert c.steps.filter(action="submit").count() == 1


def test_chinese_refusal(enterprise, campaign, users):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    with translation.override("zh-hans"), pytest.raises(ValidationError) as caught:
        services.approve_classification(c, users["city"])
    assert caught.value.messages


def test_each_department_gives_one_opinion_per_round(enterprise, campaign, users, reviewers):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    services.give_opinion(c, reviewers[0], Opinion.AGREE)
    with pytest.raises(ValidationError, match="already given its opinion"):
        services.give_opinion(c, reviewers[0], Opinion.DISAGREE, comment="不同意")
    # a second user of the same department cannot give a second opinion either
    colleague = UserFactory(
        username="colleague", role=Role.REVIEWER, region=users["city"].region, department=reviewers[0].department
    )
    with pytest.raises(ValidationError, match="already given"):
        services.give_opinion(c, colleague, Opinion.AGREE)
    with pytest.raises(ValidationError, match="Waiting for the pre-review opinions of"):
        services.forward_to_city(c, users["county_a"])
    reason = services.why_not(c, users["county_a"], StepAction.FORWARD)
    assert reviewers[1].department.short_name in reason and reviewers[0].department.short_name not in reason
    with pytest.raises(ValidationError) as caught:
        services.give_opinion(c, reviewers[1], Opinion.DISAGREE)
    assert "comment" in caught.value.message_dict
    for reviewer in reviewers[1:]:
        services.give_opinion(c, reviewer, Opinion.DISAGREE, comment="不符合条件")
    c.refresh_from_db()
    assert c.state == S.REVIEWED
    assert c.steps.filter(action="opinion", review_round=1).count() == 5


def test_reviewer_without_a_reviewing_department_is_refused(enterprise, campaign, users):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    with pytest.raises(PermissionDenied, match="pre-review department"):
        services.give_opinion(c, users["reviewer"], Opinion.AGREE)  # no department
    other = Department.objects.create(name="统计局", reviews_classifications=False)
    stats = UserFactory(username="stats", role=Role.REVIEWER, region=users["city"].region, department=other)
    with pytest.raises(PermissionDenied):
        services.give_opinion(c, stats, Opinion.AGREE)
    with pytest.raises(PermissionDenied, match="Only a pre-review department"):
        services.give_opinion(c, users["county_a"], Opinion.AGREE)


def test_configurable_reviewers(enterprise, campaign, users, reviewers):
    """Only the departments marked as reviewing are waited for; with none, submission completes the review."""
    Department.objects.exclude(pk=reviewers[0].department_id).update(reviews_classifications=False)
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    services.give_opinion(c, reviewers[0], Opinion.AGREE)
    assert c.state == S.REVIEWED
    Department.objects.update(reviews_classifications=False)
    other = EnterpriseFactory(township=users["town_a1"].region)
    c2 = services.propose_classification(other, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c2, users["county_a"])
    assert c2.state == S.REVIEWED


def test_adjust_and_resubmit_starts_a_new_round(enterprise, campaign, users, reviewers):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    all_opinions(c, reviewers, Opinion.DISAGREE)
    c.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.adjust_classification(c, users["town_a1"], category=Category.SHUTDOWN)
    with pytest.raises(ValidationError, match="changes nothing"):
        services.adjust_classification(c, users["county_a"], category=Category.UPGRADE)
    services.adjust_classification(c, users["county_a"], category=Category.SHUTDOWN, comment="按意见调整为关停")
    assert (c.category, c.state) == (Category.SHUTDOWN, S.REVIEWED)
    step = c.steps.get(action="adjust")
    assert step.details["changes"]["category"] == ["upgrade", "shutdown"]
    services.resubmit_classification(c, users["county_a"])
    assert (c.state, c.review_round) == (S.UNDER_REVIEW, 2)
    assert services.why_not(c, reviewers[0], StepAction.OPINION) is None  # round 2 needs a new opinion
    all_opinions(c, reviewers)
    c.refresh_from_db()
    assert c.state == S.REVIEWED
    assert c.steps.filter(action="opinion").count() == 10


def test_city_returns_then_county_adjusts_and_forwards(enterprise, campaign, users, reviewers):
    c = to_pending_approval(enterprise, campaign, users, reviewers)
    with pytest.raises(ValidationError):
        services.return_to_county(c, users["city"], comment="  ")
    services.return_to_county(c, users["city"], comment="整治期限过长")
    assert c.state == S.RETURNED
    services.adjust_classification(c, users["county_a"], deadline=datetime.date(2021, 12, 31))
    services.forward_to_city(c, users["county_a"])
    services.approve_classification(c, users["city"])
    assert c.state == S.IN_PROGRESS
    assert set(Task.objects.filter(plan__classification=c).values_list("deadline", flat=True)) == {
        datetime.date(2021, 12, 31)
    }


def test_withdraw_leaves_no_current(enterprise, campaign, users):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    services.withdraw_classification(c, users["town_a1"], comment="重复")
    assert (c.state, c.is_current) == (S.WITHDRAWN, False)
    again = services.propose_classification(enterprise, campaign, Category.SHUTDOWN, users["town_a1"])
    assert again.pk != c.pk and again.is_current


def test_proposal_updated_while_proposed_and_blocked_later(enterprise, campaign, users):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    same = services.propose_classification(enterprise, campaign, Category.SHUTDOWN, users["town_a1"], problems="污染")
    assert same.pk == c.pk and same.category == Category.SHUTDOWN
    assert c.steps.filter(action="update_proposal").count() == 1
    unchanged = services.propose_classification(
        enterprise, campaign, Category.SHUTDOWN, users["town_a1"], problems="污染"
    )
    assert unchanged.pk == c.pk and c.steps.count() == 2
    services.submit_classification(c, users["county_a"])
    with pytest.raises(ValidationError, match="already on its way"):
        services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    assert Classification.objects.count() == 1


def test_category_details_given_must_be_valid(enterprise, campaign, users, regions):
    """Details that are given are checked at the proposal (missing ones are not: see test_roster_proposals)."""
    town = users["town_a1"]
    pending = ChemicalParkFactory(township=regions["town_b1"], recognition_status=RecognitionStatus.PENDING)
    with pytest.raises(ValidationError, match="not a recognised chemical park"):
        services.propose_classification(enterprise, campaign, Category.RELOCATE, town, destination_park=pending)
    with pytest.raises(ValidationError, match="cannot absorb itself"):
        services.propose_classification(
            enterprise, campaign, Category.RESTRUCTURE, town, absorbing_enterprise=enterprise
        )
    assert not Classification.objects.exists()
    # Fields that do not belong to the category are not kept.
    park = ChemicalParkFactory(township=regions["town_b1"])
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, town, destination_park=park)
    assert c.destination_park is None


def test_undecided_cannot_be_submitted(enterprise, campaign, users):
    c = services.propose_classification(enterprise, campaign, Category.UNDECIDED, users["town_a1"])
    with pytest.raises(ValidationError, match="undecided"):
        services.submit_classification(c, users["county_a"])


def test_relocation_needs_a_recognised_park_at_approval(enterprise, campaign, users, reviewers, regions):
    park = ChemicalParkFactory(township=regions["town_b1"], name="乙一化工园")
    c = to_pending_approval(enterprise, campaign, users, reviewers, Category.RELOCATE, destination_park=park)
    park.recognition_status = RecognitionStatus.REVOKED
    park.save()
    c.refresh_from_db()
    assert "not a recognised" in services.why_not(c, users["city"], StepAction.APPROVE)
    with pytest.raises(ValidationError, match="not a recognised chemical park"):
        services.approve_classification(c, users["city"])
    park.recognition_status = RecognitionStatus.RECOGNISED
    park.save()
    services.approve_classification(c, users["city"])
    assert list(Task.objects.filter(plan__classification=c).values_list("standard_item", flat=True)) == [
        "signed",
        "construction_started",
        "completed",
        "production_started",
        "old_site_closed",
    ]


def test_restructure_and_excluded_approval(enterprise, campaign, users, reviewers, regions):
    absorber = EnterpriseFactory(township=regions["town_a2"], name="兼并方")
    c = to_in_progress(enterprise, campaign, users, reviewers, Category.RESTRUCTURE, absorbing_enterprise=absorber)
    assert c.absorbing_enterprise == absorber
    assert list(Task.objects.filter(plan__classification=c).values_list("standard_item", flat=True)) == [
        "agreement_signed",
        "merger_completed",
    ]
    other = EnterpriseFactory(township=regions["town_a1"])
    x = to_pending_approval(other, campaign, users, reviewers, Category.EXCLUDED, exclusion_reason="非化工企业")
    services.approve_classification(x, users["city"])
    assert x.state == S.APPROVED and not Plan.objects.filter(classification=x).exists()


def test_change_of_approved_category_keeps_old_decision(enterprise, campaign, users, reviewers):
    old = to_in_progress(enterprise, campaign, users, reviewers, Category.UPGRADE)
    old_plan = old.plan
    with pytest.raises(ValidationError, match="same as the decision in force"):
        services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"], deadline=old.deadline)
    change = services.propose_classification(
        enterprise, campaign, Category.SHUTDOWN, users["town_a1"], problems="分档三档"
    )
    assert (change.is_current, change.replaces_id, change.state) == (False, old.pk, S.PROPOSED)
    old.refresh_from_db()
    assert old.is_current and old.state == S.IN_PROGRESS  # still in force while the change is decided
    # a second change proposal updates the pending one rather than adding a third row
    again = services.propose_classification(
        enterprise, campaign, Category.SHUTDOWN, users["town_a1"], problems="两年三档"
    )
    assert again.pk == change.pk

    services.submit_classification(change, users["county_a"])
    all_opinions(change, reviewers)
    services.forward_to_city(change, users["county_a"])
    services.approve_classification(change, users["city"])

    old.refresh_from_db()
    change.refresh_from_db()
    assert (old.state, old.is_current) == (S.SUPERSEDED, False)
    assert (change.state, change.is_current) == (S.IN_PROGRESS, True)
    assert old.steps.filter(action="supersede", details__by=change.pk).exists()
    assert Plan.objects.filter(pk=old_plan.pk).exists()  # the old plan stays with the old decision
    assert change.plan.tasks.filter(standard_item=StandardItem.WATER_CUT).exists()
    assert Classification.objects.current().get(enterprise=enterprise, campaign=campaign) == change
    assert old.history.filter(state=S.IN_PROGRESS).exists() and old.history.first().state == S.SUPERSEDED

    [section] = classification_dossier(enterprise, users["city"])
    assert section.current == change and section.earlier == [old] and section.pending_change is None
    assert [step.action for step in section.earlier[0].timeline][-1] == "supersede"


def test_acceptance_fail_and_reopen(enterprise, campaign, users, reviewers):
    town, county = users["town_a1"], users["county_a"]
    c = to_in_progress(enterprise, campaign, users, reviewers, Category.SHUTDOWN)
    with pytest.raises(ValidationError, match="Every task must be done"):
        services.request_acceptance(c, town)
    finish_tasks(c, town)
    with pytest.raises(PermissionDenied):
        services.request_acceptance(c, users["reviewer"])
    services.request_acceptance(c, town)
    with pytest.raises(PermissionDenied, match="carry out acceptance"):
        services.accept_classification(c, town)
    with pytest.raises(ValidationError, match="Say why"):
        services.fail_acceptance(c, county, reasons=[" "])
    services.fail_acceptance(
        c, county, reasons=["未断电", "设备未拆除"], failed_items=["power_cut", "equipment_removed"]
    )
    assert c.state == S.IN_PROGRESS
    step = c.steps.get(action="fail_acceptance")
    assert step.details["reasons"] == ["未断电", "设备未拆除"] and len(step.details["reopened_tasks"]) == 2
    reopened = Task.objects.filter(plan__classification=c, status=TaskStatus.IN_PROGRESS)
    assert set(reopened.values_list("standard_item", flat=True)) == {"power_cut", "equipment_removed"}
    for task in reopened:
        services.mark_task_done(task, town, completed_on=datetime.date(2021, 7, 1))
    services.request_acceptance(c, town)
    services.accept_classification(c, county)
    enterprise.refresh_from_db()
    assert enterprise.status == OperatingStatus.CLOSED

    with pytest.raises(PermissionDenied):
        services.reopen_classification(c, town, reason="回头看发现复产")
    services.reopen_classification(c, users["supervisor"], reason="回头看发现复产")
    assert (c.state, c.accepted_at) == (S.IN_PROGRESS, None)
    enterprise.refresh_from_db()
    assert enterprise.status == OperatingStatus.OPERATING
    assert c.steps.filter(action="reopen", comment="回头看发现复产").exists()


def test_acceptor_cannot_have_marked_tasks_done(enterprise, campaign, users, reviewers):
    c = to_in_progress(
        enterprise,
        campaign,
        users,
        reviewers,
        Category.RESTRUCTURE,
        absorbing_enterprise=EnterpriseFactory(township=users["town_a1"].region),
    )
    finish_tasks(c, users["county_a"])
    services.request_acceptance(c, users["county_a"])
    with pytest.raises(PermissionDenied, match="someone other than"):
        services.accept_classification(c, users["county_a"])
    services.accept_classification(c, users["city"])
    assert set(Task.objects.filter(plan__classification=c).values_list("verified_by__username", flat=True)) == {"city"}


def test_stop_order_only_for_shutdowns(enterprise, campaign, users, reviewers, regions):
    c = to_in_progress(enterprise, campaign, users, reviewers, Category.UPGRADE)
    with pytest.raises(ValidationError, match="Only a shutdown"):
        services.record_stop_order(c, users["town_a1"], datetime.date(2021, 5, 1))
    other = EnterpriseFactory(township=regions["town_a1"])
    s = to_in_progress(other, campaign, users, reviewers, Category.SHUTDOWN)
    with pytest.raises(ValidationError):
        services.record_stop_order(s, users["town_a1"], datetime.date.today() + datetime.timedelta(days=3))
    with pytest.raises(PermissionDenied):
        services.record_stop_order(s, users["reviewer"], datetime.date(2021, 5, 1))
    services.record_stop_order(s, users["town_a1"], datetime.date(2021, 5, 1))
    assert s.stop_order_on == datetime.date(2021, 5, 1)


def test_available_actions_follow_the_table(enterprise, campaign, users, reviewers):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    assert services.available_actions(c, users["county_a"]) == ["update_proposal", "submit", "adjust", "withdraw"]
    assert set(services.available_actions(c, users["town_a1"])) == {"update_proposal", "withdraw"}
    assert services.available_actions(c, users["city"]) == ["update_proposal", "withdraw"]
    assert services.available_actions(c, users["supervisor"]) == []
    services.submit_classification(c, users["county_a"])
    checks = {check.action: check for check in services.explain_actions(c, users["county_a"])}
    assert not checks["forward"].allowed and "Waiting for" in checks["forward"].reason
    assert services.available_actions(c, reviewers[0]) == ["opinion"]


def test_double_approve_with_stale_objects_is_refused(enterprise, campaign, users, reviewers):
    c = to_pending_approval(enterprise, campaign, users, reviewers)
    first = Classification.objects.get(pk=c.pk)
    second = Classification.objects.get(pk=c.pk)
    services.approve_classification(first, users["city"])
    with pytest.raises(ValidationError, match="not possible"):
        services.approve_classification(second, users["city"])
    assert Plan.objects.filter(classification=c).count() == 1
    assert ClassificationStep.objects.filter(classification=c, action="approve").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_double_approve_is_impossible(regions, users, reviewers):
    campaign = CampaignFactory(name="并发")
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    c = to_pending_approval(enterprise, campaign, users, reviewers)
    barrier = threading.Barrier(2)
    outcomes = []

    def approve():
        try:
            barrier.wait()
            services.approve_classification(Classification.objects.get(pk=c.pk), users["city"])
            outcomes.append("ok")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert Plan.objects.filter(classification=c).count() == 1
    assert ClassificationStep.objects.filter(classification=c, action="approve").count() == 1


def test_work_queue_per_role(campaign, users, reviewers, regions, django_assert_num_queries):
    town, county, city = users["town_a1"], users["county_a"], users["city"]
    proposed = services.propose_classification(
        enterprise=EnterpriseFactory(township=regions["town_a1"]),
        campaign=campaign,
        category=Category.SHUTDOWN,
        actor=town,
    )
    reviewing = services.propose_classification(
        EnterpriseFactory(township=regions["town_a1"]), campaign, Category.UPGRADE, town
    )
    services.submit_classification(reviewing, county)
    services.give_opinion(reviewing, reviewers[0], Opinion.AGREE)
    pending = to_pending_approval(EnterpriseFactory(township=regions["town_a1"]), campaign, users, reviewers)
    working = to_in_progress(EnterpriseFactory(township=regions["town_a1"]), campaign, users, reviewers)
    tasks = list(Task.objects.filter(plan__classification=working).order_by("order"))
    services.mark_task_done(tasks[0], town, completed_on=datetime.date(2021, 5, 1))
    services.mark_task_done(tasks[1], county, completed_on=datetime.date(2021, 5, 1))
    Task.objects.filter(pk=tasks[2].pk).update(deadline=datetime.date(2021, 1, 1), status=TaskStatus.OVERDUE)
    Task.objects.filter(pk=tasks[3].pk).update(deadline=datetime.date(2099, 1, 1))
    on = datetime.date(2021, 6, 1)

    from rectification.selectors import work_queue, work_queue_counts

    county_queue = work_queue(county, on=on)
    assert list(county_queue.to_submit) == [proposed]
    assert list(county_queue.to_accept) == [] and list(county_queue.opinions_to_give) == []
    assert list(county_queue.tasks_to_verify) == [tasks[0]]  # not the one the county marked done itself
    assert list(county_queue.tasks_due) == [tasks[2]]
    assert (
        work_queue_counts(county, on=on)
        == county_queue.counts()
        == {
            "to_submit": 1,
            "to_process": 0,
            "opinions_to_give": 0,
            "to_approve": 0,
            "to_accept": 0,
            "tasks_due": 1,
            "tasks_to_verify": 1,
        }
    )
    assert list(work_queue(city, on=on).to_approve) == [pending]
    assert work_queue_counts(city, on=on)["tasks_to_verify"] == 2
    assert list(work_queue(reviewers[0], on=on).opinions_to_give) == []
    assert list(work_queue(reviewers[1], on=on).opinions_to_give) == [reviewing]
    assert work_queue_counts(reviewers[1], on=on)["opinions_to_give"] == 1
    town_counts = work_queue_counts(town, on=on)
    assert town_counts["tasks_due"] == 1 and town_counts["to_submit"] == 0 and town_counts["tasks_to_verify"] == 0
    assert work_queue_counts(users["town_a2"], on=on)["tasks_due"] == 0

    with django_assert_num_queries(2):
        work_queue_counts(city, on=on)
    queue = work_queue(city, on=on)
    with django_assert_num_queries(1):
        [(c.enterprise.township.name, c.campaign.name, c.tasks_total) for c in queue.to_approve]
    with django_assert_num_queries(1):
        [(t.plan.classification.enterprise.name, t.lead_unit, t.done_by) for t in queue.tasks_to_verify]


def test_dossier_section_in_fixed_queries(enterprise, campaign, users, reviewers, django_assert_num_queries):
    c = to_in_progress(enterprise, campaign, users, reviewers, Category.SHUTDOWN)
    finish_tasks(c, users["town_a1"])
    with django_assert_num_queries(5):
        [section] = classification_dossier(enterprise, users["town_a1"])
        timeline = [
            (s.action, s.actor and s.actor.username, s.department and s.department.name)
            for s in section.current.timeline
        ]
        tasks = [
            (t.description, t.lead_unit, t.done_by, len(t.evidence_list))
            for t in section.current.plan_or_none.task_list
        ]
    assert len(timeline) == 11 and len(tasks) == 7
    assert classification_dossier(enterprise, users["town_a2"]) == []


def test_system_actor_can_take_steps(enterprise, campaign, users, reviewers):
    """Trusted commands (importer, worker) act as the system actor: every check passes, no history user."""
    from accounts.services import system_actor

    system = system_actor()
    c = to_in_progress(enterprise, campaign, users, reviewers, Category.UPGRADE)
    finish_tasks(c, users["town_a1"])
    services.request_acceptance(c, system)
    services.accept_classification(c, system, comment="批量验收")
    assert c.state == S.ACCEPTED
    step = c.steps.get(action="accept")
    assert step.actor is None and c.history.first().history_user is None
