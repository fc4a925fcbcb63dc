"""Whistle settings. Everything that differs between machines comes from the environment.

See README.md ("Environment variables") for the full list.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from .env import cache_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("WHISTLE_VAR_DIR", str(BASE_DIR / "var")))

# pytest sets PYTEST_VERSION for the whole run (pytest >= 8.2).
TESTING = "PYTEST_VERSION" in os.environ

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-dev-key-only-for-debug-and-tests"
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment "
            "(or DEBUG=1 for local development)."
        )

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS",
    ["127.0.0.1", "localhost", "[::1]", "testserver"] if (DEBUG or TESTING) else [],
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "accounts",
    "workorders",
    "sla",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database -----------------------------------------------------------------------------
# DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/whistle. Default: SQLite file in var/.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'whistle.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 0))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions and a busy
    # timeout make concurrent writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-whistle.sqlite3")}
    VAR_DIR.mkdir(parents=True, exist_ok=True)
# DATABASE_REPLICA_URL: a read-only streaming replica of DATABASE_URL. When set, the report
# page, its order lists, exports and the KPI API read from it (reports/routing.py); every
# write and every other read stay on the primary. Unset: everything on the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL, conn_max_age=env_int("CONN_MAX_AGE", 0)
    )
    # Tests see one database: the replica alias reads the test database itself.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["reports.routing.ReplicaRouter"]
# The create path's statements are prepared once per PostgreSQL session (accounts/statements.py).
# Turn off behind a pooler that does not keep a client on one server session (PgBouncer in
# transaction or statement mode).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASE_PREPARED_STATEMENTS:
    for _alias in DATABASES.values():
        if _alias["ENGINE"] == "django.db.backends.postgresql":
            # Those statements are short look-ups and inserts whose plan does not depend on
            # their parameters: planned once, not again on every call with the values given
            # (which PostgreSQL's default may keep doing). Only prepared statements are
            # concerned; every other query is planned as before.
            _options = _alias.setdefault("OPTIONS", {})
            _options["options"] = (
                _options.get("options", "") + " -c plan_cache_mode=force_generic_plan"
            ).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

# --- I18N / time --------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "templates" / "locale"]  # project-wide templates; apps keep their own
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Uploads live outside the static tree and are served only through a permission-checking view.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
WHITENOISE_MAX_AGE = env_int("WHITENOISE_MAX_AGE", 0 if DEBUG else 31536000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)

# --- Sessions and security ----------------------------------------------------------------
# A field engineer stays logged in for a working day.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and not TESTING)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG and not TESTING)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Email --------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "whistle@localhost")
# The SMTP backend's server (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
# Seconds per SMTP operation: a mail server that stops answering must not hold a worker (the
# outbox lease assumes every send gives up well within it).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)

# --- Celery -------------------------------------------------------------------------------
# Default broker: Celery's filesystem transport under var/, so the demo needs no server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A broker that is down or hung costs a publisher (the web request ringing the outbox
    # doorbell) at most these timeouts instead of blocking; without a socket timeout a publish
    # on a dead connection waits forever.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": env_int("CELERY_BROKER_CONNECT_TIMEOUT", 2),
        "socket_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 3),
    }
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECT_TIMEOUT", 2)
# Workers keep retrying the broker at start-up and after losing it, however long it is away
# (Celery's default gives up after 100 tries): recovery is automatic.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}

# --- Demo ---------------------------------------------------------------------------------
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "whistle-demo")

# --- REST framework -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Whistle API",
    "DESCRIPTION": "一线吹哨，部门报到 — work-order workflow API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- tests (issue 2) ---
if TESTING:
    # PBKDF2 costs ~0.3 s per password; the suite creates hundreds of users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- sla engine and notifications (issue 3) ---
SLA_SWEEP_SECONDS = env_int("SLA_SWEEP_SECONDS", 60)
SLA_SWEEP_BATCH = env_int("SLA_SWEEP_BATCH", 500)
SLA_AUTO_CLOSE_HOURS = env_int("SLA_AUTO_CLOSE_HOURS", 72)
# How long a process keeps its copy of SLA rules and calendars at most (sla/reference.py); an
# edit is seen at once in the process that made it and within a second elsewhere with a shared
# cache.
SLA_REFERENCE_CACHE_SECONDS = env_int("SLA_REFERENCE_CACHE_SECONDS", 60)
NOTIFY_EMAIL = env_bool("NOTIFY_EMAIL", True)
# Every webhook POST: (connect, read) timeouts in seconds. WEBHOOK_TIMEOUT_SECONDS is the
# older name of the read timeout.
WEBHOOK_TIMEOUT = (
    env_int("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 3),
    env_int("WEBHOOK_READ_TIMEOUT_SECONDS", env_int("WEBHOOK_TIMEOUT_SECONDS", 5)),
)
# The outbox (notifications.outbox): every e-mail, webhook and SMS is a row sent by the relay.
# Attempts and backoff apply to every channel (WEBHOOK_* are their older names).
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", env_int("WEBHOOK_MAX_ATTEMPTS", 6))
OUTBOX_BACKOFF_SECONDS = env_int("OUTBOX_BACKOFF_SECONDS", env_int("WEBHOOK_BACKOFF_SECONDS", 30))
OUTBOX_BACKOFF_MAX_SECONDS = env_int(
    "OUTBOX_BACKOFF_MAX_SECONDS", env_int("WEBHOOK_BACKOFF_MAX_SECONDS", 3600)
)
# A claimed row is due again this long after its claim (its worker died): longer than any one
# send may take (webhook connect + read timeout, EMAIL_TIMEOUT per SMTP step).
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 120)
# Rows claimed per batch; rows and seconds per relay run (then it rings itself again). The
# budget also bounds how long a worker that consumes every queue (the embedded default) can be
# kept from the sweep by slow receivers: budget + one send, well within the sweep interval.
OUTBOX_RELAY_BATCH = env_int("OUTBOX_RELAY_BATCH", 50)
OUTBOX_RELAY_LIMIT = env_int("OUTBOX_RELAY_LIMIT", 1000)
OUTBOX_RELAY_BUDGET_SECONDS = env_int("OUTBOX_RELAY_BUDGET_SECONDS", 15)
# Beat runs the relay this often as the safety net for doorbells lost while the broker was down.
OUTBOX_RELAY_SECONDS = env_int("OUTBOX_RELAY_SECONDS", 30)
# The one schedule source (no django-celery-beat). A sweep not started within its interval
# expires instead of piling up behind a stopped worker; the next one catches up.
CELERY_BEAT_SCHEDULE["sla-sweep"] = {
    "task": "sla.tasks.sla_sweep_task",
    "schedule": float(SLA_SWEEP_SECONDS),
    "options": {"expires": float(SLA_SWEEP_SECONDS)},
}
CELERY_BEAT_SCHEDULE["outbox-relay"] = {
    "task": "notifications.tasks.outbox_relay_task",
    "schedule": float(OUTBOX_RELAY_SECONDS),
    "options": {"expires": float(OUTBOX_RELAY_SECONDS)},
}
# One queue per kind of work, so a slow kind never delays another: `sla` (the sweep), `notify`
# (the outbox relay: network calls to mail servers and webhook receivers), `reports` (workbooks),
# `celery` (anything else). A worker started without -Q consumes all of them (the embedded
# default); production runs a worker per queue (README).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue(name) for name in (CELERY_TASK_DEFAULT_QUEUE, "sla", "notify", "reports")
]
CELERY_TASK_ROUTES = {
    "sla.tasks.*": {"queue": "sla"},
    "notifications.tasks.*": {"queue": "notify"},
    "reports.tasks.*": {"queue": "reports"},
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Broadcast/control messages of the filesystem transport default to ./control in the cwd.
    CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"] = str(_broker_dir / "control")
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)

# --- api (issue 4) ---
INSTALLED_APPS += ["api", "drf_spectacular_sidecar"]
REST_FRAMEWORK.update(
    {
        # Token first: an unauthenticated API call answers 401 with WWW-Authenticate.
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "accounts.tokens.ExpiringTokenAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
        "DEFAULT_SCHEMA_CLASS": "api.schema.WhistleAutoSchema",
        "EXCEPTION_HANDLER": "api.errors.exception_handler",
        "DEFAULT_THROTTLE_CLASSES": ["api.throttling.UserThrottle", "api.throttling.AnonThrottle"],
        "DEFAULT_RENDERER_CLASSES": [
            "rest_framework.renderers.JSONRenderer",
            "rest_framework.renderers.BrowsableAPIRenderer",
        ],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    }
)
# Rates as "<n>/<second|minute|hour|day>". Throttle counters live in the default cache
# (CACHE_URL): with several worker processes it must be a shared one (Redis) so limits hold
# across them.
API_THROTTLE_RATES = {
    "user": env_str("API_THROTTLE_USER", "1200/minute"),
    "anon": env_str("API_THROTTLE_ANON", "60/minute"),
    "login": env_str("API_THROTTLE_LOGIN", "5/minute"),  # failures per username + address
    "login_ip": env_str("API_THROTTLE_LOGIN_IP", "20/minute"),  # failures per address
}
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        # No badge fetched from the online validator (a third party; CSP allows none).
        "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
        "COMPONENT_SPLIT_REQUEST": True,
        "ENUM_NAME_OVERRIDES": {
            "RequestStatusEnum": "workorders.models.RequestStatus",
            "UrgencyEnum": "workorders.models.Urgency",
            "SlaStatusEnum": "sla.models.SlaStatus",
        },
    }
)

# --- web (issue 5) ---
# The phone web front at the site root: server-rendered pages for the frontline.
INSTALLED_APPS += ["web"]
TEMPLATES[0]["OPTIONS"]["context_processors"] += ["web.context_processors.nav"]
LOGIN_URL = "web:login"
# The language switch is remembered for a year (Django's default is the browser session).
LANGUAGE_COOKIE_AGE = env_int("LANGUAGE_COOKIE_AGE", 365 * 24 * 3600)
# Photos kept between a failed report submit and the retry, keyed by the form's one-time key.
WEB_UPLOAD_KEEP_HOURS = env_int("WEB_UPLOAD_KEEP_HOURS", 24)

# --- backoffice (issue 6) ---
# Before django.contrib.admin so the back office's admin templates (index link, order page,
# changelist presets) take precedence over the stock ones.
INSTALLED_APPS.insert(INSTALLED_APPS.index("django.contrib.admin"), "backoffice")
# Above this many orders in an unfiltered changelist, the admin shows PostgreSQL's row estimate
# instead of COUNT(*); filtered lists count at most this many rows (then show "N+").
BACKOFFICE_COUNT_CAP = env_int("BACKOFFICE_COUNT_CAP", 10000)
BACKOFFICE_OVER_CAP_SECONDS = env_int("BACKOFFICE_OVER_CAP_SECONDS", 60)

# --- reports (issue 7) ---
INSTALLED_APPS += ["reports"]
# Scheduled 日报/周报: five-field crontabs in Asia/Shanghai (minute hour day month weekday).
REPORTS_DAILY_CRON = env_str("REPORTS_DAILY_CRON", "30 7 * * *")
REPORTS_WEEKLY_CRON = env_str("REPORTS_WEEKLY_CRON", "0 8 * * 1")
# Rows fetched per database round trip when exporting (memory stays flat at any size).
REPORTS_EXPORT_CHUNK = env_int("REPORTS_EXPORT_CHUNK", 5000)
# PostgreSQL CSV fast path: rows per query (~5 ms to plan each; about 5 MB of CSV text).
REPORTS_EXPORT_PG_CHUNK = env_int("REPORTS_EXPORT_PG_CHUNK", 10000)
# Chunks rendered at once, each on a connection of its own (1: on the request's connection).
REPORTS_EXPORT_PG_WORKERS = env_int("REPORTS_EXPORT_PG_WORKERS", 2)
# Orders sheet of a scheduled workbook is capped (the full list is the export's job).
REPORTS_SCHEDULED_MAX_ROWS = env_int("REPORTS_SCHEDULED_MAX_ROWS", 200000)


def _crontab(expr: str):
    from celery.schedules import crontab

    minute, hour, day, month, weekday = expr.split()
    return crontab(
        minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=weekday
    )


CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "reports-daily": {
        "task": "reports.tasks.send_daily_report",
        "schedule": _crontab(REPORTS_DAILY_CRON),
    },
    "reports-weekly": {
        "task": "reports.tasks.send_weekly_report",
        "schedule": _crontab(REPORTS_WEEKLY_CRON),
    },
}

# --- notification digest (issue 16) ---
# Staff are notified at once only of what needs them; the rest is in one digest a day
# (Asia/Shanghai crontab: minute hour day month weekday).
NOTIFY_DIGEST_CRON = env_str("NOTIFY_DIGEST_CRON", "0 8 * * *")
CELERY_BEAT_SCHEDULE["notifications-digest"] = {
    "task": "notifications.tasks.notification_digest_task",
    "schedule": _crontab(NOTIFY_DIGEST_CRON),
}

# --- operations: run-once jobs, health, metrics (reliability issue) ---
# `jobs` is the lowest app: the run-once lock and the last run of each background job.
INSTALLED_APPS += ["jobs"]
# /health/ready/ fails when the last completed SLA sweep is older than this (0: not checked).
HEALTH_SWEEP_MAX_AGE_SECONDS = env_int("HEALTH_SWEEP_MAX_AGE_SECONDS", 3 * SLA_SWEEP_SECONDS)
# Budget of each readiness probe (database, cache, broker), seconds.
HEALTH_CHECK_TIMEOUT_SECONDS = env_int("HEALTH_CHECK_TIMEOUT_SECONDS", 3)
# /metrics answers these client addresses (REMOTE_ADDR) and anyone sending
# "Authorization: Bearer $METRICS_TOKEN" (when set); everyone else gets 404.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
METRICS_TOKEN = env_str("METRICS_TOKEN")

# --- customers: the customer's side of the loop (status page, survey) ---
INSTALLED_APPS += ["customers"]
# Absolute links in messages to customers (status page, survey): scheme and host, no path.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# A replied order waits this share of its visit clock for the customer's survey answer
# before it joins the dispatchers' callback queue (0 = call back at once).
SURVEY_WAIT_SHARE = float(env_str("SURVEY_WAIT_SHARE", "0.5"))
# Status-page requests per client address and minute (0 = unlimited); the count lives in the
# default cache. Behind N trusted proxies, the address is the N-th from the right of
# X-Forwarded-For.
STATUS_PAGE_RATE_PER_MINUTE = env_int("STATUS_PAGE_RATE_PER_MINUTE", 30)
STATUS_PAGE_PROXY_HOPS = env_int("STATUS_PAGE_PROXY_HOPS", 0)
# --- security: shared cache, login protection, API tokens, headers (reliability issue) ---
# The cache holds the API's rate-limit counters. locmem:// is this process only: right for the
# embedded single-process default, wrong for gunicorn with several workers (each would count on
# its own), so production sets CACHE_URL=redis://…
CACHE_URL = env_str("CACHE_URL", "locmem://")
CACHES = {"default": cache_from_url(CACHE_URL, key_prefix=env_str("CACHE_KEY_PREFIX", "whistle"))}
# Sessions stay in the database (Django's default engine): logging out, a password change or a
# deactivation must end a session everywhere at once, and a cache that is flushed, restarted or
# briefly unreachable must neither log people out nor bring a deleted session back. The cost is
# one primary-key read per request.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Reverse proxies in front of gunicorn that append the client's address to X-Forwarded-For
# (1 behind one nginx). 0: the socket's address, and X-Forwarded-For is ignored, since a client
# could otherwise pick a new address for every guess. Used by the lockout and the API throttles.
PROXY_COUNT = env_int("PROXY_COUNT", 0)

# Failed logins on /login/, /admin/login/ and the API's token login (django-axes): after
# LOGIN_FAILURE_LIMIT failures for one username from one address, that pair is locked out
# for LOGIN_COOLOFF_MINUTES (0: until an administrator deletes the attempt in the admin's
# "Access attempts"). Every failure is recorded (access failure log) and logged.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before the password
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as django-axes requires
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
_cooloff_minutes = env_int("LOGIN_COOLOFF_MINUTES", 30)
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes) if _cooloff_minutes > 0 else None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False  # no banner on every command; lockouts are still logged as warnings
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

# API tokens live this long from the login that issued them (0: no expiry); a password change
# or a deactivation deletes the user's tokens (accounts.tokens).
API_TOKEN_TTL_HOURS = env_int("API_TOKEN_TTL_HOURS", 24 * 7)

# HTTPS. Behind a TLS-terminating proxy also set SECURE_PROXY_SSL=1, or every request redirects.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# The preload directive only matters once the domain is submitted to the browsers' list.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", bool(SECURE_HSTS_SECONDS))

# Content-Security-Policy (django-csp): scripts and styles come from our own static files. A
# page that needs an inline block (the API docs' viewers) marks it with request.csp_nonce; the
# nonce is in the header only on the responses that used it.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.common.CommonMiddleware"), "csp.middleware.CSPMiddleware"
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],  # the pages' empty favicon, Swagger UI's inline icons
        "font-src": [SELF],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],  # Redoc builds its search worker from a blob
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if env_str("CSP_REPORT_URI"):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [env_str("CSP_REPORT_URI")]

# Permissions-Policy (django-permissions-policy): nothing but the report page's "use my
# location" needs a browser feature.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "django_permissions_policy.PermissionsPolicyMiddleware",
)
PERMISSIONS_POLICY = {
    "geolocation": ["self"],
    "accelerometer": [],
    "camera": [],
    "display-capture": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "serial": [],
    "usb": [],
}

# --- bad input, photos, private data (reliability issue, part 6/8) ---
# A NUL byte in the path or query answers 400 before any lookup (after LocaleMiddleware, so the
# API's JSON error is in the request's language); a database or broker that is down while a view
# runs answers 503 with Retry-After instead of the 500 page.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.locale.LocaleMiddleware") + 1,
    "config.middleware.RejectNulMiddleware",
)
MIDDLEWARE.append("config.middleware.ServiceUnavailableMiddleware")
# JSON nested deeper than api.parsers.MAX_DEPTH is a 400, not a RecursionError.
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = ["api.parsers.LimitedJSONParser"]
# Largest photo in pixels (width × height). Pillow's own decompression-bomb limit is set to it
# (workorders.apps); a larger image is refused before it is decoded or stored.
ATTACHMENT_MAX_PIXELS = env_int("ATTACHMENT_MAX_PIXELS", 40_000_000)
# Photos kept between a failed phone report and its retry, per user across all their forms:
# beyond either cap the oldest forms' photos are dropped first (web.uploads).
WEB_UPLOAD_KEEP_MAX_FILES = env_int("WEB_UPLOAD_KEEP_MAX_FILES", 6)
WEB_UPLOAD_KEEP_MAX_BYTES = env_int("WEB_UPLOAD_KEEP_MAX_BYTES", 30 * 1024 * 1024)
# Kept photos older than WEB_UPLOAD_KEEP_HOURS are removed by this sweep (default queue).
CELERY_BEAT_SCHEDULE["web-uploads-sweep"] = {
    "task": "web.tasks.uploads_sweep_task",
    "schedule": 3600.0,
    "options": {"expires": 3600.0},
}
# --- mass faults (群障) ---
INSTALLED_APPS += ["faults"]
# Detection: at least FAULTS_MIN_ORDERS open orders of a clusterable category reported within
# FAULTS_WINDOW_MINUTES that share the district or lie within FAULTS_RADIUS_METERS of each other.
FAULTS_MIN_ORDERS = env_int("FAULTS_MIN_ORDERS", 5)
# 越级投诉预警: an open order whose escalation-risk score reaches this alerts supervisors once.
RISK_ALERT_THRESHOLD = env_int("RISK_ALERT_THRESHOLD", 60)
FAULTS_WINDOW_MINUTES = env_int("FAULTS_WINDOW_MINUTES", 120)
FAULTS_RADIUS_METERS = env_int("FAULTS_RADIUS_METERS", 500)
FAULTS_DETECT_SECONDS = env_int("FAULTS_DETECT_SECONDS", 300)
# The cluster plot draws on plain SVG; set a tile URL template ({z}/{x}/{y}) to lay map tiles
# under it (e.g. an internal tile server). Empty: no tiles, works offline.
FAULTS_MAP_TILE_URL = env_str("FAULTS_MAP_TILE_URL", "")
CELERY_BEAT_SCHEDULE["faults-detect"] = {
    "task": "faults.tasks.fault_detect_task",
    "schedule": float(FAULTS_DETECT_SECONDS),
    "options": {"expires": float(FAULTS_DETECT_SECONDS)},
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {"FaultStateEnum": "faults.models.FaultState", "StateEnum": "workorders.models.State"}
)

# --- customer messages: the SMS channel (notifications.sms) ---
# How texts leave: "file" (the embedded default: one JSON line per message under SMS_FILE_DIR),
# "console" (printed), "http" (the operator's SMS platform at SMS_HTTP_URL, signed with
# SMS_HTTP_SECRET), or the dotted path of a backend class.
SMS_BACKEND = env_str("SMS_BACKEND", "file")
SMS_FILE_DIR = Path(env_str("SMS_FILE_DIR", str(VAR_DIR / "sms")))
SMS_HTTP_URL = env_str("SMS_HTTP_URL")
SMS_HTTP_SECRET = env_str("SMS_HTTP_SECRET")
# (connect, read) timeouts of each POST to the platform, in seconds.
SMS_HTTP_TIMEOUT = (
    float(env_str("SMS_HTTP_CONNECT_TIMEOUT_SECONDS", "3")),
    float(env_str("SMS_HTTP_READ_TIMEOUT_SECONDS", "5")),
)
# Tries of one message before it is recorded as failed (temporary errors only; the outbox's
# backoff between them). A refusal the platform calls permanent is not retried.
SMS_MAX_ATTEMPTS = env_int("SMS_MAX_ATTEMPTS", 5)
# Delivery receipts and the customers' replies come back signed with this secret
# (POST /sms/receipt/, /sms/inbound/); empty: both answer 403 to everything.
SMS_CALLBACK_SECRET = env_str("SMS_CALLBACK_SECRET")
# The sign name (签名) every text starts with.
SMS_SIGN_NAME = env_str("SMS_SIGN_NAME", "【吹哨服务】")
# No texts in these local hours (held until the end); urgent orders are exempt unless
# SMS_QUIET_URGENT_EXEMPT=0. Empty: no quiet hours.
SMS_QUIET_HOURS = env_str("SMS_QUIET_HOURS", "21:00-08:00")
SMS_QUIET_URGENT_EXEMPT = env_bool("SMS_QUIET_URGENT_EXEMPT", True)
# At most this many texts per number per local day (0: no cap); more are not sent (skipped).
SMS_DAILY_CAP = env_int("SMS_DAILY_CAP", 6)
# A text waits this long before it is sent; a newer event of the same order within the wait
# replaces it, so the customer hears the latest state once (0: send at once, no coalescing).
SMS_COALESCE_SECONDS = env_int("SMS_COALESCE_SECONDS", 60)
# The cap's per-number counts of past days are dropped once a day.
CELERY_BEAT_SCHEDULE["sms-counts-prune"] = {
    "task": "notifications.tasks.sms_counts_prune_task",
    "schedule": 24 * 3600.0,
    "options": {"expires": 3600.0},
}
if SMS_BACKEND == "http" and not (DEBUG or TESTING):
    _missing = [
        n for n in ("SMS_HTTP_URL", "SMS_HTTP_SECRET", "SMS_CALLBACK_SECRET") if not globals()[n]
    ]
    if _missing:
        raise ImproperlyConfigured(f"SMS_BACKEND=http needs {', '.join(_missing)}.")
