"""Does replaying a gate cost little more than the trainings and predictions it needs? Seconds, and their ratio.

    .venv/bin/python bench/replay.py                      # 100 releases x 60 minutes x 5 metrics, SQLite
    .venv/bin/python bench/replay.py --database-url postgres://postgres@127.0.0.1:5432/postgres

Runs in a throw-away database: SQLite in a temporary folder, or a fresh PostgreSQL database
(`mbreak_replay_bench_<pid>`) on the server `--database-url` names, dropped at the end. DEBUG is
turned off once Django is set up, as in production (no query log).

The history, drawn with a fixed seed: a gate of `--metrics` (5) metrics, each with `--history`
(200) indicators registered a month before the first release (both decisions); then `--releases`
(100) releases 6 hours apart, about 1 in 4 of them bad (a bad release worsens most of its metrics,
each from a minute in the first quarter of its window on; the others look like a good release's:
all of them are labelled rollback, as an outcome labels them), each observed every minute for
`--minutes` (60) on every metric, its outcome recorded at its last minute. The outcome labels
every observation of the release, as `Release.record_outcome` does: an import batch of
indicators registered at the outcome's time, each linked to its observation. So release k's
models are trained on the first history and the labels of the k - 1 releases before it: every
release brings new data, and each metric's model is trained anew for each release (500
trainings, none reused). The rows are inserted in bulk (releases, verdicts, observations,
batches, indicators), as the app would have stored them; that is not timed.

Measured in the same run:
- raw: the same trainings and predictions directly with scikit-learn and numpy. For each release
  and metric, the same training set (the same rows in the same order, from the data in memory)
  fitted by the procedure of `predictor.training.fit_decision_tree`: nested cross-validation (a
  `GridSearchCV` over the same depths, fitted in each outer fold, which it predicts), then the
  final `GridSearchCV` fit; then the release's observations put through the tree (`apply`) and
  their leaves' counts read.
- ours: the replay as a user's runs: `Replay.objects.start(gate, owner)`, its job queued but not
  sent to a worker, then the job run in this process (`Job.objects.run_here`, as a worker runs
  it): the history read, every model trained, every observation and every minute of every
  release judged, the replayed releases and the report stored. Target: ours ÷ raw ≤ 1.5.
- a what-if of that replay (pass score 70) through its job: the same releases and training data,
  so every model is reused. Shown, not judged.

Exit status 1 when the replay's job failed, when it did not judge every release, when its models
were not trained on the raw ones' rows (per release and metric: the count of indicators, and
the nested cross-validation's accuracy, which is the same only for the same rows in the same
order), when it trained or reused other than expected, or when ours ÷ raw is above 1.5 (but for
the target, not with --figures-only).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
from harness import (
    add_database_url_option,
    add_figures_only_option,
    log,
    postgres_database,
    print_table,
    ratio_verdict,
    setup_django,
    sqlite_database,
)

RATIO_TARGET = 1.5
HOURS_BETWEEN_RELEASES = 6
BAD_SHARE = 0.25  # of the releases, rolled back
AFFECTED_SHARE = 0.8  # of a bad release's metrics, those it worsens (one at least)
LATEST_ONSET = 0.25  # a bad release worsens its metrics from a minute in the first quarter of its window
WHAT_IF = {"pass_score": 70.0}
# (name, usual value, spread, how much a bad release moves it): a bad release moves some of them.
METRICS = (
    ("Error rate (%)", 0.5, 0.2, 2.0),
    ("p99 latency (ms)", 250.0, 40.0, 180.0),
    ("CPU (%)", 45.0, 8.0, 40.0),
    ("Requests per minute", 1000.0, 120.0, -600.0),
    ("Memory (MiB)", 600.0, 50.0, 250.0),
)
COLUMNS = [
    ("", "<8"),
    ("seconds", ">8.1f"),
    ("CPU s", ">8.1f"),
    ("models trained", ">14"),
    ("reused", ">6"),
    ("observations judged", ">19"),
]


# --- the history ------------------------------------------------------------------------------------


@dataclass
class History:
    """What the bench stores and raw reads: per metric, its indicators in the order they were
    registered (the first history, then each release's labels, a release after the other), and
    per release and metric the values it was observed with, minute by minute."""

    minutes: int
    history: int
    bad: list[bool]
    values: list[np.ndarray]  # per metric: the first history's values, then each release's labels
    times: list[np.ndarray]
    decisions: list[np.ndarray]
    observed: np.ndarray  # [release, metric, minute - 1]

    @property
    def releases(self) -> int:
        return len(self.bad)

    @property
    def metrics(self) -> int:
        return len(self.values)

    def known_before(self, release: int) -> int:
        """How many indicators of each metric were registered before `release` started."""
        return self.history + release * self.minutes


def draw_history(releases: int, metrics: int, minutes: int, history: int, seed: int) -> History:
    rng = np.random.default_rng(seed)
    bad = [bool(draw) for draw in rng.random(releases) < BAD_SHARE]
    observed = np.empty((releases, metrics, minutes))
    minute = np.arange(1, minutes + 1, dtype=float)
    for release in range(releases):
        hit = rng.random(metrics) < AFFECTED_SHARE
        hit[rng.integers(metrics)] = True  # a bad release shows on one metric at least
        for metric in range(metrics):
            usual, spread, shift = metric_rule(metric)
            drawn = usual + spread * rng.standard_normal(minutes)
            if bad[release] and hit[metric]:
                drawn += shift * ramp(minute, float(rng.integers(1, onset_bound(minutes))))
            observed[release, metric] = drawn
    observed = np.maximum(observed, 0).round(3)
    values: list[np.ndarray] = []
    times: list[np.ndarray] = []
    decisions: list[np.ndarray] = []
    for metric in range(metrics):
        first_times = rng.integers(1, minutes + 1, history).astype(float)
        first_decisions = (rng.random(history) < BAD_SHARE).astype(int)
        first_decisions[:2], first_decisions[2:4] = 1, 0  # both decisions, whatever the draw
        usual, spread, shift = metric_rule(metric)
        onsets = rng.integers(1, onset_bound(minutes), history).astype(float)
        first_values = (
            usual + spread * rng.standard_normal(history) + first_decisions * shift * ramp(first_times, onsets)
        )
        labels = np.repeat(np.array(bad, dtype=int), minutes)
        values.append(np.concatenate([np.maximum(first_values, 0).round(3), observed[:, metric].ravel()]))
        times.append(np.concatenate([first_times, np.tile(minute, releases)]))
        decisions.append(np.concatenate([first_decisions, labels]))
    return History(minutes, history, bad, values, times, decisions, observed)


def onset_bound(minutes: int) -> int:
    """One past the latest minute a bad release starts to show."""
    return max(1, math.ceil(minutes * LATEST_ONSET)) + 1


def metric_rule(metric: int) -> tuple[float, float, float]:
    _name, usual, spread, shift = METRICS[metric % len(METRICS)]
    return usual, spread, shift


def metric_name(metric: int) -> str:
    name = METRICS[metric % len(METRICS)][0]
    return name if metric < len(METRICS) else f"{name} {metric // len(METRICS) + 1}"


def ramp(minute: np.ndarray, onset: float | np.ndarray) -> np.ndarray:
    """0 before the onset, growing to 1 over the 3 minutes from it."""
    return np.clip((minute - onset + 1) / 3, 0, 1)


def store_gate(past: History, first_start: datetime) -> tuple[Any, Any, list[Any]]:
    """The owner, the gate and its metrics, with their history registered a month before the first release."""
    from django.contrib.auth.models import User

    from metrics.models import Gate, GateMetric, Indicator, Metric

    owner = User.objects.create_user("replay-bench")
    metrics = [
        Metric.objects.create(name=metric_name(index), category="Bench", owner=owner) for index in range(past.metrics)
    ]
    gate = Gate.objects.create(name="Checkout", owner=owner)
    GateMetric.objects.bulk_create(GateMetric(gate=gate, metric=metric, failure_limit=2) for metric in metrics)
    Indicator.objects.bulk_create(
        Indicator(
            metric=metric,
            value=float(past.values[index][row]),
            time=float(past.times[index][row]),
            decision=int(past.decisions[index][row]),
            created_by=owner,
            created_at=first_start - timedelta(days=30),
        )
        for index, metric in enumerate(metrics)
        for row in range(past.history)
    )
    return owner, gate, metrics


def store(past: History, now: datetime) -> tuple[Any, Any, list[Any]]:
    """The owner, the gate and its releases (oldest first), stored in bulk as the app would have."""
    from django.db import transaction

    from metrics.models import (
        ImportBatch,
        Indicator,
        Observation,
        Outcome,
        OutcomeVia,
        Release,
        Verdict,
        VerdictState,
    )
    from metrics.models.verdict import Source

    first_start = now - timedelta(hours=HOURS_BETWEEN_RELEASES * (past.releases + 1))
    starts = [first_start + timedelta(hours=HOURS_BETWEEN_RELEASES * number) for number in range(past.releases)]
    # Each outcome is recorded at the release's last minute, with its last observations.
    decided_at = [start + timedelta(minutes=past.minutes) for start in starts]
    with transaction.atomic():
        owner, gate, metrics = store_gate(past, first_start)
        releases = Release.objects.bulk_create(
            Release(
                gate=gate,
                name=f"v1.{number}",
                started_at=starts[number],
                created_by=owner,
                outcome=Outcome.ROLLBACK if is_bad else Outcome.ROLLOUT,
                outcome_at=decided_at[number],
                outcome_by=owner,
                outcome_via=OutcomeVia.API,
            )
            for number, is_bad in enumerate(past.bad)
        )
        # Observed minute by minute, every metric each minute (`observed_at` order, as `_label` reads them).
        seen = [
            (release, metric_index, minute)
            for release in range(past.releases)
            for minute in range(1, past.minutes + 1)
            for metric_index in range(past.metrics)
        ]
        verdicts = Verdict.objects.bulk_create(
            Verdict(
                metric=metrics[metric_index],
                model_version=1,
                model_accuracy=0.9,
                value=float(past.observed[release, metric_index, minute - 1]),
                minutes=float(minute),
                state=VerdictState.ROLLOUT,
                leaning=VerdictState.ROLLOUT,
                leaf_rollbacks=0,
                leaf_rollouts=10,
                asked_by=owner,
                asked_at=starts[release] + timedelta(minutes=minute),
                source=Source.API,
            )
            for release, metric_index, minute in seen
        )
        observations = Observation.objects.bulk_create(
            Observation(
                release=releases[release],
                metric=metrics[metric_index],
                verdict=verdict,
                observed_at=starts[release] + timedelta(minutes=minute),
            )
            for (release, metric_index, minute), verdict in zip(seen, verdicts, strict=True)
        )
        batches = ImportBatch.objects.bulk_create(
            ImportBatch(
                release=release,
                uploaded_by=owner,
                file_name=f"Outcome of release {release.name}: {Outcome(release.outcome).label.lower()}",
                sha256="",
                size=0,
                delimiter="",
                rows=past.minutes * past.metrics,
                created_at=decided_at[number],
            )
            for number, release in enumerate(releases)
        )
        Indicator.objects.bulk_create(
            Indicator(
                metric=observation.metric,
                value=verdict.value,
                time=verdict.minutes,
                decision=Outcome(releases[release].outcome).decision,
                created_by=owner,
                created_at=decided_at[release],
                batch=batches[release],
                observation=observation,
            )
            for (release, _metric, _minute), verdict, observation in zip(seen, verdicts, observations, strict=True)
        )
    return owner, gate, releases


# --- raw -----------------------------------------------------------------------------------------------


@dataclass
class Timed:
    seconds: float = math.nan
    cpu_seconds: float = math.nan
    trained: int = 0
    reused: int = 0
    judged: int = 0
    # Per (release, metric): (indicators trained on, nested cross-validation accuracy).
    models: dict[tuple[int, int], tuple[int, float]] = field(default_factory=dict)


def raw(past: History) -> Timed:
    """The same trainings and predictions, directly with scikit-learn and numpy."""
    result = Timed()
    wall, cpu = time.perf_counter(), time.process_time()
    for release in range(past.releases):
        for metric in range(past.metrics):
            known = past.known_before(release)
            features = np.column_stack([past.values[metric][:known], past.times[metric][:known]])
            labels = np.asarray(past.decisions[metric][:known], dtype=int)
            model, accuracy = fit_like_the_app(features, labels)
            observed = np.column_stack(
                [past.observed[release, metric], np.arange(1, past.minutes + 1, dtype=float)]
            ).astype(np.float32)
            counts = model.tree_.value[model.apply(observed)]
            result.judged += len(counts)
            result.trained += 1
            result.models[release, metric] = (known, accuracy)
    result.seconds, result.cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return result


def fit_like_the_app(features: np.ndarray, labels: np.ndarray) -> tuple[Any, float]:
    """`fit_decision_tree`'s procedure, without its figures: the accuracy of nested
    cross-validation (a depth search fitted in each outer fold), then the depth search fitted on
    all the rows (on the same sample as the app's above `MBREAK_MAX_TRAINING_ROWS`)."""
    from django.conf import settings
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from predictor.training import MAX_OUTER_FOLDS, RANDOM_STATE
    from predictor.training import build_estimator as depth_search  # the same scikit-learn search, not rewritten

    if len(labels) > settings.MBREAK_MAX_TRAINING_ROWS:
        features, _, labels, _ = train_test_split(
            features, labels, train_size=settings.MBREAK_MAX_TRAINING_ROWS, stratify=labels, random_state=RANDOM_STATE
        )
    rarer = int(np.bincount(labels, minlength=2).min())
    outer = StratifiedKFold(n_splits=max(2, min(MAX_OUTER_FOLDS, rarer)), shuffle=True, random_state=RANDOM_STATE)
    accuracies = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for train, test in outer.split(features, labels):
            predicted = depth_search().fit(features[train], labels[train]).predict(features[test])
            accuracies.append(float(np.mean(predicted == labels[test])))
        model = depth_search().fit(features, labels).best_estimator_
    return model, float(np.mean(accuracies))


# --- ours ----------------------------------------------------------------------------------------------


def through_the_job(start: Any, releases: list[Any], problems: list[str], what: str) -> tuple[Timed, Any]:
    """`start()` (which queues a replay's job, not sent to a worker) and its job run in this process, timed."""
    from metrics.models import Job, JobStatus, ReplayedRelease

    result = Timed()
    wall, cpu = time.perf_counter(), time.process_time()
    replay = start()
    ended = Job.objects.run_here(replay.job)
    result.seconds, result.cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    if ended is None or ended.status != JobStatus.DONE:
        problems.append(f"the {what}'s job did not end done: {ended.outcome() if ended else 'deleted'}")
        return result, replay
    replay.refresh_from_db()
    figures = replay.figures
    if (figures.releases, figures.judged) != (len(releases), len(releases)):
        problems.append(f"the {what} judged {figures.judged} of {figures.releases} releases, not {len(releases)}")
    number = {release.pk: index for index, release in enumerate(releases)}
    metric_index = {item.metric_id: index for index, item in enumerate(releases[0].gate.gate_metrics.order_by("pk"))}
    result.judged = figures.stored.get("judged_observations", 0)
    for release_id, trained in ReplayedRelease.objects.filter(replay=replay).values_list("release_id", "trained"):
        for model in trained:
            result.reused += bool(model["reused"])
            result.trained += not model["reused"]
            result.models[number[release_id], metric_index[model["metric"]]] = (model["indicators"], model["accuracy"])
    return result, replay


def compared(ours: Timed, floor: Timed, what: str, *, trained: int, reused: int) -> list[str]:
    """Where ours did not train on the rows raw did (counts, or accuracy: the same rows in the same
    order), or did not train and reuse as many models as expected."""
    problems = []
    if (ours.trained, ours.reused) != (trained, reused):
        problems.append(
            f"the {what} trained {ours.trained} models and reused {ours.reused}, not {trained} and {reused}"
        )
    if set(ours.models) != set(floor.models):
        problems.append(
            f"the {what} has models for {len(ours.models)} (release, metric) pairs, raw {len(floor.models)}"
        )
    for key in sorted(set(ours.models) & set(floor.models)):
        (rows, accuracy), (raw_rows, raw_accuracy) = ours.models[key], floor.models[key]
        if rows != raw_rows or not math.isclose(accuracy, raw_accuracy, abs_tol=1e-12):
            problems.append(
                f"the {what}'s model of release {key[0] + 1}, metric {key[1] + 1}: {rows} indicators and accuracy "
                f"{accuracy:.6f}, raw's {raw_rows} and {raw_accuracy:.6f}"
            )
            break
    if ours.judged != floor.judged:
        problems.append(f"the {what} judged {ours.judged} observations, raw {floor.judged}")
    return problems


# --- the run -------------------------------------------------------------------------------------------


def warm_up() -> None:
    """sklearn imported and a tree fitted once, before either side is timed."""
    rng = np.random.default_rng(0)
    features = rng.random((40, 2))
    fit_like_the_app(features, (features[:, 0] > 0.5).astype(int))


@dataclass
class Measured:
    raw: Timed
    ours: Timed
    what_if: Timed | None
    problems: list[str]  # what went wrong: the exit status is 1 whatever the figures
    report: str  # the replay's report, in a line
    database: str


def run(past: History) -> Measured:
    """The history stored, then raw, the replay and a what-if of it, each timed and checked."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from metrics.models import Replay

    settings.DEBUG = False  # as in production: no query log
    log(f"storing {past.releases} releases x {past.minutes} minutes x {past.metrics} metrics…")
    started = time.perf_counter()
    owner, gate, releases = store(past, timezone.now().replace(second=0, microsecond=0))
    log(f"stored in {time.perf_counter() - started:.1f} s; raw trainings and predictions…")
    warm_up()
    floor = raw(past)
    log(f"raw: {floor.seconds:.1f} s; the replay through its job…")
    problems: list[str] = []
    ours, replay = through_the_job(
        partial(Replay.objects.start, gate, owner, send_to_worker=False), releases, problems, "replay"
    )
    measured = Measured(floor, ours, None, problems, "", database_name(connection))
    if problems:
        return measured
    problems += compared(ours, floor, "replay", trained=floor.trained, reused=0)
    measured.report = report_line(replay)
    log(f"ours: {ours.seconds:.1f} s; a what-if of it…")
    measured.what_if, _ = through_the_job(
        partial(replay.what_if, owner, WHAT_IF, send_to_worker=False), releases, problems, "what-if"
    )
    if not problems:
        problems += compared(measured.what_if, floor, "what-if", trained=0, reused=floor.trained)
    return measured


def database_name(connection: Any) -> str:
    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def report_line(replay: Any) -> str:
    figures = replay.figures
    median = figures.median_catch_minute
    return (
        f"The replay's report: caught {figures.caught} of {figures.bad} releases rolled back"
        f"{f' (median minute {median:g})' if median is not None else ''}, stopped {figures.false_rollbacks} of "
        f"{figures.good} rolled out, {figures.inconclusive} left to a person."
    )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=100, help="past releases with an outcome (default 100)")
    parser.add_argument("--metrics", type=int, default=5, help="metrics of the gate (default 5)")
    parser.add_argument("--minutes", type=int, default=60, help="minutes each release is observed (default 60)")
    parser.add_argument(
        "--history", type=int, default=200, help="indicators of each metric before the first release (default 200)"
    )
    parser.add_argument("--seed", type=int, default=2024)
    add_database_url_option(parser, None, "a PostgreSQL server to make a throw-away database on (default: SQLite)")
    add_figures_only_option(parser, "the replay went through and trained on raw's rows")
    arguments = parser.parse_args(argv)
    if min(arguments.releases, arguments.metrics, arguments.minutes) < 1 or arguments.history < 10:
        parser.error("--releases, --metrics and --minutes must be at least 1, --history at least 10")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    past = draw_history(arguments.releases, arguments.metrics, arguments.minutes, arguments.history, arguments.seed)
    database: AbstractContextManager[str] = (
        sqlite_database()
        if arguments.database_url is None
        else postgres_database(arguments.database_url, "mbreak_replay_bench")
    )
    with database as url:
        os.environ["DATABASE_URL"] = url
        setup_django(migrate=True)
        measured = run(past)
    missed = print_figures(past, measured)
    for problem in measured.problems:
        print(f"FAILED: {problem}")
    return 1 if measured.problems or (missed and not arguments.figures_only) else 0


def print_figures(past: History, measured: Measured) -> bool:
    """The table and the ratio; whether the target was missed."""
    print(f"Python {sys.version.split()[0]}; {os.cpu_count()} cores; {measured.database}")
    print(
        f"{past.releases} releases ({sum(past.bad)} rolled back) × {past.minutes} minutes × {past.metrics} metrics: "
        f"{past.releases * past.minutes * past.metrics:,} observations; each metric's model trained on "
        f"{past.known_before(0):,} indicators for the first release, {past.known_before(past.releases - 1):,} for "
        "the last"
    )
    timed = [("raw", measured.raw), ("ours", measured.ours)]
    if measured.what_if is not None:
        timed.append(("what-if", measured.what_if))
    print_table(
        COLUMNS,
        [
            (
                name,
                each.seconds,
                each.cpu_seconds,
                each.trained,
                "—" if each is measured.raw else each.reused,
                each.judged,
            )
            for name, each in timed
        ],
    )
    ratio = measured.ours.seconds / measured.raw.seconds
    cpu_ratio = measured.ours.cpu_seconds / measured.raw.cpu_seconds
    print(
        f"ours ÷ raw (≤ {RATIO_TARGET}): {ratio_verdict(ratio, RATIO_TARGET)}; "
        f"in this process's CPU seconds (the database server's not counted): {cpu_ratio:.2f}"
    )
    if measured.report:
        print(measured.report)
    # NaN (a side that did not run) misses too.
    missed = not ratio <= RATIO_TARGET
    if missed:
        print(f"MISSED: ours ÷ raw {ratio:.2f}, above {RATIO_TARGET}")
    return missed


if __name__ == "__main__":
    sys.exit(main())
