"""The sample file writers produce files that real readers accept."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from pypdf import PdfReader

from mailbot.demo.samplepdf import (
    make_image_only_pdf,
    make_jpeg,
    make_pdf,
    make_png,
    sample_request_letter,
    sample_sk,
)


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data), strict=True)
    return "\n".join(page.extract_text() for page in reader.pages)


def test_make_pdf_has_an_extractable_text_layer() -> None:
    # A PPK letter must be readable by pypdf, the same reader the bot uses.
    data = make_pdf(["Dengan hormat,", "Permohonan reset password"], title="SURAT")
    assert data.startswith(b"%PDF-1.4")
    text = _text(data)
    assert "Dengan hormat," in text
    assert "Permohonan reset password" in text
    assert "SURAT" in text


def test_make_pdf_escapes_pdf_syntax_and_keeps_latin1() -> None:
    # Parentheses and backslashes would break the content stream if not escaped.
    line = r"Nama (Kabid) \ Bagian: Café – ok"
    text = _text(make_pdf([line]))
    assert "Nama (Kabid) \\ Bagian: Café" in text
    # A character outside latin-1 degrades to "?" instead of failing.
    assert "Café ? ok" in text


def test_make_pdf_title_goes_into_the_metadata() -> None:
    reader = PdfReader(io.BytesIO(make_pdf(["x"], title="Judul (1)")))
    assert reader.metadata is not None and reader.metadata.title == "Judul (1)"


def test_make_pdf_paginates_long_input_and_wraps_long_lines() -> None:
    lines = [f"baris {i}" for i in range(130)] + ["kata " * 60]
    reader = PdfReader(io.BytesIO(make_pdf(lines)), strict=True)
    assert len(reader.pages) == 3
    assert "baris 0" in reader.pages[0].extract_text()
    assert "baris 129" in reader.pages[2].extract_text()
    assert reader.pages[2].extract_text().count("kata") == 60


def test_make_pdf_with_no_lines_is_still_a_valid_pdf() -> None:
    assert len(PdfReader(io.BytesIO(make_pdf([])), strict=True).pages) == 1


def test_image_only_pdf_has_an_image_and_no_text() -> None:
    reader = PdfReader(io.BytesIO(make_image_only_pdf()), strict=True)
    page = reader.pages[0]
    assert page.extract_text().strip() == ""
    xobject = page["/Resources"]["/XObject"]["/Im1"].get_object()
    assert xobject["/Subtype"] == "/Image"


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def test_make_png_is_well_formed() -> None:
    data = make_png(5, 3)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks = _png_chunks(data)
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (5, 3)
    # Each of the 3 rows: one filter byte plus 5 grey pixels.
    assert len(zlib.decompress(chunks[1][1])) == 3 * (1 + 5)


def test_make_png_rejects_an_empty_size() -> None:
    with pytest.raises(ValueError):
        make_png(0, 4)


def test_make_jpeg_has_the_baseline_segments() -> None:
    data = make_jpeg()
    assert data.startswith(b"\xff\xd8\xff") and data.endswith(b"\xff\xd9")
    for marker in (b"\xff\xdb", b"\xff\xc0", b"\xff\xc4", b"\xff\xda"):
        assert marker in data
    sof = data.index(b"\xff\xc0")
    assert struct.unpack(">HH", data[sof + 5 : sof + 9]) == (8, 8)


def test_sample_request_letter_reads_as_a_request() -> None:
    text = _text(sample_request_letter("Budi Santoso", "197103112006041003", "informasi user ID"))
    assert "Dengan hormat," in text
    assert "Permohonan informasi user ID" in text
    assert "NIP. 19710311 200604 1 003" in text
    assert "Budi Santoso" in text


def test_sample_sk_reads_as_a_decree() -> None:
    text = _text(sample_sk("Siti Aminah", "198502142010012001"))
    for phrase in ("KEPUTUSAN BUPATI", "NOMOR", "TENTANG", "PENETAPAN PEJABAT PEMBUAT KOMITMEN",
                   "MEMUTUSKAN", "Menetapkan", "NIP. 19850214 201001 2 001", "Siti Aminah"):
        assert phrase in text
