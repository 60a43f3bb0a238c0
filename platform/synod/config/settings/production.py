"""Production: every secret must come from the environment, and HTTPS is assumed."""

from django.core.exceptions import ImproperlyConfigured

from synod.config.settings.base import *  # noqa: F403
from synod.config.settings.base import env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
OPERATOR_PRIVATE_KEY = env.str("OPERATOR_PRIVATE_KEY", default="")
SETTLEMENT_PRIVATE_KEY = env.str("SETTLEMENT_PRIVATE_KEY", default="")
_missing = [
    name
    for name, value in {
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "OPERATOR_PRIVATE_KEY": OPERATOR_PRIVATE_KEY,
        "SETTLEMENT_PRIVATE_KEY": SETTLEMENT_PRIVATE_KEY,
        "DATABASE_URL": env.str("DATABASE_URL", default=""),
    }.items()
    if not value
]
if _missing:
    raise ImproperlyConfigured(f"Production needs these environment variables: {_missing}")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Blobs keep the storage base.py configured (BLOB_STORAGE_*); static files get hashed names.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
