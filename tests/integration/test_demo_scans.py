"""The demo's scanned request (a scanned letter + a phone photo of the SK from a private address) on the
demo's own servers (embedded pymap + aiosmtpd, SQLite): a complete case after OCR, and a demo that still
runs through when OCR is off."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from mailbot.admin.views import case_detail, list_cases
from mailbot.cases.ocr import ocr_available
from mailbot.config import OcrSettings
from mailbot.demo import world as demo


def _require_ocr() -> None:
    ok, why = ocr_available(OcrSettings())
    if not ok:
        if os.environ.get("CI") == "true" or os.environ.get("MAILBOT_REQUIRE_OCR") == "1":
            pytest.fail(f"OCR is required here: {why}")
        pytest.skip(why)


@pytest.fixture
def scanned_raw() -> bytes:
    return demo.scanned_request(demo.PPK_C[0], demo.PPK_C[1], demo.RINA_PRIVATE)


def test_scans_from_a_private_address_become_a_complete_case_after_ocr(tmp_path: Path, scanned_raw: bytes) -> None:
    _require_ocr()
    world = demo.start_world(tmp_path)
    try:
        world.append(scanned_raw)
        result = world.poll()
        assert not result.errors
        mails = world.smtp.messages
        assert sorted((m.header("X-Mailbot-Template"), tuple(m.rcpt_tos)) for m in mails) == [
            ("ack", (demo.RINA_PRIVATE,)), ("review_request", (demo.ADMIN,))]
        [case] = list_cases(world.app)
        assert case["status"] == "AWAITING_REVIEW" and case["sender"] == demo.RINA_PRIVATE
        detail = case_detail(world.app, case["number"])
        assert detail is not None
        assert {d["filename"]: d["kinds"] for d in detail["documents"]} == {
            "scan0001.pdf": ["surat_permohonan"], "IMG_20261201_0932.jpg": ["sk_pengangkatan"]}
        review = next(m for m in mails if m.header("X-Mailbot-Template") == "review_request")
        body = review.message.get_body(("plain",)).get_content()
        # The NIP was only on the scans (not in the mail body) and matched the registry entry.
        assert demo.PPK_C[1] not in scanned_raw.decode("ascii", "replace")
        assert f"NIP {demo.PPK_C[1]} sesuai registri PPK ({demo.PPK_C[0]})" in body
    finally:
        world.smtp.stop()
        world.imap.stop()


def test_demo_step_runs_without_ocr(tmp_path: Path, scanned_raw: bytes) -> None:
    """With OCR off the scans are a manual matter for the admin; the demo step still completes and says so."""
    world = demo.start_world(tmp_path, ocr=False)
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            from concurrent.futures import Future

            raw: Future[bytes] = Future()
            raw.set_result(scanned_raw)
            demo._scans(world, print, raw)
        [case] = list_cases(world.app)
        detail = case_detail(world.app, case["number"])
        assert detail is not None
        assert all(d["needs_manual_check"] and d["usable"] for d in detail["documents"])
        assert len(world.smtp.messages) >= 1  # the case got an answer, whatever the workflow makes of it
    finally:
        world.smtp.stop()
        world.imap.stop()
    text = out.getvalue()
    assert "OCR: unavailable: OCR is disabled" in text
    assert "perlu diperiksa manual" in text and "without OCR the scans go to the admin as manual checks" in text
