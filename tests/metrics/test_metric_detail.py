from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from metrics.models import Decision, Indicator, Metric
from tests.factories import IndicatorFactory, MetricFactory, TrainedModelFactory
from tests.metrics.test_verdicts import text_of
from tests.pages import messages_of, table_rows
from tests.refusals import changes_nothing


def detail_url(metric: Metric) -> str:
    return reverse("metrics:detail", args=[metric.pk])


def add_url(metric: Metric) -> str:
    return reverse("metrics:add_indicator", args=[metric.pk])


def delete_url(indicator: Indicator) -> str:
    return reverse("metrics:delete_indicator", args=[indicator.metric_id, indicator.pk])


def data_version(metric: Metric) -> int:
    return Metric.objects.values_list("data_version", flat=True).get(pk=metric.pk)


# --- Reading ---------------------------------------------------------------------------


def test_metric_page_lists_indicators_newest_first_with_decision_words(
    client: Client, owner: User, contributor: User, metric: Metric
) -> None:
    now = timezone.now()
    IndicatorFactory.create(
        metric=metric, value=500, decision=Decision.ROLLOUT, time=10, created_at=now - timedelta(hours=2)
    )
    IndicatorFactory.create(
        metric=metric,
        value=612,
        decision=Decision.ROLLBACK,
        time=60,
        created_by=contributor,
        created_at=now - timedelta(hours=1),
    )
    IndicatorFactory.create(metric=metric, value=-3, decision=Decision.ROLLOUT, time=0, created_at=now)
    client.force_login(owner)

    response = client.get(detail_url(metric))

    assert response.status_code == 200
    assert [row[:4] for row in table_rows(response)] == [
        ["-3", "Rollout", "0", "owner"],
        ["612", "Rollback", "60", "contributor"],
        ["500", "Rollout", "10", "owner"],
    ]
    assert "3 indicators" in response.content.decode()


def test_metric_page_shows_decimal_numbers_as_entered(client: Client, owner: User, metric: Metric) -> None:
    IndicatorFactory.create(metric=metric, value=612.5, time=0.25)
    client.force_login(owner)

    rows = table_rows(client.get(detail_url(metric)))

    assert [row[0] for row in rows] == ["612.5"]
    assert [row[2] for row in rows] == ["0.25"]


def test_metric_page_shows_name_category_and_owner(client: Client, stranger: User, metric: Metric) -> None:
    client.force_login(stranger)

    html = client.get(detail_url(metric)).content.decode()

    assert "Requests per minute" in html
    assert "Category Traffic · created by owner" in html


def test_metric_page_paginates_indicators(client: Client, owner: User, metric: Metric) -> None:
    start = timezone.now()
    for number in range(30):
        IndicatorFactory.create(metric=metric, value=1000 + number, created_at=start + timedelta(seconds=number))
    client.force_login(owner)

    first = client.get(detail_url(metric))
    second = client.get(detail_url(metric), {"page": 2})

    assert "Page 1 of 2" in first.content.decode()
    assert [row[0] for row in table_rows(first)] == [str(1000 + number) for number in range(29, 4, -1)]
    assert "Page 2 of 2" in second.content.decode()
    assert [row[0] for row in table_rows(second)] == [str(1000 + number) for number in range(4, -1, -1)]


def test_every_page_lists_its_own_indicators_whichever_end_it_is_read_from(
    client: Client, owner: User, metric: Metric
) -> None:
    start = timezone.now()
    # Many rows share a time (one upload): the newest first, then by id, on every page.
    for number in range(130):
        IndicatorFactory.create(metric=metric, value=number, created_at=start + timedelta(seconds=number // 40))
    newest_first = [str(number) for number in sorted(range(130), key=lambda n: (-(n // 40), -n))]
    client.force_login(owner)

    pages = [[row[0] for row in table_rows(client.get(detail_url(metric), {"page": n}))] for n in range(1, 7)]

    assert [len(page) for page in pages] == [25, 25, 25, 25, 25, 5]
    assert [value for page in pages for value in page] == newest_first


def test_metric_page_of_a_missing_metric_is_404(client: Client, owner: User) -> None:
    client.force_login(owner)

    assert client.get(reverse("metrics:detail", args=[999_999])).status_code == 404


def test_metric_page_offers_delete_only_to_the_owner(
    client: Client, owner: User, contributor: User, stranger: User, contributed_metric: Metric
) -> None:
    delete_link = f'href="{reverse("metrics:delete", args=[contributed_metric.pk])}"'

    client.force_login(owner)
    assert delete_link in client.get(detail_url(contributed_metric)).content.decode()
    for someone_else in (contributor, stranger):
        client.force_login(someone_else)
        assert delete_link not in client.get(detail_url(contributed_metric)).content.decode(), someone_else


def test_metric_page_offers_indicator_delete_only_to_its_author_or_the_metric_owner(
    client: Client, owner: User, contributor: User, stranger: User, metric: Metric
) -> None:
    by_owner = IndicatorFactory.create(metric=metric, created_by=owner)
    by_contributor = IndicatorFactory.create(metric=metric, created_by=contributor)

    client.force_login(owner)
    html = client.get(detail_url(metric)).content.decode()
    assert f'action="{delete_url(by_owner)}"' in html
    assert f'action="{delete_url(by_contributor)}"' in html

    client.force_login(contributor)
    html = client.get(detail_url(metric)).content.decode()
    assert f'action="{delete_url(by_owner)}"' not in html
    assert f'action="{delete_url(by_contributor)}"' in html

    client.force_login(stranger)
    html = client.get(detail_url(metric)).content.decode()
    assert f'action="{delete_url(by_owner)}"' not in html
    assert f'action="{delete_url(by_contributor)}"' not in html


def indicator_rows(response) -> list[list[str]]:
    """The rows of the indicators table: a trained metric's page also has a table of its model versions."""
    return [row for row in table_rows(response) if not row[0].startswith("Version ")]


def version_rows(response) -> list[list[str]]:
    return [row for row in table_rows(response) if row[0].startswith("Version ")]


def test_metric_page_runs_the_same_number_of_queries_whatever_the_number_of_indicators(
    client: Client, owner: User, trained_metric: Metric, django_assert_num_queries
) -> None:
    # The trained metric's own 200 rows are by the owner; these are by many authors.
    Indicator.objects.filter(metric=trained_metric).delete()

    def add(first: int, last: int) -> None:
        for number in range(first, last):
            author = User.objects.create(username=f"author{number}")
            IndicatorFactory.create(metric=trained_metric, created_by=author)

    client.force_login(owner)
    add(0, 5)
    with CaptureQueriesContext(connection) as few:
        response = client.get(detail_url(trained_metric))
    assert len(indicator_rows(response)) == 5

    add(5, 25)

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(detail_url(trained_metric))
    assert len(indicator_rows(response)) == 25
    assert len(version_rows(response)) == 1


def test_metric_page_runs_the_same_number_of_queries_whatever_the_number_of_versions(
    client: Client, owner: User, trained_metric: Metric, contributor: User, django_assert_num_queries
) -> None:
    def train(count: int) -> None:
        # Trained by different people, and some kept as candidates, as on a busy metric.
        for number in range(count):
            TrainedModelFactory.create(
                metric=trained_metric,
                trained_by=contributor if number % 2 else owner,
                active=number % 3 == 0,
                candidate_reason="" if number % 3 == 0 else "worse",
                compared_version=1,
                compared_accuracy=0.9,
            )

    client.force_login(owner)
    train(2)
    with CaptureQueriesContext(connection) as few:
        response = client.get(detail_url(trained_metric))
    assert len(version_rows(response)) == 3

    train(17)

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(detail_url(trained_metric))
    assert len(version_rows(response)) == 20


# --- Adding ----------------------------------------------------------------------------


def test_add_indicator_stores_it_by_the_user_and_bumps_the_data_version(
    client: Client, owner: User, metric: Metric
) -> None:
    client.force_login(owner)
    version_before = data_version(metric)

    response = client.post(add_url(metric), {"value": "612.5", "decision": "1", "minutes": "15"})

    assert response.status_code == 302
    assert response["Location"] == detail_url(metric)
    assert messages_of(response) == ["Indicator added."]
    indicator = Indicator.objects.get()
    assert (indicator.metric, indicator.value, indicator.decision, indicator.time) == (metric, 612.5, 1, 15.0)
    assert indicator.created_by == owner
    assert data_version(metric) == version_before + 1


def test_any_logged_in_user_may_add_an_indicator_to_any_metric(
    client: Client, contributor: User, metric: Metric
) -> None:
    client.force_login(contributor)

    response = client.post(add_url(metric), {"value": "-7", "decision": "0", "minutes": "0"}, follow=True)

    indicator = Indicator.objects.get()
    assert (indicator.value, indicator.decision, indicator.time) == (-7.0, 0, 0.0)
    assert indicator.created_by == contributor
    assert [row[:4] for row in table_rows(response)] == [["-7", "Rollout", "0", "contributor"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"value": "lots", "decision": "1", "minutes": "10"}, "Enter a number."),
        ({"value": "", "decision": "1", "minutes": "10"}, "This field is required."),
        ({"value": "500", "decision": "1", "minutes": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"value": "500", "decision": "", "minutes": "10"}, "This field is required."),
        (
            {"value": "500", "decision": "2", "minutes": "10"},
            "Select a valid choice. 2 is not one of the available choices.",
        ),
        ({"value": "NaN", "decision": "1", "minutes": "10"}, "Enter a number."),
        ({"value": "inf", "decision": "1", "minutes": "10"}, "Enter a number."),
        ({"value": "500", "decision": "0", "minutes": "-inf"}, "Enter a number."),
        ({"value": "500", "decision": "0", "minutes": "nan"}, "Enter a number."),
        ({"value": "1e39", "decision": "1", "minutes": "10"}, "Enter a number no larger than 3.4e+38."),
        ({"value": "500", "decision": "1", "minutes": "1e308"}, "Enter a number no larger than 3.4e+38."),
    ],
)
def test_add_indicator_with_bad_input_is_refused_with_a_message_and_stores_nothing(
    client: Client, owner: User, metric: Metric, data: dict[str, str], message: str
) -> None:
    IndicatorFactory.create(metric=metric)
    client.force_login(owner)
    with changes_nothing():
        response = client.post(add_url(metric), data)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_add_indicator_to_a_missing_metric_is_404_and_stores_nothing(
    client: Client, owner: User, metric: Metric
) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.post(
            reverse("metrics:add_indicator", args=[999_999]), {"value": 1, "decision": 1, "minutes": 1}
        )

    assert response.status_code == 404


def test_add_indicator_by_get_is_not_allowed(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.get(add_url(metric), {"value": 1, "decision": 1, "minutes": 1})

    assert response.status_code == 405


def test_metric_page_says_the_model_is_out_of_date_after_new_data(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    client.force_login(owner)
    assert "new data since: train again" not in client.get(detail_url(trained_metric)).content.decode()

    response = client.post(add_url(trained_metric), {"value": "5", "decision": "1", "minutes": "5"}, follow=True)

    html = response.content.decode()
    assert "Version 1" in html
    assert "new data since: train again" in html


def test_metric_page_says_a_model_better_than_its_baseline_only_by_chance_rests_on_too_little_data(
    client: Client, stranger: User, metric: Metric
) -> None:
    TrainedModelFactory.create(metric=metric, accuracy=2 / 3, baseline_accuracy=0.5, n_indicators=14, n_trained_on=14)
    client.force_login(stranger)

    response = client.get(detail_url(metric))

    assert text_of(response, "model-untrusted") == (
        "Rests on too little data to trust: on 14 cases, its accuracy could be chance (at 95% confidence only above "
        "40.9%). Its verdicts are inconclusive until more data shows it does better than always giving the most "
        "common answer."
    )


def test_metric_page_raises_no_doubt_on_a_model_clearly_better_than_its_baseline(
    client: Client, stranger: User, trained_metric: Metric
) -> None:
    client.force_login(stranger)

    assert text_of(client.get(detail_url(trained_metric)), "model-untrusted") is None


# --- Deleting --------------------------------------------------------------------------


def test_author_can_delete_their_indicator_on_someone_elses_metric(
    client: Client, contributor: User, metric: Metric
) -> None:
    mine = IndicatorFactory.create(metric=metric, created_by=contributor)
    kept = IndicatorFactory.create(metric=metric, created_by=metric.owner)
    version_before = data_version(metric)
    client.force_login(contributor)

    response = client.post(delete_url(mine))

    assert response.status_code == 302
    assert response["Location"] == detail_url(metric)
    assert messages_of(response) == ["Indicator deleted."]
    assert list(Indicator.objects.values_list("pk", flat=True)) == [kept.pk]
    assert data_version(metric) == version_before + 1


def test_metric_owner_can_delete_anyones_indicator_on_their_metric(
    client: Client, owner: User, contributor: User, metric: Metric
) -> None:
    theirs = IndicatorFactory.create(metric=metric, created_by=contributor)
    client.force_login(owner)

    response = client.post(delete_url(theirs))

    assert response.status_code == 302
    assert not Indicator.objects.exists()


def test_stranger_cannot_delete_an_indicator_and_nothing_changes(
    client: Client, contributor: User, stranger: User, metric: Metric
) -> None:
    theirs = IndicatorFactory.create(metric=metric, created_by=contributor)
    TrainedModelFactory.create(metric=metric)
    client.force_login(stranger)
    with changes_nothing():
        response = client.post(delete_url(theirs))

    assert response.status_code == 403


def test_deleting_an_indicator_under_another_metric_is_404_and_nothing_changes(
    client: Client, owner: User, metric: Metric
) -> None:
    elsewhere = MetricFactory.create(owner=owner)
    indicator = IndicatorFactory.create(metric=metric)
    client.force_login(owner)
    with changes_nothing():
        response = client.post(reverse("metrics:delete_indicator", args=[elsewhere.pk, indicator.pk]))

    assert response.status_code == 404


def test_deleting_an_indicator_by_get_is_not_allowed_and_nothing_changes(
    client: Client, owner: User, metric: Metric
) -> None:
    indicator = IndicatorFactory.create(metric=metric)
    client.force_login(owner)
    with changes_nothing():
        response = client.get(delete_url(indicator))

    assert response.status_code == 405


def test_indicators_outlive_the_account_that_registered_them(
    client: Client, owner: User, contributor: User, metric: Metric
) -> None:
    IndicatorFactory.create(metric=metric, created_by=contributor, value=777)
    TrainedModelFactory.create(metric=metric, trained_by=contributor)
    contributor.delete()
    client.force_login(owner)

    response = client.get(detail_url(metric))
    rows = table_rows(response, "indicators")

    assert [row[0] for row in rows] == ["777"]
    assert rows[0][3] == "—"
    # The model trained on them outlives the account too, still current: the data did not change.
    html = response.content.decode()
    assert "Trained just now by —" in html
    assert "new data since: train again" not in html
