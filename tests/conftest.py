"""Shared fixtures: a small region tree and one user per role."""

import pytest

from accounts.choices import Role

from .factories import UserFactory, make_city, make_county, make_township
from .worker_support import worker  # noqa: F401 -- the real-Celery-worker fixture


@pytest.fixture
def regions(db):
    """City 示范市 with two counties; county A has townships A1 and A2, county B has B1."""
    city = make_city()
    county_a = make_county(city, 1, "甲县")
    county_b = make_county(city, 2, "乙县")
    return {
        "city": city,
        "county_a": county_a,
        "county_b": county_b,
        "town_a1": make_township(county_a, 1, "甲一镇"),
        "town_a2": make_township(county_a, 2, "甲二镇"),
        "town_b1": make_township(county_b, 1, "乙一镇"),
    }


@pytest.fixture
def users(regions):
    return {
        "city": UserFactory(username="city", role=Role.CITY, region=regions["city"]),
        "county_a": UserFactory(username="county_a", role=Role.COUNTY, region=regions["county_a"]),
        "town_a1": UserFactory(username="town_a1", role=Role.TOWNSHIP, region=regions["town_a1"]),
        "town_a2": UserFactory(username="town_a2", role=Role.TOWNSHIP, region=regions["town_a2"]),
        "supervisor": UserFactory(username="supervisor", role=Role.SUPERVISOR, region=regions["city"]),
        "reviewer": UserFactory(username="reviewer", role=Role.REVIEWER, region=regions["city"]),
    }


@pytest.fixture
def client_for(client):
    """Log a test client in as a given user."""

    def login(user):
        client.force_login(user)
        return client

    return login
