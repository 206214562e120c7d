"""Badges of the rectification pages: one colour per classification state, task status and category."""

from django import template

register = template.Library()

STATE_BADGES = {
    "proposed": "text-bg-info",
    "under_review": "text-bg-primary",
    "reviewed": "text-bg-primary",
    "pending_approval": "text-bg-warning",
    "returned": "text-bg-danger",
    "approved": "text-bg-success",
    "in_progress": "text-bg-primary",
    "awaiting_acceptance": "text-bg-warning",
    "accepted": "text-bg-success",
    "withdrawn": "text-bg-secondary",
    "superseded": "text-bg-secondary",
}

TASK_BADGES = {
    "not_started": "text-bg-light border",
    "in_progress": "text-bg-primary",
    "done": "text-bg-info",
    "overdue": "text-bg-danger",
    "verified_closed": "text-bg-success",
}

CATEGORY_BADGES = {
    "shutdown": "text-bg-dark",
    "relocate": "text-bg-primary",
    "upgrade": "text-bg-success",
    "restructure": "text-bg-info",
    "excluded": "text-bg-secondary",
    "undecided": "text-bg-light border",
}


@register.filter
def state_badge(state) -> str:
    return STATE_BADGES.get(str(state), "text-bg-secondary")


@register.filter
def task_badge(status) -> str:
    return TASK_BADGES.get(str(status), "text-bg-secondary")


@register.filter
def category_badge(category) -> str:
    return CATEGORY_BADGES.get(str(category), "text-bg-secondary")
