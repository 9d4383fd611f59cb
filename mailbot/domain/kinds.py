"""The document kinds a request needs (surat permohonan, SK) and which of them are missing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DocumentKind:
    """A required (or optional) document and how to recognise it."""

    name: str
    label: str
    filename_patterns: tuple[str, ...]
    text_patterns: tuple[str, ...]
    required: bool = True


# Word boundaries for filename patterns that treat "_", "-", "." and digits as
# separators (unlike \b), because names like "SK_PPK.pdf" and "srt_permohonan" are common.
_NOT_LETTER_BEFORE = r"(?<![a-z])"


_NOT_LETTER_AFTER = r"(?![a-z])"


SURAT_PERMOHONAN = DocumentKind(
    name="surat_permohonan",
    label="Surat permohonan reset password / informasi user ID",
    filename_patterns=(
        r"permohonan",
        r"permintaan",
        rf"{_NOT_LETTER_BEFORE}(surat|srt)[\s_\-.]*(reset|mohon|pengajuan)",
        r"reset|lupa[\s_\-]*(password|pass|sandi)|kata[\s_\-]*sandi",
        rf"user[\s_\-]*id{_NOT_LETTER_AFTER}",
    ),
    text_patterns=(
        r"permohonan",
        r"reset|password|kata\s*sandi|user\s*-?\s*id|nama\s+pengguna|dengan\s+hormat",
    ),
)


SK_PENGANGKATAN = DocumentKind(
    name="sk_pengangkatan",
    label="SK Pengangkatan sebagai PPK",
    filename_patterns=(
        rf"{_NOT_LETTER_BEFORE}sk{_NOT_LETTER_AFTER}",
        rf"{_NOT_LETTER_BEFORE}sk[\s_\-.]*ppk",
        r"pengangkatan|penetapan|penunjukan|keputusan",
    ),
    text_patterns=(
        r"keputusan",
        r"pejabat\s+pembuat\s+komitmen",
        r"penetapan|penunjukan|pengangkatan|menetapkan",
        # The operative part of a decree. Without it a request letter that merely
        # cites "Keputusan ... tentang Penetapan Pejabat Pembuat Komitmen" would
        # pass for the SK itself. Letter-spaced headings ("M E M U T U S K A N")
        # are common in decrees, hence the optional spaces.
        r"m\s?e\s?m\s?u\s?t\s?u\s?s\s?k\s?a\s?n|menetapkan\s*:|ditetapkan\s+di",
    ),
)


DEFAULT_KINDS: tuple[DocumentKind, ...] = (SURAT_PERMOHONAN, SK_PENGANGKATAN)


class Recognised(Protocol):
    """Anything that says whether a file is usable and which kinds it holds (an analysis, a stored document)."""

    @property
    def usable(self) -> bool: ...

    @property
    def kinds(self) -> Sequence[str]: ...


def missing_kinds(files: Iterable[Recognised], kinds: Sequence[DocumentKind]) -> list[DocumentKind]:
    """The required kinds that no usable file was recognised as: the one answer to "what is missing"."""
    covered = {name for f in files if f.usable for name in f.kinds}
    return [kind for kind in kinds if kind.required and kind.name not in covered]


class Named(Recognised, Protocol):
    @property
    def filename(self) -> str: ...


def unidentified_files(files: Iterable[Named]) -> list[str]:
    """The names of usable files no kind was recognised for (a scan or photo only a person can read, a
    file of another kind): the admin's to judge, never the PPK's to resend (issue 11)."""
    return [f.filename for f in files if f.usable and not f.kinds]
