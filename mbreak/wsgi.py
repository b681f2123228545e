import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mbreak.settings")

application = get_wsgi_application()


def _check_static_files_collected() -> None:
    """Fail at boot, not with a 500 on every page: in production the pages name their static
    files through the manifest that `collectstatic` writes."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    manifest = settings.STATIC_ROOT / "staticfiles.json"
    uses_manifest = "Manifest" in settings.STORAGES["staticfiles"]["BACKEND"]  # production's storage
    if uses_manifest and not manifest.exists():
        raise ImproperlyConfigured(
            f"{manifest} is missing: run `python manage.py collectstatic --noinput` before starting the server "
            "(Elastic Beanstalk does it in .ebextensions/01_django.config)."
        )


_check_static_files_collected()
