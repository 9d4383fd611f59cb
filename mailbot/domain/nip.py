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
    return _unique(locate_nips(text))


def _unique(located: list[tuple[int, str, bool]]) -> list[str]:
    return list(dict.fromkeys(nip for _, nip, _ in located))


# OCR output (OCR-NOTES pitfall 6): specks read as punctuation between the 8/6/1/3 groups, and letters
# for digits. A candidate may hold the look-alike letters below, but at least 14 of its 18 characters
# must be real digits, and it is accepted only when its structure is valid.
_OCR_SEP = r"[ .,'`:;_\-]{0,3}"
_LOOKALIKE = "OoDQIl|iSsBZ"
_OCR_DIGIT = "[0-9" + re.escape(_LOOKALIKE) + "]"
_OCR_CANDIDATE = re.compile(
    rf"(?<![0-9{re.escape(_LOOKALIKE)}])({_OCR_DIGIT}{{8}}){_OCR_SEP}({_OCR_DIGIT}{{6}}){_OCR_SEP}"
    rf"({_OCR_DIGIT}){_OCR_SEP}({_OCR_DIGIT}{{3}})(?![0-9{re.escape(_LOOKALIKE)}])"
)
_TO_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1",
                           "S": "5", "s": "5", "B": "8", "Z": "2"})
MIN_REAL_DIGITS = 14


@dataclass(frozen=True)
class NipReading:
    """One NIP read from a text: `exact` when its 18 digits were printed as digits (a text layer, or
    OCR that needed no look-alike mapping), `ocr` when the text came from OCR, `index` the text it was in."""

    nip: str
    exact: bool
    ocr: bool
    index: int


def locate_nips(text: str, *, ocr: bool = False, today: date | None = None) -> list[tuple[int, str, bool]]:
    """Every NIP reading in `text` as (position, nip, exact), in order, repeats included. A text layer's
    NIPs are read as printed (digits only, also structurally invalid ones); with `ocr` the tolerant
    separators and look-alike letters are read too, and only structurally valid NIPs (as of `today`)."""
    hits: list[tuple[int, str, bool]] = []
    if ocr:
        day = today or date.today()
        for match in _OCR_CANDIDATE.finditer(text):
            raw = "".join(match.groups())
            if sum(ch.isdigit() for ch in raw) < MIN_REAL_DIGITS:
                continue
            nip = to_digits(raw)
            if check_nip(nip, day).valid:
                hits.append((match.start(), nip, nip == raw))
    else:
        hits += [(m.start(), "".join(m.groups()), True) for m in _STRUCTURED.finditer(text)]
    for labelled in _LABELLED.finditer(text):  # other groupings after a "NIP" label, digits only
        nip = re.sub(r"[^0-9]", "", labelled.group(1))
        if not ocr or check_nip(nip, today or date.today()).valid:
            hits.append((labelled.start(1), nip, True))
    return sorted(set(hits))


def to_digits(raw: str) -> str:
    """`raw` with the letters OCR takes for digits mapped to those digits (O→0, l→1, S→5, B→8, Z→2 …)."""
    return raw.translate(_TO_DIGIT)


def read_ocr_nips(text: str, today: date) -> list[tuple[str, bool]]:
    """The structurally valid NIPs in OCR output, in order, de-duplicated: (nip, exact anywhere)."""
    found: dict[str, bool] = {}
    for _, nip, exact in locate_nips(text, ocr=True, today=today):
        found[nip] = found.get(nip, False) or exact
    return list(found.items())


def nip_readings(texts: Iterable[tuple[str | None, bool]], today: date | None = None) -> list[NipReading]:
    """The NIPs of several texts given as (text, read_by_ocr), de-duplicated, in order. A text layer's
    NIPs are read as printed (also structurally invalid ones, for the admin to see); OCR output's only
    when structurally valid, with look-alike letters mapped. A NIP read exactly anywhere is exact."""
    day = today or date.today()
    out: dict[str, NipReading] = {}
    for index, (text, ocr) in enumerate(texts):
        found = read_ocr_nips(text or "", day) if ocr else [(nip, True) for nip in find_nips(text or "")]
        for nip, exact in found:
            seen = out.get(nip)
            if seen is None:
                out[nip] = NipReading(nip, exact, ocr, index)
            elif exact and not seen.exact:
                out[nip] = NipReading(nip, True, ocr, index)
    return list(out.values())


def nips_in(texts: Iterable[str | None], *, ocr_texts: Iterable[str | None] = (),
            today: date | None = None) -> list[str]:
    """The NIPs of several texts (the mail body, each document's text layer) and of OCR output
    (`ocr_texts`, only structurally valid readings as of `today`), de-duplicated, in order."""
    sources = [(t, False) for t in texts] + [(t, True) for t in ocr_texts]
    return [r.nip for r in nip_readings(sources, today)]


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
