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
import time
from typing import Any

from harness import indicators, parse_sizes, print_table, setup_django, sqlite_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default="400,100000,1000000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)

    with sqlite_database() as url:
        os.environ["DATABASE_URL"] = url
        setup_django(migrate=True)
        # Only importable once Django is set up.
        from django.contrib.auth.models import User
        from django.test.utils import setup_test_environment

        setup_test_environment()  # the test client's host and settings
        user = User.objects.create_user("bench")
        rows = [measure(user, size, args.repeat) for size in args.sizes]
    smallest = rows[0][3]
    columns = [("indicators", ">10"), ("train s", ">8.2f"), ("first s", ">8.3f")]
    print_table(
        [*columns, ("per verdict s", ">14.4f"), ("× smallest", ">10.2f")], [(*row, row[3] / smallest) for row in rows]
    )
    return 0


def measure(user: Any, size: int, repeat: int) -> tuple[int, float, float, float]:
    """A metric of `size` indicators, trained; then `repeat` + 1 verdicts asked through the form and
    their pages: (size, training seconds, the first verdict's seconds, the median of the others)."""
    # Only importable once Django is set up.
    import numpy as np
    from django.test import Client

    from metrics.models import Metric, TrainedModel

    client = Client()
    client.force_login(user)
    rng = np.random.default_rng(size)
    metric = Metric.objects.create(name=f"Requests per minute ({size})", category="Bench", owner=user)
    metric.import_indicators(indicators(size, seed=7), user)
    started = time.perf_counter()
    TrainedModel.objects.train(metric, user)
    train_seconds = time.perf_counter() - started

    timings = []
    for _ in range(repeat + 1):
        value, minute = float(rng.uniform(150, 1200)), float(rng.uniform(1, 120))
        started = time.perf_counter()
        response = client.post("/predict/", {"metric": metric.pk, "value": value, "minutes": minute})
        page = client.get(response["Location"])
        if (response.status_code, page.status_code) != (302, 200):
            raise SystemExit(f"the verdict failed: {response.status_code}, {page.status_code}")
        timings.append(time.perf_counter() - started)
    return size, train_seconds, timings[0], statistics.median(timings[1:])


if __name__ == "__main__":
    raise SystemExit(main())
