"""File typing by magic bytes, PDF text (read by the limited worker), and the kinds a file holds."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailbot.cases.pdftext import pdf_text
from mailbot.cases.pdfworker import LIMIT_MEMORY, LIMIT_TIME, PdfLimits, limited_pdf_text
from mailbot.domain.kinds import DEFAULT_KINDS, DocumentKind, text_matches

__all__ = ["ACCEPTED_TYPES", "IMAGE_TYPES", "FileAnalysis", "PdfTexts", "analyse_file", "kinds_in", "pdf_text",
           "sniff_type"]

ACCEPTED_TYPES = frozenset({"pdf", "jpeg", "png", "heic"})
IMAGE_TYPES = frozenset({"jpeg", "png", "heic"})
# ISO-BMFF brands of HEIF/HEIC pictures (iPhones): bytes 4–12 are b"ftyp" + the major brand.
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")

# How far into a file we look for "%PDF-": the PDF spec tolerates leading junk
# (some mail clients and scanners prepend a few bytes) and readers accept it.
_PDF_HEADER_WINDOW = 1024


# A real letter or decree has far more words than this; see _text_too_thin.
_MIN_WORDS_OF_REAL_TEXT = 15
_WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class FileAnalysis:
    """What one attachment is, which documents it holds and whether it can be used."""

    file_type: str
    kinds: tuple[str, ...]
    usable: bool
    problem: str | None
    needs_manual_check: bool
    text: str
    needs_ocr: bool = False  # a picture, or a PDF without a real text layer: OCR may read it (cases/ocrjobs)


def sniff_type(data: bytes) -> str:
    """Return the file type from magic bytes, ignoring the file name."""
    # A file of only whitespace or NUL bytes is what failed uploads and scanners leave behind.
    if not data or data.isspace() or data.count(0) == len(data):
        return "empty"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return "heic"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"  # OLE2 compound file: legacy Word (or another Office format)
    if data.startswith(b"\x78\x9f\x3e\x22"):
        return "tnef"  # Outlook winmail.dat
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "docx" if _zip_has_word_part(data) else "zip"
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return "pdf"
    return "unknown"


def _zip_has_word_part(data: bytes) -> bool:
    """Whether a zip archive is a Word document (it has entries under word/)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(name.startswith("word/") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


_PLEASE_PDF = "mohon dikirim dalam format PDF (hasil pindai dokumen yang telah ditandatangani)."

_REFUSED: dict[str, str] = {
    "empty": "Berkas kosong (0 byte) sehingga tidak dapat diperiksa; mohon dikirim ulang.",
    "docx": "Berkas berformat Microsoft Word (DOCX) tidak dapat diterima; " + _PLEASE_PDF,
    "doc": "Berkas berformat Microsoft Word/Office (DOC) tidak dapat diterima; " + _PLEASE_PDF,
    "zip": "Berkas arsip (ZIP) tidak dibuka oleh sistem; mohon setiap dokumen dilampirkan "
    "tersendiri dan " + _PLEASE_PDF,
    "tnef": "Lampiran winmail.dat (format khusus Microsoft Outlook) tidak dapat dibaca; mohon "
    "dokumen dilampirkan sebagai berkas biasa dan " + _PLEASE_PDF,
    "unknown": "Jenis berkas tidak dikenali atau tidak didukung; mohon dikirim dalam format PDF, "
    "JPEG, atau PNG.",
    "encrypted": "Berkas PDF dilindungi kata sandi (terenkripsi) sehingga tidak dapat dibuka; "
    "mohon dikirim ulang tanpa kata sandi.",
    "corrupt": "Berkas PDF rusak atau tidak lengkap sehingga tidak dapat dibuka; mohon dikirim ulang.",
    "truncated_image": "Berkas gambar tidak lengkap (terpotong) sehingga tidak dapat dibuka; "
    "mohon dikirim ulang.",
}

# A file that costs too much to read is a finding for a person, never a stuck poll.
_LIMIT_HIT: dict[str, str] = {
    LIMIT_TIME: "Berkas PDF perlu diperiksa manual: pembacaan PDF melebihi batas waktu.",
    LIMIT_MEMORY: "Berkas PDF perlu diperiksa manual: pembacaan PDF melebihi batas memori.",
}


PdfTexts = Mapping[str, tuple[str, str | None]]  # pdf_text results computed ahead, by the file's SHA-256


def analyse_file(
    filename: str, data: bytes, kinds: Sequence[DocumentKind] = DEFAULT_KINDS, sha256: str | None = None,
    prepared: PdfTexts | None = None, pdf_limits: PdfLimits | None = None,
) -> FileAnalysis:
    """Type one attachment by content, say whether it is usable and which documents it holds
    (`prepared`: pdf_text results the helper process computed ahead, by SHA-256; `sha256`: the file's
    digest when the caller has it, so it need not be hashed again to look there; `pdf_limits`: what
    reading the PDF may cost, default pdfworker.DEFAULT_LIMITS)."""
    file_type = sniff_type(data)
    by_name = _kinds_by_name(filename, kinds)
    if file_type in IMAGE_TYPES:
        if _image_truncated(file_type, data):
            return _unusable(file_type, by_name, "truncated_image")
        # A picture has no text layer: the name is all we know until OCR reads it; else the admin looks at it.
        return FileAnalysis(file_type, by_name, True, None, True, "", needs_ocr=True)
    if file_type not in ACCEPTED_TYPES:
        return _unusable(file_type, by_name, file_type)
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    ahead = prepared.get(sha256) if prepared else None
    text, problem = ahead or limited_pdf_text(data, limits=pdf_limits, sha256=sha256)
    if problem in _LIMIT_HIT:
        return FileAnalysis(file_type, by_name, True, _LIMIT_HIT[problem], True, "")
    if problem is not None:
        return _unusable(file_type, by_name, problem)
    if not text.strip():
        # A scan without a text layer is accepted but must be read by OCR or a person.
        return FileAnalysis(file_type, by_name, True, None, True, "", needs_ocr=True)
    thin = _text_too_thin(text)
    return FileAnalysis(file_type, kinds_in(filename, text, kinds), True, None, thin, text, needs_ocr=thin)


def kinds_in(filename: str, text: str, kinds: Sequence[DocumentKind] = DEFAULT_KINDS) -> tuple[str, ...]:
    """The kinds a file holds by its name or its text (a text layer's or OCR's: the same rules)."""
    by_name = _kinds_by_name(filename, kinds)
    by_text = {kind.name for kind in kinds if _text_matches(kind, text)}
    return tuple(kind.name for kind in kinds if kind.name in by_name or kind.name in by_text)


def text_too_thin(text: str) -> bool:
    """Whether a text (a layer's or OCR's) is too small to be the document itself (see _text_too_thin)."""
    return _text_too_thin(text)


def _unusable(file_type: str, kinds: tuple[str, ...], reason: str) -> FileAnalysis:
    """An analysis for a file that cannot be used; kinds by name are kept for the messages."""
    return FileAnalysis(file_type, kinds, False, _REFUSED[reason], False, "")


def _kinds_by_name(filename: str, kinds: Sequence[DocumentKind]) -> tuple[str, ...]:
    """Return the kinds whose filename patterns match the base name of `filename`."""
    base = re.split(r"[\\/]", filename)[-1]
    return tuple(
        kind.name
        for kind in kinds
        if any(re.search(pattern, base, re.IGNORECASE) for pattern in kind.filename_patterns)
    )


def _text_matches(kind: DocumentKind, text: str) -> bool:
    """Whether every text pattern of `kind` occurs in `text`, OCR-tolerant (domain/kinds.text_matches)."""
    return text_matches(kind, text)


def _text_too_thin(text: str) -> bool:
    """Whether the text layer is too small to be the document itself.

    Scanner apps stamp a line such as "Scanned with CamScanner" or a page number
    over the picture of the page; such a PDF is still a scan for a person to read.
    """
    return len(_WORD.findall(text)) < _MIN_WORDS_OF_REAL_TEXT


def _image_truncated(file_type: str, data: bytes) -> bool:
    """Whether an image visibly lacks its end marker (cut off by a mail client or a size limit)."""
    if file_type == "heic":
        return False  # no end marker to look for: a cut-off picture is found when it is decoded
    if file_type == "png":
        return b"IEND" not in data[-64:]
    # JPEG writers may append padding or metadata after EOI, so look near the end only.
    return b"\xff\xd9" not in data[-4096:]
