"""The Elastic Beanstalk files say what the deployment needs, checked without deploying.

A typo in these files only shows on the next `eb deploy`, as a failed or, worse, a
half-working environment; these tests read them as the platform would and check them
against the application itself (its WSGI callable, its settings, gunicorn's own parser).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from gunicorn.config import Config  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
EB_CONFIG = ROOT / ".ebextensions" / "01_django.config"
PROCFILE = ROOT / "Procfile"
NGINX_CONF = ROOT / ".platform" / "nginx" / "conf.d" / "upload.conf"
ACTIVATE_VENV = "source /var/app/venv/*/bin/activate && "
NGINX_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
NGINX_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


@pytest.fixture(scope="module")
def eb_config() -> dict[str, Any]:
    config = yaml.safe_load(EB_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


@pytest.fixture(scope="module")
def environment(eb_config: dict[str, Any]) -> dict[str, str]:
    return eb_config["option_settings"]["aws:elasticbeanstalk:application:environment"]


@pytest.fixture(scope="module")
def gunicorn_options() -> argparse.Namespace:
    processes = dict(_procfile_line(line) for line in PROCFILE.read_text(encoding="utf-8").splitlines() if line.strip())
    argv = shlex.split(processes["web"])
    assert argv[0] == "gunicorn"
    # gunicorn's own parser: an option this version does not know fails here, not on the instance.
    return Config().parser().parse_args(argv[1:])


def _procfile_line(line: str) -> tuple[str, str]:
    name, separator, command = line.partition(":")
    assert separator, f"Procfile line without 'name: command': {line!r}"
    return name.strip(), command.strip()


def _container_command(eb_config: dict[str, Any], management_command: str) -> dict[str, Any]:
    matches = [
        entry
        for entry in eb_config["container_commands"].values()
        if re.search(rf"\bmanage\.py {management_command}\b", entry["command"])
    ]
    assert len(matches) == 1, f"expected one container command running {management_command}, found {len(matches)}"
    return matches[0]


def _nginx_directive(name: str) -> str:
    text = NGINX_CONF.read_text(encoding="utf-8")
    found = re.findall(rf"^\s*{name}\s+(\S+)\s*;", text, flags=re.MULTILINE)
    assert len(found) == 1, f"expected one {name} directive in {NGINX_CONF.name}, found {found}"
    return found[0]


def _nginx_bytes(size: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", size)
    assert match, f"not an nginx size: {size!r}"
    return int(match[1]) * NGINX_SIZE_UNITS[match[2].lower()]


def _nginx_seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smh]?)", duration)
    assert match, f"not an nginx duration: {duration!r}"
    return int(match[1]) * NGINX_TIME_UNITS[match[2]]


# WhiteNoise warns that STATIC_ROOT does not exist: collectstatic runs on deployment, not here.
@pytest.mark.filterwarnings("ignore:No directory at:UserWarning")
def test_wsgi_path_names_the_callable_wsgi_application(eb_config: dict[str, Any]) -> None:
    wsgi_path = eb_config["option_settings"]["aws:elasticbeanstalk:container:python"]["WSGIPath"]
    module_name, _, attribute = wsgi_path.partition(":")

    application = getattr(importlib.import_module(module_name), attribute)

    assert callable(application)
    # The same object Django's own servers (runserver) use.
    settings_module, _, settings_attribute = settings.WSGI_APPLICATION.rpartition(".")
    assert (module_name, attribute) == (settings_module, settings_attribute)


def test_environment_runs_the_production_settings_with_debug_off(environment: dict[str, str]) -> None:
    assert environment["DJANGO_SETTINGS_MODULE"] == "mbreak.settings"
    assert str(environment["DEBUG"]).strip().lower() in {"0", "false", "no", "off"}


@pytest.mark.parametrize("secret", ["SECRET_KEY", "DATABASE_URL"])
def test_secrets_are_left_to_the_console_not_committed(environment: dict[str, str], secret: str) -> None:
    assert secret not in environment


def test_migrations_run_once_per_deployment_on_the_leader_only(eb_config: dict[str, Any]) -> None:
    migrate = _container_command(eb_config, "migrate")

    assert migrate["leader_only"] is True
    assert "--noinput" in migrate["command"].split()


def test_static_files_are_collected_on_every_instance(eb_config: dict[str, Any]) -> None:
    collectstatic = _container_command(eb_config, "collectstatic")

    assert collectstatic.get("leader_only", False) is False
    assert "--noinput" in collectstatic["command"].split()


@pytest.mark.parametrize("management_command", ["migrate", "collectstatic"])
def test_management_commands_run_inside_the_platform_virtualenv(
    eb_config: dict[str, Any], management_command: str
) -> None:
    # Outside the virtualenv, `python` is the system's, without Django.
    assert _container_command(eb_config, management_command)["command"].startswith(ACTIVATE_VENV)


def test_static_files_are_left_to_whitenoise_not_mapped_to_nginx(eb_config: dict[str, Any]) -> None:
    """nginx's /static mapping would serve the files itself, uncompressed and without a cache
    lifetime; WhiteNoise serves the compressed copies with a one-year immutable lifetime
    (tests/test_production.py)."""
    assert "aws:elasticbeanstalk:environment:proxy:staticfiles" not in eb_config["option_settings"]


def test_auto_scaling_keeps_one_instance_and_adds_at_most_one_more(eb_config: dict[str, Any]) -> None:
    asg = eb_config["option_settings"]["aws:autoscaling:asg"]

    assert (int(asg["MinSize"]), int(asg["MaxSize"])) == (1, 2)


def test_procfile_runs_gunicorn_on_the_django_application(gunicorn_options: argparse.Namespace) -> None:
    assert gunicorn_options.args == ["mbreak.wsgi:application"]
    # Elastic Beanstalk's nginx proxies to port 8000 on the instance itself; nothing else
    # should reach gunicorn, which trusts the X-Forwarded-Proto that nginx sets.
    assert gunicorn_options.bind == ["127.0.0.1:8000"]
    assert gunicorn_options.workers >= 2


def test_gunicorn_restarts_a_worker_process_silent_for_two_minutes(gunicorn_options: argparse.Namespace) -> None:
    assert gunicorn_options.timeout >= 120


def test_a_busy_gunicorn_worker_leaves_new_requests_to_an_idle_one(gunicorn_options: argparse.Namespace) -> None:
    """A worker took every connection it could, and kept them alive: under load one worker
    held 18 of 20 users on its 2 threads while the other two served one user each. Taking
    no more connections than it has threads, and closing each after its answer (nginx
    opens one per request anyway), leaves waiting requests in the shared queue of the
    listening socket, for whichever worker has a free thread."""
    assert gunicorn_options.worker_connections == gunicorn_options.threads
    assert gunicorn_options.keepalive == 0


def test_each_request_is_logged_once_as_json_by_the_app_not_again_by_gunicorn(
    gunicorn_options: argparse.Namespace,
) -> None:
    assert "mbreak.middleware.RequestLogMiddleware" in settings.MIDDLEWARE
    assert gunicorn_options.accesslog is None
    assert gunicorn_options.errorlog == "-"  # gunicorn's own messages still reach the platform's logs


def test_two_gunicorn_servers_on_one_host_do_not_share_a_control_socket(
    gunicorn_options: argparse.Namespace,
) -> None:
    assert gunicorn_options.control_socket_disable


def test_nginx_accepts_the_largest_upload_the_app_accepts() -> None:
    limit = _nginx_bytes(_nginx_directive("client_max_body_size"))

    # The file travels inside a multipart body with the form's other fields: nginx must
    # let a file of exactly the app's limit through, so that the app explains the limit.
    assert limit >= settings.MBREAK_MAX_UPLOAD_BYTES + 64 * 1024


def test_nginx_waits_for_gunicorn_as_long_as_gunicorn_waits_for_the_app(
    gunicorn_options: argparse.Namespace,
) -> None:
    assert _nginx_seconds(_nginx_directive("proxy_read_timeout")) >= gunicorn_options.timeout


def test_the_load_balancer_waits_longer_than_gunicorn(
    eb_config: dict[str, Any], gunicorn_options: argparse.Namespace
) -> None:
    options = eb_config["option_settings"]
    assert options["aws:elasticbeanstalk:environment"]["LoadBalancerType"] == "application"
    assert int(options["aws:elbv2:loadbalancer"]["IdleTimeout"]) > gunicorn_options.timeout


def test_the_load_balancer_health_check_asks_the_apps_health_endpoint(
    eb_config: dict[str, Any], client, db: None
) -> None:
    process = eb_config["option_settings"]["aws:elasticbeanstalk:environment:process:default"]
    # As the balancer asks: by the instance's private address, which is no allowed host, without a cookie.
    response = client.get(process["HealthCheckPath"], HTTP_HOST="172.31.5.17")
    assert response.status_code == int(process["MatcherHTTPCode"])
    assert response.json() == {"database": True, "cache": True, "broker": True}


def test_the_procfile_runs_a_celery_worker_of_the_application_on_the_default_queue() -> None:
    processes = dict(_procfile_line(line) for line in PROCFILE.read_text(encoding="utf-8").splitlines() if line.strip())
    argv = shlex.split(processes["worker"])
    assert argv[:4] == ["celery", "-A", "mbreak", "worker"]
    assert "-Q" not in argv  # the queue the web enqueues to: CELERY_TASK_DEFAULT_QUEUE
    from mbreak.celery import app

    app.loader.import_default_modules()  # what a worker does at start: finds the apps' tasks
    assert "metrics.tasks.run_job" in app.tasks


def test_the_worker_also_sweeps_abandoned_jobs_so_that_a_dead_workers_job_ends_in_about_a_minute() -> None:
    from django.conf import settings as django_settings

    for procfile in (PROCFILE, ROOT / "Procfile.dev"):
        lines = dict(_procfile_line(line) for line in procfile.read_text(encoding="utf-8").splitlines() if line.strip())
        assert "--beat" in shlex.split(lines["worker"]), procfile
    entry = django_settings.CELERY_BEAT_SCHEDULE["sweep-abandoned-jobs"]
    assert (entry["task"], entry["schedule"]) == ("metrics.tasks.sweep_abandoned_jobs", 20.0)
    # Silent for the timeout, then found by the next sweep: within 80 s of its last beat.
    assert django_settings.MBREAK_JOB_HEARTBEAT_TIMEOUT + 20.0 <= 90


def test_the_worker_looks_for_releases_due_to_be_pulled_every_ten_seconds() -> None:
    """A gate pulls at most every 10 s: a release is then at most a tick late."""
    from django.conf import settings as django_settings

    from mbreak.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["pull-due-releases"]
    assert (entry["task"], entry["schedule"]) == ("metrics.tasks.pull_due_releases", 10)
    app.loader.import_default_modules()
    assert {"metrics.tasks.pull_due_releases", "metrics.tasks.pull_release"} <= set(app.tasks)


def procfile_processes(procfile: Path) -> dict[str, list[str]]:
    lines = procfile.read_text(encoding="utf-8").splitlines()
    return {name: shlex.split(command) for name, command in (_procfile_line(line) for line in lines if line.strip())}


def test_pulls_are_routed_to_a_queue_of_their_own_and_jobs_are_not() -> None:
    """A long training holds the job worker's processes: the pulls must not wait behind it."""
    from django.conf import settings as django_settings

    from mbreak.celery import app

    assert django_settings.MBREAK_PULL_QUEUE == "mbreak-pulls"
    assert django_settings.MBREAK_PULL_QUEUE != django_settings.CELERY_TASK_DEFAULT_QUEUE
    route = app.amqp.router.route
    for task in ("metrics.tasks.pull_due_releases", "metrics.tasks.pull_release"):
        assert route({}, task)["queue"].name == django_settings.MBREAK_PULL_QUEUE
    assert route({}, "metrics.tasks.run_job")["queue"].name == django_settings.CELERY_TASK_DEFAULT_QUEUE


@pytest.mark.parametrize("procfile", ["Procfile", "Procfile.dev", "Procfile.demo"])
def test_every_procfile_runs_a_worker_of_threads_reading_the_pull_queue_alone(procfile: str) -> None:
    """Its own node name (`pulls@` and the host): the job worker, `celery@` and the host, ends the
    jobs its previous run left running as it starts, which a worker of the same name would too."""
    processes = procfile_processes(ROOT / procfile)
    pulls = processes["pulls"]

    assert pulls[pulls.index("-A") + 1 :][:2] == ["mbreak", "worker"]
    assert pulls[pulls.index("-Q") + 1] in ("mbreak-pulls", "${MBREAK_PULL_QUEUE:-mbreak-pulls}")
    assert pulls[pulls.index("-n") + 1] == "pulls@"
    assert pulls[pulls.index("--pool") + 1] == "threads"
    assert int(pulls[pulls.index("--concurrency") + 1]) >= 4
    assert "--beat" not in pulls  # one beat an instance: the job worker's
    assert "-Q" not in processes["worker"]
    assert "-n" not in processes["worker"]


def test_gunicorn_reads_the_projects_config_file_from_the_working_directory(monkeypatch) -> None:
    from gunicorn.config import get_default_config_file

    monkeypatch.chdir(ROOT)

    assert get_default_config_file() == str(ROOT / "gunicorn.conf.py")


def test_gunicorn_workers_start_with_the_verdict_libraries_already_imported(tmp_path) -> None:
    # In a fresh interpreter: the test process has imported scikit-learn long ago.
    check = (
        "import runpy, sys; config = runpy.run_path('gunicorn.conf.py'); "
        "before = 'sklearn.tree' in sys.modules; config['on_starting'](None); "
        "print(config['preload_app'], before, 'sklearn.tree' in sys.modules, 'joblib' in sys.modules)"
    )
    # The folder for /metrics' figures given, not one made in the temporary directory and left there.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run(  # noqa: S603 - this interpreter, our own file
        [sys.executable, "-c", check], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )

    # Loaded once in the master, before the fork: every worker, recycled or not, starts warm.
    assert result.stdout.split() == ["True", "False", "True", "True"]
