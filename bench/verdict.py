"""How long does a verdict take on the server, as a metric grows? Seconds per verdict.

    .venv/bin/python bench/verdict.py                      # 400, 100k and 1M indicators, SQLite
    .venv/bin/python bench/verdict.py --sizes 400,100000 --repeat 50

Runs in a throw-away SQLite database. For each size it creates a metric with that many
indicators (the same rule as the demo, with noise), trains it (above 50,000 indicators
on a sample, as the app does), then times POST /predict/ followed by GET of the verdict
page through Django's test client: the form, `metric.predict` (model, leaf, reasons,
nearest cases, logging) and the page with its chart. The first verdict of a process reads,
verifies and compiles the model and its sample; it is shown apart ("first"), and the
median of the following ones ("per verdict") is compared with the smallest metric's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="400,100000,1000000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    database = Path(tempfile.mkdtemp()) / "bench.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "mbreak.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    # Only importable once Django is set up.
    import numpy as np
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from metrics.models import Metric, TrainedModel
    from predictor.columns import IndicatorColumns

    setup_test_environment()  # the test client's host and settings
    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", password="bench-password-not-secret")  # noqa: S106
    client = Client()
    client.force_login(user)
    rng = np.random.default_rng(7)

    print(f"{'indicators':>10} {'train s':>8} {'first s':>8} {'per verdict s':>14} {'× smallest':>10}")
    smallest: float | None = None
    for size in (int(each) for each in args.sizes.split(",")):
        metric = Metric.objects.create(name=f"Requests per minute ({size})", category="Bench", owner=user)
        values = np.round(rng.uniform(150, 1200, size), 2)
        minutes = np.round(rng.uniform(1, 120, size))
        decisions = ((values < 450) & (minutes >= 10)).astype(int)
        flip = rng.random(size) < 0.08
        decisions[flip] = 1 - decisions[flip]
        metric.import_indicators(
            IndicatorColumns(values=values.tolist(), times=minutes.tolist(), decisions=decisions.tolist()), user
        )
        started = time.perf_counter()
        TrainedModel.objects.train(metric, user)
        train_seconds = time.perf_counter() - started

        timings = []
        for _ in range(args.repeat + 1):
            value, minute = float(rng.uniform(150, 1200)), float(rng.uniform(1, 120))
            started = time.perf_counter()
            response = client.post("/predict/", {"metric": metric.pk, "value": value, "time": minute})
            page = client.get(response["Location"])
            if (response.status_code, page.status_code) != (302, 200):
                raise SystemExit(f"the verdict failed: {response.status_code}, {page.status_code}")
            timings.append(time.perf_counter() - started)
        first, per_verdict = timings[0], statistics.median(timings[1:])
        smallest = smallest or per_verdict
        print(f"{size:>10} {train_seconds:>8.2f} {first:>8.3f} {per_verdict:>14.4f} {per_verdict / smallest:>10.2f}")


if __name__ == "__main__":
    main()
