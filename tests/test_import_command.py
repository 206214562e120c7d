"""`manage.py import_roster`: the command-line twin of the import page, its JSON and its exit statuses."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation

from enterprises.models import Enterprise
from imports.models import ImportStatus, RosterImport

from .factories import CampaignFactory, next_uscc
from .import_support import roster_bytes, row

BASE_DIR = Path(__file__).resolve().parent.parent
JSON_KEYS = {"rows", "created", "updated", "unchanged", "skipped", "errors", "warnings", "surveyed", "committed"}


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项行动")


def roster_file(tmp_path, rows, name="名单.xlsx", **options) -> str:
    path = tmp_path / name
    path.write_bytes(roster_bytes(rows, **options))
    return str(path)


def run(*args) -> tuple[int, dict | str]:
    """Call the command in-process; return (exit status, parsed JSON or text)."""
    from io import StringIO

    out = StringIO()
    status = 0
    try:
        call_command("import_roster", *args, stdout=out, stderr=StringIO())
    except SystemExit as exit:
        status = exit.code
    text = out.getvalue().strip()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def test_preview_prints_the_json_shape_and_writes_nothing(tmp_path, users, campaign):
    path = roster_file(tmp_path, [row(next_uscc(), "甲"), None, row("BAD", "乙")])
    status, output = run(path, "--user", "town_a1", "--campaign", "四个一批专项行动", "--json")
    assert status == 0
    assert set(output) == JSON_KEYS
    assert output["rows"] == 4 and output["created"] == 1 and output["skipped"] == 2
    assert (output["updated"], output["unchanged"], output["committed"]) == (0, 0, False)
    assert output["errors"] == [{"row": 6, "column": "统一社会信用代码", "message": output["errors"][0]["message"]}]
    assert "GB 32100-2015" in output["errors"][0]["message"]
    assert not Enterprise.objects.exists()
    assert RosterImport.objects.get().status == ImportStatus.PREVIEWED


def test_commit_with_errors_exits_1_then_skip_errors_exits_0(tmp_path, users, campaign):
    good = next_uscc()
    path = roster_file(tmp_path, [row(good, "甲"), row("BAD", "乙")])
    status, output = run(path, "--user", "town_a1", "--campaign", "四个一批专项行动", "--commit", "--json")
    assert status == 1
    assert output["committed"] is False and len(output["errors"]) == 1
    assert not Enterprise.objects.exists()

    status, output = run(
        path, "--user", "town_a1", "--campaign", "四个一批专项行动", "--commit", "--skip-errors", "--json"
    )
    assert status == 0
    assert output["committed"] is True and output["created"] == 1
    enterprise = Enterprise.objects.get()
    assert enterprise.uscc == good
    assert enterprise.history.first().history_user == users["town_a1"]


def test_clean_commit_and_idempotent_rerun(tmp_path, users, campaign):
    path = roster_file(tmp_path, [row(next_uscc(), "甲", category="升级")])
    assert run(path, "--user", "town_a1", "--campaign", "四个一批专项行动", "--commit", "--json")[0] == 0
    status, output = run(path, "--user", "town_a1", "--campaign", "四个一批专项行动", "--commit", "--json")
    assert status == 0
    assert (output["created"], output["updated"], output["unchanged"], output["committed"]) == (0, 0, 1, True)


def test_scoped_by_the_users_region(tmp_path, users, campaign):
    path = roster_file(tmp_path, [row(next_uscc(), "乙镇企业", township="乙一镇")])
    status, output = run(path, "--user", "town_a1", "--campaign", "四个一批专项行动", "--commit", "--json")
    assert status == 1
    assert output["errors"][0]["column"] == "乡镇（街道）"
    assert "outside your region" in output["errors"][0]["message"]


@pytest.mark.parametrize(
    ("make_args", "fragment"),
    [
        (lambda path: [path, "--user", "nobody", "--campaign", "四个一批专项行动"], "No active user"),
        (lambda path: [path, "--user", "town_a1", "--campaign", "不存在的行动"], "No campaign"),
        (lambda path: [path + ".missing", "--user", "town_a1", "--campaign", "四个一批专项行动"], "No file"),
        (lambda path: [path, "--user", "supervisor", "--campaign", "四个一批专项行动"], "cannot create or edit"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, users, campaign, make_args, fragment):
    path = roster_file(tmp_path, [row(next_uscc(), "甲")])
    status, output = run(*make_args(path), "--json")
    assert status == 2
    assert set(output) == JSON_KEYS
    assert fragment in output["errors"][0]["message"]


def test_unreadable_files_exit_2(tmp_path, users, campaign):
    encrypted = tmp_path / "加密.xlsx"
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    status, output = run(str(encrypted), "--user", "town_a1", "--campaign", "四个一批专项行动", "--json")
    assert status == 2 and "password-protected" in output["errors"][0]["message"]

    no_header = roster_file(tmp_path, [["a", "b"]], headers=["甲", "乙"], name="无表头.xlsx", total=False)
    status, output = run(no_header, "--user", "town_a1", "--campaign", "四个一批专项行动", "--json")
    assert status == 2 and "No header row found" in output["errors"][0]["message"]
    assert output["committed"] is False


def test_plain_text_output(tmp_path, users, campaign):
    path = roster_file(tmp_path, [row("BAD", "乙")])
    status, output = run(path, "--user", "town_a1", "--campaign", "四个一批专项行动")
    assert status == 0
    assert "Preview #" in output and "row 4 [统一社会信用代码]" in output


def test_missing_required_option_exits_2_from_the_shell(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "import_roster", str(tmp_path / "x.xlsx"), "--campaign", "x"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--user" in result.stderr
