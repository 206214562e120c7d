"""The interface is Chinese first, English on request; the catalogue shipped is complete."""

import ast
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from enterprises.choices import OperatingStatus

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES"


def _unquote(text: str) -> str:
    return ast.literal_eval(f'"{text}"')


def _po_entries():
    """Entries of the zh_Hans catalogue as dicts, parsed without extra packages.

    Entries are separated by blank lines; within one, a keyword line starts a field and
    bare quoted lines continue it.
    """
    entries = []
    for block in (LOCALE_DIR / "django.po").read_text(encoding="utf-8").split("\n\n"):
        entry = {"msgid": "", "msgstr": "", "fuzzy": False, "context": None, "plural": False}
        field = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["fuzzy"] = "fuzzy" in line
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                if field in ("msgid", "msgstr", "context"):
                    entry[field] += _unquote(line[1:-1])
            else:
                keyword, _sep, rest = line.partition(" ")
                field = {"msgid": "msgid", "msgstr": "msgstr", "msgstr[0]": "msgstr", "msgctxt": "context"}.get(keyword)
                entry["plural"] |= keyword == "msgid_plural"
                if field:
                    entry[field] = _unquote(rest[1:-1])
        if entry["msgid"]:  # the header has an empty msgid
            entries.append(entry)
    return entries


def test_every_message_has_a_chinese_translation():
    entries = _po_entries()
    assert len(entries) > 300
    missing = [e["msgid"] for e in entries if not e["msgstr"] or e["fuzzy"]]
    assert not missing, f"{len(missing)} untranslated or fuzzy entries (run `make messages`), e.g. {missing[:5]}"


def test_compiled_catalogue_matches_its_source():
    """A .po edited without recompiling would ship stale Chinese: compare every singular entry."""
    assert (LOCALE_DIR / "django.mo").exists(), "run `make messages` and commit locale/"

    def compiled(entry):
        if entry["context"] is None:
            return translation.gettext(entry["msgid"])
        return translation.pgettext(entry["context"], entry["msgid"])

    with translation.override("zh-hans"):
        stale = [e["msgid"] for e in _po_entries() if not e["plural"] and compiled(e) != e["msgstr"]]
    assert not stale, f"django.mo is out of date for {len(stale)} entries (run `make messages`): {stale[:5]}"


def test_choice_labels_are_chinese_by_default_and_english_on_request():
    with translation.override("zh-hans"):
        assert str(OperatingStatus.OPERATING.label) == "在产"
    with translation.override("en"):
        assert str(OperatingStatus.OPERATING.label) == "Operating"


@pytest.mark.django_db
def test_login_page_is_chinese_and_a_user_can_switch_to_english(client, users):
    assert "登录" in client.get(reverse("login")).content.decode()
    client.force_login(users["town_a1"])
    page = client.get(reverse("enterprises:list")).content.decode()
    assert "企业" in page
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("enterprises:list")).content.decode()
    assert "Enterprises" in page and "退出登录" not in page


@pytest.mark.django_db
def test_an_english_browser_still_gets_chinese_until_the_user_switches(client, users):
    client.force_login(users["town_a1"])
    page = client.get(reverse("enterprises:list"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "退出登录" in page
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("enterprises:list"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "Log out" in page


def test_no_translated_string_hides_inside_an_f_string():
    """xgettext does not look inside f-strings: f"{_('Permit')}: …" would never reach the catalogue."""
    import re

    root = LOCALE_DIR.parent.parent.parent
    pattern = re.compile(r"""\bf(["']).*\{\s*(_|gettext|gettext_lazy|pgettext)\(""")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in root.glob("*/**/*.py")
        if ".venv" not in path.parts and "tests" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, f"use _('… %(name)s …') % {{…}} instead: {offenders}"
