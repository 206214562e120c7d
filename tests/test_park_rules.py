"""The park rules (enterprises.services.check_park), kept by every entry point: the web form, the admin, the API
and the roster import; and the template's park drop-down.

- a park whose recognition was revoked (取消定位) takes no enterprise in: refused with the reason;
- a park of another township than the enterprise's: the form and the API ask for a confirmation, the roster
  import imports the row and lists it to check (officers write the parks they know).
"""

import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from enterprises import services
from enterprises.choices import EnterpriseKind, OperatingStatus
from enterprises.models import Enterprise
from imports import services as import_services
from parks.choices import RecognitionStatus

from .api_support import api_client_for
from .factories import CampaignFactory, ChemicalParkFactory, EnterpriseFactory, next_uscc
from .import_support import roster_upload, row

REVOKED_WORDS = "已取消定位（不再是认定的化工园区），企业不能迁入"
OUTSIDE_WORDS = "不在企业登记的甲一镇"


@pytest.fixture
def parks(regions):
    return {
        "own": ChemicalParkFactory(name="甲一化工园", code="P-OWN", township=regions["town_a1"]),
        "pending": ChemicalParkFactory(
            name="甲一待认定园",
            code="P-PEND",
            township=regions["town_a1"],
            recognition_status=RecognitionStatus.PENDING,
        ),
        "revoked": ChemicalParkFactory(
            name="甲一原化工集中区",
            code="P-REV",
            township=regions["town_a1"],
            recognition_status=RecognitionStatus.REVOKED,
        ),
        "neighbour": ChemicalParkFactory(name="甲二化工园", code="P-NEXT", township=regions["town_a2"]),
        "far": ChemicalParkFactory(name="乙一化工园", code="P-FAR", township=regions["town_b1"]),
    }


# --- The rules, in the service ----------------------------------------------------------------------


def test_check_park_refuses_a_revoked_park_and_asks_about_another_township(regions, parks):
    town = regions["town_a1"]
    assert services.check_park(township=town, park=parks["own"]) == services.ParkCheck()
    assert services.check_park(township=town, park=None) == services.ParkCheck()
    assert services.check_park(township=town, park=parks["pending"]).refusal is None  # pending is not revoked
    revoked = services.check_park(township=town, park=parks["revoked"])
    assert "甲一原化工集中区" in revoked.refusal and "取消定位" in revoked.refusal
    outside = services.check_park(township=town, park=parks["neighbour"])
    assert outside.refusal is None and "甲二化工园位于甲二镇" in outside.outside


def test_only_a_change_is_judged(regions, parks):
    """An enterprise already in a park keeps it when other fields change, even after the park lost its recognition
    or when it was confirmed in another township's park."""
    in_revoked = EnterpriseFactory(township=regions["town_a1"], park=parks["revoked"])
    assert services.check_park(township=regions["town_a1"], park=parks["revoked"], current=in_revoked).refusal is None
    in_neighbour = EnterpriseFactory(township=regions["town_a1"], park=parks["neighbour"])
    assert (
        services.check_park(township=regions["town_a1"], park=parks["neighbour"], current=in_neighbour).outside is None
    )
    # Moving the enterprise to another township while it keeps its park is a change of the pair: judged.
    moved = services.check_park(
        township=regions["town_a2"],
        park=parks["own"],
        current=EnterpriseFactory(township=regions["town_a1"], park=parks["own"]),
    )
    assert moved.outside and "甲一化工园位于甲一镇" in moved.outside


def test_the_services_refuse_and_ask_for_the_confirmation(regions, users, parks):
    actor = users["county_a"]
    data = {"uscc": next_uscc(), "name": "新化工", "township": regions["town_a1"], "kind": EnterpriseKind.PRODUCTION}
    with pytest.raises(ValidationError) as refused:
        services.create_enterprise(actor=actor, data={**data, "park": parks["revoked"]})
    assert refused.value.error_dict["park"][0].code == services.PARK_REVOKED
    with pytest.raises(ValidationError) as asked:
        services.create_enterprise(actor=actor, data={**data, "park": parks["neighbour"]})
    assert services.asks_park_confirmation(asked.value)
    assert not Enterprise.objects.exists()
    enterprise = services.create_enterprise(
        actor=actor, data={**data, "park": parks["neighbour"]}, confirm_park_outside_township=True
    )
    assert enterprise.park == parks["neighbour"]
    # A confirmation does not open a revoked park.
    with pytest.raises(ValidationError):
        services.update_enterprise(
            actor=actor, enterprise=enterprise, data={"park": parks["revoked"]}, confirm_park_outside_township=True
        )
    # Editing another field keeps the confirmed park without asking again.
    services.update_enterprise(actor=actor, enterprise=enterprise, data={"name": "新化工（更名）"})
    enterprise.refresh_from_db()
    assert enterprise.name == "新化工（更名）" and enterprise.park == parks["neighbour"]


# --- The web form -------------------------------------------------------------------------------------


def enterprise_post(township, **overrides):
    data = {
        "uscc": next_uscc(),
        "name": "新登记化工有限公司",
        "township": township.pk,
        "kind": EnterpriseKind.PRODUCTION,
        "automation_status": "not_required",
        "status": OperatingStatus.OPERATING,
        "reason": "",
    }
    data.update(overrides)
    return data


def test_the_form_refuses_a_revoked_park_with_the_reason(regions, users, parks, client_for):
    client = client_for(users["town_a1"])
    page = client.get(reverse("enterprises:create")).content.decode()
    assert "甲一原化工集中区（甲一镇） · 取消定位" in page  # the choice says it before it is chosen
    response = client.post(reverse("enterprises:create"), enterprise_post(regions["town_a1"], park=parks["revoked"].pk))
    assert response.status_code == 200
    errors = response.context["form"].errors["park"]
    assert REVOKED_WORDS in errors[0]
    assert REVOKED_WORDS in response.content.decode()
    assert not Enterprise.objects.exists()


def test_the_form_asks_to_confirm_a_park_of_another_township(regions, users, parks, client_for):
    client = client_for(users["town_a1"])
    data = enterprise_post(regions["town_a1"], park=parks["neighbour"].pk)
    asked = client.post(reverse("enterprises:create"), data)
    page = asked.content.decode()
    assert asked.status_code == 200 and OUTSIDE_WORDS in page
    assert 'type="checkbox" name="confirm_park_outside_township"' in page
    assert "园区不在企业所在乡镇：已核对乡镇和园区，确认登记" in page
    assert not Enterprise.objects.exists()

    confirmed = client.post(reverse("enterprises:create"), {**data, "confirm_park_outside_township": "on"})
    assert confirmed.status_code == 302
    assert Enterprise.objects.get(uscc=data["uscc"]).park == parks["neighbour"]


def test_the_confirmation_is_hidden_until_asked_and_an_own_park_needs_none(regions, users, parks, client_for):
    client = client_for(users["town_a1"])
    page = client.get(reverse("enterprises:create")).content.decode()
    assert 'type="hidden" name="confirm_park_outside_township"' in page
    response = client.post(reverse("enterprises:create"), enterprise_post(regions["town_a1"], park=parks["own"].pk))
    assert response.status_code == 302


def test_moving_an_enterprise_on_the_edit_form(regions, users, parks, client_for):
    enterprise = EnterpriseFactory(township=regions["town_a1"], park=parks["own"], automation_status="not_required")
    client = client_for(users["county_a"])
    form = client.get(reverse("enterprises:update", args=[enterprise.pk])).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["key_processes"] = [p.pk for p in data.get("key_processes", [])]
    data.update(township=regions["town_a1"].pk, park=parks["revoked"].pk)
    data.pop("confirm_park_outside_township", None)
    refused = client.post(reverse("enterprises:update", args=[enterprise.pk]), data)
    assert REVOKED_WORDS in refused.content.decode()
    data["park"] = parks["neighbour"].pk
    asked = client.post(reverse("enterprises:update", args=[enterprise.pk]), data)
    assert OUTSIDE_WORDS in asked.content.decode()
    enterprise.refresh_from_db()
    assert enterprise.park == parks["own"]
    moved = client.post(
        reverse("enterprises:update", args=[enterprise.pk]), {**data, "confirm_park_outside_township": "on"}
    )
    assert moved.status_code == 302
    enterprise.refresh_from_db()
    assert enterprise.park == parks["neighbour"]


# --- The admin ------------------------------------------------------------------------------------------


def test_the_admin_keeps_the_park_rules(regions, users, parks, client_for):
    enterprise = EnterpriseFactory(township=regions["town_a1"], automation_status="not_required")
    client = client_for(users["county_a"])
    url = reverse("admin:enterprises_enterprise_change", args=[enterprise.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "key_processes"}
    data.update(township=regions["town_a1"].pk, park=parks["neighbour"].pk)
    for prefix in ("permits", "tiers"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    asked = client.post(url, data)
    assert asked.status_code == 200 and OUTSIDE_WORDS in asked.content.decode()
    confirmed = client.post(url, {**data, "confirm_park_outside_township": "on"})
    assert confirmed.status_code == 302
    enterprise.refresh_from_db()
    assert enterprise.park == parks["neighbour"]
    data["park"] = parks["revoked"].pk
    refused = client.post(url, {**data, "confirm_park_outside_township": "on"})
    assert refused.status_code == 200 and REVOKED_WORDS in refused.content.decode()


# --- The API -----------------------------------------------------------------------------------------------


def test_the_api_needs_the_confirmation_flag_and_refuses_a_revoked_park(regions, parks):
    _client, _token, writer = api_client_for(regions["county_a"], write=True)
    body = {"uscc": next_uscc(), "name": "接口化工", "region_code": regions["town_a1"].code, "kind": "production"}
    refused = writer.post("/api/v1/enterprises/", {**body, "park": "P-REV"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"]["park"][0]["code"] == "park_revoked"
    asked = writer.post("/api/v1/enterprises/", {**body, "park": "P-NEXT"}, format="json")
    assert asked.status_code == 400
    error = asked.json()["errors"]["park"][0]
    assert error["code"] == "park_outside_township" and OUTSIDE_WORDS in error["message_zh"]
    assert not Enterprise.objects.exists()
    created = writer.post(
        "/api/v1/enterprises/", {**body, "park": "P-NEXT", "confirm_park_outside_township": True}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["park"]["code"] == "P-NEXT"
    assert "confirm_park_outside_township" not in created.json()


# --- The roster import -------------------------------------------------------------------------------------


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项行动")


def test_the_import_warns_about_another_township_and_refuses_a_revoked_park(users, parks, campaign):
    officer = users["town_a1"]
    kept = EnterpriseFactory(township=officer.region, park=parks["revoked"], name="老园区企业")
    rows = [
        row(next_uscc(), "邻镇园区企业", park="甲二化工园"),
        row(next_uscc(), "迁入取消定位园区企业", park="甲一原化工集中区"),
        row(kept.uscc, "老园区企业", park="甲一原化工集中区", phone="0512-1234"),
        row(next_uscc(), "本镇园区企业", park="甲一化工园"),
    ]
    record = import_services.start_import(file=roster_upload(rows), user=officer, campaign=campaign)
    import_services.preview(record, officer)
    record.refresh_from_db()
    errors = {error["row"]: error for error in record.errors}
    assert list(errors) == [5]  # the header is on row 3: rows 4–7
    assert errors[5]["column"] == "所在园区" and REVOKED_WORDS in errors[5]["message"]
    warnings = {warning["row"]: warning for warning in record.warnings}
    assert list(warnings) == [4]
    assert warnings[4]["column"] == "所在园区" and OUTSIDE_WORDS in warnings[4]["message"]

    import_services.commit(record, officer, skip_errors=True)
    assert Enterprise.objects.get(name="邻镇园区企业").park == parks["neighbour"]  # imported, listed to check
    assert not Enterprise.objects.filter(name="迁入取消定位园区企业").exists()
    kept.refresh_from_db()
    assert kept.park == parks["revoked"] and kept.contact_phone == "0512-1234"  # already there: kept


def test_the_import_page_lists_the_park_warning(users, parks, campaign, client_for):
    client = client_for(users["town_a1"])
    client.post(
        reverse("imports:upload"),
        {"campaign": campaign.pk, "file": roster_upload([row(next_uscc(), "邻镇园区企业", park="甲二化工园")])},
    )
    record = import_services.RosterImport.objects.get()
    page = client.get(reverse("imports:detail", args=[record.pk]), {"tab": "warnings"}).content.decode()
    assert OUTSIDE_WORDS in page and "须核对或补填的内容（该行照常导入）" in page
    assert "1 行导入后仍有须核对或补填的内容" in page


# --- The template's drop-down -------------------------------------------------------------------------------


def park_choices(client) -> list[str]:
    workbook = load_workbook(io.BytesIO(b"".join(client.get(reverse("imports:template")).streaming_content)))
    options = workbook["选项"]
    column = next(cell.column for cell in options[1] if cell.value == "所在园区")
    return [row[0] for row in options.iter_rows(min_row=2, min_col=column, max_col=column, values_only=True) if row[0]]


def test_the_template_offers_the_township_s_own_recognised_parks(users, parks, client_for):
    assert park_choices(client_for(users["town_a1"])) == ["园区外", "甲一化工园"]
    assert park_choices(client_for(users["county_a"])) == ["园区外", "甲一化工园", "甲二化工园"]
    template = load_workbook(
        io.BytesIO(b"".join(client_for(users["town_a1"]).get(reverse("imports:template")).streaming_content))
    )
    note = next(c.comment.text for c in template["企业名单"][1] if c.value == "所在园区")
    assert re.search("本乡镇已认定的化工园区", note) and "已取消定位的园区不能迁入" in note
