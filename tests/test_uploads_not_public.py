"""Uploaded files are reachable only through the scoped download views, never by their storage path."""

import importlib

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import Resolver404, resolve


def test_no_url_serves_media_by_path_even_in_debug():
    import config.urls

    with override_settings(DEBUG=True):
        urls = importlib.reload(config.urls)  # the URLconf as `make run` (DEBUG) builds it
        with pytest.raises(Resolver404):
            resolve(f"{settings.MEDIA_URL}evidence/2026/11/probe.pdf", urlconf=urls)
    importlib.reload(config.urls)
