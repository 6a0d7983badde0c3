"""Broker selection and lease-owner identities."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from taskiq import InMemoryBroker

from mailsleuth.jobs.queue import is_dead_local, make_broker, new_owner


def test_the_broker_comes_from_the_url() -> None:
    assert isinstance(make_broker(""), InMemoryBroker)
    from taskiq_aio_pika import AioPikaBroker
    from taskiq_redis import RedisStreamBroker

    assert isinstance(make_broker("redis://127.0.0.1:6379/0"), RedisStreamBroker)  # no connection is made yet
    assert isinstance(make_broker("amqp://guest:guest@127.0.0.1:5672/"), AioPikaBroker)
    with pytest.raises(ValueError, match="unsupported broker"):
        make_broker("ftp://127.0.0.1/")


def test_dead_local_owners_are_recognised() -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    host = socket.gethostname()
    assert is_dead_local(f"{host}:{finished.stdout.strip()}:abcd")  # that process has exited
    assert not is_dead_local(f"{host}:1:abcd")  # init is alive
    assert not is_dead_local(f"other-{host}:{finished.stdout.strip()}:abcd")  # another machine: wait for expiry
    assert is_dead_local(new_owner())  # this process, but no open queue owns it
    assert new_owner().startswith(f"{host}:{os.getpid()}:")
