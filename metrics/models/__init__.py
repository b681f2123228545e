"""The rollout domain: metrics, their indicators and their trained models.

One module per aggregate; everything is importable from `metrics.models`.
"""

from metrics.models.indicator import Indicator, IndicatorQuerySet
from metrics.models.metric import (
    Decision,
    Metric,
    MetricDeleted,
    MetricQuerySet,
    has_visible_character,
    normalise_label,
    search_key,
)
from metrics.models.trained_model import (
    ModelUnusable,
    NoTrainedModel,
    Prediction,
    TrainedModel,
    TrainedModelQuerySet,
    TrainingReport,
    Unusable,
    signing_keys,
)

__all__ = [
    "Decision",
    "Indicator",
    "IndicatorQuerySet",
    "Metric",
    "MetricDeleted",
    "MetricQuerySet",
    "ModelUnusable",
    "NoTrainedModel",
    "Prediction",
    "TrainedModel",
    "TrainedModelQuerySet",
    "TrainingReport",
    "Unusable",
    "has_visible_character",
    "normalise_label",
    "search_key",
    "signing_keys",
]
