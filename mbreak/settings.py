"""Settings for Make or Break, read from the environment.

The defaults are for local use only: SQLite in the project folder and DEBUG on, so
one can check out the code and run it. Production sets SECRET_KEY, DEBUG=0,
ALLOWED_HOSTS and DATABASE_URL.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab

from stores.reach import AllowedHosts

django_stubs_ext.monkeypatch()  # ModelAdmin[Metric] and the like, for the type hints

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


# A crontab expression's fields, in order, with what each takes.
CRONTAB_FIELDS = [
    ("minute", "minute", "0-59"),
    ("hour", "hour", "0-23"),
    ("day_of_month", "day of the month", "1-31"),
    ("month_of_year", "month", "1-12 or jan-dec"),
    ("day_of_week", "day of the week", "0-6 from Sunday, or sun-sat"),
]


def env_crontab(name: str, default: str) -> crontab | None:
    """A schedule as a crontab expression ("0 3 * * *": minute, hour, day of the month, month, day
    of the week), as Celery's beat runs it; None when it is empty or "off". A bad expression
    stops the start, saying what is wrong, rather than running on some other schedule."""
    text = os.environ.get(name, default).strip()
    if text.lower() in {"", "off"}:
        return None
    fields = text.split()
    if len(fields) != len(CRONTAB_FIELDS):
        raise RuntimeError(
            f'{name}="{text}" is not a crontab expression: it takes five fields (minute, hour, day of the '
            f'month, month, day of the week), e.g. "0 3 * * *" for 03:00 every day; "off" turns it off.'
        )
    for (field, words, takes), value in zip(CRONTAB_FIELDS, fields, strict=True):
        try:
            crontab(**{field: value})
        except Exception as error:  # celery raises ValueError or its ParseException
            raise RuntimeError(
                f'{name}="{text}": its {words} field "{value}" is not valid ({takes}, "*", a range "a-b", '
                f'a list "a,b" or a step "*/n").'
            ) from error
    try:
        return crontab(**dict(zip([field for field, _words, _takes in CRONTAB_FIELDS], fields, strict=True)))
    except Exception as error:  # a day that never comes: "0 3 30 2 *"
        raise RuntimeError(f'{name}="{text}" is not a schedule that runs: {error}') from error


DEBUG = env_bool("DEBUG", True)
# The fallback key is public: it only exists so that a fresh clone runs locally.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "local-development-only-not-a-secret"  # noqa: S105
# Older keys still accepted while a new SECRET_KEY is rolled out (sessions, stored models).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    # Every request would get a 400 while /healthz (answered whatever the host) says healthy.
    raise RuntimeError("ALLOWED_HOSTS must be set when DEBUG is off (the site's host names, comma-separated).")
if not DEBUG and not os.environ.get("REDIS_URL"):
    # Without it each process would count log-in failures and API rates alone (a limit
    # multiplied by the processes), and jobs would wait in a folder of this machine.
    raise RuntimeError(
        "REDIS_URL must be set when DEBUG is off: the job queue, the log-in lockout and the API's "
        "rate limits are shared through it (redis://host:6379/0)."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs' assets, served from here (no CDN)
    "accounts",
    "metrics",
    "api",
]

MIDDLEWARE = [
    # First: the load balancer's health check asks by the instance's address, which is no
    # allowed host, and needs no session.
    "mbreak.middleware.HealthCheckMiddleware",
    "mbreak.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mbreak.middleware.ContentSecurityPolicyMiddleware",
]

if not DEBUG:
    # In production gunicorn serves the collected static files itself; in development
    # runserver (and the test live server) serve them from the apps and static/.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

ROOT_URLCONF = "mbreak.urls"
WSGI_APPLICATION = "mbreak.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if not DEBUG and not os.environ.get("DATABASE_URL"):
    # Each app server would silently get its own SQLite file.
    raise RuntimeError("DATABASE_URL must be set when DEBUG is off.")
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections: opening one per request cost a logged-in page 10x its time.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        # A request's reused connection is checked first: one `SELECT 1` round trip on
        # PostgreSQL (none on SQLite), the same for every request (the API bench's floor pays
        # it as the verdict does). Kept: without it, after a database failover or restart each
        # worker thread's dead connection failed its next request with a 500 before Django
        # dropped it (`close_if_unusable_or_obsolete` acts only at the request's end).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing with "database is locked": every
    # transaction takes the write lock when it begins, and waits up to 20 s for it.
    # Write-ahead log: pages keep reading while a worker stores a big file (with the default
    # journal, a long write locks readers out, and they failed with "database is locked").
    # In WAL mode, synchronous=NORMAL is as safe from corruption and syncs at checkpoints
    # rather than at every commit (SQLite's own advice for WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Seconds Redis (the cache, the API's rate limits, the log-in lockout, the job queue) has to
# accept a connection and to answer each command. Each use goes on without it when it fails
# (logged); without a bound, a Redis that accepts connections and never answers held each
# request's thread for ever, and after a few health checks the instance served nothing.
MBREAK_REDIS_TIMEOUT = env_float("MBREAK_REDIS_TIMEOUT", 1.0)
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {"socket_connect_timeout": MBREAK_REDIS_TIMEOUT, "socket_timeout": MBREAK_REDIS_TIMEOUT},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.VisiblePasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "metrics:list"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en"
# Each language is offered under its own name, short enough for the menu bar.
LANGUAGES = [("en", "English"), ("pt-br", "Português")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}


SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Behind Elastic Beanstalk's load balancer, which ends TLS and says so in X-Forwarded-Proto.
# Only trust that header where a proxy sets it: a client could send it too.
if env_bool("BEHIND_TLS_PROXY", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# /healthz is asked over plain HTTP by the load balancer, from inside the VPC.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Submitting a domain to the browsers' preload list is a lasting commitment for the whole
# domain, the owner's call, not a default: without it `check --deploy` would warn.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# The proxies in front of the app (addresses or networks, comma-separated): the client's
# address is the last one X-Forwarded-For names before them (`mbreak.http.client_address`),
# and the header is ignored when the request does not come from one of them. None by
# default: anyone can send that header. On Elastic Beanstalk, nginx (127.0.0.1) and the load
# balancer (in the VPC's private network): see .ebextensions/01_django.config.
MBREAK_TRUSTED_PROXIES = env_list("MBREAK_TRUSTED_PROXIES", "")
for _proxy in MBREAK_TRUSTED_PROXIES:
    ipaddress.ip_network(_proxy, strict=False)  # a typo fails at start, not at each request
# The clients that may read /metrics without a token (addresses or networks, comma-separated;
# read past MBREAK_TRUSTED_PROXIES as every client address is): a Prometheus in the same
# network. None by default: only a metrics-scope token reads it.
MBREAK_METRICS_ALLOWED_ADDRESSES = env_list("MBREAK_METRICS_ALLOWED_ADDRESSES", "")
for _allowed in MBREAK_METRICS_ALLOWED_ADDRESSES:
    ipaddress.ip_network(_allowed, strict=False)  # a typo fails at start, not at each scrape
# Failed logins allowed per account before they are refused for a while.
MBREAK_LOGIN_ATTEMPTS = env_int("MBREAK_LOGIN_ATTEMPTS", 5)
MBREAK_LOGIN_LOCKOUT_SECONDS = env_int("MBREAK_LOGIN_LOCKOUT_SECONDS", 15 * 60)

# Make or Break's own settings.
MBREAK_MAX_UPLOAD_BYTES = env_int("MBREAK_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
MBREAK_CHART_MAX_POINTS = env_int("MBREAK_CHART_MAX_POINTS", 3000)
# Signs stored models (HMAC). Unset, a key derived from SECRET_KEY (and SECRET_KEY_FALLBACKS)
# is used. To rotate it, move the old key to the fallbacks: models it signed stay usable.
MBREAK_MODEL_SIGNING_KEY = os.environ.get("MBREAK_MODEL_SIGNING_KEY", "")
MBREAK_MODEL_SIGNING_KEY_FALLBACKS = env_list("MBREAK_MODEL_SIGNING_KEY_FALLBACKS", "")
# Encrypts the data sources' secrets (Fernet; any string). Unset, a key derived from SECRET_KEY
# (and SECRET_KEY_FALLBACKS). To rotate it, move the old key to the fallbacks, then run
# `manage.py rotate_secrets` (which encrypts every secret again with the new key).
MBREAK_SECRETS_KEY = os.environ.get("MBREAK_SECRETS_KEY", "")
MBREAK_SECRETS_KEY_FALLBACKS = env_list("MBREAK_SECRETS_KEY_FALLBACKS", "")
# The longest a data source is waited for, per question, within a web request (Test connection,
# a query's preview), whatever its own timeout (which pulls and fills, in workers, wait): a
# page answers well within gunicorn's 120 s.
MBREAK_SOURCE_REQUEST_TIMEOUT = env_float("MBREAK_SOURCE_REQUEST_TIMEOUT", 15.0)
# Where data sources may be (a Prometheus' URL, a CloudWatch endpoint): host names, ".domains"
# (a domain and the names under it), networks (CIDR) or single addresses, or "*". Empty, the
# default, is any host, so that a source on the same machine or network works out of the box
# (the demo's, the tests'): any user may then make the server ask its own network's services
# (server-side request forgery). Set it in production. The instance metadata service
# (169.254.0.0/16, fe80::/10, fd00:ec2::254) is refused whatever it says, unless a network of it
# lies within them. Checked when a source is saved and each time it is asked.
MBREAK_SOURCE_ALLOWED_HOSTS = env_list("MBREAK_SOURCE_ALLOWED_HOSTS", "")
AllowedHosts.parse(MBREAK_SOURCE_ALLOWED_HOSTS)  # a typo fails at start, not at each source
# Whether every user may read CloudWatch with the server's own AWS identity (its environment or
# instance role): off, only staff may, so that a user cannot read what the server's role can.
MBREAK_SOURCE_SERVER_CREDENTIALS = env_bool("MBREAK_SOURCE_SERVER_CREDENTIALS", False)
# Larger metrics train on a stratified sample of this many rows, to bound training time.
MBREAK_MAX_TRAINING_ROWS = env_int("MBREAK_MAX_TRAINING_ROWS", 50_000)

# Background jobs (Celery). The broker is Redis in production (REDIS_URL, ElastiCache on
# AWS); without it, a folder on this machine, so that `make run` needs no server and still
# runs every job in a worker process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, str | float]
if CELERY_BROKER_URL == "filesystem://":
    _BROKER_FOLDER = BASE_DIR / ".broker"
    _BROKER_FOLDER.mkdir(exist_ok=True)
    # kombu keeps its exchange tables in ./control unless told otherwise: keep them with the
    # messages, out of the project's tree.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_FOLDER),
        "data_folder_out": str(_BROKER_FOLDER),
        "control_folder": str(_BROKER_FOLDER / "control"),
    }
else:
    # Kombu sets no timeout of its own (a hung Redis held a Train click, and /healthz, for
    # ever). A worker's read waits up to a second for a job (BRPOP) before Redis answers,
    # hence that second more to read.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": MBREAK_REDIS_TIMEOUT,
        "socket_timeout": MBREAK_REDIS_TIMEOUT + 1,
    }
    # Sending a job tries twice, not four times: the page that sends it waits for the answer.
    CELERY_TASK_PUBLISH_RETRY_POLICY = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A job is acknowledged when it ends, not when it starts: a worker killed in the middle
# leaves it to be run again (jobs are idempotent) or swept as failed.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Workers log through LOGGING (one JSON line a job in production), not Celery's own handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("MBREAK_JOB_QUEUE", "mbreak")
CELERY_TASK_SOFT_TIME_LIMIT = env_int("MBREAK_JOB_SOFT_TIME_LIMIT", 30 * 60)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
# A running job whose worker has said nothing for this long was abandoned (the worker was
# killed or lost its machine): it is marked failed, with a message, rather than left running.
# A running job says so every sixth of it, from a thread of its own, however long its step.
MBREAK_JOB_HEARTBEAT_TIMEOUT = env_int("MBREAK_JOB_HEARTBEAT_TIMEOUT", 60)
# A job still queued this long after it was sent is sent again (its message was lost, or
# waits for a worker that died: Redis hands such a message on after an hour, hence 65
# minutes); a job sent twice runs once.
MBREAK_JOB_RESEND_AFTER = env_int("MBREAK_JOB_RESEND_AFTER", 65 * 60)
# Every worker started with --beat sweeps abandoned jobs three times a heartbeat timeout, so
# that a dead worker's job is failed about a minute after its last beat (running it on several
# instances at once is harmless: the sweep is a few idempotent UPDATEs).
# How often the beat looks for releases whose bound metrics are due to be pulled from their
# data sources (each release then has a task of its own; a gate pulls at most every 10 s).
MBREAK_PULL_TICK_SECONDS = env_int("MBREAK_PULL_TICK_SECONDS", 10)
# Range queries a history fill sends at once: the job waits on the store, not on its own process.
MBREAK_FILL_READERS = env_int("MBREAK_FILL_READERS", 4)
# The address people reach this server at: the release links in webhook messages, which are
# composed by workers, outside any request.
MBREAK_SITE_URL = os.environ.get("MBREAK_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Webhooks: seconds a receiver has to accept the connection and to answer; how many times a
# message is tried before it is failed; the wait after the first failed try, doubled after each.
MBREAK_WEBHOOK_TIMEOUT = env_float("MBREAK_WEBHOOK_TIMEOUT", 10.0)
MBREAK_WEBHOOK_ATTEMPTS = env_int("MBREAK_WEBHOOK_ATTEMPTS", 6)
MBREAK_WEBHOOK_BACKOFF_SECONDS = env_int("MBREAK_WEBHOOK_BACKOFF_SECONDS", 30)
# The days a delivery delivered or failed stays in the log: the beat prunes older ones daily.
MBREAK_WEBHOOK_KEEP_DAYS = env_int("MBREAK_WEBHOOK_KEEP_DAYS", 30)
if MBREAK_WEBHOOK_KEEP_DAYS < 1:
    raise RuntimeError(f"MBREAK_WEBHOOK_KEEP_DAYS={MBREAK_WEBHOOK_KEEP_DAYS}: the days to keep deliveries, 1 or more.")
# Where webhooks may send, as MBREAK_SOURCE_ALLOWED_HOSTS says where sources may be (host names,
# ".domains", networks or addresses, or "*"). Empty, the default, is any host: a receiver in
# the same cluster is common. The instance metadata service is refused whatever it says (unless
# a network of it lies within them). Checked when a webhook is saved and before each try.
MBREAK_WEBHOOK_ALLOWED_HOSTS = env_list("MBREAK_WEBHOOK_ALLOWED_HOSTS", "")
AllowedHosts.parse(MBREAK_WEBHOOK_ALLOWED_HOSTS)  # a typo fails at start, not at each message
# The beat's tick, each release's pull and each webhook delivery (and the sweep of lost ones)
# run on a queue of their own, read by a worker of their own (the Procfiles' `pulls`: threads,
# since a pull waits on its store and a delivery on its receiver, not the CPU), so that a long
# training never holds up a release's observations or a message, and a receiver that hangs
# never holds a job worker's process. The Procfiles name it: change both together.
MBREAK_PULL_QUEUE = os.environ.get("MBREAK_PULL_QUEUE", "mbreak-pulls")
CELERY_TASK_ROUTES = {
    "metrics.tasks.pull_due_releases": {"queue": MBREAK_PULL_QUEUE},
    "metrics.tasks.pull_release": {"queue": MBREAK_PULL_QUEUE},
    "metrics.tasks.deliver_webhook": {"queue": MBREAK_PULL_QUEUE},
    "metrics.tasks.send_lost_deliveries": {"queue": MBREAK_PULL_QUEUE},
    "metrics.tasks.prune_deliveries": {"queue": MBREAK_PULL_QUEUE},
}
CELERY_BEAT_SCHEDULE = {
    "sweep-abandoned-jobs": {
        "task": "metrics.tasks.sweep_abandoned_jobs",
        "schedule": max(1.0, MBREAK_JOB_HEARTBEAT_TIMEOUT / 3),
    },
    "pull-due-releases": {
        "task": "metrics.tasks.pull_due_releases",
        "schedule": max(1.0, MBREAK_PULL_TICK_SECONDS),
    },
    # Webhook messages whose task was lost (a broker flushed, a worker killed mid-send) are sent again.
    "send-lost-webhook-deliveries": {
        "task": "metrics.tasks.send_lost_deliveries",
        "schedule": 60.0,
    },
    # The delivery log keeps MBREAK_WEBHOOK_KEEP_DAYS of what was delivered or failed.
    "prune-webhook-deliveries": {
        "task": "metrics.tasks.prune_deliveries",
        "schedule": crontab(minute=30, hour=4),
    },
}
# A crontab schedule is read in the site's time zone, the one its pages show times in.
CELERY_TIMEZONE = TIME_ZONE
# When the beat trains again every metric with new labelled data since its model (nightly at
# 03:00 by default; "off" turns it off): the Train button's jobs, one per metric.
MBREAK_RETRAIN_SCHEDULE = env_crontab("MBREAK_RETRAIN_SCHEDULE", "0 3 * * *")
if MBREAK_RETRAIN_SCHEDULE is not None:
    CELERY_BEAT_SCHEDULE["retrain-metrics"] = {
        "task": "metrics.tasks.retrain_metrics",
        "schedule": MBREAK_RETRAIN_SCHEDULE,
    }

# One JSON object a line (LOG_FORMAT=json, the default in production) for the platform's
# log collection; plain text for a developer's terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "mbreak.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Each request is logged once, with its duration, by mbreak.middleware.RequestLogMiddleware.
    "loggers": {"django.server": {"level": "WARNING"}},
}

# The JSON API (/api/v1/): personal tokens or the browser's session, JSON only, errors as
# RFC 9457 problem details, per-token rate limits counted in the shared cache.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.SignedInWithScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.PerTokenThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": os.environ.get("MBREAK_API_RATE", "600/minute")},
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.FirstRendererOtherwise",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.problem_details",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "URL_FORMAT_OVERRIDE": None,  # the Accept header chooses; no ?format= beside the filters
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Make or Break API",
    "DESCRIPTION": "Verdicts (rollback, rollout or inconclusive) learnt from a team's past rollout decisions.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Without deep links, each operation's summary is one button, with no link nested in it.
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_problem_responses",
        "api.schema.close_request_objects",
        "api.schema.require_answer_properties",
    ],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "DecisionEnum": "metrics.models.metric.Decision.words",
        "VerdictEnum": "metrics.models.verdict.VerdictState.values",
        "SourceKindEnum": "metrics.models.data_source.SourceKind.choices",
        "JobKindEnum": "metrics.models.job.JobKind.choices",
    },
}
