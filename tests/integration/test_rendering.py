"""Issue 14: the review mail fits one screen for the decision, measured in headless Chromium.

The mail is the one the bot really sends for a typical case (PPK A's complete request from the
registered address; findings from the real rules), rendered at 1000 px (a desktop mail client) and at
400 px (a phone). One phone screen is taken as 800 CSS px (a 6" phone at 360–412 px wide shows about
740–900 px of mail below the client's toolbar), so two screens are 1 600 px.

With MAILBOT_SCREENSHOTS=<dir> the screenshots are written there (docs/review-mail-desktop.png and
docs/review-mail-phone.png are made this way)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from tests.support import browser
from tests.support.bot import Bot, submit
from tests.support.documents import make_image_only_pdf, sample_request_letter, sample_sk
from tests.support.mails import PPK_A, request_email

DESKTOP_WIDTH, DESKTOP_MAX = 1000, 1200
PHONE_WIDTH, PHONE_SCREEN = 400, 800


@pytest.fixture(scope="module")
def chromium() -> str:
    found = browser.chromium()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (CI installs Debian's chromium: see .ci/run)")
        pytest.skip("chromium is not installed")
    return found


def _save(rendering: browser.Rendering, name: str) -> None:
    folder = os.environ.get("MAILBOT_SCREENSHOTS")
    if folder:
        Path(folder, name).write_bytes(rendering.png)


def _measure(html: str, prefix: str | None) -> tuple[browser.Rendering, browser.Rendering]:
    desktop = browser.render(html, DESKTOP_WIDTH)
    phone = browser.render(html, PHONE_WIDTH)
    print(f"review mail: {desktop.height} px at {DESKTOP_WIDTH} px, {phone.height} px at {PHONE_WIDTH} px")
    if prefix:
        _save(desktop, f"{prefix}-desktop.png")
        _save(phone, f"{prefix}-phone.png")
    assert 600 < desktop.height <= DESKTOP_MAX, desktop.height
    assert desktop.height < phone.height <= 2 * PHONE_SCREEN, phone.height
    for shot, width in ((desktop, DESKTOP_WIDTH), (phone, PHONE_WIDTH)):
        assert shot.png.startswith(b"\x89PNG") and len(shot.png) < 400_000
        with Image.open(io.BytesIO(shot.png)) as img:
            assert img.size == (width, shot.height)
    return desktop, phone


def test_review_mail_fits_one_desktop_screen_and_two_phone_screens(chromium: str, any_bot: Bot) -> None:
    """A registered PPK's complete request from the registered address: every check passes."""
    review = submit(any_bot)
    assert "SESUAI" in review.message.get_body(("plain",)).get_content()
    _measure(review.message.get_body(("html",)).get_content(), None)


def test_review_mail_with_findings_of_every_severity_fits_too(chromium: str, any_bot: Bot) -> None:
    """PPK A writes from a private address (blocking: not the registry's address) with an extra scan
    that has no text layer (to check): the mail shown in docs/."""
    name, nip = PPK_A[0], PPK_A[1]
    any_bot.append(request_email("budi.pribadi@gmail.example", name, "Permohonan reset password SPSE",
                                 f"Dengan hormat, mohon reset password akun SPSE saya. NIP. {nip}",
                                 [("Surat Permohonan.pdf", sample_request_letter(name, nip)),
                                  ("SK PPK.pdf", sample_sk(name, nip)),
                                  ("Scan KTP.pdf", make_image_only_pdf())]))
    any_bot.poll()
    [review] = any_bot.sent("review_request")
    text = review.message.get_body(("plain",)).get_content()
    assert "✖ MENGHALANGI PERSETUJUAN" in text and "✔ SESUAI" in text
    html = review.message.get_body(("html",)).get_content()
    assert "#b91c1c" in html and "#15803d" in html
    _measure(html, "review-mail")


def test_browser_helper_measures_what_it_renders(chromium: str) -> None:
    """The helper itself: a 1 234 px block at 400 px wide is 1 234 px tall; a paragraph wraps taller at
    a narrower width (the frame really is that wide, below headless Chromium's smallest window)."""
    block = "<!DOCTYPE html><html><body style='margin:0'><div style='height:1234px'>x</div></body></html>"
    assert browser.render(block, 400, screenshot=False).height == 1234
    words = "<!DOCTYPE html><html><body style='margin:0; font-size:16px'><p>" + "kata " * 400 + "</p></body></html>"
    wide, narrow = browser.render(words, 1000, screenshot=False), browser.render(words, 300, screenshot=False)
    assert narrow.height > 2 * wide.height
