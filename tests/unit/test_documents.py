"""Attachments are typed by content and recognised as the required documents by name or text."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from mailbot.cases.documents import FileAnalysis, analyse_file, pdf_text, sniff_type
from mailbot.domain.kinds import (
    DEFAULT_KINDS,
    SK_PENGANGKATAN,
    SURAT_PERMOHONAN,
    DocumentKind,
    missing_kinds,
)
from tests.support.documents import (
    make_image_only_pdf,
    make_jpeg,
    make_pdf,
    make_png,
    sample_request_letter,
    sample_sk,
)

NIP = "197103112006041003"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def _docx() -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


def _encrypted(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    # RC4 works without the optional "cryptography" package.
    writer.encrypt(user_password, "owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _combined() -> bytes:
    writer = PdfWriter()
    for part in (sample_request_letter("Budi", NIP), sample_sk("Budi", NIP)):
        writer.append(PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- sniff_type -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (make_pdf(["x"]), "pdf"),
        (b"\r\n" + make_pdf(["x"]), "pdf"),
        (make_jpeg(), "jpeg"),
        (make_png(), "png"),
        (_docx(), "docx"),
        (_zip({"surat.pdf": make_pdf(["x"])}), "zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "doc"),
        (b"\x78\x9f\x3e\x22\x01\x00" + b"\x00" * 40, "tnef"),
        (b"", "empty"),
        (b"  \r\n", "empty"),
        (b"\x00" * 100, "empty"),
        (b"GIF89a\x01\x00", "unknown"),
        (b"PK\x03\x04 truncated zip", "zip"),
    ],
)
def test_sniff_type_by_magic_bytes(data: bytes, expected: str) -> None:
    assert sniff_type(data) == expected


# --- pdf_text ---------------------------------------------------------------


def test_pdf_text_reads_all_pages() -> None:
    text, problem = pdf_text(_combined())
    assert problem is None
    assert "Dengan hormat," in text and "MEMUTUSKAN" in text


def test_pdf_text_respects_max_pages() -> None:
    text, problem = pdf_text(_combined(), max_pages=1)
    assert problem is None
    assert "Dengan hormat," in text and "MEMUTUSKAN" not in text


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.97])
def test_pdf_text_reports_truncated_pdf_as_corrupt(cut: float) -> None:
    data = sample_sk("Budi", NIP)
    assert pdf_text(data[: int(len(data) * cut)]) == ("", "corrupt")


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n", b"not a pdf", b"", b"%PDF-"],
)
def test_pdf_text_never_raises_on_garbage(data: bytes) -> None:
    assert pdf_text(data) == ("", "corrupt")


def test_pdf_text_reports_password_protected_pdf() -> None:
    assert pdf_text(_encrypted(sample_sk("Budi", NIP), "rahasia")) == ("", "encrypted")


def test_pdf_text_opens_owner_only_protection() -> None:
    # Restrictions with an empty user password: every viewer opens it, so must we.
    text, problem = pdf_text(_encrypted(sample_sk("Budi", NIP), ""))
    assert problem is None and "MEMUTUSKAN" in text


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_pdf_text_never_raises_on_mangled_pdf(noise: bytes) -> None:
    data = bytearray(sample_sk("Budi", NIP))
    data[200 : 200 + len(noise)] = noise
    text, problem = pdf_text(bytes(data))
    assert problem in (None, "corrupt")


# --- analyse_file: recognition -------------------------------------------------


def test_letter_recognised_by_text_under_a_neutral_name() -> None:
    result = analyse_file("scan001.pdf", sample_request_letter("Budi", NIP))
    assert result == FileAnalysis("pdf", ("surat_permohonan",), True, None, False, result.text)
    assert "19710311 200604 1 003" in result.text


def test_user_id_letter_recognised_by_text() -> None:
    data = sample_request_letter("Budi", NIP, request="informasi user ID")
    assert analyse_file("doc.pdf", data).kinds == ("surat_permohonan",)


def test_sk_recognised_by_text_under_a_neutral_name() -> None:
    result = analyse_file("dokumen.pdf", sample_sk("Budi", NIP))
    assert result.kinds == ("sk_pengangkatan",)
    assert result.usable and not result.needs_manual_check


def test_one_pdf_may_hold_both_documents() -> None:
    result = analyse_file("berkas.pdf", _combined())
    assert result.kinds == ("surat_permohonan", "sk_pengangkatan")
    assert missing_kinds([result], DEFAULT_KINDS) == []


def test_letter_citing_the_sk_is_not_taken_for_the_sk() -> None:
    # Letters often name the decree they enclose; only the decree itself counts.
    letter = make_pdf([
        "Dengan hormat,",
        "Bersama ini kami sampaikan permohonan reset password akun SPSE.",
        "Sebagai lampiran, Keputusan Bupati Nomor 900/45/2026 tentang Penetapan",
        "Pejabat Pembuat Komitmen.",
    ])
    assert analyse_file("lampiran.pdf", letter).kinds == ("surat_permohonan",)


def test_sk_with_letter_spaced_heading_is_recognised() -> None:
    sk = make_pdf([
        "KEPUTUSAN KEPALA DINAS",
        "TENTANG PENUNJUKAN PEJABAT PEMBUAT KOMITMEN",
        "M E M U T U S K A N",
    ])
    assert analyse_file("x.pdf", sk).kinds == ("sk_pengangkatan",)


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("Surat Permohonan.pdf", ("surat_permohonan",)),
        ("srt_permohonan_reset.pdf", ("surat_permohonan",)),
        ("permohonan-userid.pdf", ("surat_permohonan",)),
        ("lupa_password_budi.pdf", ("surat_permohonan",)),
        ("SK.pdf", ("sk_pengangkatan",)),
        ("SK_PPK_2026.pdf", ("sk_pengangkatan",)),
        ("skppk.pdf", ("sk_pengangkatan",)),
        ("SK Pengangkatan PPK.pdf", ("sk_pengangkatan",)),
        ("penetapan ppk dinas pupr.pdf", ("sk_pengangkatan",)),
        ("Keputusan Bupati.pdf", ("sk_pengangkatan",)),
        ("C:\\Users\\ppk\\Desktop\\sk_ppk.pdf", ("sk_pengangkatan",)),
        ("Permohonan + SK.pdf", ("surat_permohonan", "sk_pengangkatan")),
        ("desk_task.pdf", ()),
        ("scan001.pdf", ()),
    ],
)
def test_recognition_by_file_name(filename: str, expected: tuple[str, ...]) -> None:
    # The text says nothing, so only the name can recognise the file.
    result = analyse_file(filename, make_pdf(["Halaman 1"]))
    assert result.kinds == expected
    assert result.usable


def test_custom_kinds_are_honoured() -> None:
    ktp = DocumentKind("ktp", "Kartu Tanda Penduduk", (r"ktp",), (r"nik",), required=False)
    kinds = (*DEFAULT_KINDS, ktp)
    assert analyse_file("ktp.jpg", make_jpeg(), kinds).kinds == ("ktp",)
    assert missing_kinds([], kinds) == [SURAT_PERMOHONAN, SK_PENGANGKATAN]


# --- analyse_file: types and problems ---------------------------------------------


def test_image_only_pdf_is_usable_but_needs_manual_check() -> None:
    result = analyse_file("SK PPK scan.pdf", make_image_only_pdf())
    assert result == FileAnalysis("pdf", ("sk_pengangkatan",), True, None, True, "", needs_ocr=True)


def test_unnamed_scan_is_usable_but_recognised_as_nothing() -> None:
    result = analyse_file("IMG_0001.pdf", make_image_only_pdf())
    assert result.usable and result.needs_manual_check and result.kinds == ()


@pytest.mark.parametrize(("data", "file_type"), [(make_jpeg(), "jpeg"), (make_png(), "png")])
def test_images_are_recognised_by_name_and_need_manual_check(data: bytes, file_type: str) -> None:
    result = analyse_file("foto surat permohonan.jpg", data)
    assert result == FileAnalysis(file_type, ("surat_permohonan",), True, None, True, "", needs_ocr=True)


def test_type_comes_from_content_not_extension() -> None:
    assert analyse_file("sk.jpg", sample_sk("Budi", NIP)).file_type == "pdf"
    assert analyse_file("sk.jpg", sample_sk("Budi", NIP)).needs_manual_check is False
    png_named_pdf = analyse_file("sk.pdf", make_png())
    assert (png_named_pdf.file_type, png_named_pdf.needs_manual_check) == ("png", True)


@pytest.mark.parametrize("name", ["Surat Permohonan.docx", "sk.pdf"])
def test_word_documents_are_refused_with_a_request_for_pdf(name: str) -> None:
    result = analyse_file(name, _docx())
    assert result.file_type == "docx" and not result.usable
    assert result.problem is not None and "mohon dikirim dalam format PDF" in result.problem


def test_legacy_doc_is_refused_with_a_request_for_pdf() -> None:
    result = analyse_file("surat.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    assert not result.usable and "format PDF" in (result.problem or "")


def test_zip_archives_are_not_opened() -> None:
    archive = _zip({"SK.pdf": sample_sk("Budi", NIP), "permohonan.pdf": make_pdf(["x"])})
    result = analyse_file("berkas_ppk.zip", archive)
    assert result.file_type == "zip" and not result.usable and result.kinds == ()
    assert "ZIP" in (result.problem or "") and "format PDF" in (result.problem or "")


def test_winmail_dat_is_refused() -> None:
    result = analyse_file("winmail.dat", b"\x78\x9f\x3e\x22\x01\x00" + b"\x00" * 40)
    assert result.file_type == "tnef" and not result.usable
    assert "winmail.dat" in (result.problem or "")


def test_empty_file_is_refused() -> None:
    result = analyse_file("SK.pdf", b"")
    assert result.file_type == "empty" and not result.usable
    assert "kosong" in (result.problem or "")
    # The name still says what it was meant to be, for the message to the PPK.
    assert result.kinds == ("sk_pengangkatan",)


def test_truncated_pdf_is_refused() -> None:
    data = sample_sk("Budi", NIP)
    result = analyse_file("SK.pdf", data[: len(data) // 2])
    assert not result.usable and "rusak" in (result.problem or "")
    assert missing_kinds([result], DEFAULT_KINDS) == list(DEFAULT_KINDS)


def test_encrypted_pdf_is_refused() -> None:
    result = analyse_file("SK.pdf", _encrypted(sample_sk("Budi", NIP), "rahasia"))
    assert result.file_type == "pdf" and not result.usable
    assert "kata sandi" in (result.problem or "")


def test_truncated_images_are_refused() -> None:
    assert not analyse_file("sk.png", make_png(32, 32)[:-20]).usable
    assert not analyse_file("sk.jpg", make_jpeg()[:-2]).usable


def test_unknown_type_is_refused() -> None:
    result = analyse_file("sk.gif", b"GIF89a\x01\x00\x01\x00")
    assert result.file_type == "unknown" and not result.usable
    assert "PDF, JPEG, atau PNG" in (result.problem or "")


# --- missing_kinds ------------------------------------------------------------


def test_missing_kinds_counts_only_usable_files() -> None:
    letter = analyse_file("permohonan.pdf", sample_request_letter("Budi", NIP))
    broken_sk = analyse_file("SK.pdf", b"")
    assert missing_kinds([letter, broken_sk], DEFAULT_KINDS) == [SK_PENGANGKATAN]
    good_sk = analyse_file("SK.pdf", sample_sk("Budi", NIP))
    assert missing_kinds([letter, broken_sk, good_sk], DEFAULT_KINDS) == []


def test_missing_kinds_ignores_optional_kinds() -> None:
    optional = DocumentKind("ktp", "KTP", (r"ktp",), (), required=False)
    assert missing_kinds(iter([]), (optional,)) == []


def test_missing_kinds_accepts_a_generator_once() -> None:
    analyses = (analyse_file(name, make_pdf(["x"])) for name in ("permohonan.pdf", "sk.pdf"))
    assert missing_kinds(analyses, DEFAULT_KINDS) == []


def test_scanner_stamp_alone_is_not_a_text_layer() -> None:
    # CamScanner and the like put one line of text over the page image.
    result = analyse_file("SK.pdf", make_pdf(["Scanned with CamScanner"]))
    assert result.usable and result.needs_manual_check
    assert result.kinds == ("sk_pengangkatan",)
    assert "CamScanner" in result.text
