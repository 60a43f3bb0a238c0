"""Settings shared by every environment. Everything that differs between machines comes
from the environment (django-environ); `.env.example` lists each variable."""

from pathlib import Path

import environ

from synod.common import embedded_broker

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
    "drf_spectacular_sidecar",
    "django_htmx",
    "synod.common",
    "synod.accounts",
    "synod.chain",
    "synod.governance",
    "synod.registry",
    "synod.tickets",
    "synod.providers",
    "synod.inference",
    "synod.operations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "synod.accounts.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "synod.common.middleware.WebRateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "synod.common.middleware.ApplicationErrorMiddleware",
]

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:sign-in"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "home"
CSRF_FAILURE_VIEW = "synod.accounts.views.csrf_failure"

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
                "synod.accounts.context_processors.chain",
                "synod.accounts.context_processors.navigation",
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
# With no broker URL set, Celery runs on the embedded broker: a Valkey server from a PyPI wheel
# on a Unix socket under the data directory, started and supervised by `run_platform`. It is
# the same Redis transport a cluster uses. Results go to its database 1.
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=embedded_broker.url(BROKER_DIR))
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND",
    default=embedded_broker.result_backend(BROKER_DIR)
    if embedded_broker.is_embedded(CELERY_BROKER_URL, BROKER_DIR)
    else "",
) or CELERY_BROKER_URL.replace("amqp://", "rpc://", 1)
# A delivery a worker took but never acknowledged (it died) goes back to the queue after this
# many seconds (Redis transports). Longer than any task runs: a task still running when it
# passes would be delivered twice (tasks are idempotent, but it wastes work).
CELERY_BROKER_VISIBILITY_TIMEOUT_S = env.int("CELERY_BROKER_VISIBILITY_TIMEOUT_S", default=900)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT_S,
    # A worker looks for such deliveries every 5 s (one sorted-set range query each time).
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT_S}
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
    "purge-expired-siwe-nonces": {
        "task": "synod.accounts.tasks.purge_expired_nonces",
        "schedule": 3600.0,
    },
    "index-chain-events": {
        "task": "synod.chain.tasks.index_chain",
        "schedule": 3.0,
        # A pass still queued when the next is due is superseded by it, not stacked up.
        "options": {"expires": 3.0},
    },
    "resend-unfinished-transactions": {
        "task": "synod.chain.tasks.resend_unfinished_transactions",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
    "requeue-stalled-evaluations": {
        "task": "synod.registry.tasks.requeue_stalled_evaluations",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    "refresh-proposal-states": {
        "task": "synod.governance.tasks.refresh_proposal_states",
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
    "settle-charged-usage": {
        "task": "synod.tickets.tasks.settle_usage",
        "schedule": float(env.int("TICKETS_SETTLEMENT_INTERVAL_S", default=60)),
        "options": {"expires": 30.0},
    },
}

# --- Chain --------------------------------------------------------------------------------
CHAIN_RPC_URL = env.str("CHAIN_RPC_URL", default="http://127.0.0.1:8545")
CHAIN_ID = env.int("CHAIN_ID", default=31337)
# Seconds per block, for showing "time left" on proposals whose windows are in blocks.
CHAIN_BLOCK_TIME_S = env.float("CHAIN_BLOCK_TIME_S", default=1.0)
# The operator key signs the platform's own transactions (deployments, relayed votes).
OPERATOR_PRIVATE_KEY = env.str("OPERATOR_PRIVATE_KEY", default="")
# The settlement lane: TicketEscrow's operator, a key of its own. An account has exactly one
# nonce sequence, so a settlement stuck below the going fee on a shared key would hold back
# every relayed vote behind it; with two keys the lanes never wait for each other.
SETTLEMENT_PRIVATE_KEY = env.str("SETTLEMENT_PRIVATE_KEY", default="")
# The sender re-signs a transaction (same nonce, higher fees) that is still unmined this
# many seconds after its latest version was signed, when its fees are below the going fee.
CHAIN_SENDER_REPLACE_AFTER_S = env.float("CHAIN_SENDER_REPLACE_AFTER_S", default=30.0)
# A mined transaction is final once this many blocks are on top of its block; until then
# the sender re-checks it and sends it again if a reorg dropped it.
CHAIN_SENDER_CONFIRMATIONS = env.int("CHAIN_SENDER_CONFIRMATIONS", default=6)
CONTRACTS_DIR = REPO_DIR / "contracts"
CONTRACT_BUILD_DIR = DATA_DIR / "contracts-build"
DEPLOYMENTS_DIR = DATA_DIR / "deployments"
# A native solc when one is installed and named here; otherwise the npm solc behind a shim.
SOLC_BINARY = env.str("SOLC_BINARY", default=str(CONTRACTS_DIR / "tools" / "solcjs-cli.js"))
ANVIL_BINARY = env.str(
    "ANVIL_BINARY",
    default=str(NODE_MODULES_DIR / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"),
)
# Governance and contract parameters, read by `deploy_contracts` (contracts/README.md).
# Genesis badge holders, comma-separated: GOVERNANCE_GENESIS_HOLDERS for every council, or
# GOVERNANCE_<DATA|MODEL|COMPUTE>_GENESIS_HOLDERS for one. On the local dev chain (31337)
# they default to anvil's dev accounts 1, 2 and 3; elsewhere there is no default and the
# deployment refuses to create a council nobody can vote in.
_ANVIL_DEV_ACCOUNTS_1_TO_3 = [
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
]
GOVERNANCE_GENESIS_HOLDERS = env.list(
    "GOVERNANCE_GENESIS_HOLDERS",
    default=_ANVIL_DEV_ACCOUNTS_1_TO_3 if CHAIN_ID == 31337 else [],
)
GOVERNANCE_GENESIS_HOLDERS_BY_COUNCIL = {
    council: env.list(
        f"GOVERNANCE_{council.upper()}_GENESIS_HOLDERS", default=GOVERNANCE_GENESIS_HOLDERS
    )
    for council in ("data", "model", "compute")
}
GOVERNANCE_VOTING_DELAY_BLOCKS = env.int("GOVERNANCE_VOTING_DELAY_BLOCKS", default=1)
GOVERNANCE_VOTING_PERIOD_BLOCKS = env.int("GOVERNANCE_VOTING_PERIOD_BLOCKS", default=300)
# Rounded up on chain: with 3 badges, 50% means 2 votes, so no single member passes anything.
GOVERNANCE_QUORUM_PERCENT = env.int("GOVERNANCE_QUORUM_PERCENT", default=50)
GOVERNANCE_LATE_QUORUM_EXTENSION_BLOCKS = env.int(
    "GOVERNANCE_LATE_QUORUM_EXTENSION_BLOCKS", default=30
)
GOVERNANCE_TIMELOCK_MIN_DELAY_S = env.int("GOVERNANCE_TIMELOCK_MIN_DELAY_S", default=60)
# Gasless votes the platform relays (and pays gas for) per address per 24 hours.
GOVERNANCE_RELAY_BUDGET_PER_DAY = env.int("GOVERNANCE_RELAY_BUDGET_PER_DAY", default=20)
TICKET_PRICE_WEI = env.int("TICKET_PRICE_WEI", default=10**15)
# Metering and settlement (docs/settlement.md). An allowance is usable for new calls only
# while it stays valid this much longer: TicketEscrow.MAX_SETTLEMENT_DELAY, the longest a
# charged call may wait for its settlement.
TICKETS_ALLOWANCE_MARGIN_S = env.int("TICKETS_ALLOWANCE_MARGIN_S", default=3600)
# The most calls one settlement batch carries.
TICKETS_SETTLEMENT_MAX_CALLS = env.int("TICKETS_SETTLEMENT_MAX_CALLS", default=10_000)
# A charged call that cannot be settled this long after it was charged (its provider is no
# longer active, or the user lowered their allowance below it) is waived: released unbilled.
TICKETS_UNBILLABLE_AFTER_S = env.int("TICKETS_UNBILLABLE_AFTER_S", default=2 * 3600)
ESCROW_FEE_BPS = env.int("ESCROW_FEE_BPS", default=250)
ESCROW_WITHDRAWAL_DELAY_S = env.int("ESCROW_WITHDRAWAL_DELAY_S", default=3600)
PROVIDER_MIN_STAKE_TICKETS = env.int("PROVIDER_MIN_STAKE_TICKETS", default=100)
PROVIDER_UNBONDING_DELAY_S = env.int("PROVIDER_UNBONDING_DELAY_S", default=3600)
PROVIDER_REPORTER_SHARE_BPS = env.int("PROVIDER_REPORTER_SHARE_BPS", default=1000)
# Receives escrow fees and slashed stake. Empty (the default): the compute council's
# timelock, so the community spends it only by proposal. Resolve the address with
# synod.chain.deployment.treasury_address().
TREASURY_ADDRESS = env.str("TREASURY_ADDRESS", default="")

# --- Sign-in, sessions, security headers ---------------------------------------------------
SIWE_NONCE_TTL_S = 300
# The longest a signed sign-in message may stay valid (Expiration Time - Issued At).
SIWE_MAX_MESSAGE_LIFETIME_S = 900
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere: pages take their configuration from data-* attributes.
SYNOD_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Swagger UI sets style attributes on its widgets; its scripts stay same-origin (sidecar).
SYNOD_CSP_API_DOCS = {"style-src": "'self' 'unsafe-inline'"}
SYNOD_CSP_API_DOCS_PATHS = ["/api/docs/"]

# Rate limits and anything else several processes must agree on live in this cache: files
# under the data directory by default (works across processes with no server), Redis or a
# database table (dbcache://table after `createcachetable`) at scale.
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{DATA_DIR / 'cache'}")}
SYNOD_THROTTLE_RATES = {
    "siwe-nonce": "30/minute",
    "siwe-sign-in": "20/minute",
    # Per user (all of their keys together); per client address without a key.
    "api": "600/minute",
    # Per client address: unknown, revoked or expired keys, and no key where one is needed.
    "api-auth-failure": "60/minute",
    # Every page, htmx partial, status panel and /healthz, per client address (eight open
    # status pages poll 240 times a minute).
    "web": env.str("SYNOD_WEB_RATE", default="1200/minute"),
}

# --- Registry -----------------------------------------------------------------------------
# Uploaded datasets, models and evaluation reports are content-addressed blobs behind the
# default storage: files under the data directory here, S3 or similar by configuration
# (e.g. BLOB_STORAGE_BACKEND=storages.backends.s3.S3Storage, BLOB_STORAGE_OPTIONS={...}).
MEDIA_ROOT = Path(env.str("BLOB_STORAGE_DIR", default=str(DATA_DIR / "blobs")))
STORAGES = {
    "default": {
        "BACKEND": env.str(
            "BLOB_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json("BLOB_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REGISTRY_MAX_DATASET_BYTES = env.int("REGISTRY_MAX_DATASET_BYTES", default=256 * 1024**2)
REGISTRY_MAX_MODEL_BYTES = env.int("REGISTRY_MAX_MODEL_BYTES", default=512 * 1024**2)
# A dataset is bounded once read too, not only on disk (a 0.4 MB Parquet file can declare
# 50 million rows): rows, columns, and the memory its decoded table takes (Arrow buffers).
# Parquet is refused from its footer before any data is decoded; CSV and JSON Lines are
# counted in a streaming pass before they are read whole.
REGISTRY_MAX_DATASET_ROWS = env.int("REGISTRY_MAX_DATASET_ROWS", default=1_000_000)
REGISTRY_MAX_DATASET_COLUMNS = env.int("REGISTRY_MAX_DATASET_COLUMNS", default=1_000)
REGISTRY_MAX_DATASET_DECODED_BYTES = env.int(
    "REGISTRY_MAX_DATASET_DECODED_BYTES", default=512 * 1024**2
)
# Per signed-in account: uploads started in any rolling hour (stored or refused: validating
# a file costs the same either way) and the total bytes of the files it has stored.
REGISTRY_UPLOADS_PER_HOUR = env.int("REGISTRY_UPLOADS_PER_HOUR", default=20)
REGISTRY_UPLOAD_QUOTA_BYTES = env.int("REGISTRY_UPLOAD_QUOTA_BYTES", default=2 * 1024**3)
# Evaluation batches and threads are part of the runtime identity: the same values give
# bit-identical metrics for the same model and dataset.
REGISTRY_EVAL_BATCH_SIZE = env.int("REGISTRY_EVAL_BATCH_SIZE", default=32)
REGISTRY_EVAL_THREADS = env.int("REGISTRY_EVAL_THREADS", default=2)
# Where build_demo_content caches what it builds once (the MiniLM ONNX export).
REGISTRY_DEMO_CACHE_DIR = DATA_DIR / "demo"

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "synod.accounts.authentication.BearerAPIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["synod.common.throttles.ApiRateThrottle"],
    # Every error body is exactly {"detail": "..."}; Django's size limits become 413/400.
    "EXCEPTION_HANDLER": "synod.common.api.exception_handler",
    # Client addresses for rate limits: X-Forwarded-For is trusted for this many proxy hops.
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Synod public API",
    "DESCRIPTION": "Community-governed AI inference: approved models, tickets, providers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package: no CDN, so the CSP stays same-origin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The error answers of every operation, documented in one place.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "synod.common.api.document_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
