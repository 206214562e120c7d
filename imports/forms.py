from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from enterprises.forms import BootstrapFormMixin

from . import services


class UploadForm(BootstrapFormMixin, forms.Form):
    campaign = forms.ModelChoiceField(
        label=_("Campaign"),
        queryset=services.campaigns_open_for_import(),
        help_text=_("The roster's categories, deadlines and problems become proposals in this campaign."),
    )
    file = forms.FileField(
        label=_("Roster (.xlsx)"),
        help_text=_("One sheet; the header row within the first 10 rows. Download the template to see every column."),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = services.campaigns_open_for_import()

    def clean_file(self):
        file = self.cleaned_data["file"]
        try:
            services.check_upload(file)
        except ValidationError as error:
            raise ValidationError(error.messages) from error
        return file


class CommitForm(forms.Form):
    skip_errors = forms.BooleanField(
        label=_("Import only the valid rows (the rows in error are left out)"),
        required=False,
    )
