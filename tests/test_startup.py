"""A web process starts without the heavy libraries: they load when a page needs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ["sklearn", "scipy", "matplotlib", "seaborn", "pandas", "plotly", "joblib"]
ROOT = Path(__file__).resolve().parent.parent

BOOT = """
import json, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # what the first request does
import mbreak.wsgi  # what gunicorn imports
from django.core.management import call_command
call_command("check")
print(json.dumps(sorted(name for name in {heavy} if name in sys.modules)))
"""


def run_python(code: str, folder: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter, like this one, from `folder`; fail the test if it fails."""
    return subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def test_the_urlconf_wsgi_app_and_system_checks_load_no_heavy_library() -> None:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "mbreak.settings"}
    result = run_python(BOOT.format(heavy=HEAVY), ROOT, environment)
    assert json.loads(result.stdout.splitlines()[-1]) == []


SEND_WITH_THE_FILESYSTEM_BROKER = """
import django
django.setup()
from mbreak.celery import app
app.control.broadcast("ping", reply=False)
app.send_task("metrics.tasks.does_not_matter")
"""


def test_the_filesystem_broker_writes_nothing_into_the_folder_it_is_started_from(tmp_path: Path) -> None:
    # kombu keeps its exchange tables in ./control by default: `make run` left them in the
    # project's tree, where they were committed by mistake.
    environment = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    environment |= {"DJANGO_SETTINGS_MODULE": "mbreak.settings", "PYTHONPATH": str(ROOT)}
    run_python(SEND_WITH_THE_FILESYSTEM_BROKER, tmp_path, environment)
    assert list(tmp_path.iterdir()) == []
