"""Every error of the public API is JSON, exactly {"detail": "..."}: invalid parameters are
refused with 400 naming the parameter, and 404, 405, 406, 413, 415 and 429 keep that shape."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from synod.accounts.models import User
from synod.governance.models import Proposal

from .conftest import ADDRESS

pytestmark = pytest.mark.django_db

COUNCILS = "data, model, compute"
STATES = "pending, active, canceled, defeated, succeeded, queued, expired, executed"
KINDS = (
    "approve_dataset, revoke_dataset, approve_model, revoke_model, grant_badge, revoke_badge, "
    "set_parameter, other"
)


def error_of(response, status: int) -> str:
    """The detail of an error answer, after checking its status and exact shape."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "code"} and isinstance(body["detail"], str), body
    assert isinstance(body["code"], str) and body["code"], body
    return body["detail"]


def make_proposal(proposal_id: str = "123", council: str = "data") -> Proposal:
    return Proposal.objects.create(
        chain_id=31337, council=council, proposal_id=proposal_id, proposer=ADDRESS,
        kind="set_parameter", title="Raise the fee", description="Raise the fee",
        targets=[], values=[], calldatas=[], vote_start=1, vote_end=2, created_block=1,
        created_tx="0x" + "00" * 32, created_at=timezone.now(),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/api/v1/proposals?page=0", "page: Ensure this value is greater than or equal to 1."),
        ("/api/v1/proposals?page=-3", "page: Ensure this value is greater than or equal to 1."),
        ("/api/v1/proposals?page=two", "page: A valid integer is required."),
        ("/api/v1/proposals?page=", "page: A valid integer is required."),
        ("/api/v1/proposals?page_size=null", "page_size: A valid integer is required."),
        ("/api/v1/proposals?page_size=", "page_size: A valid integer is required."),
        (
            "/api/v1/proposals?page_size=0",
            "page_size: Ensure this value is greater than or equal to 1.",
        ),
        (
            "/api/v1/proposals?page_size=101",
            "page_size: Ensure this value is less than or equal to 100.",
        ),
        ("/api/v1/proposals?council=", f'council: "" is not one of: {COUNCILS}.'),
        ("/api/v1/proposals?council=senate", f'council: "senate" is not one of: {COUNCILS}.'),
        ("/api/v1/proposals?state=won", f'state: "won" is not one of: {STATES}.'),
        ("/api/v1/proposals?state=", f'state: "" is not one of: {STATES}.'),
        ("/api/v1/proposals?kind=coup", f'kind: "coup" is not one of: {KINDS}.'),
        (
            "/api/v1/proposals?proposer=0x1234",
            "proposer: Enter an address: 0x and 40 hexadecimal digits.",
        ),
        (
            "/api/v1/proposals?q=" + "x" * 201,
            "q: Ensure this field has no more than 200 characters.",
        ),
        ("/api/v1/proposals?q=a%00b", "q: Null characters are not allowed."),
        (
            "/api/v1/proposals/12abc",
            "proposal_id: A proposal id is a decimal number (uint256).",
        ),
        (
            "/api/v1/proposals/" + "9" * 79,
            "proposal_id: A proposal id is a decimal number (uint256).",
        ),
        ("/api/v1/proposals/12?council=x", f'council: "x" is not one of: {COUNCILS}.'),
        ("/api/v1/models?page=0", "page: Ensure this value is greater than or equal to 1."),
        (
            "/api/v1/models?page_size=201",
            "page_size: Ensure this value is less than or equal to 200.",
        ),
        ("/api/v1/datasets?page_size=1.5", "page_size: A valid integer is required."),
        ("/api/v1/datasets?page=", "page: A valid integer is required."),
    ],
)
def test_an_invalid_parameter_is_refused_by_name(url, detail):
    assert error_of(Client().get(url), 400) == detail


def test_every_invalid_parameter_is_named_in_one_message():
    detail = error_of(Client().get("/api/v1/proposals?council=x&state=y&kind=z"), 400)
    assert detail.startswith("council: ")
    assert " state: " in detail and " kind: " in detail


def test_valid_parameters_are_taken():
    make_proposal()
    client = Client()
    query = f"council=data&state=pending&kind=set_parameter&proposer={ADDRESS.lower()}&q=fee"
    body = client.get(f"/api/v1/proposals?{query}&page=1&page_size=100").json()
    assert [row["id"] for row in body["results"]] == ["123"]
    # A blank search is no search.
    assert client.get("/api/v1/proposals?q=").json()["count"] == 1
    assert client.get("/api/v1/proposals?council=model").json()["count"] == 0


def test_a_proposal_id_is_read_as_a_number():
    make_proposal("123")
    assert Client().get("/api/v1/proposals/000123").json()["id"] == "123"


def test_an_id_in_two_councils_needs_the_council():
    make_proposal("7", council="data")
    make_proposal("7", council="model")
    client = Client()
    assert "several councils" in error_of(client.get("/api/v1/proposals/7"), 404)
    assert client.get("/api/v1/proposals/7?council=model").json()["council"] == "model"


def test_a_page_past_the_last_is_404_naming_the_page():
    make_proposal()
    detail = error_of(Client().get("/api/v1/proposals?page=3"), 404)
    assert detail == "page: there is no page 3; the last is 1."


def test_an_unknown_proposal_is_404():
    assert error_of(Client().get("/api/v1/proposals/999"), 404) == (
        "No proposal with that id on this chain."
    )


@pytest.mark.parametrize("url", ["/api/v1/proposals", "/api/v1/models", "/api/v1/datasets"])
def test_too_many_query_fields_is_400(url):
    query = "&".join(f"f{i}=1" for i in range(1001))
    assert error_of(Client().get(f"{url}?{query}"), 400) == (
        "Too many query or form fields: at most 1000."
    )


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("url", ["/api/v1/proposals", "/api/v1/models", "/api/v1/proposals/1"])
def test_an_unsupported_method_is_405_with_allow(url, method):
    response = getattr(Client(), method)(url)
    assert error_of(response, 405) == f'Method "{method.upper()}" not allowed.'
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_an_unsupported_method_on_the_account_needs_a_key_first(api_key):
    assert error_of(Client().delete("/api/v1/account"), 401)
    response = Client().delete("/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert error_of(response, 405) == 'Method "DELETE" not allowed.'


def test_a_client_that_will_not_take_json_gets_406_in_json():
    response = Client().get("/api/v1/models", HTTP_ACCEPT="text/html")
    assert error_of(response, 406) == "Could not satisfy the request Accept header."


def test_the_api_rate_limit_answers_429_in_json(settings):
    settings.SYNOD_THROTTLE_RATES = {**settings.SYNOD_THROTTLE_RATES, "api": "2/minute"}
    client = Client()
    for _ in range(2):
        client.get("/api/v1/proposals")
    response = client.get("/api/v1/proposals")
    assert error_of(response, 429).startswith("Request was throttled.")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_an_unknown_api_path_is_404_in_json():
    error_of(Client().get("/api/v1/no-such-thing"), 404)


def test_a_large_body_is_413_even_where_a_session_reads_it(settings):
    """A signed-in browser session makes DRF read a POST body (for its CSRF check) before the
    method is refused: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413, not a 500."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user(ADDRESS))
    client.cookies["csrftoken"] = "a" * 32
    response = client.post("/api/v1/account", {"x": "y" * 2_000}, content_type="application/json")
    assert error_of(response, 413) == "The request body is too large: at most 1000 bytes."


# --- Bodies: a test-only endpoint that reads JSON ---------------------------------------------


@pytest.mark.urls("tests.api.echo_urls")
class TestBodies:
    url = "/api/v1/echo"

    def test_a_json_body_is_read(self):
        response = Client().post(self.url, {"a": [1, 2]}, content_type="application/json")
        assert response.json() == {"received": {"a": [1, 2]}}

    def test_a_large_body_is_413(self, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
        response = Client().post(self.url, {"x": "y" * 2_000}, content_type="application/json")
        assert error_of(response, 413) == "The request body is too large: at most 1000 bytes."

    @pytest.mark.parametrize("body", ["{", '{"a": }', "\x00", "[1, 2"])
    def test_malformed_json_is_400(self, body):
        response = Client().post(self.url, body, content_type="application/json")
        assert error_of(response, 400).startswith("JSON parse error")

    def test_an_undeclared_media_type_is_415(self):
        response = Client().post(self.url, "a=1", content_type="application/x-www-form-urlencoded")
        detail = error_of(response, 415)
        assert detail == 'Unsupported media type "application/x-www-form-urlencoded" in request.'
