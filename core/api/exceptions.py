"""API errors: one JSON shape for every refusal, each message in Chinese and in English.

    {"detail": "<message in the request's language>", "code": "<stable code>",
     "detail_zh": "...", "detail_en": "...",
     "errors": {"<field>": [{"code": "...", "message_zh": "...", "message_en": "..."}]}}

`errors` is filled for validation errors (400) and empty otherwise; nested fields are named with dots
("permits.0.number"), errors not tied to a field go under "non_field_errors". A 409 adds
`current_version`; a 429 carries a Retry-After header.

A message is rendered in both languages from its lazy source when it has one (our own messages, Django's
model validation). Services and DRF fields translate when they raise, so for those the viewset replays
the failed request once under the other language (core.api.viewsets.RegisterViewSetMixin) and the handler
pairs the two renderings field by field.
"""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.exceptions import ConflictError

#: Response keys and the language each is rendered in.
LANGUAGES = (("zh", "zh-hans"), ("en", "en"))

VALIDATION_DETAIL = _("Some values were refused; see errors for each field.")
NOT_FOUND_DETAIL = _("Not found, or outside your region.")


def language_key(language: str | None = None) -> str:
    language = language or translation.get_language() or "zh-hans"
    return "zh" if language.lower().startswith("zh") else "en"


def other_language() -> str:
    """The language code a failed request is replayed in: the one the request was not answered in."""
    return "en" if language_key() == "zh" else "zh-hans"


def _format(message, params) -> str:
    text = str(message)
    return text % params if params else text


def render_both(message, params=None) -> dict[str, str] | None:
    """{"zh": ..., "en": ...} for a lazy message; None for an already translated string."""
    if not isinstance(message, Promise):
        return None
    rendered = {}
    for key, language in LANGUAGES:
        with translation.override(language):
            rendered[key] = _format(message, params)
    return rendered


class Bilingual:
    """Mixin for APIException subclasses whose message stays lazy, so both languages can be rendered."""

    def __init__(self, message, params=None, code=None):
        self.message = message
        self.params = params or {}
        super().__init__(detail=_format(message, self.params), code=code)


class ApiAuthenticationFailed(Bilingual, exceptions.AuthenticationFailed):
    pass


class ApiNotAuthenticated(Bilingual, exceptions.NotAuthenticated):
    pass


class ApiPermissionDenied(Bilingual, exceptions.PermissionDenied):
    pass


class ApiThrottled(exceptions.Throttled):
    message = _("Too many requests: try again in %(wait)d seconds.")

    def __init__(self, wait):
        super().__init__(wait=wait)
        self.params = {"wait": self.wait or 1}
        self.detail = exceptions.ErrorDetail(_format(self.message, self.params), self.default_code)


class ApiConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, error: ConflictError):
        self.error = error
        self.message, self.params = error.message, error.params
        super().__init__(detail=str(error))


# --- Flattening errors into (field, code, texts) ---------------------------------------------------------


def _join(prefix: str, key) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _drf_entries(detail, prefix=""):
    """DRF error details (nested dicts and lists of ErrorDetail) as (field, code, text) in a stable order."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _drf_entries(value, _join(prefix, key))
    elif isinstance(detail, (list, tuple)):
        for index, item in enumerate(detail):
            if isinstance(item, (dict, list, tuple)):
                yield from _drf_entries(item, _join(prefix, index))
            else:
                yield prefix or api_settings.NON_FIELD_ERRORS_KEY, getattr(item, "code", None) or "invalid", item
    else:
        yield prefix or api_settings.NON_FIELD_ERRORS_KEY, getattr(detail, "code", None) or "invalid", detail


def _django_entries(error: DjangoValidationError, field_names: dict):
    """A service's ValidationError as (field, code, (message, params)); model field names mapped to API names."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            name = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field_names.get(field, field)
            for item in errors:
                for single in item.error_list:
                    yield name, single.code or "invalid", (single.message, single.params)
    else:
        for single in error.error_list:
            yield api_settings.NON_FIELD_ERRORS_KEY, single.code or "invalid", (single.message, single.params)


def _entries(exc, field_names: dict) -> list[tuple[str, str, dict[str, str]]]:
    """(field, code, {language key: text}) per error; a text only in the language it was raised in when not lazy."""
    raw = _django_entries(exc, field_names) if isinstance(exc, DjangoValidationError) else _drf_entries(exc.detail)
    active = language_key()
    result = []
    for field, code, message in raw:
        if isinstance(message, tuple):
            text, params = message
            texts = render_both(text, params) or {active: _format(text, params)}
        else:
            texts = {active: str(message)}
        result.append((field, code, texts))
    return result


def _field_errors(exc, replayed, field_names: dict) -> dict:
    primary = _entries(exc, field_names)
    secondary = {}
    if replayed is not None:
        language, other = replayed
        with translation.override(language):
            for field, _code, texts in _entries(other, field_names):
                secondary.setdefault(field, []).append(texts)
    errors: dict[str, list] = {}
    for field, code, texts in primary:
        index = len(errors.get(field, []))
        counterpart = secondary.get(field, [])
        if index < len(counterpart):
            texts = {**counterpart[index], **texts}
        fallback = next(iter(texts.values()))
        errors.setdefault(field, []).append(
            {"code": code, "message_zh": texts.get("zh", fallback), "message_en": texts.get("en", fallback)}
        )
    return errors


def _detail_texts(exc, replayed) -> dict[str, str]:
    """The message of a non-validation error in both languages, as well as can be done."""
    message = getattr(exc, "message", None)
    if isinstance(exc, DjangoPermissionDenied) and exc.args:
        message = exc.args[0]
    texts = render_both(message, getattr(exc, "params", None)) if message is not None else None
    if texts is None and isinstance(exc, exceptions.APIException):
        default = type(exc).default_detail
        if str(exc.detail) == str(default):
            texts = render_both(default)
    if texts is None:
        text = str(exc.detail) if isinstance(exc, exceptions.APIException) else (str(exc.args[0]) if exc.args else "")
        texts = {language_key(): text}
        if replayed is not None:
            language, other = replayed
            with translation.override(language):
                other_texts = _detail_texts(other, None)
            texts = {**other_texts, **texts}
    return texts


def error_body(*, code: str, texts: dict[str, str], errors: dict | None = None, **extra) -> dict:
    fallback = next(iter(texts.values()))
    body = {
        "detail": texts.get(language_key(), fallback),
        "code": code,
        "detail_zh": texts.get("zh", fallback),
        "detail_en": texts.get("en", fallback),
        "errors": errors or {},
    }
    body.update(extra)
    return body


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every API error as the bilingual JSON body described above."""
    # Imported here: rest_framework.views imports the authentication classes, which import this module.
    from rest_framework.views import set_rollback

    view = context.get("view")
    replayed = getattr(exc, "replayed", None)
    field_names = getattr(view, "service_field_names", {}) if view is not None else {}
    headers = {}

    if isinstance(exc, ConflictError):
        exc = ApiConflict(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND_DETAIL)
        exc.message = NOT_FOUND_DETAIL

    if isinstance(exc, (DjangoValidationError, exceptions.ValidationError)):
        status_code = status.HTTP_400_BAD_REQUEST
        body = error_body(
            code="invalid", texts=render_both(VALIDATION_DETAIL), errors=_field_errors(exc, replayed, field_names)
        )
    elif isinstance(exc, DjangoPermissionDenied):
        status_code = status.HTTP_403_FORBIDDEN
        body = error_body(code="permission_denied", texts=_detail_texts(exc, replayed))
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        extra = {}
        if isinstance(exc, ApiConflict):
            extra["current_version"] = exc.error.current_version
            headers["ETag"] = f'"{exc.error.current_version}"'
        body = error_body(code=code, texts=_detail_texts(exc, replayed), **extra)
    else:
        return None  # a bug: let Django answer 500 and log it

    set_rollback()
    return Response(body, status=status_code, headers=headers)
