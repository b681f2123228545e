"""The API's history fill, `POST /api/v1/metrics/{id}/fills/`: a job to poll, as an upload is,
against the real Prometheus of tests/stores/conftest.py."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import TokenScope
from metrics.models import ImportBatch, Job, Metric
from tests.api.test_api_data import bearer
from tests.data import imports_state
from tests.refusals import changes_nothing
from tests.stores.conftest import PrometheusServer, history_value
from tests.stores.test_fill import THREE_RELEASES, bound, moment

FILE = ("started_at,decision\n" + "\n".join(THREE_RELEASES) + "\n").encode()


def fill(client: Client, metric_id: int, headers: dict[str, str], content: bytes = FILE, **fields: str):
    data = {"file": SimpleUploadedFile("releases.csv", content, content_type="text/csv"), **fields}
    return client.post(reverse("api:fills", args=[metric_id]), data, headers=headers)


def test_a_fill_answers_202_with_its_job_and_the_import_names_its_source(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User, contributor: User
) -> None:
    bound(metric, prometheus.url)

    response = fill(client, metric.pk, bearer(owner), minutes="10")

    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["url"]
    assert (body["kind"], body["metric"], body["file"], body["status"]) == ("fill", metric.pk, "releases.csv", "done")
    assert body["outcome"] == "Filled 30 indicators into “Requests per minute” from its data source."
    assert metric.indicators.order_by("pk").values_list("value", flat=True)[0] == history_value(11)
    imports = client.get(reverse("api:imports", args=[metric.pk]), headers=bearer(owner)).json()["results"]
    assert [(each["rows"], each["filled_from"], each["job"]) for each in imports] == [
        (30, {"source": "Prometheus 0", "minutes": 10}, body["url"])
    ]
    theirs = client.get(reverse("api:imports", args=[metric.pk]), headers=bearer(contributor)).json()["results"]
    assert theirs[0]["filled_from"] == {"source": None, "minutes": 10}  # a source is its owner's alone
    undone = client.post(reverse("api:undo_import", args=[imports[0]["id"]]), headers=bearer(owner))
    assert (undone.status_code, undone.json()["deleted"]) == (200, 30)
    assert not metric.indicators.exists()


def test_an_upload_is_listed_as_filled_from_nowhere(client: Client, metric: Metric, owner: User) -> None:
    client.post(
        reverse("api:imports", args=[metric.pk]),
        {"file": SimpleUploadedFile("deploys.csv", b"valor,decisao,tempo\n500,0,10\n")},
        headers=bearer(owner),
    )

    imports = client.get(reverse("api:imports", args=[metric.pk]), headers=bearer(owner)).json()["results"]

    assert imports[0]["filled_from"] is None


def test_the_minutes_default_to_60(prometheus: PrometheusServer, client: Client, metric: Metric, owner: User) -> None:
    bound(metric, prometheus.url)

    fill(client, metric.pk, bearer(owner), content=f"started_at,decision\n{moment(0)},rollout\n".encode())

    assert ImportBatch.objects.get().fill_minutes == 60
    minutes = metric.indicators.order_by("pk").values_list("time", flat=True)
    assert list(minutes) == [float(minute) for minute in range(1, 61)]


def test_a_release_that_could_not_be_read_is_named_by_line_in_the_jobs_file_errors(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User, contributor: User
) -> None:
    bound(metric, prometheus.url)
    content = f"started_at,decision\n{moment(10)},rollout\n2020-01-01T00:00:00Z,rollback\n".encode()

    job = fill(client, metric.pk, bearer(owner), content=content, minutes="10").json()

    assert (job["status"], job["failure"]) == ("failed", "csv_errors")
    assert job["file_errors"]["message"] == "Nothing was stored: 1 release could not be filled."
    assert [(row["line"], row["column"]) for row in job["file_errors"]["rows"]] == [(3, None)]
    assert not metric.indicators.exists()
    # Why it failed words what the file holds: for who sent it only, as an upload's errors.
    theirs = client.get(job["url"], headers=bearer(contributor)).json()
    assert (theirs["status"], theirs["file_errors"]) == ("failed", None)
    assert theirs["outcome"] == "A history fill failed; who sent its file sees why."


def test_a_fill_needs_the_metrics_ownership_a_write_token_and_a_binding(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User, contributor: User
) -> None:
    unbound = Metric.objects.create(name="Unbound", category="Traffic", owner=owner)
    bound(metric, prometheus.url)

    with changes_nothing(imports_state):
        anonymous = fill(client, metric.pk, {})
        read_only = fill(client, metric.pk, bearer(owner, TokenScope.READ))
        not_owner = fill(client, metric.pk, bearer(contributor))
        unknown = fill(client, metric.pk + 1000, bearer(owner))
        not_bound = fill(client, unbound.pk, bearer(owner))

    assert [answer.status_code for answer in (anonymous, read_only, not_owner, unknown, not_bound)] == [
        401,
        403,
        403,
        404,
        409,
    ]
    assert not_owner.json()["detail"] == "Only the metric's owner may fill its history from its data source."
    assert not_bound.json()["code"] == "not_bound"
    assert not Job.objects.exists()


def test_a_file_filled_twice_is_a_conflict_and_bad_minutes_a_field_error(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    fill(client, metric.pk, bearer(owner), minutes="10")

    with changes_nothing(imports_state):
        twice = fill(client, metric.pk, bearer(owner), minutes="10")
        too_long = fill(client, metric.pk, bearer(owner), content=b"started_at,decision\n", minutes="1441")
        no_file = client.post(reverse("api:fills", args=[metric.pk]), {"minutes": "10"}, headers=bearer(owner))

    assert (twice.status_code, twice.json()["code"]) == (409, "duplicate_file")
    assert twice.json()["detail"].endswith("(30 rows). Undo that fill to fill it again.")
    assert too_long.status_code == 400
    assert [error["field"] for error in too_long.json()["errors"]] == ["minutes"]
    assert [error["field"] for error in no_file.json()["errors"]] == ["file"]
    assert Job.objects.count() == 1
