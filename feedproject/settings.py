"""Settings for every environment: behaviour is switched by environment variables only.

With nothing set, the project runs on embedded defaults (SQLite file, a filesystem
Celery broker, a local-memory cache). `DATABASE_URL` and `REDIS_URL` switch it to
PostgreSQL and Redis. See docs/configuration.md.
"""
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("FEED_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

# Production-safe by default: debug is asked for explicitly (`make run` and `make test` do), and
# production mode refuses to start without a real secret key (Django's own deploy check: at
# least 50 characters, at least 5 different ones).
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random string of at least 50 characters in production mode "
        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'); for development, set DJANGO_DEBUG=1."
    )
if not SECRET_KEY:
    SECRET_KEY = "insecure-dev-only-key-never-used-with-debug-off"
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# CORS: same origin only unless origins are listed ("https://app.example.com,https://m.example.com"). A
# listed frontend calls /api/ with the X-User-Key header, not cookies, so no credentials are allowed.
CORS_ALLOWED_ORIGINS = env.list("DJANGO_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ("accept", "content-type", "authorization", "x-user-key", "x-request-id")
CORS_EXPOSE_HEADERS = ("x-request-id", "retry-after")
CORS_PREFLIGHT_MAX_AGE = 3600

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "corsheaders",
    "ops",
    "markets",
    "tracking",
    "personalization",
    "demo",
    "simulation",
]

MIDDLEWARE = [
    # First, so its one line per request times and sees every answer (docs/runbook.md, "Logs").
    "feedproject.request_log.RequestLogMiddleware",
    # Before anything that may answer: a preflight gets its CORS headers (docs/configuration.md, "CORS").
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

# Admin logins: after AXES_FAILURE_LIMIT wrong passwords from one address, or for one username,
# further attempts are refused for AXES_COOLOFF_TIME, the right password included (django-axes).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "feedproject.urls"
WSGI_APPLICATION = "feedproject.wsgi.application"

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
            ],
        },
    },
]

# --- Database: SQLite file by default, PostgreSQL through DATABASE_URL ---------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat are separate processes on one file: WAL lets readers run
    # beside the single writer, and IMMEDIATE transactions take the write lock up
    # front instead of failing with "database is locked" on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters travel apart from the SQL text: the ingestion path's column arrays are
    # not rendered and escaped into the statement (bench/ingest.py: ~25% faster).
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env.bool(
        "DB_SERVER_SIDE_BINDING", default=True
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker and cache when REDIS_URL is set ------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="feed"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # A broker that needs no server: messages are files in a folder shared by the
    # web process, the worker and beat on this machine.
    BROKER_DIR = VAR_DIR / "broker"
    for sub in ("out", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
DJANGO_CELERY_BEAT_TZ_AWARE = True
# Periodic tasks (ops/periodic.py) are registered by `manage.py setup_periodic_tasks`. No
# result backend, so no "celery.backend_cleanup" entry; one message at a time per worker
# process, so a long hourly job does not sit on minute jobs until they expire.
CELERY_RESULT_EXPIRES = None
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A cold shutdown (the Procfile's worker takes SIGTERM as one: REMAP_SIGTERM) first lets running
# tasks finish for this long; what is still running then is cut, and its lease frees by itself.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=10.0)

# --- Time: one clock, UTC -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"

# --- API ------------------------------------------------------------------------------
# Throttles count an anonymous request without a valid key per client address. The first
# X-Forwarded-For hop is that address only behind a proxy that sets it; otherwise any client could
# pick its own (a fresh one per request) and never be throttled. Default: REMOTE_ADDR.
THROTTLE_TRUST_X_FORWARDED_FOR = env.bool("THROTTLE_TRUST_X_FORWARDED_FOR", default=False)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "feedproject.openapi.ErrorsAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # DRF's, plus a database outage answered 503 with Retry-After (docs/api-errors.md).
    "EXCEPTION_HANDLER": "feedproject.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["feedproject.throttling.AnonThrottle", "feedproject.throttling.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="1200/minute"),
        "user": env.str("THROTTLE_USER", default="60000/minute"),
    },
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Feed personalization API",
    "DESCRIPTION": "Ranked feeds, event tracking and market state for the prediction-market site.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files are served by the project, not fetched from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from swagger.io's validator: the docs page loads nothing from outside the site.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "MarketStatusEnum": "markets.models.Market.Status",
        "EventResultStatusEnum": ["accepted", "duplicate", "rejected"],
    },
}

# Ingestion limits: body, event and batch sizes, and how far ahead of the server an event may be.
# The body limit is checked before the body is read.
TRACK_MAX_BODY_BYTES = env.int("TRACK_MAX_BODY_BYTES", default=1_048_576)
TRACK_MAX_EVENT_BYTES = env.int("TRACK_MAX_EVENT_BYTES", default=8_192)
TRACK_MAX_BATCH = env.int("TRACK_MAX_BATCH", default=500)
TRACK_MAX_FUTURE_SECONDS = env.int("TRACK_MAX_FUTURE_SECONDS", default=300)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(TRACK_MAX_BODY_BYTES, 2_621_440)

# The learned ranker's training (personalization/training.py, docs/learning.md): the window of the
# served log it learns from, the least data a model needs to serve, and whether the nightly run
# activates a model that is at least as good as the formula on held-out rows.
RANKING_MODEL_WINDOW_DAYS = env.int("RANKING_MODEL_WINDOW_DAYS", default=14)
RANKING_MODEL_MIN_ROWS = env.int("RANKING_MODEL_MIN_ROWS", default=2000)
RANKING_MODEL_MIN_POSITIVES = env.int("RANKING_MODEL_MIN_POSITIVES", default=50)
RANKING_MODEL_AUTO_ACTIVATE = env.bool("RANKING_MODEL_AUTO_ACTIVATE", default=True)

# Anonymous identity: signed keys in a cookie and the response.
ANON_KEY_COOKIE = "feed_uk"
ANON_KEY_MAX_AGE = env.int("ANON_KEY_MAX_AGE", default=365 * 24 * 3600)

# --- Content-Security-Policy (django-csp): every page, in every mode ------------------
# Only this site's own files run or style a page: no inline script, style or on* handler
# (the few inline blocks that a third-party template keeps carry the request's nonce).
# Images may come from any https host: imported markets point at their source's pictures,
# and the demo's are data: URLs. Why each source is there, and how to add one: docs/configuration.md.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "https:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        # As X-Frame-Options: DENY (Django's default): no page of the site is framed.
        "frame-ancestors": [NONE],
    }
}

# --- Production hardening (DJANGO_DEBUG=0) -------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# One line per request, from feedproject.request_log; Django's own per-request records (status
# warnings, the development server's access lines) would repeat it, so only their tracebacks stay.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_line_once": {"()": "feedproject.request_log.DuplicateRequestLogFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        # Django's default handlers on "django" would print each of its records a second time in
        # development (its console handler, then the root's): here they reach the root's only.
        "django": {"handlers": [], "level": "INFO"},
        "django.request": {"filters": ["request_line_once"]},
        "django.server": {"filters": ["request_line_once"], "handlers": ["console"], "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
