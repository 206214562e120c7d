"""API access: tokens (both header forms), refused tokens, read-only tokens, sessions with CSRF,
the create_api_client command, the admin of clients, throttling."""

import datetime
import hashlib
import io

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_clients import LAST_USED_RESOLUTION, find_client, note_use
from accounts.choices import Role
from accounts.models import ApiClient
from accounts.permissions import Capability, can
from enterprises.models import Enterprise

from .api_support import api_client_for
from .factories import EnterpriseFactory

ENTERPRISES = "/api/v1/enterprises/"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def enterprise(regions):
    return EnterpriseFactory(township=regions["town_a1"], name="甲一化工")


def new_enterprise_body(regions, **extra):
    from .factories import next_uscc

    return {"uscc": next_uscc(), "name": "新登记化工有限公司", "region_code": regions["town_a1"].code, **extra}


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_token_accepted_in_both_header_forms(regions, enterprise, scheme):
    _client, token, _http = api_client_for(regions["county_a"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    response = http.get(ENTERPRISES)
    assert response.status_code == 200
    assert [row["uscc"] for row in response.json()["results"]] == [enterprise.uscc]


def test_no_credentials_is_401_with_json_body(db):
    response = APIClient().get(ENTERPRISES)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["detail_en"].startswith("Send an API token")
    assert body["errors"] == {}
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_unknown_token_is_401(regions):
    _client, token, _http = api_client_for(regions["county_a"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION="Token " + token[:-1] + ("A" if token[-1] != "A" else "B"))
    response = http.get(ENTERPRISES)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response.json()["detail_en"] == "Unknown API token."


def test_malformed_header_is_401(regions):
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION="Token two parts")
    response = http.get(ENTERPRISES)
    assert response.status_code == 401
    assert "Malformed Authorization header" in response.json()["detail_en"]


def test_revoked_token_is_401_and_says_so(regions, users):
    client, _token, http = api_client_for(regions["county_a"])
    assert http.get(ENTERPRISES).status_code == 200
    from accounts.api_clients import revoke_api_client

    assert revoke_api_client(actor=users["city"], client=client) is True
    response = http.get(ENTERPRISES)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "token_revoked"
    assert body["detail_en"].startswith("This API token was revoked on ")
    assert body["detail_zh"]  # rendered in Chinese too (from the catalogue once merged, else the source text)
    client.user.refresh_from_db()
    assert client.user.is_active is False


def test_expired_token_is_401(regions):
    client, _token, http = api_client_for(regions["county_a"])
    ApiClient.objects.filter(pk=client.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    response = http.get(ENTERPRISES)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert "expired on" in response.json()["detail_en"]


def test_token_expiring_later_still_works(regions):
    _client, _token, http = api_client_for(regions["county_a"], expires_at=timezone.now() + datetime.timedelta(days=1))
    assert http.get(ENTERPRISES).status_code == 200


def test_read_only_token_refused_on_write_with_json_403(regions, enterprise):
    _client, _token, http = api_client_for(regions["county_a"])
    response = http.post(ENTERPRISES, new_enterprise_body(regions), format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "read_only"
    assert body["detail_en"] == "This API client is read-only: changes need a client created with --write."
    assert set(body) >= {"detail", "detail_zh", "detail_en", "errors"}
    response = http.patch(f"{ENTERPRISES}{enterprise.pk}/", {"name": "改名"}, format="json")
    assert response.status_code == 403
    enterprise.refresh_from_db()
    assert enterprise.name == "甲一化工"
    assert Enterprise.objects.count() == 1


def test_write_token_holds_the_write_capabilities_read_only_does_not(regions):
    writer, _t, _h = api_client_for(regions["county_a"], write=True)
    reader, _t, _h = api_client_for(regions["county_a"])
    assert writer.user.role == Role.API and writer.user.region == regions["county_a"]
    assert can(writer.user, Capability.CHANGE_ENTERPRISE, regions["town_a1"])
    assert not can(writer.user, Capability.CHANGE_ENTERPRISE, regions["town_b1"])  # outside its region
    assert not can(reader.user, Capability.CHANGE_ENTERPRISE)
    assert not can(reader.user, Capability.API_WRITE)
    assert can(reader.user, Capability.VIEW_REGISTER)


def test_session_works_for_people_and_csrf_is_enforced(regions, users):
    http = APIClient(enforce_csrf_checks=True)
    http.force_login(users["county_a"])
    assert http.get(ENTERPRISES).status_code == 200
    body = new_enterprise_body(regions)
    refused = http.post(ENTERPRISES, body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert not Enterprise.objects.exists()
    # With the token from the cookie the same request goes through.
    http.get(reverse("login"))
    token = http.cookies["csrftoken"].value
    accepted = http.post(ENTERPRISES, body, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.json()
    assert Enterprise.objects.get().name == "新登记化工有限公司"


def test_browsable_api_renders_for_a_logged_in_person(users, enterprise, client_for):
    response = client_for(users["county_a"]).get(ENTERPRISES, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert enterprise.uscc in response.content.decode()


def test_create_api_client_prints_the_token_alone_on_the_last_line(regions):
    out = io.StringIO()
    call_command("create_api_client", "省化工整治平台", "--region", regions["county_a"].code, "--write", stdout=out)
    lines = out.getvalue().strip().splitlines()
    token = lines[-1]
    assert len(token) >= 40 and " " not in token
    assert all(token not in line for line in lines[:-1])
    client = ApiClient.objects.get(name="省化工整治平台")
    assert client.can_write and client.region == regions["county_a"] and client.expires_at is None
    # Only the hash is kept; the token itself is nowhere in the row.
    assert client.key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert client.key_prefix == token[:8]
    assert token not in {str(getattr(client, f.attname)) for f in ApiClient._meta.concrete_fields}
    assert find_client(token) == client
    # The service user carries the client's name: the history will say "changed by 省化工整治平台".
    assert client.user.get_full_name() == "省化工整治平台" and not client.user.has_usable_password()


def test_create_api_client_read_only_with_expiry(regions):
    out = io.StringIO()
    call_command("create_api_client", "数据中心", "--region", regions["city"].code, "--expires-days", "30", stdout=out)
    client = ApiClient.objects.get(name="数据中心")
    assert client.can_write is False
    assert datetime.timedelta(days=29) < client.expires_at - timezone.now() <= datetime.timedelta(days=30)
    assert "只读" in out.getvalue()


def test_create_api_client_refuses_unknown_region_and_duplicate_name(regions):
    with pytest.raises(CommandError, match="999999"):
        call_command("create_api_client", "X", "--region", "999999", stdout=io.StringIO())
    call_command("create_api_client", "重复", "--region", regions["city"].code, stdout=io.StringIO())
    with pytest.raises(CommandError, match="已存在"):
        call_command("create_api_client", "重复", "--region", regions["city"].code, stdout=io.StringIO())
    assert ApiClient.objects.filter(name="重复").count() == 1


def test_last_used_is_written_at_most_once_a_minute(regions, django_assert_num_queries):
    client, _token, http = api_client_for(regions["county_a"])
    assert http.get(ENTERPRISES).status_code == 200
    client.refresh_from_db()
    first = client.last_used_at
    assert first is not None
    http.get(ENTERPRISES)
    client.refresh_from_db()
    assert client.last_used_at == first  # not rewritten within the minute
    with django_assert_num_queries(0):
        note_use(client, first + LAST_USED_RESOLUTION / 2)
    with django_assert_num_queries(1):
        note_use(client, first + LAST_USED_RESOLUTION)


@override_settings(API_THROTTLE_RATE="3/min")
def test_throttled_per_token_with_retry_after(regions):
    _client, _token, http = api_client_for(regions["county_a"])
    _other, _token2, other_http = api_client_for(regions["county_a"])
    for _ in range(3):
        assert http.get(ENTERPRISES).status_code == 200
    response = http.get(ENTERPRISES)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["code"] == "throttled"
    assert body["detail_en"].startswith("Too many requests: try again in ")
    # Another token has its own allowance.
    assert other_http.get(ENTERPRISES).status_code == 200


def test_admin_lists_clients_of_the_region_without_the_token_and_revokes(regions, users, client_for):
    county_client, token, _http = api_client_for(regions["county_a"], name="甲县系统")
    other, _t, _h = api_client_for(regions["county_b"], name="乙县系统")
    browser = client_for(users["county_a"])
    page = browser.get(reverse("admin:accounts_apiclient_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "甲县系统" in html and "乙县系统" not in html
    assert county_client.key_hash not in html and token not in html
    assert f"{county_client.key_prefix}…" in html
    # Another county's client is not reachable.
    assert browser.get(reverse("admin:accounts_apiclient_change", args=[other.pk])).status_code in (302, 404)
    assert browser.get(reverse("admin:accounts_apiclient_add")).status_code == 403
    detail = browser.get(reverse("admin:accounts_apiclient_change", args=[county_client.pk])).content.decode()
    assert county_client.key_hash not in detail

    response = browser.post(
        reverse("admin:accounts_apiclient_changelist"),
        {"action": "revoke", "_selected_action": [county_client.pk, other.pk]},
    )
    assert response.status_code == 302
    county_client.refresh_from_db()
    other.refresh_from_db()
    assert county_client.revoked_at is not None
    assert other.revoked_at is None  # outside the county: not touched


def test_admin_expire_action(regions, users, client_for):
    county_client, _token, http = api_client_for(regions["county_a"])
    browser = client_for(users["county_a"])
    browser.post(
        reverse("admin:accounts_apiclient_changelist"), {"action": "expire_now", "_selected_action": [county_client.pk]}
    )
    county_client.refresh_from_db()
    assert county_client.expires_at is not None and county_client.expires_at <= timezone.now()
    assert http.get(ENTERPRISES).status_code == 401


def test_township_officer_cannot_manage_api_clients(regions, users, client_for):
    api_client_for(regions["town_a1"])
    response = client_for(users["town_a1"]).get(reverse("admin:accounts_apiclient_changelist"))
    assert response.status_code in (302, 403)
