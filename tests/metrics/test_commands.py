"""The command line a pipeline or an operator uses: the same rules and messages as the pages."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope, token_digest
from metrics.management.commands._arguments import metric_named
from metrics.models import (
    Gate,
    GateMetric,
    ImportBatch,
    Indicator,
    Metric,
    Observation,
    Release,
    Source,
    TrainedModel,
    Verdict,
)
from predictor import training
from predictor.training import TrainingDataError
from tests.data import noise_data
from tests.factories import MetricFactory
from tests.metrics.test_train_command import train


def run(*arguments: str) -> str:
    output = io.StringIO()
    call_command(*arguments, stdout=output)
    return output.getvalue()


def verdict_exit(*arguments: str) -> tuple[int, str]:
    output = io.StringIO()
    with pytest.raises(SystemExit) as ended:
        call_command("verdict", *arguments, stdout=output)
    return int(ended.value.code or 0), output.getvalue()


def test_verdict_prints_the_verdict_logs_it_and_exits_by_its_state(trained_metric: Metric, owner: User) -> None:
    rollback = verdict_exit(str(trained_metric.pk), "250", "30", "--user", "owner")
    rollout = verdict_exit("requests per minute", "900", "30")
    inconclusive = verdict_exit("Requests per minute/Traffic", "50000", "30", "--json")

    assert rollback[0] == 3
    assert rollback[1].startswith("Rollback: Requests per minute = 250 after 30 minutes (model version 1;")
    assert rollout[0] == 0
    assert inconclusive[0] == 4
    body = json.loads(inconclusive[1])
    assert (body["verdict"], body["reasons"][0]["code"], body["model_version"]) == (
        "inconclusive",
        "value_out_of_range",
        1,
    )
    assert body["source"] == "command"
    assert list(Verdict.objects.order_by("pk").values_list("source", "asked_by")) == [
        (Source.COMMAND, owner.pk),
        (Source.COMMAND, None),
        (Source.COMMAND, None),
    ]


def test_verdict_of_a_model_trained_on_noise_is_inconclusive_and_says_its_accuracy_could_be_chance(
    metric: Metric, owner: User
) -> None:
    metric.import_indicators(noise_data(), owner)
    TrainedModel.objects.train(metric, owner)

    code, output = verdict_exit(str(metric.pk), "700", "30")

    assert code == 4
    assert output.splitlines()[:2] == [
        "Inconclusive: Requests per minute = 700 after 30 minutes (model version 1; 0 rolled back and 6 rolled out "
        "among similar past cases).",
        "  The model's accuracy, 66.7% on 14 cases, could be chance: at 95% confidence it is only above 40.9%, "
        "and always answering the most common decision scores 50.0%.",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nothing like it", "1", "1"], "No metric 'nothing like it'"),
        (["Requests per minute", "1", "-1"], "MINUTES must be a number of minutes, 0 or more."),
        (["Requests per minute", "inf", "1"], "VALUE must be a finite number"),
        (["Requests per minute", "1", "1", "--user", "ghost"], "No user named 'ghost'."),
    ],
)
def test_verdict_refuses_bad_arguments_and_logs_nothing(trained_metric: Metric, arguments: list, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(".", r"\.")):
        call_command("verdict", *arguments)

    assert not Verdict.objects.exists()


def test_verdict_of_a_metric_without_a_model_says_so(metric: Metric) -> None:
    with pytest.raises(CommandError, match="has no trained model yet"):
        call_command("verdict", str(metric.pk), "1", "1")


def test_a_name_two_categories_share_must_say_which(owner: User) -> None:
    MetricFactory.create(owner=owner, name="p95 latency", category="Checkout")
    MetricFactory.create(owner=owner, name="p95 latency", category="Search")

    with pytest.raises(CommandError, match="names several metrics"):
        call_command("verdict", "p95 latency", "1", "1")


def test_import_indicators_follows_the_upload_rules_and_records_a_batch(
    tmp_path: Path, metric: Metric, contributor: User
) -> None:
    good = tmp_path / "deploy-42.csv"
    good.write_bytes(b"valor,decisao,tempo\n500,1,10\n600,0,60\n")
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"valor,decisao,tempo\n500,1,10\n600,maybe,60\n")

    printed = run("import_indicators", str(metric.pk), str(good), "--user", "contributor")
    with pytest.raises(CommandError) as refused:
        call_command("import_indicators", str(metric.pk), str(bad), "--user", "contributor")
    with pytest.raises(CommandError, match="already imported"):
        call_command("import_indicators", str(metric.pk), str(good), "--user", "contributor")

    assert printed.strip() == "Imported 2 indicators into 'Requests per minute'."
    assert str(refused.value).splitlines() == [
        "Nothing was imported: the file has 1 error.",
        "  Line 3, column “decisao”: expected 0 (rollout) or 1 (rollback), got “maybe”",
    ]
    assert list(ImportBatch.objects.values_list("file_name", "rows", "uploaded_by")) == [
        ("deploy-42.csv", 2, contributor.pk)
    ]
    assert Indicator.objects.count() == 2


def test_export_indicators_writes_the_download_which_imports_back(tmp_path: Path, metric: Metric, owner: User) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"value,decision,time\n1.5,1,10\n2,0,20\n")
    run("import_indicators", "Requests per minute", str(source), "--user", "owner")
    copy = MetricFactory.create(owner=owner, name="Copy")

    printed = run("export_indicators", str(metric.pk))
    run("export_indicators", str(metric.pk), "--output", str(tmp_path / "out.csv"))
    run("import_indicators", str(copy.pk), str(tmp_path / "out.csv"), "--user", "owner")

    assert printed.startswith("valor,decisao,tempo,usuario,registrado_em\r\n1.5,1,10,owner,")
    assert (tmp_path / "out.csv").read_bytes() == printed.encode()
    assert list(copy.indicators.order_by("pk").values_list("value", "decision", "time")) == [
        (1.5, 1, 10.0),
        (2.0, 0, 20.0),
    ]


def test_create_token_prints_a_secret_that_only_its_hash_keeps(owner: User) -> None:
    secret = run("create_token", "owner", "Jenkins gate", "--write", "--days", "30").strip()

    token = ApiToken.objects.get()
    assert token.digest == token_digest(secret)
    assert (token.user, token.name, token.scope) == (owner, "Jenkins gate", TokenScope.WRITE)
    assert token.expires_at is not None
    with pytest.raises(CommandError, match="You already have a token named “Jenkins gate”"):
        call_command("create_token", "owner", "Jenkins\u200b gate")
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Deploy\u200b gate", "You already have a token named “Deploy gate”. Revoke it first, or choose another name."),
        ("\u200b\u202e", "Give the token a name."),
        ("x" * 300, "Ensure this value has at most 100 characters (it has 300)."),
    ],
)
def test_create_token_refuses_a_name_the_tokens_page_refuses_with_its_message(
    client: Client, owner: User, name: str, message: str
) -> None:
    client.force_login(owner)
    client.post(reverse("accounts:api_tokens"), {"name": "Deploy gate", "scope": "read", "expires_in": ""})
    before = list(ApiToken.objects.values_list("pk", "name"))

    page = client.post(reverse("accounts:api_tokens"), {"name": name, "scope": "read", "expires_in": ""})
    with pytest.raises(CommandError) as refused:
        call_command("create_token", "owner", name)

    assert page.context["form"].errors["name"] == [message]
    assert str(refused.value) == message
    assert list(ApiToken.objects.values_list("pk", "name")) == before


def test_create_token_refuses_an_expiry_beyond_the_calendar_and_names_the_largest(owner: User) -> None:
    with pytest.raises(CommandError, match=r"--days must be a number from 1 to \d+\.") as too_far:
        call_command("create_token", "owner", "Forever", "--days", "100000000")
    largest = str(too_far.value).split()[-1].rstrip(".")
    run("create_token", "owner", "Far away", "--days", largest)

    far_away = ApiToken.objects.get()
    assert (far_away.name, far_away.expires_at.year if far_away.expires_at else None) == ("Far away", 9999)


def test_create_token_refuses_an_inactive_account_whose_tokens_would_never_work(owner: User) -> None:
    owner.is_active = False
    owner.save()

    with pytest.raises(CommandError, match="The account owner is inactive: a token of it would always be refused"):
        call_command("create_token", "owner", "Jenkins gate")

    assert not ApiToken.objects.exists()


def test_train_a_named_metric_whatever_its_state(trained_metric: Metric) -> None:
    printed = run("train", "--metric", "Requests per minute")

    assert "Trained 'Requests per minute' (Traffic): version 2" in printed
    with pytest.raises(CommandError, match="No metric 'ghost'"):
        call_command("train", "--metric", "ghost")


def test_a_metric_name_with_a_slash_is_found_whole_then_as_name_and_category(owner: User) -> None:
    reliability = MetricFactory.create(owner=owner, name="Errors/s", category="Reliability")
    found_alone = metric_named("errors/s")
    traffic = MetricFactory.create(owner=owner, name="Errors/s", category="Traffic")

    with pytest.raises(CommandError, match="'Errors/s' names several metrics: ") as ambiguous:
        metric_named("Errors/s")
    assert found_alone == reliability
    assert f"{reliability.pk} (Errors/s/Reliability)" in str(ambiguous.value)
    assert metric_named("Errors/s/traffic") == traffic
    assert run("export_indicators", "Errors/s/Reliability").startswith("valor,decisao,tempo")


def test_digits_name_a_metric_by_its_id_when_one_has_it_else_by_its_name(owner: User) -> None:
    year = MetricFactory.create(owner=owner, name="2024", category="Years")
    other = MetricFactory.create(owner=owner, name="Other", category="Years")

    assert metric_named("2024") == year
    assert metric_named(f" {other.pk} ") == other


@pytest.mark.parametrize("reference", ["²", "٣", "9" * 40])
def test_a_reference_that_only_looks_like_a_number_is_a_name(owner: User, reference: str) -> None:
    with pytest.raises(CommandError, match=f"No metric '{reference}'"):
        metric_named(reference)
    squared = MetricFactory.create(owner=owner, name=reference, category="Units")

    assert metric_named(reference) == squared


def demo_state() -> dict[str, object]:
    return {
        "metrics": list(Metric.objects.order_by("pk").values_list("pk", "name", "category", "owner__username")),
        "models": list(TrainedModel.objects.order_by("pk").values_list("pk", "metric_id", "version")),
        "gates": list(GateMetric.objects.order_by("pk").values_list("gate__name", "metric_id")),
        "observations": list(Observation.objects.order_by("pk").values_list("pk", "metric_id", "verdict_id")),
        "indicators": Indicator.objects.count(),
    }


def test_load_demo_gates_its_own_metrics_when_another_account_has_one_of_the_same_name(stranger: User) -> None:
    elsewhere = MetricFactory.create(owner=stranger, name="Requests per minute", category="Web")

    run("load_demo")

    release = Release.objects.get(version="v42")
    assert {metric.owner.username for metric in Metric.objects.exclude(pk=elsewhere.pk)} == {"demo"}
    assert not GateMetric.objects.filter(metric=elsewhere).exists()
    assert GateMetric.objects.filter(gate=release.gate).count() == 3
    assert release.observations.count() == 5
    assert not Observation.objects.filter(metric=elsewhere).exists()


def test_load_demo_leaves_another_accounts_metric_named_alike_and_makes_the_rest(stranger: User) -> None:
    taken = MetricFactory.create(owner=stranger, name="requests PER minute", category="traffic")
    errors = io.StringIO()

    call_command("load_demo", stdout=io.StringIO(), stderr=errors)

    assert sorted(Metric.objects.filter(owner__username="demo").values_list("name", flat=True)) == [
        "Error rate (%)",
        "p95 latency (ms)",
    ]
    assert not taken.indicators.exists()
    assert not Gate.objects.exists()
    assert errors.getvalue().splitlines() == [
        "Skipped the demo metric “Requests per minute”: “requests PER minute (traffic)” belongs to stranger.",
        "Skipped the demo gate: the demo metric “Requests per minute” could not be made.",
    ]


def test_load_demo_run_again_changes_nothing(db: None) -> None:
    run("load_demo")
    before = demo_state()

    run("load_demo")

    assert demo_state() == before


def test_load_demo_makes_no_half_gate_when_a_demo_metric_cannot_answer(db: None) -> None:
    demo = User.objects.create(username="demo")
    MetricFactory.create(owner=demo, name="Requests per minute", category="Traffic")  # no model
    errors = io.StringIO()

    call_command("load_demo", stdout=io.StringIO(), stderr=errors)

    assert (Gate.objects.count(), Release.objects.count(), Observation.objects.count()) == (0, 0, 0)
    assert errors.getvalue().strip() == (
        "Skipped the demo gate: “Requests per minute” has no trained model yet. "
        "Train it, then run the prediction again."
    )


def test_train_a_named_metric_without_enough_data_exits_with_an_error(metric: Metric) -> None:
    printed, errors, failure = train("--metric", "Requests per minute")

    assert errors == "Skipped 'Requests per minute' (Traffic): not enough data to train.\n"
    assert failure == "Not trained: 'Requests per minute' (Traffic)."
    assert "0 trained, 1 without enough data" in printed
    assert not TrainedModel.objects.exists()


def test_a_stale_sweep_reports_a_metric_without_enough_data_and_exits_zero(trained_metric: Metric, owner: User) -> None:
    MetricFactory.create(owner=owner, name="Empty", category="Traffic")

    printed, errors, failure = train("--stale")

    assert failure is None
    assert errors == "Skipped 'Empty' (Traffic): not enough data to train.\n"
    assert "0 trained, 1 without enough data, 0 failed, 0 left." in printed


def test_a_failed_training_exits_with_an_error_even_in_a_sweep(
    trained_metric: Metric, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_learn(*args: object, **kwargs: object) -> None:
        raise TrainingDataError("values or times are not finite 32-bit numbers")

    monkeypatch.setattr(training, "fit_decision_tree", cannot_learn)
    trained_metric.add_indicator(500, 0, 12, owner)  # new data: its model is stale

    _printed, errors, failure = train("--stale")

    assert errors == "Failed 'Requests per minute' (Traffic): its values cannot be learnt from.\n"
    assert failure == "Not trained: 'Requests per minute' (Traffic)."
    assert TrainedModel.objects.count() == 1


def test_train_says_when_the_new_version_does_not_answer_and_why(trained_metric: Metric) -> None:
    first = TrainedModel.objects.get()
    trained_metric.activate(first, pin=True)

    printed, _errors, failure = train("--metric", "Requests per minute")

    assert failure is None
    assert (
        f"  Version 2 does not answer verdicts. Kept as a candidate: the active version is pinned "
        f"(version 1, {first.accuracy:.1%})."
    ) in printed.splitlines()


@pytest.mark.parametrize("budget", ["-1", "nan", "inf", "soon"])
def test_train_refuses_a_budget_that_is_not_a_number_of_seconds(trained_metric: Metric, budget: str) -> None:
    refusal = f"argument --budget: expected a number of seconds, 0 or more, got “{budget}”"
    with pytest.raises(CommandError, match=refusal):
        call_command("train", "--metric", "Requests per minute", f"--budget={budget}")

    assert TrainedModel.objects.count() == 1


def test_verdict_json_is_the_apis_verdict_with_paths_for_urls(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    _code, printed = verdict_exit("Requests per minute", "250", "30", "--user", "owner", "--json")
    body = json.loads(printed)
    _token, secret = ApiToken.objects.issue(owner, "test", TokenScope.READ)

    api = client.get(reverse("api:verdict", args=[body["id"]]), headers={"Authorization": f"Bearer {secret}"}).json()

    assert body["url"] == f"/api/v1/verdicts/{body['id']}/" == reverse("api:verdict", args=[body["id"]])
    assert body["web_url"] == f"/verdicts/{body['id']}/"
    assert api["url"] == f"http://testserver{body['url']}"
    assert api["web_url"] == f"http://testserver{body['web_url']}"
    assert {key: value for key, value in body.items() if key not in {"url", "web_url"}} == {
        key: value for key, value in api.items() if key not in {"url", "web_url"}
    }
    assert (body["metric_name"], body["asked_by"], body["source"]) == ("Requests per minute", "owner", "command")


def test_verdict_prints_the_value_as_entered_and_where_the_logged_verdict_is(trained_metric: Metric) -> None:
    _code, printed = verdict_exit("Requests per minute", "1234567", "30.25")

    verdict = Verdict.objects.get()
    assert printed.startswith("Inconclusive: Requests per minute = 1234567 after 30.25 minutes (model version 1;")
    assert printed.splitlines()[-1] == f"Logged as verdict {verdict.pk}: /verdicts/{verdict.pk}/"
    assert verdict.value == 1234567


def test_verdict_refuses_a_value_that_is_not_a_number_before_anything_else(trained_metric: Metric) -> None:
    with pytest.raises(CommandError, match="argument value: expected a number, got “lots”"):
        call_command("verdict", "Requests per minute", "lots", "30")

    assert not Verdict.objects.exists()


@pytest.mark.parametrize(
    ("delimiter", "separator", "name"),
    [(";", ";", "semicolon"), ("semicolon", ";", "semicolon"), ("\t", "\t", "tab"), ("\\t", "\t", "tab")],
)
def test_import_indicators_takes_the_delimiter_by_its_name_or_the_character_itself(
    tmp_path: Path, metric: Metric, delimiter: str, separator: str, name: str
) -> None:
    data = tmp_path / "deploys.csv"
    data.write_text(f"valor{separator}decisao{separator}tempo\n500{separator}1{separator}10\n")

    run("import_indicators", str(metric.pk), str(data), "--user", "owner", "--delimiter", delimiter)

    assert list(ImportBatch.objects.values_list("delimiter", "rows")) == [(name, 1)]
