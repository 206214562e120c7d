"""Token authentication for other systems: `Authorization: Token KEY` or `Authorization: Bearer KEY`.

The request then runs as the client's service user (role API, the client's region), so scoping,
permissions and history work as for a person. People use their session instead (SessionAuthentication,
CSRF enforced), which is why an unknown scheme or no header is left to the next authenticator.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.api_clients import find_client, note_use

from .exceptions import ApiAuthenticationFailed

KEYWORDS = (b"token", b"bearer")


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise ApiAuthenticationFailed(
                _(
                    "Malformed Authorization header: send 'Token <token>' or 'Bearer <token>', with no spaces in the token."
                ),
                code="authentication_failed",
            )
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            token = ""
        client = find_client(token)
        if client is None:
            raise ApiAuthenticationFailed(_("Unknown API token."), code="authentication_failed")
        now = timezone.now()
        refusal = client.refusal(now)
        if refusal is not None:
            message, params = refusal
            code = "token_revoked" if client.revoked_at else "token_expired"
            raise ApiAuthenticationFailed(message, params, code=code)
        note_use(client, now)
        return client.user, client

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Token realm="api"'
