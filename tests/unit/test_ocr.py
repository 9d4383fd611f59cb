"""The OCR adapter (real Tesseract) and its worker limits: a decompression bomb, too many pages and a page
over its time are outcomes with that problem, and the worker goes on with the next file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from mailbot.cases.documents import analyse_file, sniff_type
from mailbot.cases.ocr import (
    INSTALL_COMMAND,
    LIMIT_PAGES,
    LIMIT_PIXELS,
    LIMIT_TIME,
    UNREADABLE,
    Engine,
    ocr_available,
)
from mailbot.cases.ocrcache import fill
from mailbot.cases.ocrpool import OcrPool
from mailbot.config import OcrSettings
from mailbot.demo.samplepdf import sample_request_letter
from mailbot.domain.kinds import DEFAULT_KINDS
from mailbot.domain.nip import nips_in
from mailbot.store.models import Document, OcrResult
from tests.support.ocr import dense_page, encoded, png_bomb, require_ocr, text_page

LINES = ["Perihal: Permohonan Reset Password", "Dengan hormat,", "Nama : Budi Santoso",
         "NIP : 19800315 200604 1 002"]
NIP = "198003152006041002"
TESSDATA = OcrSettings().tessdata


@pytest.fixture(scope="module")
def engine() -> Engine:
    require_ocr()
    return Engine(TESSDATA, "ind+eng")


def test_png_is_read_with_word_confidences(engine: Engine) -> None:
    out = engine.read(encoded(text_page(LINES), "PNG", dpi=(300, 300)), "png", OcrSettings())
    assert out.problem is None and out.pages == 1
    assert "Permohonan Reset Password" in out.text and nips_in([out.text]) == [NIP]
    assert ("Santoso", out.words[[w for w, _ in out.words].index("Santoso")][1]) in out.words
    assert all(0 <= conf <= 100 for _, conf in out.words)
    assert out.confidence is not None and out.confidence > 80
    assert set(out.low_confidence_words) == {w for w, c in out.words if c < 80}


def test_phone_jpeg_is_turned_upright_by_exif_and_its_72_dpi_ignored(engine: Engine) -> None:
    sideways = text_page(LINES).transpose(Image.Transpose.ROTATE_90)  # stored as a phone held sideways
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(sideways.convert("RGB"), "JPEG", quality=85, dpi=(72, 72), exif=exif.tobytes())
    out = engine.read(data, "jpeg", OcrSettings())
    assert out.problem is None and nips_in([out.text]) == [NIP] and "Permohonan" in out.text


def test_upside_down_scan_is_read(engine: Engine) -> None:
    page = text_page(LINES, size=(1700, 900)).rotate(180)
    out = engine.read(encoded(page, "PNG"), "png", OcrSettings())
    assert "Permohonan Reset Password" in out.text


def test_image_only_pdf_page_is_read_and_a_text_layer_page_kept(engine: Engine) -> None:
    scan = encoded(text_page(LINES).convert("RGB"), "PDF", resolution=300)
    out = engine.read(scan, "pdf", OcrSettings())
    assert out.problem is None and out.pages == 1 and nips_in([out.text]) == [NIP] and out.words
    layer = engine.read(sample_request_letter("Budi Santoso", NIP), "pdf", OcrSettings())
    assert layer.problem is None and layer.words == () and NIP in layer.text.replace(" ", "")


def test_heic_photo_is_accepted_and_read(engine: Engine) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    data = encoded(text_page(LINES).convert("RGB"), "HEIF", quality=90)
    assert sniff_type(data) == "heic"
    analysis = analyse_file("IMG_0001.HEIC", data)
    assert analysis.usable and analysis.needs_ocr
    assert nips_in([engine.read(data, "heic", OcrSettings()).text]) == [NIP]


def test_pixel_and_page_limits_and_broken_files(engine: Engine) -> None:
    assert engine.read(png_bomb(), "png", OcrSettings()).problem == LIMIT_PIXELS
    three = encoded(text_page(["eins"]), "PDF", save_all=True, append_images=[text_page(["zwei"])] * 2)
    assert engine.read(three, "pdf", OcrSettings(max_pages=2)).problem == LIMIT_PAGES
    big_page = encoded(text_page(["A4 at 300 dpi"], size=(2480, 3508)), "PDF", resolution=300)
    assert engine.read(big_page, "pdf", OcrSettings(max_pixels=2_000_000)).problem == LIMIT_PIXELS
    assert engine.read(b"\xff\xd8\xff\xe0 not really a jpeg", "jpeg", OcrSettings()).problem == UNREADABLE
    assert engine.read(b"%PDF-1.4 broken", "pdf", OcrSettings()).problem == UNREADABLE


def test_unavailable_without_language_data_names_the_install_command(tmp_path: Path) -> None:
    available, reason = ocr_available(OcrSettings(tessdata=str(tmp_path)))
    assert not available and INSTALL_COMMAND in reason and str(tmp_path) in reason
    assert ocr_available(OcrSettings(enabled=False)) == (False, "OCR is disabled ([ocr] enabled = false)")


def test_pool_limits_are_findings_and_a_killed_worker_is_replaced() -> None:
    """A bomb and a too-long PDF come back as problems from a live worker; a page over its time kills the
    worker, and the next file is read by a new one; two workers share a backlog."""
    require_ocr()
    settings = OcrSettings(workers=1, seconds_per_page=5, max_pages=2)
    pool = OcrPool(settings)
    try:
        worker = pool.workers[0]
        three = encoded(text_page(["a"]), "PDF", save_all=True, append_images=[text_page(["b"])] * 2)
        out = pool.read([("bomb", png_bomb(), "png"), ("long", three, "pdf")])
        assert out["bomb"].problem == LIMIT_PIXELS and out["long"].problem == LIMIT_PAGES and worker.starts == 1
        # A dense A3 page takes ≈ 15 s: the wall clock ends it at 5 s and kills the worker.
        t0 = time.monotonic()
        out = pool.read([("slow", dense_page(), "png")])
        assert out["slow"].problem == LIMIT_TIME and time.monotonic() - t0 < 5 + 5
        assert worker.proc is None
        out = pool.read([("next", encoded(text_page(LINES), "PNG"), "png")])
        assert out["next"].problem is None and nips_in([out["next"].text]) == [NIP] and worker.starts == 2
        assert pool.files_read == 4
    finally:
        pool.close()


@pytest.mark.parametrize(("problem", "words"), [(LIMIT_TIME, "melebihi batas waktu"),
                                                ("memory", "melebihi batas memori"),
                                                (LIMIT_PAGES, "melebihi batas halaman"),
                                                (LIMIT_PIXELS, "batas ukuran (piksel)")])
def test_a_limit_hit_is_a_manual_check_naming_the_limit(problem: str, words: str) -> None:
    doc = Document(filename="scan0001.pdf", sha256="0" * 64, kinds=[], text="", text_source=None)
    fill(doc, OcrResult(sha256="0" * 64, status="failed", problem=problem, text=""), DEFAULT_KINDS)
    assert doc.needs_manual_check and doc.text_source is None and doc.problem is not None
    assert doc.problem.startswith("Berkas perlu diperiksa manual: ") and words in doc.problem


def test_a_read_file_gets_its_kinds_from_the_text_and_nothing_read_is_a_manual_check() -> None:
    letter = "Perihal: Permohonan Reset Password\nDengan hormat, " + "kami mohon bantuan akun SPSE saya. " * 5
    doc = Document(filename="IMG_0001.jpg", sha256="1" * 64, kinds=[], text="", text_source=None)
    fill(doc, OcrResult(sha256="1" * 64, status="done", text=letter, problem=None), DEFAULT_KINDS)
    assert doc.kinds == ["surat_permohonan"] and doc.text_source == "ocr" and not doc.needs_manual_check
    empty = Document(filename="IMG_0002.jpg", sha256="2" * 64, kinds=[], text="", text_source=None)
    fill(empty, OcrResult(sha256="2" * 64, status="done", text="~ ..", problem=None), DEFAULT_KINDS)
    assert empty.kinds == [] and empty.needs_manual_check and "perlu diperiksa manual" in (empty.problem or "")
