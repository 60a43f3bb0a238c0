"""Local defaults: one machine, SQLite, embedded broker, anvil on 127.0.0.1:8545."""

from synod.config.settings.base import *  # noqa: F403
from synod.config.settings.base import DATA_DIR, STATIC_ROOT, env

# Debug pages (tracebacks, settings, URL lists) only when a developer asks: DJANGO_DEBUG=true.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Only for local development; production refuses to start without its own key.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-only-not-a-secret")
# anvil's first dev account: a published test key that only exists on local chains.
OPERATOR_PRIVATE_KEY = env.str(
    "OPERATOR_PRIVATE_KEY",
    default="0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
)
# anvil's last dev account (9): the settlement lane's key on local chains.
SETTLEMENT_PRIVATE_KEY = env.str(
    "SETTLEMENT_PRIVATE_KEY",
    default="0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
DATA_DIR.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves static files from the finders (static/ and the npm packages), indexed once
# at start-up: no collectstatic step, and only files found there are ever served.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
