"""A local anvil node as a child process: for tests, benchmarks and demos."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass

from django.conf import settings
from web3 import Web3

from synod.chain.client import make_web3

# anvil's published dev keys (from its well-known test mnemonic), by account index. They
# hold value only on local dev chains: 0 is the local operator, 1-3 the genesis experts.
ANVIL_DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
]
LOCAL_CHAIN_IDS = {31337}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DevNode:
    url: str
    process: subprocess.Popen
    w3: Web3

    def rpc(self, method: str, params: list | None = None):
        response = self.w3.provider.make_request(method, params or [])
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response["result"]

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def snapshot(self) -> str:
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", [snapshot_id]):
            raise RuntimeError(f"evm_revert({snapshot_id}) refused")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_devnode(
    *, chain_id: int | None = None, block_time: float | None = None, accounts: int = 10
) -> DevNode:
    port = free_port()
    argv = [
        settings.ANVIL_BINARY,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(chain_id or settings.CHAIN_ID),
        "--accounts", str(accounts),
        "--silent",
    ]  # fmt: skip
    if block_time:
        argv += ["--block-time", str(block_time)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    w3 = make_web3(url, timeout=30)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"anvil exited: {process.stderr.read().decode()[-2000:]}")
        try:
            _ = w3.eth.chain_id
            return DevNode(url, process, w3)
        except Exception:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
