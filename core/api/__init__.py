"""The REST API (/api/v1/): token and session authentication, region scoping, bilingual JSON errors,
page-number and incremental-sync pagination, tombstones, optimistic concurrency, OpenAPI schema.

A resource is a serializer, a FilterSet and a viewset built on core.api.viewsets, plus one router line
in core/api/urls.py.
"""
