"""The OpenAPI schema generates without warnings and validates; the docs page needs no network."""

import re

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

RESOURCES = ["regions", "parks", "enterprises", "hazard-sources"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture
def schema():
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    warnings = GENERATOR_STATS._warn_cache, GENERATOR_STATS._error_cache
    return generated, warnings


def test_schema_validates_and_generates_without_warnings(schema):
    generated, (warnings, errors) = schema
    validate_schema(generated)  # raises on an invalid OpenAPI 3 document
    assert not errors and not warnings, {**warnings, **errors}


def test_schema_describes_every_resource_filter_and_error(schema):
    generated, _warnings = schema
    paths = generated["paths"]
    for resource in RESOURCES:
        assert f"/api/v1/{resource}/" in paths
    for resource in ["parks", "enterprises", "hazard-sources"]:
        assert f"/api/v1/{resource}/deleted/" in paths
    listing = paths["/api/v1/enterprises/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"region", "park", "kind", "status", "size", "key_process", "hazard_level", "permit", "search"} <= names
    assert {"ordering", "page", "page_size", "updated_since", "cursor"} <= names
    assert all(p.get("description") for p in listing["parameters"]), [
        p["name"] for p in listing["parameters"] if not p.get("description")
    ]
    assert set(listing["responses"]) == {"200", "400", "401", "403", "429"}
    update = paths["/api/v1/enterprises/{id}/"]["patch"]
    assert {"400", "401", "403", "404", "409", "429"} <= set(update["responses"])
    error = generated["components"]["schemas"]["Error"]
    assert {"detail", "code", "detail_zh", "detail_en", "errors"} <= set(error["properties"])
    assert generated["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    enterprise = generated["components"]["schemas"]["Enterprise"]["properties"]
    assert {"uscc", "region_code", "park", "kind", "kind_display", "permits", "tiers", "updated_at", "version"} <= set(
        enterprise
    )


def test_schema_served_in_chinese_and_english(client):
    chinese = client.get("/api/schema/")
    assert chinese.status_code == 200
    document = yaml.safe_load(chinese.content)
    description = document["info"]["description"]
    assert "Incremental sync" in description  # both languages in the overall description
    english = yaml.safe_load(client.get("/api/schema/", {"lang": "en"}).content)
    listing = english["paths"]["/api/v1/enterprises/"]["get"]
    assert listing["summary"] == "List enterprises"
    assert listing["description"].startswith("The enterprise dossiers") and "updated_since" in listing["description"]
    kinds = next(p for p in english["paths"]["/api/v1/enterprises/"]["get"]["parameters"] if p["name"] == "kind")
    assert "Production" in kinds["description"]
    kinds_zh = next(p for p in document["paths"]["/api/v1/enterprises/"]["get"]["parameters"] if p["name"] == "kind")
    assert "生产" in kinds_zh["description"]


def test_docs_page_loads_without_network(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    # Every asset is same-origin: no http(s):// URL anywhere in the page.
    assert not re.search(r"https?://", html), re.findall(r"https?://\S+", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(url.startswith("/static/") for url in assets), assets
    assert '"validatorUrl": null' in html  # Swagger UI would otherwise call validator.swagger.io
    for url in assets:  # and each is shipped with the project's static files
        assert finders.find(url.removeprefix(settings.STATIC_URL)), url


def test_spectacular_command_validates(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/enterprises/" in target.read_text()
