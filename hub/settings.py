"""Lodestar settings. Everything is configured by environment variables (see README)."""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from utilities.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LODESTAR_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# The demo (make run) may start without a SECRET_KEY; a real deployment may not.
DEMO = env_bool("LODESTAR_DEMO", False)

INSECURE_DEMO_KEY = "lodestar-demo-key-not-for-production-" + "x" * 24
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or DEMO):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random string, "
            "or LODESTAR_DEMO=true to run the demo with a built-in key."
        )
    SECRET_KEY = INSECURE_DEMO_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
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
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "csp",
    "access",
    "products",
    "quality",
    "catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "access.audit.RequestContextMiddleware",
    "access.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"

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
                "catalog.context_processors.navigation",
            ],
            # Shared by every app's templates, so it lives outside the apps.
            "libraries": {"lodestar": "utilities.template_tags"},
        },
    },
]

# --- Database: embedded SQLite (WAL) unless DATABASE_URL says otherwise ---------------------
SQLITE_PATH = VAR_DIR / "lodestar.sqlite3"
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))}
    # PostgreSQL's default random_page_cost (4) prices an index look-up for a spinning disk, so the
    # planner scans a 100,000-row table rather than fetch the thousand rows a user may read by key
    # (bench/access). 1.1 is what PostgreSQL's manual suggests for SSDs; empty keeps the server's.
    RANDOM_PAGE_COST = env_str("LODESTAR_PG_RANDOM_PAGE_COST", "1.1")
    if RANDOM_PAGE_COST and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={float(RANDOM_PAGE_COST)}"
else:
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # WAL lets readers go on while one writer writes; IMMEDIATE avoids
                # "database is locked" upgrades from read to write mid-transaction.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "login"
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous visitors see the login page only

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
# The calendar KPI periods (days, weeks, months) are cut in; by default the hub's time zone.
LODESTAR_KPI_TIME_ZONE = env_str("LODESTAR_KPI_TIME_ZONE", TIME_ZONE)
USE_I18N = True
USE_TZ = True

# --- Static files: served by WhiteNoise, never from a CDN ------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "utilities.vendor_static.VendorFinder",  # front-end libraries inside pinned Python packages
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Lodestar ----------------------------------------------------------------------------
LODESTAR_DATA_ROOT = Path(env_str("LODESTAR_DATA_ROOT", str(VAR_DIR / "data"))).resolve()
# Fernet keys for connection credentials, newest first; older keys still decrypt (rotation).
# Unset, a key is derived from SECRET_KEY (see utilities/crypto.py): then changing SECRET_KEY
# makes stored credentials unreadable, so deployments set their own keys.
LODESTAR_ENCRYPTION_KEYS = env_list("LODESTAR_ENCRYPTION_KEYS", [])
# Secret salt of the keyed hash that masks PII columns (access/masking.py); unset, derived from SECRET_KEY.
LODESTAR_MASKING_KEY = env_secret("LODESTAR_MASKING_KEY")
PRODUCT_MANAGERS_GROUP = "Product managers"
# Quality checks: DuckDB's memory cap and threads when scanning a file (it spills to disk beyond
# the cap, so files larger than RAM stream), and the statement timeout pushed to databases.
LODESTAR_CHECK_MEMORY_LIMIT = env_str("LODESTAR_CHECK_MEMORY_LIMIT", "500MB")
LODESTAR_CHECK_THREADS = env_int("LODESTAR_CHECK_THREADS", 2)
LODESTAR_CHECK_TIMEOUT_SECONDS = env_int("LODESTAR_CHECK_TIMEOUT_SECONDS", 300)
# A check whose worker keeps dying (killed, out of memory, past the hard time limit) is
# delivered at most this many times for a slot; the next delivery records it as an error.
LODESTAR_CHECK_MAX_DELIVERIES = env_int("LODESTAR_CHECK_MAX_DELIVERIES", 3)
if LODESTAR_CHECK_MAX_DELIVERIES < 1:
    raise ImproperlyConfigured(f"LODESTAR_CHECK_MAX_DELIVERIES must be 1 or more, not {LODESTAR_CHECK_MAX_DELIVERIES}")
# Alerts: links in emails and webhook bodies are absolute, under the hub's public address.
LODESTAR_BASE_URL = env_str("LODESTAR_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
LODESTAR_WEBHOOK_TIMEOUT_SECONDS = env_int("LODESTAR_WEBHOOK_TIMEOUT_SECONDS", 5)
# Webhooks to loopback, private, link-local or reserved addresses are refused (SSRF) unless allowed.
LODESTAR_WEBHOOK_ALLOW_PRIVATE = env_bool("LODESTAR_WEBHOOK_ALLOW_PRIVATE", False)

# --- Email: SMTP when EMAIL_HOST is set; otherwise emails are written to the log (console) ---
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Lodestar <lodestar@localhost>")

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "utilities.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": env_str("LODESTAR_TOKEN_RATE", "10/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lodestar API",
    "DESCRIPTION": "The data-product hub: product specs, outputs, KPIs and SLOs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Like every page, the schema and its docs are for signed-in users only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models share a choice set; name each enum once in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ProductStatusEnum": "products.choices.Status",
        "HypothesisStatusEnum": "products.choices.HypothesisStatus",
        "FrequencyEnum": "products.choices.Frequency",
        "AggregationEnum": "products.choices.Aggregation",
        "ReadLevelEnum": "access.models.ReadLevel",
        "GrantStateEnum": "access.serializers.GrantState",
        "SLOStateEnum": "quality.choices.SLOState",
    },
}

# --- Celery ------------------------------------------------------------------------------
# The embedded default needs no broker server: messages go through files under var/.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker" / "out"),
        "data_folder_out": str(VAR_DIR / "broker" / "out"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),  # kombu's default is ./control
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        # A broker host that stops answering must not hold a page or an API call for minutes.
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
)
# The check task's hard time limit (quality/tasks.py) must end a run before the broker hands its
# message to another worker: a running check is then never run twice at once.
CHECK_TASK_HARD_TIME_LIMIT = LODESTAR_CHECK_TIMEOUT_SECONDS + 60
if CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", float("inf")) <= CHECK_TASK_HARD_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT must be above LODESTAR_CHECK_TIMEOUT_SECONDS + 60 "
        f"({CHECK_TASK_HARD_TIME_LIMIT} s, the check task's hard time limit)."
    )
if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in ("out", "processed", "control"):
        (VAR_DIR / "broker" / folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Schedules are computed in UTC whatever TIME_ZONE says: no slot skipped or doubled at a DST change.
CELERY_TIMEZONE = "UTC"
# django-celery-beat's scheduler behind a database lease: a second beat waits instead of doubling sends.
CELERY_BEAT_SCHEDULER = "quality.beat:LeasedScheduler"
# Save each entry's last run as soon as it is sent, so a beat taking over knows what was sent.
CELERY_BEAT_SYNC_EVERY = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Explicit queues: a worker started without -Q consumes both.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {"celery": {}, "checks": {}}
CELERY_TASK_ROUTES = {"quality.tasks.*": {"queue": "checks"}, "quality.kpi_tasks.compute_kpis": {"queue": "checks"}}
# Task modules besides each app's tasks.py (which autodiscovery finds).
CELERY_IMPORTS = ("quality.alerts", "quality.slo", "quality.kpi_tasks", "access.tasks")
# Hub-wide periodic work; beat copies these into its database schedule at start.
CELERY_BEAT_SCHEDULE = {
    # SLO windows slide even when no run finishes: re-measure them (and product health).
    "evaluate-slos": {"task": "quality.slo.evaluate_all_slos", "schedule": crontab(minute="*/15")},
    # SLO history thins with age (all for a week, hourly for 90 days, then daily).
    "prune-slo-history": {"task": "quality.slo.prune_slo_history", "schedule": crontab(minute=17, hour=3)},
    # Send again the runs and alerts whose message never came (the broker was down when they were queued).
    # On the "celery" queue, not behind long check runs; a sweep not taken within the minute is dropped.
    "requeue-stale-runs": {
        "task": "quality.tasks.requeue_stale_runs",
        "schedule": crontab(minute="*"),
        "options": {"queue": "celery", "expire_seconds": 60},
    },
    # KPI series follow each KPI's own cron: this tick sends those due this minute.
    "send-due-kpis": {
        "task": "quality.kpi_tasks.send_due_kpis",
        "schedule": crontab(minute="*"),
        "options": {"queue": "celery", "expire_seconds": 60},
    },
    # Expired access grants stop at read time; this records each expiry in the audit log.
    "expire-access-grants": {"task": "access.tasks.expire_access_grants", "schedule": crontab(minute="*/10")},
}

# --- Security headers --------------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
if env_bool("BEHIND_TLS_PROXY", False):
    # Trust the proxy's X-Forwarded-Proto, so Django knows the request came over HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
