"""The labels of a release whose gate was deleted since: the release is gone, its labels stay in
each metric's history. The metric page lists them with their provenance; who recorded the outcome,
or the owner of every metric they went into, may undo them (an undo takes the whole batch, so
not one metric's owner when another's rows are in it); a stranger is refused and nothing changes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import GateMetric, ImportBatch, Indicator, Outcome, OutcomeVia, Release
from tests.api.test_gates import trained
from tests.outcomes.test_record_outcome import BAD_VALUE, metric_named, observed, outcome_state
from tests.pages import messages_of
from tests.refusals import changes_nothing


def labels_of_a_deleted_gate(release: Release, recorder: User) -> ImportBatch:
    observed(release, release.gate.owner, BAD_VALUE, 12)
    release.record_outcome(Outcome.ROLLBACK, recorder, via=OutcomeVia.API)
    batch = ImportBatch.objects.get(release=release)
    release.gate.delete()
    batch.refresh_from_db()
    assert (batch.metric, batch.release) == (None, None)
    return batch


def undo(client: Client, batch: ImportBatch):
    return client.post(reverse("metrics:undo_import", args=[batch.pk]), follow=True)


def test_the_metric_page_lists_the_labels_of_a_deleted_release_and_its_owner_undoes_them(
    client: Client, owner: User, contributor: User, release: Release
) -> None:
    metric = metric_named(release, "Error rate")
    batch = labels_of_a_deleted_gate(release, contributor)
    client.force_login(owner)

    page = client.get(metric.get_absolute_url()).content.decode()
    assert "Outcome of release checkout-web: rolled back" in page
    assert "from the outcome of a release deleted since" in page
    assert reverse("metrics:undo_import", args=[batch.pk]) in page

    response = undo(client, batch)

    assert response.status_code == 200
    assert not Indicator.objects.filter(batch=batch).exists()
    assert ImportBatch.objects.get(pk=batch.pk).undone_at is not None
    assert messages_of(response) == [
        "Undone: the 2 indicators of “Outcome of release checkout-web: rolled back” were deleted."
    ]


def test_who_recorded_the_outcome_undoes_the_labels_of_a_deleted_release(
    client: Client, contributor: User, release: Release
) -> None:
    batch = labels_of_a_deleted_gate(release, contributor)
    client.force_login(contributor)

    undo(client, batch)

    assert not Indicator.objects.filter(batch=batch).exists()


@pytest.mark.parametrize("who", ["owner", "stranger"])
def test_labels_also_in_someone_elses_metric_are_not_one_metric_owners_to_undo_and_nothing_changes(
    client: Client, owner: User, contributor: User, stranger: User, release: Release, who: str
) -> None:
    theirs = trained(stranger, "Their latency")
    GateMetric.objects.create(gate=release.gate, metric=theirs, weight=1)
    release.observe(theirs, BAD_VALUE, owner, minutes=12)
    batch = labels_of_a_deleted_gate(release, contributor)
    assert Indicator.objects.filter(batch=batch, metric=theirs).exists()
    client.force_login({"owner": owner, "stranger": stranger}[who])

    with changes_nothing(outcome_state):
        response = client.post(reverse("metrics:undo_import", args=[batch.pk]))

    assert response.status_code == 403
