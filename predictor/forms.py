from django import forms
from django.utils.translation import gettext_lazy as _

from mbreak.forms import BootstrapFormMixin
from metrics.forms import number_field
from metrics.models import Metric


class PredictForm(BootstrapFormMixin, forms.Form):
    metric = forms.ModelChoiceField(
        label=_("Metric"),
        queryset=Metric.objects.all(),  # in the model's case-insensitive order
        empty_label=_("Choose a metric…"),
    )
    value = number_field(_("Observed value"))
    time = number_field(_("Time (minutes)"), minutes=True)
