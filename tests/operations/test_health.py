"""The health endpoint and the live status page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from synod.chain.devnode import free_port
from synod.common import services
from synod.common.models import ServiceHeartbeat
from synod.operations import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_answers():
    """Each test sees the node and broker as they are now, not as an earlier test left them."""
    health.forget_remembered_answers()
    yield
    health.forget_remembered_answers()


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
        "detail": "no worker heartbeat",
        "data": {"count": 0, "names": [], "pids": []},
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_workers_are_counted_from_recent_heartbeats_only(client, chain):
    services.record_heartbeat(
        service="worker:provider-a@host", details={"pid": 101, "concurrency": 2}
    )
    services.record_heartbeat(service="worker:provider-b@host", details={"pid": 102})
    ServiceHeartbeat.objects.filter(service="worker:provider-b@host").update(
        seen_at=timezone.now() - health.WORKER_STALE_AFTER - timedelta(seconds=1)
    )
    workers = client.get(reverse("healthz")).json()["workers"]
    assert workers["ok"] is True
    assert workers["data"] == {"count": 1, "names": ["provider-a@host"], "pids": [101]}

    services.forget_heartbeat(service="worker:provider-a@host")
    assert client.get(reverse("healthz")).json()["workers"]["ok"] is False


def test_broker_and_chain_answers_are_remembered_between_requests(client, chain, monkeypatch):
    from synod.chain import selectors as chain_selectors

    first = client.get(reverse("healthz")).json()
    assert first["broker"]["ok"] and first["chain"]["ok"]
    node_calls = []

    def node_gone():
        node_calls.append(1)
        raise ConnectionError("node gone")

    # The node stops answering: within the remembered window no request asks it again...
    monkeypatch.setattr(chain_selectors, "get_web3", node_gone)
    for _ in range(5):
        assert client.get(reverse("healthz")).json()["chain"] == first["chain"]
    assert node_calls == []
    # ...and once the window has passed, the next request sees it gone.
    health.forget_remembered_answers()
    assert client.get(reverse("healthz")).json()["chain"]["ok"] is False
    assert len(node_calls) == 1


def test_health_endpoints_are_rate_limited_per_address(client, settings):
    settings.SYNOD_THROTTLE_RATES = {**settings.SYNOD_THROTTLE_RATES, "web": "3/minute"}
    codes = [client.get(reverse("healthz")).status_code for _ in range(3)]
    assert 429 not in codes
    refused = client.get(reverse("healthz"))
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many requests")
    assert int(refused["Retry-After"]) >= 1
    panel = client.get(reverse("status-panel"), HTTP_HX_REQUEST="true")
    assert panel.status_code == 429
    page = client.get(reverse("home"))
    assert page.status_code == 429
    assert "Slow down" in page.content.decode()
    # Another address has its own allowance.
    assert client.get(reverse("healthz"), REMOTE_ADDR="10.9.8.7").status_code != 429


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
    health.forget_remembered_answers()  # the panel may lag the chain by up to a second
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
