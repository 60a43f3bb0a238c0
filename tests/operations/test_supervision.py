"""The supervisor configuration `run_platform` writes."""

import configparser

from synod.operations.supervision import Program, config_text, control_socket


def _parsed(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser


def test_programs_restart_with_backoff_and_stop_in_reverse_order(tmp_path):
    programs = [
        Program("broker", ["valkey-server", "--port", "0"], priority=10),
        Program("worker", ["celery", "worker", "--hostname", "local@%h"], priority=30),
        Program("bootstrap", ["manage.py", "bootstrap_platform"], priority=25, one_shot=True),
    ]
    config = _parsed(config_text(programs, run_dir=tmp_path, working_dir=tmp_path))
    worker = config["program:worker"]
    # supervisord expands %(...)s: a literal % must reach the command doubled.
    assert worker["command"] == "celery worker --hostname local@%%h"
    assert worker["autorestart"] == "true"
    assert int(worker["startsecs"]) > 0 and int(worker["startretries"]) >= 10
    assert worker["stopasgroup"] == worker["killasgroup"] == "true"
    assert worker["environment"] == 'SYNOD_PROCESS="worker"'
    # A one-shot step is retried only when it fails.
    assert config["program:bootstrap"]["autorestart"] == "unexpected"
    assert config["program:bootstrap"]["startsecs"] == "0"
    # The broker starts first and so stops last.
    assert int(config["program:broker"]["priority"]) < int(worker["priority"])
    assert config["supervisord"]["nodaemon"] == "true"


def test_the_control_socket_path_stays_short_enough_for_unix_sockets(tmp_path):
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 6)
    assert len(str(control_socket(deep))) <= 100
    assert control_socket(deep) == control_socket(deep)  # every process finds the same one
    assert control_socket(tmp_path) == tmp_path.resolve() / "supervisor.sock"
