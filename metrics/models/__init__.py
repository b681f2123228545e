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
from predictor.training import MIN_INDICATORS, MIN_PER_DECISION, NotEnoughDataError, TrainingDataError

# What training may raise, and the data it needs, for the callers of `TrainedModel.objects.train`.
__all__ = [
    "MIN_INDICATORS",
    "MIN_PER_DECISION",
    "Decision",
    "Indicator",
    "IndicatorQuerySet",
    "Metric",
    "MetricDeleted",
    "MetricQuerySet",
    "ModelUnusable",
    "NoTrainedModel",
    "NotEnoughDataError",
    "Prediction",
    "TrainedModel",
    "TrainedModelQuerySet",
    "TrainingDataError",
    "TrainingReport",
    "Unusable",
    "has_visible_character",
    "normalise_label",
    "search_key",
    "signing_keys",
]
