"""Time `make run` from a fresh clone: the first start (installs, compile, deploy) against a
repeat start (everything reused) in the same run. Healthy means /healthz is 200 with a live
worker and a ticking beat. Usage: .venv/bin/python bench/startup.py [--port 8000]

Uses ports 8000 and 8545 (the run command's defaults): stop any running platform first."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return body["healthy"] and body["workers"]["ok"] and body["beat"]["ok"]


def timed_start(clone: Path, port: int, log: Path, limit_s: float = 900) -> float:
    started = time.monotonic()
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["make", "run"], cwd=clone, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        while not healthy(port):
            if process.poll() is not None:
                raise SystemExit(f"make run exited early; see {log}")
            if time.monotonic() - started > limit_s:
                raise SystemExit(f"not healthy after {limit_s} s; see {log}")
            time.sleep(0.5)
        return time.monotonic() - started
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synod-startup-") as tmp:
        clone = Path(tmp) / "synod"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        log = Path(tmp) / "run.log"
        first = timed_start(clone, args.port, log)
        repeat = timed_start(clone, args.port, log)
    result = {
        "first_start_s": round(first, 1),
        "repeat_start_s": round(repeat, 1),
        "repeat_over_first": round(repeat / first, 3),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"first start (fresh clone): {first:.1f} s")
    print(f"repeat start:              {repeat:.1f} s")
    print(f"repeat / first:            {repeat / first:.3f}")


if __name__ == "__main__":
    main()
