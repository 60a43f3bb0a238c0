"""Settings shared by every environment. Everything that differs between machines comes
from the environment (django-environ); `.env.example` lists each variable."""

from pathlib import Path

import environ

REPO_DIR = Path(__file__).resolve().parents[4]
PACKAGE_DIR = REPO_DIR / "platform" / "synod"

env = environ.Env()
environ.Env.read_env(REPO_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("SYNOD_DATA_DIR", default=str(REPO_DIR / "var"))).resolve()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "django_htmx",
    "synod.common",
    "synod.accounts",
    "synod.chain",
    "synod.governance",
    "synod.registry",
    "synod.tickets",
    "synod.providers",
    "synod.inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "synod.config.urls"
WSGI_APPLICATION = "synod.config.wsgi.application"
ASGI_APPLICATION = "synod.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [REPO_DIR / "templates"],
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

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'synod.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
NODE_MODULES_DIR = REPO_DIR / "node_modules"
# Front-end libraries are served straight from the npm install (pinned in package.json).
STATICFILES_DIRS = [
    REPO_DIR / "static",
    ("vendor/htmx", NODE_MODULES_DIR / "htmx.org" / "dist"),
]
STATIC_ROOT = DATA_DIR / "staticfiles"

# --- Celery -------------------------------------------------------------------------------
# With no broker URL set, Celery runs on an embedded filesystem broker under the data
# directory: no server to install. It supports broadcast, so `inspect().ping()` counts workers.
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND",
    default=(f"file://{BROKER_DIR / 'results'}" if CELERY_BROKER_URL == "filesystem://" else ""),
) or CELERY_BROKER_URL.replace("amqp://", "rpc://", 1)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.05,
    }
    if CELERY_BROKER_URL == "filesystem://"
    else {}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "record-beat-heartbeat": {
        "task": "synod.common.tasks.record_heartbeat",
        "schedule": 10.0,
        "args": ("beat",),
    },
}

# --- Chain --------------------------------------------------------------------------------
CHAIN_RPC_URL = env.str("CHAIN_RPC_URL", default="http://127.0.0.1:8545")
CHAIN_ID = env.int("CHAIN_ID", default=31337)
# The operator key signs the platform's own transactions (deployments, settlements, relays).
OPERATOR_PRIVATE_KEY = env.str("OPERATOR_PRIVATE_KEY", default="")
CONTRACTS_DIR = REPO_DIR / "contracts"
CONTRACT_BUILD_DIR = DATA_DIR / "contracts-build"
DEPLOYMENTS_DIR = DATA_DIR / "deployments"
# A native solc when one is installed and named here; otherwise the npm solc behind a shim.
SOLC_BINARY = env.str("SOLC_BINARY", default=str(CONTRACTS_DIR / "tools" / "solcjs-cli.js"))
ANVIL_BINARY = env.str(
    "ANVIL_BINARY",
    default=str(NODE_MODULES_DIR / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"),
)

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Synod public API",
    "DESCRIPTION": "Community-governed AI inference: approved models, tickets, providers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
