"""The work queue ("what waits for me") by role, the badge in the navigation, and their fixed query cost."""

import datetime

import pytest
from django.conf import settings
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from accounts.models import Department
from core.context_processors import queue_counts
from inspections import services as inspection_services
from inspections.choices import FindingStatus
from rectification import services
from rectification.choices import Category, ClassificationState, TaskStatus
from rectification.models import Task

from .factories import (
    CampaignFactory,
    ClassificationFactory,
    EnterpriseFactory,
    FindingFactory,
    PlanFactory,
    TaskFactory,
    UserFactory,
)
from .test_query_counts import check_against_baseline

QUEUE = reverse("work_queue")
DAY = datetime.date(2021, 6, 1)


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return as_user


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批 2021-2023")


@pytest.fixture
def reviewer(regions):
    """A reviewer of one pre-review department (the five default departments review)."""
    department = Department.objects.filter(reviews_classifications=True).order_by("pk").first()
    return UserFactory(username="reviewer_dept", role=Role.REVIEWER, region=regions["city"], department=department)


def sections(response) -> dict:
    assert response.status_code == 200
    shown = [*response.context["sections"], *response.context["follow_up"]]
    return {section.spec.key: section for section in shown}


def enterprise_names(section) -> list:
    return sorted(row.enterprise.name for row in section.rows)


def propose(regions, users, campaign, name, township="town_a1"):
    enterprise = EnterpriseFactory(township=regions[township], name=name)
    actor = users[township] if township in users else users["city"]
    return services.propose_classification(enterprise, campaign, Category.SHUTDOWN, actor)


def test_county_sees_its_proposals_to_submit(login, regions, users, campaign):
    propose(regions, users, campaign, "甲一化工")
    propose(regions, users, campaign, "乙县化工", township="town_b1")
    response = login(users["county_a"]).get(QUEUE)
    queue = sections(response)
    assert queue["to_submit"].count == 1 and enterprise_names(queue["to_submit"]) == ["甲一化工"]
    assert "opinions_to_give" not in queue and "to_approve" not in queue
    assert response.context["nav_queue"].counts["to_submit"] == 1
    assert 'data-testid="nav-queue-count"' in response.content.decode()


def test_reviewer_sees_the_opinions_its_department_still_owes(login, regions, users, campaign, reviewer):
    first = propose(regions, users, campaign, "甲一化工")
    second = propose(regions, users, campaign, "甲二化工", township="town_a2")
    services.submit_classification(first, users["county_a"])
    services.submit_classification(second, users["county_a"])
    services.give_opinion(second, reviewer, "agree")

    queue = sections(login(reviewer).get(QUEUE))
    assert list(queue) == ["opinions_to_give", "findings_to_verify", "findings_due", "planned_inspections"]
    assert enterprise_names(queue["opinions_to_give"]) == ["甲一化工"]
    # The reviewer without a department has nothing to give.
    assert sections(login(users["reviewer"]).get(QUEUE))["opinions_to_give"].count == 0


@pytest.fixture
def no_prereview(db):
    Department.objects.update(reviews_classifications=False)


def test_city_sees_classifications_to_approve(login, regions, users, campaign, no_prereview):
    classification = propose(regions, users, campaign, "甲一化工")
    services.submit_classification(classification, users["county_a"])
    assert sections(login(users["city"]).get(QUEUE))["to_approve"].count == 0
    services.forward_to_city(classification, users["county_a"])
    queue = sections(login(users["city"]).get(QUEUE))
    assert enterprise_names(queue["to_approve"]) == ["甲一化工"]
    assert "to_submit" not in queue and "tasks_due" in queue


def test_township_sees_its_tasks_due_or_overdue(login, regions, users):
    today = timezone.localdate()
    mine = PlanFactory(classification__enterprise=EnterpriseFactory(township=regions["town_a1"]))
    TaskFactory(plan=mine, description="逾期任务", deadline=today - datetime.timedelta(days=3), status="overdue")
    TaskFactory(plan=mine, description="本周到期", deadline=today + datetime.timedelta(days=5))
    TaskFactory(plan=mine, description="下月到期", deadline=today + datetime.timedelta(days=40))
    TaskFactory(plan=mine, description="已完成", deadline=today, status="done", done_by=users["town_a1"])
    other = PlanFactory(classification__enterprise=EnterpriseFactory(township=regions["town_a2"]))
    TaskFactory(plan=other, description="别的镇", deadline=today)

    response = login(users["town_a1"]).get(QUEUE)
    queue = sections(response)
    assert sorted(task.description for task in queue["tasks_due"].rows) == ["本周到期", "逾期任务"]
    assert queue["tasks_due"].count == 2
    assert "tasks_to_verify" not in queue  # townships do not verify tasks
    assert response.context["nav_queue"].total == response.context["total"] == 2


def test_verifiers_see_what_others_did_not_their_own(login, regions, users, campaign):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    plan = PlanFactory(classification__enterprise=enterprise)
    TaskFactory(plan=plan, description="镇里完成", status="done", done_by=users["town_a1"], completed_on=DAY)
    TaskFactory(plan=plan, description="县里完成", status="done", done_by=users["county_a"], completed_on=DAY)
    finding = inspection_services.record_finding(
        actor=users["town_a1"], enterprise=enterprise, area="land", description="违规占地"
    )
    inspection_services.submit_fix(finding=finding, actor=users["town_a1"], note="已拆除")
    second = UserFactory(username="town_a1_b", role=Role.TOWNSHIP, region=regions["town_a1"])

    county = sections(login(users["county_a"]).get(QUEUE))
    assert [task.description for task in county["tasks_to_verify"].rows] == ["镇里完成"]
    assert [f.description for f in county["findings_to_verify"].rows] == ["违规占地"]
    assert sections(login(users["town_a1"]).get(QUEUE))["findings_to_verify"].count == 0
    colleague = sections(login(second).get(QUEUE))
    assert [f.description for f in colleague["findings_to_verify"].rows] == ["违规占地"]
    assert sections(login(users["town_a2"]).get(QUEUE))["findings_to_verify"].count == 0


def test_sections_are_capped_with_a_link_to_see_all(login, regions, users, campaign):
    for index in range(12):
        ClassificationFactory(
            enterprise=EnterpriseFactory(township=regions["town_a1"], name=f"企业{index:02d}"),
            campaign=campaign,
            category=Category.SHUTDOWN,
        )
    client = login(users["county_a"])
    response = client.get(QUEUE)
    section = sections(response)["to_submit"]
    assert (section.count, len(section.rows), section.more) == (12, 10, True)
    assert 'data-testid="see-all-to_submit"' in response.content.decode()
    page = client.get(QUEUE, {"show": "to_submit"}).context["page_obj"]
    assert page.paginator.count == 12 and len(page.object_list) == 12
    assert client.get(QUEUE, {"show": "to_approve"}).status_code == 404  # not a county's section
    assert client.get(QUEUE, {"show": "nonsense"}).status_code == 404


def test_acceptances_link_to_the_acceptance_page(login, regions, users, campaign):
    classification = ClassificationFactory(
        enterprise=EnterpriseFactory(township=regions["town_a1"]),
        campaign=campaign,
        state=ClassificationState.AWAITING_ACCEPTANCE,
    )
    page = login(users["county_a"]).get(QUEUE).content.decode()
    assert reverse("inspections:acceptance", kwargs={"classification_pk": classification.pk}) in page


def test_navigation_links_follow_the_role(login, users):
    page = login(users["county_a"]).get(reverse("home")).content.decode()
    assert reverse("inspections:list") in page and reverse("inspections:finding_list") in page
    assert 'data-testid="nav-queue"' in page
    assert ">Campaigns</a>" in page  # rectification's campaign list


# --- Query cost -------------------------------------------------------------------------------------


def fill_queue(regions, users, campaign, count):
    """`count` items in each of several sections of county A's work queue."""
    today = timezone.localdate()
    for _index in range(count):
        enterprise = EnterpriseFactory(township=regions["town_a1"])
        ClassificationFactory(enterprise=enterprise, campaign=campaign, category=Category.SHUTDOWN)
        ClassificationFactory(
            enterprise=EnterpriseFactory(township=regions["town_a2"]),
            campaign=campaign,
            state=ClassificationState.AWAITING_ACCEPTANCE,
        )
        plan = PlanFactory(classification__enterprise=enterprise, classification__campaign=CampaignFactory())
        TaskFactory(plan=plan, deadline=today - datetime.timedelta(days=1), status=TaskStatus.OVERDUE)
        TaskFactory(plan=plan, deadline=today, status=TaskStatus.DONE, done_by=users["town_a1"], completed_on=today)
        FindingFactory(
            enterprise=enterprise,
            status=FindingStatus.AWAITING_VERIFICATION,
            fixed_by=users["town_a1"],
            fixed_at=timezone.now(),
        )
        FindingFactory(enterprise=enterprise, deadline=today - datetime.timedelta(days=2))
        inspection_services.plan_inspection(
            actor=users["county_a"], kind="daily", planned_on=today, enterprise=enterprise
        )


def count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("username", ["county_a", "town_a1", "city"])
def test_work_queue_costs_the_same_whatever_the_number_of_items(login, regions, users, campaign, username):
    client = login(users[username])
    fill_queue(regions, users, campaign, 2)
    few = count_queries(client, QUEUE)
    fill_queue(regions, users, campaign, 12)
    many = count_queries(client, QUEUE)
    assert few == many, f"{few} queries with few items, {many} with many: a query per row"
    assert Task.objects.count() == 28
    response = client.get(QUEUE)
    assert response.context["total"] == response.context["nav_queue"].total > 0
    check_against_baseline(f"work_queue_{username}", many)
    if username == "county_a":
        count_queries(client, QUEUE, {"show": "tasks_due"})
        check_against_baseline("work_queue_section", count_queries(client, QUEUE, {"show": "tasks_due"}))


def test_the_navigation_badge_costs_three_queries_at_most(regions, users, campaign):
    fill_queue(regions, users, campaign, 3)
    for user in users.values():
        request = RequestFactory().get("/")
        request.user = user
        user.region  # noqa: B018 — loaded by the session middleware on a real request
        with CaptureQueriesContext(connection) as context:
            counts = queue_counts(request)
            queue_counts(request)  # computed once per request
        assert len(context.captured_queries) <= 3, (user.username, [q["sql"] for q in context.captured_queries])
    request.user = users["county_a"]
    del request._queue_counts
    counts = queue_counts(request)
    assert (counts["to_submit"], counts["to_accept"], counts["tasks_due"], counts["tasks_to_verify"]) == (3, 3, 3, 3)
    assert counts["findings_to_verify"] == 3


def test_pages_with_the_badge_cost_the_same_whatever_the_queue(login, regions, users, campaign):
    client = login(users["county_a"])
    fill_queue(regions, users, campaign, 1)
    few = count_queries(client, reverse("inspections:finding_list"))
    fill_queue(regions, users, campaign, 8)
    assert count_queries(client, reverse("inspections:finding_list")) == few
    check_against_baseline("finding_list", few)
    few = count_queries(client, reverse("inspections:list"))
    fill_queue(regions, users, campaign, 4)
    assert count_queries(client, reverse("inspections:list")) == few
    check_against_baseline("inspection_list", few)
