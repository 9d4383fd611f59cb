"""The document kinds a request needs (surat permohonan, SK) and which of them are missing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mailbot.domain.text import ocr_normal


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


# Tolerant text patterns (matched against domain.text.ocr_normal of the text, which is lower case with
# single spaces): letters OCR confuses are classes, words may be run together or split by a speck.
_CONFUSABLE = {"i": "[il1]", "l": "[il1]", "m": "(?:m|rn)", "o": "[o0]", "s": "[s5]", "b": "[b8]"}
_GAP = r"[ .,;:-]{0,3}"


def tolerant(phrase: str, *, spaced: bool = False) -> str:
    """A regex for `phrase` (lower-case words) that survives OCR: confusable letters as classes
    (i/l/1, m/rn, o/0, s/5, b/8), punctuation specks or no space between words, and with `spaced` a
    space between any two letters (a heading letter-spaced unevenly)."""
    join = " ?" if spaced else ""
    return _GAP.join(join.join(_CONFUSABLE.get(ch, re.escape(ch)) for ch in word) for word in phrase.split())


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
        tolerant("permohonan"),
        "|".join(tolerant(p) for p in ("reset", "password", "kata sandi", "user id", "user-id", "nama pengguna",
                                       "dengan hormat")),
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
        tolerant("keputusan", spaced=True),
        tolerant("pejabat pembuat komitmen"),
        "|".join(tolerant(p) for p in ("penetapan", "penunjukan", "pengangkatan", "menetapkan")),
        # The operative part of a decree. Without it a request letter that merely
        # cites "Keputusan ... tentang Penetapan Pejabat Pembuat Komitmen" would
        # pass for the SK itself. Letter-spaced headings ("M E M U T U S K A N")
        # are common in decrees, hence the optional spaces.
        tolerant("memutuskan", spaced=True) + "|" + tolerant("menetapkan") + " ?[:;]|" + tolerant("ditetapkan di"),
    ),
)


def text_matches(kind: DocumentKind, text: str) -> bool:
    """Whether every text pattern of `kind` occurs in `text` as it is or in its `ocr_normal` form
    (an office's own patterns keep matching what they matched before); a kind without patterns never does."""
    if not kind.text_patterns:
        return False
    normal = ocr_normal(text)
    return all(re.search(p, text, re.IGNORECASE) or re.search(p, normal, re.IGNORECASE)
               for p in kind.text_patterns)


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
