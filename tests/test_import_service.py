"""The roster import service: preview, commit, errors, scoping, idempotence, atomicity, classifications, findings."""

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from enterprises import services as enterprise_services
from enterprises.models import Enterprise, KeyHazardousProcess
from imports import services
from imports.models import ImportStatus, RosterImport, RowAction
from inspections import services as inspection_services
from inspections.models import Finding
from rectification.models import Classification, ClassificationStep

from .factories import (
    CampaignFactory,
    ChemicalParkFactory,
    ClassificationFactory,
    EnterpriseFactory,
    make_township,
    next_uscc,
)
from .import_support import roster_upload, row


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项行动")


def run_preview(user, campaign, rows, **options):
    record = services.start_import(file=roster_upload(rows, **options), user=user, campaign=campaign)
    services.preview(record, user)
    record.refresh_from_db()
    return record


def errors_by_row(record):
    return {(error["row"], error["column"]): error["message"] for error in record.errors}


def test_preview_counts_and_writes_nothing(users, regions, campaign):
    existing = EnterpriseFactory(township=regions["town_a1"], name="旧名称化工")
    same = EnterpriseFactory(township=regions["town_a1"], name="不变化工", kind="production")
    rows = [
        row(next_uscc(), "新化工", kind="生产", sales="9,566.7"),
        None,
        row(existing.uscc, "新名称化工"),
        row(same.uscc, "不变化工", kind="生产"),
        row("123", "坏代码化工"),
    ]
    record = run_preview(users["town_a1"], campaign, rows)

    assert record.status == ImportStatus.PREVIEWED
    # Data in rows 4, 6, 7 and 8; row 5 (blank) and row 9 (合计) skipped.
    assert (record.rows_read, record.created_count, record.updated_count, record.unchanged_count) == (6, 1, 1, 1)
    assert (record.skipped_count, record.error_row_count) == (2, 1)
    assert Enterprise.objects.count() == 2
    existing.refresh_from_db()
    assert existing.name == "旧名称化工"
    changed = record.rows.get(action=RowAction.UPDATE)
    assert changed.row_number == 6
    assert changed.changes == [["Enterprise name", "旧名称化工", "新名称化工"]]
    created = record.rows.get(action=RowAction.CREATE)
    assert ["Yearly invoiced sales (10,000 yuan)", "", "9566.7"] in created.changes
    assert ["Kind", "", "Production"] in created.changes
    assert list(errors_by_row(record)) == [(8, "统一社会信用代码")]


def test_township_by_name_code_ambiguous_outside_and_unknown(users, regions, campaign):
    make_township(regions["county_a"], 3, "甲一镇")  # a second 甲一镇 in county A
    county = users["county_a"]
    rows = [
        row(next_uscc(), "按名称", township="甲二镇"),
        row(next_uscc(), "按代码", township=regions["town_a2"].code),
        row(next_uscc(), "同名", township="甲一镇"),
        row(next_uscc(), "区外", township="乙一镇"),
        row(next_uscc(), "不存在", township="丙镇"),
    ]
    record = run_preview(county, campaign, rows)
    errors = errors_by_row(record)
    assert record.created_count == 2
    assert "write the 9-digit code instead" in errors[(6, "乡镇（街道）")]
    assert regions["town_a1"].code in errors[(6, "乡镇（街道）")]
    assert "outside your region" in errors[(7, "乡镇（街道）")]
    assert "no township 丙镇" in errors[(8, "乡镇（街道）")]


def test_duplicate_code_is_an_error_on_the_later_row_naming_the_earlier(users, campaign):
    code = next_uscc()
    record = run_preview(users["town_a1"], campaign, [row(code, "甲"), row(next_uscc(), "乙"), row(code, "甲（重复）")])
    assert errors_by_row(record) == {
        (6, "统一社会信用代码"): f"The credit code {code} also appears in row 4; keep one row per enterprise."
    }
    assert record.created_count == 2


def test_enterprise_registered_in_another_region_is_an_error(users, regions, campaign):
    elsewhere = EnterpriseFactory(township=regions["town_b1"])
    record = run_preview(users["town_a1"], campaign, [row(elsewhere.uscc, "改名")])
    message = errors_by_row(record)[(4, "统一社会信用代码")]
    assert "乙一镇" in message and "outside your region" in message


def test_township_officer_cannot_import_into_a_neighbour_township(users, regions, campaign):
    record = run_preview(users["town_a1"], campaign, [row(next_uscc(), "邻镇企业", township="甲二镇")])
    assert "outside your region" in errors_by_row(record)[(4, "乡镇（街道）")]


def test_park_by_name_outside_and_unknown(users, regions, campaign):
    park = ChemicalParkFactory(name="甲县化工园区", township=regions["town_a2"])
    rows = [
        row(next_uscc(), "园区内", park="甲县化工园区"),
        row(next_uscc(), "园区外", park="园区外"),
        row(next_uscc(), "不明园区", park="火星园区"),
    ]
    record = run_preview(users["town_a1"], campaign, rows)
    assert record.created_count == 2
    assert "no chemical park 火星园区" in errors_by_row(record)[(6, "所在园区")]
    services.commit(record, users["town_a1"], skip_errors=True)
    assert Enterprise.objects.get(name="园区内").park == park
    assert Enterprise.objects.get(name="园区外").park is None


def test_commit_refused_while_errors_remain_then_skip_errors(users, campaign):
    user = users["town_a1"]
    good = next_uscc()
    record = run_preview(user, campaign, [row(good, "好"), row("BAD", "坏")])

    with pytest.raises(services.ImportRefused, match="1 row"):
        services.commit(record, user)
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    assert not Enterprise.objects.exists()

    services.commit(record, user, skip_errors=True)
    record.refresh_from_db()
    assert record.status == ImportStatus.COMMITTED and record.skip_errors
    assert list(Enterprise.objects.values_list("uscc", flat=True)) == [good]
    with pytest.raises(services.ImportRefused):
        services.commit(record, user, skip_errors=True)  # once only


def test_history_names_the_user_and_the_import(users, regions, campaign):
    user = users["town_a1"]
    existing = EnterpriseFactory(township=regions["town_a1"], name="旧")
    record = run_preview(user, campaign, [row(existing.uscc, "新", category="升级", deadline="2022年底")])
    services.commit(record, user)
    latest = existing.history.first()
    assert latest.history_type == "~"
    assert latest.history_user == user
    assert latest.history_change_reason == f"导入 #{record.pk} 甲一镇名单.xlsx"
    existing.refresh_from_db()
    assert existing.name == "新"
    assert existing.version >= 2
    classification = Classification.objects.get(enterprise=existing)
    assert classification.history.first().history_change_reason == record.reason
    step = ClassificationStep.objects.get(classification=classification)
    assert (step.action, step.actor, step.comment) == ("propose", user, record.reason)


def test_importing_the_same_file_again_changes_nothing(users, campaign):
    user = users["town_a1"]
    rows = [
        row(
            next_uscc(),
            "甲",
            kind="生产",
            category="关停",
            deadline="2021年6月",
            problems="1、无安全生产许可证；2、环评手续不全",
        ),
        row(next_uscc(), "乙", park="园区外", sales="1,200"),
    ]
    first = run_preview(user, campaign, rows)
    services.commit(first, user)
    counts = (Enterprise.history.count(), Classification.objects.count(), Finding.objects.count())
    assert counts == (2, 1, 2)

    again = run_preview(user, campaign, rows)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    services.commit(again, user)
    assert (Enterprise.history.count(), Classification.objects.count(), Finding.objects.count()) == counts
    assert Classification.history.count() == 1


def test_update_file_changes_exactly_the_changed_rows(users, campaign):
    user = users["town_a1"]
    codes = [next_uscc() for _ in range(4)]
    original = [row(code, f"企业{index}", sales="100") for index, code in enumerate(codes)]
    services.commit(run_preview(user, campaign, original), user)
    versions = dict(Enterprise.objects.values_list("uscc", "version"))

    updated = list(original)
    updated[1] = row(codes[1], "企业1", sales="250.5")
    updated[3] = row(codes[3], "企业3（更名）", sales="100")
    record = run_preview(user, campaign, updated)
    assert (record.created_count, record.updated_count, record.unchanged_count) == (0, 2, 2)
    assert [r.row_number for r in record.rows.filter(action=RowAction.UPDATE)] == [5, 7]
    services.commit(record, user)

    after = {e.uscc: e for e in Enterprise.objects.all()}
    assert after[codes[1]].annual_sales == Decimal("250.5")
    assert after[codes[3]].name == "企业3（更名）"
    for index in (0, 2):
        assert after[codes[index]].version == versions[codes[index]]
        assert after[codes[index]].history.count() == 1
    for index in (1, 3):
        assert after[codes[index]].version == versions[codes[index]] + 1
        assert after[codes[index]].history.count() == 2


def test_empty_cells_keep_stored_values(users, regions, campaign):
    existing = EnterpriseFactory(township=regions["town_a1"], name="甲", address="老地址", legal_representative="张三")
    record = run_preview(users["town_a1"], campaign, [row(existing.uscc, "甲")])
    assert record.unchanged_count == 1
    services.commit(record, users["town_a1"])
    existing.refresh_from_db()
    assert (existing.address, existing.legal_representative) == ("老地址", "张三")


def test_exception_halfway_leaves_no_trace(users, campaign, monkeypatch):
    user = users["town_a1"]
    record = run_preview(user, campaign, [row(next_uscc(), "甲", category="关停", problems="无证生产")])

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(inspection_services, "apply_findings", broken)
    with pytest.raises(RuntimeError):
        services.commit(record, user)
    assert not Enterprise.objects.exists()
    assert not Enterprise.history.exists()
    assert not Classification.objects.exists()
    assert not Finding.objects.exists()
    record.refresh_from_db()
    assert record.status == ImportStatus.FAILED
    assert "disk full" in record.message


def test_classification_new_updated_and_beyond_the_proposal(users, regions, campaign):
    user = users["town_a1"]
    proposed = EnterpriseFactory(township=regions["town_a1"])
    ClassificationFactory(enterprise=proposed, campaign=campaign, category="upgrade", state="proposed")
    decided = EnterpriseFactory(township=regions["town_a1"])
    ClassificationFactory(
        enterprise=decided,
        campaign=campaign,
        category="shutdown",
        state="approved",
        deadline=datetime.date(2022, 6, 30),
    )
    decided_same = EnterpriseFactory(township=regions["town_a1"])
    ClassificationFactory(
        enterprise=decided_same,
        campaign=campaign,
        category="shutdown",
        state="in_progress",
        deadline=datetime.date(2022, 6, 30),
    )
    new_code = next_uscc()
    rows = [
        row(new_code, "新企业", category="搬迁入园", park="园区外"),
        row(proposed.uscc, proposed.name, category="关停取缔", deadline="2021/12/31"),
        row(decided.uscc, decided.name, category="升级"),
        row(decided_same.uscc, decided_same.name, category="关停", deadline="2022-06-30"),
        row(next_uscc(), "剔除企业", category="剔除"),
    ]
    record = run_preview(user, campaign, rows)
    errors = errors_by_row(record)
    # A decided classification is not changed by import. A relocation without its destination park and an
    # exclusion without its reason are valid proposals: warnings (needed before the county submits), not errors.
    assert list(errors) == [(6, "四个一批分类")] and "already decided" in errors[(6, "四个一批分类")]
    warnings = {(warning["row"], warning["column"]): warning["message"] for warning in record.warnings}
    assert "destination park" in warnings[(4, "四个一批分类")]
    assert "reason for exclusion" in warnings[(8, "四个一批分类")]
    assert record.updated_count == 1 and record.unchanged_count == 1 and record.created_count == 2

    services.commit(record, user, skip_errors=True)
    updated = Classification.objects.get(enterprise=proposed)
    assert (updated.category, updated.deadline, updated.state) == ("shutdown", datetime.date(2021, 12, 31), "proposed")
    assert updated.steps.get().action == "update_proposal"
    assert Classification.objects.get(enterprise=decided).category == "shutdown"


def test_relocation_with_destination_park_and_exclusion_with_reason(users, regions, campaign):
    park = ChemicalParkFactory(name="甲县化工园区", township=regions["town_a2"])
    headers = ["统一社会信用代码", "企业名称", "乡镇（街道）", "整治方向", "迁入园区", "剔除原因", "时间节点"]
    record = run_preview(
        users["town_a1"],
        campaign,
        [
            {
                "统一社会信用代码": next_uscc(),
                "企业名称": "搬迁",
                "乡镇（街道）": "甲一镇",
                "整治方向": "整合搬迁",
                "迁入园区": "甲县化工园区",
                "时间节点": "2022年底",
            },
            {
                "统一社会信用代码": next_uscc(),
                "企业名称": "剔除",
                "乡镇（街道）": "甲一镇",
                "整治方向": "剔除",
                "剔除原因": "不属于化工企业",
            },
        ],
        headers=headers,
    )
    assert record.errors == []
    services.commit(record, users["town_a1"])
    relocation = Classification.objects.get(enterprise__name="搬迁")
    assert (relocation.category, relocation.destination_park, relocation.deadline) == (
        "relocate",
        park,
        datetime.date(2022, 12, 31),
    )
    assert Classification.objects.get(enterprise__name="剔除").exclusion_reason == "不属于化工企业"


def test_deadline_without_category_is_an_error(users, campaign):
    record = run_preview(users["town_a1"], campaign, [row(next_uscc(), "甲", deadline="2021-06-30")])
    assert "no category" in errors_by_row(record)[(4, "四个一批分类")]


def test_problems_become_findings_once(users, regions, campaign):
    user = users["town_a1"]
    existing = EnterpriseFactory(township=regions["town_a1"])
    Finding.objects.create(enterprise=existing, area="environment", description="环评手续不全")
    rows = [row(existing.uscc, existing.name, problems="1、存在重大事故隐患；2、环评 手续不全；3、用地手续不全")]
    record = run_preview(user, campaign, rows)
    assert record.findings_count == 2
    services.commit(record, user)
    findings = {f.description: f for f in Finding.objects.filter(enterprise=existing)}
    assert set(findings) == {"环评手续不全", "存在重大事故隐患", "用地手续不全"}
    assert (findings["存在重大事故隐患"].severity, findings["存在重大事故隐患"].area) == ("major", "work_safety")
    assert findings["用地手续不全"].area == "land"
    assert findings["用地手续不全"].created_by == user
    assert findings["用地手续不全"].history.first().history_change_reason == record.reason
    again = run_preview(user, campaign, rows)
    assert again.findings_count == 0 and again.unchanged_count == 1


def test_key_processes_stay_in_the_history_of_an_updated_enterprise(users, regions, campaign):
    user = users["town_a1"]
    process = KeyHazardousProcess.objects.first() or KeyHazardousProcess.objects.create(
        code="nitration", name="硝化工艺", name_en="Nitration"
    )
    enterprise = enterprise_services.create_enterprise(
        actor=user, data={"uscc": next_uscc(), "name": "甲", "township": regions["town_a1"]}, key_processes=[process]
    )
    services.commit(run_preview(user, campaign, [row(enterprise.uscc, "甲（新）")]), user)
    newest, previous = list(enterprise.history.all()[:2])
    delta = newest.diff_against(previous)
    assert delta.changed_fields == ["name"]


def test_unreadable_file_fails_with_one_message(users, campaign):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with pytest.raises(Exception, match="password-protected"):
        services.start_import(
            file=SimpleUploadedFile("名单.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
            user=users["town_a1"],
            campaign=campaign,
        )
    record = services.start_import(
        file=roster_upload([], total=False, title=True, filler=False), user=users["town_a1"], campaign=campaign
    )
    services.preview(record, users["town_a1"])
    assert record.status == ImportStatus.FAILED
    assert "no data rows" in record.message
    assert RosterImport.objects.get().status == ImportStatus.FAILED


def test_upload_limits(users, campaign, settings):
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(Exception, match="at most"):
        services.start_import(file=roster_upload([row(next_uscc(), "甲")]), user=users["town_a1"], campaign=campaign)


def test_roles_without_enterprise_rights_cannot_import(users, campaign):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.start_import(file=roster_upload([row(next_uscc(), "甲")]), user=users["supervisor"], campaign=campaign)


def _queries_for(user, campaign, count, prefix):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rows = [
        row(
            next_uscc(),
            f"{prefix}{index}",
            township="甲一镇" if index % 2 else "甲二镇",
            category="升级",
            problems="无证",
        )
        for index in range(count)
    ]
    record = services.start_import(file=roster_upload(rows), user=user, campaign=campaign)
    with CaptureQueriesContext(connection) as previewing:
        services.preview(record, user)
    with CaptureQueriesContext(connection) as committing:
        services.commit(record, user)
    return len(previewing.captured_queries), len(committing.captured_queries)


def test_preview_and_commit_queries_do_not_grow_with_the_rows(users, campaign):
    user = users["county_a"]
    few = _queries_for(user, campaign, 5, "少")
    many = _queries_for(user, campaign, 150, "多")
    assert few == many
    assert Enterprise.objects.count() == 155 and Finding.objects.count() == 155


def test_commit_checks_again_against_the_register_as_it_is_now(users, regions, campaign):
    user = users["town_a1"]
    code = next_uscc()
    record = run_preview(user, campaign, [row(code, "甲")])
    assert record.created_count == 1
    EnterpriseFactory(uscc=code, township=regions["town_b1"])  # registered elsewhere meanwhile
    with pytest.raises(services.ImportRefused):
        services.commit(record, user)
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    assert "outside your region" in record.errors[0]["message"]
    assert Enterprise.objects.get(uscc=code).township == regions["town_b1"]
