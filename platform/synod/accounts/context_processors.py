from django.conf import settings
from django.http import HttpRequest

# Which main-navigation entry a path belongs to (the first matching prefix wins).
NAV_SECTIONS = [
    ("/dashboard/", "dashboard"),
    ("/governance/", "governance"),
    ("/registry/", "models"),
    ("/tickets/", "tickets"),
    ("/usage/", "usage"),
    ("/account/api-keys/", "api"),
    ("/provider/", "provider"),
]


def chain(request: HttpRequest) -> dict:
    """The chain id wallet.js must find the wallet on."""
    return {"SYNOD_CHAIN_ID": settings.CHAIN_ID}


def navigation(request: HttpRequest) -> dict:
    section = next((name for prefix, name in NAV_SECTIONS if request.path.startswith(prefix)), "")
    return {"nav_section": section}
