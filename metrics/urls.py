from django.urls import path

from metrics import views

app_name = "metrics"

urlpatterns = [
    path("", views.metric_list, name="list"),
    path("metrics/new/", views.metric_create, name="create"),
    path("metrics/upload/", views.indicator_upload, name="upload"),
    path("metrics/<int:metric_id>/", views.metric_detail, name="detail"),
    path("metrics/<int:metric_id>/delete/", views.metric_delete, name="delete"),
    path("metrics/<int:metric_id>/indicators/", views.indicator_add, name="add_indicator"),
    path(
        "metrics/<int:metric_id>/indicators/<int:indicator_id>/delete/",
        views.indicator_delete,
        name="delete_indicator",
    ),
    path("metrics/<int:metric_id>/indicators.csv", views.indicator_download, name="download"),
]
