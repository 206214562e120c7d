"""An accepted relocation (转移) moves the enterprise to its destination park, where it keeps operating; the old
site's closure is recorded in the step and the enterprise's history; the report then counts it in the park."""

import pytest
from django.utils import timezone, translation

from enterprises.choices import OperatingStatus
from enterprises.models import Enterprise
from inspections.models import Survey
from parks.choices import RecognitionStatus
from rectification import services
from rectification.choices import Category, ClassificationState, StepAction, TaskStatus
from rectification.models import ClassificationStep, Task
from rectification.reports import Quarter, compute_figures

from .factories import ChemicalParkFactory, EnterpriseFactory
from .test_acceptance import make_awaiting_acceptance


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def relocation(regions, users):
    old_park = ChemicalParkFactory(
        township=regions["town_a1"], name="新桥化工集聚区", recognition_status=RecognitionStatus.REVOKED
    )
    destination = ChemicalParkFactory(township=regions["town_a2"], name="临港化工园区")
    enterprise = EnterpriseFactory(township=regions["town_a1"], park=old_park, status=OperatingStatus.SUSPENDED)
    classification = make_awaiting_acceptance(enterprise, Category.RELOCATE, users["town_a1"])
    classification.destination_park = destination
    classification.save()
    return classification


def test_accepted_relocation_moves_the_enterprise_and_keeps_it_operating(relocation, regions, users):
    old_park = relocation.enterprise.park
    destination = relocation.destination_park
    accepted = services.accept_classification(relocation, users["county_a"], comment="迁入新园区并投产")
    assert accepted.state == ClassificationState.ACCEPTED
    enterprise = Enterprise.objects.get(pk=relocation.enterprise_id)
    assert enterprise.park == destination and enterprise.status == OperatingStatus.OPERATING
    assert enterprise.township == regions["town_a1"]  # stays with the township answerable for it
    # The old site's closure is recorded: in the acceptance step and in the enterprise's history.
    step = ClassificationStep.objects.get(classification=relocation, action=StepAction.ACCEPT)
    assert step.details == {"old_site_closed": True, "from_park": old_park.pk, "to_park": destination.pk}
    latest = enterprise.history.order_by("-history_id").first()
    assert (latest.park_id, latest.status) == (destination.pk, OperatingStatus.OPERATING)
    assert "old site closed" in latest.history_change_reason and "临港化工园区" in latest.history_change_reason
    assert enterprise.history.filter(park_id=old_park.pk).exists()  # where it was before stays on file
    assert not Task.objects.filter(plan__classification=relocation).exclude(status=TaskStatus.VERIFIED_CLOSED).exists()


def test_an_accepted_relocation_counts_as_in_park_in_the_report(relocation, regions, users):
    campaign = relocation.campaign
    Survey.objects.create(enterprise=relocation.enterprise, campaign=campaign, surveyed_on=campaign.starts_on)
    quarter = Quarter.of(timezone.localdate())

    def town_a1():
        figures = compute_figures(campaign, regions["city"], quarter)
        return next(row for row in figures["rows"] if row["code"] == regions["town_a1"].code)

    before = town_a1()
    # Suspended in a revoked park: operating-or-suspended production, but not in a recognised park.
    assert (before["production_active"], before["production_in_park"], before["in_park_rate"]) == (1, 0, 0.0)
    services.accept_classification(relocation, users["county_a"])
    after = town_a1()
    assert (after["production_active"], after["production_in_park"], after["in_park_rate"]) == (1, 1, 1.0)
    assert after["completed"]["relocate"] == 1
    # A relocation is no closure: the closure rate does not count it.
    assert (after["production_in_scope"], after["production_closed"], after["closure_rate"]) == (1, 0, 0.0)


def test_an_accepted_shutdown_still_closes_the_enterprise(regions, users):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    shutdown = make_awaiting_acceptance(enterprise, Category.SHUTDOWN, users["town_a1"])
    services.accept_classification(shutdown, users["county_a"])
    enterprise.refresh_from_db()
    assert enterprise.status == OperatingStatus.CLOSED and enterprise.park is None
