"""The demo's history is dated over the campaign's period (working days, office hours, nothing in the future,
each event after the one it follows), so a past quarter's report shows that quarter's figures."""

import datetime

import pytest
from django.apps import apps
from django.db.models import Min
from django.utils import timezone

from core.demo import OFFICE_HOURS, DemoCalendar, build_demo
from enterprises.models import Enterprise
from inspections.models import Finding, Inspection, Survey
from rectification.choices import ClassificationState, StepAction
from rectification.demo import FOUR_BATCHES_NAME
from rectification.models import Campaign, Classification, ClassificationStep, Target, Task
from rectification.reports import Quarter, as_of, compute_figures
from regions.models import Region


def history_models():
    return [
        model
        for model in apps.get_models()
        if model.__name__.startswith("Historical") and any(f.name == "history_date" for f in model._meta.fields)
    ]


@pytest.mark.django_db
def test_demo_history_is_spread_over_the_campaign_and_past_quarters_differ():
    build_demo()
    today = timezone.localdate()
    calendar = DemoCalendar(today)
    now = calendar.now

    def in_office(moment) -> bool:
        local = timezone.localtime(moment)
        return (
            calendar.is_working_day(local.date())
            and any(start <= local.time() <= end for start, end in OFFICE_HOURS)
            and moment <= now
        )

    # Every history row and every dated event: a working day, office hours, not after now.
    for model in history_models():
        dates = list(model.objects.values_list("history_date", flat=True))
        assert all(in_office(moment) for moment in dates), model.__name__
    events = {
        "steps": ClassificationStep.objects.values_list("at", flat=True),
        "tasks done": Task.objects.exclude(done_at=None).values_list("done_at", flat=True),
        "tasks verified": Task.objects.exclude(verified_at=None).values_list("verified_at", flat=True),
        "findings": Finding.objects.values_list("created_at", flat=True),
        "findings verified": Finding.objects.exclude(verified_at=None).values_list("verified_at", flat=True),
        "classifications": Classification.objects.values_list("created_at", flat=True),
    }
    for name, moments in events.items():
        assert all(in_office(moment) for moment in moments), name
    assert all(calendar.is_working_day(day) for day in Survey.objects.values_list("surveyed_on", flat=True))
    assert all(
        calendar.is_working_day(day)
        for day in Inspection.objects.exclude(inspected_on=None).values_list("inspected_on", flat=True)
    )

    # Spread over the campaign: history in many quarters, not all today.
    four = Campaign.objects.get(name=FOUR_BATCHES_NAME)
    step_quarters = {Quarter.of(timezone.localtime(at).date()) for at in events["steps"]}
    assert len(step_quarters) >= 5 and min(step_quarters) <= Quarter.of(four.starts_on).next()
    assert Enterprise.history.filter(history_date__date__lt=four.starts_on).count() >= 600  # entered before

    # A step never before the one it follows; tasks after the approval, acceptance after the tasks.
    previous = {}
    for classification_id, at in ClassificationStep.objects.order_by("classification_id", "id").values_list(
        "classification_id", "at"
    ):
        assert at >= previous.get(classification_id, at)
        previous[classification_id] = at
    for task in Task.objects.exclude(done_at=None).select_related("plan__classification"):
        classification = task.plan.classification
        assert classification.approved_at <= task.done_at
        assert task.verified_at is None or task.done_at <= task.verified_at
        assert classification.accepted_at is None or task.done_at <= classification.accepted_at
    first_proposal = dict(
        ClassificationStep.objects.filter(action=StepAction.PROPOSE, classification__campaign=four)
        .values_list("classification__enterprise_id")
        .annotate(first=Min("at"))
    )
    for enterprise_id, surveyed_on in Survey.objects.filter(campaign=four).values_list("enterprise_id", "surveyed_on"):
        if enterprise_id in first_proposal:
            assert surveyed_on <= timezone.localtime(first_proposal[enterprise_id]).date()
    signed = Target.history.filter(
        campaign_id=four.pk, history_date__date__lt=four.starts_on + datetime.timedelta(days=40)
    )
    assert signed.count() == Target.objects.filter(campaign=four).count()  # signed in the campaign's first weeks

    # The history ends where the records stand (one row per change, in order).
    moment = now + datetime.timedelta(seconds=1)
    live = dict(Classification.objects.values_list("pk", "state"))
    assert dict(as_of(Classification, moment).values_list("id", "state")) == live
    live = {pk: (status, park) for pk, status, park in Enterprise.objects.values_list("pk", "status", "park_id")}
    assert {pk: (s, p) for pk, s, p in as_of(Enterprise, moment).values_list("id", "status", "park_id")} == live

    # A past quarter's figures are that quarter's, not today's.
    city = Region.objects.get(code="321900")
    current = compute_figures(four, city, Quarter.of(today), as_of_day=today)["rows"][0]
    past = compute_figures(four, city, Quarter.of(four.starts_on).next())["rows"][0]
    assert past["completed_total"] < current["completed_total"]
    assert past["approved_total"] < current["approved_total"]
    assert past["surveyed"] <= current["surveyed"] and past["target_total"] < current["target_total"]
    assert (
        current["completed_total"]
        == Classification.objects.filter(
            campaign=four,
            is_current=True,
            state=ClassificationState.ACCEPTED,
            category__in=["shutdown", "relocate", "upgrade", "restructure"],
        ).count()
    )
