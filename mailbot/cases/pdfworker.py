"""PDF text read in a reused child process under a CPU, memory and wall-clock limit, so a costly file is a finding."""

from __future__ import annotations

import atexit
import logging
import pickle
import signal
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from mailbot.cases.childproc import (
    Child,
    Gone,
    answer,
    child_streams,
    cpu_budget,
    limit_memory,
    receive,
    send,
)
from mailbot.cases.pdftext import pdf_text
from mailbot.config import LimitSettings

log = logging.getLogger(__name__)

LIMIT_TIME = "limit_time"  # pdf_text's problem when reading took longer than the limit
LIMIT_MEMORY = "limit_memory"  # … when it needed more memory than the limit (or the worker died)
LIMITS_HIT = frozenset({LIMIT_TIME, LIMIT_MEMORY})

RECYCLE_AFTER = 1000  # files one child reads before it is replaced (≈ 0.13 s: whatever it grew is returned)
START_SECONDS = 30.0  # how long a new worker may take to import pypdf and say it is ready
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


class PdfWorker(Child):
    """One `python -m mailbot.cases.pdfworker_main` child reading PDFs one at a time (pickles over its
    stdin, length-prefixed pickles back on its stdout), started on first use and replaced after it was
    killed or died. (A plain child process rather than multiprocessing, as for the prefetch helper.)"""

    def __init__(self, limits: PdfLimits = DEFAULT_LIMITS) -> None:
        super().__init__()
        self.limits = limits
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
                send(proc, (data, max_pages, seconds, _levels()))
            except (OSError, ValueError) as exc:  # died while idle (killed from outside): once more
                log.warning("PDF worker gone (%s); starting another", exc)
                self._discard()
                continue
            self.jobs += 1
            try:
                result, records = receive(proc, time.monotonic() + seconds)
            except Gone as gone:
                self._discard()
                log.info("PDF worker %s (exit %s)", gone, proc.returncode)
                return ("", LIMIT_TIME if gone.timed_out or proc.returncode == -signal.SIGXCPU else LIMIT_MEMORY), fresh
            _replay(records)
            if result[1] in LIMITS_HIT or self.jobs >= RECYCLE_AFTER:
                self._discard()  # not trusted with the next file after running out of memory; or just old
            return (result[0], result[1]), fresh
        return pdf_text(data, max_pages), True

    def command(self) -> tuple[str, str, tuple[str, ...], dict[str, str] | None, float]:
        return ("PDF worker (reading PDFs without limits)", "mailbot.cases.pdfworker_main",
                (str(self.limits.memory_mb),), None, START_SECONDS)

    def close(self) -> None:
        """End the child: end of its input, then a kill if it does not exit at once."""
        with self.lock:
            self.close_child()


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
    stdin, stdout = child_streams()
    limit_memory(memory_mb)
    answer(stdout, "ready")
    while True:
        try:
            data, max_pages, seconds, levels = pickle.load(stdin)
        except EOFError:
            return
        for name, level in zip(_FORWARDED, levels):
            logging.getLogger(name).setLevel(level)
        collect.records = []
        cpu_budget(seconds)
        try:
            result = pdf_text(data, max_pages)
        except MemoryError:
            result = ("", LIMIT_MEMORY)
        del data
        answer(stdout, (result, collect.records))

