"""The rectification demo data: every state, consistent with the workflow, idempotent, walkable by the demo users."""

import datetime
import random
from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, F

from core.demo import build_demo
from rectification import services
from rectification.choices import ClassificationState, Opinion, StepAction, TaskStatus
from rectification.demo import FOUR_BATCHES_NAME, build_demo_rectification
from rectification.models import Campaign, Classification, ClassificationStep, Plan, Target, Task

S = ClassificationState


def table_counts():
    return {
        model.__name__: model.objects.count()
        for model in (Campaign, Target, Classification, ClassificationStep, Plan, Task)
    } | {"history": Classification.history.count() + Task.history.count()}


@pytest.mark.django_db
def test_demo_rectification():
    build_demo()
    four = Campaign.objects.get(name=FOUR_BATCHES_NAME)
    states = Counter(Classification.objects.filter(campaign=four).values_list("state", flat=True))
    assert set(states) == set(ClassificationState.values), states
    assert Target.objects.filter(campaign=four).count() > 20
    statuses = set(Task.objects.values_list("status", flat=True))
    assert {TaskStatus.OVERDUE, TaskStatus.DONE, TaskStatus.VERIFIED_CLOSED, TaskStatus.NOT_STARTED} <= statuses

    # Each classification's last step leads to its state (five-thorough flags aside).
    last_steps = {}
    for step in ClassificationStep.objects.order_by("at", "id"):
        last_steps[step.classification_id] = step.to_state
    for pk, state in Classification.objects.values_list("pk", "state"):
        assert last_steps[pk] == state
    # Accepted shutdowns closed their enterprise; every plan has its standard tasks.
    assert not Classification.objects.filter(
        state=S.ACCEPTED, category="shutdown", enterprise__status="operating"
    ).exists()
    assert not Plan.objects.annotate(n=Count("tasks")).filter(n=0).exists()
    assert Classification.objects.filter(state=S.SUPERSEDED, changes__is_current=True).exists()
    assert Classification.objects.pending_changes().exists()
    # Every proposal names its proposer (提出人) and every step a person, but the system's own (issue 17).
    assert not Classification.objects.filter(proposed_by__isnull=True).exists()
    unattributed = set(ClassificationStep.objects.filter(actor__isnull=True).values_list("action", flat=True))
    assert unattributed <= {StepAction.REVIEW_COMPLETE, StepAction.FIVE_THOROUGH}, unattributed

    # A second run changes nothing.
    before = table_counts()
    assert not build_demo_rectification(random.Random(1), None)
    assert table_counts() == before

    # The demo users can walk a proposal to closure.
    users = {u.username: u for u in get_user_model().objects.all()}
    township = users["township"]
    c = (
        Classification.objects.filter(
            campaign=four,
            state=S.PROPOSED,
            is_current=True,
            enterprise__township=township.region,
            category__in=["shutdown", "upgrade"],
        )
        .order_by("pk")
        .first()
    )
    assert c is not None
    services.submit_classification(c, users["county"])
    for name in ("reviewer", "reviewer_jx", "reviewer_hb", "reviewer_jt", "reviewer_gk"):
        services.give_opinion(c, users[name], Opinion.AGREE)
    services.forward_to_city(c, users["county"])
    services.approve_classification(c, users["city"])
    for task in Task.objects.filter(plan__classification=c):
        services.mark_task_done(task, township, completed_on=datetime.date.today())
        services.verify_task(task, users["county"])
    services.request_acceptance(c, township)
    services.accept_classification(c, users["city"])
    assert c.state == S.ACCEPTED


@pytest.mark.django_db
def test_demo_deadlines_lie_within_the_campaign_and_exclusions_have_none():
    """The rule refuses a deadline after the campaign's end, and an exclusion has no deadline: the demo keeps both."""
    call_command("demo", "--force", stdout=StringIO())
    assert Classification.objects.exists()
    assert not Classification.objects.filter(deadline__gt=F("campaign__ends_on")).exists()
    assert not Classification.objects.filter(category__in=["excluded", "undecided"], deadline__isnull=False).exists()
