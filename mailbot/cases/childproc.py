"""The machinery of mailbot's limited child processes (the PDF worker, the OCR workers): start one with this
mailbot on its path, pickles to its stdin, length-prefixed pickles back by a wall-clock deadline, and in the
child its address-space and CPU limits. (Plain `subprocess` rather than multiprocessing: "spawn" re-imports
the caller's main script, "fork" would copy a daemon that holds other threads' locks.)"""

from __future__ import annotations

import logging
import math
import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from mailbot.domain.errors import MailbotError

log = logging.getLogger(__name__)

HEADER = struct.Struct(">Q")  # an answer's length, before its pickle


class Gone(MailbotError):
    """The child did not answer: it timed out (`timed_out`) or it died."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "died")
        self.timed_out = timed_out


def spawn(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m module args…` with pipes for stdin/stdout; the child imports this same mailbot, even from a
    checkout. Raises OSError when no process can start."""
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]),
                                                           child_env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=child_env)


def start(what: str, module: str, *args: str, env: dict[str, str] | None = None,
          start_seconds: float = 30.0) -> subprocess.Popen[bytes] | None:
    """A new child (spawn) that said "ready" within `start_seconds`; None (logged, naming `what`) when none
    starts."""
    try:
        proc = spawn(module, *args, env=env)
    except OSError as exc:
        log.warning("no %s process (%s)", what, exc)
        return None
    try:
        if receive(proc, time.monotonic() + start_seconds) != "ready":
            raise Gone(False)
    except Gone as exc:
        log.warning("%s did not start (%s)", what, exc)
        discard(proc)
        return None
    return proc


class Child:
    """One reused child process: started on first use (`command()` says how), replaced after it was killed
    or died; `starts` counts the processes started, `jobs` what the current one was given."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.jobs = 0

    def command(self) -> tuple[str, str, tuple[str, ...], dict[str, str] | None, float]:
        """(what, module, arguments, extra environment, start seconds) of a new child."""
        raise NotImplementedError

    def _running(self) -> subprocess.Popen[bytes] | None:
        """The live child, started if needed; None when none can start."""
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        self._discard()
        what, module, args, env, start_seconds = self.command()
        proc = start(what, module, *args, env=env, start_seconds=start_seconds)
        if proc is None:
            return None
        self.proc, self.jobs = proc, 0
        self.starts += 1
        return proc

    def _discard(self) -> None:
        """Kill and reap the child, if any."""
        proc, self.proc = self.proc, None
        discard(proc)

    def close_child(self) -> None:
        """End the child: end of its input, then a kill if it does not exit at once."""
        proc, self.proc = self.proc, None
        close(proc)


def send(proc: subprocess.Popen[bytes], job: Any) -> None:
    """One job to the child (OSError/ValueError when its stdin is gone)."""
    assert proc.stdin is not None
    pickle.dump(job, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    proc.stdin.flush()


def receive(proc: subprocess.Popen[bytes], deadline: float) -> Any:
    """One length-prefixed answer of the child, read by the deadline (time.monotonic); Gone when it is late
    or died."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    poller = select.poll()  # not select.select: a daemon's descriptors may be numbered above 1023
    poller.register(fd, select.POLLIN)
    buf = bytearray()
    need = HEADER.size
    while len(buf) < need:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(math.ceil(remaining * 1000)):
            raise Gone(True)
        chunk = os.read(fd, min(need - len(buf), 1 << 20))
        if not chunk:
            proc.wait()
            raise Gone(False)
        buf += chunk
        if need == HEADER.size and len(buf) == need:
            need += HEADER.unpack(buf)[0]
    try:
        return pickle.loads(buf[HEADER.size:])
    except Exception as exc:  # noqa: BLE001 - a garbled answer: the child is not trusted any more
        log.warning("worker answer unreadable (%s: %s)", type(exc).__name__, exc)
        raise Gone(False) from exc


def discard(proc: subprocess.Popen[bytes] | None) -> None:
    """Kill and reap a child, if any, and close its pipes."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass


def close(proc: subprocess.Popen[bytes] | None) -> None:
    """End a child: end of its input, then a kill if it does not exit at once."""
    if proc is not None and proc.stdin is not None:
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
    discard(proc)


# -- in the child -----------------------------------------------------------------------------------
def child_streams() -> tuple[BinaryIO, BinaryIO]:
    """The child's job input and answer output; a stray print() goes to stderr, not into the answers."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    return stdin, stdout


def limit_memory(memory_mb: int) -> None:
    """RLIMIT_AS of this process (0: none): an allocation beyond it fails (MemoryError) instead of swapping."""
    if memory_mb > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024, hard))


def cpu_budget(seconds: float) -> None:
    """RLIMIT_CPU counts the process's whole life: allow what it used so far plus this job's share (+1 s,
    so that the parent's wall clock normally ends a slow job first; SIGXCPU ends the process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def answer(stdout: BinaryIO, value: Any) -> None:
    """One length-prefixed pickle to the parent."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stdout.write(HEADER.pack(len(payload)) + payload)
    stdout.flush()
