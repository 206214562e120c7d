"""Throttling per API token (per user for sessions): settings.API_THROTTLE_RATE, e.g. "1200/min".

The rate is read at request time, not import time, so it follows the settings (and test overrides).
Counters live in the default cache: configure a shared cache (Redis) in production, or each worker
process counts on its own.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ApiClientRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self):
        return settings.API_THROTTLE_RATE or None

    def allow_request(self, request, view):
        # Re-read on every request: SimpleRateThrottle parses the rate once, in __init__.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return None  # only the schema and docs answer anonymous requests
        client = request.auth
        ident = f"client-{client.pk}" if getattr(client, "pk", None) else f"user-{user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
