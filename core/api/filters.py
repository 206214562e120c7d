"""Filters shared by the API's FilterSets."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


@extend_schema_field(OpenApiTypes.STR)
class CodeFilter(django_filters.ModelChoiceFilter):
    """A record given by its code (region, park, key process); a code the caller may not see is an invalid choice."""

    def __init__(self, **kwargs):
        kwargs.setdefault("to_field_name", "code")
        super().__init__(**kwargs)


class RegionCodeFilter(CodeFilter):
    """A region by its code: rows in that region and everything below it (the FilterSet's filter_region)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("method", "filter_region")
        super().__init__(**kwargs)
