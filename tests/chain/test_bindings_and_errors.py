"""Bindings from artifacts + deployment record; revert data decoded into named errors."""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict

import pytest
from web3 import Web3

from synod.chain import bindings
from synod.chain.errors import ContractRevert, as_contract_revert, decode_revert, known_errors

pytestmark = pytest.mark.chain


def test_contract_is_bound_to_the_deployed_address(chain, deployed, ticket):
    assert ticket.address == Web3.to_checksum_address(deployed["PromptTicket"].address)
    assert ticket.functions.symbol().call() == "TICKET"
    # Artifacts and the deployment record are read once per process, not on every call.
    assert bindings.artifact("PromptTicket") is bindings.artifact("PromptTicket")
    assert bindings.contract("PromptTicket", w3=chain.w3) is ticket
    assert bindings.deployed("PromptTicket") == deployed["PromptTicket"]


def test_a_contract_missing_from_the_deployment_says_so(chain, deployed):
    with pytest.raises(bindings.ContractNotDeployed, match=r"NoSuchContract is not deployed"):
        bindings.contract("NoSuchContract")
    with pytest.raises(bindings.ContractNotDeployed, match="chain 4242"):
        bindings.contract("PromptTicket", chain_id=4242)
    with pytest.raises(bindings.ArtifactMissing, match="compile_contracts"):
        bindings.abi("NoSuchContract")


def test_a_redeployment_is_picked_up_without_restart(chain, deployed, settings, tmp_path):
    settings.DEPLOYMENTS_DIR = tmp_path
    assert bindings.deployed_contracts(31337) == {}
    record = deployed["PromptTicket"]
    moved = {**asdict(record), "block_number": 1}
    (tmp_path / "31337.json").write_text(
        json.dumps({"chain_id": 31337, "contracts": {"PromptTicket": moved}})
    )
    assert bindings.deployed("PromptTicket").block_number == 1


def test_custom_error_at_estimate_is_decoded_with_named_arguments(chain, ticket, price):
    buyer = chain.w3.eth.accounts[3]
    with pytest.raises(Exception) as raised:
        ticket.functions.buy().estimate_gas({"from": buyer, "value": 1})
    revert = as_contract_revert(raised.value)
    assert isinstance(revert, ContractRevert)
    assert revert.name == "PromptTicketPaymentTooSmall"
    assert revert.args == {"paid": 1, "price": price}
    assert str(revert) == f"PromptTicketPaymentTooSmall(paid=1, price={price})"
    assert "PromptTicket" in revert.contracts


def test_inherited_library_errors_are_known_too(chain, ticket):
    sender, receiver = chain.w3.eth.accounts[3], chain.w3.eth.accounts[4]
    with pytest.raises(Exception) as raised:
        ticket.functions.transfer(receiver, 5).call({"from": sender})
    revert = as_contract_revert(raised.value)
    assert revert.name == "ERC20InsufficientBalance"
    assert revert.args == {"sender": sender, "balance": 0, "needed": 5}


def test_error_string_panic_and_unlisted_errors(chain, reverter):
    caller = {"from": chain.w3.eth.accounts[2]}

    with pytest.raises(Exception) as raised:
        reverter.functions.failWithMessage().call(caller)
    message = as_contract_revert(raised.value)
    assert (message.name, message.args) == ("Error", {"message": "no tickets today"})
    assert str(message) == "Error(message='no tickets today')"

    with pytest.raises(Exception) as raised:
        reverter.functions.failWithPanic(0).call(caller)
    panic = as_contract_revert(raised.value)
    assert panic.name == "Panic"
    assert panic.args == {"code": 0x11, "reason": "arithmetic overflow or underflow"}

    with pytest.raises(Exception) as raised:
        reverter.functions.failUnlisted().estimate_gas(caller)
    unlisted = as_contract_revert(raised.value)
    selector = Web3.keccak(text="ReverterUnlisted(uint256)")[:4]
    assert unlisted.name == ""
    assert unlisted.data[:4] == selector
    assert str(unlisted).startswith("reverted with undecoded data 0x" + selector.hex())


def test_decode_revert_edge_cases():
    assert decode_revert(None).name == ""
    assert str(decode_revert("0x")) == "reverted without a reason"
    selector = next(s for s, spec in known_errors().items() if spec.name == "PromptTicketZeroPrice")
    assert decode_revert(selector).name == "PromptTicketZeroPrice"
    # A known selector with a payload that does not decode is reported raw, not guessed.
    too_small = next(
        s for s, spec in known_errors().items() if spec.name == "PromptTicketPaymentTooSmall"
    )
    assert decode_revert(too_small + b"\x01").name == ""
    assert as_contract_revert(ValueError("not a revert")) is None


def test_contract_revert_survives_pickling(chain, ticket):
    revert = decode_revert(
        next(s for s, e in known_errors().items() if e.name == "PromptTicketPaymentTooSmall")
        + (1).to_bytes(32, "big")
        + (1000).to_bytes(32, "big")
    )
    copy = pickle.loads(pickle.dumps(revert))
    assert (copy.name, copy.args, str(copy)) == (revert.name, revert.args, str(revert))
    assert str(copy) == "PromptTicketPaymentTooSmall(paid=1, price=1000)"
