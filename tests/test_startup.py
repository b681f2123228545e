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


def test_the_urlconf_wsgi_app_and_system_checks_load_no_heavy_library() -> None:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "mbreak.settings"}
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", BOOT.format(heavy=HEAVY)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == []
