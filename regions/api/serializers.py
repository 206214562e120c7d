from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api.serializers import display_field

from ..models import Region


class RegionSerializer(serializers.ModelSerializer):
    level_display = display_field("get_level_display")
    parent_code = serializers.SlugRelatedField(
        source="parent", slug_field="code", read_only=True, help_text=_("Code of the region above (null for the city).")
    )

    class Meta:
        model = Region
        fields = ["code", "name", "level", "level_display", "parent_code"]
