"""Settings shared by every environment.

With no environment variables set this is the *embedded default*: SQLite, Celery
tasks executed in-process, console e-mail. DATABASE_URL and CELERY_BROKER_URL switch
to PostgreSQL and Redis; config.settings.production hardens the rest.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# An embedded-default key: production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "embedded-default-insecure-key-do-not-use-in-production")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "import_export",
    "core",
    "regions",
    "accounts",
    "parks",
    "enterprises",
    "rectification",
    "inspections",
    "imports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database: SQLite by default, PostgreSQL (or anything dj-database-url reads) via DATABASE_URL.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Users, roles and region scoping.
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.RegionAwareModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # Django's rule, with its message in our catalogue (Django 5.2 ships it untranslated in zh_Hans).
    {"NAME": "accounts.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time: Chinese first, English second.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files: everything is served locally (intranets have no internet).
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploads: keep large files on disk rather than in memory, and cap request bodies.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 10_485_760
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(20 * 1024 * 1024)))

# --- Celery: in-process on the embedded default, Redis when CELERY_BROKER_URL is set.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Beat (celery -A config beat): times in CELERY_TIMEZONE (Asia/Shanghai). Each task calls one service.
CELERY_BEAT_SCHEDULE: dict = {
    # Major hazard source levels from their inventories (a change of the reference table reaches every row);
    # before the deadline checks, whose hazard-duty rule reads the figures it stores.
    "recompute-hazard-levels": {
        "task": "enterprises.tasks.recompute_hazard_levels",
        "schedule": crontab(hour=1, minute=0),
    },
    # Deadline checks: overdue marks, reminders, 五彻底, tier 3, permits, parks, hazard duties, 回头看 sample.
    "check-deadlines": {"task": "core.tasks.check_deadlines", "schedule": crontab(hour=1, minute=30)},
    # 季度督查通报: on the first day of a quarter, the quarter just ended for every active campaign, city scope.
    "quarterly-supervision-reports": {
        "task": "rectification.tasks.build_quarterly_reports",
        "schedule": crontab(hour=3, minute=0, day_of_month=1, month_of_year="1,4,7,10"),
    },
}

# --- E-mail: console on the embedded default.
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "chemreg@localhost")

# --- REST API (core/api/): tokens for systems, sessions (with CSRF) for people; see core/api/__init__.py.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.RegisterPermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ApiClientRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.RegisterPagination",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.RegisterAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
#: Requests per token (per user for sessions), e.g. "1200/min", "50000/day"; empty: no throttling.
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "1200/min")
#: Incremental sync holds back rows changed in the last N seconds; must exceed the longest write transaction.
API_SYNC_SETTLE_SECONDS = int(os.environ.get("API_SYNC_SETTLE_SECONDS", "5"))
API_PAGE_SIZE = int(os.environ.get("API_PAGE_SIZE", "100"))

SPECTACULAR_SETTINGS = {
    "TITLE": "化工企业专项整治登记 API · Chemical enterprise rectification register API",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "HazardLevelEnum": "enterprises.choices.HazardLevel",
        # Several resources have a "state" or "status": name each choice set after its meaning.
        "ClassificationStateEnum": "rectification.choices.ClassificationState",
        "PermitStateEnum": "enterprises.choices.PermitState",
        "TaskStatusEnum": "rectification.choices.TaskStatus",
        "FindingStatusEnum": "inspections.choices.FindingStatus",
        "InspectionStatusEnum": "inspections.choices.InspectionStatus",
        "CampaignStatusEnum": "rectification.choices.CampaignStatus",
        "ImportStatusEnum": "imports.models.ImportStatus",
        "ReportStatusEnum": "rectification.models.ReportStatus",
    },
    # Swagger UI from the drf-spectacular-sidecar static files: nothing is fetched from the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.describe_api",
    ],
}

# --- Change history.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# --- Product settings.
LIST_PAGE_SIZE = 50
PERMIT_EXPIRY_WARNING_DAYS = 60
#: Share of the closed enterprises of each township drawn every quarter for a 回头看 re-check (at least one).
RECHECK_SAMPLE_SHARE = float(os.environ.get("RECHECK_SAMPLE_SHARE", "0.1"))
#: Reminders of task and finding deadlines this many days before (and on the day before).
DEADLINE_REMINDER_DAYS = (7, 1)
#: Base of the links in notification e-mails (the address users open the register at).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
#: Notifications older than this are not e-mailed any more (an address added later gets no backlog).
NOTIFICATION_EMAIL_MAX_AGE_DAYS = int(os.environ.get("NOTIFICATION_EMAIL_MAX_AGE_DAYS", "7"))
#: Rosters with more data rows than this are read and committed by the worker, with a progress bar.
#: The quarterly notice (通报) as an official document: the office that issues it and the prefix of its
#: document number (文号), e.g. 临化治办 gives 临化治办〔2026〕12号; both can be changed on each request.
REPORT_ISSUING_OFFICE = os.environ.get("REPORT_ISSUING_OFFICE", "化工企业专项整治工作领导小组办公室")
REPORT_DOCUMENT_PREFIX = os.environ.get("REPORT_DOCUMENT_PREFIX", "化治办")
IMPORT_INLINE_MAX_ROWS = int(os.environ.get("IMPORT_INLINE_MAX_ROWS", "2000"))
RECTIFICATION_EVIDENCE_MAX_BYTES = int(os.environ.get("RECTIFICATION_EVIDENCE_MAX_BYTES", str(20 * 1024 * 1024)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

APP_TITLE = _("Chemical enterprise rectification register")
