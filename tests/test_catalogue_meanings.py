"""A word with several meanings gets one translation per meaning (msgctxt), never one for all of them.

The catalogue once translated "kind" as 企业类型 everywhere, so an inspection read "企业类型: 回头看" and the
inspection forms labelled the inspection type 企业类型. These checks fail when such a word is translated without
a context again, in the source or in the catalogue, and pin the translations the issue asked for.
"""

import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from inspections.choices import InspectionKind
from inspections.forms import InspectionForm, PlanInspectionForm
from rectification.choices import CampaignKind

from .factories import CampaignFactory, EnterpriseFactory, InspectionFactory
from .test_i18n import _po_entries

ROOT = Path(__file__).resolve().parent.parent

#: English words that mean different things in different places of the product, each with the meanings met.
#: Every use says which one it is: pgettext("inspection", "kind"), {% translate "Kind" context "campaign" %}.
AMBIGUOUS = {
    "kind": "an enterprise's kind (企业类型), an inspection's (检查类型), a campaign's (行动类型), a notification's",
    "type": "the same as kind",
    "status": "an enterprise's operating status, an import's, an inspection's, a finding's, a task's, a report's",
    "state": "a classification's workflow state, a permit's validity, an API client's",
    "level": "a park's level (省级/市级), a region's (市/县/乡镇), a hazard source's grade (一级…四级)",
    "opinion": "a pre-review department's opinion, or any view at all",
    "return": "returning a classification to the county (退回), or going back (返回)",
    "open": "a link that opens a record (打开), or a finding still open (待整改)",
    "target": "an inspection's target (检查对象), a campaign's target (目标任务)",
    "batch": "batch process mode (间歇), a batch of the four batches (批)",
    "failed": "an import that failed (导入失败), a report (生成失败), an acceptance item not passed (未通过)",
    "updated": "when a record last changed (更新时间), rows an import changed (已更新)",
    "created": "a history entry that created the record (新建), rows an import created (已新增)",
    "period": "a campaign's period (起止日期), or a time limit (期限)",
    "progress": "a progress bar (进度), a task's progress report (进展)",
}

#: Translations the issue asked for: one per meaning, and different where the meanings read differently.
MEANINGS = {
    ("enterprise", "kind"): "企业类型",
    ("inspection", "kind"): "检查类型",
    ("campaign", "kind"): "行动类型",
    ("enterprise", "Kind"): "企业类型",
    ("inspection", "Kind"): "检查类型",
    ("campaign", "Kind"): "行动类型",
    ("inspection", "target"): "检查对象",
    ("campaign", "target"): "目标任务",
    ("inspection", "Target"): "检查对象",
    ("campaign", "Target"): "目标",
    ("import count", "Updated"): "已更新",
    ("last change", "Updated"): "更新时间",
    ("roster import", "Failed"): "导入失败",
    ("report", "Failed"): "生成失败",
    ("acceptance item", "Failed"): "未通过",
    ("process mode", "Batch"): "间歇",
}


def _is_ambiguous(msgid: str) -> bool:
    word = msgid.strip().lower()
    return word in AMBIGUOUS or (word.endswith("s") and word[:-1] in AMBIGUOUS)


def _source_files():
    for path in sorted(ROOT.rglob("*")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", "tests", "bench", "staticfiles", "media", "locale") or "migrations" in parts:
            continue
        if path.suffix in (".py", ".html", ".txt") and path.is_file():
            yield path


#: _("Kind"), gettext_lazy('status'), ngettext("…"): a gettext call without context on a literal.
PY_CALL = re.compile(r"""\b(?:_|gettext|gettext_lazy|gettext_noop|ngettext|ngettext_lazy)\(\s*(["'])(.*?)\1""")
#: {% translate "Kind" %} / {% trans 'Status' as label %}: the tag without a context argument.
TEMPLATE_TAG = re.compile(r"""\{%\s*(?:translate|trans)\s+(["'])(.*?)\1([^%]*)%\}""")
#: {% blocktranslate %}Status{% endblocktranslate %} without a context argument.
TEMPLATE_BLOCK = re.compile(r"""\{%\s*blocktrans(?:late)?\b([^%]*)%\}(.*?)\{%\s*endblocktrans(?:late)?\s*%\}""", re.S)


def test_ambiguous_words_are_never_translated_without_a_context_in_the_source():
    offenders = []
    for path in _source_files():
        text = path.read_text(encoding="utf-8")
        found = [match.group(2) for match in PY_CALL.finditer(text)]
        if path.suffix != ".py":
            found += [m.group(2) for m in TEMPLATE_TAG.finditer(text) if "context" not in m.group(3).split()]
            found += [m.group(2) for m in TEMPLATE_BLOCK.finditer(text) if "context" not in m.group(1).split()]
        offenders += [f"{path.relative_to(ROOT)}: {msgid!r}" for msgid in found if _is_ambiguous(msgid)]
    assert not offenders, (
        "These words mean different things in different places; say which meaning with pgettext(context, …) "
        f"or {{% translate … context … %}}: {offenders}"
    )


def test_the_catalogue_translates_ambiguous_words_per_meaning_only():
    entries = _po_entries()
    offenders = [entry["msgid"] for entry in entries if _is_ambiguous(entry["msgid"]) and entry["context"] is None]
    assert not offenders, f"translated once for all their meanings (give each use a context): {offenders}"
    contexts = {(entry["context"], entry["msgid"]) for entry in entries if _is_ambiguous(entry["msgid"])}
    assert set(MEANINGS) <= contexts


def test_each_meaning_has_its_own_chinese():
    with translation.override("zh-hans"):
        wrong = {
            key: translation.pgettext(*key)
            for key, chinese in MEANINGS.items()
            if translation.pgettext(*key) != chinese
        }
    assert not wrong
    # The detector itself: the words of the issue are on the list, a plain word is not.
    assert all(_is_ambiguous(word) for word in ("Kind", "types", "Status", "open", "Return", "opinion", "level"))
    assert not _is_ambiguous("enterprise name")


def test_the_scanner_finds_a_context_free_use():
    assert [m.group(2) for m in PY_CALL.finditer('label=_("Kind")')] == ["Kind"]
    assert [m.group(2) for m in PY_CALL.finditer('pgettext_lazy("inspection", "kind")')] == []
    tag = TEMPLATE_TAG.search('{% translate "Status" as label %}')
    assert tag.group(2) == "Status" and "context" not in tag.group(3).split()
    tag = TEMPLATE_TAG.search('{% translate "Status" context "task" %}')
    assert "context" in tag.group(3).split()


# --- The labels on the pages -------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_inspection_reads_inspection_type_not_enterprise_type(client_for, users, regions):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    inspection = InspectionFactory(enterprise=enterprise, kind=InspectionKind.RECHECK)
    page = client_for(users["town_a1"]).get(reverse("inspections:detail", args=[inspection.pk])).content.decode()
    assert "检查类型" in page and "回头看" in page
    assert "企业类型" not in page
    listing = client_for(users["town_a1"]).get(reverse("inspections:list")).content.decode()
    assert "<th>检查类型</th>" in listing


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["inspections:create", "inspections:plan"])
def test_the_inspection_forms_label_the_inspection_type(client_for, users, url_name):
    page = client_for(users["town_a1"]).get(reverse(url_name)).content.decode()
    assert '<label class="form-label" for="id_kind">检查类型' in page
    assert "企业类型" not in page


def test_the_inspection_form_fields_say_inspection_type():
    with translation.override("zh-hans"):
        assert str(InspectionForm.base_fields["kind"].label) == "检查类型"
        assert str(PlanInspectionForm.base_fields["kind"].label) == "检查类型"


@pytest.mark.django_db
def test_the_campaign_list_labels_the_campaign_kind(client_for, users):
    CampaignFactory(name="散乱污整治", kind=CampaignKind.SCATTERED_POLLUTING)
    page = client_for(users["city"]).get(reverse("rectification:campaigns")).content.decode()
    assert "<th>行动类型</th>" in page and "企业类型" not in page
    assert "<th>起止日期</th>" in page


@pytest.mark.django_db
def test_the_enterprise_dossier_and_list_keep_enterprise_type(client_for, users, regions):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    client = client_for(users["town_a1"])
    assert "企业类型" in client.get(reverse("enterprises:detail", args=[enterprise.pk])).content.decode()
    assert "企业类型" in client.get(reverse("enterprises:list")).content.decode()


def test_the_admin_names_the_core_app_for_what_it_holds():
    from django.apps import apps

    with translation.override("zh-hans"):
        label = str(apps.get_app_config("core").verbose_name)
        target = str(apps.get_model("rectification", "Target")._meta.verbose_name)
    assert label == "通知提醒"
    assert target == "目标任务"
