"""OCR in a pool of limited worker processes: `[ocr] workers` children, each with one Tesseract API, an
address-space limit set at its start, a CPU limit and a wall-clock deadline per file of `seconds_per_page` ×
its pages. A file that hits a limit is an outcome with that problem (a finding), never a stuck poll; a
killed or dead child is replaced for the next file."""

from __future__ import annotations

import atexit
import logging
import pickle
import queue
import signal
import sys
import threading
import time
from collections.abc import Sequence

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
from mailbot.cases.ocr import (
    LIMIT_MEMORY,
    LIMIT_TIME,
    UNAVAILABLE,
    Engine,
    OcrOutcome,
)
from mailbot.config import OcrSettings

log = logging.getLogger(__name__)

START_SECONDS = 60.0  # how long a new worker may take to import the libraries and load the language data
OPEN_SECONDS = 10.0  # how long opening a file and counting its pages may take (at least seconds_per_page)
RECYCLE_AFTER = 500  # files one child reads before it is replaced (whatever it grew is returned)
Job = tuple[str, bytes, str]  # (key, data, file type)


class OcrWorker(Child):
    """One `python -m mailbot.cases.ocrworker_main` child, started on first use and replaced after it was
    killed or died."""

    def __init__(self, settings: OcrSettings) -> None:
        super().__init__()
        self.settings = settings

    def read(self, data: bytes, file_type: str) -> OcrOutcome:
        """OCR of one file in the child, or an outcome whose problem is the limit it hit (or UNAVAILABLE)."""
        proc = self._running()
        if proc is None:
            return OcrOutcome(problem=UNAVAILABLE)
        t0 = time.monotonic()
        try:
            send(proc, (data, file_type, self.settings))
        except (OSError, ValueError) as exc:  # died while idle (killed from outside): once more, in a new one
            log.warning("OCR worker gone (%s); starting another", exc)
            self._discard()
            proc = self._running()
            if proc is None:
                return OcrOutcome(problem=UNAVAILABLE)
            send(proc, (data, file_type, self.settings))
        self.jobs += 1
        per_page = self.settings.seconds_per_page
        try:
            first = receive(proc, time.monotonic() + max(OPEN_SECONDS, per_page))
            if isinstance(first, OcrOutcome):  # not read at all (a limit, unreadable): no pages announced
                outcome = first
            else:
                pages = int(first)
                outcome = receive(proc, time.monotonic() + per_page * max(pages, 1))
        except Gone as gone:
            self._discard()
            timed_out = gone.timed_out or proc.returncode == -signal.SIGXCPU
            log.warning("OCR of %d bytes (%s) stopped: worker %s (exit %s)", len(data), file_type, gone,
                        proc.returncode)
            return OcrOutcome(seconds=round(time.monotonic() - t0, 3),
                              problem=LIMIT_TIME if timed_out else LIMIT_MEMORY)
        if outcome.problem == LIMIT_MEMORY or self.jobs >= RECYCLE_AFTER:
            self._discard()  # not trusted with the next file after running out of memory; or just old
        return outcome

    def command(self) -> tuple[str, str, tuple[str, ...], dict[str, str] | None, float]:
        s = self.settings
        return ("OCR worker", "mailbot.cases.ocrworker_main", (str(s.memory_mb), s.tessdata, s.lang),
                {"OMP_THREAD_LIMIT": "1"},  # one core per worker: the pool is the parallelism
                START_SECONDS)

    def close(self) -> None:
        self.close_child()


class OcrPool:
    """`settings.workers` workers reading a list of files in parallel (one thread per worker)."""

    def __init__(self, settings: OcrSettings) -> None:
        self.settings = settings
        self.workers = [OcrWorker(settings) for _ in range(settings.workers)]
        self.lock = threading.Lock()  # one read() at a time: each worker serves one file at a time
        self.files_read = 0  # files given to the engine (a resent file is answered from the cache, not here)

    def read(self, jobs: Sequence[Job]) -> dict[str, OcrOutcome]:
        """The outcome of each job, by its key; the workers share the list, so a backlog uses every core."""
        results: dict[str, OcrOutcome] = {}
        todo: queue.SimpleQueue[Job] = queue.SimpleQueue()
        for job in jobs:
            todo.put(job)

        def serve(worker: OcrWorker) -> None:
            while True:
                try:
                    key, data, file_type = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[key] = worker.read(data, file_type)
                except Exception as exc:  # noqa: BLE001 - one file's trouble is that file's finding
                    log.exception("OCR of %s failed", key)
                    results[key] = OcrOutcome(problem=f"{LIMIT_MEMORY}" if isinstance(exc, MemoryError)
                                              else UNAVAILABLE)

        with self.lock:
            self.files_read += len(jobs)
            threads = [threading.Thread(target=serve, args=(w,), name=f"ocr-{i}", daemon=True)
                       for i, w in enumerate(self.workers[:max(1, len(jobs))])]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return results

    def close(self) -> None:
        with self.lock:
            for worker in self.workers:
                worker.close()


_pools: dict[OcrSettings, OcrPool] = {}
_pools_lock = threading.Lock()


def shared_pool(settings: OcrSettings) -> OcrPool:
    """This process's pool for these settings (started on first use, ended at exit)."""
    with _pools_lock:
        pool = _pools.get(settings)
        if pool is None:
            pool = _pools[settings] = OcrPool(settings)
        return pool


@atexit.register
def close_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


# -- the child --------------------------------------------------------------------------------------
def serve(memory_mb: int, tessdata: str, lang: str) -> None:
    """The worker's loop: (data, file type, the [ocr] settings: its limits) in; the page count, then the OcrOutcome out (or only
    the outcome when the file is not read), until stdin ends."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s [ocr]: %(message)s",
                        stream=sys.stderr)
    stdin, stdout = child_streams()
    limit_memory(memory_mb)
    engine = Engine(tessdata, lang)
    answer(stdout, "ready")
    while True:
        try:
            data, file_type, limits = pickle.load(stdin)
        except EOFError:
            engine.close()
            return
        assert isinstance(limits, OcrSettings)

        def pages_known(n: int, per_page: float = limits.seconds_per_page) -> None:
            cpu_budget(per_page * max(n, 1) + OPEN_SECONDS)
            answer(stdout, n)

        cpu_budget(max(OPEN_SECONDS, limits.seconds_per_page))
        try:
            outcome = engine.read(data, file_type, limits, pages_known)
        except MemoryError:
            outcome = OcrOutcome(problem=LIMIT_MEMORY)
        del data
        answer(stdout, outcome)
