"""The rollout domain: metrics, their indicators, their trained models and the verdicts given.

One module per aggregate; everything is importable from `metrics.models`.
"""

from metrics.models.gate import (
    Answer,
    DecidedBy,
    Gate,
    GateMetric,
    JudgedOn,
    MetricCause,
    MissingMeans,
    Observation,
    Release,
    ReleaseRule,
    ReleaseVerdict,
)
from metrics.models.indicator import (
    ImportBatch,
    ImportBatchQuerySet,
    Indicator,
    IndicatorQuerySet,
)
from metrics.models.job import Failure, Job, JobKind, JobQuerySet, JobStatus
from metrics.models.metric import (
    BadDirection,
    Decision,
    Metric,
    MetricQuerySet,
    has_visible_character,
    normalise_label,
    search_key,
)
from metrics.models.trained_model import (
    PROMOTION_TOLERANCE,
    CandidateReason,
    TrainedModel,
    TrainedModelQuerySet,
    Unusable,
    signing_keys,
)
from metrics.models.verdict import Reason, Source, Verdict, VerdictQuerySet, VerdictState
from predictor.training import MIN_INDICATORS, MIN_PER_DECISION, NotEnoughDataError, TrainingDataError

# What training may raise, and the data it needs, for the callers of `TrainedModel.objects.train`.
__all__ = [
    "MIN_INDICATORS",
    "MIN_PER_DECISION",
    "PROMOTION_TOLERANCE",
    "Answer",
    "BadDirection",
    "CandidateReason",
    "DecidedBy",
    "Decision",
    "Failure",
    "Gate",
    "GateMetric",
    "ImportBatch",
    "ImportBatchQuerySet",
    "Indicator",
    "IndicatorQuerySet",
    "Job",
    "JobKind",
    "JobQuerySet",
    "JobStatus",
    "JudgedOn",
    "Metric",
    "MetricCause",
    "MetricQuerySet",
    "MissingMeans",
    "NotEnoughDataError",
    "Observation",
    "Reason",
    "Release",
    "ReleaseRule",
    "ReleaseVerdict",
    "Source",
    "TrainedModel",
    "TrainedModelQuerySet",
    "TrainingDataError",
    "Unusable",
    "Verdict",
    "VerdictQuerySet",
    "VerdictState",
    "has_visible_character",
    "normalise_label",
    "search_key",
    "signing_keys",
]
