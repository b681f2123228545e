"""Reading a history fill's file (csv_io.parse_release_csv): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from metrics.csv_io import MAX_FILL_RELEASES, CsvFormatError, PastRelease, parse_release_csv, write_release_csv
from predictor.columns import ROLLBACK, ROLLOUT

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def parse(text: str, minutes: int = 60) -> list[PastRelease]:
    return parse_release_csv(text.encode(), now=NOW, minutes=minutes)


def test_releases_are_read_in_any_column_order_with_their_keys_offsets_and_decision_words() -> None:
    releases = parse(
        "Decision;Key;Started_At\n"
        "ROLLBACK;checkout-v41;2026-12-01T10:00:00-03:00\n"
        "\n"
        "0;checkout-v42;2026-12-02T10:00:00Z\n"
        "1;search-v7;2026-12-02T10:00:00Z\n"
    )

    assert releases == [
        PastRelease(2, datetime(2026, 12, 1, 10, tzinfo=timezone(timedelta(hours=-3))), ROLLBACK, "checkout-v41"),
        PastRelease(4, datetime(2026, 12, 2, 10, tzinfo=UTC), ROLLOUT, "checkout-v42"),
        PastRelease(5, datetime(2026, 12, 2, 10, tzinfo=UTC), ROLLBACK, "search-v7"),  # same start, another key
    ]


def test_the_same_moment_written_in_two_offsets_is_the_same_release() -> None:
    with pytest.raises(CsvFormatError) as refused:
        parse("started_at,decision\n2026-12-01T10:00:00Z,rollout\n2026-12-01T07:00:00-03:00,rollback\n")

    assert [str(error) for error in refused.value.row_errors] == ["Line 3: the same release as line 2"]


def test_a_release_whose_minutes_end_exactly_now_is_read() -> None:
    assert len(parse(f"started_at,decision\n{(NOW - timedelta(minutes=60)).isoformat()},rollout\n")) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty."),
        ("started_at,decision\n", "The file has a header but no releases."),
        (
            "started_at,outcome\n",
            "Unknown column “outcome” in the header. The header must be started_at, decision (and key, version, name).",
        ),
        (
            "started_at,key\n",
            "Missing column: decision. The header must be started_at, decision (and key, version, name).",
        ),
    ],
)
def test_a_file_without_releases_or_with_a_wrong_header_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(CsvFormatError) as refused:
        parse(text)

    assert refused.value.message == message


def test_more_releases_than_a_fill_takes_are_refused() -> None:
    start = NOW - timedelta(days=30)
    rows = "".join(f"{(start + timedelta(minutes=k)).isoformat()},rollout\n" for k in range(MAX_FILL_RELEASES + 1))

    with pytest.raises(CsvFormatError) as refused:
        parse("started_at,decision\n" + rows)

    assert refused.value.message == "Nothing was stored: the file lists 1,001 releases; a fill takes at most 1,000."


def test_a_release_may_name_its_version_and_a_name_to_tell_it_by() -> None:
    releases = parse(
        "started_at,decision,version,name\n"
        '2026-12-01T10:00:00Z,rollback,v41,"checkout-web, canary 41"\n'
        "2026-12-02T10:00:00Z,rollout,,\n"
    )

    assert releases == [
        PastRelease(2, datetime(2026, 12, 1, 10, tzinfo=UTC), ROLLBACK, "", "v41", "checkout-web, canary 41"),
        PastRelease(3, datetime(2026, 12, 2, 10, tzinfo=UTC), ROLLOUT),
    ]


def test_the_file_written_of_releases_reads_back_as_the_same_releases_line_by_line() -> None:
    written = [
        PastRelease(2, datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC), ROLLBACK, "abc123", "1.4", "web 1.4"),
        PastRelease(3, datetime(2026, 12, 2, 7, tzinfo=timezone(timedelta(hours=-3))), ROLLOUT, 'a,"b"', "", ""),
    ]

    assert parse_release_csv(write_release_csv(written), now=NOW, minutes=60) == written
