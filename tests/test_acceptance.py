"""Acceptance checks (验收): a shutdown item by item (两断三清); pass → 销号, fail → back to in progress."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from enterprises.choices import OperatingStatus
from inspections import services
from inspections.choices import InspectionKind, InspectionResult
from inspections.models import AcceptanceCheckItem, Inspection
from rectification.choices import (
    SHUTDOWN_CHECKLIST,
    STANDARD_TASKS,
    Category,
    ClassificationState,
    StandardItem,
    StepAction,
    TaskStatus,
)
from rectification.models import Classification, Plan, Task

from .factories import EnterpriseFactory, make_survey_campaign


@pytest.fixture(autouse=True)
def english():
    """Assertions read the English messages, whatever the catalogue holds."""
    with translation.override("en"):
        yield


DAY = datetime.date(2021, 9, 1)


def make_awaiting_acceptance(enterprise, category, done_by):
    """A classification whose plan's standard tasks are all done and whose acceptance was requested."""
    classification = Classification.objects.create(
        enterprise=enterprise,
        campaign=make_survey_campaign(),
        category=category,
        state=ClassificationState.AWAITING_ACCEPTANCE,
        is_current=True,
    )
    plan = Plan.objects.create(classification=classification)
    for order, item in enumerate(STANDARD_TASKS[category]):
        Task.objects.create(
            plan=plan,
            order=order,
            standard_item=item,
            description=str(item.label),
            lead_region=enterprise.township,
            deadline=DAY,
            status=TaskStatus.DONE,
            completed_on=DAY,
            done_by=done_by,
        )
    return classification


def all_items(**failed):
    """Every shutdown item passed except those given as item=note."""
    return {
        item.value: (item.value not in failed, failed.get(item.value, "")) for item in STANDARD_TASKS[Category.SHUTDOWN]
    }


@pytest.fixture
def enterprise(regions):
    return EnterpriseFactory(township=regions["town_a1"], status=OperatingStatus.SUSPENDED)


@pytest.fixture
def shutdown(enterprise, users):
    return make_awaiting_acceptance(enterprise, Category.SHUTDOWN, users["town_a1"])


def accept(user, classification, **kwargs):
    kwargs.setdefault("inspected_on", DAY)
    return services.record_acceptance(classification=classification, actor=user, **kwargs)


def test_shutdown_passing_every_item_is_closed(users, shutdown, enterprise):
    inspection = accept(users["county_a"], shutdown, items=all_items(), inspectors="专家组", comment="验收合格")

    assert (inspection.kind, inspection.result, inspection.classification) == (
        InspectionKind.ACCEPTANCE,
        InspectionResult.PASSED,
        shutdown,
    )
    assert dict(inspection.check_items.values_list("item", "passed")) == {
        item.value: True for item in STANDARD_TASKS[Category.SHUTDOWN]
    }
    shutdown.refresh_from_db()
    enterprise.refresh_from_db()
    assert shutdown.state == ClassificationState.ACCEPTED and shutdown.accepted_at is not None
    assert enterprise.status == OperatingStatus.CLOSED
    step = shutdown.steps.get(action=StepAction.ACCEPT)
    assert step.actor == users["county_a"] and step.details["inspection"] == inspection.pk
    assert set(Task.objects.values_list("status", flat=True)) == {TaskStatus.VERIFIED_CLOSED}


def test_the_two_closing_items_are_optional(users, shutdown):
    items = all_items()
    del items[StandardItem.HAZARDOUS_DISPOSED]
    del items[StandardItem.LICENCE_CHANGED]
    inspection = accept(users["county_a"], shutdown, items=items)
    assert inspection.check_items.count() == 5
    shutdown.refresh_from_db()
    assert shutdown.state == ClassificationState.ACCEPTED


@pytest.mark.parametrize("missing", [item.value for item in SHUTDOWN_CHECKLIST])
def test_every_two_cuts_three_clears_item_must_be_checked(users, shutdown, missing):
    items = all_items()
    del items[missing]
    with pytest.raises(ValidationError) as caught:
        accept(users["county_a"], shutdown, items=items)
    assert list(caught.value.message_dict) == [missing]
    shutdown.refresh_from_db()
    assert shutdown.state == ClassificationState.AWAITING_ACCEPTANCE
    assert Inspection.objects.count() == 0


def test_one_failed_item_fails_the_acceptance_and_reopens_its_task(users, shutdown, enterprise):
    inspection = accept(users["county_a"], shutdown, items=all_items(products_cleared="仓库内仍存放成品约20吨"))

    assert inspection.result == InspectionResult.FAILED
    assert "仓库内仍存放成品约20吨" in inspection.result_note
    assert AcceptanceCheckItem.objects.get(item=StandardItem.PRODUCTS_CLEARED).passed is False
    shutdown.refresh_from_db()
    assert shutdown.state == ClassificationState.IN_PROGRESS
    step = shutdown.steps.get(action=StepAction.FAIL_ACCEPTANCE)
    assert any("仓库内仍存放成品约20吨" in reason for reason in step.details["reasons"])
    assert step.details["inspection"] == inspection.pk
    products = Task.objects.get(standard_item=StandardItem.PRODUCTS_CLEARED)
    assert products.status == TaskStatus.IN_PROGRESS
    assert Task.objects.get(standard_item=StandardItem.WATER_CUT).status == TaskStatus.DONE
    enterprise.refresh_from_db()
    assert enterprise.status == OperatingStatus.SUSPENDED


def test_item_failures_need_a_note_and_cannot_pass(users, shutdown):
    with pytest.raises(ValidationError) as caught:
        accept(users["county_a"], shutdown, items=all_items(water_cut=""))
    assert "water_cut" in caught.value.message_dict
    items = all_items()
    items["water_cut"] = (False, "仍在用水")
    with pytest.raises(ValidationError) as caught:
        accept(users["county_a"], shutdown, items=items, passed=True)
    assert "passed" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        accept(users["county_a"], shutdown, items=all_items(), passed=False)
    assert "reasons" in caught.value.message_dict
    assert Inspection.objects.count() == 0


def test_failing_with_all_items_passed_needs_a_reason(users, shutdown):
    inspection = accept(users["county_a"], shutdown, items=all_items(), passed=False, reasons="危废处置台账缺失")
    assert inspection.result == InspectionResult.FAILED
    shutdown.refresh_from_db()
    assert shutdown.state == ClassificationState.IN_PROGRESS


def test_upgrade_acceptance_has_no_checklist(users, enterprise):
    upgrade = make_awaiting_acceptance(enterprise, Category.UPGRADE, users["town_a1"])
    with pytest.raises(ValidationError) as caught:
        accept(users["county_a"], upgrade, items=all_items(), passed=True)
    assert "items" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        accept(users["county_a"], upgrade)
    assert "passed" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        accept(users["county_a"], upgrade, passed=False)
    assert "reasons" in caught.value.message_dict

    inspection = accept(users["county_a"], upgrade, passed=False, reasons="自动化改造未通过专家验收")
    upgrade.refresh_from_db()
    assert upgrade.state == ClassificationState.IN_PROGRESS and inspection.result_note == "自动化改造未通过专家验收"

    upgrade.state = ClassificationState.AWAITING_ACCEPTANCE
    upgrade.save()
    accept(users["county_a"], upgrade, passed=True)
    upgrade.refresh_from_db()
    enterprise.refresh_from_db()
    assert upgrade.state == ClassificationState.ACCEPTED
    assert enterprise.status == OperatingStatus.SUSPENDED  # an upgrade does not close the enterprise


def test_only_a_classification_awaiting_acceptance_is_checked(users, shutdown):
    shutdown.state = ClassificationState.IN_PROGRESS
    shutdown.save()
    with pytest.raises(ValidationError, match="awaiting acceptance"):
        accept(users["county_a"], shutdown, items=all_items())
    assert Inspection.objects.count() == 0


@pytest.mark.parametrize("username", ["town_a1", "town_a2", "supervisor", "reviewer"])
def test_acceptance_refused_by_role_or_region(users, shutdown, username):
    with pytest.raises(PermissionDenied):
        accept(users[username], shutdown, items=all_items())
    shutdown.refresh_from_db()
    assert shutdown.state == ClassificationState.AWAITING_ACCEPTANCE
    assert Inspection.objects.count() == 0


def test_acceptor_who_marked_tasks_done_is_refused_and_nothing_is_written(users, enterprise):
    classification = make_awaiting_acceptance(enterprise, Category.SHUTDOWN, users["county_a"])
    with pytest.raises(PermissionDenied):
        accept(users["county_a"], classification, items=all_items())
    classification.refresh_from_db()
    assert classification.state == ClassificationState.AWAITING_ACCEPTANCE
    assert Inspection.objects.count() == 0 and AcceptanceCheckItem.objects.count() == 0
    accept(users["city"], classification, items=all_items())
    classification.refresh_from_db()
    assert classification.state == ClassificationState.ACCEPTED
