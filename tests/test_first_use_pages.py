"""What a new user stumbles on (issue 17), page by page, in the Chinese interface every user starts with."""

import datetime
import html
import re
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import reverse

from imports import services as import_services
from imports.models import ImportStatus, RosterImport
from inspections.models import Inspection
from rectification import services as rectification_services
from rectification.models import Classification

from .factories import CampaignFactory, ClassificationFactory, EnterpriseFactory, PlanFactory, TaskFactory, next_uscc
from .import_support import roster_upload, row

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项行动")


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def count_card(page: str, key: str) -> tuple[str, str]:
    """(label, number) of one count card of the import page."""
    match = re.search(
        rf'<div class="small text-muted">([^<]*)</div><div class="fs-5[^"]*" data-count="{key}">(\d+)</div>', page
    )
    assert match, f"no count card {key}"
    return match.group(1), match.group(2)


# --- Import result page -----------------------------------------------------------------------------


def test_the_import_page_speaks_of_the_future_before_and_of_the_past_after_the_commit(
    client_for, users, regions, campaign
):
    client = client_for(users["town_a1"])
    existing = EnterpriseFactory(township=regions["town_a1"], name="旧名称")
    client.post(
        reverse("imports:upload"),
        {
            "campaign": campaign.pk,
            "file": roster_upload(
                [
                    row(next_uscc(), "新企业", problems="1、未取得安全生产许可证；2、环评手续不全"),
                    row(existing.uscc, "新名称"),
                ]
            ),
        },
    )
    record = RosterImport.objects.get()
    url = reverse("imports:detail", args=[record.pk])
    before = text_of(client.get(url))
    assert count_card(before, "created") == ("将新增", "1")
    assert count_card(before, "updated") == ("将更新", "1")
    assert "2个问题将登记为新隐患。" in before

    client.post(reverse("imports:commit", args=[record.pk]))
    after = text_of(client.get(url))
    assert count_card(after, "created") == ("已新增", "1")
    assert count_card(after, "updated") == ("已更新", "1")
    assert "更新时间" not in after
    assert "2个问题已登记为新隐患。" in after
    assert "将登记" not in after and "将新增" not in after


def test_a_refused_commit_says_why_once_and_the_import_can_still_be_confirmed(client_for, users, campaign):
    client = client_for(users["town_a1"])
    client.post(
        reverse("imports:upload"),
        {"campaign": campaign.pk, "file": roster_upload([row(next_uscc(), "好企业"), row("BAD", "坏代码")])},
    )
    record = RosterImport.objects.get()
    page = text_of(client.post(reverse("imports:commit", args=[record.pk]), follow=True))
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    assert record.message and page.count(record.message) == 1
    badge = re.search(r'data-testid="import-status">([^<]*)<', page).group(1)
    assert badge == "尚未导入：有错误行"
    assert "已拒绝" not in page
    assert 'data-testid="commit-button"' in page  # still confirmable

    done = text_of(client.post(reverse("imports:commit", args=[record.pk]), {"skip_errors": "on"}, follow=True))
    record.refresh_from_db()
    assert record.status == ImportStatus.COMMITTED
    assert re.search(r'data-testid="import-status">已导入<', done)


# --- Navigation ---------------------------------------------------------------------------------------


def nav_active(page: str) -> list[str]:
    """data-testid of the highlighted navigation items."""
    return re.findall(r'<a class="nav-link active"[^>]*data-testid="(nav-[a-z]+)"', page)


def test_the_reports_page_highlights_only_the_reports_item(client_for, users):
    page = text_of(client_for(users["city"]).get(reverse("rectification:reports")))
    assert nav_active(page) == ["nav-reports"]
    campaigns = text_of(client_for(users["city"]).get(reverse("rectification:campaigns")))
    assert nav_active(campaigns) == ["nav-campaigns"]


def test_a_township_officer_has_no_reports_item_and_the_page_says_why(client_for, users):
    client = client_for(users["town_a1"])
    home = text_of(client.get(reverse("enterprises:list")))
    assert 'data-testid="nav-reports"' not in home
    page = text_of(client.get(reverse("rectification:reports")))
    why = re.search(r'data-testid="report-why-not">([^<]*)<', page).group(1)
    assert "只有" in why or "督查组" in why  # the capability's refusal, in Chinese
    assert "本乡镇的情况见所在县（市、区）的通报" in why
    assert 'data-testid="report-request"' not in page


def test_a_reviewer_sees_the_reports_of_the_city_and_why_there_is_no_form(client_for, users):
    client = client_for(users["reviewer"])
    assert 'data-testid="nav-reports"' in text_of(client.get(reverse("enterprises:list")))
    page = text_of(client.get(reverse("rectification:reports")))
    why = re.search(r'data-testid="report-why-not">([^<]*)<', page).group(1)
    assert why.strip() and "本乡镇" not in why
    supervisor = text_of(client_for(users["supervisor"]).get(reverse("rectification:reports")))
    assert 'data-testid="report-request"' in supervisor and 'data-testid="report-why-not"' not in supervisor


# --- The 登记检查 form: pick the enterprise by name or code -------------------------------------------------

PICKER_SCRIPT = ROOT / "static" / "enterprises" / "enterprise-picker.js"


def inspection_post(target: str, **fields):
    data = {
        "enterprise_code": target,
        "kind": "daily",
        "inspected_on": "2021-05-06",
        "result": "no_issues",
        "findings-TOTAL_FORMS": "0",
        "findings-INITIAL_FORMS": "0",
        "findings-MIN_NUM_FORMS": "0",
        "findings-MAX_NUM_FORMS": "20",
    }
    data.update(fields)
    return data


@pytest.fixture
def picker_register(regions):
    return {
        "own": EnterpriseFactory(township=regions["town_a1"], name="临江精细化工有限公司"),
        "own_twin": EnterpriseFactory(township=regions["town_a1"], name="临江精细化工（二厂）有限公司"),
        "neighbour": EnterpriseFactory(township=regions["town_a2"], name="临江精细化学品有限公司"),
    }


def test_the_inspection_form_offers_a_name_or_code_picker_from_a_static_script(client_for, users):
    page = text_of(client_for(users["town_a1"]).get(reverse("inspections:create")))
    assert "企业（名称或信用代码）" in page and "输入企业名称的一部分或信用代码，从提示列表中选择。" in page
    assert f'data-enterprise-lookup="{reverse("enterprises:lookup")}"' in page
    assert '<script src="/static/enterprises/enterprise-picker.js"></script>' in page
    plan = text_of(client_for(users["town_a1"]).get(reverse("inspections:plan")))
    assert '<script src="/static/enterprises/enterprise-picker.js"></script>' in plan
    script = PICKER_SCRIPT.read_text(encoding="utf-8")
    assert "data-enterprise-lookup" in script
    assert "http:" not in script and "https:" not in script  # offline: nothing fetched from elsewhere


def test_the_lookup_suggests_enterprises_of_the_user_s_region_only(client_for, users, picker_register):
    officer = client_for(users["town_a1"])
    found = officer.get(reverse("enterprises:lookup"), {"q": "临江精细"}).json()["results"]
    assert [item["name"] for item in found] == ["临江精细化工有限公司", "临江精细化工（二厂）有限公司"]
    own = picker_register["own"]
    assert found[0] == {
        "id": own.pk,
        "uscc": own.uscc,
        "name": own.name,
        "township": "甲一镇",
        "label": f"临江精细化工有限公司（{own.uscc}）",
    }
    by_code = officer.get(reverse("enterprises:lookup"), {"q": own.uscc[:10].lower()}).json()["results"]
    assert own.pk in [item["id"] for item in by_code]
    county = client_for(users["county_a"]).get(reverse("enterprises:lookup"), {"q": "临江精细"}).json()["results"]
    assert len(county) == 3
    assert client_for(users["town_a2"]).get(reverse("enterprises:lookup"), {"q": own.uscc}).json()["results"] == []


def test_the_lookup_needs_a_login(client, picker_register):
    response = client.get(reverse("enterprises:lookup"), {"q": "临江"})
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_an_inspection_is_recorded_for_the_picked_enterprise(client_for, users, picker_register):
    client = client_for(users["town_a1"])
    own = picker_register["own"]
    picked = client.post(reverse("inspections:create"), inspection_post(f"临江精细化工有限公司（{own.uscc}）"))
    assert picked.status_code == 302
    assert Inspection.objects.get().enterprise == own
    by_name = client.post(reverse("inspections:create"), inspection_post("临江精细化工（二厂）有限公司"))
    assert by_name.status_code == 302
    assert Inspection.objects.latest("pk").enterprise == picker_register["own_twin"]


def test_a_part_of_a_name_or_another_township_s_enterprise_is_not_guessed(client_for, users, picker_register):
    client = client_for(users["town_a1"])
    partial = client.post(reverse("inspections:create"), inspection_post("临江精细"))
    assert partial.status_code == 200
    assert partial.context["form"].errors["enterprise_code"] == [
        "您的辖区内没有名为临江精细的企业；请输入企业名称的一部分或信用代码，从提示列表中选择。"
    ]
    other = picker_register["neighbour"]
    outside = client.post(reverse("inspections:create"), inspection_post(f"{other.name}（{other.uscc}）"))
    assert outside.context["form"].errors["enterprise_code"] == [
        f"您的辖区内没有统一社会信用代码为{other.uscc}的企业。"
    ]


# --- Wording: acceptances waiting, exclusions without a deadline -------------------------------------------


def test_the_acceptance_queue_says_the_tasks_are_done_but_not_yet_verified(client_for, users, regions):
    classification = ClassificationFactory(
        enterprise=EnterpriseFactory(township=regions["town_a1"]), state="awaiting_acceptance", category="shutdown"
    )
    plan = PlanFactory(classification=classification)
    for _index in range(3):
        TaskFactory(plan=plan, status="done")
    page = text_of(client_for(users["county_a"]).get(reverse("work_queue")))
    section = page[page.index('data-testid="section-to_accept"') :]
    section = (
        section[: section.index('data-testid="section-', 10)] if 'data-testid="section-' in section[10:] else section
    )
    assert "各项任务均已报完成，尚未核查销号：验收时逐项核查，并决定是否销号。" in section
    assert "任务均已完成：" not in section
    assert re.search(r"0/3.*3项已完成待核查", section, re.S)


def test_an_exclusion_keeps_no_deadline(users, regions, client_for):
    campaign = CampaignFactory(name="四个一批专项行动")
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    excluded = rectification_services.propose_classification(
        enterprise,
        campaign,
        "excluded",
        users["town_a1"],
        exclusion_reason="不属于化工企业",
        deadline=datetime.date(2021, 6, 30),
    )
    assert excluded.deadline is None
    dossier = text_of(client_for(users["town_a1"]).get(reverse("enterprises:detail", args=[enterprise.pk])))
    summary = dossier[dossier.index('data-testid="classification-summary"') :]
    summary = summary[: summary.index("</dl>")]
    assert "剔除" in summary and "整治期限" not in summary


def test_a_roster_s_exclusion_with_a_deadline_is_imported_with_a_warning(users, campaign):
    officer = users["town_a1"]
    rows = [row(next_uscc(), "剔除企业", category="剔除", deadline="2021年6月底前", note="")]
    record = import_services.start_import(file=roster_upload(rows), user=officer, campaign=campaign)
    import_services.preview(record, officer)
    record.refresh_from_db()
    assert record.errors == []
    assert any(w["message"] == "剔除类不设完成时限，所填时限2021-06-30不予保存。" for w in record.warnings)
    import_services.commit(record, officer)
    assert Classification.objects.get(enterprise__name="剔除企业").deadline is None


def test_the_migration_clears_the_deadlines_exclusions_carried(regions):
    town = regions["town_a1"]
    excluded = ClassificationFactory(
        enterprise=EnterpriseFactory(township=town), category="excluded", deadline=datetime.date(2022, 6, 30)
    )
    upgrade = ClassificationFactory(
        enterprise=EnterpriseFactory(township=town), category="upgrade", deadline=datetime.date(2022, 6, 30)
    )
    version = excluded.version
    import_module("rectification.migrations.0006_exclusions_without_deadline").clear_deadlines(apps, None)
    excluded.refresh_from_db()
    upgrade.refresh_from_db()
    assert excluded.deadline is None and excluded.version == version + 1
    assert upgrade.deadline == datetime.date(2022, 6, 30)


# --- Layout: names on one line, an empty list counted once -------------------------------------------------


def test_the_dossier_history_keeps_the_person_on_one_line(client_for, users, regions):
    from enterprises import services as enterprise_services

    officer = users["town_a1"]
    officer.first_name, officer.last_name = "李卫东", ""
    officer.save()
    enterprise = EnterpriseFactory(township=regions["town_a1"], name="旧名称")
    enterprise_services.update_enterprise(actor=officer, enterprise=enterprise, data={"name": "新名称"}, reason="核查")
    page = text_of(client_for(officer).get(reverse("enterprises:detail", args=[enterprise.pk])))
    history = page[page.index('data-testid="history"') :]
    assert '<th class="text-nowrap">操作人</th>' in history
    assert re.search(r'<td class="text-nowrap">[^<]*李卫东[^<]*</td>', history)


@pytest.mark.parametrize(
    "url_name",
    ["enterprises:list", "parks:list", "inspections:list", "inspections:finding_list", "imports:list", "notifications"],
)
def test_an_empty_list_does_not_count_its_nothing_twice(client_for, users, url_name):
    page = text_of(client_for(users["town_a1"]).get(reverse(url_name)))
    assert page.count("共0条") <= 1
    assert page.count('data-testid="result-count"') <= 1 or "共0条" not in page


def test_a_list_with_rows_still_shows_its_count(client_for, users, regions):
    EnterpriseFactory(township=regions["town_a1"])
    page = text_of(client_for(users["town_a1"]).get(reverse("enterprises:list")))
    assert "共1条" in page
