"""Shared fixtures. Chain tests run against a real anvil node started here on a free port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from synod.chain.client import operator_account, signing_web3
from synod.chain.compiler import compile_contracts
from synod.chain.deployment import DeployedContract, deploy_contracts
from synod.chain.devnode import DevNode, start_devnode
from synod.common import embedded_broker
from tests.support.suite import Suite


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings, request):
    """Rate-limit counters live in the cache: each test gets an empty one of its own, in
    memory, so neither earlier tests nor test runs beside this one share its counters."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"rate-limits:{request.node.nodeid}",
        }
    }
    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def broker() -> Iterator[str]:
    """The embedded broker of this test session (a real Valkey server on a Unix socket),
    unless CELERY_BROKER_URL names another broker."""
    if not embedded_broker.is_embedded(settings.CELERY_BROKER_URL, settings.BROKER_DIR):
        yield settings.CELERY_BROKER_URL
        return
    server = embedded_broker.EmbeddedBroker(settings.BROKER_DIR).start()
    yield server.url
    server.stop()
    shutil.rmtree(settings.BROKER_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def anvil() -> Iterator[DevNode]:
    node = start_devnode()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def chain_settings(anvil: DevNode, tmp_path_factory) -> Iterator[DevNode]:
    """Points the platform at the test node, with a deployment record of its own."""
    with override_settings(
        CHAIN_RPC_URL=anvil.url, DEPLOYMENTS_DIR=tmp_path_factory.mktemp("deployments")
    ):
        yield anvil


@pytest.fixture(scope="session")
def deployed(chain_settings: DevNode) -> dict[str, DeployedContract]:
    """The contract suite deployed once per test session."""
    compile_contracts()
    account = operator_account()
    return deploy_contracts(w3=signing_web3(account, chain_settings.url), account=account)


@pytest.fixture
def chain(chain_settings: DevNode, deployed) -> Iterator[DevNode]:
    """A deployed chain, rolled back after each test so tests never see each other's blocks."""
    snapshot = chain_settings.snapshot()
    yield chain_settings
    chain_settings.revert(snapshot)


@pytest.fixture
def suite(chain: DevNode, deployed: dict[str, DeployedContract]) -> Suite:
    """The deployed contracts with the helpers of tests/support/suite.py, on a chain rolled
    back after the test."""
    return Suite(node=chain, w3=chain.w3, records=deployed)
