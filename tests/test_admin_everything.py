"""Every model is in the admin, every changelist opens for bureau staff, and worker records stay scoped."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from core.models import Notification, NotificationKind

#: Shown elsewhere on purpose: a roster import's rows (up to 35,000) are paged on the import's own page.
NOT_IN_ADMIN = {"imports.RosterImportRow"}
PROJECT_APPS = {"regions", "accounts", "parks", "enterprises", "rectification", "inspections", "imports", "core"}


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_every_project_model_has_an_admin_page():
    missing = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS
        and not model._meta.label.split(".")[1].startswith("Historical")
        and model not in admin.site._registry
        and model._meta.label not in NOT_IN_ADMIN
        and not any(model in {inline.model for inline in ma.inlines} for ma in admin.site._registry.values())
    ]
    assert not missing, f"models without an admin page or inline: {missing}"


@pytest.mark.parametrize("who", ["city", "county_a"])
def test_every_changelist_opens_for_bureau_staff(db, users, client_for, who):
    client = client_for(users[who])
    for model in admin.site._registry:
        if model._meta.app_label in PROJECT_APPS:
            # 403 only where the admin keeps a reference table to superusers or the city office.
            assert client.get(changelist(model)).status_code in (200, 403), model._meta.label


def test_notifications_in_the_admin_are_those_of_the_users_of_ones_region(db, users, client_for, regions):
    from .factories import UserFactory

    outsider = UserFactory(username="b1_officer", role="township", region=regions["town_b1"])
    for user in (users["town_a1"], outsider):
        Notification.objects.create(
            recipient=user, kind=NotificationKind.TASK_OVERDUE, title=f"to {user.username}", dedup_key="k"
        )
    page = client_for(users["county_a"]).get(changelist(Notification)).content.decode()
    assert "to town_a1" in page and "to b1_officer" not in page
