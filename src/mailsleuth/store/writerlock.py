"""One SQLite writer at a time across processes, handed over promptly, requests' writes first.

SQLite's own busy handler makes a waiting writer sleep and retry: against a process that writes all
the time (a bulk worker completing rows) the waiter keeps waking up to find the lock taken again.
Every mailsleuth process therefore takes an exclusive `flock` on a file beside the database before
`BEGIN IMMEDIATE`; the kernel wakes a waiter the moment the holder commits. Background writes (bulk
claims and completions, `acquire_in_background`) also check a second "intent" file first: writers
in a hurry (`acquire`) hold it shared while they wait, and a background write takes the lock only
while nobody does, so a request's write waits at most for the one short bulk transaction already
running, never behind a stream of them.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from pathlib import Path

BACKGROUND_RETRY_SECONDS = 0.002


class WriterLock:
    """An exclusive lock on `path` shared by every process that writes the same database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.intent_path = path.with_name(path.name + "-intent")
        self._fd: int | None = None
        self._intent_fd: int | None = None
        self._probe_fd: int | None = None  # the intent file again, for background writes' tests
        self._announced = 0  # this process's writes that announced themselves (`announce`)
        self._intent_held = False

    def acquire_in_background(self) -> None:
        """Take the lock for a background write, never ahead of a writer in a hurry (blocks: call it
        from a thread). The lock is tried, not waited for, and only while the intent file can be
        held exclusively, i.e. while nobody announces a wait: a background writer asleep in `flock`
        would be woken when the holder commits, as likely as a request's write that began waiting
        after it, and a request would then wait for two bulk transactions, not one.

        While this process's own writes are announced (they wait for its turn, which the caller
        holds) the lock is taken as a request's write would take it: waiting for them would never
        end, and other processes' announcements cannot be told apart from theirs, so a request
        elsewhere may wait for this one transaction. The test uses a file description of its own:
        `flock` on the one the announcements hold would convert their shared lock, and unlocking it
        would drop them."""
        fd, _ = self._files()
        if self._probe_fd is None:
            self._probe_fd = os.open(self.intent_path, os.O_RDWR | os.O_CREAT, 0o600)
        probe = self._probe_fd
        while True:
            if self._announced:  # ours wait for the caller's turn; others' cannot be told from them
                if _try(fd, fcntl.LOCK_EX):
                    return
            elif _try(probe, fcntl.LOCK_EX):  # nobody in a hurry waits (they hold it shared)
                taken = _try(fd, fcntl.LOCK_EX)
                fcntl.flock(probe, fcntl.LOCK_UN)
                if taken:
                    return
            time.sleep(BACKGROUND_RETRY_SECONDS)

    async def acquire(self) -> None:
        """Take the lock for a request's write, announcing the wait so background writes hold off."""
        fd, _ = self._files()
        await self.announce()
        try:
            await _lock(fd)
        finally:
            self.withdraw()

    async def announce(self) -> None:
        """Say that a write in a hurry is coming, until `withdraw`: background writes of every process
        take the lock only while no process announces one. Announcements nest (a process holds the
        intent file shared while any of its writes has announced itself), so a process whose writes
        hand its turn from one to the next keeps background writes out across the handover."""
        _, intent = self._files()
        self._announced += 1
        try:
            while not self._intent_held:
                if _try(intent, fcntl.LOCK_SH):
                    self._intent_held = True
                else:  # a background writer is only testing it: an instant
                    await asyncio.sleep(0)
        except BaseException:
            self.withdraw()
            raise

    def withdraw(self) -> None:
        self._announced -= 1
        if self._announced == 0 and self._intent_held and self._intent_fd is not None:
            fcntl.flock(self._intent_fd, fcntl.LOCK_UN)
            self._intent_held = False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self._fd, self._intent_fd, self._probe_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._intent_fd = self._probe_fd = None
        self._intent_held = False

    def _files(self) -> tuple[int, int]:
        if self._fd is None or self._intent_fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._intent_fd = os.open(self.intent_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd, self._intent_fd


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


async def _lock(fd: int) -> None:
    """Take the exclusive lock, waiting in a thread (never on the event loop) when it is held."""
    if _try(fd, fcntl.LOCK_EX):
        return
    waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
    try:
        await asyncio.shield(waiting)
    except asyncio.CancelledError:
        # the thread still gets the lock: give it back as soon as it does
        waiting.add_done_callback(lambda done: done.exception() is None and fcntl.flock(fd, fcntl.LOCK_UN))
        raise
