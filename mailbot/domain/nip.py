"""Reading NIPs (Indonesian civil-servant numbers) from text and checking their structure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

NIP_LENGTH = 18
MIN_BIRTH_YEAR = 1940
MIN_AGE_AT_APPOINTMENT = 17

# ASCII digits only ([0-9], not \d): other scripts' digits are no NIP.
# Between the printed groups: a few spaces (PDF extraction may double them) or one dot/hyphen.
_SEP = r"(?:[ \t\u00a0]{1,3}|[.\-])?"

# The printed layout 8-6-1-3 ("19710311 200604 1 003") or the plain 18 digits. The
# look-arounds keep an 18-digit window inside a longer digit run from matching.
_STRUCTURED = re.compile(
    rf"(?<![0-9])([0-9]{{8}}){_SEP}([0-9]{{6}}){_SEP}([0-9]){_SEP}([0-9]{{3}})(?![0-9])"
)

# After an explicit "NIP" label any grouping is accepted ("NIP: 1971 0311 2006 04 1 003"),
# because the label, not the layout, says the digits belong together.
_LABELLED = re.compile(
    r"\bNIP\b\s*\.?\s*:?\s*((?:[0-9][ \t\u00a0.\-]?){17}[0-9])(?![ \t\u00a0.\-]?[0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NipCheck:
    """The outcome of validating one NIP; `problems` are formal Indonesian sentences."""

    nip: str
    valid: bool
    problems: list[str]


def find_nips(text: str) -> list[str]:
    """Return the NIPs in `text` as 18-digit strings, de-duplicated, in order of appearance."""
    hits: list[tuple[int, str]] = []
    for match in _STRUCTURED.finditer(text):
        hits.append((match.start(), "".join(match.groups())))
    for match in _LABELLED.finditer(text):
        hits.append((match.start(1), re.sub(r"[^0-9]", "", match.group(1))))
    seen: set[str] = set()
    found: list[str] = []
    for _, nip in sorted(hits):
        if nip not in seen:
            seen.add(nip)
            found.append(nip)
    return found


def nips_in(texts: Iterable[str | None]) -> list[str]:
    """The NIPs of several texts (the mail body, each document's text), de-duplicated, in order."""
    seen: list[str] = []
    for text in texts:
        for nip in find_nips(text or ""):
            if nip not in seen:
                seen.append(nip)
    return seen


def check_nip(nip: str, today: date) -> NipCheck:
    """Validate the structure of `nip` (separators allowed) as of `today`."""
    digits = re.sub(r"[\s.\-]", "", nip)
    if not re.fullmatch(rf"[0-9]{{{NIP_LENGTH}}}", digits):
        problem = f"NIP harus terdiri atas {NIP_LENGTH} digit angka (tertulis: {nip.strip()!r})."
        return NipCheck(nip=digits, valid=False, problems=[problem])
    birth, birth_problems = _check_birth(digits[:8], today)
    problems = birth_problems + _check_appointment(digits[8:14], birth, today)
    if digits[14] not in "12":
        problems.append(
            "Digit ke-15 NIP (jenis kelamin) harus 1 (laki-laki) atau 2 (perempuan), "
            f"bukan {digits[14]}."
        )
    if digits[15:] == "000":
        problems.append("Nomor urut pada NIP (digit ke-16 sampai ke-18) tidak boleh 000.")
    return NipCheck(nip=digits, valid=not problems, problems=problems)


def _check_birth(part: str, today: date) -> tuple[date | None, list[str]]:
    """Parse the YYYYMMDD birth date; return it (or None) and the problems found."""
    try:
        birth = date(int(part[:4]), int(part[4:6]), int(part[6:8]))
    except ValueError:
        return None, [f"Tanggal lahir pada NIP ({part}) bukan tanggal yang sah."]
    if birth > today:
        return birth, [f"Tanggal lahir pada NIP ({birth.isoformat()}) berada di masa depan."]
    if birth.year < MIN_BIRTH_YEAR:
        return birth, [f"Tahun lahir pada NIP ({birth.year}) tidak wajar (sebelum {MIN_BIRTH_YEAR})."]
    return birth, []


def _check_appointment(part: str, birth: date | None, today: date) -> list[str]:
    """Check the YYYYMM appointment (TMT CPNS) against the calendar, the birth date and today."""
    year, month = int(part[:4]), int(part[4:6])
    if not 1 <= month <= 12:
        return [f"Bulan pengangkatan pada NIP ({part[4:6]}) harus antara 01 dan 12."]
    problems: list[str] = []
    if (year, month) > (today.year, today.month):
        problems.append(f"Tanggal pengangkatan pada NIP ({year}-{month:02d}) berada di masa depan.")
    # Month precision is all the NIP carries, so the comparison is by month.
    if birth is not None and (year, month) < (birth.year + MIN_AGE_AT_APPOINTMENT, birth.month):
        problems.append(
            f"Tanggal pengangkatan pada NIP ({year}-{month:02d}) kurang dari "
            f"{MIN_AGE_AT_APPOINTMENT} tahun setelah tanggal lahir ({birth.isoformat()})."
        )
    return problems
