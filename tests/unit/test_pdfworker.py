"""The PDF worker: a costly PDF hits its time or memory limit and becomes a finding; ordinary PDFs read the same."""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from mailbot.cases import childproc, pdfworker
from mailbot.cases.documents import analyse_file
from mailbot.cases.pdftext import pdf_text
from mailbot.cases.pdfworker import LIMIT_MEMORY, LIMIT_TIME, PdfLimits, PdfWorker
from mailbot.intake.prefetch import Limits, prepare
from tests.support.documents import make_image_only_pdf, make_pdf, sample_request_letter, sample_sk
from tests.support.mails import PPK_A, request_email
from tests.support.pdfbomb import pdf_bomb

NIP = "198003152006041002"
SECONDS = 1.0  # the tests' time limit (the default is 20 s)
MARGIN = 1.5  # killing and reaping the child, on a busy machine


@pytest.fixture
def worker() -> Iterator[PdfWorker]:
    w = PdfWorker(PdfLimits(seconds=SECONDS))
    yield w
    w.close()


def _encrypted(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, "owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def ordinary_pdfs() -> list[bytes]:
    two_pages = make_pdf([f"Baris {i} dari surat permohonan reset password akun SPSE." for i in range(80)],
                         title="SURAT PERMOHONAN")
    letter = sample_request_letter("Budi Santoso", NIP)
    return [letter, sample_sk("Budi Santoso", NIP), two_pages, make_image_only_pdf(),
            _encrypted(letter, "rahasia"), _encrypted(letter, ""), letter[: len(letter) // 2], b"%PDF-1.4 junk"]


def test_a_bomb_hits_the_time_limit_and_the_next_pdf_gets_a_new_worker(worker: PdfWorker) -> None:
    bomb = pdf_bomb(2.0)  # ≈ 7 s of pypdf
    assert len(bomb) < 8_000
    t0 = time.monotonic()
    assert worker.text(bomb) == ("", LIMIT_TIME)
    assert time.monotonic() - t0 < SECONDS + MARGIN
    assert worker.proc is None and worker.starts == 1  # killed, not left running
    letter = sample_request_letter("Budi Santoso", NIP)
    assert worker.text(letter) == pdf_text(letter)
    assert worker.starts == 2


def test_a_bomb_hits_the_memory_limit() -> None:
    w = PdfWorker(PdfLimits(seconds=30, memory_mb=64))
    try:
        t0 = time.monotonic()
        assert w.text(pdf_bomb(2.0)) == ("", LIMIT_MEMORY)
        assert time.monotonic() - t0 < 10
        letter = sample_request_letter("Budi Santoso", NIP)
        assert w.text(letter) == pdf_text(letter)  # a fresh worker, same limit
        assert w.starts == 2
    finally:
        w.close()


def test_a_memory_limit_in_a_used_worker_is_tried_once_more_in_a_new_one() -> None:
    w = PdfWorker(PdfLimits(seconds=30, memory_mb=64))
    try:
        letter = sample_request_letter("Budi Santoso", NIP)
        w.text(letter)
        assert w.text(pdf_bomb(2.0)) == ("", LIMIT_MEMORY)
        assert w.starts == 2 and w.proc is None  # the used child, then a fresh one: both out of memory
    finally:
        w.close()


def test_a_worker_is_recycled_after_many_files(worker: PdfWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdfworker, "RECYCLE_AFTER", 3)
    letter = sample_request_letter("Budi Santoso", NIP)
    for _ in range(7):
        assert worker.text(letter) == pdf_text(letter)
    assert worker.starts == 3


def test_ordinary_pdfs_read_exactly_as_in_process_in_one_reused_worker(worker: PdfWorker) -> None:
    for data in ordinary_pdfs():
        assert worker.text(data) == pdf_text(data)
        assert worker.text(data, max_pages=1) == pdf_text(data, max_pages=1)
    assert worker.starts == 1


def test_a_killed_worker_is_replaced(worker: PdfWorker) -> None:
    letter = sample_request_letter("Budi Santoso", NIP)
    assert worker.text(letter) == pdf_text(letter)
    assert worker.proc is not None
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    assert worker.text(letter) == pdf_text(letter)
    assert worker.starts == 2


def test_killed_while_reading_is_a_limit_and_the_worker_is_replaced(worker: PdfWorker) -> None:
    assert worker._running() is not None and worker.proc is not None  # started, nothing read yet
    killer = threading.Timer(0.3, os.kill, (worker.proc.pid, signal.SIGKILL))  # while it reads the bomb
    killer.start()
    result = worker.text(pdf_bomb(2.0), seconds=30)
    killer.join()
    assert result == ("", LIMIT_MEMORY)  # died without an answer: counted as the memory limit
    assert worker.proc is None
    letter = sample_request_letter("Budi Santoso", NIP)
    assert worker.text(letter) == pdf_text(letter) and worker.starts == 2


def test_no_worker_process_reads_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(childproc.subprocess, "Popen", refuse)  # the machinery starts every worker
    w = PdfWorker()
    letter = sample_request_letter("Budi Santoso", NIP)
    assert w.text(letter) == pdf_text(letter) and w.starts == 0


def test_analyse_file_makes_a_bomb_a_manual_check_not_a_refusal() -> None:
    bomb = pdf_bomb(2.0)
    t0 = time.monotonic()
    analysis = analyse_file("SK PPK.pdf", bomb, pdf_limits=PdfLimits(seconds=SECONDS))
    assert time.monotonic() - t0 < SECONDS + MARGIN + 1  # + a worker start
    assert analysis.usable and analysis.needs_manual_check
    assert analysis.problem is not None and "perlu diperiksa manual" in analysis.problem
    assert "batas waktu" in analysis.problem
    assert analysis.kinds == ("sk_pengangkatan",) and analysis.text == ""
    t0 = time.monotonic()  # the same file again (a re-sent message, a second copy): no second wait
    assert analyse_file("SK.pdf", bomb, pdf_limits=PdfLimits(seconds=SECONDS)).problem == analysis.problem
    assert time.monotonic() - t0 < 0.5
    ordinary = analyse_file("SK PPK.pdf", sample_sk("Budi Santoso", NIP))
    assert ordinary.usable and not ordinary.needs_manual_check and ordinary.problem is None


def test_the_prefetch_helper_reads_pdfs_under_its_limits(tmp_path: Path) -> None:
    name, nip, address = PPK_A[0], PPK_A[1], PPK_A[2]
    letter = sample_request_letter(name, nip)
    raw = request_email(address, name, "Permohonan reset password SPSE", f"Mohon reset. NIP. {nip}",
                        [("Surat Permohonan.pdf", letter), ("SK PPK.pdf", pdf_bomb(2.5))])
    path = tmp_path / "message.eml"
    path.write_bytes(raw)
    limits = Limits(max_attachments=50, max_depth=10, max_header_bytes=256_000, max_attachment_bytes=10 * 2**20,
                    pdf=PdfLimits(seconds=SECONDS))
    t0 = time.monotonic()
    got = prepare(str(path), limits)
    assert time.monotonic() - t0 < SECONDS + MARGIN + 1
    assert got is not None and got.mail is not None
    assert sorted(got.pdf_texts.values()) == sorted([pdf_text(letter), ("", LIMIT_TIME)])


def test_pypdf_logs_in_this_process_at_this_process_levels(worker: PdfWorker, caplog: pytest.LogCaptureFixture) -> None:
    letter = sample_request_letter("Budi Santoso", NIP)
    broken = letter[: letter.rindex(b"startxref")]  # pypdf complains, then reads it
    with caplog.at_level(logging.DEBUG, logger="pypdf"):
        assert worker.text(broken) == pdf_text(broken)
    assert any(r.name.startswith("pypdf") for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.CRITICAL + 1, logger="pypdf"):
        assert worker.text(broken) == pdf_text(broken)
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]
