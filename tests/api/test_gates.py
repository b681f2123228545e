"""Gates and releases: the release-level verdict over several metrics, as a pipeline asks it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, TokenScope
from metrics.models import Gate, Metric, Observation, Release, Verdict
from tests.data import rule_data
from tests.factories import MetricFactory, TrainedModelFactory
from tests.refusals import changes_nothing

ROLLBACK = {"value": 250, "minutes": 30}  # rule_data's rule: low value for long -> rollback
ROLLOUT = {"value": 900, "minutes": 30}
INCONCLUSIVE = {"value": 50_000, "minutes": 30}  # outside what the models have seen


def bearer(user: User, scope: str = TokenScope.WRITE) -> dict[str, str]:
    _token, secret = ApiToken.objects.issue(user, f"token {ApiToken.objects.count()}", scope)
    return {"Authorization": f"Bearer {secret}"}


def trained(owner: User, name: str) -> Metric:
    metric = MetricFactory.create(owner=owner, name=name)
    metric.import_indicators(rule_data(200), owner)
    TrainedModelFactory.create(metric=metric, trained_by=owner)
    return metric


@pytest.fixture
def checkout(owner: User) -> dict[str, Metric]:
    return {name: trained(owner, name) for name in ("error rate", "p95 latency", "cpu")}


def make_gate(client: Client, headers: dict, metrics: dict[str, Metric], **options) -> dict:
    body = {
        "name": "Checkout",
        "pass_score": 80,
        "marginal_score": 50,
        "metrics": [
            {"metric": metrics["error rate"].pk, "weight": 2, "critical": True},
            {"metric": metrics["p95 latency"].pk, "weight": 1},
            {"metric": metrics["cpu"].pk, "weight": 1, "observe_only": True},
        ],
        **options,
    }
    response = client.post(reverse("api:gates"), body, content_type="application/json", headers=headers)
    assert response.status_code == 201, response.json()
    return response.json()


def start_release(client: Client, headers: dict, gate: dict, **fields) -> dict:
    url = reverse("api:gate_releases", args=[gate["id"]])
    body = {"name": "checkout-web", "version": "v42", **fields}
    response = client.post(url, body, content_type="application/json", headers=headers)
    assert response.status_code == 201, response.json()
    return response.json()


def observe(client: Client, headers: dict, release: dict, metric: Metric, observation: dict):
    url = reverse("api:release_observations", args=[release["id"]])
    return client.post(url, {"metric": metric.pk, **observation}, content_type="application/json", headers=headers)


class Argo:
    """What Argo Rollouts' web metric provider does with the JSON it gets back."""

    def __init__(self, client: Client, headers: dict) -> None:
        self.client, self.headers = client, headers

    def measure(self, release: dict) -> str:
        response = self.client.get(release["verdict_url"], headers=self.headers)
        if response.status_code >= 300:  # Argo: an error, which aborts the rollout after its limit
            return "error"
        result = response.json()
        if result["verdict"] == "rollout":  # successCondition: result.verdict == 'rollout'
            return "successful"
        if result["verdict"] == "rollback":  # failureCondition: result.verdict == 'rollback'
            return "failed"
        return "inconclusive"  # neither: the rollout pauses for a person


def test_a_gate_is_made_with_its_metrics_weights_and_flags(client: Client, owner: User, checkout) -> None:
    gate = make_gate(client, bearer(owner), checkout)

    stored = Gate.objects.get()
    assert (stored.owner, stored.pass_score, stored.marginal_score) == (owner, 80, 50)
    assert [(m["metric_name"], m["weight"], m["critical"], m["observe_only"]) for m in gate["metrics"]] == [
        ("error rate", 2.0, True, False),
        ("p95 latency", 1.0, False, False),
        ("cpu", 1.0, False, True),
    ]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"marginal_score": 90}, "marginal_score"),
        ({"metrics": []}, "metrics"),
        ({"pass_score": 120}, "pass_score"),
        ({"pass_score": "90"}, "pass_score"),  # a string, not a number
        ({"metrics": [{"metric": 1, "critical": "yes"}]}, "metrics.0.critical"),
        ({"name": "\u200b\ufeff"}, "name"),  # nothing visible
        ({"metrics": "cpu"}, "metrics"),  # not a list: an error of the whole field
        ({"metrics": [1]}, "metrics.0"),  # not an object: an error of the whole item
    ],
)
def test_a_bad_gate_is_refused_and_nothing_stored(client: Client, owner: User, checkout, options, field) -> None:
    body = {"name": "Checkout", "pass_score": 80, "marginal_score": 50}
    body["metrics"] = [{"metric": checkout["cpu"].pk}]
    body.update(options)

    response = client.post(reverse("api:gates"), body, content_type="application/json", headers=bearer(owner))

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not Gate.objects.exists()


def test_argo_rolls_out_rolls_back_or_pauses_as_the_release_verdict_says(
    client: Client, owner: User, contributor: User, checkout
) -> None:
    headers = bearer(owner)  # the pipeline: a token of the gate's owner
    gate = make_gate(client, bearer(owner), checkout)
    argo = Argo(client, bearer(contributor, TokenScope.READ))  # anyone may read a verdict

    waiting = start_release(client, headers, gate)
    assert argo.measure(waiting) == "inconclusive"  # nothing observed yet: 200, and a pause

    healthy = start_release(client, headers, gate, version="v43")
    observe(client, headers, healthy, checkout["error rate"], ROLLOUT)
    observe(client, headers, healthy, checkout["p95 latency"], ROLLOUT)
    assert argo.measure(healthy) == "successful"

    vetoed = start_release(client, headers, gate, version="v44")
    observe(client, headers, vetoed, checkout["error rate"], ROLLBACK)  # critical
    observe(client, headers, vetoed, checkout["p95 latency"], ROLLOUT)
    verdict = client.get(vetoed["verdict_url"], headers=headers).json()
    assert argo.measure(vetoed) == "failed"
    assert (verdict["rule"], verdict["summary"]) == (
        "veto",
        "Roll back: the critical metric “error rate” says rollback.",
    )

    marginal = start_release(client, headers, gate, version="v45")
    observe(client, headers, marginal, checkout["error rate"], INCONCLUSIVE)  # counts half
    observe(client, headers, marginal, checkout["p95 latency"], ROLLOUT)
    verdict = client.get(marginal["verdict_url"], headers=headers).json()
    assert (verdict["verdict"], verdict["score"], verdict["rule"]) == ("inconclusive", 66.7, "threshold")
    assert argo.measure(marginal) == "inconclusive"

    low = start_release(client, headers, gate, version="v46")
    observe(client, headers, low, checkout["error rate"], INCONCLUSIVE)
    observe(client, headers, low, checkout["p95 latency"], ROLLBACK)  # not critical: by the score
    verdict = client.get(low["verdict_url"], headers=headers).json()
    assert (verdict["verdict"], verdict["score"], verdict["rule"]) == ("rollback", 33.3, "threshold")
    assert argo.measure(low) == "failed"


def test_an_observe_only_metric_is_logged_and_shown_but_never_counts(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))
    observe(client, headers, release, checkout["error rate"], ROLLOUT)
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)

    response = observe(client, headers, release, checkout["cpu"], ROLLBACK)

    body = response.json()
    assert response.status_code == 201
    assert (body["verdict"], body["score"]) == ("rollout", 100.0)
    cpu = next(item for item in body["metrics"] if item["metric_name"] == "cpu")
    assert (cpu["counted"], cpu["verdict"]["verdict"]) == (False, "rollback")
    assert Verdict.objects.filter(metric=checkout["cpu"], source="api").count() == 1


def test_minutes_are_counted_from_the_release_start_unless_given(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    gate = make_gate(client, headers, checkout)
    started = (timezone.now() - timedelta(minutes=45)).isoformat()
    release = start_release(client, headers, gate, started_at=started)

    observe(client, headers, release, checkout["error rate"], {"value": 900})
    observe(client, headers, release, checkout["p95 latency"], {"value": 900, "minutes": 3})

    minutes = dict(Observation.objects.values_list("metric__name", "verdict__minutes"))
    assert 44.9 < minutes["error rate"] < 46
    assert minutes["p95 latency"] == 3


def test_an_observation_of_a_metric_outside_the_gate_is_refused(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))
    other = trained(owner, "queue depth")

    response = observe(client, headers, release, other, ROLLOUT)

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "not_in_gate"
    assert not Observation.objects.exists()
    assert not Verdict.objects.exists()


def test_an_unknown_release_is_404_and_anonymous_is_401(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))

    assert client.get(reverse("api:release_verdict", args=[999_999]), headers=headers).status_code == 404
    assert client.get(release["verdict_url"]).status_code == 401


def test_a_read_only_token_cannot_start_a_release_or_observe(client: Client, owner: User, checkout) -> None:
    gate = make_gate(client, bearer(owner), checkout)
    read_only = bearer(owner, TokenScope.READ)

    started = client.post(
        reverse("api:gate_releases", args=[gate["id"]]),
        {"name": "x"},
        content_type="application/json",
        headers=read_only,
    )

    assert started.status_code == 403
    assert not Release.objects.exists()


def test_the_release_page_shows_the_verdict_per_metric_and_over_time(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))
    observe(client, headers, release, checkout["error rate"], ROLLOUT)
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)
    client.force_login(owner)

    page = client.get(release["web_url"]).content.decode()

    assert "Rollout recommended" in page
    assert "Roll out: the score 100 reaches the pass score 80." in page
    assert "observe only" in page
    assert page.count("<tr>") >= 3 + 2 + 2  # metrics, history points, observations


def gate_state() -> list[tuple]:
    gates = Gate.objects.order_by("pk")
    return [
        (
            gate.name,
            gate.pass_score,
            gate.marginal_score,
            gate.pull_interval_seconds,
            gate.pull_for_minutes,
            list(gate.gate_metrics.values_list("metric", "weight")),
        )
        for gate in gates
    ]


def test_the_owner_changes_a_gates_scores_and_replaces_its_metrics(client: Client, owner: User, checkout) -> None:
    gate = make_gate(client, bearer(owner), checkout)

    renamed = client.patch(
        gate["url"], {"name": "Checkout v2", "pass_score": 90}, content_type="application/json", headers=bearer(owner)
    )
    replaced = client.put(
        gate["url"],
        {"name": "Checkout v3", "metrics": [{"metric": checkout["cpu"].pk, "weight": 3, "critical": True}]},
        content_type="application/json",
        headers=bearer(owner),
    )

    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["pass_score"], len(renamed.json()["metrics"])) == (
        "Checkout v2",
        90,
        3,
    )
    assert replaced.status_code == 200
    assert replaced.json()["metrics"] == [
        {
            "metric": checkout["cpu"].pk,
            "metric_name": "cpu",
            "weight": 3.0,
            "critical": True,
            "observe_only": False,
            # The safe defaults: judged over the release, rolled back at its first rollback.
            "judged_on": "release",
            "failure_limit": 0,
            "inconclusive_limit": None,
        }
    ]
    # PUT gives the whole gate: the scores it left out are back to their defaults.
    assert gate_state() == [("Checkout v3", 80.0, 50.0, 60, 120, [(checkout["cpu"].pk, 3.0)])]


def test_the_owner_sets_how_often_and_how_long_a_gates_bound_metrics_are_pulled(
    client: Client, owner: User, checkout
) -> None:
    gate = make_gate(client, bearer(owner), checkout)
    assert (gate["pull_interval_seconds"], gate["pull_for_minutes"]) == (60, 120)  # the defaults

    changed = client.patch(
        gate["url"],
        {"pull_interval_seconds": 10, "pull_for_minutes": 45},
        content_type="application/json",
        headers=bearer(owner),
    )

    assert changed.status_code == 200
    assert (changed.json()["pull_interval_seconds"], changed.json()["pull_for_minutes"]) == (10, 45)
    assert Gate.objects.values_list("pull_interval_seconds", "pull_for_minutes").get() == (10, 45)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"marginal_score": 85}, "marginal_score"),  # above the pass score it has
        ({"metrics": []}, "metrics"),
        ({"metrics": [{"metric": 999_999}]}, "metrics.0.metric"),
        ({"name": ""}, "name"),
        ({"metrics": [{"weight": 2}]}, "metrics.0.metric"),  # an entry naming no metric
        ({"missing_after_minutes": -1}, "missing_after_minutes"),
        ({"missing_means": "rollout"}, "missing_means"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"pull_interval_seconds": 9}, "pull_interval_seconds"),
        ({"pull_interval_seconds": 3601}, "pull_interval_seconds"),
        ({"pull_for_minutes": 0}, "pull_for_minutes"),
    ],
)
def test_a_bad_change_is_refused_and_the_gate_left_as_it_was(
    client: Client, owner: User, checkout, change, field
) -> None:
    gate = make_gate(client, bearer(owner), checkout)
    with changes_nothing(gate_state):
        response = client.patch(gate["url"], change, content_type="application/json", headers=bearer(owner))

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_only_the_owner_with_a_write_token_changes_or_deletes_a_gate(
    client: Client, owner: User, stranger: User, checkout
) -> None:
    gate = make_gate(client, bearer(owner), checkout)
    release = start_release(client, bearer(owner), gate)
    before = gate_state()
    change = {"name": "Mine now"}

    attempts = [
        client.patch(gate["url"], change, content_type="application/json", headers=bearer(stranger)),
        client.delete(gate["url"], headers=bearer(stranger)),
        client.patch(gate["url"], change, content_type="application/json", headers=bearer(owner, TokenScope.READ)),
        client.delete(gate["url"], headers=bearer(owner, TokenScope.READ)),
        client.delete(gate["url"]),
    ]

    assert [response.status_code for response in attempts] == [403, 403, 403, 403, 401]
    assert attempts[0].json()["detail"] == "Only the gate's owner may change it."
    assert gate_state() == before
    assert Release.objects.filter(pk=release["id"]).exists()


def test_deleting_a_gate_deletes_its_releases_and_argo_then_gets_404(client: Client, owner: User, checkout) -> None:
    gate = make_gate(client, bearer(owner), checkout)
    release = start_release(client, bearer(owner), gate)
    observe(client, bearer(owner), release, checkout["error rate"], ROLLOUT)

    deleted = client.delete(gate["url"], headers=bearer(owner))

    assert deleted.status_code == 204
    assert not Gate.objects.exists()
    assert not Release.objects.exists()
    assert not Observation.objects.exists()
    assert Verdict.objects.count() == 1  # the metric's verdict log keeps what was asked
    assert client.get(release["verdict_url"], headers=bearer(owner)).status_code == 404
    assert client.get(gate["url"], headers=bearer(owner)).status_code == 404


def test_the_release_verdict_reads_as_much_however_many_metrics_and_observations(
    client: Client, owner: User, checkout
) -> None:
    gate = make_gate(client, bearer(owner), checkout)
    release = start_release(client, bearer(owner), gate)
    headers = bearer(owner)

    def queries_of_one_verdict() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(release["verdict_url"], headers=headers).status_code == 200
        return len(captured)

    observe(client, headers, release, checkout["cpu"], ROLLOUT)
    one_metric_once = queries_of_one_verdict()
    for _ in range(3):
        for metric in checkout.values():
            observe(client, headers, release, metric, ROLLBACK)
    assert queries_of_one_verdict() == one_metric_once  # three metrics, observed three times more
    assert client.get(release["verdict_url"], headers=headers).json()["verdict"] == "rollback"


def test_a_gate_is_read_in_as_many_queries_whatever_its_metrics(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    small = client.post(
        reverse("api:gates"),
        {"name": "One", "metrics": [{"metric": checkout["cpu"].pk}]},
        content_type="application/json",
        headers=headers,
    ).json()
    large = make_gate(client, headers, checkout)

    def queries_of(gate: dict) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(gate["url"], headers=headers).status_code == 200
        return len(captured)

    assert queries_of(small) == queries_of(large)


def weighted_gate(client: Client, headers: dict, rows: list[dict], **options) -> dict:
    body = {"name": "Checkout", "pass_score": 80, "marginal_score": 50, "metrics": rows, **options}
    response = client.post(reverse("api:gates"), body, content_type="application/json", headers=headers)
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.parametrize(
    ("weights", "verdict", "score", "summary"),
    [
        (
            (79.96, 20.04),
            "inconclusive",
            79.96,
            "A person decides: the score 79.96 is between the marginal 50 and the pass 80.",
        ),
        ((49.96, 50.04), "rollback", 49.96, "Roll back: the score 49.96 is below the marginal score 50."),
        ((80, 20), "rollout", 80.0, "Roll out: the score 80 reaches the pass score 80."),
        ((2, 1), "inconclusive", 66.7, "A person decides: the score 66.7 is between the marginal 50 and the pass 80."),
    ],
)
def test_the_score_is_judged_exactly_and_shown_on_the_side_of_the_threshold_it_is_on(
    client: Client, owner: User, checkout, weights, verdict, score, summary
) -> None:
    headers = bearer(owner)
    passing, failing = checkout["p95 latency"], checkout["cpu"]
    rows = [{"metric": passing.pk, "weight": weights[0]}, {"metric": failing.pk, "weight": weights[1]}]
    release = start_release(client, headers, weighted_gate(client, headers, rows))
    observe(client, headers, release, passing, ROLLOUT)

    body = observe(client, headers, release, failing, ROLLBACK).json()

    assert (body["verdict"], body["score"], body["rule"], body["summary"]) == (verdict, score, "threshold", summary)


def test_a_gate_where_no_metric_counts_leaves_the_decision_to_a_person(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    rows = [
        {"metric": checkout["p95 latency"].pk, "weight": 1, "observe_only": True},
        {"metric": checkout["cpu"].pk, "weight": 0},
    ]
    release = start_release(client, headers, weighted_gate(client, headers, rows))
    observe(client, headers, release, checkout["p95 latency"], ROLLBACK)

    body = observe(client, headers, release, checkout["cpu"], ROLLBACK).json()

    assert (body["verdict"], body["score"], body["rule"]) == ("inconclusive", None, "nothing_counts")
    assert body["summary"] == (
        "A person decides: no metric of this gate counts (each is observe-only, or weighs 0 and is not critical)."
    )


def test_a_metric_that_weighs_nothing_is_not_waited_for(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    rows = [{"metric": checkout["p95 latency"].pk, "weight": 1}, {"metric": checkout["cpu"].pk, "weight": 0}]
    release = start_release(client, headers, weighted_gate(client, headers, rows))

    body = observe(client, headers, release, checkout["p95 latency"], ROLLOUT).json()

    assert (body["verdict"], body["rule"]) == ("rollout", "threshold")


def test_an_observation_minutes_beyond_any_date_is_judged_and_stored_as_of_now(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))

    response = observe(client, headers, release, checkout["p95 latency"], {"value": 900, "minutes": 5e9})

    assert response.status_code == 201
    observation = Observation.objects.select_related("verdict").get()
    assert observation.verdict.minutes == 5e9
    assert observation.verdict.state == "inconclusive"  # far outside what the model has seen
    assert abs((timezone.now() - observation.observed_at).total_seconds()) < 60


def test_each_verdict_asked_is_kept_as_it_was_answered_and_shown_over_time(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    gate = make_gate(client, headers, checkout)
    release = start_release(client, headers, gate)
    observe(client, headers, release, checkout["error rate"], ROLLOUT)  # answered: waiting for the p95 latency
    observe(client, headers, release, checkout["p95 latency"], ROLLBACK)  # answered: 66.7, a person decides
    client.patch(
        reverse("api:gate", args=[gate["id"]]), {"marginal_score": 70}, content_type="application/json", headers=headers
    )
    asked = client.get(release["verdict_url"], headers=headers).json()  # the same score is now below the marginal
    client.force_login(owner)

    page = client.get(release["web_url"]).content.decode()

    assert asked["verdict"] == "rollback"
    points = list(Release.objects.get().answers.order_by("asked_at", "pk").values_list("state", "score", "rule"))
    assert points == [
        ("inconclusive", None, "waiting"),  # no score while waiting
        ("inconclusive", 66.7, "threshold"),
        ("rollback", 66.7, "threshold"),
    ]
    history = page.split('data-testid="release-history"', 1)[1].split("</table>", 1)[0]
    assert [row.split("</td>", 3)[2] for row in history.split("<tr>")[2:]] == [
        '\n      <td data-label="Verdict">Inconclusive <span class="text-muted small">(waiting)</span>',
        '\n      <td data-label="Verdict">Inconclusive',
        '\n      <td data-label="Verdict">Rollback',
    ]
    assert "p95 latency: Rollback" in history
    assert "cpu: not observed yet" in history
    assert Release.objects.get().answers.count() == 3  # looking at the page asks nothing


def test_an_observation_of_a_metric_that_does_not_exist_is_refused(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))

    response = observe(client, headers, release, Metric(pk=999_999, name="gone"), ROLLOUT)

    assert response.status_code == 400
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == ("metric", "does_not_exist")
    assert not Observation.objects.exists()
    assert not Verdict.objects.exists()


def test_a_release_page_shows_a_score_stored_before_weights_were_bounded(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))
    Release.objects.get().answers.create(state="rollout", score=float("inf"), rule="threshold")  # a weight of 1e308
    client.force_login(owner)

    response = client.get(release["web_url"])

    assert response.status_code == 200
    assert '<td data-label="Score">∞</td>' in response.content.decode()


def test_a_release_starting_in_the_future_is_refused_with_how_to_send_its_start(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    gate = make_gate(client, headers, checkout)
    in_two_hours = timezone.now().replace(tzinfo=None) + timedelta(hours=2)  # a local time sent without its offset

    response = client.post(
        reverse("api:gate_releases", args=[gate["id"]]),
        {"name": "checkout-web", "started_at": in_two_hours.isoformat()},
        content_type="application/json",
        headers=headers,
    )
    a_clock_ahead = start_release(client, headers, gate, started_at=(timezone.now() + timedelta(minutes=2)).isoformat())

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("started_at", "future")
    assert "with its UTC offset" in error["message"]
    assert list(Release.objects.values_list("pk", flat=True)) == [a_clock_ahead["id"]]


def test_a_release_waiting_for_a_metric_with_no_model_says_it_needs_training(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    untrained = MetricFactory.create(owner=owner, name="queue depth")
    checkout = {**checkout, "p95 latency": untrained}
    release = start_release(client, headers, make_gate(client, headers, checkout))
    observe(client, headers, release, checkout["error rate"], ROLLOUT)

    refused = observe(client, headers, release, untrained, ROLLOUT)
    answer = client.get(release["verdict_url"], headers=headers).json()
    client.force_login(owner)
    page = client.get(release["web_url"]).content.decode()

    assert (refused.status_code, refused.json()["code"]) == (409, "no_model")
    assert (answer["verdict"], answer["rule"]) == ("inconclusive", "waiting")
    assert answer["summary"] == "Waiting: “queue depth” has no trained model yet to judge its observations."
    assert "no trained model yet" in page.split('data-testid="release-metrics"', 1)[1].split("</table>", 1)[0]


def test_a_release_waiting_for_both_kinds_of_metric_names_each(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    untrained = MetricFactory.create(owner=owner, name="queue depth")
    release = start_release(client, headers, make_gate(client, headers, {**checkout, "cpu": untrained}))
    gate = Gate.objects.get()
    gate.gate_metrics.filter(metric=untrained).update(observe_only=False)

    answer = client.get(release["verdict_url"], headers=headers).json()

    assert answer["summary"] == (
        "Waiting: no observation yet of “error rate”, “p95 latency”, and “queue depth” has no trained model yet."
    )
