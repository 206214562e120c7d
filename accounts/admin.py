from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from core.admin import RegionScopedAdmin

from .forms import UserAddForm, UserEditForm
from .models import Department, User
from .permissions import Capability
from .services import assign_role


@admin.register(Department)
class DepartmentAdmin(RegionScopedAdmin, admin.ModelAdmin):
    change_capability = Capability.MANAGE_REFERENCE
    list_display = ["name", "short_name", "reviews_classifications"]
    list_filter = ["reviews_classifications"]
    search_fields = ["name", "short_name"]


@admin.register(User)
class UserAdmin(RegionScopedAdmin, DjangoUserAdmin):
    """Accounts of the editor's region; role, region and department checked as `add_user` checks them."""

    view_capability = Capability.MANAGE_USERS
    change_capability = Capability.MANAGE_USERS
    form = UserEditForm
    add_form = UserAddForm
    list_display = ["username", "display_name", "role", "region", "department", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    list_select_related = ["region", "department"]
    search_fields = ["username", "first_name", "last_name", "email"]
    autocomplete_fields = ["region"]
    show_full_result_count = False

    _assignment = (_("Role and region"), {"fields": ("role", "region", "department")})
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        (_("Role and region"), {"classes": ("wide",), "fields": ("role", "region", "department", "email")}),
    )

    @admin.display(description=_("full name"), ordering="last_name")
    def display_name(self, obj):
        return obj.get_full_name()

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        permissions = ["is_active", "is_staff"]
        if request.user.is_superuser:
            permissions += ["is_superuser", "groups", "user_permissions"]
        return (
            (None, {"fields": ("username", "password")}),
            (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
            self._assignment,
            (_("Permissions"), {"fields": tuple(permissions)}),
            (_("Important dates"), {"fields": ("last_login", "date_joined")}),
        )

    def get_readonly_fields(self, request, obj=None):
        # The staff flag follows the role (accounts.services.staff_flag); only superusers grant more.
        return [] if request.user.is_superuser else ["is_staff", "last_login", "date_joined"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # The form has checked the assignment; assign_role also sets the staff flag from the role.
        assign_role(
            obj,
            role=obj.role,
            region=obj.region if obj.region_id else None,
            department=obj.department if obj.department_id else None,
        )
        super().save_model(request, obj, form, change)
