"""API rectification and inspection resources: campaigns, targets, classifications (with the workflow timeline),
tasks, inspections, findings — list, detail, filters, scoping, writes through the services and workflow rules
(bilingual refusals, history attributed to the client, optimistic concurrency), enterprise classifications."""

import datetime

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.models import Department
from inspections.models import Finding
from rectification import services
from rectification.choices import CampaignKind, CampaignStatus, Category, ClassificationState, StepAction, TaskStatus
from rectification.models import Classification, ClassificationStep, Task
from rectification.selectors import classification_dossier

from .api_support import api_client_for
from .factories import (
    CampaignFactory,
    ChemicalParkFactory,
    EnterpriseFactory,
    FindingFactory,
    InspectionFactory,
    TargetFactory,
)
from .test_query_counts import check_against_baseline

V1 = "/api/v1/"
S = ClassificationState
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def no_prereview(db):
    """Without pre-review departments a submission completes its review at once."""
    Department.objects.update(reviews_classifications=False)


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批 2021-2023")


@pytest.fixture
def world(regions, users, campaign):
    """Enterprises in A1, A2 and B1: A1's upgrade in progress (with its plan), A2 proposed, B1 a shutdown proposal."""
    park = ChemicalParkFactory(code="P-EAST", name="东部化工园", township=regions["town_a1"])
    a1 = EnterpriseFactory(township=regions["town_a1"], park=park, name="甲一化工")
    a2 = EnterpriseFactory(township=regions["town_a2"], name="甲二化工")
    b1 = EnterpriseFactory(township=regions["town_b1"], name="乙一化工")
    Department.objects.update(reviews_classifications=False)
    c1 = services.propose_classification(
        a1, campaign, Category.UPGRADE, users["town_a1"], deadline=datetime.date(2022, 6, 30)
    )
    services.submit_classification(c1, users["county_a"])
    services.forward_to_city(c1, users["county_a"])
    services.approve_classification(c1, users["city"])
    c2 = services.propose_classification(a2, campaign, Category.SHUTDOWN, users["town_a2"])
    county_b = EnterpriseFactory(township=regions["town_b1"], name="乙一另厂")
    c3 = services.propose_classification(b1, campaign, Category.SHUTDOWN, users["city"], problems="手续不全")
    TargetFactory(campaign=campaign, region=regions["town_a1"], shutdown=3, upgrade=2)
    TargetFactory(campaign=campaign, region=regions["town_b1"], shutdown=5)
    i1 = InspectionFactory(enterprise=a1, kind="daily")
    ib = InspectionFactory(enterprise=b1, kind="quarterly_joint")
    f1 = FindingFactory(enterprise=a1, inspection=i1, severity="major", deadline=datetime.date(2021, 1, 1))
    fb = FindingFactory(enterprise=b1, inspection=ib)
    return {
        "park": park,
        "a1": a1,
        "a2": a2,
        "b1": b1,
        "b1_other": county_b,
        "c1": Classification.objects.get(pk=c1.pk),
        "c2": c2,
        "c3": c3,
        "i1": i1,
        "ib": ib,
        "f1": f1,
        "fb": fb,
    }


def zh(label) -> str:
    with translation.override("zh-hans"):
        return str(label)


def get(http, url, params=None, status=200):
    response = http.get(url, params or {})
    assert response.status_code == status, response.content[:800]
    return response.json()


def ids(body):
    return sorted(row["id"] for row in body["results"])


# --- Reading --------------------------------------------------------------------------------------------


def test_campaigns_and_targets(regions, world, campaign):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, V1 + "campaigns/")
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["name"], row["kind"], row["kind_display"], row["status"]) == (
        "四个一批 2021-2023",
        "four_batches",
        zh(CampaignKind.FOUR_BATCHES.label),
        "active",
    )
    assert row["status_display"] == zh(CampaignStatus.ACTIVE.label) != "Active"
    assert row["starts_on"] == "2021-01-01" and row["version"] == 1
    targets = get(county, V1 + "targets/")
    assert [t["region_code"] for t in targets["results"]] == ["320501001"]  # B1's target is outside county A
    assert targets["results"][0]["shutdown"] == 3 and targets["results"][0]["campaign"]["id"] == campaign.pk
    _c, _t, city = api_client_for(regions["city"])
    assert len(get(city, V1 + "targets/", {"region": "320502"})["results"]) == 1


def test_classification_list_detail_and_filters(regions, world, campaign):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, V1 + "classifications/")
    assert ids(body) == sorted([world["c1"].pk, world["c2"].pk])  # B1's is in county B
    detail = get(county, f"{V1}classifications/{world['c1'].pk}/")
    assert (detail["category"], detail["category_display"]) == ("upgrade", zh(Category.UPGRADE.label))
    assert detail["state_display"] == zh(S.IN_PROGRESS.label) != "Rectification in progress"
    assert detail["state"] == "in_progress" and detail["is_current"] is True
    assert detail["enterprise"]["uscc"] == world["a1"].uscc and detail["region_code"] == "320501001"
    assert detail["campaign"] == {"id": campaign.pk, "name": "四个一批 2021-2023"}
    assert detail["deadline"] == "2022-06-30"
    assert [s["action"] for s in detail["steps"]] == [
        "propose",
        "submit",
        "review_complete",
        "forward",
        "approve",
        "start",
    ]
    assert detail["steps"][0]["actor"] and detail["steps"][0]["from_state"] is None
    assert detail["updated_at"].endswith("+08:00")
    assert ids(get(county, V1 + "classifications/", {"category": "shutdown"})) == [world["c2"].pk]
    assert ids(get(county, V1 + "classifications/", {"state": "in_progress"})) == [world["c1"].pk]
    assert ids(get(county, V1 + "classifications/", {"region": "320501002"})) == [world["c2"].pk]
    assert ids(get(county, V1 + "classifications/", {"park": "P-EAST"})) == [world["c1"].pk]
    assert ids(get(county, V1 + "classifications/", {"enterprise": world["a2"].uscc})) == [world["c2"].pk]
    assert ids(get(county, V1 + "classifications/", {"search": "甲二"})) == [world["c2"].pk]
    assert ids(get(county, V1 + "classifications/", {"campaign": campaign.pk + 100})) == []
    assert ids(get(county, V1 + "classifications/", {"deadline_before": "2022-12-31"})) == [world["c1"].pk]
    assert ids(get(county, V1 + "classifications/", {"overdue": "true"})) == []
    Task.objects.filter(plan__classification=world["c1"]).update(status=TaskStatus.OVERDUE)
    assert ids(get(county, V1 + "classifications/", {"overdue": "true"})) == [world["c1"].pk]
    bad = get(county, V1 + "classifications/", {"state": "nonsense"}, status=400)
    assert (
        "state" in bad["errors"] and bad["errors"]["state"][0]["message_zh"] and bad["errors"]["state"][0]["message_en"]
    )


def test_tasks_list_detail_filters(regions, world):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, V1 + "tasks/")
    tasks = list(Task.objects.filter(plan__classification=world["c1"]).order_by("order"))
    assert body["count"] == len(tasks) == 4
    task = get(county, f"{V1}tasks/{tasks[0].pk}/")
    assert task["classification"] == world["c1"].pk and task["category"] == "upgrade"
    assert task["standard_item"] == "retrofit_done" and task["status"] == "not_started" and task["overdue"] is False
    assert task["lead_region_code"] == "320501001" and task["lead_unit"] == "甲一镇" and task["evidence"] == []
    assert task["deadline"] == "2022-06-30" and task["region_code"] == "320501001"
    assert get(county, V1 + "tasks/", {"overdue": "true"})["count"] == 4  # deadline 2022 has passed, not done
    assert get(county, V1 + "tasks/", {"status": "done"})["count"] == 0
    assert get(county, V1 + "tasks/", {"region": "320501002"})["count"] == 0
    assert (
        get(county, V1 + "tasks/", {"enterprise": world["a1"].uscc, "standard_item": "expert_acceptance"})["count"] == 1
    )
    assert get(county, V1 + "tasks/", {"deadline_after": "2023-01-01"})["count"] == 0


def test_inspections_and_findings(regions, world):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, V1 + "inspections/")
    assert ids(body) == [world["i1"].pk]
    detail = get(county, f"{V1}inspections/{world['i1'].pk}/")
    assert (detail["kind"], detail["status"], detail["result"]) == ("daily", "done", "issues_found")
    assert detail["enterprise"]["uscc"] == world["a1"].uscc and detail["region_code"] == "320501001"
    assert ids(get(county, V1 + "inspections/", {"kind": "quarterly_joint"})) == []
    assert ids(get(county, V1 + "inspections/", {"park": "P-EAST"})) == [world["i1"].pk]
    findings = get(county, V1 + "findings/")
    assert ids(findings) == [world["f1"].pk]
    finding = get(county, f"{V1}findings/{world['f1'].pk}/")
    assert (finding["severity"], finding["status"], finding["inspection"]) == ("major", "open", world["i1"].pk)
    assert finding["overdue"] is False  # not marked by the deadline check yet
    from inspections.services import mark_overdue_findings

    mark_overdue_findings(datetime.date(2021, 2, 1))
    assert ids(get(county, V1 + "findings/", {"overdue": "true"})) == [world["f1"].pk]
    after = get(county, f"{V1}findings/{world['f1'].pk}/")
    assert after["overdue"] is True and after["version"] == finding["version"] + 1
    assert ids(get(county, V1 + "findings/", {"severity": "general"})) == []
    assert ids(get(county, V1 + "findings/", {"search": "甲一"})) == [world["f1"].pk]


def test_township_token_gets_404_for_another_townships_records(regions, world):
    _c, _t, town_a2 = api_client_for(regions["town_a2"])
    task = Task.objects.filter(plan__classification=world["c1"]).first()
    for url in (
        f"{V1}classifications/{world['c1'].pk}/",
        f"{V1}tasks/{task.pk}/",
        f"{V1}inspections/{world['i1'].pk}/",
        f"{V1}findings/{world['f1'].pk}/",
    ):
        body = get(town_a2, url, status=404)
        assert body["code"] == "not_found" and body["detail_zh"] and body["detail_en"]
    assert ids(get(town_a2, V1 + "classifications/")) == [world["c2"].pk]
    _c, _t, writer = api_client_for(regions["town_a2"], write=True)
    response = writer.post(f"{V1}tasks/{task.pk}/done/", {"completed_on": "2021-06-01"}, format="json")
    assert response.status_code == 404


# --- Enterprise classifications ------------------------------------------------------------------------


def test_enterprise_carries_its_classifications_and_sync_sees_a_change(regions, users, world, campaign, settings):
    settings.API_SYNC_SETTLE_SECONDS = 0
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, f"{V1}enterprises/{world['a1'].uscc}/")
    assert body["classifications"] == [
        {
            "id": world["c1"].pk,
            "campaign": {"id": campaign.pk, "name": "四个一批 2021-2023"},
            "category": "upgrade",
            "category_display": body["classifications"][0]["category_display"],
            "state": "in_progress",
            "state_display": body["classifications"][0]["state_display"],
            "deadline": "2022-06-30",
        }
    ]
    assert body["classifications"][0]["category_display"] == zh(Category.UPGRADE.label) != "Upgrade"
    mark = body["updated_at"]
    before = body["version"]
    # A workflow step on A2's classification changes A2 only.
    services.submit_classification(world["c2"], users["county_a"])
    changed = get(county, V1 + "enterprises/", {"updated_since": mark})
    assert [row["uscc"] for row in changed["results"]] == [world["a2"].uscc]
    assert changed["results"][0]["classifications"][0]["state"] == "reviewed"
    assert get(county, f"{V1}enterprises/{world['a1'].uscc}/")["version"] == before


# --- Writes ---------------------------------------------------------------------------------------------


@pytest.fixture
def reviewing_world(regions, users, campaign):
    """A1's proposal under pre-review by two departments; a write client speaking for the first of them."""
    Department.objects.update(reviews_classifications=False)
    first, second = Department.objects.all()[:2]
    Department.objects.filter(pk__in=[first.pk, second.pk]).update(reviews_classifications=True)
    a1 = EnterpriseFactory(township=regions["town_a1"], name="甲一化工")
    c = services.propose_classification(a1, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    client, _t, http = api_client_for(regions["county_a"], write=True, name="省化工整治平台")
    client.user.department = first
    client.user.save()
    return {"c": c, "first": first, "second": second, "client": client, "http": http}


def test_opinion_via_api_appears_in_the_dossier_attributed_to_the_client(reviewing_world, users):
    c, http = reviewing_world["c"], reviewing_world["http"]
    response = http.post(
        f"{V1}classifications/{c.pk}/opinion/",
        {"opinion": "agree_with_changes", "comment": "补充搬迁方案"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    opinion = body["steps"][-1]
    assert (opinion["action"], opinion["opinion"], opinion["comment"]) == (
        "opinion",
        "agree_with_changes",
        "补充搬迁方案",
    )
    assert opinion["actor"] == "省化工整治平台" and opinion["department"]["id"] == reviewing_world["first"].pk
    assert body["state"] == "under_review" and response["ETag"] == f'"{body["version"]}"'
    step = ClassificationStep.objects.get(classification=c, action=StepAction.OPINION)
    assert step.actor == reviewing_world["client"].user
    [section] = classification_dossier(c.enterprise, users["city"])
    assert any(
        s.action == StepAction.OPINION and s.actor.first_name == "省化工整治平台" for s in section.current.timeline
    )
    # The same department again: refused, in both languages, nothing written.
    again = http.post(f"{V1}classifications/{c.pk}/opinion/", {"opinion": "agree"}, format="json")
    assert again.status_code == 400
    refusal = again.json()
    message = refusal["errors"]["non_field_errors"][0]
    assert "已" in message["message_zh"] and "already" in message["message_en"]
    assert ClassificationStep.objects.filter(classification=c, action=StepAction.OPINION).count() == 1


def test_opinion_needs_a_comment_unless_agree(reviewing_world):
    c, http = reviewing_world["c"], reviewing_world["http"]
    response = http.post(f"{V1}classifications/{c.pk}/opinion/", {"opinion": "disagree"}, format="json")
    assert response.status_code == 400
    [error] = response.json()["errors"]["comment"]
    assert error["message_zh"] != error["message_en"] and "disagree" in error["message_en"]


def test_workflow_refusals_wrong_role_and_wrong_state(reviewing_world):
    c, http = reviewing_world["c"], reviewing_world["http"]
    # Wrong role: an API client does not approve (the city office does).
    response = http.post(f"{V1}classifications/{c.pk}/steps/", {"action": "approve"}, format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "permission_denied" and "city" in body["detail_en"] and "市" in body["detail_zh"]
    # Wrong state: acceptance cannot be requested of a classification under pre-review.
    response = http.post(f"{V1}classifications/{c.pk}/steps/", {"action": "request_acceptance"}, format="json")
    assert response.status_code == 400
    [error] = response.json()["errors"]["non_field_errors"]
    assert "not possible" in error["message_en"] and error["message_zh"] != error["message_en"]
    # Unknown action: named as a field error.
    response = http.post(f"{V1}classifications/{c.pk}/steps/", {"action": "teleport"}, format="json")
    assert response.status_code == 400 and "action" in response.json()["errors"]
    c.refresh_from_db()
    assert c.state == S.UNDER_REVIEW


def test_steps_through_the_transitions_for_a_person_session(regions, users, campaign, no_prereview, client):
    a1 = EnterpriseFactory(township=regions["town_a1"])
    c = services.propose_classification(a1, campaign, Category.SHUTDOWN, users["town_a1"])
    client.force_login(users["county_a"])
    response = client.post(
        f"{V1}classifications/{c.pk}/steps/", {"action": "submit", "comment": "报送"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "reviewed"
    response = client.post(f"{V1}classifications/{c.pk}/steps/", {"action": "forward"}, content_type="application/json")
    assert response.json()["state"] == "pending_approval"
    assert [s["action"] for s in response.json()["steps"]] == ["propose", "submit", "review_complete", "forward"]


def test_read_only_token_refused_on_writes(regions, world):
    _c, _t, reader = api_client_for(regions["county_a"])
    task = Task.objects.filter(plan__classification=world["c1"]).first()
    for url, data in (
        (f"{V1}classifications/{world['c2'].pk}/opinion/", {"opinion": "agree"}),
        (f"{V1}classifications/{world['c2'].pk}/steps/", {"action": "submit"}),
        (f"{V1}tasks/{task.pk}/done/", {"completed_on": "2021-06-01"}),
        (f"{V1}findings/", {"enterprise": world["a1"].uscc, "area": "land", "description": "占地"}),
    ):
        response = reader.post(url, data, format="json")
        assert response.status_code == 403, url
        assert response.json()["code"] == "read_only"
    assert reader.patch(f"{V1}findings/{world['f1'].pk}/", {"description": "x"}, format="json").status_code == 403


def test_task_done_with_evidence_multipart(regions, world, media):
    task = Task.objects.filter(plan__classification=world["c1"]).order_by("order").first()
    client, _t, writer = api_client_for(regions["town_a1"], write=True, name="乡镇网格系统")
    response = writer.post(
        f"{V1}tasks/{task.pk}/done/",
        {
            "completed_on": "2021-06-01",
            "note": "已完成密闭化改造",
            "evidence": [
                SimpleUploadedFile("现场照片.png", PNG, content_type="image/png"),
                SimpleUploadedFile("验收.png", PNG, content_type="image/png"),
            ],
            "version": str(task.version),
        },
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["completed_on"], body["note"]) == ("done", "2021-06-01", "已完成密闭化改造")
    assert sorted(e["name"] for e in body["evidence"]) == ["现场照片.png", "验收.png"]
    assert body["done_by"] == "乡镇网格系统" and body["version"] == task.version + 1
    task.refresh_from_db()
    assert task.done_by == client.user and task.evidence.count() == 2
    assert task.history.first().history_user == client.user


def test_task_done_refusals(regions, world, media):
    task = Task.objects.filter(plan__classification=world["c1"]).order_by("order").first()
    _c, _t, writer = api_client_for(regions["town_a1"], write=True)
    # A file whose content is not what its name says: refused, nothing stored.
    response = writer.post(
        f"{V1}tasks/{task.pk}/done/",
        {"completed_on": "2021-06-01", "evidence": [SimpleUploadedFile("照片.png", b"MZ not an image")]},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert "evidence" in response.json()["errors"]
    future = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    response = writer.post(f"{V1}tasks/{task.pk}/done/", {"completed_on": future}, format="json")
    assert response.status_code == 400 and "completed_on" in response.json()["errors"]
    task.refresh_from_db()
    assert task.status == TaskStatus.NOT_STARTED and task.evidence.count() == 0


def test_stale_version_gets_409(regions, world, users):
    task = Task.objects.filter(plan__classification=world["c1"]).order_by("order").first()
    _c, _t, writer = api_client_for(regions["county_a"], write=True)
    stale = task.version
    services.update_task(task, users["county_a"], responsible_person="张三")
    response = writer.post(
        f"{V1}tasks/{task.pk}/done/", {"completed_on": "2021-06-01"}, format="json", HTTP_IF_MATCH=f'"{stale}"'
    )
    assert response.status_code == 409
    body = response.json()
    assert body["current_version"] == stale + 1 and body["detail_zh"] and body["detail_en"]
    task.refresh_from_db()
    assert task.status == TaskStatus.NOT_STARTED
    finding = world["f1"]
    response = writer.patch(
        f"{V1}findings/{finding.pk}/", {"description": "新的描述", "version": finding.version + 5}, format="json"
    )
    assert response.status_code == 409
    finding.refresh_from_db()
    assert finding.description != "新的描述"


def test_findings_create_and_update(regions, world):
    client, _t, writer = api_client_for(regions["county_a"], write=True, name="监测平台")
    response = writer.post(
        f"{V1}findings/",
        {
            "enterprise": world["a1"].uscc,
            "area": "environment",
            "severity": "general",
            "description": "废水明管未设在线监测",
            "deadline": "2030-01-31",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["area"], body["status"], body["enterprise"]["uscc"]) == ("environment", "open", world["a1"].uscc)
    finding = Finding.objects.get(pk=body["id"])
    assert finding.created_by == client.user and finding.history.first().history_user == client.user
    response = writer.patch(
        f"{V1}findings/{finding.pk}/",
        {"deadline": "2030-03-31", "version": body["version"], "reason": "延期"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["deadline"] == "2030-03-31" and response.json()["version"] == body["version"] + 1
    # Outside the client's region: the enterprise is not found (named field, both languages).
    response = writer.post(
        f"{V1}findings/", {"enterprise": world["b1"].uscc, "area": "land", "description": "占地"}, format="json"
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]["enterprise"]
    assert error["code"] == "not_found" and world["b1"].uscc in error["message_zh"] and error["message_en"]
    # No target at all.
    response = writer.post(f"{V1}findings/", {"area": "land", "description": "占地"}, format="json")
    assert response.status_code == 400 and "enterprise" in response.json()["errors"]
    # The target cannot be changed.
    response = writer.patch(f"{V1}findings/{finding.pk}/", {"enterprise": world["a2"].uscc}, format="json")
    assert response.status_code == 400 and "enterprise" in response.json()["errors"]


# --- Query counts ---------------------------------------------------------------------------------------


def _grow(regions, users, campaign, n):
    """n more enterprises in A1, each with an in-progress upgrade (steps, plan, 4 tasks), an inspection, a finding."""
    for _index in range(n):
        e = EnterpriseFactory(township=regions["town_a1"])
        c = services.propose_classification(e, campaign, Category.UPGRADE, users["town_a1"])
        services.submit_classification(c, users["county_a"])
        services.forward_to_city(c, users["county_a"])
        services.approve_classification(c, users["city"])
        inspection = InspectionFactory(enterprise=e)
        FindingFactory(enterprise=e, inspection=inspection)


@pytest.mark.parametrize(
    ("name", "url", "params"),
    [
        ("api_classification_list", V1 + "classifications/", {}),
        ("api_classification_sync", V1 + "classifications/", {"updated_since": "2000-01-01"}),
        ("api_task_list", V1 + "tasks/", {}),
        ("api_task_sync", V1 + "tasks/", {"updated_since": "2000-01-01"}),
        ("api_inspection_list", V1 + "inspections/", {}),
        ("api_finding_list", V1 + "findings/", {}),
        ("api_campaign_list", V1 + "campaigns/", {}),
        ("api_target_list", V1 + "targets/", {}),
        ("api_enterprise_list_classified", V1 + "enterprises/", {}),
    ],
)
def test_rectification_list_cost_does_not_depend_on_rows(regions, users, world, campaign, name, url, params, settings):
    settings.API_SYNC_SETTLE_SECONDS = 0
    _c, _t, county = api_client_for(regions["county_a"])

    def count():
        cache.clear()
        with CaptureQueriesContext(connection) as context:
            response = county.get(url, params)
        assert response.status_code == 200, response.content[:500]
        return len(context.captured_queries)

    count()  # the first request of a client also notes its use
    small = count()
    _grow(regions, users, campaign, 3)
    large = count()
    assert small == large, f"{name}: {small} queries with few rows, {large} with more"
    check_against_baseline(name, large)


def test_fast_representation_matches_drf(regions, users, world):
    """FastRepresentationMixin reads plain columns directly: its output must equal DRF's own, nulls included."""
    from rest_framework import serializers as drf

    from core.api.serializers import FastRepresentationMixin
    from enterprises.api.serializers import EnterpriseSerializer
    from enterprises.api.views import EnterpriseViewSet
    from inspections.api.serializers import FindingSerializer
    from inspections.api.views import FindingViewSet
    from rectification.api.serializers import ClassificationSerializer, TaskSerializer
    from rectification.api.views import ClassificationViewSet, TaskViewSet

    for viewset, serializer_class in (
        (EnterpriseViewSet, EnterpriseSerializer),
        (ClassificationViewSet, ClassificationSerializer),
        (TaskViewSet, TaskSerializer),
        (FindingViewSet, FindingSerializer),
    ):
        view = viewset()
        view.action = "list"
        rows = view.decorate_queryset(viewset.queryset.all())
        assert rows, serializer_class
        for row in rows:
            serializer = serializer_class()
            fast = FastRepresentationMixin.to_representation(serializer, row)
            assert fast == drf.ModelSerializer.to_representation(serializer, row), serializer_class.__name__


def test_finding_closed_loop_steps(regions, users, world, client):
    finding = world["f1"]
    _c, _t, writer = api_client_for(regions["county_a"], write=True, name="整改系统")
    url = f"{V1}findings/{finding.pk}/steps/"
    response = writer.post(url, {"action": "start_fixing"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "fixing"
    response = writer.post(url, {"action": "submit_fix"}, format="json")
    assert response.status_code == 400 and "note" in response.json()["errors"]  # say what was done
    response = writer.post(url, {"action": "submit_fix", "note": "已加装在线监测"}, format="json")
    assert response.json()["status"] == "awaiting_verification" and response.json()["fixed_by"] == "整改系统"
    # Verification stays with people: an API client is refused, in both languages.
    response = writer.post(url, {"action": "verify"}, format="json")
    assert response.status_code == 403 and response.json()["detail_zh"] and response.json()["detail_en"]
    client.force_login(users["county_a"])
    response = client.post(url, {"action": "verify", "note": "现场核实"}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    finding.refresh_from_db()
    assert finding.verified_by == users["county_a"]


def test_schema_describes_the_rectification_resources_and_writes():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache
    for resource in ("campaigns", "targets", "classifications", "tasks", "inspections", "findings"):
        listing = paths[f"/api/v1/{resource}/"]["get"]
        names = {p["name"] for p in listing["parameters"]}
        assert {"page", "page_size", "updated_since", "cursor"} <= names, resource
        assert all(p.get("description") for p in listing["parameters"]), (
            resource,
            [p["name"] for p in listing["parameters"] if not p.get("description")],
        )
        assert listing["summary"] and listing["description"]
    for resource in ("targets", "classifications", "tasks", "inspections", "findings"):
        assert f"/api/v1/{resource}/deleted/" in paths
    names = {p["name"] for p in paths["/api/v1/classifications/"]["get"]["parameters"]}
    assert {
        "region",
        "park",
        "enterprise",
        "campaign",
        "category",
        "state",
        "overdue",
        "deadline_after",
        "search",
    } <= names
    names = {p["name"] for p in paths["/api/v1/tasks/"]["get"]["parameters"]}
    assert {"region", "park", "campaign", "category", "status", "overdue", "deadline_before", "search"} <= names
    for path in (
        "/api/v1/classifications/{id}/opinion/",
        "/api/v1/classifications/{id}/steps/",
        "/api/v1/tasks/{id}/done/",
        "/api/v1/findings/{id}/steps/",
    ):
        assert {"200", "400", "401", "403", "404", "409", "429"} <= set(paths[path]["post"]["responses"]), path
    assert "multipart/form-data" in paths["/api/v1/tasks/{id}/done/"]["post"]["requestBody"]["content"]
    assert {"201", "400", "403"} <= set(paths["/api/v1/findings/"]["post"]["responses"])
    assert "409" in paths["/api/v1/findings/{id}/"]["patch"]["responses"]


def test_enterprise_sync_rows_equal_the_dossiers(regions, users, world, campaign, settings):
    """The sync builds enterprises from .values() rows (enterprises.api.sync_rows): same output as the dossier."""
    from decimal import Decimal

    from enterprises.models import KeyHazardousProcess

    from .factories import PermitFactory, YearlyTierFactory

    settings.API_SYNC_SETTLE_SECONDS = 0
    a1 = world["a1"]
    a1.key_processes.set(KeyHazardousProcess.objects.order_by("sort_order")[:3])
    a1.annual_sales, a1.size, a1.longitude = Decimal("1234.50"), "above", Decimal("120.123456")
    a1.save()
    today = datetime.date.today()
    PermitFactory(enterprise=a1, kind="work_safety", expires_on=today + datetime.timedelta(days=10))
    PermitFactory(enterprise=a1, kind="work_safety", expires_on=today - datetime.timedelta(days=400))
    PermitFactory(enterprise=a1, kind="discharge", expires_on=None)
    YearlyTierFactory(enterprise=a1, year=2022, tier=3)
    YearlyTierFactory(enterprise=a1, year=2023, tier=2)
    other = CampaignFactory(name="263 专项")
    services.propose_classification(a1, other, Category.SHUTDOWN, users["town_a1"], problems="手续不全")
    _c, _t, county = api_client_for(regions["county_a"])
    rows, url = [], V1 + "enterprises/?updated_since=2000-01-01&page_size=1"
    while url:
        body = get(county, url)
        rows += body["results"]
        url = body["next"]
    assert {row["id"] for row in rows} == {a1.pk, world["a2"].pk}
    for row in rows:
        assert row == get(county, f"{V1}enterprises/{row['id']}/"), row["uscc"]
    synced = next(row for row in rows if row["id"] == a1.pk)
    assert len(synced["key_processes"]) == 3 and len(synced["permits"]) == 3 and len(synced["classifications"]) == 2
    assert synced["park"] == {"code": "P-EAST", "name": "东部化工园"} and synced["annual_sales"] == "1234.50"
