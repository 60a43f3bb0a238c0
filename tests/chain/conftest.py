"""Fixtures of the chain tests: the deployed ticket contract, an RPC proxy that can drop
requests (a real network failure between the platform and its node), the guard against node
calls inside database transactions, inline contracts."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import solcx
from django.conf import settings
from web3 import Web3
from web3.contract import Contract

from synod.chain import bindings, client
from synod.chain.devnode import DevNode
from tests.chain.node_guard import NodeCallGuard


@pytest.fixture
def ticket(chain: DevNode) -> Contract:
    return bindings.contract("PromptTicket", w3=chain.w3)


@pytest.fixture
def price(ticket: Contract) -> int:
    return ticket.functions.ticketPrice().call()


@dataclass
class RpcProxy:
    """Forwards JSON-RPC to the node. `broadcast` decides what happens to
    eth_sendRawTransaction: "forward", "refuse" (an HTTP 502, it never reaches the node),
    "drop" (the connection closes without an answer, it never reaches the node) or
    "lose_reply" (it reaches the node, but the caller sees a failure, as after a timeout).
    Methods in `drop_methods` lose their connection the same way. `before[method]` runs
    once, just before the next such request is forwarded, `after[method]` once, after the
    node answered it and before the caller hears the answer (races, made deterministic).
    `strip_log_timestamps` removes `blockTimestamp` from eth_getLogs answers, as nodes
    that do not include it send them."""

    url: str
    broadcast: str = "forward"
    refused: int = 0
    drop_methods: set[str] = field(default_factory=set)
    before: dict[str, Callable[[], None]] = field(default_factory=dict)
    after: dict[str, Callable[[], None]] = field(default_factory=dict)
    strip_log_timestamps: bool = False

    @property
    def w3(self) -> Web3:
        # Looked up on the module, so that the node-call guard sees this client too.
        return client.make_web3(self.url, timeout=10)


@pytest.fixture
def rpc_proxy(chain: DevNode) -> Iterator[RpcProxy]:
    proxy = RpcProxy(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            method = json.loads(body).get("method")
            broadcast = method == "eth_sendRawTransaction"
            if method in proxy.drop_methods or (broadcast and proxy.broadcast == "drop"):
                proxy.refused += broadcast
                self.close_connection = True  # no status line: the client sees a dropped link
                return
            if broadcast and proxy.broadcast == "refuse":
                proxy.refused += 1
                self.send_error(502, "node unreachable")
                return
            if method in proxy.before:
                proxy.before.pop(method)()
            request = urllib.request.Request(
                chain.url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as upstream:
                answer = upstream.read()
            if method in proxy.after:
                proxy.after.pop(method)()
            if method == "eth_getLogs" and proxy.strip_log_timestamps:
                reply = json.loads(answer)
                for log in reply.get("result") or []:
                    log.pop("blockTimestamp", None)
                answer = json.dumps(reply).encode()
            if broadcast and proxy.broadcast == "lose_reply":
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


@pytest.fixture
def node_guard(chain: DevNode, monkeypatch) -> Iterator[NodeCallGuard]:
    """Fails any chain node call the platform makes inside a database transaction, from
    every web3 client it creates during the test (see tests/chain/node_guard.py)."""
    guard = NodeCallGuard()
    with monkeypatch.context() as patch:
        patch.setattr(client, "make_web3", guard.guarded_factory(client.make_web3))
        client._web3_for.cache_clear()
        try:
            yield guard
        finally:
            client._web3_for.cache_clear()
    guard.assert_clean()


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
