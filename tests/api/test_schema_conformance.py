"""Every operation of the public API, fuzzed in-process by schemathesis against the schema it
publishes at /api/schema/: valid and invalid inputs, every check enabled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from synod.config.wsgi import application
from synod.governance.models import Proposal

pytestmark = pytest.mark.chain  # `published` runs a governance round on a real anvil


@pytest.fixture
def wsgi_keeps_the_test_database_open() -> Iterator[None]:
    """The WSGI handler closes database connections around each request; the test database
    lives in this test's transaction, so (as Django's own test client does) it must not."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, api_key, published, settings, wsgi_keeps_the_test_database_open):
    # Hundreds of requests from one address and key, and schemathesis's own probes with bad
    # keys: out of the way here (tests/accounts/test_rate_limits.py holds the limits).
    settings.SYNOD_THROTTLE_RATES = {
        **settings.SYNOD_THROTTLE_RATES,
        "api": "100000/minute",
        "api-auth-failure": "100000/minute",
    }
    config = schemathesis.Config.from_dict(
        {
            "seed": 20261123,
            "generation": {"deterministic": True},
            "auth": {"openapi": {"BearerApiKey": {"bearer": api_key}}},
            # Every check schemathesis has; the response time limit only catches a hang (the
            # machine running the tests may be busy).
            "checks": {"enabled": True, "max_response_time": 10.0},
        }
    )
    return schemathesis.openapi.from_wsgi("/api/schema/", application, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case):
    case.call_and_validate()


@pytest.mark.django_db
def test_every_published_object_matches_the_schema(api_schema):
    """The fuzzer rarely guesses a real proposal id: ask for each one, and for a page of each
    list, and hold the answers to the schema with the same checks."""
    proposals = list(Proposal.objects.all())
    assert len(proposals) == 4
    detail = api_schema["/api/v1/proposals/{proposal_id}"]["GET"]
    votes = 0
    for proposal in proposals:
        case = detail.Case(
            path_parameters={"proposal_id": proposal.proposal_id},
            query={"council": proposal.council},
        )
        response = case.call()
        assert response.status_code == 200, response.text
        votes += len(response.json()["votes"])
        case.validate_response(response)
    assert votes >= 5
    for path, count in (("/api/v1/proposals", 4), ("/api/v1/models", 1), ("/api/v1/datasets", 1)):
        case = api_schema[path]["GET"].Case(query={"page_size": 1})
        response = case.call()
        assert response.status_code == 200, response.text
        assert response.json()["count"] == count
        case.validate_response(response)
