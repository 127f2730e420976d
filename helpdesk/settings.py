"""The one settings module. Every knob comes from the environment (see helpdesk/env.py and README)."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

from helpdesk.env import EnvError, env_bool, env_int, env_int_list, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    # `make run` and `manage.py` generate one under .data/ when unset; a deployment must set it.
    raise EnvError("SECRET_KEY is not set (make run generates one in .data/secret_key; set it in production)")
if len(SECRET_KEY) < 32 and not DEBUG:
    raise EnvError("SECRET_KEY is shorter than 32 characters")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # helpdesk first: its management commands (migrate, flush) wrap Django's to run as the table owner.
    "helpdesk",
    "tickets",
    "slas",
    "escalation",
    "callnotes",
    "mail",
    "metrics",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The agent workspace: htmx requests (request.htmx) and its bundled script; fragments of one template.
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "anymail",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: resolves the principal (session membership or API token) and runs the
    # rest of the request inside its tenant (contextvar + SET LOCAL app.tenant_id).
    "helpdesk.middleware.TenantMiddleware",
    "helpdesk.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a sign-in refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

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
                "csp.context_processors.nonce",
            ],
            # {% partialdef %} / {% partial %} in every template: the workspace's pages are swapped in parts.
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# The URL's user owns the schema and runs migrations. Requests and tasks switch to APP_DB_ROLE,
# a role that neither owns the tables nor bypasses RLS, so row-level security really applies.
DATABASE_URL = env_url("DATABASE_URL", schemes={"postgres", "postgresql"})
APP_DB_ROLE = env_str("APP_DB_ROLE", "helpdesk_app")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
_db["ENGINE"] = "helpdesk.db"
_db["CONN_HEALTH_CHECKS"] = True
_db.setdefault("OPTIONS", {})["assume_role"] = APP_DB_ROLE
# Behind a pooler in transaction mode (pgbouncer) a session-level SET ROLE does not follow the client from
# one server connection to the next, so requests and tasks log in as a non-owner role instead: the
# DATABASE_APP_URL's user (a member of APP_DB_ROLE). DATABASE_URL stays the owner's, for migrate and flush.
DATABASE_APP_URL = env_str("DATABASE_APP_URL", "")
if DATABASE_APP_URL:
    env_url("DATABASE_APP_URL", schemes={"postgres", "postgresql"})
    _app = dj_database_url.parse(DATABASE_APP_URL)
    _db["APP_LOGIN"] = {key: _app[key] for key in ("USER", "PASSWORD", "HOST", "PORT")}
# Server-side cursors (QuerySet.iterator()) outlive a transaction; a transaction-mode pooler cannot keep them.
DISABLE_SERVER_SIDE_CURSORS = env_bool("DISABLE_SERVER_SIDE_CURSORS", bool(DATABASE_APP_URL))
_db["DISABLE_SERVER_SIDE_CURSORS"] = DISABLE_SERVER_SIDE_CURSORS
# libpq waits forever for a host that drops packets (a failover in progress): bounded, the request
# answers 503 (helpdesk/unavailable.py) instead of holding a gunicorn thread.
_db["OPTIONS"]["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT_S", 5, minimum=1, maximum=120)
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis / Celery -------------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes={"redis", "rediss", "unix"})


def _celery_broker_url(redis_url: str) -> str:
    # redis-py spells a unix socket unix:///path; kombu spells it redis+socket:///path.
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CELERY_BROKER_URL = _celery_broker_url(REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# acks_late + prefetch 1: a task killed mid-way is redelivered rather than lost; correctness does not
# depend on it, since due work and pending side effects live in PostgreSQL and the sweep picks them up.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / ".data" / "celerybeat-schedule")
)
# Our scheduler makes the file's folder when it is missing (helpdesk/celery.py), so the standard
# `celery -A helpdesk beat` and `worker --beat` start in any checkout and in containers.
CELERY_BEAT_SCHEDULER = "helpdesk.celery:Scheduler"
SWEEP_INTERVAL_S = env_int("SWEEP_INTERVAL_S", 30, minimum=1, maximum=3600)
# Sweeps a sweep asks the worker pool for when more is due than one batch (a storm), so every process of the pool
# drains it: the pool's concurrency minus the sweep itself (docker-compose.yml runs --concurrency 2). 0: none.
SWEEP_JOINERS = env_int("SWEEP_JOINERS", 1, minimum=0, maximum=8)

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "helpdesk@localhost")
# For EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend (a worker's mail, read by tests).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / ".data" / "mail"))

# --- Inbound and threaded e-mail (mail/) ---------------------------------------------------------
# A raw message larger than this is refused (413) before it is parsed; one attachment larger than the tenant's
# upload limit is left out of the ticket (named on the mail's record) while the message itself is kept.
MAIL_MAX_BYTES = env_int("MAIL_MAX_BYTES", 40 * 1024 * 1024, minimum=1024, maximum=200 * 1024 * 1024)
# The secret of the plus-addressed Reply-To (support+t<ticket>.<mac>@…): a reply that lost its headers still
# threads, and nobody can make up a valid one. Defaults to a key derived from SECRET_KEY.
MAIL_REPLY_TOKEN_KEY = env_str("MAIL_REPLY_TOKEN_KEY", "")
IMAP_TIMEOUT_S = env_int("IMAP_TIMEOUT_S", 30, minimum=1, maximum=600)
MAIL_POLL_INTERVAL_S = env_int("MAIL_POLL_INTERVAL_S", 60, minimum=5, maximum=3600)
MAIL_POLL_BATCH = env_int("MAIL_POLL_BATCH", 50, minimum=1, maximum=1000)
# Outbound provider through django-anymail: set EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend and its
# settings here (ANYMAIL_* in the environment are read by anymail itself).
ANYMAIL: dict = {}

# --- Notifications and webhooks ----------------------------------------------------------------
# Where links in notifications point (the ticket page is PUBLIC_URL/tickets/<id>/).
PUBLIC_URL = env_str("PUBLIC_URL", "http://localhost:8000").rstrip("/")
# Webhook and channel URLs that resolve to loopback, private, link-local or metadata addresses, or that
# use a port outside WEBHOOK_ALLOWED_PORTS, are refused unless this is on (the SSRF guard,
# helpdesk/notifications/ssrf.py). Off unless set: the test suite and `make run`'s local demo set it
# (make run says so in its banner); the Dockerfile and docker-compose.yml never do.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
WEBHOOK_ALLOWED_PORTS = env_int_list("WEBHOOK_ALLOWED_PORTS", [80, 443], minimum=1, maximum=65535)
WEBHOOK_TIMEOUT_S = env_int("WEBHOOK_TIMEOUT_S", 10, minimum=1, maximum=60)
# A failing delivery is retried with exponential backoff and jitter for this long, then dead-lettered.
DELIVERY_RETRY_HOURS = env_int("DELIVERY_RETRY_HOURS", 72, minimum=1, maximum=24 * 30)
# How long a claimed delivery stays out of other dispatchers' reach beyond its timeout: after that, a
# delivery whose worker died is due again.
DELIVERY_LEASE_MARGIN_S = env_int("DELIVERY_LEASE_MARGIN_S", 60, minimum=1, maximum=3600)
# Upper bound of one dispatch run (a task, or the sweep's share); what is left waits for the next run.
DISPATCH_BUDGET_S = env_int("DISPATCH_BUDGET_S", 20, minimum=1, maximum=600)
# Key material for the encryption at rest of channel URLs and webhook secrets; derived from SECRET_KEY
# when unset. Rotating it makes the stored ones unreadable (re-enter them).
NOTIFICATIONS_KEY = env_str("NOTIFICATIONS_KEY", "")

# --- Calls, uploads --------------------------------------------------------------------------
# How long before a call its agent and attendees are reminded (the sweep sends it).
CALL_REMINDER_MINUTES = env_int("CALL_REMINDER_MINUTES", 15, minimum=1, maximum=24 * 60)
# The largest attachment a tenant may upload (a tenant may set a lower one in Tenant.settings
# ["max_upload_bytes"]). A request announcing more is refused before its body is read.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 10 * 1024 * 1024, minimum=1024, maximum=1024 * 1024 * 1024)
# Uploads are kept through Django's storage API: the filesystem under MEDIA_ROOT by default (never served
# by URL: downloads go through the API, to members of the tenant); MEDIA_STORAGE=s3 uses django-storages'
# S3 backend (pip install ".[s3]"; it reads AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, … itself).
MEDIA_ROOT = env_str("MEDIA_ROOT", "") or str(Path(env_str("HELPDESK_DATA_DIR", "") or BASE_DIR / ".data") / "media")
MEDIA_STORAGE = env_str("MEDIA_STORAGE", "filesystem")
if MEDIA_STORAGE not in ("filesystem", "s3"):
    raise EnvError("MEDIA_STORAGE must be 'filesystem' or 's3'")
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage"
        if MEDIA_STORAGE == "s3"
        else "django.core.files.storage.FileSystemStorage",
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Where a transcript's draft comes from: the offline TextRank by default. An LLM provider can be named here
# (a class with key_sentences(units, *, limit)); none is configured by default, so nothing leaves the system.
TRANSCRIPT_SUMMARIZER = env_str("TRANSCRIPT_SUMMARIZER", "callnotes.transcript.TextRankSummarizer")

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Only for `collectstatic` in container images; locally whitenoise serves from the finders.
STATIC_ROOT = env_str("STATIC_ROOT", "") or None
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served by whitenoise straight from the finders, so a fresh clone needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- HTTPS, headers ---------------------------------------------------------------------------
# HTTPS=on says the site is served over HTTPS (the container's default; `make run` serves plain http and
# leaves it off): cookies are marked Secure, HSTS is sent, and plain-http requests are redirected — except
# /healthz, which the container's healthcheck calls over plain http from inside.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
# Behind a proxy that terminates TLS, the header it sets to say so (e.g. X-Forwarded-Proto, whose value
# must be "https"). Only set it if the proxy overwrites that header on every request: a client could
# otherwise claim HTTPS. Empty: requests are secure only if they reached Django over TLS.
_PROXY_SSL_HEADER = env_str("PROXY_SSL_HEADER", "").strip()
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
# How many proxies in front of us append to X-Forwarded-For: the client's address (sign-in lockouts, bad
# token throttling) is the one the outermost of them saw. 0: REMOTE_ADDR. Never more than there really
# are: the left of the header is whatever the client wrote.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# django-csp 4: scripts and styles from this site only, inline ones only with the response's nonce
# ({{ CSP_NONCE }}); no plugins, no framing, forms post here. The admin, the login and landing pages and
# Swagger UI (served with its init script as a file, helpdesk/urls.py) work under it
# (tests/e2e/test_csp.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Sign-in lockouts (django-axes) -------------------------------------------------------------------
# LOGIN_FAILURE_LIMIT failed sign-ins for one username, or from one address, lock that username or
# address out for LOGIN_COOLOFF_MINUTES (a failure during the lockout starts it again). Members' admin:
# action "Unlock sign-in"; an address: `manage.py axes_reset_ip ADDRESS`.
AUTHENTICATION_BACKENDS = [
    "helpdesk.auth.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1, maximum=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: either one locks
AXES_CLIENT_IP_CALLABLE = "helpdesk.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "helpdesk.views.login_locked_out"
AXES_RESET_ON_SUCCESS = True
# Successful sign-ins are not kept (axes' access log would grow a table nobody reads); failures are.
AXES_DISABLE_ACCESS_LOG = True
# axes' own admin pages register on django.contrib.admin.site, which is not mounted (helpdesk/admin.py).
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False  # its banner on every start; failures and lockouts are still logged

# --- API rate limits (helpdesk/throttling.py, counted in Redis) ------------------------------------
# Writes (POST/PATCH/PUT/DELETE) per API token or member a minute; reads are not limited.
API_WRITE_RATE_PER_MINUTE = env_int("API_WRITE_RATE_PER_MINUTE", 600, minimum=1)
# Unknown or revoked tokens from one address in a window: past the limit, every token request from the
# address answers 429 until the window ends.
BAD_TOKEN_LIMIT = env_int("BAD_TOKEN_LIMIT", 20, minimum=1)
BAD_TOKEN_WINDOW_S = env_int("BAD_TOKEN_WINDOW_S", 300, minimum=10, maximum=24 * 3600)

# --- REST API -------------------------------------------------------------------------------
# Input limits (docs/SECURITY.md, "Bad input"). A body over DATA_UPLOAD_MAX_MEMORY_SIZE bytes is a 413 (Django's
# default, 2.5 MiB, named here); a JSON document nested deeper than JSON_MAX_DEPTH is a 400 at the parser, and
# the admin's JSON fields refuse it too.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 2_621_440, minimum=1_024, maximum=100 * 1024 * 1024)
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32, minimum=2, maximum=100)
# A full-text search (`?q=`, API and queues) holds the newest this many matches; beyond, the pages say "1,000+
# matches" (a word in 40 % of 100,000 tickets returned all 40,000 ids: 1.8 s a queue page, bench/WORKSPACE.md).
SEARCH_CAP = env_int("SEARCH_CAP", 1000, minimum=10, maximum=100_000)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "helpdesk.auth.TokenPrincipalAuthentication",
        "helpdesk.auth.SessionPrincipalAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["helpdesk.permissions.IsTenantMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["helpdesk.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "helpdesk.filtering.FilterBackend",
        "helpdesk.filtering.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "helpdesk.pagination.CursorPagination",
    "EXCEPTION_HANDLER": "helpdesk.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["helpdesk.throttling.WriteRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": (
        "Multi-tenant helpdesk: tickets, SLAs, escalations, calls. Token auth: `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "helpdesk.openapi.document_errors",
        "helpdesk.openapi.document_links",
    ],
    # One name per choice set, so generated clients get TicketStatusEnum, not "Status0e7Enum", and one Plan
    # and Channel type where the schema would otherwise carry two identical ones.
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.Status",
        "PlanEnum": "tickets.models.Plan",
        "ChannelEnum": "tickets.models.Channel",
        "PriorityEnum": "tickets.models.Priority",
        "MetricEnum": "slas.models.Metric",
        "CallStatusEnum": "callnotes.models.CallStatus",
        "ActionItemStatusEnum": "callnotes.models.ActionItemStatus",
        "KnowledgeKindEnum": "callnotes.models.KnowledgeKind",
        "EscalationKindEnum": "escalation.models.Kind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden_without_traceback": {"()": "helpdesk.logfilters.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # django-axes narrates every sign-in at INFO; its failures and lockouts are WARNINGs.
        "axes": {"level": "WARNING"},
        # A 403 is one warning line, not a traceback (helpdesk/logfilters.py).
        "django.request": {"filters": ["forbidden_without_traceback"]},
    },
}
