"""`manage.py outcome RELEASE_ID rollback|rollout [--note TEXT]`, or `manage.py outcome --gate ID
--key KEY rollback|rollout`: record what the team did with a release, as the server's operator."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext, ngettext

from metrics.models import Gate, Outcome, OutcomeVia, Release
from metrics.models.gate import release_key_error
from metrics.models.metric import LARGEST_ID

RELEASES = Release.objects.select_related("gate", "outcome_by")
ARGUMENTS = "Give RELEASE_ID OUTCOME, or --gate ID --key KEY OUTCOME (OUTCOME: rollback or rollout)."


class Command(BaseCommand):
    help = (
        "Record what the team did with a release in the end (OUTCOME: rollback or rollout), as the server's "
        "operator, through the command line: the release's observations become labelled indicators of their "
        "metrics (one import batch, undone as an upload is), and the gate's track record counts whether it was "
        "right. The same outcome again changes nothing; another replaces it (logged). The release by its id, or "
        "by its gate and key (an outcome starts no release). Prints what was recorded; exit status 0 when it "
        "is recorded (now or already), 1 for an unknown release or a note too long, 2 when the arguments do "
        "not parse."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("release", nargs="?", metavar="RELEASE_ID", help="the release's id (not with --gate)")
        parser.add_argument("outcome", nargs="?", metavar="OUTCOME", help="rollback or rollout")
        parser.add_argument("--gate", type=int, metavar="ID", help="the gate's id, with --key: the release by its key")
        parser.add_argument("--key", help="the release's key in the gate (Argo's pod-template hash, Flagger's ...)")
        parser.add_argument("--note", default="", help="why, in a line or two")

    def handle(self, *args: Any, **options: Any) -> None:
        by_key = options["gate"] is not None or options["key"] is not None
        if by_key:  # the one positional argument is the outcome
            if options["gate"] is None or options["key"] is None or options["outcome"] is not None:
                raise CommandError(ARGUMENTS, returncode=2)
            options["release"], options["outcome"] = None, options["release"]
        if options["outcome"] is None:
            raise CommandError(ARGUMENTS, returncode=2)
        outcome = options["outcome"]
        if outcome not in Outcome.values:
            raise CommandError(f"OUTCOME is rollback or rollout, not {outcome!r}.", returncode=2)
        release = self.release_by_key(options["gate"], options["key"]) if by_key else self.release(options["release"])
        try:
            changed = release.record_outcome(outcome, None, via=OutcomeVia.CLI, note=options["note"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.print_outcome(release, changed=changed)

    def release(self, reference: str) -> Release:
        try:
            release_id = int(reference)
        except ValueError:
            raise CommandError(f"RELEASE_ID is a number, not {reference!r}.", returncode=2) from None
        found = RELEASES.filter(pk=release_id).first() if 0 < release_id <= LARGEST_ID else None
        if found is None:
            raise CommandError(f"No release {release_id}.")
        return found

    def release_by_key(self, gate_id: int, key: str) -> Release:
        """The gate's release with this key (an outcome starts none)."""
        gate = Gate.objects.filter(pk=gate_id).first() if 0 < gate_id <= LARGEST_ID else None
        if gate is None:
            raise CommandError(f"No gate {gate_id}.")
        if message := release_key_error(key):
            raise CommandError(message)
        found = RELEASES.filter(gate=gate, key=key).first()
        if found is None:
            raise CommandError(
                gettext("The gate “%(gate)s” has no release with the key “%(key)s”.") % {"gate": gate.name, "key": key}
            )
        return found

    def print_outcome(self, release: Release, *, changed: bool) -> None:
        said = {"release": release, "gate": release.gate.name, "outcome": release.get_outcome_display().lower()}
        if changed:
            self.stdout.write(self.style.SUCCESS(gettext("Recorded: %(release)s (%(gate)s) was %(outcome)s.") % said))
        else:
            said.update(who=release.outcome_recorder, via=release.outcome_via_display)
            self.stdout.write(
                gettext(
                    "Already recorded: %(release)s (%(gate)s) was %(outcome)s, said by %(who)s through %(via)s. "
                    "Nothing changed."
                )
                % said
            )
        self.stdout.write(f"  {release.outcome_summary}")
        labels = release.outcome_labels
        if labels is not None and labels.undone_at is None:
            self.stdout.write(
                "  "
                + ngettext(
                    "%(count)d observation became a labelled indicator (import %(id)d).",
                    "%(count)d observations became labelled indicators (import %(id)d).",
                    labels.rows,
                )
                % {"count": labels.rows, "id": labels.pk}
            )
        elif labels is not None:
            self.stdout.write("  " + gettext("Its labels were undone (import %(id)d).") % {"id": labels.pk})
        self.stdout.write(gettext("Release page: %(path)s") % {"path": release.get_absolute_url()})
