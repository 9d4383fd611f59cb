"""The generated scans and photos are valid files of the right type, deterministic, with no text layer."""

from __future__ import annotations

import hashlib
import io

import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdf import PdfReader

from mailbot.demo import samplescan

NAMA = "Dra. Siti Rahmawati, M.Si."
NIP = "197111091996021007"
SK_ARGS = {"nomor": "027/45/KPTS/2026", "tanggal": "2 Januari 2026", "tahun_anggaran": 2026}


def _digest(image: Image.Image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


@pytest.mark.parametrize("layout", range(samplescan.LAYOUTS))
def test_letter_is_an_a4_grayscale_page_with_ink(layout: int) -> None:
    image = samplescan.letter_image(NAMA, NIP, layout=layout, seed=layout)
    assert image.mode == "L"
    assert image.size == (2480, 3508)  # A4 at 300 dpi
    assert image.info["dpi"] == (300, 300)
    low, high = image.getextrema()
    assert low < 60 and high == 255  # printed text on white paper
    small = samplescan.letter_image(NAMA, NIP, layout=layout, seed=layout, dpi=150)
    assert small.size == (1240, 1754)


def test_same_seed_same_pixels_other_seed_other_pixels() -> None:
    first = samplescan.letter_image(NAMA, NIP, seed=3)
    again = samplescan.letter_image(NAMA, NIP, seed=3)
    other = samplescan.letter_image(NAMA, NIP, seed=4)
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)
    assert _digest(samplescan.degrade(first, "speckle", 1)) == _digest(samplescan.degrade(again, "speckle", 1))


def test_sk_has_one_page_or_two_when_the_table_is_long() -> None:
    short = samplescan.sk_image([(NAMA, NIP)], layout=0, **SK_ARGS)
    many = [(f"Pegawai {i}", f"19800{i % 10}0{i % 9 + 1}200501100{i % 9 + 1}") for i in range(20)]
    long = samplescan.sk_image(many, layout=0, **SK_ARGS)
    assert len(short) == 1
    assert len(long) == 2
    assert all(page.mode == "L" and page.size == (2480, 3508) for page in short + long)


@pytest.mark.parametrize("kind", samplescan.DEGRADATIONS)
def test_every_degradation_gives_an_image(kind: str) -> None:
    page = samplescan.letter_image(NAMA, NIP, dpi=150)
    out = samplescan.degrade(page, kind, seed=1)
    assert isinstance(out, Image.Image)
    if kind == "bw":
        assert out.mode == "1"
    if kind == "upside_down":
        assert _digest(out.rotate(180)) == _digest(page)
    if kind in ("phone", "chat"):
        assert out.mode == "RGB"
        assert max(out.size) == (4000 if kind == "phone" else 1600)
    with pytest.raises(ValueError, match="unknown degradation"):
        samplescan.degrade(page, "coffee", seed=1)


@pytest.mark.parametrize("quality", [None, 75])
def test_scanned_pdf_is_image_only(quality: int | None) -> None:
    pages = samplescan.sk_image([(NAMA, NIP)], layout=1, dpi=150, **SK_ARGS)
    bw = samplescan.degrade(pages[0], "bw", seed=0)
    data = samplescan.as_scanned_pdf([*pages, bw], dpi=150, jpeg_quality=quality)
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(data), strict=True)
    assert len(reader.pages) == 3
    assert all(page.extract_text().strip() == "" for page in reader.pages)
    assert b"/Font" not in data
    document = pdfium.PdfDocument(data)
    width, height = document[0].get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    rendered = document[0].render(scale=150 / 72, grayscale=True).to_pil()
    assert rendered.getextrema()[0] < 80  # the pixels survived
    assert document[0].get_textpage().get_text_range() == ""


@pytest.mark.parametrize("orientation", [1, 6])
def test_phone_photo_is_a_12mp_jpeg_at_72_dpi(orientation: int) -> None:
    page = samplescan.letter_image(NAMA, NIP, dpi=150)
    data = samplescan.as_phone_photo_jpeg(page, seed=2, orientation=orientation)
    photo = Image.open(io.BytesIO(data))
    assert photo.format == "JPEG"
    assert photo.info["dpi"] == (72, 72)
    assert photo.size[0] * photo.size[1] == 12_000_000
    exif = photo.getexif()
    assert exif.get(0x011A) == 72
    assert exif.get(0x0112, 1) == orientation
    assert samplescan.upright(photo).size == samplescan.PHONE_SIZE  # portrait once turned upright


def test_chat_jpeg_is_small() -> None:
    page = samplescan.letter_image(NAMA, NIP, dpi=150)
    data = samplescan.as_chat_jpeg(page, seed=1)
    photo = Image.open(io.BytesIO(data))
    assert photo.format == "JPEG" and max(photo.size) == 1600
    assert len(data) < 600_000


def test_spaced_nip() -> None:
    assert samplescan.spaced_nip("197111091996021007") == "19711109 199602 1 007"
    assert samplescan.spaced_nip("19711109 199602 1 007") == "19711109 199602 1 007"
