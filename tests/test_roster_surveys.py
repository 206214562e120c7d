"""Issue 10 §1: a roster is a survey (摸排) result. Every enterprise an import creates or matches counts as
surveyed in the import's campaign from the import's date (a survey naming the import, with its history row, which
is what the quarterly report counts); a survey of the eight access requirements supersedes it."""

import datetime

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from enterprises.models import Enterprise
from imports import services as import_services
from inspections import services as inspection_services
from inspections.choices import AccessArea, SurveySource
from inspections.models import Survey

from .api_support import api_client_for
from .factories import CampaignFactory, EnterpriseFactory, next_uscc
from .import_support import roster_upload, row


@pytest.fixture(autouse=True)
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    cache.clear()
    with translation.override("en"):
        yield


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项整治 2021-2023")


def import_roster(user, campaign, rows, *, skip_errors=False):
    record = import_services.start_import(file=roster_upload(rows), user=user, campaign=campaign)
    import_services.preview(record, user)
    record.refresh_from_db()
    previewed = record.surveyed_count
    import_services.commit(record, user, skip_errors=skip_errors)
    record.refresh_from_db()
    return record, previewed


def all_conforming():
    return dict.fromkeys(AccessArea.values, (True, ""))


def test_an_import_records_every_created_or_matched_enterprise_as_surveyed(users, regions, campaign):
    user = users["town_a1"]
    matched = EnterpriseFactory(township=regions["town_a1"], name="甲一涂料厂")
    surveyed_before = EnterpriseFactory(township=regions["town_a1"], name="甲一油墨厂")
    earlier = inspection_services.save_survey(
        enterprise=surveyed_before,
        campaign=campaign,
        actor=user,
        items=all_conforming(),
        surveyed_on=datetime.date(2021, 3, 10),
    )
    other_campaign = CampaignFactory(name="263专项行动")
    rows = [
        row(next_uscc(), "甲一橡胶制品厂", category="拟关停"),
        row(next_uscc(), "甲一乳胶厂"),  # no category: still a surveyed enterprise
        row(matched.uscc, matched.name),  # matched, nothing changes in it
        row(surveyed_before.uscc, surveyed_before.name),
        row("BAD", "坏代码厂"),
    ]
    record, previewed = import_roster(user, campaign, rows, skip_errors=True)
    today = timezone.localdate()

    assert previewed == 3 and record.surveyed_count == 3
    made = Survey.objects.filter(source=SurveySource.ROSTER_IMPORT).select_related("enterprise")
    assert sorted(s.enterprise.name for s in made) == ["甲一乳胶厂", "甲一橡胶制品厂", "甲一涂料厂"]
    for survey in made:
        assert (survey.campaign, survey.surveyed_on, survey.roster_import, survey.recorded_by) == (
            campaign,
            today,
            record,
            user,
        )
        assert survey.items.count() == 0
        history = survey.history.get()
        assert (history.history_type, history.history_user, history.history_change_reason) == ("+", user, record.reason)
        # The history row holds the survey as written (the report reads surveys from the history).
        assert (history.id, history.enterprise_id, history.campaign_id, history.surveyed_on, history.source) == (
            survey.pk,
            survey.enterprise_id,
            campaign.pk,
            today,
            SurveySource.ROSTER_IMPORT,
        )
        assert (history.roster_import_id, history.recorded_by_id, history.created_at) == (
            record.pk,
            user.pk,
            survey.created_at,
        )
        assert survey.updated_at == survey.created_at and (survey.surveyed_by, survey.note) == ("", "")
    # The survey of the eight requirements stays as it was; the row in error is not surveyed; other campaigns untouched.
    earlier.refresh_from_db()
    assert (earlier.source, earlier.surveyed_on, earlier.roster_import) == (
        SurveySource.BROWSER,
        datetime.date(2021, 3, 10),
        None,
    )
    assert not Survey.objects.filter(enterprise__name="坏代码厂").exists()
    assert not Survey.objects.filter(campaign=other_campaign).exists()
    assert Survey.objects.filter(campaign=campaign).count() == 4

    # Importing the same roster again records nothing twice.
    again, previewed_again = import_roster(user, campaign, rows, skip_errors=True)
    assert previewed_again == 0 and again.surveyed_count == 0
    assert Survey.objects.count() == 4


def test_a_survey_of_the_eight_requirements_supersedes_the_import_made_one(users, regions, campaign, client_for):
    user = users["town_a1"]
    code = next_uscc()
    record, _ = import_roster(user, campaign, [row(code, "甲一涂料厂")])
    enterprise = Enterprise.objects.get(uscc=code)
    survey = Survey.objects.get()

    client = client_for(users["county_a"])
    dossier = client.get(reverse("enterprises:detail", args=[enterprise.pk])).content.decode()
    assert 'data-testid="survey-from-import"' in dossier and f"from roster import #{record.pk}" in dossier
    form = client.get(reverse("inspections:survey", args=[enterprise.pk, campaign.pk])).content.decode()
    assert f"roster import #{record.pk} lists it" in form

    items = all_conforming()
    items[AccessArea.ENVIRONMENT] = (False, "环评手续不全")
    upgraded = inspection_services.save_survey(
        enterprise=enterprise,
        campaign=campaign,
        actor=users["county_a"],
        items=items,
        surveyed_on=timezone.localdate(),
        surveyed_by="王五",
    )
    assert upgraded.pk == survey.pk and Survey.objects.count() == 1
    upgraded.refresh_from_db()
    assert (upgraded.source, upgraded.roster_import, upgraded.recorded_by) == (
        SurveySource.BROWSER,
        record,
        users["county_a"],
    )
    assert upgraded.items.count() == 8 and upgraded.findings.count() == 1
    dossier = client.get(reverse("enterprises:detail", args=[enterprise.pk])).content.decode()
    assert (
        'data-testid="survey-from-import"' not in dossier
        and f"first counted from roster import #{record.pk}" in dossier
    )

    # A later import of the same enterprise leaves the richer record alone.
    again, _ = import_roster(user, campaign, [row(code, "甲一涂料厂")])
    assert again.surveyed_count == 0
    upgraded.refresh_from_db()
    assert upgraded.source == SurveySource.BROWSER and upgraded.surveyed_by == "王五"


def test_save_and_survey_the_next_offers_enterprises_surveyed_only_by_their_roster(
    users, regions, campaign, client_for
):
    user = users["town_a1"]
    first = EnterpriseFactory(township=regions["town_a1"], name="甲 化工")
    imported = EnterpriseFactory(township=regions["town_a1"], name="乙 化工")
    import_roster(user, campaign, [row(first.uscc, first.name), row(imported.uscc, imported.name)])
    data = {"surveyed_on": timezone.localdate().isoformat(), "surveyed_by": "张三", "note": "", "save_next": "1"}
    for area in AccessArea.values:
        data[f"{area}_conforming"], data[f"{area}_note"] = "yes", ""
    response = client_for(user).post(reverse("inspections:survey", args=[first.pk, campaign.pk]), data)
    # 乙 counts as surveyed (its roster) but its eight requirements are still to be recorded: it is next.
    assert response["Location"] == reverse("inspections:survey", args=[imported.pk, campaign.pk])
    assert Survey.objects.get(enterprise=first).source == SurveySource.BROWSER


def test_the_api_shows_how_a_survey_was_recorded(regions, users, campaign):
    record, _ = import_roster(users["town_a1"], campaign, [row(next_uscc(), "甲一涂料厂")])
    _c, _t, http = api_client_for(regions["town_a1"])
    body = http.get("/api/v1/surveys/", {"source": "roster_import"}).json()
    assert body["count"] == 1
    survey = body["results"][0]
    assert (survey["source"], survey["roster_import"], survey["items"]) == ("roster_import", record.pk, [])
    assert http.get("/api/v1/surveys/", {"source": "browser"}).json()["count"] == 0
    detail = http.get(f"/api/v1/imports/{record.pk}/").json()
    assert detail["counts"]["surveyed"] == 1 and detail["warnings"] == []


def _queries(user, campaign, enterprises):
    rows = [row(e.uscc, e.name, township=e.township.name, category="升级") for e in enterprises]
    record = import_services.start_import(file=roster_upload(rows), user=user, campaign=campaign)
    with CaptureQueriesContext(connection) as previewing:
        import_services.preview(record, user)
    with CaptureQueriesContext(connection) as committing:
        import_services.commit(record, user)
    record.refresh_from_db()
    assert record.surveyed_count == len(enterprises)
    return len(previewing.captured_queries), len(committing.captured_queries)


def test_recording_matched_enterprises_as_surveyed_does_not_query_per_row(users, regions, campaign):
    user = users["county_a"]
    few = [EnterpriseFactory(township=regions["town_a1"], name=f"少{index}") for index in range(4)]
    many = [EnterpriseFactory(township=regions["town_a2"], name=f"多{index}") for index in range(120)]
    assert _queries(user, campaign, few) == _queries(user, campaign, many)
    assert Survey.objects.filter(source=SurveySource.ROSTER_IMPORT).count() == 124


def test_a_campaign_closed_between_upload_and_preview_fails_the_import_with_the_reason(users, campaign):
    from imports.models import ImportStatus

    user = users["town_a1"]
    record = import_services.start_import(
        file=roster_upload([row(next_uscc(), "甲一涂料厂")]), user=user, campaign=campaign
    )
    campaign.status = "closed"
    campaign.save()
    import_services.preview(record, user)
    record.refresh_from_db()
    assert record.status == ImportStatus.FAILED and "is closed" in record.message
    assert not Survey.objects.exists() and not Enterprise.objects.exists()
