"""Compile and deploy through the real toolchain against a fresh anvil node."""

import json

import pytest
from web3 import Web3

from synod.chain.client import operator_account, signing_web3
from synod.chain.compiler import compile_contracts, load_artifact
from synod.chain.deployment import deploy_contracts, load_deployment

pytestmark = pytest.mark.chain


def test_compile_writes_artifacts_and_caches_by_source_hash():
    first = compile_contracts()
    second = compile_contracts()
    assert second.cached
    assert second.build_hash == first.build_hash
    artifact = load_artifact("PromptTicket")
    assert len(bytes.fromhex(artifact["bytecode"].removeprefix("0x"))) > 1000
    assert any(item.get("name") == "buy" for item in artifact["abi"])


def test_deploy_records_addresses_per_chain_and_is_idempotent(chain, deployed, settings):
    record = load_deployment(31337)
    assert record["PromptTicket"].address == deployed["PromptTicket"].address
    on_disk = json.loads((settings.DEPLOYMENTS_DIR / "31337.json").read_text())
    assert on_disk["chain_id"] == 31337

    account = operator_account()
    again = deploy_contracts(w3=signing_web3(account, chain.url), account=account)
    assert again["PromptTicket"].address == deployed["PromptTicket"].address


def test_deployed_ticket_contract_sells_whole_tickets(chain, deployed):
    artifact = load_artifact("PromptTicket")
    buyer = chain.w3.eth.accounts[3]
    ticket = chain.w3.eth.contract(address=deployed["PromptTicket"].address, abi=artifact["abi"])
    price = ticket.functions.ticketPrice().call()
    balance_before = chain.w3.eth.get_balance(buyer)
    tx = ticket.functions.buy().transact({"from": buyer, "value": price * 3 + 1})
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx)
    assert ticket.functions.balanceOf(buyer).call() == 3
    spent = balance_before - chain.w3.eth.get_balance(buyer)
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert spent == price * 3 + gas_cost  # the leftover wei came back


def test_chain_snapshot_isolates_tests(chain, deployed):
    artifact = load_artifact("PromptTicket")
    ticket = chain.w3.eth.contract(address=deployed["PromptTicket"].address, abi=artifact["abi"])
    assert ticket.functions.balanceOf(chain.w3.eth.accounts[3]).call() == 0
    assert Web3.is_checksum_address(deployed["PromptTicket"].address)
