from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import BaseValidator, MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mbreak.forms import BootstrapFormMixin
from metrics import csv_io
from metrics.exceptions import DuplicateFile, DuplicateFill
from metrics.formatting import number
from metrics.models import (
    DataSource,
    Decision,
    Gate,
    GateMetric,
    Metric,
    SourceAuth,
    Verdict,
    VerdictState,
    Webhook,
)
from metrics.models.data_source import PREVIEW_WINDOW_MINUTES, MetricQuery, SourceKind, Variables, credentials_for
from metrics.models.gate import KEY_MAX_LENGTH, LONGEST_PULL_MINUTES, OUTCOME_NOTE_MAX_LENGTH, Outcome
from metrics.models.indicator import MINUTES_VALIDATORS, VALUE_VALIDATORS, Upload, read_upload
from metrics.models.metric import DEFAULT_FILL_MINUTES, FILL_FROM_RELEASES, MAX_FILL_MINUTES, VERDICT_SETTINGS
from metrics.models.notification import WEBHOOK_URL_MAX_LENGTH
from metrics.models.replay import GATE_KNOBS, METRIC_KNOBS, METRIC_OWN_KNOBS, setting_name

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django_stubs_ext import StrOrPromise

    from metrics.models import Replay


class _ShownLimit:
    """A limit validator whose message writes the limit as the page does: "0", not "0.0"; "50%"
    for a share typed as a percentage."""

    limit_value: float

    def __init__(self, limit_value: float, shown: Callable[[float], str] = number) -> None:
        super().__init__(limit_value)  # type: ignore[call-arg]
        self.shown = shown

    def __call__(self, value: Any) -> None:
        try:
            super().__call__(value)  # type: ignore[misc]
        except ValidationError as error:
            params = {**(error.params or {}), "limit_value": self.shown(self.limit_value)}
            raise ValidationError(error.message, code=error.code, params=params) from None


class _ShownMinValueValidator(_ShownLimit, MinValueValidator):
    pass


class _ShownMaxValueValidator(_ShownLimit, MaxValueValidator):
    pass


def localized_number_text(value: float) -> str:
    """A number in a form field of the page, exactly: the shortest text that reads back as the
    same float, with the page's decimal separator ("0,6" in Portuguese). Never rounded, so that
    saving a form unchanged changes nothing."""
    return csv_io.format_number(value).replace(".", get_format("DECIMAL_SEPARATOR"))


def percent_text(share: float) -> str:
    """A share as a percentage, exactly: 0.6 -> "60", 0.123456789 -> "12.3456789" (localised).

    Computed on the decimal text of the float, not by multiplying it (0.07 * 100 is
    7.000000000000001), so that `share_of_percent` gives back the very same float."""
    exact = Decimal(repr(float(share))).scaleb(2).normalize()
    return format(exact, "f").replace(".", get_format("DECIMAL_SEPARATOR"))


def share_of_percent(text: str) -> float:
    """ "60" -> 0.6: the float nearest to the exact decimal quotient (the inverse of `percent_text`)."""
    return float(Decimal(text).scaleb(-2))


def decimal_text(typed: str) -> str:
    """A number typed on a page, with a point for its decimal separator: "2,5" and "2.5" are both
    2.5, in either language, because people type both (a browser's number input dropped the
    comma and stored 25).

    Refused with a message, rather than guessed, when its separators could mean two things: more
    than one ("1.234,5", "1,234.5"), or the page's thousands separator followed by three digits
    ("1,234" on an English page may be 1234 or 1.234; "1.234" on a Portuguese one)."""
    text = typed.strip()
    separators = [character for character in text if character in ",."]
    if not separators:
        return text
    if len(separators) > 1:
        raise ValidationError(
            _("Type the number with one decimal separator and no thousands separator, e.g. %(example)s."),
            code="separators",
            params={"example": localized_number_text(1234.5)},
        )
    whole, decimals = text.replace(",", ".").split(".")
    digits = whole.lstrip("+-")
    sign = whole[: len(whole) - len(digits)]
    could_be_grouped = (
        separators[0] == get_format("THOUSAND_SEPARATOR")
        and len(decimals) == 3
        and decimals.isdigit()
        and 1 <= len(digits) <= 3
        and digits.isdigit()
        and not digits.startswith("0")
    )
    if could_be_grouped:
        raise ValidationError(
            _("“%(typed)s” could be %(whole)s or %(decimal)s: type one of these."),
            code="ambiguous_separator",
            params={
                "typed": text,
                "whole": localized_number_text(float(f"{sign}{digits}{decimals}")),
                "decimal": localized_number_text(float(f"{sign}{digits}.{decimals}")),
            },
        )
    return f"{whole}.{decimals}"


class DecimalTextInput(forms.TextInput):
    """A decimal typed in the page's language, shown as people write it: "80", "0,6". A browser's
    number input only takes a point (Chromium drops a comma: "2,5" became 25), hence text with a
    decimal keypad."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})
        self.is_localized = True

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, float):
            return localized_number_text(value)
        return super().format_value(value)


class DecimalTextField(forms.FloatField):
    """Every decimal number typed on the pages. With `localize=True` (the web pages) it reads a
    decimal comma or point as the person meant (`decimal_text`); without (the API, which passes
    JSON numbers to the same forms) it reads as Django does, whatever the language."""

    widget = DecimalTextInput

    def to_python(self, value: Any) -> float | None:  # type: ignore[override]  # the stubs say int
        if self.localize and isinstance(value, str) and value.strip():
            value = decimal_text(value)
        return super().to_python(value)


class WholeNumberField(forms.IntegerField):
    """A count typed on a page (`localize=True`): digits alone. A browser's number input reads
    "1.000" (a thousand, in Portuguese) as 1, and Django's own field drops a trailing ".000"."""

    def to_python(self, value: Any) -> int | None:
        if self.localize and isinstance(value, str) and ("," in value or "." in value):
            raise ValidationError(
                _("Type a whole number, without separators: %(example)s."),
                code="separators",
                params={"example": "1000"},
            )
        return super().to_python(value)


class PercentField(DecimalTextField):
    """A share (stored 0.6) shown and typed as a percentage ("60"), exactly both ways."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, float | int) and not isinstance(value, bool):
            return percent_text(value)
        return value

    def to_python(self, value: Any) -> float | None:  # type: ignore[override]  # the stubs say int
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        text = decimal_text(str(value))
        try:
            share = share_of_percent(text)
        except ArithmeticError:  # decimal.InvalidOperation: not a number; Overflow: too large
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        return share  # not finite ("inf", "nan"): refused by FloatField.validate


def _shown_percent(share: float) -> str:
    return f"{percent_text(share)}%"


class LocalizedNumbersMixin:
    """With `localize_numbers=True` (the web pages), the decimal fields named in
    `localized_numbers` are shown and read in the page's language ("0,6" in Portuguese), and
    their limits are written that way in error messages; those also in `percentages` are shown
    and typed as percentages, as every page speaks of them ("60" for a stored 0.6). The API
    passes JSON numbers to the same forms and keeps the default (off): its behaviour does not
    depend on the language, and its fields keep their stored meaning."""

    localized_numbers: tuple[str, ...] = ()
    percentages: tuple[str, ...] = ()
    whole_numbers: tuple[str, ...] = ()  # counts: typed as digits alone (`WholeNumberField`)
    # The page's help for a field typed as a percentage, when the model's speaks of a fraction.
    percent_help_texts: ClassVar[dict[str, StrOrPromise]] = {}
    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, localize_numbers: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not localize_numbers:
            return
        model = self._meta.model  # type: ignore[attr-defined]
        for name in self.whole_numbers:
            field = self.fields[name]
            field.localize = True
            attrs = {"inputmode": "numeric", "autocomplete": "off", "class": field.widget.attrs.get("class", "")}
            field.widget = forms.TextInput(attrs)
        for name in self.localized_numbers:
            field = self.fields[name]
            css = field.widget.attrs.get("class", "")
            shown: Callable[[float], str] = number
            if name in self.percentages:
                shown = _shown_percent
                field = self.fields[name] = PercentField(
                    label=format_lazy("{} (%)", field.label),
                    help_text=self.percent_help_texts.get(name, field.help_text),
                    required=field.required,
                )
            field.localize = True
            field.widget = DecimalTextInput({"class": css})
            # Checked here first, so the model's own check (same limits) does not answer with "0.0".
            for validator in model._meta.get_field(name).validators:
                kinds = {MinValueValidator: _ShownMinValueValidator, MaxValueValidator: _ShownMaxValueValidator}
                if type(validator) in kinds and isinstance(validator, BaseValidator):
                    field.validators.append(kinds[type(validator)](validator.limit_value, shown))


class MetricFilterForm(BootstrapFormMixin, forms.Form):
    # No max_length: a search longer than any name simply finds nothing.
    name = forms.CharField(label=_("Name contains"), required=False)
    category = forms.CharField(label=_("Category contains"), required=False)


class MetricForm(BootstrapFormMixin, forms.ModelForm[Metric]):
    class Meta:
        model = Metric
        fields = ["name", "category"]
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": _("e.g. Requests per minute")}),
            "category": forms.TextInput(attrs={"placeholder": _("e.g. Communication")}),
        }


def number_field(label: StrOrPromise, *, minutes: bool = False) -> DecimalTextField:
    """A finite number the tree can learn from, typed in the page's language: the indicator's
    limits (`VALUE_VALIDATORS`, `MINUTES_VALIDATORS`), as the API's serializers check them."""
    return DecimalTextField(label=label, validators=MINUTES_VALIDATORS if minutes else VALUE_VALIDATORS, localize=True)


def decision_field(label: StrOrPromise, *, rollback: StrOrPromise, rollout: StrOrPromise) -> forms.TypedChoiceField:
    """A decision, worded for the form. No default: a decision recorded by mistake would teach
    the model the wrong thing."""
    return forms.TypedChoiceField(
        label=label,
        choices=[("", _("Choose…")), (Decision.ROLLBACK.value, rollback), (Decision.ROLLOUT.value, rollout)],
        coerce=int,
    )


class IndicatorForm(BootstrapFormMixin, forms.Form):
    value = number_field(_("Value"))
    decision = decision_field(_("Decision"), rollback=_("Rollback (1)"), rollout=_("Rollout (0)"))
    minutes = number_field(_("Time (minutes)"), minutes=True)


class MetricChoiceFormMixin:
    """A form whose `metric` field offers the metrics its user may see, and no other."""

    fields: dict[str, forms.Field]

    def __init__(self, user: User | AnonymousUser, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Metric]", self.fields["metric"])
        field.queryset = Metric.objects.visible_to(user)  # in the model's case-insensitive order


class UploadForm(MetricChoiceFormMixin, BootstrapFormMixin, forms.Form):
    metric = forms.ModelChoiceField(
        label=_("Metric to add the data to"),
        queryset=Metric.objects.none(),
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

    import_again = forms.BooleanField(
        label=_("Import it again (the same file was already imported into this metric)"), required=False
    )

    import_again_hint = _("Tick “Import it again” to import it twice.")

    def __init__(self, user: User | AnonymousUser, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.fields["import_again"].widget.attrs["class"] = "form-check-input"
        # Set by the view when the file's import job refused it.
        self.csv_error: csv_io.CsvFormatError | None = None
        self.data_bytes = b""
        self.sha256 = ""
        self.show_import_again = False

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        read = read_upload(upload)  # the API's rules too
        self.data_bytes, self.sha256 = read.data, read.sha256
        return upload

    def duplicate(self, error: DuplicateFile) -> None:
        """Say the file was imported already (or is being imported), and offer to import it again."""
        self.show_import_again = True
        self.add_error("file", forms.ValidationError(f"{error} {self.import_again_hint}", code="duplicate_file"))

    def refused(self, error: csv_io.CsvFormatError) -> None:
        """Show why the import refused the file: rows errors above the form, a file error under the file."""
        self.csv_error = error
        self.add_error(None if error.row_errors else "file", error.message)


class PredictForm(MetricChoiceFormMixin, BootstrapFormMixin, forms.Form):
    metric = forms.ModelChoiceField(
        label=_("Metric"), queryset=Metric.objects.none(), empty_label=_("Choose a metric…")
    )
    value = number_field(_("Observed value"))
    minutes = number_field(_("Time (minutes)"), minutes=True)
    # A verdict's exact minutes behind the rounded ones its page shows (a pulled value's are
    # 12.333333333333334, shown 12.333333): run again unchanged, the verdict is asked again at
    # its own minutes, since a split of the tree (a float32) can lie between the two.
    exact_minutes = forms.FloatField(required=False, widget=forms.HiddenInput, validators=MINUTES_VALIDATORS)

    @classmethod
    def of_verdict(cls, user: User | AnonymousUser, verdict: Verdict) -> PredictForm:
        """The form filled in with a verdict's metric, value and minutes, to run it again: its
        minutes shown as the page words them (`number`), the exact ones kept behind them."""
        initial = {
            "metric": verdict.metric_id,
            "value": verdict.value,
            "minutes": number(verdict.minutes),
            "exact_minutes": verdict.minutes,
        }
        return cls(user, initial=initial)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        exact, typed = cleaned.get("exact_minutes"), cleaned.get("minutes")
        # Sent as shown (the exact minutes rounded as `number` rounds them): the exact ones.
        if exact is not None and typed is not None and typed == float(f"{exact:.6f}"):
            cleaned["minutes"] = exact
        return cleaned


class MetricSettingsForm(LocalizedNumbersMixin, BootstrapFormMixin, forms.ModelForm[Metric]):
    localized_numbers = ("rollback_threshold", "rollout_threshold", "range_margin")
    percentages = localized_numbers
    whole_numbers = ("min_leaf_cases",)
    percent_help_texts: ClassVar[dict[str, StrOrPromise]] = {
        "range_margin": _(
            "How far beyond the values and times the model has seen an observation may lie, as a percentage "
            "of their range, before the verdict is inconclusive."
        ),
    }

    class Meta:
        model = Metric
        fields = list(VERDICT_SETTINGS)
        field_classes = {
            **dict.fromkeys(("rollback_threshold", "rollout_threshold", "range_margin"), DecimalTextField),
            "min_leaf_cases": WholeNumberField,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["refuse_stale"].widget.attrs["class"] = "form-check-input"


class FeedbackForm(BootstrapFormMixin, forms.Form):
    decided = decision_field(_("What was actually decided?"), rollback=_("Rolled back"), rollout=_("Rolled out"))
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=Verdict.NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OutcomeForm(BootstrapFormMixin, forms.Form):
    """What the team did with a release: the button pressed (Rolled back or Rolled out), and a note."""

    outcome = forms.ChoiceField(
        label=_("What was done with the release?"),
        choices=Outcome.choices,
        error_messages={
            "required": _("Press “Rolled back” or “Rolled out”: what was done with the release."),
            "invalid_choice": _("Press “Rolled back” or “Rolled out”: what was done with the release."),
        },
    )
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=OUTCOME_NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class VerdictFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("Verdict"), required=False, choices=[("", _("All verdicts")), *VerdictState.choices]
    )


class GateForm(LocalizedNumbersMixin, BootstrapFormMixin, forms.ModelForm[Gate]):
    localized_numbers = ("pass_score", "marginal_score", "missing_after_minutes")
    whole_numbers = ("pull_interval_seconds", "pull_for_minutes")

    class Meta:
        model = Gate
        fields = [
            "name",
            "pass_score",
            "marginal_score",
            "missing_after_minutes",
            "missing_means",
            "dry_run",
            "pull_interval_seconds",
            "pull_for_minutes",
        ]
        field_classes = {
            **dict.fromkeys(("pass_score", "marginal_score", "missing_after_minutes"), DecimalTextField),
            **dict.fromkeys(("pull_interval_seconds", "pull_for_minutes"), WholeNumberField),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dry_run"].widget.attrs["class"] = "form-check-input"


# The help of a gate metric's fields is shown once, above the rows, rather than in each row;
# each row's field is described by it (`aria-describedby`), as a field by its own help.
GATE_METRIC_HELP_IDS = {
    name: f"gate-metric-help-{name.replace('_', '-')}"
    for name in ("critical", "observe_only", "judged_on", "failure_limit", "inconclusive_limit")
}


class GateMetricForm(LocalizedNumbersMixin, BootstrapFormMixin, forms.ModelForm[GateMetric]):
    localized_numbers = ("weight",)
    whole_numbers = ("failure_limit", "inconclusive_limit")

    class Meta:
        model = GateMetric
        fields = ["metric", "weight", "critical", "observe_only", "judged_on", "failure_limit", "inconclusive_limit"]
        field_classes = {
            "weight": DecimalTextField,
            "failure_limit": WholeNumberField,
            "inconclusive_limit": WholeNumberField,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["metric"].queryset = Metric.objects.order_by("name_key", "category_key")  # type: ignore[attr-defined]
        for name in ("critical", "observe_only"):
            self.fields[name].widget.attrs["class"] = "form-check-input"
        for name, help_id in GATE_METRIC_HELP_IDS.items():
            self.fields[name].widget.attrs["aria-describedby"] = help_id

    def full_clean(self) -> None:
        super().full_clean()
        # Set by hand, the description no longer gets Django's reference to the field's errors.
        for name in self.errors:
            if name in GATE_METRIC_HELP_IDS:
                self.fields[name].widget.attrs["aria-describedby"] = (
                    f"{GATE_METRIC_HELP_IDS[name]} {self[name].auto_id}_error"
                )


class BaseGateMetricFormSet(forms.BaseInlineFormSet[GateMetric, Gate, GateMetricForm]):
    def add_fields(self, form: GateMetricForm, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].widget.attrs["class"] = "form-check-input"

    def get_form_error(self) -> str:
        # Django's ("correct the duplicate values below") is shown on the later row and points
        # at the row after it; this one names what is wrong with the row it is on.
        return str(_("This metric is already in a row above: remove one of the two."))

    def get_unique_error_message(self, unique_check: Any) -> str:
        # Django's names the field as the code does ("metric"), untranslated.
        return str(_("A metric can be in a gate once: remove one of its rows."))

    def clean(self) -> None:
        super().clean()
        if any("id" in form.errors for form in self.initial_forms):
            # A row this page showed is gone, or its hidden id was altered: nothing to show on it.
            raise forms.ValidationError(
                _("A metric of this gate was changed or removed meanwhile, in another page: reload this one."),
                code="changed_meanwhile",
            )
        # The gate's own rule (duplicates were refused above, row by row).
        Gate.check_metrics(self._kept_metrics())
        self._refuse_metrics_added_meanwhile()

    def _kept_metrics(self) -> list[Metric | int]:
        """The metrics of the rows the gate keeps: filled in and not deleted, or shown and left as they were."""
        kept = [
            form
            for form in self.forms
            if form.has_changed() and form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        kept += [
            form
            for form in self.initial_forms
            if not form.has_changed() and not (form.cleaned_data or {}).get("DELETE")
        ]
        return [(form.cleaned_data or {}).get("metric") or form.instance.metric_id for form in kept]

    def _refuse_metrics_added_meanwhile(self) -> None:
        """A new row for a metric the gate has in a row this page did not show: added since the
        page was opened (another tab, or a first click of two)."""
        if self.instance.pk is None:
            return
        shown = [form.instance.pk for form in self.initial_forms]
        stored = set(
            GateMetric.objects.filter(gate=self.instance).exclude(pk__in=shown).values_list("metric", flat=True)
        )
        for form in self.extra_forms:
            metric = (form.cleaned_data or {}).get("metric")
            if metric is not None and metric.pk in stored and not form.cleaned_data.get("DELETE"):
                form.add_error(
                    "metric",
                    forms.ValidationError(
                        _("“%(name)s” was added to this gate meanwhile, in another page: reload this one to see it."),
                        code="added_meanwhile",
                        params={"name": metric.name},
                    ),
                )


GateMetricFormSet = forms.inlineformset_factory(
    Gate, GateMetric, form=GateMetricForm, formset=BaseGateMetricFormSet, extra=3, can_delete=True
)


class SourceSelect(forms.Select):
    """A data source's choice that says each source's kind (`data-kind`): the page shows the
    fields of the chosen source's kind (metric_query.js); without JavaScript it shows both."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        source = getattr(value, "instance", None)
        if isinstance(source, DataSource):
            option["attrs"]["data-kind"] = source.kind
        return option


class DimensionsField(forms.CharField):
    """A CloudWatch metric's dimensions typed one per line as `Name=value`, stored as
    [{"name", "value"}] (checked by `MetricQuery.clean`)."""

    widget = forms.Textarea

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(
                f"{item.get('name', '')}={item.get('value', '')}" for item in value if isinstance(item, dict)
            )
        return value

    def to_python(self, value: Any) -> list[dict[str, str]]:  # type: ignore[override]
        text = super().to_python(value) or ""
        dimensions = []
        for line in text.splitlines():
            if not line.strip():
                continue
            name, equals, dimension_value = line.partition("=")
            if not equals:
                raise ValidationError(
                    _("Write each dimension as Name=value, one a line: “%(line)s” has no “=”."),
                    code="invalid_dimensions",
                    params={"line": line.strip()[:60]},
                )
            dimensions.append({"name": name.strip(), "value": dimension_value.strip()})
        return dimensions


class MetricQueryForm(LocalizedNumbersMixin, BootstrapFormMixin, forms.ModelForm[MetricQuery]):
    """A metric's production query: the source among its user's own, and what is asked of it
    (the rules are `MetricQuery.clean`'s)."""

    whole_numbers = ("period_seconds",)

    dimensions = DimensionsField(
        label=_("Dimensions"),
        required=False,
        help_text=_("One a line, Name=value; a value may use the variables, e.g. TargetGroup={{ selector }}."),
    )

    class Meta:
        model = MetricQuery
        fields = [
            "source",
            "query",
            "namespace",
            "metric_name",
            "dimensions",
            "statistic",
            "period_seconds",
            "compare",
            "canary_selector",
            "baseline_selector",
        ]
        field_classes = {"period_seconds": WholeNumberField}
        widgets = {
            "source": SourceSelect,
            "query": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "dimensions": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "canary_selector": forms.TextInput(attrs={"spellcheck": "false"}),
            "baseline_selector": forms.TextInput(attrs={"spellcheck": "false"}),
        }
        labels = {"compare": _("The metric's value")}
        help_texts = {
            "query": _(
                "PromQL that gives one value, e.g. sum(rate(http_errors_total{ {{ selector }} }[{{ window }}m]))."
            ),
            "namespace": _("Empty: the data source's."),
            "statistic": _("Average, Sum, Minimum, Maximum, SampleCount, or a percentile such as p99."),
            "period_seconds": _("1, 5, 10, 20 or 30, or a multiple of 60."),
            "canary_selector": _('What picks the canary out, e.g. rollouts_pod_template_hash="{{ key }}".'),
            "baseline_selector": _(
                'What picks the baseline (stable) out, e.g. rollouts_pod_template_hash!="{{ key }}".'
            ),
        }

    def __init__(self, user: User | AnonymousUser, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sources = cast("forms.ModelChoiceField[DataSource]", self.fields["source"])
        sources.queryset = DataSource.objects.visible_to(user)  # the user's own, and no one else's
        sources.empty_label = _("Choose a data source…")
        for name in self.Meta.fields:
            if name != "source" and name != "compare":
                self.fields[name].widget.attrs.setdefault("autocomplete", "off")

    def bound_fields(self) -> dict[str, Any]:
        """What `Metric.bind` takes, from the checked form: every field but the source."""
        return {name: value for name, value in self.cleaned_data.items() if name != "source"}


class PreviewForm(BootstrapFormMixin, forms.Form):
    """What a preview stands for: a release's key and version, and minutes since its start."""

    key = forms.CharField(
        label=_("Key"), required=False, max_length=KEY_MAX_LENGTH, help_text=_("e.g. the canary's pod-template hash")
    )
    version = forms.CharField(label=_("Version"), required=False, max_length=100)
    window = WholeNumberField(
        label=_("Window (minutes)"),
        required=False,
        min_value=1,
        max_value=LONGEST_PULL_MINUTES,
        localize=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["window"].help_text = gettext("Empty: %(minutes)d minutes.") % {"minutes": PREVIEW_WINDOW_MINUTES}

    def variables(self) -> Variables:
        data = self.cleaned_data
        return Variables(
            key=data.get("key") or "",
            version=data.get("version") or "",
            window=data.get("window") or PREVIEW_WINDOW_MINUTES,
        )


class FillForm(BootstrapFormMixin, forms.Form):
    """A history fill: the past releases (a file, or, pressing the button named `from` with the
    value "releases", those recorded here with an outcome) and how many minutes of each to read."""

    file = forms.FileField(
        label=_("Past releases (CSV)"),
        required=False,  # not for the releases recorded here
        help_text=_(
            "A header, then one release a line: started_at (ISO 8601 with its time zone, e.g. "
            "2026-03-01T14:30:00Z), decision (rollout or rollback, 0 or 1), and optionally key and version (what "
            "{{ key }} and {{ version }} stand for in the query) and name (to tell the release by in errors)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )
    minutes = WholeNumberField(
        label=_("Minutes of each release"),
        min_value=1,
        max_value=MAX_FILL_MINUTES,
        initial=DEFAULT_FILL_MINUTES,
        localize=True,
        help_text=_("Each minute from 1 to this many after its start becomes an indicator."),
    )

    # Shown beside the form when the metric's query uses the window.
    window_note = _(
        "In a fill, {{ window }} stands for 1: each minute is read over that minute alone, as one range query "
        "cannot widen its window step by step. Live, it is the minutes since the release started, so a query "
        "over the whole release gives other values live than in its history; a fixed window (such as [1m]) gives "
        "the same."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload: Upload | None = None

    @property
    def from_releases(self) -> bool:
        """Whether the releases recorded here are to be read, rather than a file's."""
        return self.data.get("from") == FILL_FROM_RELEASES

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if self.from_releases:
            return None  # the button says which: a file chosen as well is not read
        if not upload:
            raise forms.ValidationError(self.fields["file"].error_messages["required"], code="required")
        self.upload = read_upload(upload)  # an upload's rules: size, no line too long
        return upload

    def duplicate(self, error: DuplicateFill) -> None:
        field = None if self.from_releases else "file"
        self.add_error(field, forms.ValidationError(str(error), code="duplicate_file"))


class DataSourceForm(LocalizedNumbersMixin, BootstrapFormMixin, forms.ModelForm[DataSource]):
    """A data source as its owner enters it. The secret is write-only: never shown back; left
    empty on an edit, the stored one is kept (unless forgotten, or the credentials change kind)."""

    localized_numbers = ("timeout_seconds",)

    secret = forms.CharField(
        label=_("Token, password or secret access key"),
        required=False,
        strip=False,
        # Never rendered back (render_value=False): a secret is not shown again.
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "spellcheck": "false"}),
        help_text=_("Kept encrypted, and never shown again."),
    )
    forget_secret = forms.BooleanField(label=_("Forget the stored secret"), required=False)

    class Meta:
        model = DataSource
        fields = ["name", "kind", "url", "region", "namespace", "auth", "username", "ca_certificate", "timeout_seconds"]
        field_classes = {"timeout_seconds": DecimalTextField}
        labels = {"username": _("User name or access key ID")}
        help_texts = {
            "url": _(
                "Prometheus: its base URL, what comes before /api/v1/ (e.g. http://prometheus.example:9090). "
                "Amazon CloudWatch: an https endpoint to use instead of the region's (a VPC endpoint), or empty."
            ),
            "region": _("Amazon CloudWatch: the AWS region of the metrics, e.g. eu-west-1."),
            "namespace": _(
                "Amazon CloudWatch: the namespace of its metrics, e.g. AWS/ApplicationELB (a metric may name another)."
            ),
            "auth": _(
                "Prometheus: none, a bearer token, or a user name and password. Amazon CloudWatch: the server's "
                "environment or instance role, or an access key."
            ),
            "username": _("The user name (with a password), or the access key ID (with an access key)."),
        }
        widgets = {
            "url": forms.URLInput(attrs={"inputmode": "url", "spellcheck": "false"}),
            "ca_certificate": forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "font-monospace"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Whether a secret was stored before this form: the page says so, and offers to forget it.
        self.had_secret = self.instance.has_secret
        self.fields["forget_secret"].widget.attrs["class"] = "form-check-input"
        if self.had_secret:
            self.fields["secret"].help_text = _(
                "A secret is stored, kept encrypted and never shown again: leave this empty to keep it, or type a "
                "new one to replace it."
            )

    def credentials(self) -> dict[SourceKind, tuple[SourceAuth, ...]]:
        """The credentials each kind of source takes, as its owner may give them: the page's
        script offers these alone (without it, every choice shows, and the source's rules say
        why the server's own AWS identity is refused)."""
        return credentials_for(self.instance.owner if self.instance.owner_id else None)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Before the model's own check (`DataSource.clean`), which needs a secret for the
        # credentials that take one.
        auth = cleaned.get("auth", self.instance.auth or SourceAuth.NONE)
        self.instance.secret = self.instance.replaced_secret(
            cleaned.get("secret"), auth, forget=bool(cleaned.get("forget_secret"))
        )
        return cleaned


class WebhookForm(BootstrapFormMixin, forms.ModelForm[Webhook]):
    """A gate's webhook as its owner enters it: where, in which format, and what to send it (at
    least one thing: `Webhook.clean`). Its secret is made with it, never typed."""

    EVENTS = ("on_rollback", "on_inconclusive", "on_rollout", "on_outcome")

    url = forms.URLField(
        label=_("URL"),
        max_length=WEBHOOK_URL_MAX_LENGTH,
        assume_scheme="https",  # "hooks.example.com/x" is https://hooks.example.com/x
        widget=forms.URLInput(attrs={"inputmode": "url", "spellcheck": "false"}),
        help_text=_(
            "Where each message is POSTed: an http:// or https:// address. Redirects are not followed. Slack's "
            "incoming webhook URL holds its token: only you see it."
        ),
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "format", "on_rollback", "on_inconclusive", "on_rollout", "on_outcome", "active"]
        labels = {
            "on_rollback": _("The verdict turns rollback"),
            "on_inconclusive": _("The verdict turns inconclusive (a person decides)"),
            "on_rollout": _("The verdict turns rollout"),
            "on_outcome": _("An outcome is recorded (rolled back or rolled out)"),
            "active": _("Active (a paused webhook is sent nothing new)"),
        }
        help_texts = {
            "name": _("To tell it from the gate's other webhooks, e.g. #deploys on Slack. Optional."),
            "format": _(
                "JSON: the verdict, its reason and summary, signed (see the verification recipe). Slack: a message "
                "with the same, for Slack's incoming webhooks and the chats that read them."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in (*self.EVENTS, "active"):
            self.fields[name].widget.attrs["class"] = "form-check-input"


class ReplayForm(BootstrapFormMixin, forms.Form):
    """Which past releases of a gate to replay: those started in a range of days, or (both left
    empty) every release with an outcome."""

    since = forms.DateField(
        label=_("Started from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        label=_("Started until (included)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def range(self) -> tuple[datetime | None, datetime | None]:
        """The range as `Replay.objects.start` takes it: from the first day's start to the end of
        the last day (the start of the next), in the site's time zone."""
        since, until = self.cleaned_data["since"], self.cleaned_data["until"]
        return _day_start(since), _day_start(until + timedelta(days=1) if until else None)

    def refused(self, error: ValidationError | str) -> None:
        """A refusal of `Replay.objects.start` (a bad range, nothing to replay), shown on the form."""
        self.add_error(None, error)
        _mark_invalid(self)


def _day_start(day: date | None) -> datetime | None:
    return None if day is None else timezone.make_aware(datetime.combine(day, time.min))


def _mark_invalid(form: forms.Form) -> None:
    for name in form.errors:
        if name in form.fields:
            widget = form.fields[name].widget
            if "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
            widget.attrs["aria-invalid"] = "true"


class WhatIfForm(forms.Form):
    """Other settings to try on a replay's releases, prefilled with those it used: the gate's two
    scores, and each metric's weight, critical flag, limits and (where `user` may change them) the
    metric's own thresholds. The fields are named as `Replay.what_if` names a setting it refuses
    ("pass_score", "metrics.<id>.weight"), so that each of its errors shows on its field."""

    def __init__(self, replay: Replay, user: User | AnonymousUser, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rules = replay.rules
        for name in GATE_KNOBS:
            self.fields[name] = self._field(Gate, name, self.rules[name])
        metrics = Metric.objects.in_bulk([rule["metric"] for rule in self.rules["metrics"]])
        for rule in self.rules["metrics"]:
            metric = metrics.get(rule["metric"])
            for name in METRIC_KNOBS:
                field = self._field(Metric if name in METRIC_OWN_KNOBS else GateMetric, name, rule[name])
                field.label = format_lazy("“{}”: {}", rule["name"], field.label)
                if name in METRIC_OWN_KNOBS and (metric is None or not metric.can_change_settings(user)):
                    # The metric's thresholds are its owner's: shown, and sent as they are.
                    field.disabled = True
                self.fields[f"metrics.{rule['metric']}.{name}"] = field

    def _field(self, model: type[Any], name: str, value: Any) -> forms.Field:
        field: forms.Field
        shown: Callable[[float], str] = number
        if name == "critical":
            field = forms.BooleanField(required=False, widget=forms.CheckboxInput({"class": "form-check-input"}))
        elif name in ("failure_limit", "inconclusive_limit"):
            attrs = {"inputmode": "numeric", "autocomplete": "off", "class": "form-control"}
            field = WholeNumberField(required=name == "failure_limit", localize=True, widget=forms.TextInput(attrs))
        elif name in METRIC_OWN_KNOBS:
            field, shown = (
                PercentField(localize=True, widget=DecimalTextInput({"class": "form-control"})),
                _shown_percent,
            )
        else:
            field = DecimalTextField(localize=True, widget=DecimalTextInput({"class": "form-control"}))
        field.label = setting_name(name)
        field.initial = value
        kinds = {MinValueValidator: _ShownMinValueValidator, MaxValueValidator: _ShownMaxValueValidator}
        for validator in model._meta.get_field(name).validators:
            if type(validator) in kinds and isinstance(validator, BaseValidator):
                field.validators.append(kinds[type(validator)](validator.limit_value, shown))
        return field

    def full_clean(self) -> None:
        super().full_clean()
        _mark_invalid(self)

    def metric_columns(self) -> list[str]:
        """The names of a metric's settings, in `METRIC_KNOBS`' order: the form's columns."""
        return [
            gettext("%(setting)s (%%)") % {"setting": setting_name(name)}
            if name in METRIC_OWN_KNOBS
            else setting_name(name)
            for name in METRIC_KNOBS
        ]

    def metric_rows(self) -> list[tuple[dict[str, Any], list[tuple[str, forms.BoundField]]]]:
        """Each metric of the replay with its fields under their columns: a row of the form."""
        columns = list(zip(self.metric_columns(), METRIC_KNOBS, strict=True))
        return [
            (rule, [(column, self[f"metrics.{rule['metric']}.{name}"]) for column, name in columns])
            for rule in self.rules["metrics"]
        ]

    def changes(self) -> dict[str, Any]:
        """Every setting as typed, as `Replay.what_if` takes them (it keeps those that differ)."""
        data = self.cleaned_data
        return {
            **{name: data[name] for name in GATE_KNOBS},
            "metrics": {
                str(rule["metric"]): {name: data[f"metrics.{rule['metric']}.{name}"] for name in METRIC_KNOBS}
                for rule in self.rules["metrics"]
            },
        }

    def refused(self, error: ValidationError) -> None:
        """`Replay.what_if`'s refusal, each message on the field it names (or above the form)."""
        if hasattr(error, "error_dict"):
            for name, messages in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        else:
            self.add_error(None, error)
        _mark_invalid(self)
