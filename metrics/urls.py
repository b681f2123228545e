from django.urls import path

from metrics.views import indicators, metrics, training, verdicts

app_name = "metrics"

urlpatterns = [
    path("", metrics.metric_list, name="list"),
    path("metrics/new/", metrics.metric_create, name="create"),
    path("metrics/upload/", indicators.indicator_upload, name="upload"),
    path("metrics/<int:metric_id>/", metrics.metric_detail, name="detail"),
    path("metrics/<int:metric_id>/delete/", metrics.metric_delete, name="delete"),
    path("metrics/<int:metric_id>/indicators/", indicators.indicator_add, name="add_indicator"),
    path(
        "metrics/<int:metric_id>/indicators/<int:indicator_id>/delete/",
        indicators.indicator_delete,
        name="delete_indicator",
    ),
    path("metrics/<int:metric_id>/indicators.csv", indicators.indicator_download, name="download"),
    path("metrics/<int:metric_id>/train/", training.train_metric, name="train"),
    path("train/", training.train_all, name="train_all"),
    path("predict/", verdicts.predict, name="predict"),
    path("models/<int:model_id>/pairplot.png", verdicts.pairplot, name="pairplot"),
]
