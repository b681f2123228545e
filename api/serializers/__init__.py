"""What the API answers, and what it takes: by resource, as netbox splits them. Input is
checked by the models' own rules (`ValidatedModelSerializer` runs `full_clean()`), and every
change is made by the same model methods as the web pages'."""

from api.serializers.base import Link, UtcDateTimeField, model_label
from api.serializers.fills import FilledFromSerializer, FillInputSerializer
from api.serializers.gates import GateInputSerializer, GateMetricSerializer, GateSerializer
from api.serializers.imports import (
    FileErrorsSerializer,
    ImportInputSerializer,
    ImportSerializer,
    RowErrorSerializer,
    UndoneImportSerializer,
)
from api.serializers.indicators import (
    IndicatorInputSerializer,
    IndicatorSerializer,
    IndicatorsInputSerializer,
    StoredSerializer,
)
from api.serializers.jobs import JobSerializer
from api.serializers.metrics import (
    AnsweringModelSerializer,
    MetricFilterSerializer,
    MetricInputSerializer,
    MetricSerializer,
    VerdictSettingsSerializer,
)
from api.serializers.releases import (
    MetricJudgementSerializer,
    MetricReference,
    ObservationInputSerializer,
    OutcomeInputSerializer,
    OutcomeLabelsSerializer,
    OutcomeSerializer,
    RecordedOutcomeSerializer,
    ReleaseSerializer,
    ReleaseVerdictSerializer,
)
from api.serializers.replays import (
    GateChangeSerializer,
    ReplayedReleaseSerializer,
    ReplayInputSerializer,
    ReplayReportSerializer,
    ReplaySerializer,
    WhatIfSerializer,
)
from api.serializers.verdicts import AskSerializer, FeedbackSerializer, ReasonSerializer, VerdictSerializer
from api.serializers.versions import ActivateSerializer, VersionSerializer

__all__ = [
    "ActivateSerializer",
    "AnsweringModelSerializer",
    "AskSerializer",
    "FeedbackSerializer",
    "FileErrorsSerializer",
    "FillInputSerializer",
    "FilledFromSerializer",
    "GateChangeSerializer",
    "GateInputSerializer",
    "GateMetricSerializer",
    "GateSerializer",
    "ImportInputSerializer",
    "ImportSerializer",
    "IndicatorInputSerializer",
    "IndicatorSerializer",
    "IndicatorsInputSerializer",
    "JobSerializer",
    "Link",
    "MetricFilterSerializer",
    "MetricInputSerializer",
    "MetricJudgementSerializer",
    "MetricReference",
    "MetricSerializer",
    "ObservationInputSerializer",
    "OutcomeInputSerializer",
    "OutcomeLabelsSerializer",
    "OutcomeSerializer",
    "ReasonSerializer",
    "RecordedOutcomeSerializer",
    "ReleaseSerializer",
    "ReleaseVerdictSerializer",
    "ReplayInputSerializer",
    "ReplayReportSerializer",
    "ReplaySerializer",
    "ReplayedReleaseSerializer",
    "RowErrorSerializer",
    "StoredSerializer",
    "UndoneImportSerializer",
    "UtcDateTimeField",
    "VerdictSerializer",
    "VerdictSettingsSerializer",
    "VersionSerializer",
    "WhatIfSerializer",
    "model_label",
]
