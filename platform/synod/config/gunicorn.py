"""gunicorn settings for the web process of `run_platform` (and any deployment that wants them).

Threaded workers: most of a request's time is spent waiting on the database or the chain node,
so a few processes with several threads each keep two cores busy without a process per request.
The app is loaded once before forking, so Django and its libraries start once.
"""

import multiprocessing
import os

workers = int(os.environ.get("SYNOD_WEB_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("SYNOD_WEB_THREADS", 4))
worker_class = "gthread"
preload_app = True
# A worker is replaced after this many requests (and a jitter), bounding slow memory growth.
max_requests = 5000
max_requests_jitter = 500
# Slow clients and long uploads: a gthread worker keeps notifying the arbiter while it waits.
timeout = 60
graceful_timeout = 10
keepalive = 5
accesslog = "-" if os.environ.get("SYNOD_WEB_ACCESS_LOG", "").lower() in {"1", "true"} else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
proc_name = "synod-web"


def post_fork(server, worker) -> None:
    """A worker dies with its master. Without this, a worker whose master was killed notices
    it, stops serving, and can then hang at interpreter exit holding its memory (seen after a
    SIGKILL of the master, which supervisord answers by starting a new one)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1  # from <linux/prctl.h>
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL) != 0:
        worker.log.warning("could not tie the worker's life to its master (prctl failed)")
