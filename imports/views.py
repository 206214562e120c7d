"""Pages of the roster import. Thin: parse input, call imports.services, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Capability, can, require
from core.views import explain_forbidden, paginate
from core.xlsx import XLSX_CONTENT_TYPE

from . import services, tasks, workbooks
from .forms import CommitForm, UploadForm
from .models import RosterImport, RowAction

#: Preview tabs: the row records each lists (rows with warnings are imported: they keep their own action).
TABS = {
    "new": {"action": RowAction.CREATE},
    "changed": {"action": RowAction.UPDATE},
    "warnings": {"has_warnings": True},
    "errors": {"action": RowAction.ERROR},
}


def _visible_import(request, pk) -> RosterImport:
    require(request.user, Capability.VIEW_REGISTER)
    queryset = RosterImport.objects.visible_to(request.user).select_related("created_by", "campaign", "region")
    return get_object_or_404(queryset, pk=pk)


@login_required
@explain_forbidden
@require_GET
def import_list(request):
    require(request.user, Capability.VIEW_REGISTER)
    imports = RosterImport.objects.visible_to(request.user).select_related("created_by", "campaign", "region")
    page = paginate(request, imports)
    return render(
        request,
        "imports/list.html",
        {"page_obj": page, "can_import": can(request.user, Capability.CHANGE_ENTERPRISE)},
    )


@login_required
@explain_forbidden
def upload(request):
    region = services.import_region(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            record = services.start_import(
                file=form.cleaned_data["file"], user=request.user, campaign=form.cleaned_data["campaign"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if services.runs_in_worker(record):
                services.hand_to_worker(record, tasks.preview_roster_import, record.pk)
                messages.info(request, _("The file is large; it is being read in the background."))
            else:
                services.preview(record, request.user)
            return redirect("imports:detail", pk=record.pk)
    return render(
        request,
        "imports/upload.html",
        {
            "form": form,
            "region": region,
            "inline_max_rows": services.inline_max_rows(),
            "max_bytes": settings.UPLOAD_MAX_BYTES,
        },
    )


@login_required
@explain_forbidden
@require_GET
def import_detail(request, pk):
    record = _visible_import(request, pk)
    default_tab = "errors" if record.error_row_count else ("new" if record.created_count else "changed")
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else default_tab
    rows = record.rows.filter(**TABS[tab]).order_by("row_number")
    page = paginate(request, rows)
    why_not = services.why_not_commit(record, request.user)
    return render(
        request,
        "imports/detail.html",
        {
            "record": record,
            "tab": tab,
            "tab_counts": {
                "new": record.created_count,
                "changed": record.updated_count,
                "warnings": record.warning_row_count,
                "errors": record.error_row_count,
            },
            "page_obj": page,
            "commit_form": CommitForm(),
            "why_not_commit": why_not,
            "can_commit": why_not is None,
            "earlier_import": services.same_file_imports(record).first(),
        },
    )


@login_required
@explain_forbidden
@require_GET
def import_status(request, pk):
    """Polled by the progress bar while the worker reads or imports a large file."""
    record = _visible_import(request, pk)
    return JsonResponse(
        {
            "status": record.status,
            "status_display": record.get_status_display(),
            "progress": record.progress,
            "running": record.is_running,
        }
    )


@login_required
@explain_forbidden
@require_POST
def commit(request, pk):
    record = _visible_import(request, pk)
    require(request.user, Capability.CHANGE_ENTERPRISE, record.region)
    form = CommitForm(request.POST)
    skip_errors = form.is_valid() and form.cleaned_data["skip_errors"]
    try:
        if record.rows_read > services.inline_max_rows():
            services.claim_for_commit(record, request.user, skip_errors=skip_errors)
            services.hand_to_worker(record, tasks.commit_roster_import, record.pk, request.user.pk, skip_errors)
            messages.info(request, _("The roster is being imported in the background."))
        else:
            services.commit(record, request.user, skip_errors=skip_errors)
            messages.success(
                request,
                _("Imported: %(created)d new, %(updated)d changed, %(unchanged)d unchanged.")
                % {
                    "created": record.created_count,
                    "updated": record.updated_count,
                    "unchanged": record.unchanged_count,
                },
            )
    except services.ImportRefused as error:
        if str(error) != record.message:  # the import page shows its own message already: say it once
            messages.error(request, str(error))
    return redirect("imports:detail", pk=record.pk)


def _xlsx_download(file, filename: str) -> FileResponse:
    file.seek(0)
    return FileResponse(file, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


@login_required
@explain_forbidden
@require_GET
def error_download(request, pk):
    """The rows in error with a column explaining each error (fix them and upload the file again)."""
    record = _visible_import(request, pk)
    file = workbooks.temporary_file()
    try:
        workbooks.error_workbook(record, file)
    except BaseException:
        file.close()
        raise
    stem = record.file_name.rsplit(".", 1)[0]
    suffix = _("errors")
    return _xlsx_download(file, f"{stem}-{suffix}.xlsx")


@login_required
@explain_forbidden
@require_GET
def original_download(request, pk):
    """The uploaded file as it was (only to users who can see the import)."""
    record = _visible_import(request, pk)
    return FileResponse(
        record.file.open("rb"), as_attachment=True, filename=record.file_name, content_type=XLSX_CONTENT_TYPE
    )


@login_required
@explain_forbidden
@require_GET
def template_download(request):
    require(request.user, Capability.CHANGE_ENTERPRISE)
    file = workbooks.temporary_file()
    try:
        workbooks.template_workbook(request.user, file)
    except BaseException:
        file.close()
        raise
    stem = _("roster-template")
    return _xlsx_download(file, f"{stem}-{timezone.localdate():%Y%m%d}.xlsx")
