"""Incremental sync: every change exactly once while records change during the pull, the settle window,
tombstones for deletions and departures from the region, parameter errors."""

import datetime
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.utils import timezone

from core.api.sync import decode_cursor, encode_cursor, parse_since
from core.history import delete_tracked
from enterprises import services
from enterprises.models import Enterprise, MajorHazardSource
from parks import services as park_services

from .api_support import add_hazard_source, api_client_for
from .factories import ChemicalParkFactory, EnterpriseFactory

ENTERPRISES = "/api/v1/enterprises/"
EPOCH = "2000-01-01T00:00:00+08:00"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters(settings):
    settings.API_SYNC_SETTLE_SECONDS = 5
    cache.clear()


def stamp(enterprise, moment):
    """Set updated_at as a committed write at `moment` would have (auto_now cannot be told the time)."""
    Enterprise.objects.filter(pk=enterprise.pk).update(updated_at=moment)


def pull(http, url, params=None, on_page=None):
    """Follow `next` links to the end; returns every row received, in order."""
    rows, page = [], 0
    response = http.get(url, params or {})
    while True:
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        assert set(body) == {"next", "results"}
        rows += body["results"]
        page += 1
        if on_page:
            on_page(page)
        if not body["next"]:
            return rows
        response = http.get(body["next"])


def test_sync_pulls_every_change_exactly_once_while_records_change(regions, users):
    _c, _t, http = api_client_for(regions["county_a"])
    now = timezone.now()
    enterprises = [EnterpriseFactory(township=regions["town_a1"], name=f"企业{i:02d}") for i in range(12)]
    base = now - datetime.timedelta(hours=1)
    for index, enterprise in enumerate(enterprises):
        # Two pairs share a timestamp: ties are ordered by id and never split or repeated across pages.
        stamp(enterprise, base + datetime.timedelta(minutes=index // 2 * 2))

    already_pulled, not_yet_pulled = enterprises[1], enterprises[10]

    def change_during_the_pull(page):
        if page != 2:
            return
        for enterprise, name in ((already_pulled, "已同步后改名"), (not_yet_pulled, "未同步前改名")):
            enterprise.refresh_from_db()
            services.update_enterprise(actor=users["county_a"], enterprise=enterprise, data={"name": name})
            # The change committed 10 s ago: settled, and later than everything pulled so far.
            stamp(enterprise, timezone.now() - datetime.timedelta(seconds=10))

    rows = pull(http, ENTERPRISES, {"updated_since": EPOCH, "page_size": 3}, on_page=change_during_the_pull)

    seen = [(row["id"], row["version"]) for row in rows]
    assert len(seen) == len(set(seen)), "a change was sent twice"
    mirror = {row["id"]: row for row in rows}  # what a client keeps: the last state received per id
    assert set(mirror) == {e.pk for e in enterprises}, "a record was missed"
    for enterprise in Enterprise.objects.all():
        assert mirror[enterprise.pk]["version"] == enterprise.version
        assert mirror[enterprise.pk]["name"] == enterprise.name
    # The record changed before it was reached came once, with its new content; the one changed after it
    # was pulled came again with its change.
    assert [row["name"] for row in rows if row["id"] == not_yet_pulled.pk] == ["未同步前改名"]
    assert [row["name"] for row in rows if row["id"] == already_pulled.pk] == ["企业01", "已同步后改名"]
    # Rows arrive in (updated_at, id) order.
    keys = [(parse_since(row["updated_at"]), row["id"]) for row in rows]
    assert keys == sorted(keys)

    # The next pull starts after the last updated_at received: nothing new, nothing repeated.
    last = rows[-1]["updated_at"]
    assert pull(http, ENTERPRISES, {"updated_since": last}) == []
    enterprises[3].refresh_from_db()
    services.update_enterprise(actor=users["county_a"], enterprise=enterprises[3], data={"name": "再次修改"})
    stamp(enterprises[3], timezone.now() - datetime.timedelta(seconds=6))
    assert [row["name"] for row in pull(http, ENTERPRISES, {"updated_since": last})] == ["再次修改"]


def test_recent_changes_are_held_back_until_they_settle(regions, settings):
    _c, _t, http = api_client_for(regions["county_a"])
    settled = EnterpriseFactory(township=regions["town_a1"])
    stamp(settled, timezone.now() - datetime.timedelta(seconds=30))
    fresh = EnterpriseFactory(township=regions["town_a1"])  # updated_at = now: a transaction may still be open
    assert [row["id"] for row in pull(http, ENTERPRISES, {"updated_since": EPOCH})] == [settled.pk]
    stamp(fresh, timezone.now() - datetime.timedelta(seconds=6))
    assert [row["id"] for row in pull(http, ENTERPRISES, {"updated_since": EPOCH})] == [settled.pk, fresh.pk]
    settings.API_SYNC_SETTLE_SECONDS = 20  # a longer window holds back the 6-second-old change again
    assert [row["id"] for row in pull(http, ENTERPRISES, {"updated_since": EPOCH})] == [settled.pk]


def test_sync_honours_filters_and_scope(regions):
    _c, _t, http = api_client_for(regions["town_a1"])
    mine = EnterpriseFactory(township=regions["town_a1"], kind="storage")
    EnterpriseFactory(township=regions["town_a1"], kind="trading")
    EnterpriseFactory(township=regions["town_a2"], kind="storage")
    Enterprise.objects.update(updated_at=timezone.now() - datetime.timedelta(minutes=1))
    rows = pull(http, ENTERPRISES, {"updated_since": EPOCH, "kind": "storage", "page_size": 1})
    assert [row["id"] for row in rows] == [mine.pk]


def test_child_changes_bring_the_enterprise_back_into_the_sync(regions, users):
    _c, _t, http = api_client_for(regions["county_a"])
    park = ChemicalParkFactory(township=regions["town_a1"], name="旧园名")
    enterprise = EnterpriseFactory(township=regions["town_a1"], park=park)
    stamp(enterprise, timezone.now() - datetime.timedelta(hours=1))
    since = (timezone.now() - datetime.timedelta(minutes=30)).isoformat()
    assert pull(http, ENTERPRISES, {"updated_since": since}) == []

    services.set_yearly_tier(actor=users["city"], enterprise=enterprise, year=2024, tier=1)
    stamp(enterprise, timezone.now() - datetime.timedelta(seconds=10))
    [row] = pull(http, ENTERPRISES, {"updated_since": since})
    assert row["tiers"] == [{"year": 2024, "tier": 1}] and row["version"] == 2

    park_services.update_park(actor=users["city"], park=park, data={"name": "新园名"})
    enterprise.refresh_from_db()
    assert enterprise.version == 3
    stamp(enterprise, timezone.now() - datetime.timedelta(seconds=8))
    [row] = pull(http, ENTERPRISES, {"updated_since": since})
    assert row["park"]["name"] == "新园名"


def test_moving_an_enterprise_brings_its_hazard_sources_to_the_new_region(regions, users):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    source = add_hazard_source(users["city"], enterprise)
    MajorHazardSource.objects.update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    since = (timezone.now() - datetime.timedelta(minutes=30)).isoformat()
    _c, _t, b1 = api_client_for(regions["town_b1"])
    assert pull(b1, "/api/v1/hazard-sources/", {"updated_since": since}) == []
    services.update_enterprise(actor=users["city"], enterprise=enterprise, data={"township": regions["town_b1"]})
    MajorHazardSource.objects.update(updated_at=timezone.now() - datetime.timedelta(seconds=10))
    rows = pull(b1, "/api/v1/hazard-sources/", {"updated_since": since})
    assert [(row["id"], row["region_code"]) for row in rows] == [(source.pk, regions["town_b1"].code)]


def test_deletions_reach_the_sync_as_tombstones(regions, users, settings):
    settings.API_SYNC_SETTLE_SECONDS = 0
    _c, _t, county = api_client_for(regions["county_a"])
    _c, _t, other_county = api_client_for(regions["county_b"])
    kept = EnterpriseFactory(township=regions["town_a1"])
    doomed = EnterpriseFactory(township=regions["town_a2"], name="拟关闭企业")
    add_hazard_source(users["city"], doomed, name="罐区甲")
    uscc, pk = doomed.uscc, doomed.pk
    source_pk = doomed.hazard_sources.get().pk
    before = timezone.now()
    delete_tracked(doomed, actor=users["city"], reason="关闭注销")

    [tombstone] = pull(county, ENTERPRISES + "deleted/", {"updated_since": before.isoformat()})
    assert tombstone["id"] == pk and tombstone["uscc"] == uscc and tombstone["reason"] == "deleted"
    assert parse_since(tombstone["deleted_at"]) >= before and tombstone["deleted_at"].endswith("+08:00")
    assert pull(county, ENTERPRISES + "deleted/", {"updated_since": tombstone["deleted_at"]}) == []
    # Its hazard source went with it; still scoped by the township the enterprise was in.
    [hazard] = pull(county, "/api/v1/hazard-sources/deleted/", {"updated_since": before.isoformat()})
    assert hazard["id"] == source_pk and hazard["name"] == "罐区甲"
    # Another county never saw it: no tombstone for it either.
    assert pull(other_county, ENTERPRISES + "deleted/", {"updated_since": EPOCH}) == []
    assert pull(other_county, "/api/v1/hazard-sources/deleted/", {"updated_since": EPOCH}) == []
    # The mirror ends exact: the remaining records and no more.
    rows = pull(county, ENTERPRISES, {"updated_since": EPOCH})
    assert [row["id"] for row in rows] == [kept.pk]


def test_tombstones_are_held_back_like_changes(regions, users):
    _c, _t, county = api_client_for(regions["county_a"])
    doomed = EnterpriseFactory(township=regions["town_a1"])
    delete_tracked(doomed, actor=users["city"])
    assert pull(county, ENTERPRISES + "deleted/", {"updated_since": EPOCH}) == []  # settle window: 5 s


def test_moving_out_of_the_region_is_a_tombstone_for_the_old_region(regions, users, settings):
    settings.API_SYNC_SETTLE_SECONDS = 0
    _c, _t, a1 = api_client_for(regions["town_a1"])
    _c, _t, a2 = api_client_for(regions["town_a2"])
    _c, _t, county = api_client_for(regions["county_a"])
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    services.update_enterprise(actor=users["city"], enterprise=enterprise, data={"name": "改名不搬迁"})
    before = timezone.now()
    services.update_enterprise(actor=users["city"], enterprise=enterprise, data={"township": regions["town_a2"]})

    [gone] = pull(a1, ENTERPRISES + "deleted/", {"updated_since": EPOCH})
    assert (gone["id"], gone["reason"]) == (enterprise.pk, "moved_out")
    assert parse_since(gone["deleted_at"]) >= before
    assert [row["id"] for row in pull(a2, ENTERPRISES, {"updated_since": EPOCH})] == [enterprise.pk]
    assert pull(a2, ENTERPRISES + "deleted/", {"updated_since": EPOCH}) == []
    assert pull(county, ENTERPRISES + "deleted/", {"updated_since": EPOCH}) == []  # still inside the county
    # Parks record departures the same way.
    park = ChemicalParkFactory(township=regions["town_a1"])
    park_services.update_park(actor=users["city"], park=park, data={"township": regions["town_a2"]})
    [park_gone] = pull(a1, "/api/v1/parks/deleted/", {"updated_since": EPOCH})
    assert (park_gone["code"], park_gone["reason"]) == (park.code, "moved_out")


def test_bad_sync_parameters_name_the_parameter(regions):
    _c, _t, http = api_client_for(regions["county_a"])
    response = http.get(ENTERPRISES, {"updated_since": "yesterday"})
    assert response.status_code == 400
    [error] = response.json()["errors"]["updated_since"]
    assert "yesterday" in error["message_en"] and "yesterday" in error["message_zh"]
    response = http.get(ENTERPRISES, {"updated_since": EPOCH, "cursor": "garbage!"})
    assert response.status_code == 400
    assert response.json()["errors"]["cursor"][0]["code"] == "invalid"


def test_updated_since_forms(regions, settings):
    settings.API_SYNC_SETTLE_SECONDS = 0
    _c, _t, http = api_client_for(regions["county_a"])
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    stamp(enterprise, datetime.datetime(2024, 5, 1, 8, 30, tzinfo=datetime.UTC))  # 16:30 in Shanghai
    for since, found in [
        ("2024-05-01T16:29:59+08:00", True),
        ("2024-05-01T16:30:00+08:00", False),  # strictly after
        ("2024-05-01T16:29:59", True),  # no offset: read as +08:00
        ("2024-05-01T16:29:59 08:00", True),  # an unencoded + arrives as a space
        ("2024-05-01", True),
        ("2024-05-02", False),
    ]:
        body = http.get(f"{ENTERPRISES}?updated_since={quote(since, safe=':')}").json()
        assert bool(body["results"]) is found, since
        assert "count" not in body


def test_cursor_round_trip():
    moment = datetime.datetime(2024, 5, 1, 8, 30, 1, 123456, tzinfo=datetime.UTC)
    assert decode_cursor(encode_cursor(moment, 42)) == (moment, 42)
