"""The platform's connection to the chain, configured from settings."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from eth_account import Account
from eth_account.signers.local import LocalAccount
from requests.exceptions import ConnectionError as NodeUnreachable
from requests.exceptions import Timeout as NodeTimeout
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder
from web3.types import RPCEndpoint, RPCResponse

from synod.chain.errors import ChainUnavailable

RPC_TIMEOUT_S = 5


class PlatformHTTPProvider(Web3.HTTPProvider):
    """web3's HTTP provider, whose requests that cannot reach the node, or get no answer in
    time, raise ChainUnavailable: every node call of the platform (a contract read in a
    view, an estimate in the sender) then fails one known way, which the error handlers
    answer as a 503, instead of a requests error that would be a crash."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            return super().make_request(method, params)
        except NodeTimeout as exc:  # before NodeUnreachable: ConnectTimeout is both
            raise ChainUnavailable(reason="the chain node did not answer in time") from exc
        except NodeUnreachable as exc:
            raise ChainUnavailable(reason="the chain node could not be reached") from exc


def make_web3(rpc_url: str, *, timeout: float = RPC_TIMEOUT_S) -> Web3:
    return Web3(PlatformHTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


@cache
def _web3_for(rpc_url: str) -> Web3:
    return make_web3(rpc_url)


def get_web3() -> Web3:
    """One client per RPC URL per process (tests may point settings at another node)."""
    return _web3_for(settings.CHAIN_RPC_URL)


def operator_account() -> LocalAccount:
    if not settings.OPERATOR_PRIVATE_KEY:
        raise RuntimeError("OPERATOR_PRIVATE_KEY is not set")
    return Account.from_key(settings.OPERATOR_PRIVATE_KEY)


def settlement_account() -> LocalAccount:
    """The settlement lane's key: TicketEscrow's operator. Separate from the operator key so
    settlements and relayed votes never share a nonce sequence."""
    if not settings.SETTLEMENT_PRIVATE_KEY:
        raise RuntimeError("SETTLEMENT_PRIVATE_KEY is not set")
    return Account.from_key(settings.SETTLEMENT_PRIVATE_KEY)


def signing_web3(account: LocalAccount, rpc_url: str | None = None) -> Web3:
    """A client that signs transactions from `account` locally (the key never leaves us)."""
    w3 = make_web3(rpc_url or settings.CHAIN_RPC_URL, timeout=30)
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
    w3.eth.default_account = account.address
    return w3
