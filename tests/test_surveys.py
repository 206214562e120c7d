"""Surveys (摸排): the eight access requirements, findings kept in step, permissions and the dossier section."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.choices import Role
from inspections import selectors, services
from inspections.choices import AccessArea, FindingStatus
from inspections.models import Finding, Survey, SurveyItem
from rectification.choices import CampaignStatus

from .factories import EnterpriseFactory, UserFactory, make_survey_campaign


@pytest.fixture(autouse=True)
def english():
    """Assertions read the English messages, whatever the catalogue holds."""
    with translation.override("en"):
        yield


SURVEYED_ON = datetime.date(2021, 3, 10)


def answers(**non_conforming):
    """All eight areas conforming except those given as area=note."""
    return {area: (area not in non_conforming, non_conforming.get(area, "")) for area in AccessArea.values}


@pytest.fixture
def campaign(db):
    return make_survey_campaign()


@pytest.fixture
def enterprise(regions):
    return EnterpriseFactory(township=regions["town_a1"])


def save(user, enterprise, campaign, items, **kwargs):
    return services.save_survey(
        enterprise=enterprise, campaign=campaign, actor=user, items=items, surveyed_on=SURVEYED_ON, **kwargs
    )


def test_survey_records_eight_areas_and_opens_one_finding_per_nonconformity(users, enterprise, campaign):
    survey = save(
        users["town_a1"],
        enterprise,
        campaign,
        answers(land="未取得土地使用证", project_approval="无立项备案"),
        surveyed_by="张三、李四",
    )

    assert survey.items.count() == 8
    assert dict(survey.items.values_list("area", "conforming"))["land"] is False
    findings = Finding.objects.filter(survey=survey).order_by("area")
    assert [(f.area, f.description, f.status, f.enterprise_id) for f in findings] == [
        ("land", "未取得土地使用证", FindingStatus.OPEN, enterprise.pk),
        ("project_approval", "无立项备案", FindingStatus.OPEN, enterprise.pk),
    ]
    assert findings[0].created_by == users["town_a1"]
    assert survey.recorded_by == users["town_a1"] and survey.surveyed_by == "张三、李四"


def test_saving_the_same_survey_again_changes_nothing(users, enterprise, campaign):
    save(users["town_a1"], enterprise, campaign, answers(land="未取得土地使用证"))
    history_before = (Survey.history.count(), SurveyItem.history.count(), Finding.history.count())

    survey = save(users["town_a1"], enterprise, campaign, answers(land="未取得土地使用证"))

    assert Survey.objects.count() == 1 and survey.items.count() == 8
    assert Finding.objects.count() == 1
    assert (Survey.history.count(), SurveyItem.history.count(), Finding.history.count()) == history_before


def test_an_area_becoming_conforming_awaits_verification_by_someone_else(users, enterprise, campaign):
    officer = users["town_a1"]
    save(officer, enterprise, campaign, answers(land="未取得土地使用证"))
    finding = Finding.objects.get()

    save(officer, enterprise, campaign, answers())

    finding.refresh_from_db()
    assert finding.status == FindingStatus.AWAITING_VERIFICATION
    assert finding.fixed_by == officer and "conforming" in finding.fix_note
    with pytest.raises(PermissionDenied):
        services.verify_finding(finding=finding, actor=officer)
    services.verify_finding(finding=finding, actor=users["county_a"], note="现场核实已办证")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED and finding.verified_by == users["county_a"]


def test_a_new_nonconformity_after_closing_opens_a_new_finding(users, enterprise, campaign):
    officer = users["town_a1"]
    save(officer, enterprise, campaign, answers(land="未取得土地使用证"))
    save(officer, enterprise, campaign, answers())
    services.verify_finding(finding=Finding.objects.get(), actor=users["county_a"])

    # Still non-conforming after the closed one: unchanged, so nothing happens.
    save(officer, enterprise, campaign, answers())
    assert Finding.objects.filter(status=FindingStatus.CLOSED).count() == 1

    save(officer, enterprise, campaign, answers(land="土地证过期"))
    assert Finding.objects.filter(status=FindingStatus.OPEN, description="土地证过期").count() == 1
    assert Finding.objects.filter(status=FindingStatus.CLOSED).count() == 1


def test_changed_note_updates_the_open_finding(users, enterprise, campaign):
    save(users["town_a1"], enterprise, campaign, answers(energy_use="能耗超标"))
    save(users["town_a1"], enterprise, campaign, answers(energy_use="单位产品能耗超过限额标准"))
    assert list(Finding.objects.values_list("description", flat=True)) == ["单位产品能耗超过限额标准"]


def test_flipping_back_reopens_a_finding_awaiting_verification(users, enterprise, campaign):
    save(users["town_a1"], enterprise, campaign, answers(land="未取得土地使用证"))
    save(users["town_a1"], enterprise, campaign, answers())
    save(users["town_a1"], enterprise, campaign, answers(land="仍未取得土地使用证"))
    finding = Finding.objects.get()
    assert finding.status == FindingStatus.REOPENED and finding.description == "仍未取得土地使用证"


def test_every_area_must_be_answered_and_nonconformities_described(users, enterprise, campaign):
    items = answers()
    del items["land"]
    items["environment"] = (False, "  ")
    with pytest.raises(ValidationError) as caught:
        save(users["town_a1"], enterprise, campaign, items)
    assert set(caught.value.message_dict) == {"land", "environment"}
    assert Survey.objects.count() == 0 and Finding.objects.count() == 0


def test_unknown_area_and_future_date_are_refused(users, enterprise, campaign):
    items = answers()
    items["weather"] = (True, "")
    with pytest.raises(ValidationError) as caught:
        save(users["town_a1"], enterprise, campaign, items)
    assert "items" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.save_survey(
            enterprise=enterprise,
            campaign=campaign,
            actor=users["town_a1"],
            items=answers(),
            surveyed_on=datetime.date.today() + datetime.timedelta(days=2),
        )
    assert "surveyed_on" in caught.value.message_dict


def test_closed_campaign_is_refused(users, enterprise, campaign):
    campaign.status = CampaignStatus.CLOSED
    campaign.save()
    with pytest.raises(ValidationError) as caught:
        save(users["town_a1"], enterprise, campaign, answers())
    assert "campaign" in caught.value.message_dict


@pytest.mark.parametrize("username", ["town_a2", "reviewer", "supervisor"])
def test_surveys_refused_outside_region_or_role(users, enterprise, campaign, username):
    with pytest.raises(PermissionDenied):
        save(users[username], enterprise, campaign, answers(land="x"))
    assert Survey.objects.count() == 0 and Finding.objects.count() == 0


def test_api_role_cannot_survey(regions, enterprise, campaign):
    robot = UserFactory(role=Role.API, region=regions["city"])
    with pytest.raises(PermissionDenied):
        save(robot, enterprise, campaign, answers())


def test_county_and_city_may_survey_enterprises_below_them(users, enterprise, campaign):
    save(users["county_a"], enterprise, campaign, answers())
    save(users["city"], enterprise, campaign, answers(land="x"))
    assert Survey.objects.get().items.filter(conforming=False).count() == 1


def test_survey_form_and_scoping(users, enterprise, campaign):
    save(users["town_a1"], enterprise, campaign, answers(land="未取得土地使用证"))
    form = selectors.survey_for_form(users["town_a1"], enterprise, campaign)
    assert form.answers["land"] == (False, "未取得土地使用证")
    assert selectors.survey_for_form(users["town_a2"], enterprise, campaign).survey is None
    assert selectors.surveys_list(users["town_a2"]).count() == 0
    row = selectors.surveys_list(users["county_a"], campaign=campaign).get()
    assert row.non_conforming_count == 1


def _sections_queries(user, enterprise):
    with CaptureQueriesContext(connection) as context:
        sections = selectors.enterprise_sections(user, enterprise)
        for survey in sections.surveys:
            [item.get_area_display() for item in survey.sorted_items]
            [f.status for f in survey.finding_list]
        for inspection in sections.inspections:
            list(inspection.departments.all()), list(inspection.attachments.all()), list(inspection.check_items.all())
        for finding in sections.findings:
            str(finding.responsible_department), str(finding.fixed_by), str(finding.inspection)
    return sections, len(context.captured_queries)


def test_dossier_sections_cost_a_fixed_number_of_queries(users, regions, enterprise):
    officer = users["town_a1"]
    first = make_survey_campaign(name="第一轮摸排")
    save(officer, enterprise, first, answers(land="a"))
    services.record_inspection(
        actor=officer, kind="daily", enterprise=enterprise, inspected_on=SURVEYED_ON, result="no_issues"
    )
    sections, few = _sections_queries(officer, enterprise)
    assert len(sections.surveys) == 1 and sections.open_findings == 1
    assert [item.area for item in sections.surveys[0].sorted_items] == AccessArea.values

    for index in range(3):
        save(officer, enterprise, make_survey_campaign(name=f"第{index + 2}轮"), answers(land="a", energy_use="b"))
        services.record_inspection(
            actor=officer,
            kind="daily",
            enterprise=enterprise,
            inspected_on=SURVEYED_ON,
            result="issues_found",
            findings=[{"area": "work_safety", "description": f"问题{index}"}],
        )
    sections, many = _sections_queries(officer, enterprise)
    assert len(sections.surveys) == 4 and len(sections.inspections) == 4 and len(sections.findings) == 10
    assert many == few
