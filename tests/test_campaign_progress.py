"""Campaign progress: targets against computed progress, rolled up along the region tree in fixed queries."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from rectification import services
from rectification.choices import Category, ClassificationState
from rectification.models import Campaign, Target
from rectification.selectors import campaign_progress, classifications_for_campaign

from .factories import CampaignFactory, ClassificationFactory, EnterpriseFactory, TargetFactory, make_township

S = ClassificationState


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def accepted_in(year):
    return timezone.make_aware(datetime.datetime(year, 6, 1, 12))


@pytest.fixture
def campaign(regions):
    campaign = CampaignFactory()
    TargetFactory(campaign=campaign, region=regions["town_a1"], year=2021, shutdown=3, relocate=1)
    TargetFactory(campaign=campaign, region=regions["town_a2"], year=2021, shutdown=2)
    TargetFactory(campaign=campaign, region=regions["town_a2"], year=2022, shutdown=1)
    TargetFactory(campaign=campaign, region=regions["county_a"], year=2022, upgrade=4)

    def classify(town, category, state, accepted=None, **extra):
        return ClassificationFactory(
            enterprise=EnterpriseFactory(township=regions[town]),
            campaign=campaign,
            category=category,
            state=state,
            accepted_at=accepted_in(accepted) if accepted else None,
            **extra,
        )

    classify("town_a1", Category.SHUTDOWN, S.ACCEPTED, 2021)
    classify("town_a1", Category.SHUTDOWN, S.ACCEPTED, 2021)
    classify("town_a1", Category.SHUTDOWN, S.IN_PROGRESS)
    classify("town_a1", Category.RELOCATE, S.UNDER_REVIEW)
    classify("town_a1", Category.EXCLUDED, S.APPROVED, exclusion_reason="非化工")
    classify("town_a2", Category.SHUTDOWN, S.ACCEPTED, 2022)
    classify("town_b1", Category.UPGRADE, S.IN_PROGRESS)
    classify("town_b1", Category.SHUTDOWN, S.SUPERSEDED, is_current=False)  # replaced: not counted
    ClassificationFactory(enterprise=EnterpriseFactory(township=regions["town_b1"]), category=Category.SHUTDOWN)
    return campaign


def rows_by_name(rows):
    return {row.region.name: row for row in rows}


def test_progress_over_the_whole_campaign(campaign, users):
    rows = campaign_progress(campaign, users["city"])
    assert [row.region.name for row in rows] == ["示范市", "甲县", "甲一镇", "甲二镇", "乙县", "乙一镇"]
    assert [row.depth for row in rows] == [0, 1, 2, 2, 1, 2]
    by = rows_by_name(rows)
    a1 = by["甲一镇"]
    assert a1.target == {"shutdown": 3, "relocate": 1, "upgrade": 0, "restructure": 0} and a1.has_own_target
    assert a1.decided["shutdown"] == 3 and a1.completed["shutdown"] == 2
    assert (a1.proposed["relocate"], a1.proposed_total, a1.excluded) == (1, 1, 1)
    assert (a1.enterprises, a1.surveyed) == (5, 0)
    assert a1.rate_for("shutdown") == pytest.approx(2 / 3)
    # County A has a target of its own (2022), which takes the place of its townships' sum.
    assert by["甲县"].has_own_target and by["甲县"].target["upgrade"] == 4 and by["甲县"].target["shutdown"] == 0
    assert by["甲县"].completed["shutdown"] == 3 and by["甲县"].decided_total == 4
    # Its only targeted batch (upgrade) has nothing completed: the three shutdowns, untargeted, do not count.
    assert by["甲县"].completion_rate == 0 and by["甲县"].rate_for("shutdown") is None
    # County B has no target at all; the city adds up its counties.
    assert by["乙县"].target_total == 0 and by["乙县"].completion_rate is None
    assert by["乙县"].decided == {"shutdown": 0, "relocate": 0, "upgrade": 1, "restructure": 0}
    city = by["示范市"]
    assert not city.has_own_target and city.target["upgrade"] == 4
    assert city.completed_total == 3 and city.decided_total == 5 and city.excluded == 1


def test_progress_of_one_year(campaign, users):
    by = rows_by_name(campaign_progress(campaign, users["city"], year=2021))
    # No own target of county A for 2021: its townships' targets are summed.
    assert not by["甲县"].has_own_target
    assert by["甲县"].target == {"shutdown": 5, "relocate": 1, "upgrade": 0, "restructure": 0}
    assert by["甲县"].completed["shutdown"] == 2  # the 2022 acceptance of 甲二镇 does not count in 2021
    assert by["甲县"].completion_rate == pytest.approx(2 / 6)
    by_2022 = rows_by_name(campaign_progress(campaign, users["city"], year=2022))
    assert by_2022["甲二镇"].completed["shutdown"] == 1 and by_2022["甲二镇"].target["shutdown"] == 1


def test_progress_is_scoped_and_costs_three_queries(campaign, users, regions, django_assert_num_queries):
    rows = campaign_progress(campaign, users["town_a1"])
    assert [row.region.name for row in rows] == ["甲一镇"]
    assert rows[0].depth == 0
    county_rows = campaign_progress(campaign, users["county_a"])
    assert [row.region.name for row in county_rows] == ["甲县", "甲一镇", "甲二镇"]
    rooted = campaign_progress(campaign, users["city"], root=regions["county_b"])
    assert [row.region.name for row in rooted] == ["乙县", "乙一镇"]
    with django_assert_num_queries(3):
        campaign_progress(campaign, users["city"])
    for number in range(3, 15):
        town = make_township(regions["county_b"], number)
        ClassificationFactory(enterprise=EnterpriseFactory(township=town), campaign=campaign, state=S.IN_PROGRESS)
    with django_assert_num_queries(3):
        rows = campaign_progress(campaign, users["city"])
    assert rows_by_name(rows)["乙县"].decided["upgrade"] == 13


def test_classification_list_filters_and_counts(campaign, users, regions, django_assert_num_queries):
    rows = classifications_for_campaign(campaign, users["county_a"])
    with django_assert_num_queries(1):
        listed = list(rows)
    assert len(listed) == 6 and {c.enterprise.township.parent.name for c in listed} == {"甲县"}
    assert all(c.tasks_total == 0 and not c.has_pending_change for c in listed)
    shutdowns = classifications_for_campaign(campaign, users["city"], category=Category.SHUTDOWN)
    assert shutdowns.count() == 4
    assert classifications_for_campaign(campaign, users["city"], state=S.ACCEPTED).count() == 3
    assert classifications_for_campaign(campaign, users["city"], region=regions["town_b1"]).count() == 1


def test_save_target_rules(campaign, users, regions):
    county, city, town = users["county_a"], users["city"], users["town_a1"]
    target = services.save_target(county, campaign, regions["town_a1"], 2023, {"shutdown": 5})
    assert (target.shutdown, target.relocate) == (5, 0)
    again = services.save_target(county, campaign, regions["town_a1"], 2023, {"shutdown": 5})
    assert again.pk == target.pk and again.version == 1
    services.save_target(county, campaign, regions["town_a1"], 2023, {"relocate": 2})
    target.refresh_from_db()
    assert (target.shutdown, target.relocate, target.version) == (5, 2, 2)
    with pytest.raises(PermissionDenied, match="level above"):
        services.save_target(county, campaign, regions["county_a"], 2023, {"upgrade": 1})
    with pytest.raises(PermissionDenied, match="outside your region"):
        services.save_target(county, campaign, regions["town_b1"], 2023, {"upgrade": 1})
    with pytest.raises(PermissionDenied):
        services.save_target(town, campaign, regions["town_a1"], 2023, {"upgrade": 1})
    with pytest.raises(ValidationError) as caught:
        services.save_target(city, campaign, regions["county_a"], 2025, {"upgrade": 1})
    assert "year" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.save_target(city, campaign, regions["county_a"], 2023, {"upgrade": -1})
    assert "upgrade" in caught.value.message_dict
    services.save_target(city, campaign, regions["county_a"], 2023, {"upgrade": 1})
    assert Target.objects.filter(campaign=campaign, region=regions["county_a"], year=2023, upgrade=1).exists()


def test_campaign_services(users):
    with pytest.raises(PermissionDenied, match="Only the city office"):
        services.create_campaign(
            users["county_a"],
            {"name": "x", "starts_on": datetime.date(2021, 1, 1), "ends_on": datetime.date(2021, 12, 31)},
        )
    with pytest.raises(ValidationError):
        services.create_campaign(
            users["city"],
            {"name": "倒置", "starts_on": datetime.date(2022, 1, 1), "ends_on": datetime.date(2021, 1, 1)},
        )
    campaign = services.create_campaign(
        users["city"],
        {
            "name": "263行动",
            "kind": "campaign_263",
            "starts_on": datetime.date(2021, 1, 1),
            "ends_on": datetime.date(2022, 12, 31),
        },
    )
    services.save_target(users["city"], campaign, users["county_a"].region, 2022, {"shutdown": 1})
    with pytest.raises(ValidationError, match="outside the new period"):
        services.update_campaign(campaign, users["city"], {"ends_on": datetime.date(2021, 12, 31)})
    assert services.update_campaign(campaign, users["city"], {"description": "淘汰落后产能"}) == ["description"]
    assert services.update_campaign(campaign, users["city"], {"description": "淘汰落后产能"}) == []


def test_admin_pages_are_scoped_and_write_through_services(campaign, users, regions, client_for):
    county_client = client_for(users["county_a"])
    for name in ("campaign", "target", "classification", "task"):
        assert county_client.get(f"/admin/rectification/{name}/").status_code == 200
    classifications = county_client.get("/admin/rectification/classification/").context["cl"].result_list
    assert {c.enterprise.township.parent.name for c in classifications} == {"甲县"}
    listed = county_client.get("/admin/rectification/target/")
    assert {t.region.name for t in listed.context["cl"].result_list} == {"甲一镇", "甲二镇", "甲县"}
    other = Target.objects.get(region=regions["town_a1"], year=2021)
    # a county cannot add campaigns
    assert county_client.get("/admin/rectification/campaign/add/").status_code == 403
    response = county_client.post(
        f"/admin/rectification/target/{other.pk}/change/",
        {"shutdown": 7, "relocate": 1, "upgrade": 0, "restructure": 0},
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.shutdown == 7 and other.history.first().history_user == users["county_a"]
    city_client = client_for(users["city"])
    response = city_client.post(
        "/admin/rectification/campaign/add/",
        {
            "name": "散乱污整治",
            "kind": "scattered_polluting",
            "starts_on": "2021-01-01",
            "ends_on": "2021-12-31",
            "status": "active",
        },
    )
    assert response.status_code == 302
    assert Campaign.history.filter(name="散乱污整治", history_user=users["city"]).exists()
