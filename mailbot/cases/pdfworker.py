"""PDF text read in a reused child process under a CPU, memory and wall-clock limit, so a costly file is a finding."""

from __future__ import annotations

import atexit
import logging
import math
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from mailbot.cases.pdftext import pdf_text
from mailbot.config import LimitSettings
from mailbot.domain.errors import MailbotError

log = logging.getLogger(__name__)

LIMIT_TIME = "limit_time"  # pdf_text's problem when reading took longer than the limit
LIMIT_MEMORY = "limit_memory"  # … when it needed more memory than the limit (or the worker died)
LIMITS_HIT = frozenset({LIMIT_TIME, LIMIT_MEMORY})

RECYCLE_AFTER = 1000  # files one child reads before it is replaced (≈ 0.13 s: whatever it grew is returned)
START_SECONDS = 30.0  # how long a new worker may take to import pypdf and say it is ready
_HEADER = struct.Struct(">Q")  # an answer's length, before its pickle
# The loggers whose records the child sends back, at the parent's levels: the office's log configuration
# governs pypdf's complaints as when pypdf ran in-process; at most _RECORDS_KEPT records per file.
_FORWARDED = ("pypdf", "mailbot.cases.pdftext")
_RECORDS_KEPT = 200


@dataclass(frozen=True)
class PdfLimits:
    """What reading one PDF may cost: wall-clock (and CPU) seconds, and the worker's address space."""

    seconds: float = 20.0
    memory_mb: int = 512


DEFAULT_LIMITS = PdfLimits()  # what analyse_file and the prefetch helper use unless given others


def pdf_limits(limits: LimitSettings) -> PdfLimits:
    """The office's `[limits] pdf_seconds` / `pdf_memory_mb` as the worker's limits."""
    return PdfLimits(float(limits.pdf_seconds), limits.pdf_memory_mb)


class _Gone(MailbotError):
    """The worker did not answer: it timed out (`timed_out`) or it died."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "died")
        self.timed_out = timed_out


class PdfWorker:
    """One `python -m mailbot.cases.pdfworker_main` child reading PDFs one at a time (pickles over its
    stdin, length-prefixed pickles back on its stdout), started on first use and replaced after it was
    killed or died. (A plain child process rather than multiprocessing, as for the prefetch helper.)"""

    def __init__(self, limits: PdfLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0  # how many child processes this worker has started
        self.jobs = 0  # files the current child was given
        self.lock = threading.Lock()

    def text(self, data: bytes, max_pages: int = 30, seconds: float | None = None) -> tuple[str, str | None]:
        """pdf_text(data, max_pages) as the child computes it, or ("", LIMIT_TIME | LIMIT_MEMORY) when
        it exceeded `seconds` (default: the worker's limit) or its memory; in-process if no child starts."""
        seconds = self.limits.seconds if seconds is None else seconds
        with self.lock:
            result, fresh = self._read(data, max_pages, seconds)
            if result[1] == LIMIT_MEMORY and not fresh:
                # A child that has read many files may have grown: the file gets one try in a new one.
                result, _ = self._read(data, max_pages, seconds)
        if result[1] in LIMITS_HIT:
            log.warning("PDF of %d bytes not read: %s", len(data), result[1])
        return result

    def _read(self, data: bytes, max_pages: int, seconds: float) -> tuple[tuple[str, str | None], bool]:
        """One reading, and whether the child was new for it."""
        for _attempt in (1, 2):
            proc = self._running()
            if proc is None:
                return pdf_text(data, max_pages), True
            fresh = self.jobs == 0
            try:
                _send(proc, (data, max_pages, seconds, _levels()))
            except (OSError, ValueError) as exc:  # died while idle (killed from outside): once more
                log.warning("PDF worker gone (%s); starting another", exc)
                self._discard()
                continue
            self.jobs += 1
            try:
                result, records = _receive(proc, time.monotonic() + seconds)
            except _Gone as gone:
                self._discard()
                log.info("PDF worker %s (exit %s)", gone, proc.returncode)
                return ("", LIMIT_TIME if gone.timed_out or proc.returncode == -signal.SIGXCPU else LIMIT_MEMORY), fresh
            _replay(records)
            if result[1] in LIMITS_HIT or self.jobs >= RECYCLE_AFTER:
                self._discard()  # not trusted with the next file after running out of memory; or just old
            return (result[0], result[1]), fresh
        return pdf_text(data, max_pages), True

    def _running(self) -> subprocess.Popen[bytes] | None:
        """The live child, started if needed; None when none can start (the caller reads in-process)."""
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        self._discard()
        env = dict(os.environ)  # the child imports this same mailbot, even from a checkout
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]),
                                                         env.get("PYTHONPATH", "")) if p)
        try:
            proc = subprocess.Popen([sys.executable, "-m", "mailbot.cases.pdfworker_main", str(self.limits.memory_mb)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        except OSError as exc:
            log.warning("no PDF worker process (%s); reading PDFs without limits", exc)
            return None
        self.proc, self.jobs = proc, 0
        self.starts += 1
        try:
            if _receive(proc, time.monotonic() + START_SECONDS) != "ready":
                raise _Gone(False)
        except _Gone as exc:
            log.warning("PDF worker did not start (%s); reading PDFs without limits", exc)
            self._discard()
            return None
        return proc

    def _discard(self) -> None:
        """Kill and reap the child, if any."""
        proc, self.proc = self.proc, None
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

    def close(self) -> None:
        """End the child: end of its input, then a kill if it does not exit at once."""
        with self.lock:
            proc = self.proc
            if proc is not None and proc.stdin is not None:
                try:
                    proc.stdin.close()
                    proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._discard()


def _send(proc: subprocess.Popen[bytes], job: Any) -> None:
    assert proc.stdin is not None
    pickle.dump(job, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    proc.stdin.flush()


def _receive(proc: subprocess.Popen[bytes], deadline: float) -> Any:
    """One length-prefixed answer of the child, read by the deadline; _Gone when it is late or died."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    poller = select.poll()  # not select.select: a daemon's descriptors may be numbered above 1023
    poller.register(fd, select.POLLIN)
    buf = bytearray()
    need = _HEADER.size
    while len(buf) < need:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(math.ceil(remaining * 1000)):
            raise _Gone(True)
        chunk = os.read(fd, min(need - len(buf), 1 << 20))
        if not chunk:
            proc.wait()
            raise _Gone(False)
        buf += chunk
        if need == _HEADER.size and len(buf) == need:
            need += _HEADER.unpack(buf)[0]
    try:
        return pickle.loads(buf[_HEADER.size:])
    except Exception as exc:  # noqa: BLE001 - a garbled answer: the worker is not trusted any more
        log.warning("PDF worker answer unreadable (%s: %s)", type(exc).__name__, exc)
        raise _Gone(False) from exc


_shared: PdfWorker | None = None
_shared_lock = threading.Lock()
_hits: OrderedDict[tuple[str, int, PdfLimits], str] = OrderedDict()  # the files that hit a limit lately
_HITS_KEPT = 64


def limited_pdf_text(data: bytes, max_pages: int = 30, limits: PdfLimits | None = None,
                     sha256: str | None = None) -> tuple[str, str | None]:
    """pdf_text in this process's shared worker under `limits` (default: DEFAULT_LIMITS, read at the call);
    a file that hit a limit before (by `sha256`, when given) hits it again at once."""
    global _shared
    limits = limits or DEFAULT_LIMITS
    key = (sha256, max_pages, limits) if sha256 else None
    with _shared_lock:
        if key is not None and key in _hits:
            log.warning("PDF of %d bytes not read: %s (as before)", len(data), _hits[key])
            return "", _hits[key]
        if _shared is not None and _shared.limits.memory_mb != limits.memory_mb:
            _shared.close()
            _shared = None
        if _shared is None:
            _shared = PdfWorker(limits)
        worker = _shared
    result = worker.text(data, max_pages, limits.seconds)
    if key is not None and result[1] in LIMITS_HIT:
        with _shared_lock:
            _hits[key] = result[1]
            while len(_hits) > _HITS_KEPT:
                _hits.popitem(last=False)
    return result


@atexit.register
def close_shared() -> None:
    """End this process's shared worker (it is started again when a PDF comes)."""
    global _shared
    with _shared_lock:
        worker, _shared = _shared, None
    if worker is not None:
        worker.close()


def _levels() -> tuple[int, ...]:
    return tuple(logging.getLogger(name).getEffectiveLevel() for name in _FORWARDED)


def _replay(records: list[tuple[str, int, str]]) -> None:
    """Log in this process what the child's pypdf (and pdf_text) logged."""
    for name, level, message in records:
        logging.getLogger(name).log(level, "%s", message)


class _Collect(logging.Handler):
    """The child's records of the forwarded loggers, as (logger, level, message), for the answer."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose arguments do not fit its format
            message = f"{record.msg!r} % {record.args!r}"
        if len(self.records) < _RECORDS_KEPT:
            self.records.append((record.name, record.levelno, message))


# -- the child --------------------------------------------------------------------------------------
def serve(memory_mb: int) -> None:
    """The worker's loop: (data, max_pages, seconds, log levels) in, (pdf_text's answer, log records) out,
    until stdin ends."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s [pdf]: %(message)s",
                        stream=sys.stderr)
    collect = _Collect()
    for name in _FORWARDED:
        logging.getLogger(name).addHandler(collect)
        logging.getLogger(name).propagate = False
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the answers
    if memory_mb > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024, hard))
    _answer(stdout, "ready")
    while True:
        try:
            data, max_pages, seconds, levels = pickle.load(stdin)
        except EOFError:
            return
        for name, level in zip(_FORWARDED, levels):
            logging.getLogger(name).setLevel(level)
        collect.records = []
        _cpu_budget(seconds)
        try:
            result = pdf_text(data, max_pages)
        except MemoryError:
            result = ("", LIMIT_MEMORY)
        del data
        _answer(stdout, (result, collect.records))


def _cpu_budget(seconds: float) -> None:
    """RLIMIT_CPU counts the process's whole life: allow what it used so far plus this file's share (+1 s,
    so that the parent's wall clock normally ends a slow file first; SIGXCPU ends the process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _answer(stdout: BinaryIO, value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stdout.write(_HEADER.pack(len(payload)) + payload)
    stdout.flush()
