from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from mbreak.forms import BootstrapFormMixin
from metrics import csv_io
from metrics.models import Decision, Metric


class MetricFilterForm(BootstrapFormMixin, forms.Form):
    # No max_length: a search longer than any name simply finds nothing.
    name = forms.CharField(label=_("Name contains"), required=False)
    category = forms.CharField(label=_("Category contains"), required=False)


class MetricForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Metric
        fields = ["name", "category"]
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": _("e.g. Requests per minute")}),
            "category": forms.TextInput(attrs={"placeholder": _("e.g. Communication")}),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        name = (cleaned.get("name") or "").strip()
        category = (cleaned.get("category") or "").strip()
        if name and category:
            duplicates = Metric.objects.same_as(name, category)
            if self.instance.pk:
                duplicates = duplicates.exclude(pk=self.instance.pk)
            if duplicates.exists():
                raise forms.ValidationError(
                    _("A metric named “%(name)s” already exists in the category “%(category)s”."),
                    code="duplicate",
                    params={"name": name, "category": category},
                )
        return cleaned

    def validate_constraints(self, exclude: Any = None) -> None:
        # clean() reports duplicates with a friendlier message than the constraint's.
        pass


class IndicatorForm(BootstrapFormMixin, forms.Form):
    value = forms.FloatField(label=_("Value"), widget=forms.NumberInput(attrs={"step": "any"}))
    decision = forms.TypedChoiceField(
        label=_("Decision"),
        # No default: a decision recorded by mistake would teach the model the wrong thing.
        choices=[
            ("", _("Choose…")),
            (Decision.ROLLBACK.value, _("Rollback (1)")),
            (Decision.ROLLOUT.value, _("Rollout (0)")),
        ],
        coerce=int,
    )
    time = forms.FloatField(
        label=_("Time (minutes)"), min_value=0, widget=forms.NumberInput(attrs={"step": "any", "min": "0"})
    )


class UploadForm(BootstrapFormMixin, forms.Form):
    metric = forms.ModelChoiceField(
        label=_("Metric to add the data to"),
        queryset=Metric.objects.order_by("name", "category"),
        empty_label=_("Choose a metric…"),
    )
    delimiter = forms.ChoiceField(
        label=_("Delimiter"),
        choices=[
            (csv_io.DETECT, _("Detect automatically")),
            ("comma", _("Comma (,)")),
            ("semicolon", _("Semicolon (;)")),
            ("tab", _("Tab")),
            ("pipe", _("Pipe (|)")),
        ],
        initial=csv_io.DETECT,
    )
    file = forms.FileField(
        label=_("CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.csv_error: csv_io.CsvFormatError | None = None
        self.parsed: csv_io.ParsedIndicators | None = None

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.MBREAK_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is too large (%(size)s); the limit is %(limit)s."),
                code="too_large",
                params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            )
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        delimiter = cleaned.get("delimiter")
        if upload is None or delimiter is None:
            return cleaned
        upload.seek(0)
        try:
            self.parsed = csv_io.parse_indicator_csv(upload.read(), delimiter)
        except csv_io.CsvFormatError as error:
            self.csv_error = error
            # Row errors are listed above the form with the message; a file-level error
            # (empty, wrong header...) belongs under the file field.
            self.add_error(None if error.row_errors else "file", error.message)
        return cleaned
