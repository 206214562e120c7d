"""Rectification pages: campaigns and progress, the classification list, the dossier section, one page per
workflow step, plans, tasks and evidence — walked through the browser (the Django test client) as the
demo-like users."""

import datetime
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from accounts.choices import Role
from accounts.models import Department
from enterprises.choices import OperatingStatus
from inspections.choices import SHUTDOWN_CHECK_ITEMS
from rectification import services
from rectification.choices import Category, ClassificationState, Opinion, StepAction, TaskStatus
from rectification.models import Campaign, Classification, Plan, Target, Task, TaskEvidence
from rectification.selectors import campaign_progress

from .factories import (
    CampaignFactory,
    ChemicalParkFactory,
    ClassificationFactory,
    EnterpriseFactory,
    TargetFactory,
    UserFactory,
)
from .test_query_counts import check_against_baseline, count_queries

S = ClassificationState
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
DAY = datetime.date(2021, 6, 1)


@pytest.fixture(autouse=True)
def english(client):
    """Pages and the messages computed here in English, whatever the catalogue holds."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # what the language switch sets
    with translation.override("en"):
        yield


@pytest.fixture
def reviewers(regions):
    """One reviewer per pre-review department (as in the demo data)."""
    departments = list(Department.objects.filter(reviews_classifications=True).order_by("name"))
    assert departments, "the default pre-review departments are missing"
    return [
        UserFactory(username=f"reviewer{d.pk}", role=Role.REVIEWER, region=regions["city"], department=d)
        for d in departments
    ]


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项整治 2021-2023")


@pytest.fixture
def enterprise(regions):
    return EnterpriseFactory(township=regions["town_a1"], name="甲一化工有限公司")


def dossier_url(enterprise):
    return reverse("enterprises:detail", args=[enterprise.pk])


def step_url(classification, action):
    return reverse("rectification:step", args=[classification.pk, action])


def task_url(task, action):
    return reverse("rectification:task_step", args=[task.pk, action])


def html(response) -> str:
    return response.content.decode()


def section_of(page: str, classification) -> str:
    """The dossier's block of one classification (up to the next classification block)."""
    start = page.index(f' id="classification-{classification.pk}"')
    following = page.find(' id="classification-', start + 1)
    return page[start : following if following != -1 else len(page)]


def timeline_actions(page: str, classification) -> list[str]:
    return re.findall(r'data-step="([a-z_]+)"', section_of(page, classification))


def in_progress_shutdown(enterprise, campaign, users, reviewers):
    """A shutdown approved through the services (for the tests that start at the plan)."""
    c = services.propose_classification(enterprise, campaign, Category.SHUTDOWN, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    for reviewer in reviewers:
        services.give_opinion(c, reviewer, Opinion.AGREE)
    services.forward_to_city(c, users["county_a"])
    services.approve_classification(c, users["city"])
    return c


# --- The whole walk -------------------------------------------------------------------------------


def test_walk_one_classification_from_proposal_to_closure(enterprise, campaign, users, reviewers, client_for, regions):
    town, county, city = users["town_a1"], users["county_a"], users["city"]

    # The township proposes a shutdown from the dossier.
    client = client_for(town)
    page = html(client.get(dossier_url(enterprise)))
    propose = reverse("rectification:propose", args=[enterprise.pk, campaign.pk])
    assert f'href="{propose}" data-action="propose"' in page
    assert client.get(propose).status_code == 200
    response = client.post(
        propose,
        {
            "category": "shutdown",
            "problems": "手续不全，无安全生产许可证",
            "deadline": "2022-06-30",
            "comment": "摸排认定",
        },
    )
    assert response.status_code == 302, html(response)
    c = Classification.objects.get(enterprise=enterprise, campaign=campaign)
    assert (c.state, c.category, c.proposed_by) == (S.PROPOSED, Category.SHUTDOWN, town)
    assert timeline_actions(html(client.get(dossier_url(enterprise))), c) == ["propose"]

    # The county submits it for pre-review.
    client = client_for(county)
    page = html(client.get(dossier_url(enterprise)))
    assert f'href="{step_url(c, "submit")}" data-action="submit"' in page
    assert client.post(step_url(c, "submit"), {"comment": "报送预审"}).status_code == 302
    c.refresh_from_db()
    assert (c.state, c.review_round) == (S.UNDER_REVIEW, 1)

    # Every pre-review department gives its opinion; the forward step waits for them and says so.
    page = html(client.get(step_url(c, "forward")))
    assert 'data-testid="refusal"' in page and reviewers[0].department.name in page
    for reviewer in reviewers[:-1]:
        response = client_for(reviewer).post(step_url(c, "opinion"), {"opinion": "agree", "comment": ""})
        assert response.status_code == 302, html(response)
    last = client_for(reviewers[-1])
    # "Agree with changes" without a comment is refused on the form and records nothing.
    response = last.post(step_url(c, "opinion"), {"opinion": "agree_with_changes", "comment": ""})
    assert response.status_code == 200 and 'data-field-error="comment"' in html(response)
    assert (
        last.post(step_url(c, "opinion"), {"opinion": "agree_with_changes", "comment": "补充危废处置"}).status_code
        == 302
    )
    c.refresh_from_db()
    assert c.state == S.REVIEWED
    # A department cannot give a second opinion in the same round: the page says why.
    page = html(last.get(step_url(c, "opinion")))
    assert escape(services.why_not(c, reviewers[-1], StepAction.OPINION)) in page

    # The county forwards it to the city.
    client = client_for(county)
    assert client.post(step_url(c, "forward"), {"comment": ""}).status_code == 302
    c.refresh_from_db()
    assert c.state == S.PENDING_APPROVAL

    # A township cannot approve: the step page shows the reason and a disabled button; a POST is refused.
    client = client_for(town)
    reason = services.why_not(c, town, StepAction.APPROVE)
    assert reason
    page = html(client.get(step_url(c, "approve")))
    assert escape(reason) in page
    assert re.search(r'<button type="submit" class="btn btn-primary" disabled>', page)
    dossier_page = html(client.get(dossier_url(enterprise)))
    assert 'data-action="approve"' not in dossier_page  # not the township's step…
    assert escape(reason) in section_of(dossier_page, c)  # …but who takes it, and why not them, is shown
    response = client.post(step_url(c, "approve"), {"comment": "越权"})
    assert response.status_code == 403 and escape(reason) in html(response)
    c.refresh_from_db()
    assert c.state == S.PENDING_APPROVAL and not c.steps.filter(action=StepAction.APPROVE).exists()

    # The city approves: the plan with the 7 standard shutdown tasks is created, rectification starts.
    client = client_for(city)
    assert client.post(step_url(c, "approve"), {"comment": "同意关停"}).status_code == 302
    c.refresh_from_db()
    assert c.state == S.IN_PROGRESS
    tasks = list(Task.objects.filter(plan__classification=c).order_by("order"))
    assert len(tasks) == 7

    # The township records the stop order and marks every task done, with evidence on the first one.
    client = client_for(town)
    assert client.post(step_url(c, "stop_order"), {"stop_order_on": "2021-05-01", "comment": ""}).status_code == 302
    for index, task in enumerate(tasks):
        data = {"completed_on": DAY.isoformat(), "note": f"已完成{index}"}
        if index == 0:
            data["evidence"] = [
                SimpleUploadedFile("断水照片.png", PNG, content_type="image/png"),
                SimpleUploadedFile("断水证明.pdf", PDF, content_type="application/pdf"),
            ]
        response = client.post(task_url(task, "mark_done"), data)
        assert response.status_code == 302, html(response)
    assert set(Task.objects.filter(plan__classification=c).values_list("status", flat=True)) == {TaskStatus.DONE}
    assert TaskEvidence.objects.filter(task=tasks[0]).count() == 2

    # The township cannot verify its own work; the county verifies every task.
    page = html(client_for(town).get(dossier_url(enterprise)))
    assert 'data-action="verify"' not in page
    client = client_for(county)
    page = html(client.get(dossier_url(enterprise)))
    assert f'href="{task_url(tasks[0], "verify")}" data-action="verify"' in page
    for task in tasks:
        assert client.post(task_url(task, "verify"), {"comment": "核查属实"}).status_code == 302
    assert set(Task.objects.filter(plan__classification=c).values_list("status", flat=True)) == {
        TaskStatus.VERIFIED_CLOSED
    }

    # The township requests the acceptance check.
    client = client_for(town)
    assert client.post(step_url(c, "request_acceptance"), {"comment": "申请验收"}).status_code == 302
    c.refresh_from_db()
    assert c.state == S.AWAITING_ACCEPTANCE

    # The county accepts through the acceptance inspection (两断三清 item by item).
    client = client_for(county)
    page = html(client.get(dossier_url(enterprise)))
    acceptance = reverse("inspections:acceptance", kwargs={"classification_pk": c.pk})
    assert f'href="{acceptance}" data-action="acceptance"' in page
    data = {"inspected_on": DAY.isoformat(), "comment": "验收合格", "inspectors": "王五"}
    for item in SHUTDOWN_CHECK_ITEMS:
        data[f"{item.value}_result"] = "passed"
    response = client.post(acceptance, data)
    assert response.status_code == 302, html(response)
    c.refresh_from_db()
    enterprise.refresh_from_db()
    assert c.state == S.ACCEPTED and enterprise.status == OperatingStatus.CLOSED

    # Every step is on the dossier timeline, in order, with who took it.
    page = html(client.get(dossier_url(enterprise)))
    actions = timeline_actions(page, c)
    assert actions == [
        "propose",
        "submit",
        *["opinion"] * len(reviewers),
        "review_complete",
        "forward",
        "approve",
        "start",
        "stop_order",
        "request_acceptance",
        "accept",
    ]
    assert actions == list(c.steps.order_by("at", "id").values_list("action", flat=True))
    block = section_of(page, c)
    for user in (town, county, city, *reviewers):
        assert escape(user.display_name) in block
    assert "补充危废处置" in block and "同意关停" in block and "2021-05-01" in block
    assert block.count('data-evidence="') == 2


# --- Refusals, scoping -----------------------------------------------------------------------------


def test_another_township_gets_404_on_every_page(enterprise, campaign, users, reviewers, client_for):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    task = Task.objects.filter(plan__classification=c).first()
    evidence = services.add_evidence(task, users["town_a1"], SimpleUploadedFile("照片.png", PNG))
    other = client_for(users["town_a2"])
    urls = [
        dossier_url(enterprise),
        reverse("rectification:propose", args=[enterprise.pk, campaign.pk]),
        step_url(c, "stop_order"),
        step_url(c, "request_acceptance"),
        task_url(task, "mark_done"),
        task_url(task, "edit"),
        reverse("rectification:task_create", args=[task.plan_id]),
        reverse("rectification:evidence", args=[evidence.pk]),
    ]
    for url in urls:
        assert other.get(url).status_code == 404, url
    assert other.post(step_url(c, "stop_order"), {"stop_order_on": "2021-05-01"}).status_code == 404
    assert other.post(task_url(task, "mark_done"), {"completed_on": DAY.isoformat()}).status_code == 404
    assert other.post(reverse("rectification:evidence_delete", args=[evidence.pk])).status_code == 404
    c.refresh_from_db()
    task.refresh_from_db()
    assert c.stop_order_on is None and task.status == TaskStatus.NOT_STARTED
    assert TaskEvidence.objects.filter(pk=evidence.pk).exists()


def test_evidence_is_downloaded_through_the_scoped_view(enterprise, campaign, users, reviewers, client_for):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    task = Task.objects.filter(plan__classification=c).first()
    evidence = services.add_evidence(task, users["town_a1"], SimpleUploadedFile("断电证明.pdf", PDF))
    url = reverse("rectification:evidence", args=[evidence.pk])
    response = client_for(users["town_a1"]).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/pdf"
    # The dossier links the scoped view, never the media URL.
    page = html(client_for(users["county_a"]).get(dossier_url(enterprise)))
    assert f'href="{url}"' in page and evidence.file.url not in page
    assert client_for(users["town_a2"]).get(url).status_code == 404
    assert client_for(users["city"]).get(url).status_code == 200


def test_verification_is_refused_to_the_person_who_marked_the_task_done(
    enterprise, campaign, users, reviewers, client_for
):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    task = Task.objects.filter(plan__classification=c).order_by("order").first()
    county = users["county_a"]
    client = client_for(county)
    assert (
        client.post(task_url(task, "mark_done"), {"completed_on": DAY.isoformat(), "note": "县里自查"}).status_code
        == 302
    )
    task.refresh_from_db()
    reason = services.task_why_not(task, county, services.TaskAction.VERIFY)
    assert reason
    # The dossier shows the disabled button with the reason; the page too; a POST is refused.
    block = section_of(html(client.get(dossier_url(enterprise))), c)
    assert re.search(r'<button type="button"[^>]*disabled data-action="verify"', block)
    assert escape(reason) in block
    page = html(client.get(task_url(task, "verify")))
    assert escape(reason) in page
    response = client.post(task_url(task, "verify"), {"comment": ""})
    assert response.status_code == 403 and escape(reason) in html(response)
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.verified_by is None
    # Someone else (the city) verifies it.
    assert client_for(users["city"]).post(task_url(task, "verify"), {"comment": ""}).status_code == 302
    task.refresh_from_db()
    assert (task.status, task.verified_by) == (TaskStatus.VERIFIED_CLOSED, users["city"])


def test_a_step_refused_by_state_shows_the_service_message(enterprise, campaign, users, client_for):
    c = ClassificationFactory(enterprise=enterprise, campaign=campaign, category=Category.UNDECIDED)
    client = client_for(users["county_a"])
    reason = services.why_not(c, users["county_a"], StepAction.SUBMIT)
    assert reason  # an undecided classification cannot be submitted
    page = html(client.get(step_url(c, "submit")))
    assert escape(reason) in page
    block = section_of(html(client.get(dossier_url(enterprise))), c)
    assert re.search(r'disabled data-action="submit"', block) and escape(reason) in block
    response = client.post(step_url(c, "submit"), {"comment": ""})
    assert response.status_code == 200 and escape(reason) in html(response)
    c.refresh_from_db()
    assert c.state == S.PROPOSED and not c.steps.exists()


def test_return_needs_a_comment_and_goes_back_to_the_county(enterprise, campaign, users, reviewers, client_for):
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    for reviewer in reviewers:
        services.give_opinion(c, reviewer, Opinion.AGREE)
    services.forward_to_city(c, users["county_a"])
    client = client_for(users["city"])
    response = client.post(step_url(c, "return"), {"comment": "  "})
    assert response.status_code == 200 and 'data-field-error="comment"' in html(response)
    c.refresh_from_db()
    assert c.state == S.PENDING_APPROVAL
    assert client.post(step_url(c, "return"), {"comment": "补充搬迁可行性"}).status_code == 302
    c.refresh_from_db()
    assert c.state == S.RETURNED
    step = c.steps.get(action=StepAction.RETURN)
    assert (step.actor, step.comment) == (users["city"], "补充搬迁可行性")


def test_county_adjusts_after_a_disagreement_and_resubmits(enterprise, campaign, users, reviewers, client_for, regions):
    park = ChemicalParkFactory(township=regions["town_a2"], name="甲县化工园区")
    c = services.propose_classification(enterprise, campaign, Category.UPGRADE, users["town_a1"])
    services.submit_classification(c, users["county_a"])
    services.give_opinion(c, reviewers[0], Opinion.DISAGREE, comment="应搬迁入园")
    for reviewer in reviewers[1:]:
        services.give_opinion(c, reviewer, Opinion.AGREE)
    client = client_for(users["county_a"])
    block = section_of(html(client.get(dossier_url(enterprise))), c)
    assert "应搬迁入园" in block
    for action in ("adjust", "resubmit", "forward"):
        assert f'href="{step_url(c, action)}" data-action="{action}"' in block
    # The adjustment form starts from the classification's values and records what changed.
    page = html(client.get(step_url(c, "adjust")))
    assert '<option value="upgrade" selected>' in page
    response = client.post(
        step_url(c, "adjust"), {"category": "relocate", "destination_park": park.pk, "comment": "采纳意见"}
    )
    assert response.status_code == 302, html(response)
    c.refresh_from_db()
    assert (c.category, c.destination_park, c.state) == (Category.RELOCATE, park, S.REVIEWED)
    # Nothing changed: the service's message, no step.
    response = client.post(step_url(c, "adjust"), {"category": "relocate", "destination_park": park.pk})
    assert response.status_code == 200
    assert c.steps.filter(action=StepAction.ADJUST).count() == 1
    assert client.post(step_url(c, "resubmit"), {"comment": "第二轮"}).status_code == 302
    c.refresh_from_db()
    assert (c.state, c.review_round) == (S.UNDER_REVIEW, 2)
    page = html(client.get(dossier_url(enterprise)))
    assert timeline_actions(page, c)[-3:] == ["review_complete", "adjust", "resubmit"]
    assert escape(str(Category.RELOCATE.label)) in section_of(page, c)


def test_township_withdraws_its_proposal(enterprise, campaign, users, client_for):
    c = services.propose_classification(enterprise, campaign, Category.SHUTDOWN, users["town_a1"])
    client = client_for(users["town_a1"])
    assert client.post(step_url(c, "withdraw"), {"comment": "重复录入"}).status_code == 302
    c.refresh_from_db()
    assert (c.state, c.is_current) == (S.WITHDRAWN, False)
    page = html(client.get(dossier_url(enterprise)))
    # The withdrawn proposal stays among the earlier ones; a new proposal can be made.
    assert 'data-testid="earlier-decisions"' in page and f' id="classification-{c.pk}"' in page
    assert f'href="{reverse("rectification:propose", args=[enterprise.pk, campaign.pk])}" data-action="propose"' in page


def test_county_reopens_an_accepted_classification(enterprise, campaign, users, reviewers, client_for):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    for task in Task.objects.filter(plan__classification=c):
        services.mark_task_done(task, users["town_a1"], completed_on=DAY)
    services.request_acceptance(c, users["town_a1"])
    services.accept_classification(c, users["city"])
    enterprise.refresh_from_db()
    assert enterprise.status == OperatingStatus.CLOSED
    client = client_for(users["county_a"])
    block = section_of(html(client.get(dossier_url(enterprise))), c)
    assert f'href="{step_url(c, "reopen")}" data-action="reopen"' in block
    assert 'data-action="recheck"' in block
    response = client.post(step_url(c, "reopen"), {"reason": ""})
    assert response.status_code == 200 and 'data-field-error="reason"' in html(response)
    assert client.post(step_url(c, "reopen"), {"reason": "回头看发现恢复生产"}).status_code == 302
    c.refresh_from_db()
    enterprise.refresh_from_db()
    assert c.state == S.IN_PROGRESS and enterprise.status == OperatingStatus.OPERATING
    # A township cannot reopen: the page says why and a POST changes nothing.
    services.request_acceptance(c, users["town_a1"])
    services.accept_classification(c, users["city"])
    town = client_for(users["town_a1"])
    reason = services.why_not(c, users["town_a1"], StepAction.REOPEN)
    assert escape(reason) in html(town.get(step_url(c, "reopen")))
    assert town.post(step_url(c, "reopen"), {"reason": "x"}).status_code == 403
    c.refresh_from_db()
    assert c.state == S.ACCEPTED


def test_unknown_step_is_404(enterprise, campaign, users, client_for):
    c = ClassificationFactory(enterprise=enterprise, campaign=campaign)
    assert client_for(users["county_a"]).get(step_url(c, "teleport")).status_code == 404
    # Acceptance and the proposal edit live on their own pages.
    client = client_for(users["town_a1"])
    response = client.get(step_url(c, "update_proposal"))
    assert response.status_code == 302
    assert response["Location"] == reverse("rectification:propose", args=[enterprise.pk, campaign.pk])


# --- Proposal form -----------------------------------------------------------------------------


def test_relocation_offers_only_recognised_parks_in_scope(enterprise, campaign, users, regions, client_for):
    recognised = ChemicalParkFactory(township=regions["town_a2"], name="甲县化工园区")
    pending = ChemicalParkFactory(township=regions["town_a2"], name="待认定园区", recognition_status="pending")
    elsewhere = ChemicalParkFactory(township=regions["town_b1"], name="乙县化工园区")
    client = client_for(users["town_a1"])
    url = reverse("rectification:propose", args=[enterprise.pk, campaign.pk])
    page = html(client.get(url))
    assert f'value="{recognised.pk}"' in page
    assert f'value="{pending.pk}"' not in page and f'value="{elsewhere.pk}"' not in page
    # Relocation without a park yet (拟转移): a valid proposal, stored with a warning (issue 10).
    response = client.post(url, {"category": "relocate", "destination_park": ""}, follow=True)
    assert response.status_code == 200 and "迁入园区" in html(response)
    assert Classification.objects.get().destination_park is None
    assert client.post(url, {"category": "relocate", "destination_park": recognised.pk}).status_code == 302
    assert Classification.objects.get().destination_park == recognised


def test_restructuring_finds_the_absorbing_enterprise_by_code_or_name(enterprise, campaign, users, regions, client_for):
    absorber = EnterpriseFactory(township=regions["town_a1"], name="甲一集团")
    outside = EnterpriseFactory(township=regions["town_b1"], name="乙一集团")
    client = client_for(users["town_a1"])
    url = reverse("rectification:propose", args=[enterprise.pk, campaign.pk])
    response = client.post(url, {"category": "restructure", "absorbing_enterprise": outside.uscc})
    assert response.status_code == 200 and 'data-field-error="absorbing_enterprise"' in html(response)
    assert client.post(url, {"category": "restructure", "absorbing_enterprise": "甲一集团"}).status_code == 302
    c = Classification.objects.get()
    assert c.absorbing_enterprise == absorber
    # Editing the proposal keeps the row and records the change on the timeline.
    response = client.post(
        url, {"category": "restructure", "absorbing_enterprise": absorber.uscc, "problems": "规模小"}
    )
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.problems == "规模小" and Classification.objects.count() == 1
    assert list(c.steps.values_list("action", flat=True)) == ["propose", "update_proposal"]
    page = html(client.get(dossier_url(enterprise)))
    assert "规模小" in section_of(page, c)


def test_a_decided_classification_is_changed_by_a_new_proposal(enterprise, campaign, users, reviewers, client_for):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    client = client_for(users["town_a1"])
    page = html(client.get(dossier_url(enterprise)))
    assert "Propose a change of the decision" in page
    url = reverse("rectification:propose", args=[enterprise.pk, campaign.pk])
    assert client.post(url, {"category": "upgrade", "comment": "改为提升"}).status_code == 302
    change = Classification.objects.get(replaces=c)
    assert (change.state, change.is_current) == (S.PROPOSED, False)
    page = html(client.get(dossier_url(enterprise)))
    assert f'id="classification-{change.pk}"' in page and f'id="classification-{c.pk}"' in page


# --- Plans and tasks -----------------------------------------------------------------------------


def test_tasks_are_added_edited_reordered_and_deleted(enterprise, campaign, users, reviewers, client_for):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    plan = Plan.objects.get(classification=c)
    client = client_for(users["town_a1"])
    department = Department.objects.order_by("name").first()
    response = client.post(
        reverse("rectification:task_create", args=[plan.pk]),
        {
            "description": "拆除反应釜并拍照",
            "lead_unit": f"department:{department.pk}",
            "cooperating_units": "供电所",
            "responsible_person": "张三",
            "deadline": "2022-03-31",
            "note": "",
        },
    )
    assert response.status_code == 302, html(response)
    added = plan.tasks.get(description="拆除反应釜并拍照")
    assert (added.order, added.lead_department, added.lead_region) == (8, department, None)

    # Edit: the lead unit becomes the township government.
    response = client.post(
        task_url(added, "edit"),
        {
            "description": "拆除反应釜",
            "lead_unit": f"region:{enterprise.township_id}",
            "cooperating_units": "",
            "responsible_person": "李四",
            "deadline": "2022-04-30",
            "status": "in_progress",
            "note": "",
            "reason": "调整",
        },
    )
    assert response.status_code == 302, html(response)
    added.refresh_from_db()
    assert (added.description, added.lead_region_id, added.lead_department, added.status) == (
        "拆除反应釜",
        enterprise.township_id,
        None,
        TaskStatus.IN_PROGRESS,
    )
    # A lead government outside the enterprise's chain is not even offered.
    response = client.post(
        task_url(added, "edit"), {"description": "x", "lead_unit": "region:999999", "deadline": "2022-04-30"}
    )
    assert response.status_code == 200 and 'data-field-error="lead_unit"' in html(response)

    # Move it up (no JavaScript: a POST per click).
    before = list(plan.tasks.order_by("order").values_list("pk", flat=True))
    assert client.post(reverse("rectification:task_move", args=[added.pk]), {"direction": "up"}).status_code == 302
    after = list(plan.tasks.order_by("order").values_list("pk", flat=True))
    assert after == [*before[:-2], before[-1], before[-2]]

    # Standard tasks offer no delete button; the added one is deleted with a reason.
    block = section_of(html(client.get(dossier_url(enterprise))), c)
    assert f'href="{task_url(added, "delete")}" data-action="delete"' in block
    standard = plan.tasks.exclude(standard_item="").first()
    assert task_url(standard, "delete") not in block
    response = client.post(task_url(standard, "delete"), {"reason": ""})
    assert response.status_code == 200
    assert escape(services.task_why_not(standard, users["town_a1"], "delete")) in html(response)
    assert client.post(task_url(added, "delete"), {"reason": "重复"}).status_code == 302
    assert not Task.objects.filter(pk=added.pk).exists() and Task.objects.filter(pk=standard.pk).exists()


def test_mark_done_checks_every_file_and_stores_none_when_one_is_bad(
    enterprise, campaign, users, reviewers, client_for
):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    task = Task.objects.filter(plan__classification=c).first()
    client = client_for(users["town_a1"])
    page = html(client.get(task_url(task, "mark_done")))
    assert 'enctype="multipart/form-data"' in page and "multiple" in page
    response = client.post(
        task_url(task, "mark_done"),
        {
            "completed_on": DAY.isoformat(),
            "evidence": [
                SimpleUploadedFile("好照片.png", PNG),
                SimpleUploadedFile("病毒.exe", b"MZ\x90\x00"),
                SimpleUploadedFile("假的.pdf", b"not a pdf"),
            ],
        },
    )
    assert response.status_code == 200
    errors = re.findall(r'data-field-error="evidence">([^<]*)<', html(response))
    assert len(errors) == 2 and "病毒.exe" in errors[0] and "假的.pdf" in errors[1]
    task.refresh_from_db()
    assert task.status == TaskStatus.NOT_STARTED and not TaskEvidence.objects.exists()
    # A completion date in the future: the service's message on the field.
    future = timezone.localdate() + datetime.timedelta(days=3)
    response = client.post(task_url(task, "mark_done"), {"completed_on": future.isoformat()})
    assert response.status_code == 200 and 'data-field-error="completed_on"' in html(response)


def test_evidence_added_and_deleted_and_task_reopened(enterprise, campaign, users, reviewers, client_for):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    task = Task.objects.filter(plan__classification=c).first()
    client = client_for(users["town_a1"])
    response = client.post(
        task_url(task, "add_evidence"),
        {"files": [SimpleUploadedFile("a.png", PNG), SimpleUploadedFile("b.pdf", PDF)]},
    )
    assert response.status_code == 302
    assert sorted(TaskEvidence.objects.values_list("original_name", flat=True)) == ["a.png", "b.pdf"]
    first = TaskEvidence.objects.get(original_name="a.png")
    assert client.post(reverse("rectification:evidence_delete", args=[first.pk])).status_code == 302
    assert list(TaskEvidence.objects.values_list("original_name", flat=True)) == ["b.pdf"]

    services.mark_task_done(task, users["town_a1"], completed_on=DAY)
    assert client.post(task_url(task, "reopen"), {"reason": ""}).status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert client.post(task_url(task, "reopen"), {"reason": "照片不清晰"}).status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS


def test_overdue_task_is_red_on_the_dossier(enterprise, campaign, users, reviewers, client_for):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    late = Task.objects.filter(plan__classification=c).order_by("order").first()
    Task.objects.filter(pk=late.pk).update(deadline=datetime.date(2021, 3, 1), status=TaskStatus.OVERDUE)
    block = section_of(html(client_for(users["town_a1"]).get(dossier_url(enterprise))), c)
    row = re.search(rf'<tr id="task-{late.pk}"[^>]*>', block).group(0)
    assert 'class="table-danger"' in row and 'data-status="overdue"' in row


# --- Campaigns, targets, progress, lists ---------------------------------------------------------


def test_city_creates_and_edits_a_campaign_and_sets_targets(regions, users, client_for):
    client = client_for(users["city"])
    response = client.post(
        reverse("rectification:campaign_create"),
        {
            "name": "263专项行动",
            "kind": "campaign_263",
            "starts_on": "2022-01-01",
            "ends_on": "2023-12-31",
            "status": "active",
        },
    )
    assert response.status_code == 302, html(response)
    campaign = Campaign.objects.get(name="263专项行动")
    response = client.post(
        reverse("rectification:campaign_update", args=[campaign.pk]),
        {
            "name": "263专项行动",
            "kind": "campaign_263",
            "starts_on": "2022-01-01",
            "ends_on": "2021-12-31",
            "status": "active",
        },
    )
    assert response.status_code == 200 and 'data-field-error="ends_on"' in html(response)
    url = reverse("rectification:target_edit", args=[campaign.pk])
    data = {
        "region": regions["town_a1"].code,
        "year": 2022,
        "shutdown": 18,
        "relocate": 2,
        "upgrade": 0,
        "restructure": 1,
    }
    assert client.post(url, data).status_code == 302
    target = Target.objects.get(campaign=campaign, region=regions["town_a1"], year=2022)
    assert (target.shutdown, target.relocate, target.restructure) == (18, 2, 1)
    # A year outside the campaign is not offered.
    response = client.post(url, data | {"year": 2021})
    assert response.status_code == 200 and 'data-field-error="year"' in html(response)

    # A county may not create campaigns, nor set its own target.
    county = client_for(users["county_a"])
    assert county.get(reverse("rectification:campaign_create")).status_code == 403
    response = county.post(url, data | {"region": regions["county_a"].code})
    assert response.status_code == 403
    assert not Target.objects.filter(region=regions["county_a"]).exists()
    # A township may not set targets at all.
    assert client_for(users["town_a1"]).get(url).status_code == 403


def _row(page: str, code: str) -> str:
    start = page.index(f'data-region="{code}"')
    return page[start : page.index("</tr>", start)]


def _cell(row: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}">([^<]*)<', row).group(1).strip()


def make_campaign_rows(campaign, regions, count, state=S.IN_PROGRESS, category=Category.SHUTDOWN):
    towns = [regions["town_a1"], regions["town_a2"], regions["town_b1"]]
    for index in range(count):
        ClassificationFactory(
            enterprise=EnterpriseFactory(township=towns[index % 3]),
            campaign=campaign,
            category=category,
            state=state,
            accepted_at=timezone.now() if state == S.ACCEPTED else None,
        )


def test_campaign_page_progress_matches_the_classifications(campaign, regions, users, client_for):
    TargetFactory(campaign=campaign, region=regions["town_a1"], year=2021, shutdown=4, upgrade=2)
    TargetFactory(campaign=campaign, region=regions["town_a2"], year=2021, shutdown=2)
    TargetFactory(campaign=campaign, region=regions["county_b"], year=2021, shutdown=5)
    town = regions["town_a1"]
    for state in (S.IN_PROGRESS, S.ACCEPTED, S.ACCEPTED, S.PROPOSED):
        ClassificationFactory(
            enterprise=EnterpriseFactory(township=town),
            campaign=campaign,
            category=Category.SHUTDOWN,
            state=state,
            accepted_at=timezone.now() if state == S.ACCEPTED else None,
        )
    ClassificationFactory(
        enterprise=EnterpriseFactory(township=town),
        campaign=campaign,
        category=Category.UPGRADE,
        state=S.ACCEPTED,
        accepted_at=timezone.now(),
    )
    ClassificationFactory(
        enterprise=EnterpriseFactory(township=regions["town_b1"]),
        campaign=campaign,
        category=Category.EXCLUDED,
        state=S.APPROVED,
        exclusion_reason="非化工",
    )

    page = html(client_for(users["city"]).get(reverse("rectification:campaign", args=[campaign.pk])))
    county_a = _row(page, regions["county_a"].code)
    assert (_cell(county_a, "target-total"), _cell(county_a, "decided-total"), _cell(county_a, "completed-total")) == (
        "8",
        "4",
        "3",
    )
    assert "37.5%" in _cell_block(county_a)
    town_a1 = _row(page, town.code)
    assert (_cell(town_a1, "target-total"), _cell(town_a1, "decided-total"), _cell(town_a1, "completed-total")) == (
        "6",
        "4",
        "3",
    )
    assert "50.0%" in _cell_block(town_a1)
    city_row = _row(page, regions["city"].code)
    assert _cell(city_row, "target-total") == "13"
    # The same figures as the selector, for every region.
    with translation.override("en"):
        expected = {p.region.code: p for p in campaign_progress(campaign, users["city"])}
    for code, progress in expected.items():
        row = _row(page, code)
        assert int(_cell(row, "target-total")) == progress.target_total
        assert int(_cell(row, "completed-total")) == progress.completed_total
    # Townships are indented below their county.
    assert page.index(f'data-region="{regions["county_a"].code}"') < page.index(f'data-region="{town.code}"')
    # A year selects the targets of that year and what was accepted in it.
    page_2022 = html(
        client_for(users["city"]).get(reverse("rectification:campaign", args=[campaign.pk]), {"year": 2022})
    )
    assert _cell(_row(page_2022, town.code), "target-total") == "0"
    # A township sees only its own branch.
    page = html(client_for(users["town_a1"]).get(reverse("rectification:campaign", args=[campaign.pk])))
    assert f'data-region="{town.code}"' in page and f'data-region="{regions["town_b1"].code}"' not in page


def _cell_block(row: str) -> str:
    return re.search(r'data-testid="completion-rate">(.*?)</td>', row, re.S).group(1)


@override_settings(LIST_PAGE_SIZE=4)
def test_classification_list_filters_and_paginates(campaign, regions, users, client_for):
    make_campaign_rows(campaign, regions, 6, state=S.IN_PROGRESS, category=Category.SHUTDOWN)
    make_campaign_rows(campaign, regions, 3, state=S.PROPOSED, category=Category.UPGRADE)
    other = CampaignFactory(name="其他行动")
    make_campaign_rows(other, regions, 2)
    client = client_for(users["city"])
    url = reverse("rectification:classifications", args=[campaign.pk])

    def rows(params):
        response = client.get(url, params)
        assert response.status_code == 200
        page = html(response)
        count = re.search(r'data-testid="result-count">\s*(\d+)', page).group(1)
        return int(count), len(re.findall(r'<tr data-classification="', page)), page

    assert rows({})[:2] == (9, 4)
    assert rows({"page": 3})[:2] == (9, 1)
    assert rows({"category": "shutdown"})[:2] == (6, 4)
    assert rows({"state": "proposed"})[:2] == (3, 3)
    assert rows({"region": regions["county_b"].code})[:2] == (3, 3)
    assert rows({"region": regions["county_a"].code, "category": "upgrade"})[:2] == (2, 2)
    count, _shown, page = rows({"category": "shutdown", "page": 2})
    assert count == 6 and "category=shutdown&amp;page=1" in page
    # An unknown region is reported on the filter panel, not a server error.
    response = client.get(url, {"region": "999999"})
    assert response.status_code == 200 and "alert-warning" in html(response)
    # A township sees only its own rows.
    response = client_for(users["town_a1"]).get(url)
    assert re.search(r'data-testid="result-count">\s*3', html(response))


# --- Query counts ------------------------------------------------------------------------------------


def test_campaign_page_cost_does_not_depend_on_rows(campaign, regions, users, client_for):
    client = client_for(users["county_a"])
    url = reverse("rectification:campaign", args=[campaign.pk])
    make_campaign_rows(campaign, regions, 3)
    few = count_queries(client, url)
    make_campaign_rows(campaign, regions, 15, state=S.ACCEPTED)
    TargetFactory(campaign=campaign, region=regions["town_a2"], year=2022, shutdown=3)
    assert count_queries(client, url) == few
    check_against_baseline("rectification_campaign", few)


def test_classification_list_cost_does_not_depend_on_rows(campaign, regions, users, client_for):
    client = client_for(users["city"])
    url = reverse("rectification:classifications", args=[campaign.pk])
    make_campaign_rows(campaign, regions, 3)
    few = count_queries(client, url, {"category": "shutdown", "region": regions["county_a"].code})
    make_campaign_rows(campaign, regions, 30)
    many = count_queries(client, url, {"category": "shutdown", "region": regions["county_a"].code})
    assert few == many
    check_against_baseline("rectification_classifications", many)


def test_dossier_cost_does_not_depend_on_tasks_steps_or_evidence(enterprise, campaign, users, reviewers, client_for):
    c = in_progress_shutdown(enterprise, campaign, users, reviewers)
    plan = Plan.objects.get(classification=c)
    town = users["town_a1"]
    client = client_for(users["county_a"])
    few = count_queries(client, dossier_url(enterprise))
    for index in range(6):
        task = services.add_task(plan, town, f"补充措施{index}", datetime.date(2022, 1, 31))
        services.add_evidence(task, town, SimpleUploadedFile(f"证明{index}.pdf", PDF))
        services.mark_task_done(task, town, completed_on=DAY)
    services.record_stop_order(c, town, datetime.date(2021, 5, 1))
    services.record_stop_order(c, town, datetime.date(2021, 5, 2))
    many = count_queries(client, dossier_url(enterprise))
    assert few == many
    check_against_baseline("enterprise_detail_classification", many)
