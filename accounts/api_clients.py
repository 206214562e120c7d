"""API clients (other bureau systems): create, find by token, revoke, expire.

The management command `create_api_client`, the admin and the API authentication call these.

Tokens are 32 random bytes (256 bits, URL-safe base64, 43 characters). Only their SHA-256 is
stored. A plain fast hash is enough here, unlike for passwords: a slow hash (PBKDF2, Argon2)
protects low-entropy secrets people choose against guessing, but nobody can enumerate 2^256
random tokens, so a stolen hash table gives nothing away, while a slow hash would add tens of
milliseconds to every API request. The first 8 characters are kept in clear (indexed) to find
the candidate row and to tell tokens apart in the admin; the comparison of the full hash is
constant-time.
"""

import datetime
import hashlib
import hmac
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from .choices import Role
from .models import ApiClient, User
from .permissions import Capability, require

TOKEN_BYTES = 32
PREFIX_LENGTH = 8
#: last_used_at is written at most this often per client, not on every request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _service_username(name: str) -> str:
    base = "api-" + (slugify(name, allow_unicode=True)[:60] or "client")
    username, serial = base, 1
    while User.objects.filter(username=username).exists():
        serial += 1
        username = f"{base}-{serial}"
    return username


@transaction.atomic
def create_api_client(
    *, name: str, region, can_write: bool = False, expires_at=None, created_by=None
) -> tuple[ApiClient, str]:
    """Create the client and its service user; return the client and the token (never stored)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the client a name, e.g. the system it stands for.")})
    if ApiClient.objects.filter(name=name).exists():
        raise ValidationError({"name": _("An API client named %(name)s already exists.") % {"name": name}})
    if region is None:
        raise ValidationError({"region": _("Choose the region the client may read.")})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry must lie in the future.")})

    # The service user carries the client's name, so the change history shows "changed by <client>".
    user = User(username=_service_username(name), first_name=name[:150], role=Role.API, region=region)
    user.set_unusable_password()
    user.full_clean()
    user.save()

    token = secrets.token_urlsafe(TOKEN_BYTES)
    while ApiClient.objects.filter(key_hash=hash_token(token)).exists():  # astronomically unlikely
        token = secrets.token_urlsafe(TOKEN_BYTES)
    client = ApiClient(
        name=name,
        region=region,
        can_write=can_write,
        user=user,
        key_prefix=token[:PREFIX_LENGTH],
        key_hash=hash_token(token),
        created_by=created_by,
        expires_at=expires_at,
    )
    client.full_clean()
    client.save()
    return client, token


def find_client(token: str) -> ApiClient | None:
    """The client holding `token` (with its user and region loaded), whatever its state; None if unknown."""
    token = (token or "").strip()
    if len(token) < PREFIX_LENGTH:
        return None
    digest = hash_token(token)
    candidates = ApiClient.objects.select_related("user__region", "user__department", "region").filter(
        key_prefix=token[:PREFIX_LENGTH]
    )
    for client in candidates:
        if hmac.compare_digest(client.key_hash, digest):
            return client
    return None


def note_use(client: ApiClient, now=None) -> None:
    """Record that the client was used, at most once per LAST_USED_RESOLUTION (no write per request)."""
    now = now or timezone.now()
    if client.last_used_at is None or now - client.last_used_at >= LAST_USED_RESOLUTION:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now


@transaction.atomic
def revoke_api_client(*, actor, client: ApiClient) -> bool:
    """Refuse the token from now on, for good (e.g. it leaked). Returns False when already revoked."""
    require(actor, Capability.MANAGE_USERS, client.region)
    if client.revoked_at is not None:
        return False
    client.revoked_at = timezone.now()
    client.save(update_fields=["revoked_at"])
    # The service user stays (history rows point at it) but can no longer act.
    User.objects.filter(pk=client.user_id).update(is_active=False)
    return True


@transaction.atomic
def expire_api_client(*, actor, client: ApiClient, at=None) -> bool:
    """End the token's validity at `at` (default now). Returns False when it had already expired by then."""
    require(actor, Capability.MANAGE_USERS, client.region)
    at = at or timezone.now()
    if client.expires_at is not None and client.expires_at <= at:
        return False
    client.expires_at = at
    client.save(update_fields=["expires_at"])
    return True
