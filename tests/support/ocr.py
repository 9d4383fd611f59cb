"""What the OCR tests need: real Tesseract (missing: skipped, or failed under CI / MAILBOT_REQUIRE_OCR), small
drawn pages, and the scans PPKs send (cached: generating a page takes a second)."""

from __future__ import annotations

import functools
import io
import os

import pytest
from PIL import Image, ImageDraw, ImageFont

from mailbot.cases.ocr import ocr_available
from mailbot.config import OcrSettings
from mailbot.demo.samplescan import as_phone_photo_jpeg, as_scanned_pdf, letter_image, sk_image

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SK_NOMOR = "188/12/KPTS/2026"


def require_ocr() -> None:
    """Skip the test when Tesseract or its language data is missing; fail instead in CI."""
    available, reason = ocr_available(OcrSettings())
    if available:
        return
    if os.environ.get("MAILBOT_REQUIRE_OCR") or os.environ.get("CI") == "true":
        pytest.fail(f"OCR is required here (MAILBOT_REQUIRE_OCR / CI) but unavailable: {reason}")
    pytest.skip(f"OCR unavailable: {reason}")


@pytest.fixture
def ocr_required() -> None:
    require_ocr()


def text_page(lines: list[str], size: tuple[int, int] = (1700, 700), points: int = 40) -> Image.Image:
    """A white grayscale page with `lines` of black text (fast to read: a few lines, 300 dpi sized)."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, points)
    for i, line in enumerate(lines):
        draw.text((60, 60 + i * int(points * 1.8)), line, font=font, fill=0)
    return page


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


@functools.lru_cache(maxsize=2)
def png_bomb(side: int = 10_000) -> bytes:
    """A 25-KB PNG that unpacks to `side` × `side` pixels (100 MP: over any sane [ocr] max_pixels)."""
    return encoded(Image.new("1", (side, side), 1), "PNG")


@functools.lru_cache(maxsize=2)
def dense_page() -> bytes:
    """A PNG A3 page at 300 dpi full of text: ≈ 15 s of Tesseract on one core (for the time limit)."""
    return encoded(text_page(["NIP 19800315 200604 1 002 Permohonan reset password " * 4] * 75,
                             size=(3508, 4960), points=28), "PNG")


@functools.lru_cache(maxsize=4)
def scanned_letter(nama: str, nip: str, dpi: int = 200) -> bytes:
    """A PPK's request letter as a scanner app's image-only PDF (JPEG pages)."""
    return as_scanned_pdf([letter_image(nama, nip, dpi=dpi)], dpi=dpi, jpeg_quality=80)


@functools.lru_cache(maxsize=4)
def photographed_sk(nama: str, nip: str) -> bytes:
    """A phone photo (12 MP JPEG, EXIF 72 dpi, held sideways) of the SK appointing the PPK."""
    [page] = sk_image([(nama, nip)], nomor=SK_NOMOR, tanggal="2 Januari 2026", tahun_anggaran=2026)[:1]
    return as_phone_photo_jpeg(page, orientation=6)
