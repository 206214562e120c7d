"""Template helpers of the inspection pages and the dossier's inspection section."""

from django import template

from accounts.permissions import Capability, can
from enterprises.choices import OperatingStatus

register = template.Library()


@register.simple_tag(takes_context=True)
def inspection_permissions(context, enterprise):
    """What the user may start from an enterprise's dossier (no queries: the township is already loaded)."""
    user = context["request"].user
    region = enterprise.township
    record = can(user, Capability.RECORD_INSPECTION, region)
    return {
        "survey": can(user, Capability.RECORD_SURVEY, region),
        "inspect": record,
        "finding": can(user, Capability.MANAGE_FINDINGS, region),
        # 回头看 re-checks are made at closed enterprises (the service also accepts an accepted shutdown).
        "recheck": record and enterprise.status in (OperatingStatus.CLOSED, OperatingStatus.DEREGISTERED),
    }
