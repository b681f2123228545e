"""Every installed package is pinned, and the README tells a newcomer what they need."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Installed by `python -m venv` itself, not by the requirement files.
BOOTSTRAP = {"pip", "setuptools", "wheel"}


def pins_for_this_python() -> dict[str, str]:
    pins: dict[str, str] = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-r "):
                continue
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate():
                (specifier,) = requirement.specifier
                assert specifier.operator == "==", f"{line}: pin an exact version"
                pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def test_every_installed_package_is_pinned_at_its_installed_version() -> None:
    installed = {
        str(canonicalize_name(distribution.metadata["Name"])): distribution.version
        for distribution in metadata.distributions()
        if canonicalize_name(distribution.metadata["Name"]) not in BOOTSTRAP
    }
    assert installed == pins_for_this_python()


def test_the_readme_says_how_to_serve_administer_stop_reset_and_rotate_keys() -> None:
    readme = (ROOT / "README.md").read_text()
    for needed in ("make run", "make test", "PORT=", "HOST=", "createsuperuser", "Ctrl+C", "rm db.sqlite3"):
        assert needed in readme, needed
    for setting in ("SECRET_KEY_FALLBACKS", "MBREAK_MODEL_SIGNING_KEY", "MBREAK_MODEL_SIGNING_KEY_FALLBACKS"):
        assert f"`{setting}`" in readme, setting
    assert "manage.py train --unusable" in readme
