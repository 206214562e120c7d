"""Query counts of the register pages against a committed baseline (tests/query_counts.json).

A page whose count rises above its baseline fails: an N+1 query slipped in. A list page must
cost the same whatever the number of rows. When a count drops, the test passes and warns;
record the improvement with `UPDATE_QUERY_COUNTS=1 .venv/bin/pytest tests/test_query_counts.py`
(run it without -n) and commit tests/query_counts.json.
"""

import datetime
import json
import os
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from enterprises import services
from enterprises.models import KeyHazardousProcess

from .factories import ChemicalParkFactory, EnterpriseFactory, PermitFactory, YearlyTierFactory

BASELINE_FILE = Path(__file__).with_name("query_counts.json")


def load_baseline() -> dict:
    return json.loads(BASELINE_FILE.read_text()) if BASELINE_FILE.exists() else {}


def check_against_baseline(name: str, count: int) -> None:
    baseline = load_baseline()
    if os.environ.get("UPDATE_QUERY_COUNTS"):
        baseline[name] = count
        BASELINE_FILE.write_text(json.dumps(dict(sorted(baseline.items())), indent=2) + "\n")
        return
    assert name in baseline, f"No baseline for {name!r}: run with UPDATE_QUERY_COUNTS=1 to record {count}."
    expected = baseline[name]
    assert count <= expected, (
        f"{name}: {count} queries, baseline {expected}. A query per row or a new query slipped in; "
        "fix it, or if the extra query is intended, update the baseline (UPDATE_QUERY_COUNTS=1)."
    )
    if count < expected:
        warnings.warn(
            f"{name}: {count} queries, below the baseline {expected}. Lock in the improvement: "
            "UPDATE_QUERY_COUNTS=1 .venv/bin/pytest tests/test_query_counts.py, then commit tests/query_counts.json.",
            stacklevel=2,
        )


def count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params or {})
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(context.captured_queries)


def make_enterprises(regions, count, park=None):
    processes = list(KeyHazardousProcess.objects.all()[:3])
    today = timezone.localdate()
    created = []
    for index in range(count):
        enterprise = EnterpriseFactory(township=regions["town_a1"] if index % 2 else regions["town_a2"], park=park)
        enterprise.key_processes.set(processes[: index % 3 + 1])
        PermitFactory(enterprise=enterprise, expires_on=today + datetime.timedelta(days=index))
        YearlyTierFactory(enterprise=enterprise, year=2023, tier=index % 3 + 1)
        created.append(enterprise)
    return created


LIST_QUERIES = [
    {},
    {"q": "化工", "region": "320501", "kind": "production", "tier": "2", "permit": "expiring", "ordering": "-sales"},
]


@pytest.mark.parametrize("params", LIST_QUERIES, ids=["plain", "filtered"])
def test_enterprise_list_cost_does_not_depend_on_rows(regions, users, client_for, params):
    client = client_for(users["county_a"])
    make_enterprises(regions, 5)
    few = count_queries(client, reverse("enterprises:list"), params)
    make_enterprises(regions, 25)
    many = count_queries(client, reverse("enterprises:list"), params)
    assert few == many, f"5 rows cost {few} queries, 30 rows cost {many}: a query per row"
    check_against_baseline("enterprise_list" if not params else "enterprise_list_filtered", many)


def test_enterprise_export_cost(regions, users, client_for):
    client = client_for(users["county_a"])
    make_enterprises(regions, 5)
    few = count_queries(client, reverse("enterprises:export"))
    make_enterprises(regions, 25)
    many = count_queries(client, reverse("enterprises:export"))
    assert few == many
    check_against_baseline("enterprise_export", many)


def test_park_list_cost(regions, users, client_for):
    client = client_for(users["city"])
    for index in range(3):
        make_enterprises(regions, 2, park=ChemicalParkFactory(township=regions["town_a1"], code=f"Q{index}"))
    few = count_queries(client, reverse("parks:list"))
    for index in range(10):
        ChemicalParkFactory(township=regions["town_b1"], code=f"R{index}")
    many = count_queries(client, reverse("parks:list"))
    assert few == many
    check_against_baseline("park_list", many)


@pytest.fixture
def dossier_enterprise(regions, users):
    actor = users["city"]
    park = ChemicalParkFactory(township=regions["town_a1"])
    enterprise = make_enterprises(regions, 1, park=park)[0]
    services.update_enterprise(actor=actor, enterprise=enterprise, data={"name": "改名化工"}, reason="更正")
    for index in range(3):
        services.save_permit(
            actor=actor, enterprise=enterprise, data={"kind": "eia", "number": f"EIA-{index}", "issued_on": None}
        )
        services.set_yearly_tier(actor=actor, enterprise=enterprise, year=2020 + index, tier=2)
        services.save_hazard_source(
            actor=actor,
            enterprise=enterprise,
            data={"name": f"罐区{index}", "unit_kind": "tank_farm"},
            inventory=[{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal("100")}],
        )
    return enterprise


def test_enterprise_dossier_cost(dossier_enterprise, users, client_for):
    count = count_queries(client_for(users["city"]), reverse("enterprises:detail", args=[dossier_enterprise.pk]))
    check_against_baseline("enterprise_detail", count)


def test_park_dossier_cost(regions, users, client_for):
    park = ChemicalParkFactory(township=regions["town_a1"])
    make_enterprises(regions, 12, park=park)
    count = count_queries(client_for(users["city"]), reverse("parks:detail", args=[park.pk]))
    check_against_baseline("park_detail", count)


def test_home_cost(regions, users, client_for):
    client = client_for(users["county_a"])
    make_enterprises(regions, 3)
    few = count_queries(client, reverse("home"))
    make_enterprises(regions, 10)
    assert count_queries(client, reverse("home")) == few
    check_against_baseline("home", few)
