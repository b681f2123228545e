"""gunicorn's settings beyond the Procfile's command line (gunicorn reads this file from the
working directory on its own).

Workers start warm: the application, and the libraries a verdict needs, are imported once
in the master process, before it forks its workers. Without this, the first verdict or
model card of each worker (after every start, and every recycling by --max-requests)
waited about 1 s, 2 to 5 s under load, for scikit-learn to be imported, and the requests
queued behind it on that worker's connections waited too.

/metrics adds up what every worker measured itself (prometheus_client's multiprocess mode):
each worker writes its figures to files of its own in `PROMETHEUS_MULTIPROC_DIR`. The folder
is set here, before the application (and prometheus_client with it) is imported, and emptied
at each start: figures of an earlier run would be added to this one's. Unset, it is a folder
of this run's own in the temporary directory, removed when gunicorn stops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

preload_app = True


def own_prometheus_folder() -> Path:
    """The folder gunicorn makes for its workers' figures when none is set (its master's pid names it)."""
    return Path(tempfile.gettempdir()) / f"mbreak-prometheus-{os.getpid()}"


def prepare_prometheus_folder() -> Path:
    """`PROMETHEUS_MULTIPROC_DIR` (set to gunicorn's own folder when unset), made and emptied."""
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or own_prometheus_folder())
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


prepare_prometheus_folder()


def on_starting(server: object) -> None:
    from predictor.artifacts import warm_up

    warm_up()


def child_exit(server: object, worker: Any) -> None:
    # A worker's gauges of live processes go with it; its counters and histograms stay counted.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # no hints of its own


def on_exit(server: object) -> None:
    folder = own_prometheus_folder()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == str(folder):
        shutil.rmtree(folder, ignore_errors=True)
