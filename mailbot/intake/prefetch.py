"""A helper process that parses waiting messages and reads their PDFs ahead of the main process."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mailbot.cases.documents import sniff_type
from mailbot.cases.pdfworker import PdfLimits, close_shared, limited_pdf_text, pdf_limits
from mailbot.config import LimitSettings
from mailbot.domain.mail import ParsedMail
from mailbot.intake.parse import SPOOL_MIN_RUN, ParseError, parse_message
from mailbot.store.blobs import BlobStore

log = logging.getLogger(__name__)

PREFETCH_MIN = 16  # messages waiting before a helper process is worth its start-up (≈ 0.5 s)
WINDOW = 32  # messages prepared ahead at most (bounds the memory of results waiting to be used)
MAX_BYTES = 1024 * 1024  # larger messages are parsed in the main process: no copies through a pipe


@dataclass(frozen=True)
class Limits:
    max_attachments: int
    max_depth: int
    max_header_bytes: int
    max_attachment_bytes: int
    spool_min_run: int = SPOOL_MIN_RUN  # parse_message(spool_min_run=)
    pdf: PdfLimits | None = None  # what reading one PDF may cost (None: pdfworker.DEFAULT_LIMITS)

    @classmethod
    def of(cls, limits: LimitSettings) -> Limits:
        return cls(limits.max_attachments, limits.max_depth, limits.max_header_bytes,
                   limits.max_attachment_bytes, pdf=pdf_limits(limits))


@dataclass(frozen=True)
class Prepared:
    """What the helper made of one stored message."""

    mail: ParsedMail | None
    parse_error: str | None = None  # str(ParseError) when the message is not usable
    pdf_texts: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # sha256 -> pdf_text()


def parse_stored(raw: bytes, limits: Limits) -> Prepared:
    """The parse of a stored message, or the reason it is not a usable message (no PDF text yet)."""
    try:
        return Prepared(parse_message(raw, max_attachments=limits.max_attachments, max_depth=limits.max_depth,
                                      max_header_bytes=limits.max_header_bytes,
                                      spool_min_run=limits.spool_min_run))
    except ParseError as exc:
        return Prepared(None, str(exc))


def prepare(path: str, limits: Limits, data_dir: str | None = None) -> Prepared | None:
    """Parse one stored message, read its PDFs and, with `data_dir`, stage its attachments in the blob
    store (the main process then adopts them with a rename instead of writing them); None when anything
    unexpected happens (the main process then does it itself and meets the same problem where it is
    handled)."""
    try:
        parsed = parse_stored(Path(path).read_bytes(), limits)
        if parsed.mail is None:
            return parsed
        texts = {}
        store = BlobStore(Path(data_dir)) if data_dir else None
        for att in parsed.mail.attachments:
            digest = store.stage(att.payload) if store is not None else hashlib.sha256(att.payload).hexdigest()
            if len(att.payload) <= limits.max_attachment_bytes and sniff_type(att.payload) == "pdf":
                texts[digest] = limited_pdf_text(att.payload, limits=limits.pdf, sha256=digest)
        return Prepared(parsed.mail, None, texts)
    except Exception:  # noqa: BLE001 - see docstring
        return None


class Prefetcher:
    """Prepares the messages of `rows` ((id, blob path, size), in processing order) ahead of use, in a
    `python -m mailbot.intake.helper` child process fed requests on its stdin, answering on its stdout.

    (A plain child process rather than multiprocessing: "spawn" re-imports the caller's main script,
    "fork" copies a process that may hold locks of other threads, such as the daemon's IDLE thread.)"""

    def __init__(self, rows: list[tuple[int, str, int]], limits: Limits, data_dir: str | None = None) -> None:
        self.limits = limits
        self.data_dir = data_dir
        self.queue = [(row_id, path) for row_id, path, size in rows if size <= MAX_BYTES]
        self.queue.reverse()  # pop() from the end takes them in order
        self.results: dict[int, Prepared | None] = {}
        self.outstanding: set[int] = set()
        self.lock = threading.Condition()
        self.used = 0
        self.broken = False
        # The helper imports this same mailbot, even when it is not installed (run from a checkout).
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]),
                                                         env.get("PYTHONPATH", "")) if p)
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "mailbot.intake.helper"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.reader = threading.Thread(target=self._read, name="mailbot-prefetch", daemon=True)
        self.reader.start()
        self._fill()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            while True:
                row_id, result = pickle.load(self.proc.stdout)
                with self.lock:
                    if row_id in self.outstanding:
                        self.outstanding.discard(row_id)
                        self.results[row_id] = result
                    self.lock.notify_all()
        except EOFError:
            pass
        except Exception as exc:  # noqa: BLE001 - a garbled answer: stop using the helper
            log.warning("helper process answer unreadable (%s: %s)", type(exc).__name__, exc)
        with self.lock:
            self.broken = True
            self.lock.notify_all()

    def wait_ready(self, timeout: float) -> bool:
        """Block until every message sent to the helper is answered (or it broke); for tests and tools."""
        with self.lock:
            return self.lock.wait_for(lambda: not self.outstanding or self.broken, timeout)

    def _fill(self) -> None:
        while self.queue and not self.broken and len(self.outstanding) + len(self.results) < WINDOW:
            row_id, path = self.queue.pop()
            try:
                assert self.proc is not None and self.proc.stdin is not None
                pickle.dump((row_id, path, self.limits, self.data_dir), self.proc.stdin)
                self.proc.stdin.flush()
            except (OSError, ValueError) as exc:
                log.warning("helper process gone (%s); processing continues without it", exc)
                self.broken = True
                return
            with self.lock:
                self.outstanding.add(row_id)

    def take(self, row_id: int) -> Prepared | None:
        """The prepared message if the helper has finished it; None means: do it yourself."""
        with self.lock:
            result = self.results.pop(row_id, None)
            self.outstanding.discard(row_id)  # not ready: its late answer is dropped
        self._fill()
        self.used += result is not None
        return result

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.close()  # end of requests: the helper exits after the one it is on
        except OSError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.reader.join(timeout=5)
        self.queue.clear()
        self.results.clear()


@contextmanager
def prefetching(rows: list[tuple[int, str, int]], limits: Limits, data_dir: str | None = None, *,
                min_messages: int = PREFETCH_MIN) -> Iterator[Prefetcher | None]:
    """A Prefetcher when the backlog is worth one (at least `min_messages` the helper can take) and a
    helper process can start, else None."""
    if len([r for r in rows if r[2] <= MAX_BYTES]) < min_messages:
        yield None
        return
    try:
        prefetcher = Prefetcher(rows, limits, data_dir)
    except Exception as exc:  # noqa: BLE001 - no processes allowed, …: work alone
        log.warning("no helper process (%s: %s); processing alone", type(exc).__name__, exc)
        yield None
        return
    try:
        yield prefetcher
    finally:
        prefetcher.close()


def serve() -> None:
    """The helper's loop: (row id, path, limits) in, (row id, Prepared | None) out, until stdin ends."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s [helper]: %(message)s",
                        stream=sys.stderr)
    for noisy in ("mailparser", "pypdf"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the answers
    while True:
        try:
            row_id, path, limits, data_dir = pickle.load(stdin)
        except EOFError:
            close_shared()  # reaped before the helper exits (its CPU time is counted with the helper's)
            return
        pickle.dump((row_id, prepare(path, limits, data_dir)), stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()

