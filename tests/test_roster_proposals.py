"""Issue 10 §1: a township roster is a list of proposals. An incomplete proposal (拟转移 without its destination
park, 拟重组 without the absorbing enterprise, 剔除 without the written reason) is valid at the township's step in
every entry point (web form, roster import, REST API) and shows what is missing; the county's submission (and
forwarding, approval) is refused until it is filled in. Details that are given must still be valid."""

import datetime
import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from accounts.models import Department
from imports import services as import_services
from imports.models import RosterImport, RosterImportRow, RowAction
from parks.choices import RecognitionStatus
from rectification import services
from rectification.choices import Category, ClassificationState, StepAction
from rectification.models import Classification

from .api_support import api_client_for
from .factories import CampaignFactory, ChemicalParkFactory, ClassificationFactory, EnterpriseFactory, next_uscc
from .import_support import STANDARD_HEADERS, roster_bytes, roster_upload, row

S = ClassificationState
V1 = "/api/v1/"
DETAIL_HEADERS = [*STANDARD_HEADERS, "迁入园区", "兼并企业", "剔除原因"]

#: category → (the detail it needs, a word a roster uses for it)
INCOMPLETE = {
    Category.RELOCATE: ("destination_park", "拟转移"),
    Category.RESTRUCTURE: ("absorbing_enterprise", "拟重组"),
    Category.EXCLUDED: ("exclusion_reason", "剔除"),
}


@pytest.fixture(autouse=True)
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    cache.clear()  # API throttling counters
    with translation.override("en"):
        yield


@pytest.fixture
def no_prereview(db):
    Department.objects.update(reviews_classifications=False)


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项整治 2021-2023")


@pytest.fixture
def enterprise(regions):
    return EnterpriseFactory(township=regions["town_a1"], name="甲一涂料化工有限公司")


@pytest.fixture
def park(regions):
    return ChemicalParkFactory(township=regions["town_a2"], name="甲县化工园区", code="P-A2")


def complete(category, park, absorber):
    return {
        Category.RELOCATE: {"destination_park": park},
        Category.RESTRUCTURE: {"absorbing_enterprise": absorber},
        Category.EXCLUDED: {"exclusion_reason": "经精准识别不属于化工企业"},
    }[category]


# --- The service: proposal accepts, submission refuses --------------------------------------------------


@pytest.mark.parametrize("category", list(INCOMPLETE))
def test_proposal_accepts_an_incomplete_category_and_submit_refuses_it(
    category, enterprise, campaign, users, regions, park, no_prereview
):
    field, _word = INCOMPLETE[category]
    c = services.propose_classification(enterprise, campaign, category, users["town_a1"])
    assert (c.state, c.category) == (S.PROPOSED, category)
    missing = services.missing_details(c)
    assert list(missing) == [field] and "needed before the county submits" in missing[field]

    county = users["county_a"]
    reason = services.why_not(c, county, StepAction.SUBMIT)
    assert "not complete yet" in reason and "needed before the county submits" in reason
    assert "edits its proposal" in reason and "adjusts it" in reason
    with pytest.raises(ValidationError) as refused:
        services.submit_classification(c, county)
    assert list(refused.value.message_dict) == [field]
    c.refresh_from_db()
    assert c.state == S.PROPOSED and c.steps.count() == 1

    # The county fills it in (adjust), then submits.
    absorber = EnterpriseFactory(township=regions["town_a2"], name="甲二集团")
    services.adjust_classification(c, county, category, **complete(category, park, absorber))
    assert services.missing_details(c) == {} and services.why_not(c, county, StepAction.SUBMIT) is None
    services.submit_classification(c, county)
    assert c.state == S.REVIEWED


def test_the_township_completes_its_own_proposal_later(enterprise, campaign, users, park):
    town = users["town_a1"]
    c = services.propose_classification(enterprise, campaign, Category.RELOCATE, town, problems="规模小")
    again = services.propose_classification(enterprise, campaign, Category.RELOCATE, town, destination_park=park)
    assert again.pk == c.pk and again.destination_park == park and again.problems == "规模小"
    assert services.missing_details(again) == {}
    assert [step.action for step in again.steps.all()] == ["propose", "update_proposal"]


def test_forward_and_approval_refuse_an_incomplete_classification(enterprise, campaign, users, no_prereview):
    # Rows from before this rule (or changed behind the workflow's back) are caught at every later step.
    reviewed = ClassificationFactory(enterprise=enterprise, campaign=campaign, category="relocate", state="reviewed")
    assert "destination park" in services.why_not(reviewed, users["county_a"], StepAction.FORWARD)
    with pytest.raises(ValidationError, match="not complete yet"):
        services.forward_to_city(reviewed, users["county_a"])
    other = EnterpriseFactory(township=enterprise.township)
    pending = ClassificationFactory(enterprise=other, campaign=campaign, category="excluded", state="pending_approval")
    assert "reason for exclusion" in services.why_not(pending, users["city"], StepAction.APPROVE)
    with pytest.raises(ValidationError, match="not complete yet"):
        services.approve_classification(pending, users["city"])


def test_details_that_are_given_must_still_be_valid(enterprise, campaign, users, regions):
    town = users["town_a1"]
    revoked = ChemicalParkFactory(township=regions["town_a2"], recognition_status=RecognitionStatus.REVOKED)
    with pytest.raises(ValidationError, match="not a recognised chemical park"):
        services.propose_classification(enterprise, campaign, Category.RELOCATE, town, destination_park=revoked)
    with pytest.raises(ValidationError, match="cannot absorb itself"):
        services.propose_classification(
            enterprise, campaign, Category.RESTRUCTURE, town, absorbing_enterprise=enterprise
        )
    with pytest.raises(ValidationError) as late:
        services.propose_classification(
            enterprise, campaign, Category.SHUTDOWN, town, deadline=datetime.date(2024, 6, 30)
        )
    assert list(late.value.message_dict) == ["deadline"]
    assert "after the campaign ends (2023-12-31)" in late.value.message_dict["deadline"][0]
    assert not Classification.objects.exists()
    services.propose_classification(enterprise, campaign, Category.SHUTDOWN, town, deadline=datetime.date(2023, 12, 31))


# --- The web form and the dossier ---------------------------------------------------------------------


def test_the_proposal_form_accepts_an_exclusion_without_its_reason(enterprise, campaign, users, client_for):
    client = client_for(users["town_a1"])
    url = reverse("rectification:propose", args=[enterprise.pk, campaign.pk])
    response = client.post(url, {"category": "excluded", "exclusion_reason": ""}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "reason for exclusion (剔除原因) is needed before the county submits" in page  # the message after saving
    assert 'data-testid="missing-details"' in page  # and on the dossier
    assert Classification.objects.get().category == Category.EXCLUDED


def test_the_dossier_shows_what_is_missing_and_the_disabled_submit_with_its_reason(
    enterprise, campaign, users, client_for
):
    services.propose_classification(enterprise, campaign, Category.RESTRUCTURE, users["town_a1"])
    page = client_for(users["county_a"]).get(reverse("enterprises:detail", args=[enterprise.pk])).content.decode()
    assert 'data-testid="missing-details"' in page and "Needed before the county submits" in page
    assert "absorbing enterprise (兼并企业) is needed before the county submits" in page
    assert '<button type="button" class="btn btn-outline-secondary btn-sm" disabled data-action="submit">' in page
    assert 'data-refusal="submit"' in page and "not complete yet" in page


def test_a_complete_proposal_shows_no_warning(enterprise, campaign, users, client_for, park):
    services.propose_classification(enterprise, campaign, Category.RELOCATE, users["town_a1"], destination_park=park)
    page = client_for(users["county_a"]).get(reverse("enterprises:detail", args=[enterprise.pk])).content.decode()
    assert 'data-testid="missing-details"' not in page


# --- The roster import ---------------------------------------------------------------------------------


def preview(user, campaign, rows, headers=None):
    record = import_services.start_import(file=roster_upload(rows, headers), user=user, campaign=campaign)
    import_services.preview(record, user)
    record.refresh_from_db()
    return record


def seed_rows(park_cell=None):
    """Rows as seed 001's township writes them: 拟转移 without a park yet, 拟重组 without the absorber, 剔除 without
    the reason, next to complete ones."""
    return [
        row(next_uscc(), "甲一橡胶制品有限公司", kind="生产", category="拟转移", deadline="2021年下半年"),
        row(next_uscc(), "甲一油墨化工有限公司", kind="生产", category="拟重组", deadline="2022年6月底前"),
        row(next_uscc(), "甲一净水剂厂", kind="经营", category="剔除"),
        row(next_uscc(), "甲一乳胶制品厂", kind="生产", category="拟关停", deadline="2021年6月底前"),
        row(next_uscc(), "甲一氧化锌厂", kind="生产", category="转停", deadline="2021年6月30日前"),
    ]


def test_import_lists_incomplete_proposals_as_warnings_and_commits_them(users, campaign):
    user = users["town_a1"]
    record = preview(user, campaign, seed_rows())
    assert (record.created_count, record.error_row_count, record.errors) == (5, 0, [])
    assert record.warning_row_count == 3
    assert [(w["row"], w["column"]) for w in record.warnings] == [
        (4, "四个一批分类"),
        (5, "四个一批分类"),
        (6, "四个一批分类"),
    ]
    assert all("needed before the county submits" in w["message"] for w in record.warnings)
    assert "destination park" in record.warnings[0]["message"]
    assert "absorbing enterprise" in record.warnings[1]["message"]
    assert "reason for exclusion" in record.warnings[2]["message"]
    rows = RosterImportRow.objects.filter(roster_import=record, has_warnings=True).order_by("row_number")
    assert [(r.row_number, r.action) for r in rows] == [
        (4, RowAction.CREATE),
        (5, RowAction.CREATE),
        (6, RowAction.CREATE),
    ]

    import_services.commit(record, user)  # warnings never block: no skip_errors needed
    record.refresh_from_db()
    assert record.status == "committed" and record.error_row_count == 0 and record.warning_row_count == 3
    by_name = {c.enterprise.name: c for c in Classification.objects.select_related("enterprise")}
    assert by_name["甲一橡胶制品有限公司"].category == Category.RELOCATE
    assert by_name["甲一橡胶制品有限公司"].destination_park is None
    assert by_name["甲一油墨化工有限公司"].category == Category.RESTRUCTURE
    assert by_name["甲一净水剂厂"].category == Category.EXCLUDED
    assert by_name["甲一氧化锌厂"].deadline == datetime.date(2021, 6, 30)
    # The county's submission is refused until the township or the county fills them in.
    for name in ("甲一橡胶制品有限公司", "甲一油墨化工有限公司", "甲一净水剂厂"):
        assert "not complete yet" in services.why_not(by_name[name], users["county_a"], StepAction.SUBMIT)
    assert services.why_not(by_name["甲一乳胶制品厂"], users["county_a"], StepAction.SUBMIT) is None


def test_the_warning_names_the_detail_column_when_the_roster_has_it(users, campaign, park):
    rows = [
        row(next_uscc(), "甲", category="搬迁入园", 迁入园区=None),
        row(next_uscc(), "乙", category="搬迁入园", 迁入园区="甲县化工园区"),
        row(next_uscc(), "丙", category="剔除", 剔除原因=None),
    ]
    record = preview(users["town_a1"], campaign, rows, DETAIL_HEADERS)
    assert record.errors == []
    assert [(w["row"], w["column"]) for w in record.warnings] == [(4, "迁入园区"), (6, "剔除原因")]


def test_a_deadline_after_the_campaign_is_an_error_on_the_row_naming_the_end(users, campaign):
    rows = [
        row(next_uscc(), "甲", category="拟关停", deadline="2024年6月底前"),
        row(next_uscc(), "乙", deadline="年底前"),
    ]
    record = preview(users["town_a1"], campaign, rows)
    errors = {(e["row"], e["column"]): e["message"] for e in record.errors}
    assert "after the campaign ends (2023-12-31)" in errors[(4, "完成时限")]
    assert "year is missing" in errors[(5, "完成时限")]
    assert record.warnings == []


def test_warnings_tab_on_the_preview_page(users, campaign, client_for):
    record = preview(users["town_a1"], campaign, [*seed_rows(), row("BAD", "坏代码")])
    client = client_for(users["town_a1"])
    page = client.get(reverse("imports:detail", args=[record.pk])).content.decode()
    assert 'data-testid="tab-warnings"' in page and "text-bg-warning" in page
    assert 'data-testid="import-warnings-note"' in page
    warnings = client.get(reverse("imports:detail", args=[record.pk]), {"tab": "warnings"}).content.decode()
    assert warnings.count("data-warning-row=") == 3
    assert "needed before the county submits" in warnings and "甲一橡胶制品有限公司" in warnings
    assert "坏代码" not in warnings  # errors stay in their own tab
    errors = client.get(reverse("imports:detail", args=[record.pk]), {"tab": "errors"}).content.decode()
    assert "坏代码" in errors and "needed before the county submits" not in errors


def test_unchanged_rows_keep_their_warnings_when_imported_again(users, campaign):
    user = users["town_a1"]
    rows = seed_rows()
    record = preview(user, campaign, rows)
    import_services.commit(record, user)
    again = preview(user, campaign, rows)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 5)
    assert again.warning_row_count == 3
    assert list(again.rows.filter(has_warnings=True).values_list("action", flat=True)) == [RowAction.UNCHANGED] * 3
    assert again.rows.filter(action=RowAction.UNCHANGED, has_warnings=False).count() == 0


def test_import_roster_json_has_warnings_and_keeps_errors_for_what_blocks(tmp_path, users, campaign):
    path = tmp_path / "甲一镇名单.xlsx"
    path.write_bytes(roster_bytes([*seed_rows(), row("BAD", "坏代码")]))
    out = StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command(
            "import_roster",
            str(path),
            "--user",
            "town_a1",
            "--campaign",
            campaign.name,
            "--commit",
            "--json",
            stdout=out,
        )
    assert exit_status.value.code == 1  # the bad code blocks; the warnings do not count
    output = json.loads(out.getvalue())
    assert [e["row"] for e in output["errors"]] == [9]
    assert [(w["row"], w["column"]) for w in output["warnings"]] == [
        (4, "四个一批分类"),
        (5, "四个一批分类"),
        (6, "四个一批分类"),
    ]
    assert all(set(w) == {"row", "column", "message"} for w in output["warnings"])

    out = StringIO()
    call_command(
        "import_roster",
        str(path),
        "--user",
        "town_a1",
        "--campaign",
        campaign.name,
        "--commit",
        "--skip-errors",
        "--json",
        stdout=out,
    )
    output = json.loads(out.getvalue())
    assert output["committed"] is True and output["created"] == 5 and len(output["warnings"]) == 3
    assert output["surveyed"] == 5
    assert RosterImport.objects.filter(status="committed").get().warnings == output["warnings"]


# --- The REST API ---------------------------------------------------------------------------------------


def test_api_proposal_accepts_an_incomplete_one_and_lists_what_is_missing(regions, users, campaign, park, enterprise):
    _client, _token, township_system = api_client_for(regions["town_a1"], write=True, name="乡镇网格系统")
    data = {"enterprise": enterprise.uscc, "campaign": campaign.pk, "category": "拟转移", "deadline": "2021-12-31"}
    response = township_system.post(f"{V1}classifications/", data, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["category"], body["state"], body["destination_park"]) == ("relocate", "proposed", None)
    assert [m["field"] for m in body["missing_details"]] == ["destination_park"]
    assert "区县提交前补填" in body["missing_details"][0]["message"]  # the API answers in Chinese by default
    assert response["ETag"] == f'"{body["version"]}"'
    c = Classification.objects.get()
    assert c.steps.get().actor.username.startswith("api")  # the client's service user proposed it

    # The county's submission (a person's session through the API) is refused, keyed by the missing field.
    county = api_session(users["county_a"])
    response = county.post(f"{V1}classifications/{c.pk}/steps/", {"action": "submit"}, format="json")
    assert response.status_code == 400
    assert "destination_park" in response.json()["errors"]

    # The township system sends the park later: the same proposal, now complete (200).
    later = {
        "enterprise": enterprise.uscc,
        "campaign": campaign.pk,
        "category": "relocate",
        "destination_park": park.code,
    }
    response = township_system.post(f"{V1}classifications/", later, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == c.pk and response.json()["missing_details"] == []
    assert response.json()["deadline"] == "2021-12-31"  # left as it was
    assert county.post(f"{V1}classifications/{c.pk}/steps/", {"action": "submit"}, format="json").status_code == 200


def api_session(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_proposal_refusals(regions, users, campaign, enterprise):
    _client, _token, township_system = api_client_for(regions["town_a1"], write=True)
    url = f"{V1}classifications/"
    base = {"enterprise": enterprise.uscc, "campaign": campaign.pk}
    response = township_system.post(url, {**base, "category": "整改"}, format="json")
    assert response.status_code == 400 and "category" in response.json()["errors"]
    assert "转停" in response.text and "不纳入" in response.text  # the accepted words are listed
    response = township_system.post(url, {**base, "category": "拟关停", "deadline": "2024-06-30"}, format="json")
    assert response.status_code == 400 and "deadline" in response.json()["errors"]
    assert "2023-12-31" in response.text
    elsewhere = EnterpriseFactory(township=regions["town_b1"])
    response = township_system.post(url, {**base, "enterprise": elsewhere.uscc, "category": "关停"}, format="json")
    assert response.status_code == 400 and "enterprise" in response.json()["errors"]
    _c, _t, reader = api_client_for(regions["town_a1"])
    assert reader.post(url, {**base, "category": "关停"}, format="json").status_code == 403
    assert not Classification.objects.exists()
    assert township_system.post(url, {**base, "category": "关停（取缔）"}, format="json").status_code == 201


def test_api_lists_missing_details_only_while_the_proposal_is_open(regions, users, campaign, enterprise):
    c = services.propose_classification(enterprise, campaign, Category.EXCLUDED, users["town_a1"])
    _c, _t, reader = api_client_for(regions["town_a1"])
    body = reader.get(f"{V1}classifications/{c.pk}/").json()
    assert [m["field"] for m in body["missing_details"]] == ["exclusion_reason"]
    services.withdraw_classification(c, users["town_a1"], comment="重新核实")
    assert reader.get(f"{V1}classifications/{c.pk}/").json()["missing_details"] == []
