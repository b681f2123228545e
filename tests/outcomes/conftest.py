"""The fixtures every test of a release's outcome shares: `release`, opened by `contributor` on
the owner's gate of two metrics, one observe-only (tests/outcomes/test_record_outcome.py)."""

from tests.outcomes.test_record_outcome import release

__all__ = ["release"]
