"""Production's settings (`mbreak.settings`, from the same environment) with the benchmark's
URLconf, which adds the verdict's floor (`bench/floor.py`): `DJANGO_SETTINGS_MODULE=bench.settings`."""

from mbreak.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor"
