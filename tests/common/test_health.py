"""The health endpoint and the live status page."""

import pytest
from django.urls import reverse

from synod.chain.devnode import free_port
from synod.common import services

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_database_broker_and_chain_answer(client, chain, deployed):
    services.record_heartbeat(service="beat")
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["healthy"] is True
    assert body["database"]["ok"] and body["broker"]["ok"] and body["chain"]["ok"]
    assert body["chain"]["data"]["chain_id"] == 31337
    assert body["chain"]["data"]["block_number"] == chain.w3.eth.block_number
    assert body["chain"]["data"]["contracts"]["PromptTicket"] == deployed["PromptTicket"].address
    assert body["beat"]["ok"] is True
    # No worker runs in this test: reported, but not a reason to be unhealthy.
    assert body["workers"] == {
        "ok": False,
        "detail": "no worker answered",
        "data": body["workers"]["data"],
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_when_the_chain_does_not_answer(client, settings):
    settings.CHAIN_RPC_URL = f"http://127.0.0.1:{free_port()}"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["healthy"] is False
    assert body["chain"]["ok"] is False
    assert "no answer from" in body["chain"]["detail"]
    assert body["database"]["ok"] is True


def test_healthz_is_503_when_the_node_is_another_chain(client, chain, settings):
    settings.CHAIN_ID = 1
    body = client.get(reverse("healthz")).json()
    assert body["chain"]["ok"] is False
    assert "settings expect 1" in body["chain"]["detail"]


def test_status_page_shows_live_block_contracts_and_polls_with_htmx(client, chain, deployed):
    chain.mine(3)
    block = chain.w3.eth.block_number
    page = client.get(reverse("home"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-testid="block-number">#{block}<' in html
    assert deployed["PromptTicket"].address in html
    assert 'hx-trigger="every 2s"' in html
    assert "/static/vendor/htmx/htmx.min.js" in html

    chain.mine(2)
    panel = client.get(reverse("status-panel")).content.decode()
    assert f"#{block + 2}<" in panel
    assert "<html" not in panel  # a fragment for htmx to swap, not a whole page


def test_status_page_renders_when_everything_is_down(client, settings):
    settings.CHAIN_RPC_URL = f"http://127.0.0.1:{free_port()}"
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert "no answer from" in page.content.decode()


def test_htmx_is_served_from_static_not_a_cdn(client):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/htmx/htmx.min.js")
    html = client.get(reverse("home")).content.decode()
    assert "unpkg" not in html and "cdn" not in html.lower()
