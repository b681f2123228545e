"""Jobs: imports, trainings, history fills and replays run by a worker, and their progress."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import Link, UtcDateTimeField, absolute_url, path_of
from api.serializers.imports import FileErrorsSerializer
from metrics.models import (
    Failure,
    Job,
)


class JobSerializer(serializers.ModelSerializer[Job]):
    metric = serializers.IntegerField(
        source="metric_id", read_only=True, allow_null=True, help_text="What a training, an import or a fill is of."
    )
    replay = serializers.IntegerField(
        source="replay_id", read_only=True, allow_null=True, help_text="What a replay job runs (it has no metric)."
    )
    replay_url = serializers.SerializerMethodField()
    scheduled = serializers.BooleanField(
        read_only=True, help_text="Queued by the retraining schedule, not by a person."
    )
    stage = serializers.CharField(source="stage_label", read_only=True, help_text="In the request's language.")
    percent = serializers.IntegerField(source="percent_done", read_only=True)
    failure = serializers.ChoiceField(
        choices=Failure.choices, allow_blank=True, read_only=True, help_text="Why it failed; empty unless it did."
    )
    outcome = serializers.SerializerMethodField(
        help_text="What happened, in words, in the request's language (Accept-Language; English by default), "
        "whatever the language it was queued in; `failure` is the code to act on."
    )
    version = serializers.IntegerField(source="result.version", default=None, read_only=True, allow_null=True)
    file = serializers.CharField(
        source="batch.file_name", default=None, read_only=True, allow_null=True, help_text="An import's file name."
    )
    file_errors = serializers.SerializerMethodField(
        help_text="Why an import refused its file, with the same line-numbered errors as the upload page, "
        "in the request's language."
    )
    created_at = UtcDateTimeField(read_only=True)
    started_at = UtcDateTimeField(read_only=True, allow_null=True)
    finished_at = UtcDateTimeField(read_only=True, allow_null=True)
    url = Link("api:job")

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "metric",
            "replay",
            "replay_url",
            "scheduled",
            "status",
            "stage",
            "percent",
            "failure",
            "outcome",
            "version",
            "file",
            "file_errors",
            "created_at",
            "started_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_replay_url(self, job: Job) -> str | None:
        """A replay job's replay, whose report it makes."""
        if job.replay_id is None:
            return None
        return absolute_url(path_of("api:replay", job.replay_id), self.context.get("request"))

    def get_outcome(self, job: Job) -> str:
        return job.outcome_for(self.context["request"].user)

    @extend_schema_field(FileErrorsSerializer(allow_null=True))
    def get_file_errors(self, job: Job) -> dict[str, Any] | None:
        """Only for who sent the file (`Job.shows_details_to`)."""
        error = job.csv_error() if job.shows_details_to(self.context["request"].user) else None
        if error is None:
            return None
        return {
            "message": error.message,
            "rows": [{"line": e.line, "column": e.column, "reason": e.reason} for e in error.row_errors],
            "total": error.total_errors,
        }
