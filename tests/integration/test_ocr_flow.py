"""Scans and phone photos read by OCR, on real IMAP and SMTP servers: a request of only a scanned letter and a
photographed SK becomes a case for the admin with the NIP read from the scans; a file sent again is not read
again; without language data scans are manual checks; a decompression bomb is a finding."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailbot.admin.hardcopy import register_hardcopy
from mailbot.cases.ocr import INSTALL_COMMAND
from mailbot.cases.ocrpool import shared_pool
from mailbot.cli import main
from mailbot.domain.states import CaseStatus
from mailbot.scheduler import Daemon
from mailbot.store.models import Case, Document, Event, OcrResult
from tests.support.bot import Bot
from tests.support.documents import sample_request_letter
from tests.support.mails import PPK_A, complete_request, request_email
from tests.support.ocr import photographed_sk, png_bomb, require_ocr, scanned_letter
from tests.support.review import body

NAME, NIP = PPK_A[0], PPK_A[1]
PRIVATE = "budi.santoso.1980@gmail.example"  # not the registry's address: the NIP on the scans identifies him
LETTER, PHOTO = "scan0001.pdf", "IMG_20261201_0932.jpg"  # names that say nothing


def scans_request(sender: str = PRIVATE) -> bytes:
    return request_email(sender, NAME, "Permohonan reset password SPSE",
                         "Dengan hormat, bersama ini kami kirimkan surat permohonan dan SK. Terima kasih.",
                         [(LETTER, scanned_letter(NAME, NIP)), (PHOTO, photographed_sk(NAME, NIP))])


def docs_of(bot: Bot, case: Case) -> dict[str, Document]:
    return {d.filename: d for d in bot.all(Document) if d.case_id == case.id}


def ocr_results(bot: Bot) -> list[OcrResult]:
    with bot.app.factory() as s:
        return list(s.scalars(select(OcrResult)))


def ocr_rows(bot: Bot) -> int:
    with bot.app.factory() as s:
        return int(s.scalar(select(func.count()).select_from(OcrResult)) or 0)


def test_scanned_letter_and_photographed_sk_go_to_review_with_the_nip_read(db_bot: Bot) -> None:
    require_ocr()
    db_bot.append(scans_request())
    result = db_bot.poll()
    assert result.processed == 1 and result.ocr == 2 and not result.errors

    [case] = db_bot.all(Case)
    assert case.status == CaseStatus.AWAITING_REVIEW and case.ppk_id is not None  # matched by the NIP read
    docs = docs_of(db_bot, case)
    assert docs[LETTER].kinds == ["surat_permohonan"] and docs[PHOTO].kinds == ["sk_pengangkatan"]
    assert {d.text_source for d in docs.values()} == {"ocr"}
    assert not any(d.needs_manual_check for d in docs.values())
    assert NIP in docs[LETTER].text.replace(" ", "") and NIP in docs[PHOTO].text.replace(" ", "")

    assert db_bot.sent("incomplete") == []
    assert [m.rcpt_tos for m in db_bot.sent("ack")] == [[PRIVATE]]
    [review] = db_bot.sent("review_request")
    text = body(review)
    assert f"NIP {NIP} sesuai registri PPK ({NAME})" in text
    assert "✔ Surat permohonan" in text and "✔ SK Pengangkatan" in text
    rows = ocr_results(db_bot)
    assert {r.sha256 for r in rows} == {d.sha256 for d in docs.values()}
    assert all(r.status == "done" and r.pages == 1 and r.confidence and r.engine_version for r in rows)


def test_no_decision_while_ocr_is_pending_and_the_same_scan_is_not_read_again(any_bot: Bot) -> None:
    require_ocr()
    any_bot.append(scans_request())
    result = any_bot.poll(ocr=False)  # as the daemon's poll: the OCR pass runs in its own thread
    assert result.processed == 1 and result.ocr == 0
    [case] = any_bot.all(Case)
    assert case.status == CaseStatus.RECEIVED and any_bot.sent() == []  # nothing decided, no mail
    assert {r.status for r in ocr_results(any_bot)} == {"pending"}
    any_bot.poll()  # the OCR pass, then the Decision and its mail
    [case] = any_bot.all(Case)
    assert case.status == CaseStatus.AWAITING_REVIEW and len(any_bot.sent("ack")) == 1
    pool = shared_pool(any_bot.app.settings.ocr)
    read_before, rows_before = pool.files_read, ocr_rows(any_bot)
    assert rows_before == 2

    any_bot.append(scans_request(sender="budi.lain@yahoo.example"))  # another address: another case
    result = any_bot.poll()
    assert result.ocr == 0 and pool.files_read == read_before and ocr_rows(any_bot) == rows_before
    first, second = any_bot.all(Case)
    assert second.status == CaseStatus.AWAITING_REVIEW and second.sender == "budi.lain@yahoo.example"
    docs = docs_of(any_bot, second)
    assert docs[LETTER].kinds == ["surat_permohonan"] and docs[PHOTO].kinds == ["sk_pengangkatan"]
    assert {d.text_source for d in docs.values()} == {"ocr"}


def test_without_language_data_scans_are_manual_checks_and_check_says_how_to_install(
        any_bot: Bot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "no-tessdata"
    empty.mkdir()
    config = any_bot.workdir / "mailbot.toml"
    config.write_text(config.read_text() + f'\n[ocr]\ntessdata = "{empty}"\n')
    settings = any_bot.app.settings
    any_bot.app.settings = dataclasses.replace(settings, ocr=dataclasses.replace(settings.ocr, tessdata=str(empty)))

    any_bot.append(scans_request())
    result = any_bot.poll()
    assert result.processed == 1 and result.ocr == 0 and not result.errors
    [case] = any_bot.all(Case)
    assert case.status != CaseStatus.RECEIVED  # decided at once, as before OCR existed
    docs = docs_of(any_bot, case)
    assert all(d.usable and d.needs_manual_check and d.text_source is None and d.text == "" for d in docs.values())
    assert ocr_rows(any_bot) == 0

    capsys.readouterr()
    rc = main(["--config", str(config), "check"])
    out = capsys.readouterr().out
    assert rc == 0, out
    [line] = [line for line in out.splitlines() if line.startswith("OCR:")]
    assert "unavailable" in line and INSTALL_COMMAND in line and str(empty) in line


def test_a_decompression_bomb_is_a_finding_and_the_poll_finishes(any_bot: Bot) -> None:
    require_ocr()
    any_bot.append(request_email(PPK_A[2], NAME, "Permohonan reset password SPSE",
                                 f"Dengan hormat, mohon reset password. NIP. {NIP}",
                                 [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                                  ("SK PPK.png", png_bomb())]))
    result = any_bot.poll()
    assert result.processed == 1 and result.ocr == 1 and not result.errors
    [case] = any_bot.all(Case)
    assert case.status == CaseStatus.AWAITING_REVIEW  # the SK by its name; the admin looks at the picture
    bomb = docs_of(any_bot, case)["SK PPK.png"]
    assert bomb.usable and bomb.needs_manual_check and bomb.text_source is None
    assert bomb.problem is not None and "perlu diperiksa manual" in bomb.problem and "piksel" in bomb.problem
    [review] = any_bot.sent("review_request")
    assert "SK PPK.png: Berkas perlu diperiksa manual" in body(review)
    with any_bot.app.factory() as s:
        row = s.get(OcrResult, bomb.sha256)
        assert row is not None and row.status == "failed" and row.problem == "pixels"


def test_in_the_daemon_a_text_request_is_answered_while_scans_wait_for_ocr(any_bot: Bot) -> None:
    """The daemon's poll never waits for OCR: of a scans request and a text-PDF request arriving together,
    the text one is answered first, while the scans' case still waits; then the OCR thread decides it."""
    require_ocr()
    bot = any_bot
    bot.append(scans_request())
    bot.append(complete_request())  # PPK A from the registry address, letter and SK with a text layer
    daemon = Daemon(bot.app)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        admins = len(bot.app.settings.admins.emails)
        first = bot.smtp.wait_for(1 + admins, timeout=60)  # the text request's ack and review_request
        assert sorted(m.header("X-Mailbot-Template") or "" for m in first) == ["ack"] + ["review_request"] * admins
        assert [m.rcpt_tos for m in first if m.header("X-Mailbot-Template") == "ack"] == [[PPK_A[2]]]
        statuses = {c.sender: c.status for c in bot.all(Case)}
        assert statuses[PRIVATE] == CaseStatus.RECEIVED  # its scans are still being read
        bot.smtp.wait_for(2 + 2 * admins, timeout=180)
        assert sorted(m.rcpt_tos[0] for m in bot.sent("ack")) == sorted([PPK_A[2], PRIVATE])
        assert {c.sender: c.status for c in bot.all(Case)}[PRIVATE] == CaseStatus.AWAITING_REVIEW
    finally:
        daemon.stop_event.set()
        thread.join(timeout=60)
    assert not thread.is_alive()


def test_a_walk_in_with_scans_is_checked_after_ocr_with_what_the_admin_typed(any_bot: Bot, tmp_path: Path) -> None:
    """A hardcopy case has no message: the checks deferred for OCR keep the admin's name and NIP (an audit
    event) and use them once the scans are read."""
    require_ocr()
    letter, photo = tmp_path / LETTER, tmp_path / PHOTO
    letter.write_bytes(scanned_letter(NAME, NIP))
    photo.write_bytes(photographed_sk(NAME, NIP))
    now = datetime.now(timezone.utc)
    register_hardcopy(any_bot.app, name=NAME, nip=NIP, email=PPK_A[2], request_type="reset_password",
                      files=[letter, photo], user="admin", now=now)
    [case] = any_bot.all(Case)
    assert case.status == CaseStatus.RECEIVED
    [waiting] = [e for e in any_bot.all(Event) if e.kind == "ocr_pending"]
    assert waiting.case_id == case.id and NIP in waiting.detail
    result = any_bot.poll()
    assert result.ocr == 2 and not result.errors
    [case] = any_bot.all(Case)
    assert case.status != CaseStatus.RECEIVED and case.ppk_id is not None
    assert {d.text_source for d in docs_of(any_bot, case).values()} == {"ocr"}
