"""The API's data and training endpoints: indicators (one, many, CSV), training jobs."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from metrics.models import ImportBatch, Indicator, Job, Metric
from tests.data import imports_state, rule_data
from tests.refusals import changes_nothing


def bearer(user: User, scope: str = TokenScope.WRITE) -> dict[str, str]:
    _token, secret = ApiToken.objects.issue(user, f"token {ApiToken.objects.count()}", scope)
    return {"Authorization": f"Bearer {secret}"}


def rows_of(metric: Metric) -> list[tuple]:
    return list(metric.indicators.order_by("pk").values_list("value", "decision", "time", "created_by_id"))


def test_one_indicator_is_added_by_its_author(client: Client, metric: Metric, contributor: User) -> None:
    response = client.post(
        reverse("api:indicators", args=[metric.pk]),
        {"value": 480.5, "decision": "rollback", "minutes": 12},
        content_type="application/json",
        headers=bearer(contributor),
    )

    assert response.status_code == 201
    assert response.json()["decision"] == "rollback"
    assert response.json()["registered_by"] == "contributor"
    assert rows_of(metric) == [(480.5, 1, 12.0, contributor.pk)]
    metric.refresh_from_db()
    assert metric.indicator_count == 1


def test_a_bad_indicator_is_refused_and_nothing_stored(client: Client, metric: Metric, owner: User) -> None:
    response = client.post(
        reverse("api:indicators", args=[metric.pk]),
        {"value": 1, "decision": "maybe", "minutes": -3},
        content_type="application/json",
        headers=bearer(owner),
    )

    assert response.status_code == 400
    assert sorted(error["field"] for error in response.json()["errors"]) == ["decision", "minutes"]
    assert not Indicator.objects.exists()


def test_many_indicators_are_stored_all_or_nothing(client: Client, metric: Metric, owner: User) -> None:
    url = reverse("api:indicators_bulk", args=[metric.pk])
    good = [{"value": n, "decision": "rollout", "minutes": n % 60} for n in range(300)]
    bad = [*good[:10], {"value": "x", "decision": "rollout", "minutes": 1}, *good[10:]]

    refused = client.post(url, {"indicators": bad}, content_type="application/json", headers=bearer(owner))
    stored = client.post(url, {"indicators": good}, content_type="application/json", headers=bearer(owner))

    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"field": "indicators.10.value", "code": "type", "message": "Send a number."}]
    assert stored.status_code == 201
    assert stored.json() == {"stored": 300, "indicator_count": 300}
    assert len(rows_of(metric)) == 300


def test_indicators_are_listed_newest_first_in_cursor_pages(client: Client, metric: Metric, owner: User) -> None:
    metric.import_indicators(rule_data(150), owner)
    url = reverse("api:indicators", args=[metric.pk])

    first = client.get(url, headers=bearer(owner)).json()
    second = client.get(first["next"], headers=bearer(owner)).json()

    ids = [row["id"] for row in first["results"] + second["results"]]
    assert len(first["results"]) == 100
    assert second["next"] is None
    assert ids == sorted(metric.indicators.values_list("pk", flat=True), reverse=True)


def test_every_indicator_of_one_large_import_is_listed_once_going_forward_and_back(
    client: Client, metric: Metric, owner: User
) -> None:
    metric.import_indicators(rule_data(1_250), owner)  # one import: one registration time for all
    metric.import_indicators(rule_data(30), owner)
    headers = bearer(owner)
    pages = [client.get(reverse("api:indicators", args=[metric.pk]), headers=headers).json()]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"], headers=headers).json())
    back = [pages[-1]]
    while back[-1]["previous"]:
        back.append(client.get(back[-1]["previous"], headers=headers).json())

    forward_ids = [row["id"] for page in pages for row in page["results"]]
    assert forward_ids == sorted(metric.indicators.values_list("pk", flat=True), reverse=True)
    assert len(pages) == 13
    assert pages[0]["previous"] is None
    assert [row["id"] for page in reversed(back) for row in page["results"]] == forward_ids


@pytest.mark.parametrize(
    "cursor",
    [
        "zzz",  # not base64
        "cD1nYXJiYWdl",  # DRF's shape, "p=garbage"
        "YXxnYXJiYWdlfDE",  # "a|garbage|1"
        "YXwyMDI2LTAxLTAxVDAwOjAwOjAwfDE",  # "a|2026-01-01T00:00:00|1", no offset
        "YXwyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwfDk5OTk5OTk5OTk5OTk5OTk5OTk5",  # an id past 64 bits
        "YXwyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwfMKy",  # "²" as the id
    ],
)
def test_a_made_up_cursor_is_refused_as_an_invalid_page(client: Client, metric: Metric, owner: User, cursor) -> None:
    url = reverse("api:indicators", args=[metric.pk])

    response = client.get(url, {"cursor": cursor}, headers=bearer(owner))

    assert response.status_code == 404
    assert response.json()["detail"] == "Invalid cursor."


def test_the_csv_download_is_the_pages_download(client: Client, metric: Metric, owner: User, stranger: User) -> None:
    metric.import_indicators(rule_data(20), owner)
    url = reverse("api:indicators_csv", args=[metric.pk])

    response = client.get(url, headers=bearer(stranger))
    asked_as_csv = client.get(url, headers={**bearer(stranger), "Accept": "text/csv"})

    assert response.status_code == asked_as_csv.status_code == 200
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["valor", "decisao", "tempo", "usuario", "registrado_em"]
    assert len(rows) == 21


def test_train_answers_202_with_the_job_to_poll(client: Client, metric: Metric, owner: User, contributor: User) -> None:
    metric.import_indicators(rule_data(60), owner)

    response = client.post(reverse("api:train", args=[metric.pk]), headers=bearer(contributor))

    assert response.status_code == 202
    job = Job.objects.get()
    body = response.json()
    assert response["Location"] == body["url"]
    assert (body["id"], body["kind"], body["metric"]) == (job.pk, "training", metric.pk)
    polled = client.get(body["url"], headers=bearer(contributor)).json()
    assert (polled["status"], polled["version"], polled["percent"]) == ("done", 1, 100)
    assert polled["outcome"].startswith("Version 1 trained:")
    listed = client.get(reverse("api:jobs"), headers=bearer(contributor)).json()["results"]
    assert [job["id"] for job in listed] == [job.pk]


def test_a_read_only_token_cannot_add_data_or_train(client: Client, metric: Metric, owner: User) -> None:
    headers = bearer(owner, TokenScope.READ)

    added = client.post(
        reverse("api:indicators", args=[metric.pk]),
        {"value": 1, "decision": "rollout", "minutes": 1},
        content_type="application/json",
        headers=headers,
    )
    trained = client.post(reverse("api:train", args=[metric.pk]), headers=headers)

    assert (added.status_code, trained.status_code) == (403, 403)
    assert not Indicator.objects.exists()
    assert not Job.objects.exists()


# --- CSV upload as a job ---------------------------------------------------------------

GOOD_CSV = b"valor,decisao,tempo\n500,0,10\n612.5,1,60\n-3,0,0.25\n"


def upload(client: Client, metric_id: int, content: bytes, headers: dict[str, str], **fields: str):
    data = {"file": SimpleUploadedFile("deploys.csv", content, content_type="text/csv"), **fields}
    return client.post(reverse("api:imports", args=[metric_id]), data, headers=headers)


def test_an_uploaded_file_is_imported_by_a_job_to_poll(client: Client, metric: Metric, contributor: User) -> None:
    response = upload(client, metric.pk, GOOD_CSV, bearer(contributor))

    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["url"]
    assert (body["kind"], body["metric"], body["file"]) == ("import", metric.pk, "deploys.csv")
    polled = client.get(body["url"], headers=bearer(contributor)).json()
    assert (polled["status"], polled["file_errors"]) == ("done", None)
    assert polled["outcome"] == "Imported 3 indicators into “Requests per minute”."
    assert rows_of(metric) == [
        (500.0, 0, 10.0, contributor.pk),
        (612.5, 1, 60.0, contributor.pk),
        (-3.0, 0, 0.25, contributor.pk),
    ]
    batch = ImportBatch.objects.get()
    assert (batch.uploaded_by, batch.rows, batch.data) == (contributor, 3, b"")


def test_why_a_file_was_refused_is_shown_only_to_who_sent_it(
    client: Client, metric: Metric, owner: User, stranger: User
) -> None:
    content = b"user,password\nalice,hunter2\n"
    url = upload(client, metric.pk, content, bearer(owner)).json()["url"]

    mine = client.get(url, headers=bearer(owner)).json()
    theirs = client.get(url, headers=bearer(stranger)).json()
    client.force_login(stranger)
    polled = client.get(reverse("metrics:job_progress", args=[mine["id"]])).json()

    assert "password" in mine["outcome"]
    assert mine["file_errors"] is not None
    assert (theirs["status"], theirs["file_errors"]) == ("failed", None)
    assert theirs["outcome"] == polled["outcome"] == "The import of a file failed; who sent it sees why."
    assert "password" not in str(theirs) + str(polled)


def test_a_refused_file_stores_nothing_and_its_job_lists_the_lines(client: Client, metric: Metric, owner: User) -> None:
    content = b"valor,decisao,tempo\n500,0,10\n600,1,20\n700,2,30\nabc,0,40\n"

    response = upload(client, metric.pk, content, bearer(owner), delimiter="comma")

    assert response.status_code == 202
    job = client.get(response.json()["url"], headers=bearer(owner)).json()
    assert (job["status"], job["failure"]) == ("failed", "csv_errors")
    assert job["file_errors"] == {
        "message": "Nothing was imported: the file has 2 errors.",
        "rows": [
            {"line": 4, "column": "decisao", "reason": "expected 0 (rollout) or 1 (rollback), got “2”"},
            {"line": 5, "column": "valor", "reason": "expected a finite number, got “abc”"},
        ],
        "total": 2,
    }
    assert not Indicator.objects.exists()


def test_the_same_file_twice_is_refused_unless_asked_again(client: Client, metric: Metric, owner: User) -> None:
    upload(client, metric.pk, GOOD_CSV, bearer(owner))

    twice = upload(client, metric.pk, GOOD_CSV, bearer(owner))
    again = upload(client, metric.pk, GOOD_CSV, bearer(owner), import_again="true")

    assert twice.status_code == 409
    assert twice.json()["code"] == "duplicate_file"
    assert twice.json()["detail"].startswith("This file was already imported into “Requests per minute” on ")
    assert twice.json()["detail"].endswith("(3 rows). Send import_again=true to import it twice.")
    assert again.status_code == 202
    assert ImportBatch.objects.count() == 2
    assert len(rows_of(metric)) == 6


def test_an_upload_without_a_file_or_with_a_bad_delimiter_is_refused(
    client: Client, metric: Metric, owner: User
) -> None:
    url = reverse("api:imports", args=[metric.pk])

    no_file = client.post(url, {"delimiter": "comma"}, headers=bearer(owner))
    bad_delimiter = upload(client, metric.pk, GOOD_CSV, bearer(owner), delimiter="colon")
    bad_again = upload(client, metric.pk, GOOD_CSV, bearer(owner), import_again="{}")
    as_json = client.post(url, {"file": "500,0,10"}, content_type="application/json", headers=bearer(owner))

    assert no_file.status_code == 400
    assert no_file.json()["errors"] == [{"field": "file", "code": "required", "message": "This field is required."}]
    assert bad_delimiter.status_code == 400
    assert bad_delimiter.json()["errors"][0]["field"] == "delimiter"
    assert bad_again.json()["errors"] == [{"field": "import_again", "code": "type", "message": "Send true or false."}]
    assert as_json.status_code == 415
    assert as_json.json()["code"] == "unsupported_media_type"
    assert not ImportBatch.objects.exists()
    assert not Job.objects.exists()


def test_an_upload_needs_a_write_token_and_a_metric_one_may_see(client: Client, metric: Metric, owner: User) -> None:
    anonymous = upload(client, metric.pk, GOOD_CSV, {})
    read_only = upload(client, metric.pk, GOOD_CSV, bearer(owner, TokenScope.READ))
    unknown = upload(client, metric.pk + 1000, GOOD_CSV, bearer(owner))

    assert (anonymous.status_code, read_only.status_code, unknown.status_code) == (401, 403, 404)
    assert not ImportBatch.objects.exists()
    assert not Indicator.objects.exists()


@pytest.mark.parametrize(
    ("url_name", "body", "field", "message"),
    [
        ("api:metrics", {"name": "Errors", "category": [None, None]}, "category", "Send a string."),
        ("api:metrics", {"name": 42, "category": "Web"}, "name", "Send a string."),
        ("api:indicators", {"value": 1, "decision": "rollout", "minutes": False}, "minutes", "Send a number."),
        ("api:indicators", {"value": "12", "decision": "rollout", "minutes": 1}, "value", "Send a number."),
        (
            "api:indicators_bulk",
            {"indicators": [{"value": 1, "decision": 1, "minutes": 1}]},
            "indicators.0.decision",
            "Send a string.",
        ),
        ("api:metric_verdicts", {"value": 1, "minutes": True}, "minutes", "Send a number."),
    ],
)
def test_a_json_value_of_the_wrong_type_is_refused_not_converted(
    client: Client, metric: Metric, owner: User, url_name: str, body: dict, field: str, message: str
) -> None:
    """A form would read `false` as 0, "12" as 12 and a list as the text "[None, None]"."""
    args = [] if url_name == "api:metrics" else [metric.pk]
    before = (list(Metric.objects.values_list("pk", "name")), Indicator.objects.count())

    response = client.post(reverse(url_name, args=args), body, content_type="application/json", headers=bearer(owner))

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": field, "code": "type", "message": message}]
    assert (list(Metric.objects.values_list("pk", "name")), Indicator.objects.count()) == before


def test_the_same_file_sent_again_while_its_import_waits_is_refused(
    client: Client, metric: Metric, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline that retries an upload after a timeout must not import the file twice."""
    monkeypatch.setattr("metrics.models.job._send", lambda job: None)  # no worker takes it yet

    first = upload(client, metric.pk, GOOD_CSV, bearer(owner))
    retried = upload(client, metric.pk, GOOD_CSV, bearer(owner))

    assert (first.status_code, retried.status_code) == (202, 409)
    assert retried.json()["code"] == "duplicate_file"
    assert retried.json()["detail"].startswith("This file is being imported into “Requests per minute” (owner uploaded")
    assert ".." not in retried.json()["detail"]  # "p.m." then a full stop
    assert ImportBatch.objects.count() == 1


def test_the_jobs_list_reads_no_file_however_many_imports(client: Client, metric: Metric, owner: User) -> None:
    """A job shows its file's name; the file itself (up to the upload limit) is not read."""
    headers = bearer(owner)

    def queries_of_the_list() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("api:jobs"), headers=headers).status_code == 200
        return [query["sql"] for query in captured]

    upload(client, metric.pk, GOOD_CSV, headers)
    one = queries_of_the_list()
    for number in range(4):
        upload(client, metric.pk, GOOD_CSV + f"{number},0,1\n".encode(), headers)
    five = queries_of_the_list()

    assert len(five) == len(one)
    assert not any('"data"' in sql for sql in five)
    assert [job["file"] for job in client.get(reverse("api:jobs"), headers=headers).json()["results"]] == [
        "deploys.csv"
    ] * 5


def test_a_number_too_large_for_a_float_is_refused_not_a_server_error(
    client: Client, metric: Metric, owner: User
) -> None:
    response = client.post(
        reverse("api:indicators", args=[metric.pk]),
        '{"value": 1' + "0" * 400 + ', "decision": "rollout", "minutes": 1}',
        content_type="application/json",
        headers=bearer(owner),
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "value", "code": "type", "message": "This number is too large."}]
    assert not Indicator.objects.exists()


# --- Uploaded files: listed and undone --------------------------------------------------


def test_a_metrics_uploaded_files_are_listed_newest_first_with_their_jobs(
    client: Client, metric: Metric, owner: User, contributor: User
) -> None:
    upload(client, metric.pk, GOOD_CSV, bearer(owner))
    second = upload(client, metric.pk, GOOD_CSV + b"1,1,1\n", bearer(contributor)).json()

    response = client.get(reverse("api:imports", args=[metric.pk]), headers=bearer(owner, TokenScope.READ))

    assert response.status_code == 200
    listed = response.json()["results"]
    assert [(each["file"], each["uploaded_by"], each["rows"], each["undone_at"]) for each in listed] == [
        ("deploys.csv", "contributor", 4, None),
        ("deploys.csv", "owner", 3, None),
    ]
    assert listed[0]["job"] == second["url"]
    assert listed[0]["size"] == len(GOOD_CSV) + 6
    detail = client.get(listed[0]["url"], headers=bearer(owner)).json()
    assert detail == listed[0]


@pytest.mark.parametrize("undoer", ["uploader", "owner"])
def test_undo_deletes_the_rows_of_the_file_only(
    client: Client, metric: Metric, owner: User, contributor: User, undoer: str
) -> None:
    metric.add_indicator(value=1, decision=1, time=20, user=owner)
    upload(client, metric.pk, GOOD_CSV, bearer(contributor))
    batch = ImportBatch.objects.get()

    response = client.post(
        reverse("api:undo_import", args=[batch.pk]), headers=bearer(contributor if undoer == "uploader" else owner)
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["deleted"], body["rows"], body["file"]) == (3, 3, "deploys.csv")
    assert body["undone_at"] is not None
    assert rows_of(metric) == [(1.0, 1, 20.0, owner.pk)]
    metric.refresh_from_db()
    assert metric.indicator_count == 1


@pytest.mark.parametrize("who", ["stranger", "contributor", "read-only token", "anonymous"])
def test_undo_by_anyone_else_is_refused_and_changes_nothing(
    client: Client, metric: Metric, owner: User, contributor: User, stranger: User, who: str
) -> None:
    upload(client, metric.pk, GOOD_CSV, bearer(owner))
    batch = ImportBatch.objects.get()
    before = imports_state()
    headers = {
        "stranger": bearer(stranger),
        "contributor": bearer(contributor),
        "read-only token": bearer(owner, TokenScope.READ),
        "anonymous": {},
    }[who]

    response = client.post(reverse("api:undo_import", args=[batch.pk]), headers=headers)

    assert response.status_code == (401 if who == "anonymous" else 403)
    assert imports_state() == before


def test_an_import_undone_twice_or_that_stored_nothing_is_a_conflict(
    client: Client, metric: Metric, owner: User
) -> None:
    upload(client, metric.pk, GOOD_CSV, bearer(owner))
    upload(client, metric.pk, b"valor,decisao,tempo\n500,2,10\n", bearer(owner))
    imported, refused = ImportBatch.objects.order_by("pk")
    client.post(reverse("api:undo_import", args=[imported.pk]), headers=bearer(owner))
    before = imports_state()

    twice = client.post(reverse("api:undo_import", args=[imported.pk]), headers=bearer(owner))
    nothing = client.post(reverse("api:undo_import", args=[refused.pk]), headers=bearer(owner))

    assert (twice.status_code, twice.json()["code"]) == (409, "already_undone")
    assert twice.json()["detail"] == "The import of “deploys.csv” was already undone."
    assert (nothing.status_code, nothing.json()["code"]) == (409, "nothing_stored")
    assert nothing.json()["detail"] == "The import of “deploys.csv” stored no indicator: there is nothing to undo."
    assert imports_state() == before


def test_an_import_still_waiting_for_a_worker_cannot_be_undone(
    client: Client, metric: Metric, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Undone now, the rows its job is about to store would stay, and could not be undone."""
    monkeypatch.setattr("metrics.models.job._send", lambda job: None)  # no worker takes it yet
    upload(client, metric.pk, GOOD_CSV, bearer(owner))
    batch = ImportBatch.objects.get()
    with changes_nothing(imports_state):
        response = client.post(reverse("api:undo_import", args=[batch.pk]), headers=bearer(owner))

    assert (response.status_code, response.json()["code"]) == (409, "not_finished")
    assert response.json()["detail"] == "The import of “deploys.csv” has not finished yet: undo it once it has."


def test_an_unknown_import_is_a_404(client: Client, owner: User) -> None:
    assert client.get(reverse("api:import", args=[999]), headers=bearer(owner)).status_code == 404
    assert client.post(reverse("api:undo_import", args=[999]), headers=bearer(owner)).status_code == 404
