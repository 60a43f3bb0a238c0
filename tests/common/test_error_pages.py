"""Visitors never see a traceback, a settings dump or a URL list: friendly pages, JSON under the
API paths, and debug pages only when a developer turns DEBUG on."""

import pytest
from django.test import Client
from django.urls import reverse

from synod.operations import views

pytestmark = pytest.mark.django_db

DEBUG_MARKERS = ("Traceback", "URLconf", "DJANGO_SETTINGS_MODULE", "Request Method")


def _assert_no_debug_output(body: str) -> None:
    for marker in DEBUG_MARKERS:
        assert marker not in body


def test_debug_is_off_unless_asked_for(settings):
    from synod.config.settings import base

    assert base.DEBUG is False
    assert "DJANGO_DEBUG" in (settings.REPO_DIR / ".env.example").read_text()


def test_an_unknown_page_gets_a_friendly_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body and 'data-testid="error-page"' in body
    assert "Go to the start page" in body
    _assert_no_debug_output(body)


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/nope", "/v1/nope"])
def test_an_unknown_api_path_gets_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Nothing is here. Check the address.", "code": "not_found"}


def test_a_failure_gets_a_friendly_500_page_without_a_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals: /srv/synod/settings.py")

    monkeypatch.setattr(views, "platform_status", broken)
    client = Client(raise_request_exception=False)
    page = client.get(reverse("home"))
    assert page.status_code == 500
    body = page.content.decode()
    assert "Something went wrong" in body
    assert "secret internals" not in body and "/srv/synod" not in body
    _assert_no_debug_output(body)

    api = client.get(reverse("healthz"))
    assert api.status_code == 500
    assert api.json() == {
        "detail": "Something went wrong on our side. It has been logged; please try again.",
        "code": "server_error",
    }
    assert "secret" not in api.content.decode()
