"""Asking CloudWatch (moto's server, over HTTP) for one value or one series of a metric statistic,
and every way that can fail, in plain kinds."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stores.cloudwatch import CloudWatch, MetricSpec
from stores.errors import Kind, NoData, StoreError
from tests.stores.conftest import (
    CHECKOUT,
    CLOUDWATCH_END,
    CLOUDWATCH_NAMESPACE,
    CLOUDWATCH_START,
    REQUESTS_MINUTE,
    SEARCH,
    AccessKey,
    CloudWatchServer,
    history_value,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY-s3cret"


def error_ratio(dimensions: tuple[tuple[str, str], ...] = CHECKOUT, statistic: str = "Average") -> MetricSpec:
    return MetricSpec(CLOUDWATCH_NAMESPACE, "ErrorRatio", dimensions, statistic, period_seconds=60)


def store(cloudwatch: CloudWatchServer, **options: object) -> CloudWatch:
    """A source of `cloudwatch` with a key moto takes while it does not check keys, or `options`."""
    asked = {"access_key_id": "AKIATESTING", "secret_access_key": SECRET, "endpoint_url": cloudwatch.url} | options
    return CloudWatch("eu-west-1", **asked)  # type: ignore[arg-type]


def test_the_value_now_is_the_newest_datapoint(cloudwatch: CloudWatchServer) -> None:
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    cloudwatch.put("LiveLatency", CHECKOUT, {minute - timedelta(minutes=2): 0.31, minute - timedelta(minutes=1): 0.27})

    sample = store(cloudwatch).value(MetricSpec(CLOUDWATCH_NAMESPACE, "LiveLatency", CHECKOUT, "Average", 60))

    assert sample.value == 0.27
    assert sample.at == minute - timedelta(minutes=1)


def test_the_value_at_a_past_moment_is_the_newest_datapoint_before_it(cloudwatch: CloudWatchServer) -> None:
    moment = CLOUDWATCH_START + timedelta(minutes=10, seconds=30)

    sample = store(cloudwatch).value(error_ratio(), at=moment)

    assert sample.value == history_value(10)
    assert sample.at == CLOUDWATCH_START + timedelta(minutes=10)


def test_a_datapoint_published_late_is_still_found(cloudwatch: CloudWatchServer) -> None:
    """CloudWatch has no datapoint yet for the last periods: the value is the one before them."""
    cloudwatch.put("LateMetric", CHECKOUT, {CLOUDWATCH_START + timedelta(minutes=5): 0.42})

    spec = MetricSpec(CLOUDWATCH_NAMESPACE, "LateMetric", CHECKOUT, "Average", 60)
    sample = store(cloudwatch).value(spec, at=CLOUDWATCH_START + timedelta(minutes=7, seconds=50))

    assert sample.value == 0.42


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [("Sum", 9.0), ("Average", 3.0), ("Maximum", 6.0), ("Minimum", 1.0), ("SampleCount", 3.0)],
)
def test_the_statistic_is_taken_over_the_datapoints_of_a_period(
    cloudwatch: CloudWatchServer, statistic: str, expected: float
) -> None:
    spec = MetricSpec(CLOUDWATCH_NAMESPACE, "RequestSeconds", CHECKOUT, statistic, 60)

    sample = store(cloudwatch).value(spec, at=REQUESTS_MINUTE + timedelta(minutes=1))

    assert sample.value == expected
    assert sample.at == REQUESTS_MINUTE


def test_the_dimensions_choose_the_series(cloudwatch: CloudWatchServer) -> None:
    moment = CLOUDWATCH_START + timedelta(minutes=20, seconds=30)

    assert store(cloudwatch).value(error_ratio(SEARCH), at=moment).value == 0.5
    assert store(cloudwatch).value(error_ratio(CHECKOUT), at=moment).value == history_value(20)


def test_a_series_gives_one_datapoint_a_period_oldest_first(cloudwatch: CloudWatchServer) -> None:
    start = CLOUDWATCH_START + timedelta(minutes=10)

    samples = store(cloudwatch).series(error_ratio(), start, start + timedelta(minutes=30))

    assert [sample.at for sample in samples] == [start + timedelta(minutes=m) for m in range(30)]
    assert [sample.value for sample in samples] == [history_value(10 + m) for m in range(30)]


def test_a_series_over_longer_periods_takes_the_statistic_over_each(cloudwatch: CloudWatchServer) -> None:
    spec = MetricSpec(CLOUDWATCH_NAMESPACE, "ErrorRatio", CHECKOUT, "Sum", period_seconds=300)

    samples = store(cloudwatch).series(spec, CLOUDWATCH_START, CLOUDWATCH_START + timedelta(minutes=15))

    assert [sample.at for sample in samples] == [CLOUDWATCH_START + timedelta(minutes=m) for m in (0, 5, 10)]
    assert [sample.value for sample in samples] == [
        pytest.approx(sum(history_value(minute) for minute in range(first, first + 5))) for first in (0, 5, 10)
    ]


def test_a_metric_with_no_datapoints_is_no_data_naming_what_was_asked(cloudwatch: CloudWatchServer) -> None:
    spec = MetricSpec(CLOUDWATCH_NAMESPACE, "NeverPublished", (("Service", "checkout"),), "p99", 60)

    with pytest.raises(NoData) as refused:
        store(cloudwatch).value(spec, at=CLOUDWATCH_END)

    assert refused.value.kind == Kind.NO_DATA
    assert f"{CLOUDWATCH_NAMESPACE} NeverPublished {{Service=checkout}} p99 over 60 s" in refused.value.detail


def test_a_window_with_no_datapoints_is_no_data(cloudwatch: CloudWatchServer) -> None:
    before = CLOUDWATCH_START - timedelta(hours=1)

    with pytest.raises(NoData) as refused:
        store(cloudwatch).series(error_ratio(), before, before + timedelta(minutes=30))
    with pytest.raises(NoData):
        store(cloudwatch).value(error_ratio(), at=before)

    assert refused.value.kind == Kind.NO_DATA
    assert "ErrorRatio {Service=checkout} Average" in refused.value.detail


def test_a_value_that_is_not_a_number_is_no_data_and_left_out_of_a_series(cloudwatch: CloudWatchServer) -> None:
    """Real CloudWatch refuses NaN and ±Inf; moto keeps an infinity, which stands for one here."""
    minute = CLOUDWATCH_START + timedelta(minutes=30)
    cloudwatch.put("Ratio", CHECKOUT, {minute: 0.1, minute + timedelta(minutes=1): float("inf")})
    spec = MetricSpec(CLOUDWATCH_NAMESPACE, "Ratio", CHECKOUT, "Maximum", 60)

    with pytest.raises(NoData) as refused:
        store(cloudwatch).value(spec, at=minute + timedelta(minutes=2))

    assert refused.value.kind == Kind.NOT_A_NUMBER
    assert [sample.value for sample in store(cloudwatch).series(spec, minute, minute + timedelta(minutes=2))] == [0.1]


def test_a_window_cloudwatch_refuses_is_a_bad_query_in_its_words(cloudwatch: CloudWatchServer) -> None:
    with pytest.raises(StoreError) as refused:
        store(cloudwatch).series(error_ratio(), CLOUDWATCH_END, CLOUDWATCH_START)

    assert refused.value.kind == Kind.BAD_QUERY
    assert "ValidationError" in refused.value.detail
    assert "EndTime" in refused.value.detail


def test_a_metric_without_a_name_is_a_bad_query(cloudwatch: CloudWatchServer) -> None:
    """boto3 refuses it before sending, from CloudWatch's own description of the call."""
    with pytest.raises(StoreError) as refused:
        store(cloudwatch).value(MetricSpec(CLOUDWATCH_NAMESPACE, "", CHECKOUT, "Average", 60))

    assert refused.value.kind == Kind.BAD_QUERY
    assert "MetricName" in refused.value.detail


@pytest.mark.parametrize(
    ("statistic", "period", "said"),
    [("Median", 60, "'Median' is not a statistic"), ("p101", 60, "not a statistic"), ("Average", 90, "period of 90 s")],
)
def test_a_statistic_or_period_cloudwatch_does_not_take_is_a_bad_query(
    cloudwatch: CloudWatchServer, statistic: str, period: int, said: str
) -> None:
    """Refused before asking, as CloudWatch would: moto takes any period and fails on any
    statistic it does not compute."""
    spec = MetricSpec(CLOUDWATCH_NAMESPACE, "ErrorRatio", CHECKOUT, statistic, period)

    with pytest.raises(StoreError) as refused:
        store(cloudwatch).value(spec, at=CLOUDWATCH_END)

    assert refused.value.kind == Kind.BAD_QUERY
    assert said in refused.value.detail


@pytest.mark.parametrize(
    "statistic", ["Average", "SampleCount", "p99", "p99.9", "p100", "tm90", "wm99.5", "TM(10%:90%)", "PR(:300)", "IQM"]
)
def test_the_statistics_cloudwatch_knows_are_taken(statistic: str) -> None:
    assert MetricSpec(CLOUDWATCH_NAMESPACE, "Latency", CHECKOUT, statistic, 60).mistake() == ""


def test_the_query_is_described_as_sent(cloudwatch: CloudWatchServer) -> None:
    described = store(cloudwatch).describe(error_ratio(statistic="p99"))

    assert "\n" not in described
    assert json.loads(described) == {
        "Region": "eu-west-1",
        "MetricStat": {
            "Metric": {
                "Namespace": CLOUDWATCH_NAMESPACE,
                "MetricName": "ErrorRatio",
                "Dimensions": [{"Name": "Service", "Value": "checkout"}],
            },
            "Period": 60,
            "Stat": "p99",
        },
    }
    assert SECRET not in described


def test_a_check_passes_when_cloudwatch_answers(cloudwatch: CloudWatchServer) -> None:
    store(cloudwatch).check()
    store(cloudwatch).check(CLOUDWATCH_NAMESPACE)


def test_nothing_listening_is_refused_naming_the_endpoint(closed_port: int) -> None:
    with pytest.raises(StoreError) as refused:
        CloudWatch(
            "eu-west-1", "AKIATESTING", SECRET, endpoint_url=f"http://127.0.0.1:{closed_port}", timeout=2
        ).check()

    assert refused.value.kind == Kind.REFUSED
    assert f"127.0.0.1:{closed_port}" in refused.value.detail
    assert SECRET not in str(refused.value)


def test_an_unknown_host_is_a_dns_failure() -> None:
    endpoint = "http://monitoring.make-or-break.invalid"

    with pytest.raises(StoreError) as refused:
        CloudWatch("eu-west-1", "AKIATESTING", SECRET, endpoint_url=endpoint, timeout=2).check()

    assert refused.value.kind == Kind.DNS
    assert SECRET not in str(refused.value)


def test_a_store_that_never_answers_times_out_within_the_timeout_without_retrying(silent_port: int) -> None:
    cloudwatch = CloudWatch("eu-west-1", "AKIATESTING", SECRET, f"http://127.0.0.1:{silent_port}", timeout=1)
    started = time.monotonic()

    with pytest.raises(StoreError) as refused:
        cloudwatch.value(error_ratio())

    assert refused.value.kind == Kind.TIMEOUT
    # A second attempt would wait another second.
    assert time.monotonic() - started < 1.9
    assert SECRET not in str(refused.value)


def test_https_to_a_plain_http_endpoint_is_a_tls_failure(cloudwatch: CloudWatchServer) -> None:
    with pytest.raises(StoreError) as refused:
        store(cloudwatch, endpoint_url=cloudwatch.url.replace("http://", "https://"), timeout=2).check()

    assert refused.value.kind == Kind.TLS


def test_an_endpoint_that_is_not_a_url_is_said_so() -> None:
    with pytest.raises(StoreError) as refused:
        CloudWatch("eu-west-1", "AKIATESTING", SECRET, endpoint_url="monitoring at port 80").check()

    assert refused.value.kind == Kind.NOT_A_STORE


def test_a_key_cloudwatch_knows_reads_metrics(
    cloudwatch: CloudWatchServer, cloudwatch_keys: dict[str, AccessKey]
) -> None:
    reader = cloudwatch_keys["reader"]

    with cloudwatch.checking_credentials():
        store(cloudwatch, access_key_id=reader.access_key_id, secret_access_key=reader.secret_access_key).check()
        sample = store(
            cloudwatch, access_key_id=reader.access_key_id, secret_access_key=reader.secret_access_key
        ).value(error_ratio(), at=CLOUDWATCH_START + timedelta(minutes=4, seconds=1))

    assert sample.value == history_value(4)


@pytest.mark.parametrize("who", ["unknown key", "wrong secret", "user without a policy"])
def test_a_key_that_is_unknown_wrong_or_not_allowed_is_unauthorized(
    cloudwatch: CloudWatchServer, cloudwatch_keys: dict[str, AccessKey], who: str
) -> None:
    key = {
        "unknown key": AccessKey("AKIAUNKNOWN000000000", SECRET),
        "wrong secret": AccessKey(cloudwatch_keys["reader"].access_key_id, SECRET),
        "user without a policy": cloudwatch_keys["stranger"],
    }[who]
    source = store(cloudwatch, access_key_id=key.access_key_id, secret_access_key=key.secret_access_key)

    with cloudwatch.checking_credentials(), pytest.raises(StoreError) as refused:
        source.value(error_ratio(), at=CLOUDWATCH_END)

    assert refused.value.kind == Kind.UNAUTHORIZED
    assert refused.value.detail.split(":")[0] in {"InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied"}
    assert key.secret_access_key not in str(refused.value)
    assert "<" not in refused.value.detail


def test_without_an_access_key_the_environments_credentials_are_used(
    cloudwatch: CloudWatchServer, cloudwatch_keys: dict[str, AccessKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", cloudwatch_keys["reader"].access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", cloudwatch_keys["reader"].secret_access_key)

    with cloudwatch.checking_credentials():
        CloudWatch("eu-west-1", endpoint_url=cloudwatch.url).check()


def test_no_credentials_anywhere_is_unauthorized(
    cloudwatch: CloudWatchServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    # Nor ask the instance metadata service, which is not on this machine.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(StoreError) as refused:
        CloudWatch("eu-west-1", endpoint_url=cloudwatch.url).check()

    assert refused.value.kind == Kind.UNAUTHORIZED
    assert "no AWS credentials found" in refused.value.detail


def test_a_store_shown_or_logged_does_not_show_its_secret() -> None:
    source = CloudWatch("eu-west-1", "AKIATESTING", SECRET)

    assert SECRET not in repr(source)
    assert SECRET not in str(source)
    assert "AKIATESTING" in repr(source)


def test_a_moment_without_a_time_zone_is_a_programming_error(cloudwatch: CloudWatchServer) -> None:
    with pytest.raises(ValueError, match="time zone"):
        store(cloudwatch).value(error_ratio(), at=datetime(2026, 1, 1))  # noqa: DTZ001 - the point
