"""A local anvil node as a child process: for tests, benchmarks and demos."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass

from django.conf import settings
from web3 import Web3

from synod.chain.client import make_web3


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
