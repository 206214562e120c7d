"""回头看: re-checks of closed enterprises, reopening one found producing again, and the quarterly sample."""

import datetime
import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from enterprises.choices import OperatingStatus
from enterprises.models import Enterprise
from inspections import selectors, services
from inspections.choices import FindingStatus, InspectionKind, InspectionResult, InspectionStatus, Severity
from inspections.models import Finding, Inspection
from rectification.choices import Category, ClassificationState, StepAction
from rectification.models import Classification

from .factories import EnterpriseFactory, make_survey_campaign


@pytest.fixture(autouse=True)
def english():
    """Assertions read the English messages, whatever the catalogue holds."""
    with translation.override("en"):
        yield


DAY = datetime.date(2021, 11, 3)
Q4 = datetime.date(2021, 10, 1)


@pytest.fixture
def closed(regions):
    """A closed enterprise whose shutdown was accepted (销号)."""
    enterprise = EnterpriseFactory(township=regions["town_a1"], status=OperatingStatus.CLOSED)
    Classification.objects.create(
        enterprise=enterprise,
        campaign=make_survey_campaign(),
        category=Category.SHUTDOWN,
        state=ClassificationState.ACCEPTED,
        is_current=True,
    )
    return enterprise


def recheck(user, enterprise, producing_again, **kwargs):
    kwargs.setdefault("inspected_on", DAY)
    return services.record_recheck(enterprise=enterprise, actor=user, producing_again=producing_again, **kwargs)


def test_producing_again_reopens_the_enterprise(users, closed):
    inspection = recheck(
        users["county_a"], closed, True, note="夜间偷偷生产，车间有新投料痕迹", inspectors="回头看小组"
    )

    assert (inspection.kind, inspection.result) == (InspectionKind.RECHECK, InspectionResult.PRODUCING_AGAIN)
    closed.refresh_from_db()
    assert closed.status == OperatingStatus.OPERATING
    assert "回头看" in closed.history.first().history_change_reason
    finding = Finding.objects.get()
    assert (finding.severity, finding.status, finding.inspection, finding.enterprise) == (
        Severity.MAJOR,
        FindingStatus.OPEN,
        inspection,
        closed,
    )
    assert "夜间偷偷生产" in finding.description
    classification = Classification.objects.get()
    assert classification.state == ClassificationState.IN_PROGRESS and classification.accepted_at is None
    step = classification.steps.get(action=StepAction.REOPEN)
    assert step.actor == users["county_a"] and step.details["inspection"] == inspection.pk
    assert "夜间偷偷生产" in step.comment


def test_still_closed_changes_nothing_else(users, closed):
    inspection = recheck(users["town_a1"], closed, False, note="厂区断水断电，设备已拆除")
    assert inspection.result == InspectionResult.NOT_PRODUCING
    closed.refresh_from_db()
    assert closed.status == OperatingStatus.CLOSED
    assert Classification.objects.get().state == ClassificationState.ACCEPTED
    assert Finding.objects.count() == 0


def test_only_closed_enterprises_are_rechecked(users, regions):
    operating = EnterpriseFactory(township=regions["town_a1"])
    with pytest.raises(ValidationError) as caught:
        recheck(users["county_a"], operating, True, note="x")
    assert "enterprise" in caught.value.message_dict


def test_producing_again_needs_a_description(users, closed):
    with pytest.raises(ValidationError) as caught:
        recheck(users["county_a"], closed, True)
    assert "note" in caught.value.message_dict
    assert Inspection.objects.count() == 0


@pytest.mark.parametrize("username", ["town_a1", "supervisor"])
def test_reopening_is_for_county_and_city_and_leaves_nothing_when_refused(users, closed, username):
    with pytest.raises(PermissionDenied):
        recheck(users[username], closed, True, note="发现生产")
    closed.refresh_from_db()
    assert closed.status == OperatingStatus.CLOSED
    assert Classification.objects.get().state == ClassificationState.ACCEPTED
    assert Inspection.objects.count() == 0 and Finding.objects.count() == 0


def test_another_township_cannot_recheck(users, closed):
    with pytest.raises(PermissionDenied):
        recheck(users["town_a2"], closed, False)


def test_deregistered_enterprise_without_classification(users, regions):
    gone = EnterpriseFactory(township=regions["town_a2"], status=OperatingStatus.DEREGISTERED)
    recheck(users["city"], gone, True, note="原址被他人租用继续生产", deadline=DAY + datetime.timedelta(days=7))
    gone.refresh_from_db()
    assert gone.status == OperatingStatus.OPERATING
    assert Finding.objects.get().deadline == DAY + datetime.timedelta(days=7)


def test_sample_draws_at_least_one_per_township_with_closed_enterprises(users, regions):
    for _ in range(5):
        EnterpriseFactory(township=regions["town_a1"], status=OperatingStatus.CLOSED)
    EnterpriseFactory(township=regions["town_a2"], status=OperatingStatus.CLOSED)
    EnterpriseFactory(township=regions["town_b1"], status=OperatingStatus.OPERATING)

    planned = services.create_recheck_sample(Q4, 0.5, random.Random(1))

    by_township = {}
    for inspection in Inspection.objects.select_related("enterprise"):
        by_township.setdefault(inspection.enterprise.township_id, []).append(inspection)
        assert inspection.status == InspectionStatus.PLANNED and inspection.kind == InspectionKind.RECHECK
        assert inspection.planned_on == datetime.date(2021, 12, 31) and inspection.sample_quarter == Q4
        assert inspection.enterprise.status == OperatingStatus.CLOSED
    assert len(planned) == 4
    assert {k: len(v) for k, v in by_township.items()} == {regions["town_a1"].pk: 3, regions["town_a2"].pk: 1}
    assert Inspection.history.filter(history_type="+").count() == 4


def test_sample_is_idempotent_per_quarter(users, regions):
    for _ in range(3):
        EnterpriseFactory(township=regions["town_a1"], status=OperatingStatus.CLOSED)
    assert len(services.create_recheck_sample(Q4, 0.1, random.Random(1))) == 1
    assert services.create_recheck_sample(Q4, 0.1, random.Random(2)) == []

    # A township that gained closed enterprises since is sampled on the next run, the others not again.
    EnterpriseFactory(township=regions["town_b1"], status=OperatingStatus.CLOSED)
    again = services.create_recheck_sample(Q4, 0.1, random.Random(3))
    assert [i.enterprise.township_id for i in again] == [regions["town_b1"].pk]
    assert Inspection.objects.count() == 2

    # The next quarter draws afresh.
    assert len(services.create_recheck_sample(datetime.date(2022, 1, 1), 0.1, random.Random(1))) == 2


def test_sample_is_reproducible_with_the_same_generator(regions):
    for _ in range(10):
        EnterpriseFactory(township=regions["town_a1"], status=OperatingStatus.CLOSED)
    first = [i.enterprise_id for i in services.create_recheck_sample(Q4, 0.3, random.Random(7))]
    Inspection.objects.all().delete()
    second = [i.enterprise_id for i in services.create_recheck_sample(Q4, 0.3, random.Random(7))]
    assert first == second and len(first) == 3


def test_sample_arguments_are_checked(db):
    with pytest.raises(ValidationError):
        services.create_recheck_sample(datetime.date(2021, 11, 1), 0.1, random.Random(1))
    with pytest.raises(ValidationError):
        services.create_recheck_sample(Q4, 0, random.Random(1))
    with pytest.raises(ValidationError):
        services.create_recheck_sample(Q4, 1.5, random.Random(1))


def test_recorded_recheck_completes_the_sampled_one(users, closed):
    [planned] = services.create_recheck_sample(Q4, 1, random.Random(1))
    assert list(selectors.planned_inspections(users["town_a1"], kind=InspectionKind.RECHECK)) == [planned]
    assert list(selectors.planned_inspections(users["town_a2"])) == []

    done = recheck(users["town_a1"], closed, False, note="仍处于关停状态")
    assert done.pk == planned.pk and done.status == InspectionStatus.DONE and done.sample_quarter == Q4
    assert Inspection.objects.count() == 1
    assert list(selectors.planned_inspections(users["town_a1"])) == []
    assert Enterprise.objects.get(pk=closed.pk).status == OperatingStatus.CLOSED
