"""The process supervisor of `run_platform`: supervisord, configured from a list of programs.

supervisord restarts a program that dies (at once after a good run; with a growing delay while
it keeps failing to start), logs each exit and restart, and never lets one program take the
others down. Ctrl-C stops it, and it stops every program in reverse start order, the broker
and the chain last. Each program runs in its own process group, so the terminal's Ctrl-C reaches
supervisord alone and the shutdown keeps that order.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from synod.common.unix_sockets import fitting_socket_path

# A program must stay up this long to count as started; a quicker exit is a failed start,
# retried after 1 s, 2 s, 3 s... (supervisord's backoff) up to START_RETRIES times.
START_SECONDS = 3
START_RETRIES = 30


@dataclass(frozen=True)
class Program:
    name: str
    argv: list[str]
    # Lower starts first and stops last.
    priority: int
    # A one-shot step (exit 0 is success and is not restarted).
    one_shot: bool = False
    stop_wait_s: int = 15
    environment: dict[str, str] = field(default_factory=dict)


def control_socket(run_dir: Path) -> Path:
    """supervisorctl's socket."""
    return fitting_socket_path(Path(run_dir) / "supervisor.sock")


def _escape(value: str) -> str:
    # supervisord expands %(name)s in its values: a literal % is written %%.
    return value.replace("%", "%%")


def _quote_env(environment: dict[str, str]) -> str:
    # supervisord's format: KEY="value",KEY2="value2" (values may not contain a double quote).
    return ",".join(f'{key}="{_escape(value)}"' for key, value in environment.items())


def config_text(programs: list[Program], *, run_dir: Path, working_dir: Path) -> str:
    run_dir = Path(run_dir).resolve()
    socket = control_socket(run_dir)
    lines = [
        "[supervisord]",
        "nodaemon=true",
        # Its own log (starts, exits, restarts) goes to the terminal (in the foreground it writes
        # there anyway) and is kept in the run folder.
        f"logfile={run_dir / 'supervisord.log'}",
        "logfile_maxbytes=5MB",
        "logfile_backups=2",
        "loglevel=info",
        f"pidfile={run_dir / 'supervisord.pid'}",
        f"directory={working_dir}",
        f"childlogdir={run_dir}",
        "identifier=synod",
        "",
        "[unix_http_server]",
        f"file={socket}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{socket}",
        "",
    ]
    for program in programs:
        lines += [
            f"[program:{program.name}]",
            f"command={_escape(shlex.join(program.argv))}",
            f"priority={program.priority}",
            "autostart=true",
            # A one-shot step is started again only when it failed.
            f"autorestart={'unexpected' if program.one_shot else 'true'}",
            "exitcodes=0",
            f"startsecs={0 if program.one_shot else START_SECONDS}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={program.stop_wait_s}",
            # Signals reach the whole group: gunicorn's and Celery's own child processes too.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
        ]
        environment = {"SYNOD_PROCESS": program.name, **program.environment}
        lines += [f"environment={_quote_env(environment)}", ""]
    return "\n".join(lines)


def write_config(programs: list[Program], *, run_dir: Path, working_dir: Path) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "supervisord.conf"
    path.write_text(config_text(programs, run_dir=run_dir, working_dir=working_dir))
    return path
