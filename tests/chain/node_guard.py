"""A check that the platform never calls the chain node while it holds a database
transaction or lock (DESIGN.md): a web3 middleware that records every JSON-RPC request made
inside a `transaction.atomic()` block, and fails it.

pytest-django wraps a `django_db` test in atomic blocks of its own, so the guard compares
the depth of atomic blocks with the depth it found when the test started (in threads the
test starts, that depth is zero). Every `select_for_update` lock lives inside an atomic
block, so the one check covers locks too.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from web3 import Web3
from web3.middleware.base import Web3Middleware


class NodeCallInTransaction(AssertionError):
    """A node call happened while a database transaction was open."""


@dataclass(frozen=True)
class Violation:
    method: str
    depth: int
    stack: str

    def __str__(self) -> str:
        return f"{self.method} inside {self.depth} atomic block(s), called from:\n{self.stack}"


def _our_frames() -> str:
    """The platform's and the tests' frames of the current stack (web3's are noise)."""
    frames = [
        frame
        for frame in traceback.extract_stack()[:-2]
        if "/platform/synod/" in frame.filename or "/tests/" in frame.filename
    ]
    return "".join(traceback.format_list(frames))


@dataclass
class NodeCallGuard:
    baseline_thread: int = field(default_factory=threading.get_ident)
    baseline_depth: int = field(default_factory=lambda: len(connection.atomic_blocks))
    calls: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def _own_depth(self) -> int:
        depth = len(connection.atomic_blocks)
        if threading.get_ident() == self.baseline_thread:
            return depth - self.baseline_depth
        return depth

    def check(self, method: str) -> None:
        self.calls.append(method)
        depth = self._own_depth()
        if depth > 0:
            violation = Violation(method, depth, _our_frames())
            self.violations.append(violation)
            raise NodeCallInTransaction(str(violation))

    def middleware(self) -> type[Web3Middleware]:
        guard = self

        class GuardNodeCalls(Web3Middleware):
            def request_processor(self, method, params):
                guard.check(str(method))
                return method, params

        return GuardNodeCalls

    def watch(self, w3: Web3) -> Web3:
        """Guard every request `w3` sends from now on (the outermost layer sees them all)."""
        w3.middleware_onion.add(self.middleware(), name="node_call_guard")
        return w3

    def guarded_factory(self, make_web3: Callable[..., Web3]) -> Callable[..., Web3]:
        def make(*args, **kwargs) -> Web3:
            return self.watch(make_web3(*args, **kwargs))

        return make

    def assert_clean(self) -> None:
        assert not self.violations, "node calls inside a database transaction:\n\n" + "\n\n".join(
            map(str, self.violations)
        )
