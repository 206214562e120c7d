"""The rules the worker runs: tier 3 twice → shutdown proposal, 五彻底 flag, overdue tasks. Fixed dates, idempotent."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from enterprises.choices import OperatingStatus
from rectification import services
from rectification.choices import Category, ClassificationState, StepAction, TaskStatus
from rectification.models import Classification, ClassificationStep, Task

from .factories import (
    CampaignFactory,
    ClassificationFactory,
    EnterpriseFactory,
    PlanFactory,
    TaskFactory,
    YearlyTierFactory,
)

S = ClassificationState
D = datetime.date


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def tiers(enterprise, **by_year):
    for year, tier in by_year.items():
        YearlyTierFactory(enterprise=enterprise, year=int(year[1:]), tier=tier)


# --- tier 3 in two consecutive years ---------------------------------------------------------


def test_tier3_two_years_proposes_shutdown_once(regions, users):
    campaign = CampaignFactory()
    town = regions["town_a1"]
    twice = EnterpriseFactory(township=town, name="两年三档")
    tiers(twice, y2021=3, y2022=3)
    once = EnterpriseFactory(township=town, name="一年三档")
    tiers(once, y2021=2, y2022=3)
    not_consecutive = EnterpriseFactory(township=town, name="间隔三档")
    tiers(not_consecutive, y2020=3, y2022=3)
    closed = EnterpriseFactory(township=town, status=OperatingStatus.CLOSED)
    tiers(closed, y2021=3, y2022=3)
    withdrawn = EnterpriseFactory(township=town, name="已撤回")
    tiers(withdrawn, y2021=3, y2022=3)
    ClassificationFactory(
        enterprise=withdrawn, campaign=campaign, category=Category.SHUTDOWN, state=S.WITHDRAWN, is_current=False
    )
    on_its_way = EnterpriseFactory(township=town, name="预审中")
    tiers(on_its_way, y2021=3, y2022=3)
    ClassificationFactory(enterprise=on_its_way, campaign=campaign, category=Category.UPGRADE, state=S.UNDER_REVIEW)
    upgrading = EnterpriseFactory(township=regions["town_b1"], name="升级中")
    tiers(upgrading, y2021=3, y2022=3)
    decided = ClassificationFactory(
        enterprise=upgrading, campaign=campaign, category=Category.UPGRADE, state=S.IN_PROGRESS
    )
    other_campaign = EnterpriseFactory(township=town, name="其他行动已关停")
    tiers(other_campaign, y2021=3, y2022=3)
    ClassificationFactory(enterprise=other_campaign, campaign=CampaignFactory(), category=Category.SHUTDOWN)

    created = services.propose_shutdowns_for_repeated_tier3(2022, campaign)

    by_enterprise = {c.enterprise_id: c for c in created}
    assert set(by_enterprise) == {twice.pk, upgrading.pk, other_campaign.pk}
    new = by_enterprise[twice.pk]
    new.refresh_from_db()
    assert (new.category, new.state, new.is_current, new.replaces_id) == (Category.SHUTDOWN, S.PROPOSED, True, None)
    assert new.deadline == campaign.ends_on and "2021" in new.problems and "2022" in new.problems
    change = Classification.objects.get(pk=by_enterprise[upgrading.pk].pk)
    assert (change.is_current, change.replaces_id) == (False, decided.pk)  # a change request of the decision
    decided.refresh_from_db()
    assert decided.is_current and decided.state == S.IN_PROGRESS
    steps = ClassificationStep.objects.filter(classification__in=created)
    assert steps.count() == 3 and set(steps.values_list("action", "actor", "details__rule")) == {
        ("propose", None, "tier3_two_years")
    }
    assert new.history.count() == 1

    # Idempotent: a second run (even after the proposals moved on) creates nothing.
    assert services.propose_shutdowns_for_repeated_tier3(2022, campaign) == []
    Classification.objects.filter(pk=new.pk).update(state=S.WITHDRAWN, is_current=False)
    assert services.propose_shutdowns_for_repeated_tier3(2022, campaign) == []
    assert Classification.objects.filter(campaign=campaign).count() == 6  # 3 existing + 3 proposals


def test_tier3_rule_with_an_actor_stays_in_their_region(regions, users):
    campaign = CampaignFactory()
    mine = EnterpriseFactory(township=regions["town_a1"])
    theirs = EnterpriseFactory(township=regions["town_a2"])
    for enterprise in (mine, theirs):
        tiers(enterprise, y2021=3, y2022=3)
    with pytest.raises(PermissionDenied):
        services.propose_shutdowns_for_repeated_tier3(2022, campaign, actor=users["reviewer"])
    created = services.propose_shutdowns_for_repeated_tier3(2022, campaign, actor=users["town_a1"])
    assert [c.enterprise_id for c in created] == [mine.pk]
    assert created[0].proposed_by == users["town_a1"]


# --- 五彻底: shutdown not accepted one month after the stop order -----------------------------


def shutdown(regions, campaign, stop_order_on, state=S.IN_PROGRESS, category=Category.SHUTDOWN):
    return ClassificationFactory(
        enterprise=EnterpriseFactory(township=regions["town_a1"]),
        campaign=campaign,
        category=category,
        state=state,
        stop_order_on=stop_order_on,
    )


def test_five_thorough_flag_on_fixed_dates(regions):
    campaign = CampaignFactory()
    end_of_january = shutdown(regions, campaign, D(2021, 1, 31))  # due 2021-02-28
    mid_march = shutdown(regions, campaign, D(2021, 3, 15))  # due 2021-04-15
    accepted = shutdown(regions, campaign, D(2021, 1, 1), state=S.ACCEPTED)
    awaiting = shutdown(regions, campaign, D(2021, 1, 1), state=S.AWAITING_ACCEPTANCE)
    upgrade = shutdown(regions, campaign, D(2021, 1, 1), category=Category.UPGRADE)
    no_order = shutdown(regions, campaign, None)

    assert services.flag_overdue_shutdown_acceptance(D(2021, 2, 28)) == [awaiting.pk]
    assert services.flag_overdue_shutdown_acceptance(D(2021, 3, 1)) == [end_of_january.pk]
    assert services.flag_overdue_shutdown_acceptance(D(2021, 3, 1)) == []
    assert services.flag_overdue_shutdown_acceptance(D(2021, 4, 15)) == []
    assert services.flag_overdue_shutdown_acceptance(D(2021, 4, 16)) == [mid_march.pk]
    assert services.flag_overdue_shutdown_acceptance(D(2021, 12, 31)) == []

    flagged = dict(Classification.objects.values_list("pk", "five_thorough_flagged_on"))
    assert flagged[end_of_january.pk] == D(2021, 3, 1) and flagged[mid_march.pk] == D(2021, 4, 16)
    assert flagged[accepted.pk] is None and flagged[upgrade.pk] is None and flagged[no_order.pk] is None
    steps = ClassificationStep.objects.filter(action=StepAction.FIVE_THOROUGH)
    assert steps.count() == 3
    step = steps.get(classification=end_of_january)
    assert step.details["due_on"] == "2021-02-28" and step.actor is None and step.to_state == S.IN_PROGRESS


def test_corrected_stop_order_is_judged_afresh(regions, users):
    campaign = CampaignFactory()
    c = shutdown(regions, campaign, D(2021, 1, 10))
    assert services.flag_overdue_shutdown_acceptance(D(2021, 3, 1)) == [c.pk]
    services.record_stop_order(c, users["town_a1"], D(2021, 2, 20))
    c.refresh_from_db()
    assert c.five_thorough_flagged_on is None
    assert services.flag_overdue_shutdown_acceptance(D(2021, 3, 1)) == []
    assert services.flag_overdue_shutdown_acceptance(D(2021, 3, 21)) == [c.pk]


# --- overdue tasks -----------------------------------------------------------------------------


def make_tasks(regions, count, deadline=None, state=S.IN_PROGRESS, status=TaskStatus.NOT_STARTED):
    deadline = deadline or D(2021, 6, 30)
    plan = PlanFactory(
        classification__enterprise=EnterpriseFactory(township=regions["town_a1"]), classification__state=state
    )
    return [TaskFactory(plan=plan, deadline=deadline, status=status) for _ in range(count)]


def test_overdue_tasks_set_based_and_idempotent(regions):
    late = make_tasks(regions, 2)
    started = make_tasks(regions, 1, status=TaskStatus.IN_PROGRESS)
    due_today = make_tasks(regions, 1, deadline=D(2021, 7, 1))
    done = make_tasks(regions, 1, status=TaskStatus.DONE)
    closed = make_tasks(regions, 1, status=TaskStatus.VERIFIED_CLOSED)
    superseded = make_tasks(regions, 1, state=S.SUPERSEDED)
    awaiting = make_tasks(regions, 1, state=S.AWAITING_ACCEPTANCE)

    ids = services.mark_overdue_tasks(D(2021, 7, 1))
    assert sorted(ids) == sorted(t.pk for t in late + started)
    statuses = dict(Task.objects.values_list("pk", "status"))
    assert all(statuses[t.pk] == TaskStatus.OVERDUE for t in late + started)
    for group, status in [
        (due_today, TaskStatus.NOT_STARTED),
        (done, TaskStatus.DONE),
        (closed, TaskStatus.VERIFIED_CLOSED),
        (superseded, TaskStatus.NOT_STARTED),
        (awaiting, TaskStatus.NOT_STARTED),
    ]:
        assert statuses[group[0].pk] == status
    assert Task.objects.get(pk=late[0].pk).version == 2
    assert services.mark_overdue_tasks(D(2021, 7, 1)) == []
    assert services.mark_overdue_tasks(D(2021, 7, 2)) == [due_today[0].pk]


def test_overdue_tasks_query_count_does_not_grow(regions):
    make_tasks(regions, 3)
    with CaptureQueriesContext(connection) as few:
        assert len(services.mark_overdue_tasks(D(2021, 7, 1))) == 3
    make_tasks(regions, 40)
    with CaptureQueriesContext(connection) as many:
        assert len(services.mark_overdue_tasks(D(2021, 7, 1))) == 40
    assert len(many) == len(few)
