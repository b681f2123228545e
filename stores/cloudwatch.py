"""Amazon CloudWatch's GetMetricData, asked for one value or one series of one metric statistic.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html — one
`MetricStat` query (a metric, its dimensions, a statistic over a period) through boto3, with
no retries and the source's timeout on connecting and on reading. Every failure is a
`StoreError` of a known `Kind`, never a library's exception, and never shows the secret key.
"""

from __future__ import annotations

import json
import math
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSLError,
)

from stores.errors import Kind, NoData, StoreError, caused_by
from stores.sample import Sample

# What CloudWatch says when it refuses, kept to this many characters.
_DETAIL_CHARS = 300
# CloudWatch publishes a period's datapoint some minutes after the period ends (and a metric
# pushed by a batch job later still), so the newest datapoint is looked for over this many
# periods before the moment asked, not only in the last one.
_PERIODS_LOOKED_BACK = 3
# Pages of one GetMetricData followed at most (100,800 datapoints each): a store that keeps
# answering with another page is not CloudWatch.
_PAGES = 100

STANDARD_STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
# Extended statistics as CloudWatch writes them: p99, p99.9, tm90, wm99, TM(10%:90%), TC(:0.5),
# PR(100:2000), IQM...
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html
_PERCENT = r"(100(\.0{1,2})?|\d{1,2}(\.\d{1,2})?)"  # at most two decimals, as AWS documents
_BOUND = r"(\d+(\.\d+)?%?)"
_EXTENDED_STATISTIC = re.compile(
    rf"p{_PERCENT}|(tm|wm|tc|ts){_PERCENT}|(TM|WM|TC|TS|PR)\({_BOUND}?:{_BOUND}?\)|IQM", re.IGNORECASE
)
# Periods CloudWatch accepts: the high-resolution ones, or whole minutes.
_HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)


def is_statistic(statistic: str) -> bool:
    """Whether CloudWatch computes `statistic`: a standard one, or an extended one."""
    return statistic in STANDARD_STATISTICS or _EXTENDED_STATISTIC.fullmatch(statistic) is not None


def is_period(seconds: int) -> bool:
    """Whether CloudWatch takes a period of `seconds`: a high-resolution one, or whole minutes."""
    return seconds in _HIGH_RESOLUTION_PERIODS or (seconds > 0 and seconds % 60 == 0)


# What CloudWatch (and AWS' authentication in front of it) says of keys that are missing,
# wrong, expired or not allowed to read metrics.
_UNAUTHORIZED_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
}
_BAD_QUERY_CODES = {
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidParameterCombination",
    "InvalidParameterCombinationException",
    "MissingParameter",
    "MissingRequiredParameterException",
    "ValidationError",
    "ValidationException",
}


@dataclass(frozen=True)
class MetricSpec:
    """One statistic of one CloudWatch metric: `statistic` over every `period_seconds`, of the
    metric `metric_name` in `namespace` with exactly these `dimensions` (name, value) pairs.

    `statistic` is a standard one (`STANDARD_STATISTICS`) or an extended one (p99, p99.9, tm90,
    TM(10%:90%)...).
    """

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period_seconds: int

    def mistake(self) -> str:
        """What CloudWatch would refuse in this statistic or period, in words; "" when nothing."""
        if not is_statistic(self.statistic):
            standard = ", ".join(STANDARD_STATISTICS)
            return f"{self.statistic!r} is not a statistic: one of {standard}, or a percentile such as p99"
        if not is_period(self.period_seconds):
            return f"a period of {self.period_seconds} s: CloudWatch takes 1, 5, 10, 20, 30 or a multiple of 60"
        return ""

    def metric_stat(self) -> dict[str, Any]:
        """The `MetricStat` of GetMetricData that asks for this statistic."""
        return {
            "Metric": {
                "Namespace": self.namespace,
                "MetricName": self.metric_name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            },
            "Period": self.period_seconds,
            "Stat": self.statistic,
        }

    def __str__(self) -> str:
        """The metric as a person reads it: `AWS/ApplicationELB TargetResponseTime
        {LoadBalancer=app/shop/1} p99 over 60 s`."""
        dimensions = ", ".join(f"{name}={value}" for name, value in self.dimensions)
        return f"{self.namespace} {self.metric_name} {{{dimensions}}} {self.statistic} over {self.period_seconds} s"


@dataclass(frozen=True)
class CloudWatch:
    """Amazon CloudWatch in `region`, read with an access key (an empty `access_key_id` means
    boto3's default credentials: the environment, a profile, the instance's or task's role),
    at `endpoint_url` instead of AWS' own when given (a VPC endpoint, or a stand-in for tests),
    with `timeout` seconds for connecting and as many for each answer."""

    region: str
    access_key_id: str = ""
    # Never in its repr: a source's secrets are never shown again, nor logged.
    secret_access_key: str = field(default="", repr=False)
    endpoint_url: str = ""
    timeout: float = 10.0

    def value(self, spec: MetricSpec, at: datetime | None = None) -> Sample:
        """The newest datapoint of `spec` at `at` (now by default): that of the latest period
        CloudWatch has published among the last three before `at`. Its `at` is the start of its
        period, as CloudWatch labels datapoints.

        Raises `NoData` when there is none or it is not a number, and `StoreError` when the
        store cannot be asked or refuses the query.
        """
        _refuse_mistake(spec)
        end = _utc(at) if at is not None else datetime.now(UTC)
        start = _aligned(end - timedelta(seconds=_PERIODS_LOOKED_BACK * spec.period_seconds), spec.period_seconds)
        samples = self._datapoints(spec, start, end, newest_first=True)
        if not samples:
            raise NoData(Kind.NO_DATA, f"no datapoint of {spec} from {_iso(start)} to {_iso(end)}")
        newest = samples[0]
        if not math.isfinite(newest.value):
            raise NoData(Kind.NOT_A_NUMBER, f"the newest datapoint of {spec} is {newest.value}")
        return newest

    def series(self, spec: MetricSpec, start: datetime, end: datetime) -> list[Sample]:
        """The datapoints of `spec` from `start` to `end`, one a period (one GetMetricData,
        every page of its answer), oldest first, without the periods CloudWatch has none for or
        whose value is not a number.

        Raises `NoData` when there are none, and `StoreError` when the store cannot be asked or
        refuses the query.
        """
        _refuse_mistake(spec)
        start, end = _utc(start), _utc(end)
        samples = [sample for sample in self._datapoints(spec, start, end) if math.isfinite(sample.value)]
        if not samples:
            raise NoData(Kind.NO_DATA, f"no datapoint of {spec} from {_iso(start)} to {_iso(end)}")
        return samples

    def check(self, namespace: str = "") -> None:
        """Whether CloudWatch answers these credentials (a source's "Test connection"): one
        page of ListMetrics, of `namespace` when given, which reads no datapoint.

        Raises `StoreError` when the store cannot be asked or refuses the credentials.
        """
        with self._plain_words():
            self._client.list_metrics(**({"Namespace": namespace} if namespace else {}))

    def describe(self, spec: MetricSpec) -> str:
        """The query as sent, for the record of where a value came from: its `MetricStat` as
        one line of JSON, and the region (not the endpoint, nor any credential)."""
        return json.dumps({"Region": self.region, "MetricStat": spec.metric_stat()}, separators=(",", ":"))

    def _datapoints(self, spec: MetricSpec, start: datetime, end: datetime, newest_first: bool = False) -> list[Sample]:
        """Every datapoint GetMetricData gives for `spec` from `start` to `end`, oldest first (or
        newest first)."""
        asked: dict[str, Any] = {
            "MetricDataQueries": [{"Id": "asked", "MetricStat": spec.metric_stat(), "ReturnData": True}],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampDescending" if newest_first else "TimestampAscending",
        }
        samples: list[Sample] = []
        with self._plain_words():
            client = self._client
            for _page in range(_PAGES):
                answer = client.get_metric_data(**asked)
                for result in answer.get("MetricDataResults", []):
                    _refuse_unless_answered(result)
                    samples.extend(
                        Sample(float(value), _utc(moment))
                        for moment, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
                    )
                if not answer.get("NextToken"):
                    break
                asked["NextToken"] = answer["NextToken"]
            else:
                raise StoreError(Kind.NOT_A_STORE, f"more than {_PAGES} pages of datapoints")
        return sorted(samples, key=lambda sample: sample.at, reverse=newest_first)

    @cached_property
    def _client(self) -> Any:
        """Its CloudWatch client, made at its first question and kept for the next ones (making
        one takes about a tenth of a second): a store is asked by one thread at a time (a fill's
        readers have one each), as boto3's sessions are not shared between threads."""
        credentials = (
            {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
            if self.access_key_id
            else {}
        )
        session = boto3.session.Session(region_name=self.region or None, **credentials)
        return session.client(
            "cloudwatch",
            endpoint_url=self.endpoint_url or None,
            config=Config(
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
                # One attempt, no retry: a failure is reported as it came, within the source's
                # timeout (botocore's `max_attempts` counts the retries only).
                retries={"total_max_attempts": 1, "mode": "standard"},
            ),
        )

    @contextmanager
    def _plain_words(self) -> Iterator[None]:
        """botocore's exceptions as the `StoreError` that says what went wrong, without the
        secret key."""
        try:
            yield
        except ClientError as error:
            raise self._refusal(error) from error
        except (NoCredentialsError, PartialCredentialsError) as error:
            raise StoreError(
                Kind.UNAUTHORIZED,
                "no AWS credentials found: give an access key, or run with a role or AWS_* environment variables",
            ) from error
        except ParamValidationError as error:
            raise StoreError(Kind.BAD_QUERY, self._detail(str(error))) from error
        except SSLError as error:
            raise StoreError(Kind.TLS, self._detail(str(error))) from error
        except (ConnectTimeoutError, ReadTimeoutError) as error:
            raise StoreError(Kind.TIMEOUT, self._detail(str(error))) from error
        except EndpointConnectionError as error:
            kind = Kind.DNS if caused_by(error, socket.gaierror) else Kind.REFUSED
            raise StoreError(kind, self._detail(str(error))) from error
        except (BotoCoreError, ValueError) as error:
            # No region, an endpoint that is not a URL, a connection closed mid-answer...
            raise StoreError(Kind.NOT_A_STORE, self._detail(str(error))) from error

    def _refusal(self, error: ClientError) -> StoreError:
        """CloudWatch's error answer as the `StoreError` of its kind, with its code and message."""
        found = error.response.get("Error", {})
        code, message = str(found.get("Code", "")), str(found.get("Message", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code.isdigit() and message.lstrip().startswith("<"):
            # An XML error (the Query protocol's) where botocore expects JSON: read it as such.
            code = _xml_element(message, "Code") or code
            message = _xml_element(message, "Message") or message
        detail = self._detail(f"{code}: {message}" if message else code)
        if code in _UNAUTHORIZED_CODES or status in (401, 403):
            return StoreError(Kind.UNAUTHORIZED, detail)
        if code in _BAD_QUERY_CODES:
            return StoreError(Kind.BAD_QUERY, detail)
        return StoreError(Kind.HTTP_STATUS, self._detail(f"HTTP {status}: {code}: {message}"))

    def _detail(self, text: str) -> str:
        """`text` on one line, cut short, without the secret key."""
        return " ".join(self._without_secret(text).split())[:_DETAIL_CHARS]

    def _without_secret(self, text: str) -> str:
        # No AWS answer repeats the secret key; this holds whatever a proxy or a library says.
        return text.replace(self.secret_access_key, "…") if self.secret_access_key else text


def _refuse_mistake(spec: MetricSpec) -> None:
    """Refused before asking, as CloudWatch would refuse it (a test stand-in may not)."""
    if mistake := spec.mistake():
        raise StoreError(Kind.BAD_QUERY, mistake)


def _refuse_unless_answered(result: dict[str, Any]) -> None:
    """A query result CloudWatch could not complete says so in its status and messages."""
    status = result.get("StatusCode", "Complete")
    if status in ("Complete", "PartialData"):
        return
    messages = "; ".join(f"{m.get('Code', '')}: {m.get('Value', '')}" for m in result.get("Messages", []))
    kind = Kind.UNAUTHORIZED if status == "Forbidden" else Kind.HTTP_STATUS
    raise StoreError(kind, f"{status}: {messages}"[:_DETAIL_CHARS])


def _xml_element(xml: str, name: str) -> str:
    found = re.search(rf"<{name}>(.*?)</{name}>", xml, re.DOTALL)
    return found.group(1).strip() if found else ""


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a moment without a time zone")
    return moment.astimezone(UTC)


def _aligned(moment: datetime, period_seconds: int) -> datetime:
    """`moment` rounded down to a whole period since the epoch, where CloudWatch's periods start."""
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % period_seconds, tz=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
