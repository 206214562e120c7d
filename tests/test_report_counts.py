"""The quarterly report counts as the seeds count: one township, every figure checked against numbers worked out
by hand (runs on SQLite and PostgreSQL, like the whole suite).

甲一镇, campaign 2021–2023, report of 2021Q3 (as of 2021-09-30); everything below recorded on 2021-08-16:

  production  status before → as of 09-30     park                 survey      decision in force
  E1          operating → closed              —                    07-10       shutdown, accepted
  E2          operating → closed              —                    07-10       shutdown, accepted
  E3          suspended                       —                    07-10       shutdown, in progress (task overdue)
  E4          operating                       revoked → recognised 07-10       relocate into a recognised park, accepted
  E5          operating                       revoked park         07-10       upgrade, accepted (no upgrade target)
  E6          operating                       recognised park      07-10       upgrade, in progress (+ a pending change)
  E7          operating                       —                    07-10       shutdown, proposed
  E8          operating                       —                    07-10       relocate, awaiting approval
  E9          operating                       —                    07-10       excluded (approved)
  E10         closed before the campaign      —                    —           a withdrawn shutdown proposal only
  E11         suspended                       recognised park      —           restructure, in pre-review
  E12         operating                       —                    10-05 (Q4)  undecided
  trading
  T1          operating                       recognised park      07-10       upgrade, accepted
  T2          operating                       —                    07-10       excluded (approved)
  T3          operating → closed              —                    07-10       shutdown, accepted

Targets of 甲一镇 for 2021: shutdown 2, relocate 2, restructure 1 (no upgrade target); for 2022: shutdown 9.
"""

import datetime
import io
import re

import pytest
from django.apps import apps
from django.utils import timezone, translation
from openpyxl import load_workbook

from accounts.models import Department
from enterprises.choices import EnterpriseKind, OperatingStatus
from inspections.models import Survey
from parks.choices import RecognitionStatus
from rectification import services
from rectification.models import SupervisionReport
from rectification.reports import Quarter, build_report, compute_figures, definitions, statement

from .factories import (
    CampaignFactory,
    ChemicalParkFactory,
    ClassificationFactory,
    EnterpriseFactory,
    PlanFactory,
    TargetFactory,
    TaskFactory,
)

RECORDED = timezone.make_aware(datetime.datetime(2021, 8, 16, 10, 0))
Q3 = Quarter(2021, 3)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def backdate_history(moment=RECORDED):
    for model in apps.get_models():
        if model.__name__.startswith("Historical") and any(f.name == "history_date" for f in model._meta.fields):
            model.objects.update(history_date=moment)


@pytest.fixture
def township(regions, users):
    town = regions["town_a1"]
    campaign = CampaignFactory(name="四个一批专项行动")
    TargetFactory(campaign=campaign, region=town, year=2021, shutdown=2, relocate=2, upgrade=0, restructure=1)
    TargetFactory(campaign=campaign, region=town, year=2022, shutdown=9)
    recognised = ChemicalParkFactory(
        township=town, name="临港化工园区", recognition_status=RecognitionStatus.RECOGNISED
    )
    revoked = ChemicalParkFactory(township=town, name="新桥化工集聚区", recognition_status=RecognitionStatus.REVOKED)
    destination = ChemicalParkFactory(
        township=regions["town_a2"], name="沙河精细化工园", recognition_status=RecognitionStatus.RECOGNISED
    )
    safety = Department.objects.get_or_create(name="应急管理局")[0]
    made = {}

    def enterprise(key, kind=EnterpriseKind.PRODUCTION, status=OperatingStatus.OPERATING, park=None):
        made[key] = EnterpriseFactory(township=town, name=f"{key}化工", kind=kind, status=status, park=park)
        return made[key]

    def decide(key, category, state, **fields):
        return ClassificationFactory(enterprise=made[key], campaign=campaign, category=category, state=state, **fields)

    for key in ("E1", "E2", "E7", "E8", "E9", "E12"):
        enterprise(key)
    enterprise("E3", status=OperatingStatus.SUSPENDED)
    enterprise("E4", park=revoked)
    enterprise("E5", park=revoked)
    enterprise("E6", park=recognised)
    enterprise("E10", status=OperatingStatus.CLOSED)
    enterprise("E11", status=OperatingStatus.SUSPENDED, park=recognised)
    enterprise("T1", kind=EnterpriseKind.TRADING, park=recognised)
    enterprise("T2", kind=EnterpriseKind.TRADING)
    enterprise("T3", kind=EnterpriseKind.TRADING)

    awaiting = [
        decide("E1", "shutdown", "awaiting_acceptance"),
        decide("E2", "shutdown", "awaiting_acceptance"),
        decide("E4", "relocate", "awaiting_acceptance", destination_park=destination),
        decide("T3", "shutdown", "awaiting_acceptance"),
    ]
    e3 = decide("E3", "shutdown", "in_progress")
    decide("E5", "upgrade", "accepted", accepted_at=RECORDED)
    e6 = decide("E6", "upgrade", "in_progress")
    # A proposed change of E6's approved decision: not counted, the approved upgrade counts until it is approved.
    decide("E6", "shutdown", "proposed", is_current=False, replaces=e6)
    decide("E7", "shutdown", "proposed")
    decide("E8", "relocate", "pending_approval", destination_park=recognised)
    decide("E9", "excluded", "approved", exclusion_reason="非化工企业")
    decide("E10", "shutdown", "withdrawn", is_current=False)
    decide("E11", "restructure", "under_review")
    decide("E12", "undecided", "proposed")
    decide("T1", "upgrade", "accepted", accepted_at=RECORDED)
    decide("T2", "excluded", "approved", exclusion_reason="仅从事贸易")
    task = TaskFactory(
        plan=PlanFactory(classification=e3),
        description="拆除生产设备",
        deadline=datetime.date(2021, 9, 1),
        lead_region=None,
        lead_department=safety,
    )
    for key in ("E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E9", "T1", "T2", "T3"):
        Survey.objects.create(enterprise=made[key], campaign=campaign, surveyed_on=datetime.date(2021, 7, 10))
    for classification in awaiting:
        services.accept_classification(classification, users["county_a"])
    backdate_history()
    # Surveyed in the fourth quarter: not yet surveyed as of 2021-09-30.
    Survey.objects.create(enterprise=made["E12"], campaign=campaign, surveyed_on=datetime.date(2021, 10, 5))
    return {"campaign": campaign, "made": made, "recognised": recognised, "e3": e3, "task": task}


def row(figures, code):
    return next(r for r in figures["rows"] if r["code"] == code)


def test_every_figure_of_the_township_as_of_the_quarter_end(township, regions):
    figures = compute_figures(township["campaign"], regions["city"], Q3)
    town = row(figures, regions["town_a1"].code)
    batches = ("shutdown", "relocate", "upgrade", "restructure")

    def per_batch(*values):
        return dict(zip(batches, values, strict=True))

    # E1–E12 and T1–T3.
    assert town["enterprises"] == 15
    # E1–E9 and T1–T3 (E12's survey is dated 10-05; E10 and E11 were never surveyed).
    assert town["surveyed"] == 12
    assert town["excluded"] == 2  # E9, T2
    # Not yet approved: E7 (proposed), E8 (awaiting approval), E11 (in pre-review); not E6's pending change,
    # not E12's undecided proposal, not E10's withdrawn one.
    assert town["proposed"] == per_batch(1, 1, 0, 1) and town["proposed_total"] == 3
    # Approved, completed included: shutdown E1 E2 E3 T3, relocate E4, upgrade E5 E6 T1.
    assert town["approved"] == per_batch(4, 1, 3, 0) and town["approved_total"] == 8
    assert town["completed"] == per_batch(3, 1, 2, 0) and town["completed_total"] == 6
    # The 2021 targets only (2022 not yet due).
    assert town["target"] == per_batch(2, 2, 0, 1) and town["target_total"] == 5
    assert town["rates"] == per_batch(1.5, 0.5, None, 0.0)
    # Over the targeted batches, each at most its target: (min(3,2) + min(1,2) + min(0,1)) / (2+2+1) = 3/5.
    # (Upgrades without a target would have made it 6/5 = 120 %; the shutdowns beyond their target 4/5.)
    assert town["completion_rate"] == 0.6
    # 入园进区率: operating/suspended production E3 E4 E5 E6 E7 E8 E9 E11 E12 = 9; in a recognised park E4 (moved
    # there on acceptance), E6, E11 = 3. E5 is in the revoked park; T1 is trading.
    assert (town["production_active"], town["production_in_park"], town["in_park_rate"]) == (9, 3, 0.3333)
    # 关闭率: production in scope = surveyed E1–E9 less the excluded E9 = 8; shutdown accepted E1, E2 = 2 (not T3).
    assert (town["production_in_scope"], town["production_closed"], town["closure_rate"]) == (8, 2, 0.25)
    assert town["tasks_overdue"] == 1 and town["overdue_units"] == [("应急管理局", 1)]
    # Nothing was recorded by the end of 2021Q2: all six completions are this quarter's.
    assert (town["previous_completed_total"], town["change_completed"]) == (0, 6)
    assert town["previous_completion_rate"] is None and town["change_rate"] is None
    # The township is the only one with data: its county and the city show the same figures.
    for code in (regions["county_a"].code, regions["city"].code):
        other = row(figures, code)
        for key in ("enterprises", "surveyed", "excluded", "proposed", "approved", "completed", "target"):
            assert other[key] == town[key], (code, key)
        assert other["completion_rate"] == 0.6 and other["in_park_rate"] == 0.3333 and other["closure_rate"] == 0.25


def test_the_statement_in_seed_002s_form(township, regions):
    figures = compute_figures(township["campaign"], regions["city"], Q3)
    town = row(figures, regions["town_a1"].code)
    with translation.override("zh-hans"):
        text = "".join(statement(town, region_name="甲一镇", as_of_day=datetime.date(2021, 9, 30), target_year=2021))
    assert text == (
        "截至2021年9月30日，甲一镇共摸排12家，经精准识别剔除2家，纳入整治8家（整治类别已经审批），"
        "其中关停4家（占50.0%）、转移1家（占12.5%）、升级3家（占37.5%）。"
        "已完成整治（验收销号）6家，其中关停3家（占50.0%）、转移1家（占16.7%）、升级2家（占33.3%）。"
        "另有3家企业的整治类别已申报、尚待审批。"
        "对照截至2021年的目标任务，总体完成率为60.0%。"
    )


def test_later_changes_leave_the_quarter_alone_and_count_in_the_current_one(township, regions, users):
    campaign = township["campaign"]
    before = compute_figures(campaign, regions["city"], Q3)
    # After the quarter: E3's shutdown is accepted, the recognised park loses its recognition.
    e3 = township["e3"]
    services.mark_task_done(township["task"], users["town_a1"], completed_on=timezone.localdate())
    services.request_acceptance(e3, users["town_a1"])
    services.accept_classification(e3, users["county_a"])
    park = township["recognised"]
    park.recognition_status = RecognitionStatus.REVOKED
    park.save()
    assert compute_figures(campaign, regions["city"], Q3) == before
    now = row(compute_figures(campaign, regions["city"], Quarter.of(timezone.localdate())), regions["town_a1"].code)
    assert now["completed"]["shutdown"] == 4 and now["surveyed"] == 13  # E12's survey counts now
    # E3 is closed now; E6 and E11 sit in a park no longer recognised: only E4 is in a recognised park.
    assert (now["production_active"], now["production_in_park"]) == (8, 1)
    assert (now["production_in_scope"], now["production_closed"]) == (9, 3)  # E12 surveyed: in scope
    # All 2021–2023 targets are due by now: shutdown 2 + 9.
    assert now["target"]["shutdown"] == 11


def test_workbook_and_notes_state_every_definition(township, regions):
    report = SupervisionReport.objects.create(
        campaign=township["campaign"],
        quarter="2021Q3",
        region=regions["county_a"],
        document_number="临化治办〔2021〕7号",
    )
    build_report(report.pk)
    report.refresh_from_db()
    assert report.status == "done", report.error
    with report.file.open("rb") as handle:
        workbook = load_workbook(io.BytesIO(handle.read()))
    with translation.override("zh-hans"):
        summary_title, notes_title = translation.gettext("Summary"), translation.gettext("Notes")
        lines = definitions()
    summary = [list(r) for r in workbook[summary_title].iter_rows(values_only=True)]
    headers = summary[3]
    town = dict(zip(headers, summary[4], strict=False))
    assert town["摸排"] == 12 and town["在册企业"] == 15 and town["剔除"] == 2
    assert town["关停·待审批"] == 1 and town["关停·已审批"] == 4 and town["关停·已完成"] == 3 and town["关停·目标"] == 2
    assert town["关停·完成率"] == 1.5 and town["升级·完成率"] == "—"
    assert town["总体完成率（有目标类别）"] == 0.6 and town["入园进区率"] == 0.3333 and town["关闭率"] == 0.25
    notes = [r[0] for r in workbook[notes_title].iter_rows(values_only=True) if r and r[0]]
    for line in lines:
        assert line in notes
    assert any(line.startswith("入园进区率") for line in notes) and any(line.startswith("关闭率") for line in notes)
    assert any("临化治办〔2021〕7号" in line for line in notes)
    assert any(line.startswith("截至2021年9月30日，甲县共摸排12家") for line in notes)
    # No quarter code anywhere a person reads.
    text = " ".join(str(v) for ws in workbook.worksheets for r in ws.iter_rows(values_only=True) for v in r if v)
    assert not re.search(r"\d{4}\s*Q[1-4]", text) and "2021年第三季度" in text
