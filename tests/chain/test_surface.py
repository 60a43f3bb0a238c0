"""The chain app as other apps see it: its refusals are ApplicationErrors with a status and a
code; a node that cannot be reached is ChainUnavailable (still a ConnectionError); asking
for indexing sends one Celery task however often it is asked within a moment."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from synod.chain import bindings, client, errors, services, tasks
from synod.chain.devnode import free_port
from synod.common.errors import ApplicationError


@pytest.mark.parametrize(
    ("error_class", "status", "code"),
    [
        (errors.ChainUnavailable, 503, "chain_unavailable"),
        (errors.ContractNotDeployed, 503, "contract_not_deployed"),
        (errors.ArtifactMissing, 503, "artifact_missing"),
        (errors.ContractRevert, 409, "contract_reverted"),
        (errors.NotSent, 503, "transaction_not_sent"),
        (errors.IdempotencyConflict, 409, "idempotency_conflict"),
        (errors.BroadcastFailed, 502, "broadcast_failed"),
        (errors.ReceiptTimeout, 503, "receipt_timeout"),
        (errors.TransactionFailed, 409, "transaction_failed"),
        (errors.DevChainRefused, 409, "dev_chain_refused"),
    ],
)
def test_every_chain_refusal_is_an_application_error(error_class, status, code):
    assert issubclass(error_class, errors.ChainError)
    assert issubclass(error_class, ApplicationError)
    assert (error_class.status_code, error_class.code) == (status, code)


def test_bindings_raise_the_chain_errors_under_their_old_names():
    assert bindings.ContractNotDeployed is errors.ContractNotDeployed
    assert bindings.ArtifactMissing is errors.ArtifactMissing


def test_a_revert_reads_as_a_refusal_and_keeps_its_own_message():
    revert = errors.ContractRevert("PromptTicketZeroPrice")
    assert str(revert) == "PromptTicketZeroPrice()"
    assert revert.as_dict() == {
        "detail": "the contract would refuse: PromptTicketZeroPrice()",
        "code": "contract_reverted",
    }


def test_a_node_nobody_answers_for_is_chain_unavailable():
    w3 = client.make_web3(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(errors.ChainUnavailable) as refused:
        _ = w3.eth.chain_id
    assert isinstance(refused.value, ConnectionError)  # what dashboards catch to show "away"
    assert refused.value.reason == "the chain node could not be reached"
    assert refused.value.detail == "the chain does not answer right now; try again shortly"
    # A send that could not reach the node says so in plain words.
    assert errors.NotSent("k", refused.value).reason == "the chain node could not be reached"


def test_indexing_is_requested_once_per_window(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.index_chain, "delay", lambda: sent.append(1))
    assert services.request_indexing() is True
    assert services.request_indexing() is False  # the task on its way indexes this too
    assert sent == [1]
    cache.delete(services._INDEXING_REQUESTED)  # the window has passed
    assert services.request_indexing() is True
    assert sent == [1, 1]


def test_a_broker_that_is_away_loses_no_later_request(monkeypatch):
    def broker_away() -> None:
        raise ConnectionRefusedError("no broker")

    monkeypatch.setattr(tasks.index_chain, "delay", broker_away)
    assert services.request_indexing() is False
    sent = []
    monkeypatch.setattr(tasks.index_chain, "delay", lambda: sent.append(1))
    assert services.request_indexing() is True
    assert sent == [1]
