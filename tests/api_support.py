"""Helpers for the API tests: clients with tokens, and a few register records."""

from decimal import Decimal

from rest_framework.test import APIClient

from accounts.api_clients import create_api_client
from enterprises import services

_serial = iter(range(1, 10_000))


def api_client_for(region, *, write=False, expires_at=None, name=None):
    """(ApiClient, token, DRF test client sending `Authorization: Token <token>`)."""
    client, token = create_api_client(
        name=name or f"系统{next(_serial)}", region=region, can_write=write, expires_at=expires_at
    )
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client, token, http


def add_hazard_source(actor, enterprise, *, name="罐区", quantity="100", unit_kind="tank_farm", **data):
    """A hazard source holding chlorine (GB 18218 表1 Q 5 t, 表3 β 4), 1–29 people within 500 m (α 1.0):
    100 t gives R = 1.0 × 4 × 100 / 5 = 80 → level 2."""
    return services.save_hazard_source(
        actor=actor,
        enterprise=enterprise,
        data={"name": name, "unit_kind": unit_kind, "exposed_population": "1_29", **data},
        inventory=[{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal(quantity)}],
    )
