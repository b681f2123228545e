from django.urls import path

from predictor import views

app_name = "predictor"

urlpatterns = [
    path("predict/", views.predict, name="predict"),
    path("train/", views.train_all, name="train_all"),
    path("metrics/<int:metric_id>/train/", views.train_metric, name="train"),
    path("models/<int:model_id>/pairplot.png", views.pairplot, name="pairplot"),
]
