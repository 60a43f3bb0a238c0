import pytest
from django.urls import reverse
from eth_utils import keccak

from synod.governance.demo import run_demo_round
from synod.governance.models import Proposal
from tests.governance.conftest import sync

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


@pytest.fixture
def demo(suite):
    dataset = keccak(text="pages.csv").hex()
    model = {
        "sha256": keccak(text="pages.onnx").hex(), "name": "pages-model", "version": "1",
        "task": "classification", "price_per_call": 1, "dataset_sha256": dataset,
        "report_sha256": keccak(text="pages-report").hex(),
    }  # fmt: skip
    run_demo_round(dataset_sha256=dataset, model=model)
    sync()
    return Proposal.objects.all()


def test_list_shows_every_proposal_with_state_and_tally(client, demo):
    html = client.get(reverse("governance:list")).content.decode()
    for proposal in demo:
        assert proposal.title in html
    assert "Executed" in html and "Defeated" in html and "Active" in html
    assert 'class="tally-bar"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("council=data", {"approve_dataset"}),
        ("state=active", {"approve_model", "grant_badge"}),
        ("kind=set_parameter", {"set_parameter"}),
        ("q=fourth+model+expert", {"grant_badge"}),
        ("council=nonsense", {"approve_dataset", "set_parameter", "approve_model", "grant_badge"}),
    ],
)
def test_list_filters_and_search(client, demo, query, expected):
    response = client.get(reverse("governance:list") + "?" + query, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html  # htmx gets the rows only
    shown = {p.kind for p in demo if p.title in html}
    assert shown == expected


def test_detail_shows_decoded_action_timeline_and_votes(client, demo):
    proposal = Proposal.objects.get(kind="approve_model")
    url = reverse("governance:detail", args=[proposal.council, proposal.proposal_id])
    html = client.get(url).content.decode()
    assert "approve model pages-model@1 (classification)" in html
    assert "price 1 tickets per call" in html
    assert "Accuracy and latency look good" in html
    assert "Voting closes" in html
    assert 'hx-trigger="every 3s"' in html  # live while voting is open
    assert "Evidence: evaluation report" in html


def test_live_partial_is_a_fragment(client, demo):
    proposal = Proposal.objects.get(kind="approve_dataset")
    url = reverse("governance:live", args=[proposal.council, proposal.proposal_id])
    html = client.get(url).content.decode()
    assert "<html" not in html and "Executed" in html


def test_api_lists_and_filters_proposals(client, demo):
    body = client.get("/api/v1/proposals?state=active").json()
    assert body["count"] == 2
    kinds = {row["kind"] for row in body["results"]}
    assert kinds == {"approve_model", "grant_badge"}
    row = next(r for r in body["results"] if r["kind"] == "approve_model")
    assert row["tally"] == {
        "for_votes": 1,
        "against": 0,
        "abstain": 0,
        "quorum": row["tally"]["quorum"],
    }
    assert row["actions"][0]["summary"].startswith("approve model pages-model@1")


def test_api_detail_includes_votes(client, demo):
    proposal = Proposal.objects.get(kind="set_parameter")
    body = client.get(f"/api/v1/proposals/{proposal.proposal_id}").json()
    assert body["state"] == "defeated"
    assert {v["support"] for v in body["votes"]} == {"Against"}
    assert client.get("/api/v1/proposals/999").status_code == 404


def test_proposals_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/proposals" in schema and "/api/v1/proposals/{proposal_id}" in schema
