"""A burst of concurrent requests against a running platform: several processes loop over the
health endpoint, the status panel, the public API and a page for a while, then report how many
requests were served, latency percentiles and every 5xx or unanswered request.

Against a platform you started (`make run`):
    .venv/bin/python bench/burst.py --url http://127.0.0.1:8000 [--seconds 60] [--processes 4]
Or start one the README's way first, on the embedded defaults and on PostgreSQL + Redis:
    .venv/bin/python bench/burst.py --start [--seconds 60]
With --start, pages are not rate-limited (SYNOD_WEB_RATE is raised) so the figures measure
serving; the API keeps its limit of 600 requests a minute per address, so its share of the
answers are 429s. Figures go to bench/results/burst.json. Loopback only; the loop is bounded in
time and count.
The test tests/operations/test_run_platform.py runs the same burst and asserts no 5xx, no errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PATHS = ["/healthz", "/status/panel", "/api/v1/models", "/api/v1/proposals", "/governance/"]
MAX_REQUESTS_PER_PROCESS = 200_000


@dataclass
class BurstResult:
    seconds: float
    processes: int
    requests: int
    per_status: dict[str, int]
    errors: dict[str, int]
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    per_path: dict[str, dict] = field(default_factory=dict)
    # The first few 5xx answers as received, to see what failed.
    server_error_bodies: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.per_status.items() if status.startswith("5"))


def _one_process(
    base_url: str, paths: list[str], seconds: float
) -> tuple[list[tuple[str, str, float]], list[str]]:
    url = urlparse(base_url)
    deadline = time.monotonic() + seconds
    samples: list[tuple[str, str, float]] = []
    server_error_bodies: list[str] = []
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    while time.monotonic() < deadline and len(samples) < MAX_REQUESTS_PER_PROCESS:
        path = paths[len(samples) % len(paths)]
        started = time.monotonic()
        try:
            connection.request("GET", path, headers={"Accept": "*/*"})
            response = connection.getresponse()
            body = response.read()
            outcome = str(response.status)
            if response.status >= 500 and len(server_error_bodies) < 5:
                server_error_bodies.append(f"{path}: {body[:2000].decode(errors='replace')}")
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
        except (OSError, http.client.HTTPException) as exc:
            outcome = f"error:{type(exc).__name__}"
            connection.close()
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
        samples.append((path, outcome, (time.monotonic() - started) * 1000))
    connection.close()
    return samples, server_error_bodies


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


def burst(
    base_url: str, *, seconds: float = 60, processes: int = 4, paths: list[str] | None = None
) -> BurstResult:
    paths = paths or PATHS
    started = time.monotonic()
    # Spawned, not forked: a fork of a process with threads (a test session's browser driver,
    # say) can inherit a lock held by another thread and hang.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=spawn) as pool:
        futures = [
            # Each process starts at another path, so all of them are hit at every moment.
            pool.submit(_one_process, base_url, paths[i % len(paths) :] + paths[: i % len(paths)],
                        seconds)
            for i in range(processes)
        ]  # fmt: skip
        answers = [future.result() for future in futures]
    samples = [sample for mine, _ in answers for sample in mine]
    server_error_bodies = [body for _, bodies in answers for body in bodies]
    elapsed = time.monotonic() - started
    outcomes = Counter(outcome for _, outcome, _ in samples)
    answered = [ms for _, outcome, ms in samples if not outcome.startswith("error")]
    per_path = {}
    for path in paths:
        mine = [(outcome, ms) for p, outcome, ms in samples if p == path]
        per_path[path] = {
            "requests": len(mine),
            "per_status": dict(Counter(outcome for outcome, _ in mine)),
            "p50_ms": _percentile([ms for _, ms in mine], 0.50),
            "p99_ms": _percentile([ms for _, ms in mine], 0.99),
        }
    return BurstResult(
        seconds=round(elapsed, 1),
        processes=processes,
        requests=len(samples),
        per_status={k: v for k, v in outcomes.items() if not k.startswith("error")},
        errors={k: v for k, v in outcomes.items() if k.startswith("error")},
        requests_per_s=round(len(samples) / elapsed, 1),
        p50_ms=_percentile(answered, 0.50),
        p99_ms=_percentile(answered, 0.99),
        per_path=per_path,
        server_error_bodies=server_error_bodies,
    )


def summary(label: str, result: BurstResult) -> str:
    served = sum(n for status, n in result.per_status.items() if status.startswith("2"))
    path_p50 = statistics.mean(p["p50_ms"] for p in result.per_path.values())
    return (
        f"{label}: {result.requests} requests in {result.seconds} s "
        f"({result.requests_per_s}/s) from {result.processes} processes; "
        f"2xx {served}, statuses {dict(sorted(result.per_status.items()))}, "
        f"errors {result.errors or 0}; p50 {result.p50_ms} ms, p99 {result.p99_ms} ms; "
        f"mean of per-path p50 {path_p50:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="a running platform, e.g. http://127.0.0.1:8000")
    parser.add_argument("--start", action="store_true", help="start the platform(s) here first")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    if bool(args.url) == bool(args.start):
        parser.error("give either --url or --start")
    results: dict[str, dict] = {}
    if args.url:
        result = burst(args.url, seconds=args.seconds, processes=args.processes)
        print(summary(args.url, result))
        results[args.url] = asdict(result)
    else:
        sys.path.insert(0, str(REPO))
        from tests.support.platform_process import running_platform

        for config in ("embedded", "postgres+redis"):
            # Pages unthrottled, to measure serving; the API keeps its per-address limit.
            with running_platform(config, SYNOD_WEB_RATE="1000000/minute") as platform:
                if platform is None:
                    print(f"{config}: skipped (PostgreSQL and Redis must answer on loopback)")
                    continue
                result = burst(platform.url, seconds=args.seconds, processes=args.processes)
                healthy_after = platform.health()["healthy"]
            print(summary(config, result) + f"; healthy afterwards: {healthy_after}")
            results[config] = {**asdict(result), "healthy_afterwards": healthy_after}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "burst.json"
    out.write_text(
        json.dumps({"measured_at": time.strftime("%Y-%m-%d %H:%M"), **results}, indent=2)
    )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
