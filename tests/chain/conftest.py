"""Fixtures of the chain tests: the deployed ticket contract, an RPC proxy that can drop
broadcasts (a real network failure between the platform and its node), inline contracts."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import solcx
from django.conf import settings
from web3 import Web3
from web3.contract import Contract

from synod.chain import bindings
from synod.chain.client import make_web3
from synod.chain.devnode import DevNode


@pytest.fixture
def ticket(chain: DevNode) -> Contract:
    return bindings.contract("PromptTicket", w3=chain.w3)


@pytest.fixture
def price(ticket: Contract) -> int:
    return ticket.functions.ticketPrice().call()


@dataclass
class RpcProxy:
    """Forwards JSON-RPC to the node. `broadcast` decides what happens to
    eth_sendRawTransaction: "forward", "refuse" (never reaches the node) or "lose_reply"
    (reaches the node, but the caller sees a failure, as after a timeout)."""

    url: str
    broadcast: str = "forward"
    refused: int = 0

    @property
    def w3(self) -> Web3:
        return make_web3(self.url, timeout=10)


@pytest.fixture
def rpc_proxy(chain: DevNode) -> Iterator[RpcProxy]:
    proxy = RpcProxy(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            method = json.loads(body).get("method")
            if method == "eth_sendRawTransaction" and proxy.broadcast == "refuse":
                proxy.refused += 1
                self.send_error(502, "node unreachable")
                return
            request = urllib.request.Request(
                chain.url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as upstream:
                answer = upstream.read()
            if method == "eth_sendRawTransaction" and proxy.broadcast == "lose_reply":
                proxy.refused += 1
                self.send_error(504, "gateway timeout")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield proxy
    server.shutdown()
    server.server_close()


REVERTER_SOURCE = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Reverter {
    error ReverterUnlisted(uint256 code);

    function failWithMessage() external pure {
        require(false, "no tickets today");
    }

    function failWithPanic(uint256 amount) external pure returns (uint256) {
        return amount - 1;
    }

    function failUnlisted() external pure {
        revert ReverterUnlisted(7);
    }
}
"""


@pytest.fixture(scope="session")
def reverter_artifact() -> dict:
    """A throwaway contract compiled here; its custom error is in no platform artifact."""
    output = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {"Reverter.sol": {"content": REVERTER_SOURCE}},
            "settings": {
                "evmVersion": "cancun",
                "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
            },
        },
        solc_binary=settings.SOLC_BINARY,
    )
    compiled = output["contracts"]["Reverter.sol"]["Reverter"]
    return {"abi": compiled["abi"], "bytecode": "0x" + compiled["evm"]["bytecode"]["object"]}


@pytest.fixture
def reverter(chain: DevNode, reverter_artifact: dict) -> Contract:
    factory = chain.w3.eth.contract(
        abi=reverter_artifact["abi"], bytecode=reverter_artifact["bytecode"]
    )
    tx = factory.constructor().transact({"from": chain.w3.eth.accounts[9]})
    address = chain.w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    return chain.w3.eth.contract(address=address, abi=reverter_artifact["abi"])
