from django.urls import path

from metrics.views import gates, indicators, metrics, releases, sources, training, verdicts, versions

app_name = "metrics"

urlpatterns = [
    path("", metrics.metric_list, name="list"),
    path("metrics/new/", metrics.metric_create, name="create"),
    path("metrics/upload/", indicators.indicator_upload, name="upload"),
    path("metrics/upload/sample.csv", indicators.indicator_sample, name="sample_csv"),
    path("metrics/<int:metric_id>/", metrics.metric_detail, name="detail"),
    path("metrics/<int:metric_id>/delete/", metrics.metric_delete, name="delete"),
    path("metrics/<int:metric_id>/indicators/", indicators.indicator_add, name="add_indicator"),
    path(
        "metrics/<int:metric_id>/indicators/<int:indicator_id>/delete/",
        indicators.indicator_delete,
        name="delete_indicator",
    ),
    path("metrics/<int:metric_id>/indicators.csv", indicators.indicator_download, name="download"),
    path("imports/<int:batch_id>/undo/", indicators.batch_undo, name="undo_import"),
    path("metrics/<int:metric_id>/train/", training.train_metric, name="train"),
    path("train/", training.train_all, name="train_all"),
    path("jobs/", training.job_list, name="jobs"),
    path("jobs/<int:job_id>/progress.json", training.job_progress, name="job_progress"),
    path("jobs/<int:job_id>/dismiss/", training.job_dismiss, name="job_dismiss"),
    path("metrics/<int:metric_id>/settings/", metrics.metric_settings, name="settings"),
    path("metrics/<int:metric_id>/verdicts/", verdicts.verdict_list, name="verdicts"),
    path("metrics/<int:metric_id>/unpin/", versions.unpin, name="unpin"),
    path("predict/", verdicts.predict, name="predict"),
    path("verdicts/<int:verdict_id>/", verdicts.verdict_detail, name="verdict"),
    path("releases/<int:release_id>/", releases.release_detail, name="release"),
    path("gates/", gates.gate_list, name="gates"),
    path("gates/new/", gates.gate_create, name="gate_create"),
    path("gates/<int:gate_id>/", gates.gate_detail, name="gate"),
    path("gates/<int:gate_id>/edit/", gates.gate_edit, name="gate_edit"),
    path("gates/<int:gate_id>/delete/", gates.gate_delete, name="gate_delete"),
    path("sources/", sources.source_list, name="sources"),
    path("sources/new/", sources.source_create, name="source_create"),
    path("sources/<int:source_id>/", sources.source_detail, name="source"),
    path("sources/<int:source_id>/edit/", sources.source_edit, name="source_edit"),
    path("sources/<int:source_id>/delete/", sources.source_delete, name="source_delete"),
    path("sources/<int:source_id>/test/", sources.source_test, name="source_test"),
    path("verdicts/<int:verdict_id>/feedback/", verdicts.verdict_feedback, name="feedback"),
    path("models/<int:model_id>/", versions.model_card, name="model_card"),
    path("models/<int:model_id>/activate/", versions.activate, name="activate"),
    path("models/<int:model_id>/pairplot.png", verdicts.pairplot, name="pairplot"),
]
