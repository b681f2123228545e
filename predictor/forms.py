from django import forms
from django.utils.translation import gettext_lazy as _

from mbreak.forms import BootstrapFormMixin
from metrics.models import Metric


class PredictForm(BootstrapFormMixin, forms.Form):
    metric = forms.ModelChoiceField(
        label=_("Metric"),
        queryset=Metric.objects.order_by("name", "category"),
        empty_label=_("Choose a metric…"),
    )
    value = forms.FloatField(label=_("Observed value"), widget=forms.NumberInput(attrs={"step": "any"}))
    time = forms.FloatField(
        label=_("Time (minutes)"), min_value=0, widget=forms.NumberInput(attrs={"step": "any", "min": "0"})
    )
