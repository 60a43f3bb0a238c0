"""Security headers, no inline script, rate limits on sign-in, production checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from synod.accounts.models import User

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"\sstyle\s*=|<style", re.IGNORECASE)


def pages() -> list[str]:
    return [
        reverse("accounts:dashboard"),
        reverse("accounts:api-keys"),
        reverse("tickets:page"),
        reverse("tickets:usage"),
        reverse("providers:page"),
    ]


def test_pages_carry_a_strict_csp_and_no_inline_code(dead_chain):
    client = Client()
    client.force_login(User.objects.create_user("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"))
    responses = [(url, client.get(url)) for url in pages()]
    responses.append(("sign-in", Client().get(reverse("accounts:sign-in"))))
    for url, response in responses:
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert not INLINE_HANDLER.search(html), url
        assert not INLINE_STYLE.search(html), url
        assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_api_docs_relax_styles_only():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "script-src 'self';" in csp
    assert not INLINE_SCRIPT.search(response.content.decode())


def test_nonce_and_sign_in_are_rate_limited(settings):
    settings.SYNOD_THROTTLE_RATES = {
        **settings.SYNOD_THROTTLE_RATES,
        "siwe-nonce": "3/minute",
        "siwe-sign-in": "2/minute",
    }
    client = Client()
    for _ in range(3):
        assert client.get(reverse("accounts:nonce")).status_code == 200
    limited = client.get(reverse("accounts:nonce"))
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert "Too many requests" in limited.json()["detail"]

    for _ in range(2):
        response = client.post(reverse("accounts:siwe"), "{}", content_type="application/json")
        assert response.status_code == 400
    response = client.post(reverse("accounts:siwe"), "{}", content_type="application/json")
    assert response.status_code == 429
    # Another client address has its own allowance.
    other = client.get(reverse("accounts:nonce"), REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.SYNOD_THROTTLE_RATES = {**settings.SYNOD_THROTTLE_RATES, "siwe-nonce": "1/minute"}
    client = Client()
    assert client.get(reverse("accounts:nonce"), HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    spoofed = client.get(reverse("accounts:nonce"), HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert spoofed.status_code == 429


def _production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="synod.config.settings.production",
        DJANGO_SECRET_KEY="p" * 20 + "r0duct10n-k3y-th4t-1s-l0ng-3n0ugh-f0r-django-x9",
        OPERATOR_PRIVATE_KEY="0x" + "11" * 32,
        SETTLEMENT_PRIVATE_KEY="0x" + "22" * 32,
        DATABASE_URL="postgres://synod@127.0.0.1:5432/synod",
        DJANGO_ALLOWED_HOSTS="synod.example",
        PYTHONPATH=os.pathsep.join([str(settings.REPO_DIR / "platform"), str(settings.REPO_DIR)]),
    )
    env.update(overrides)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_deploy_check_is_clean():
    done = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_refuses_to_start_without_its_secrets():
    done = _manage("check", env=_production_env(DJANGO_SECRET_KEY=""))
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY" in done.stderr
