"""Incremental sync of classifications and tasks: every change exactly once while records change during the
pull (workflow steps, opinions, tasks done, the worker's overdue marks), and deletions as tombstones."""

import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Department
from core.api.sync import parse_since
from core.history import delete_tracked
from rectification import services
from rectification.choices import Category, TaskStatus
from rectification.models import Classification, Task

from .api_support import api_client_for
from .factories import CampaignFactory, EnterpriseFactory
from .test_api_sync import pull

CLASSIFICATIONS = "/api/v1/classifications/"
TASKS = "/api/v1/tasks/"
EPOCH = "2000-01-01T00:00:00+08:00"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.API_SYNC_SETTLE_SECONDS = 5
    cache.clear()


@pytest.fixture
def campaign(db):
    Department.objects.update(reviews_classifications=False)
    return CampaignFactory(name="四个一批 2021-2023")


def stamp(model, pks, moment):
    """Set updated_at as a committed write at `moment` would have (auto_now cannot be told the time)."""
    model.objects.filter(pk__in=pks).update(updated_at=moment)


def in_progress(enterprise, campaign, users):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    services.forward_to_city(c, users["county_a"])
    services.approve_classification(c, users["city"])
    return c


def assert_exact_mirror(rows, queryset):
    seen = [(row["id"], row["version"]) for row in rows]
    assert len(seen) == len(set(seen)), "a change was sent twice"
    mirror = {row["id"]: row for row in rows}
    assert set(mirror) == set(queryset.values_list("pk", flat=True)), "a record was missed"
    for record in queryset:
        assert mirror[record.pk]["version"] == record.version
    keys = [(parse_since(row["updated_at"]), row["id"]) for row in rows]
    assert keys == sorted(keys)
    return mirror


def test_classification_sync_during_workflow_steps(regions, users, campaign):
    _c, _t, http = api_client_for(regions["county_a"])
    proposals = [
        services.propose_classification(
            EnterpriseFactory(township=regions["town_a1"]), campaign, Category.SHUTDOWN, users["town_a1"]
        )
        for _index in range(10)
    ]
    base = timezone.now() - datetime.timedelta(hours=1)
    for index, c in enumerate(proposals):
        stamp(Classification, [c.pk], base + datetime.timedelta(minutes=index // 2 * 2))
    already, not_yet = proposals[1], proposals[8]

    def step_during_the_pull(page):
        if page != 2:
            return
        for c in (already, not_yet):
            c.refresh_from_db()
            services.submit_classification(c, users["county_a"])
            stamp(Classification, [c.pk], timezone.now() - datetime.timedelta(seconds=10))

    rows = pull(http, CLASSIFICATIONS, {"updated_since": EPOCH, "page_size": 3}, on_page=step_during_the_pull)
    mirror = assert_exact_mirror(rows, Classification.objects.all())
    assert [row["state"] for row in rows if row["id"] == not_yet.pk] == ["reviewed"]
    assert [row["state"] for row in rows if row["id"] == already.pk] == ["proposed", "reviewed"]
    assert [s["action"] for s in mirror[already.pk]["steps"]] == ["propose", "submit", "review_complete"]
    last = rows[-1]["updated_at"]
    assert pull(http, CLASSIFICATIONS, {"updated_since": last}) == []


def test_an_opinion_alone_brings_the_classification_back(regions, users, campaign):
    first, second = Department.objects.all()[:2]
    Department.objects.filter(pk__in=[first.pk, second.pk]).update(reviews_classifications=True)
    first.refresh_from_db()
    reviewer = users["reviewer"]
    reviewer.department = first
    reviewer.save()
    c = services.propose_classification(
        EnterpriseFactory(township=regions["town_a1"]), campaign, Category.UPGRADE, users["town_a1"]
    )
    services.submit_classification(c, users["county_a"])
    stamp(Classification, [c.pk], timezone.now() - datetime.timedelta(minutes=5))
    _c, _t, http = api_client_for(regions["county_a"])
    [row] = pull(http, CLASSIFICATIONS, {"updated_since": EPOCH})
    services.give_opinion(c, reviewer, "agree")
    stamp(Classification, [c.pk], timezone.now() - datetime.timedelta(seconds=6))
    [again] = pull(http, CLASSIFICATIONS, {"updated_since": row["updated_at"]})
    assert again["state"] == "under_review" and again["version"] > row["version"]
    assert again["steps"][-1]["action"] == "opinion"


def test_task_sync_during_progress_and_the_overdue_rule(regions, users, campaign, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    for _index in range(3):
        in_progress(EnterpriseFactory(township=regions["town_a1"]), campaign, users)
    tasks = list(Task.objects.order_by("pk"))
    assert len(tasks) == 12
    base = timezone.now() - datetime.timedelta(hours=1)
    for index, task in enumerate(tasks):
        stamp(Task, [task.pk], base + datetime.timedelta(minutes=index))
    _c, _t, http = api_client_for(regions["county_a"])
    done_early, done_late = tasks[0], tasks[11]

    def work_during_the_pull(page):
        if page != 2:
            return
        for task in (done_early, done_late):
            services.mark_task_done(task, users["town_a1"], completed_on=datetime.date(2021, 6, 1), note="完成")
            stamp(Task, [task.pk], timezone.now() - datetime.timedelta(seconds=20))
        # The worker's set-based rule changes every other open task at once (deadline 2023-12-31 has passed).
        changed = services.mark_overdue_tasks(datetime.date.today())
        assert len(changed) == 10
        stamp(Task, changed, timezone.now() - datetime.timedelta(seconds=10))

    rows = pull(http, TASKS, {"updated_since": EPOCH, "page_size": 4}, on_page=work_during_the_pull)
    mirror = assert_exact_mirror(rows, Task.objects.all())
    assert mirror[done_early.pk]["status"] == "done" and mirror[done_late.pk]["status"] == "done"
    assert [row["status"] for row in rows if row["id"] == done_late.pk] == ["done"]
    assert sum(1 for row in mirror.values() if row["status"] == TaskStatus.OVERDUE) == 10


def test_task_and_classification_deletions_reach_the_sync(regions, users, campaign, settings):
    settings.API_SYNC_SETTLE_SECONDS = 0
    a1 = EnterpriseFactory(township=regions["town_a1"])
    c = in_progress(a1, campaign, users)
    plan = c.plan
    extra = services.add_task(plan, users["county_a"], "补充措施", datetime.date(2023, 6, 30))
    _c, _t, county = api_client_for(regions["county_a"])
    _c, _t, other = api_client_for(regions["county_b"])
    before = timezone.now()
    services.delete_task(extra, users["county_a"], reason="重复")
    [tombstone] = pull(county, TASKS + "deleted/", {"updated_since": before.isoformat()})
    assert tombstone["id"] == extra.pk and tombstone["description"] == "补充措施" and tombstone["reason"] == "deleted"
    assert pull(other, TASKS + "deleted/", {"updated_since": EPOCH}) == []
    # Deleting the enterprise takes its classification and tasks along: tombstones for each, in its region.
    task_ids = set(Task.objects.filter(plan=plan).values_list("pk", flat=True))
    enterprise_id = a1.pk
    delete_tracked(a1, actor=users["city"], reason="注销")
    [gone] = pull(county, CLASSIFICATIONS + "deleted/", {"updated_since": before.isoformat()})
    assert gone["id"] == c.pk and gone["enterprise_id"] == str(enterprise_id)
    assert pull(other, CLASSIFICATIONS + "deleted/", {"updated_since": EPOCH}) == []
    assert pull(county, CLASSIFICATIONS, {"updated_since": EPOCH}) == []
    # Tasks deleted with their enterprise: the city's tombstones list them ...
    _c, _t, city = api_client_for(regions["city"])
    deleted_tasks = {row["id"] for row in pull(city, TASKS + "deleted/", {"updated_since": before.isoformat()})}
    assert {extra.pk} | task_ids <= deleted_tasks
    # ... and so does the county's, from the history of the plan, classification and enterprise now gone.
    in_county = {row["id"] for row in pull(county, TASKS + "deleted/", {"updated_since": before.isoformat()})}
    assert in_county == {extra.pk} | task_ids
    assert pull(other, TASKS + "deleted/", {"updated_since": EPOCH}) == []
    assert pull(county, TASKS, {"updated_since": EPOCH}) == []


def test_cancelled_inspection_reaches_the_inspection_tombstones(regions, users, settings):
    from inspections import services as inspection_services

    settings.API_SYNC_SETTLE_SECONDS = 0
    enterprise = EnterpriseFactory(township=regions["town_a2"])
    planned = inspection_services.plan_inspection(
        actor=users["county_a"], kind="daily", planned_on=datetime.date.today(), enterprise=enterprise
    )
    _c, _t, county = api_client_for(regions["county_a"])
    _c, _t, other = api_client_for(regions["county_b"])
    before = timezone.now()
    [row] = pull(county, "/api/v1/inspections/", {"updated_since": EPOCH})
    assert row["id"] == planned.pk and row["status"] == "planned"
    inspection_services.cancel_planned_inspection(inspection=planned, actor=users["county_a"], reason="改期")
    [tombstone] = pull(county, "/api/v1/inspections/deleted/", {"updated_since": before.isoformat()})
    assert tombstone["id"] == planned.pk and tombstone["kind"] == "daily" and tombstone["reason"] == "deleted"
    assert pull(other, "/api/v1/inspections/deleted/", {"updated_since": EPOCH}) == []
    assert pull(county, "/api/v1/inspections/", {"updated_since": EPOCH}) == []
