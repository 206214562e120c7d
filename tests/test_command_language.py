"""Management commands speak the register's language (Chinese first) from the command line, as the pages do, and
`make run HOST=…` prints the address the server listens on."""

import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import ManagementUtility, call_command
from django.utils import translation

from core import demo
from core.management.commands import demo as demo_command

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*argv) -> int:
    """Run `manage.py <argv>` in-process, as from a shell; returns the exit status."""
    try:
        ManagementUtility(["manage.py", *argv]).execute()
    except SystemExit as exit_:
        return exit_.code or 0
    return 0


def test_every_password_rule_answers_in_chinese():
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        validate_password("abc123")
    messages = refused.value.messages
    assert "密码太短，至少需要 8 个字符。" in messages
    assert all(not any("a" <= ch.lower() <= "z" for ch in message) for message in messages), messages


@pytest.mark.django_db
def test_add_user_from_the_command_line_refuses_a_weak_password_in_chinese(regions, capsys):
    translation.activate("en")  # what an earlier request (or a shell's habits) may have left active
    try:
        status = run_cli(
            "add_user", "wang", "--role", "township", "--region", regions["town_a1"].code, "--password", "abc"
        )
    finally:
        translation.deactivate()
    error = capsys.readouterr().err
    assert status == 1
    assert "密码太短，至少需要 8 个字符。" in error
    assert "这个密码太常见了" in error
    assert "This password" not in error and "was not saved" not in error


def test_the_demo_prints_the_address_it_was_given(monkeypatch, settings):
    settings.DEBUG = True
    monkeypatch.setattr(demo_command, "build_demo", lambda stdout: demo.DemoResult(created={}, users=[], extensions=[]))
    out = StringIO()
    with translation.override(settings.LANGUAGE_CODE):
        call_command("demo", "--address", "127.0.0.1:8101", stdout=out)
    output = out.getvalue()
    assert "打开 http://127.0.0.1:8101/，用以上任一账号登录。" in output
    assert "8000" not in output and "Open " not in output


@pytest.mark.parametrize(
    ("address", "url"),
    [
        (None, "http://127.0.0.1:8000/"),
        ("127.0.0.1:8101", "http://127.0.0.1:8101/"),
        ("8101", "http://127.0.0.1:8101/"),
        ("0.0.0.0:8101", "http://127.0.0.1:8101/"),
        ("192.168.1.20:8000", "http://192.168.1.20:8000/"),
    ],
)
def test_the_demo_url_of_a_runserver_address(address, url):
    assert demo_command.address_url(address) == url


def test_make_run_hands_its_host_to_the_demo():
    dry_run = subprocess.run(
        ["make", "-n", "run", "HOST=127.0.0.1:8101"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "manage.py demo --address 127.0.0.1:8101" in dry_run
    assert "manage.py runserver 127.0.0.1:8101" in dry_run


@pytest.mark.django_db
def test_import_roster_reports_in_chinese_from_the_command_line(users, tmp_path, capsys):
    from .factories import CampaignFactory, next_uscc
    from .import_support import roster_bytes, row

    CampaignFactory(name="四个一批专项行动")
    path = tmp_path / "甲一镇名单.xlsx"
    path.write_bytes(roster_bytes([row(next_uscc(), "好企业"), row("BAD", "坏代码")]))
    status = run_cli("import_roster", str(path), "--user", "town_a1", "--campaign", "四个一批专项行动")
    out = capsys.readouterr().out
    assert status == 0
    assert "预览 #" in out and "将新增1" in out and "错误1行" in out
    assert "第5行［统一社会信用代码］：" in out
    assert "Preview" not in out and " rows" not in out
