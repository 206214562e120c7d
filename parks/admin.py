from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, require
from core.admin import RegionScopedHistoryAdmin, RegionScopedInline, adopt, fresh, model_data
from core.history import delete_tracked, save_tracked

from . import services
from .forms import SCORE_FIELDS
from .models import ChemicalPark, ParkEvaluation


class ParkEvaluationInline(RegionScopedInline, admin.TabularInline):
    model = ParkEvaluation
    change_capability = Capability.CHANGE_PARK
    fields = ["year", *SCORE_FIELDS]


@admin.register(ChemicalPark)
class ChemicalParkAdmin(RegionScopedHistoryAdmin):
    change_capability = Capability.CHANGE_PARK
    list_display = ["code", "name", "county", "township", "level", "recognition_status", "last_risk_assessment_on"]
    list_filter = ["level", "recognition_status"]
    list_select_related = ["township__parent"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["township"]
    inlines = [ParkEvaluationInline]
    show_full_result_count = False

    @admin.display(description=_("County/district"), ordering="township__parent__name")
    def county(self, obj):
        return obj.township.parent.name if obj.township.parent_id else ""

    def save_model(self, request, obj, form, change):
        if change:
            park = fresh(obj)
            services.update_park(actor=request.user, park=park, data=model_data(form, changed_only=True))
        else:
            park = services.create_park(actor=request.user, data=model_data(form))
        adopt(obj, park)

    def save_formset(self, request, form, formset, change):
        park = form.instance
        formset.save(commit=False)
        for evaluation in formset.deleted_objects:
            require(request.user, Capability.CHANGE_PARK, park.township)
            delete_tracked(evaluation, actor=request.user)
        for evaluation, changed in formset.changed_objects:
            if "year" in changed:
                # A corrected year moves this evaluation; save_park_evaluation would add a second one.
                require(request.user, Capability.CHANGE_PARK, park.township)
                save_tracked(evaluation, actor=request.user)
            else:
                self._save_evaluation(request, park, evaluation)
        for evaluation in formset.new_objects:
            self._save_evaluation(request, park, evaluation)

    @staticmethod
    def _save_evaluation(request, park, evaluation):
        services.save_park_evaluation(
            actor=request.user,
            park=park,
            year=evaluation.year,
            scores={name: getattr(evaluation, name) for name in SCORE_FIELDS},
        )

    def delete_model(self, request, obj):
        require(request.user, Capability.CHANGE_PARK, obj.township)
        delete_tracked(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for park in queryset.select_related("township"):
            self.delete_model(request, park)
