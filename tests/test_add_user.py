"""`manage.py add_user`: one account per call, role matched to the region's level, safe to re-run."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from accounts.choices import Role
from accounts.models import Department
from accounts.services import PASSWORD_LENGTH, provision_user, system_actor

User = get_user_model()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def departments(db):
    """Two of the default pre-review departments (accounts migration 0002), with known short names."""
    safety, _ = Department.objects.update_or_create(name="应急管理局", defaults={"short_name": "应急"})
    environment, _ = Department.objects.update_or_create(name="生态环境局", defaults={"short_name": "环保"})
    return {"safety": safety, "environment": environment}


def add_user(*args) -> list[str]:
    out = StringIO()
    # English output whatever a test client request activated before (LocaleMiddleware).
    with translation.override("en"):
        call_command("add_user", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()


def refused(*args) -> str:
    with translation.override("en"), pytest.raises(CommandError) as raised:
        call_command("add_user", *args, stdout=StringIO(), stderr=StringIO())
    return str(raised.value)


@pytest.mark.parametrize(
    "role, region, staff",
    [
        ("city", "city", True),
        ("county", "county_a", True),
        ("township", "town_a1", False),
        ("supervisor", "city", False),
        ("supervisor", "county_b", False),
    ],
)
def test_each_role_at_its_level(regions, role, region, staff):
    add_user("wang", "--role", role, "--region", regions[region].code, "--email", "wang@example.cn")
    user = User.objects.get(username="wang")
    assert (user.role, user.region, user.is_staff, user.email) == (role, regions[region], staff, "wang@example.cn")
    assert user.department is None


def test_reviewer_with_department(regions, departments):
    add_user("zhao", "--role", "reviewer", "--region", regions["city"].code, "--department", "应急")
    user = User.objects.get(username="zhao")
    assert (user.role, user.department) == (Role.REVIEWER, departments["safety"])
    add_user("qian", "--role", "reviewer", "--region", regions["county_a"].code, "--department", "生态环境局")
    assert User.objects.get(username="qian").department == departments["environment"]


@pytest.mark.parametrize(
    "role, region",
    [
        ("city", "county_a"),
        ("county", "city"),
        ("county", "town_a1"),
        ("township", "county_a"),
        ("supervisor", "town_a1"),
    ],
)
def test_role_at_the_wrong_level_is_refused(regions, role, region):
    said = refused("wang", "--role", role, "--region", regions[region].code)
    assert "User wang was not saved" in said
    assert regions[region].code in said
    assert "Choose a region of the right level" in said
    assert not User.objects.filter(username="wang").exists()


def test_reviewer_at_township_is_refused(regions, departments):
    said = refused("zhao", "--role", "reviewer", "--region", regions["town_a1"].code, "--department", "应急")
    assert "Choose a region of the right level" in said


def test_reviewer_needs_a_department(regions):
    said = refused("zhao", "--role", "reviewer", "--region", regions["city"].code)
    assert "must name their department" in said
    assert not User.objects.exists()


def test_unknown_region(regions):
    said = refused("wang", "--role", "township", "--region", "320599999")
    assert "No region has the code 320599999" in said
    assert not User.objects.exists()


def test_unknown_department_and_region_reported_together(regions, departments):
    said = refused("zhao", "--role", "reviewer", "--region", "999999", "--department", "交通局")
    assert "No region has the code 999999" in said
    assert "No department is called 交通局" in said


def test_ambiguous_short_name(regions, departments):
    Department.objects.create(name="应急指挥中心", short_name="应急")
    said = refused("zhao", "--role", "reviewer", "--region", regions["city"].code, "--department", "应急")
    assert "names several departments" in said
    assert "应急管理局" in said and "应急指挥中心" in said


def test_unknown_role_is_refused_by_the_parser(regions):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("add_user", "x", "--role", "api", "--region", regions["city"].code)


def test_generated_password_is_printed_once_and_works(regions, client):
    lines = add_user("sun", "--role", "township", "--region", regions["town_a1"].code)
    password = lines[-1]
    assert len(password) == PASSWORD_LENGTH
    assert sum(password in line for line in lines) == 1
    assert "Created user sun" in lines[0]
    assert User.objects.get(username="sun").check_password(password)
    response = client.post(reverse("login"), {"username": "sun", "password": password})
    assert response.status_code == 302
    assert client.get(reverse("enterprises:list")).status_code == 200
    # A second run does not print (or change) the password.
    again = add_user("sun", "--role", "township", "--region", regions["town_a1"].code)
    assert not any(password in line for line in again)
    assert "up to date" in again[0]
    assert User.objects.get(username="sun").check_password(password)


def test_given_password(regions):
    lines = add_user("li", "--role", "county", "--region", regions["county_a"].code, "--password", "Huagong-2024!")
    assert not any("Huagong-2024!" in line for line in lines)
    assert User.objects.get(username="li").check_password("Huagong-2024!")


def test_weak_password_is_refused(regions):
    said = refused("li", "--role", "county", "--region", regions["county_a"].code, "--password", "123")
    assert "password" in said
    assert not User.objects.exists()


def test_rerun_updates_role_region_department_and_email(regions, departments):
    add_user("zhou", "--role", "township", "--region", regions["town_a1"].code, "--password", "Huagong-2024!")
    lines = add_user(
        "zhou",
        "--role",
        "reviewer",
        "--region",
        regions["county_a"].code,
        "--department",
        "环保",
        "--email",
        "zhou@example.cn",
    )
    assert "already existed; updated" in lines[0]
    user = User.objects.get(username="zhou")
    assert (user.role, user.region, user.department, user.email) == (
        Role.REVIEWER,
        regions["county_a"],
        departments["environment"],
        "zhou@example.cn",
    )
    assert user.check_password("Huagong-2024!")  # kept: no --password given
    assert len(lines) == 1  # no password printed

    # Promoted to the county office: now staff; the department stays unless cleared.
    add_user("zhou", "--role", "county", "--region", regions["county_a"].code)
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.department) == (Role.COUNTY, True, departments["environment"])
    add_user(
        "zhou",
        "--role",
        "township",
        "--region",
        regions["town_a2"].code,
        "--department",
        "",
        "--password",
        "Xin-mima-2025",
    )
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.department, user.region) == (
        Role.TOWNSHIP,
        False,
        None,
        regions["town_a2"],
    )
    assert user.check_password("Xin-mima-2025")
    assert User.objects.filter(username="zhou").count() == 1


def test_failed_rerun_changes_nothing(regions):
    add_user("zhou", "--role", "township", "--region", regions["town_a1"].code)
    refused("zhou", "--role", "city", "--region", regions["town_a2"].code, "--email", "x@example.cn")
    user = User.objects.get(username="zhou")
    assert (user.role, user.region, user.email) == (Role.TOWNSHIP, regions["town_a1"], "")


def test_service_keys_errors_by_field(regions):
    with pytest.raises(ValidationError) as raised:
        provision_user(actor=system_actor(), username="x", role="city", region_code=regions["county_a"].code)
    assert set(raised.value.message_dict) == {"region"}


def test_service_checks_the_actor(regions, users):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        provision_user(actor=users["county_a"], username="x", role="township", region_code=regions["town_b1"].code)
    created = provision_user(
        actor=users["county_a"], username="x", role="township", region_code=regions["town_a1"].code
    )
    assert created.created and created.generated_password
