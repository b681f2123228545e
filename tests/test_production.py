"""Production settings: what `check --deploy` says, what boots, what /healthz answers, what is logged."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.test import Client

from mbreak.logs import JsonFormatter

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-like-key-" + "k" * 50,
    "DATABASE_URL": "sqlite:////tmp/mbreak-production-check.sqlite3",
    "ALLOWED_HOSTS": "mbreak.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "DJANGO_SETTINGS_MODULE": "mbreak.settings",
}


def run(code: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "DEBUG"}}
    return subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, *code],
        cwd=ROOT,
        env={**environment, **PRODUCTION, **extra},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_documented_production_settings_pass_check_deploy_without_a_warning() -> None:
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_production_start_up_without_collectstatic_fails_at_boot_saying_what_to_run(tmp_path: Path) -> None:
    # STATIC_ROOT is the project's staticfiles/; point the check at an empty one.
    code = (
        "import django.conf, pathlib; import mbreak.settings as s; s.STATIC_ROOT = pathlib.Path(%r); import mbreak.wsgi"
    )
    result = run(["-c", code % str(tmp_path)])
    assert result.returncode != 0
    assert "staticfiles.json is missing: run `python manage.py collectstatic --noinput`" in result.stderr


def test_healthz_answers_without_login_and_for_any_host(client: Client, db: None) -> None:
    response = client.get("/healthz", HTTP_HOST="10.0.3.4")
    assert response.status_code == 200
    assert response.json() == {"database": True, "cache": True, "broker": True}
    assert response["Cache-Control"] == "no-store"


def test_healthz_answers_503_when_the_database_fails(client: Client, db: None) -> None:
    with mock.patch("mbreak.health.check_database", return_value=False):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] is False


def test_healthz_names_a_failing_cache_but_keeps_the_instance_in_service(client: Client, db: None) -> None:
    """Redis is shared: replacing instances would not bring it back, and pages go on without it."""
    with mock.patch("mbreak.health.check_cache", return_value=False):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["cache"] is False


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS must be set when DEBUG is off"),
        ("REDIS_URL", "REDIS_URL must be set when DEBUG is off"),
        ("SECRET_KEY", "SECRET_KEY must be set when DEBUG is off"),
    ],
)
def test_production_settings_refuse_to_start_without_what_they_need(missing: str, message: str) -> None:
    result = run(["-c", "import django; django.setup()"], **{missing: ""})
    assert result.returncode != 0
    assert message in result.stderr


def test_the_cache_check_fails_when_the_cache_raises(db: None) -> None:
    from mbreak import health

    with mock.patch("mbreak.health.cache.set", side_effect=ConnectionError("redis down")):
        assert health.check_cache() is False


def only_record(
    client: Client, caplog: pytest.LogCaptureFixture, logger: str, level: int, path: str
) -> logging.LogRecord:
    """The one record `logger` writes, at `level` or above, while `path` is fetched."""
    with caplog.at_level(level, logger=logger):
        client.get(path)
    (record,) = [record for record in caplog.records if record.name == logger]
    return record


def test_each_request_is_logged_once_as_json_with_its_duration(
    client: Client, owner, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(owner)
    record = only_record(client, caplog, "mbreak.requests", logging.INFO, "/")
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "GET / 200"
    assert (entry["method"], entry["path"], entry["status"], entry["user_id"]) == ("GET", "/", 200, owner.pk)
    assert entry["duration_ms"] >= 0
    assert entry["pid"] == os.getpid()  # which server process answered
    assert entry["level"] == "INFO"


def test_an_error_log_names_the_request_without_its_query_string(
    client: Client, owner, caplog: pytest.LogCaptureFixture
) -> None:
    """A client may put a token in a URL; the log keeps the method and path only."""
    client.force_login(owner)
    record = only_record(client, caplog, "django.request", logging.WARNING, "/metrics/999999/?token=mb_secret-in-a-url")

    line = JsonFormatter().format(record)

    assert json.loads(line)["request"] == "GET /metrics/999999/"
    assert "mb_secret" not in line


def test_the_embedded_database_keeps_a_write_ahead_log_synced_at_checkpoints(tmp_path: Path) -> None:
    """`make run`'s SQLite: readers go on while a worker writes; a commit waits for no disk sync."""
    code = (
        "import django; django.setup(); from django.db import connection; c = connection.cursor();"
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA synchronous').fetchone()[0])"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mbreak.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        },
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.split() == ["wal", "1"]  # 1: NORMAL


SERVE_STATIC = """
import json, re, django
django.setup()
from django.templatetags.static import static
from django.test import Client
client = Client(HTTP_HOST="mbreak.example.com", HTTP_X_FORWARDED_PROTO="https")
page = client.get("/accounts/login/").content.decode()
url = static("css/app.css")
answers = {"linked": url in page, "url": url}
for encoding in ("gzip, deflate, br", ""):
    response = client.get(url, HTTP_ACCEPT_ENCODING=encoding)
    body = b"".join(response.streaming_content)
    answers["compressed" if encoding else "identity"] = {
        "status": response.status_code,
        "encoding": response.headers.get("Content-Encoding", ""),
        "cache": response.headers.get("Cache-Control", ""),
        "vary": response.headers.get("Vary", ""),
        "bytes": len(body),
    }
print(json.dumps(answers))
"""


def test_production_serves_static_files_by_hashed_name_compressed_and_cached_for_a_year(tmp_path: Path) -> None:
    collected = run(["manage.py", "collectstatic", "--noinput", "-v0"], STATIC_ROOT=str(tmp_path))
    assert collected.returncode == 0, collected.stderr

    result = run(["-c", SERVE_STATIC], STATIC_ROOT=str(tmp_path))
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.splitlines()[-1])

    # The pages link the file by a name that changes with its content: safe to keep for ever.
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", answers["url"])
    assert answers["linked"]
    plain, compressed = answers["identity"], answers["compressed"]
    assert (plain["status"], plain["encoding"]) == (200, "")
    # gzip, which collectstatic wrote beside each file (Brotli too, were the brotli package installed).
    assert (compressed["status"], compressed["encoding"]) == (200, "gzip")
    assert compressed["bytes"] < plain["bytes"] / 2
    for answer in (plain, compressed):
        assert "immutable" in answer["cache"]
        max_age = re.search(r"max-age=(\d+)", answer["cache"])
        assert max_age is not None
        assert int(max_age[1]) >= 365 * 24 * 3600
        assert "Accept-Encoding" in answer["vary"]
