"""Whistle settings. Everything that differs between machines comes from the environment.

See README.md ("Environment variables") for the full list.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_int, env_list, env_str

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
NOTIFY_EMAIL = env_bool("NOTIFY_EMAIL", True)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_BACKOFF_SECONDS = env_int("WEBHOOK_BACKOFF_SECONDS", 30)
WEBHOOK_BACKOFF_MAX_SECONDS = env_int("WEBHOOK_BACKOFF_MAX_SECONDS", 3600)
# The one schedule source (no django-celery-beat). A sweep not started within its interval
# expires instead of piling up behind a stopped worker; the next one catches up.
CELERY_BEAT_SCHEDULE["sla-sweep"] = {
    "task": "sla.tasks.sla_sweep_task",
    "schedule": float(SLA_SWEEP_SECONDS),
    "options": {"expires": float(SLA_SWEEP_SECONDS)},
}
CELERY_BEAT_SCHEDULE["webhooks-requeue"] = {
    "task": "notifications.tasks.webhooks_requeue_task",
    "schedule": 300.0,
    "options": {"expires": 300.0},
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
            "rest_framework.authentication.TokenAuthentication",
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
# Rates as "<n>/<second|minute|hour|day>". Throttle history lives in the default cache: with
# several worker processes, configure a shared cache (e.g. Redis) so limits hold across them.
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

# --- reports (issue 7) ---
INSTALLED_APPS += ["reports"]
# Scheduled 日报/周报: five-field crontabs in Asia/Shanghai (minute hour day month weekday).
REPORTS_DAILY_CRON = env_str("REPORTS_DAILY_CRON", "30 7 * * *")
REPORTS_WEEKLY_CRON = env_str("REPORTS_WEEKLY_CRON", "0 8 * * 1")
# Rows fetched per database round trip when exporting (memory stays flat at any size).
REPORTS_EXPORT_CHUNK = env_int("REPORTS_EXPORT_CHUNK", 5000)
# PostgreSQL CSV fast path: rows per query (~5 ms to plan each; about 5 MB of CSV text).
REPORTS_EXPORT_PG_CHUNK = env_int("REPORTS_EXPORT_PG_CHUNK", 10000)
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

# --- mass faults (群障) ---
INSTALLED_APPS += ["faults"]
# Detection: at least FAULTS_MIN_ORDERS open orders of a clusterable category reported within
# FAULTS_WINDOW_MINUTES that share the district or lie within FAULTS_RADIUS_METERS of each other.
FAULTS_MIN_ORDERS = env_int("FAULTS_MIN_ORDERS", 5)
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
