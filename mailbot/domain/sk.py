"""What an SK (the decree appointing PPKs) says: its number, date, Tahun Anggaran and appointees.

Read from a text layer or from OCR output. OCR interleaves blocks and damages letters (OCR-NOTES
pitfalls 6 and 7), so fields are found by their labels and phrases, never by line position, and
every value is checked (a date must exist, a year must be plausible, a NIP must be valid).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import date
from difflib import get_close_matches

from mailbot.domain.nip import check_nip, locate_nips, to_digits
from mailbot.domain.text import ocr_normal

MONTHS = ("januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus", "september",
          "oktober", "november", "desember")
MONTH_NAMES = {i + 1: m.capitalize() for i, m in enumerate(MONTHS)}

_L = "[il1|I!]"  # an OCR'd i or l
_O = "[o0O]"
_NUM = "[0-9OoDQIl|iSsBZ]"  # a digit or a letter OCR takes for one

_NOMOR = re.compile(rf"^[ \t]*n[ \t]?{_O}[ \t]?(?:m|rn)[ \t]?{_O}[ \t]?r[ \t]*[:;.]?[ \t]*(?P<value>[^\n]{{1,80}})",
                    re.IGNORECASE | re.MULTILINE)
# "LAMPIRAN KEPUTUSAN NOMOR 800/125/KPTS/2026" repeats the number mid-line; only a value with a "/" counts
# there ("Peraturan Presiden Nomor 16 Tahun 2018" is a regulation the decree cites).
_NOMOR_CITED = re.compile(rf"k\s?e\s?p\s?u\s?t\s?u\s?s\s?a\s?n[^\n]{{0,60}}?n{_O}(?:m|rn){_O}r[ \t]*[:;.]?[ \t]*"
                          r"(?P<value>[^\s/]{1,20}/[^\n]{1,60})", re.IGNORECASE)
_TENTANG = re.compile(r"\s+t\s?e\s?n\s?t\s?a\s?n\s?g\b.*$", re.IGNORECASE)
_DITETAPKAN = re.compile(rf"d\s?{_L}\s?t\s?e\s?t\s?a\s?p\s?k\s?a\s?n", re.IGNORECASE)
_DITETAPKAN_DI = re.compile(rf"d\s?{_L}\s?t\s?e\s?t\s?a\s?p\s?k\s?a\s?n\s+d\s?{_L}\b", re.IGNORECASE)
_TANGGAL = re.compile(rf"t\s?a\s?n\s?g\s?g\s?a\s?{_L}", re.IGNORECASE)
_DATE = re.compile(rf"(?<![0-9A-Za-z])(?P<d>{_NUM}{{1,2}})[ \t.,\-/]{{0,3}}(?P<m>[A-Za-z0-9]{{3,10}})[ \t.,:;\-/]{{0,3}}"
                   rf"(?P<y>{_NUM}{{4}})(?![0-9])")
_NUMERIC_DATE = re.compile(r"(?<![0-9])(?P<d>[0-9]{1,2})[-/.](?P<m>[0-9]{1,2})[-/.](?P<y>[0-9]{4})(?![0-9])")
_TAHUN_ANGGARAN = re.compile(
    rf"t\s?a\s?h\s?u\s?n\s*a\s?n\s?g\s?g\s?a\s?r\s?a\s?n\s*[:;.]?\s*(?P<y>{_NUM}{{4}})(?![0-9])", re.IGNORECASE)
# The title line over a signature ("KEPALA DINAS PEKERJAAN UMUM,", "BUPATI SUKAMAJU,"): the NIP that
# follows it belongs to whoever signed the decree, not to an appointee.
_SIGNER_TITLE = re.compile(
    r"^[ \t]*(?:plt\.?|plh\.?|a\.?\s?n\.?)?[ \t]*(?:kepala|bupati|wali\s?kota|gubernur|sekretaris|pengguna\s+anggaran|"
    r"kuasa\s+pengguna|direktur|camat)\b[^\n]{0,80},[ \t]*$", re.IGNORECASE | re.MULTILINE)
_NIP_LABEL = re.compile(r"\bN\s?[I1l|]\s?P\b\.?\s*[:;]?", re.IGNORECASE)
_NAME_CHARS = re.compile(r"[^A-Za-z.,' \-]")


@dataclass(frozen=True)
class Appointee:
    """A person the decree appoints: the name as read beside the NIP (may be empty), the NIP, and
    whether the NIP was printed as digits (`exact`) rather than read with look-alike letters mapped."""

    nama: str
    nip: str
    exact: bool


@dataclass(frozen=True)
class SkContents:
    nomor: str | None
    tanggal: date | None
    tahun_anggaran: int | None
    appointees: tuple[Appointee, ...]
    unread: int = 0  # lines with a NIP-like run of digits from which no valid NIP was read

    @property
    def year(self) -> int | None:
        """The fiscal year the decree is for: its Tahun Anggaran, else the year it was signed."""
        return self.tahun_anggaran or (self.tanggal.year if self.tanggal else None)


def read_sk(text: str, *, ocr: bool, today: date) -> SkContents:
    """The number, date, Tahun Anggaran and appointees of the SK in `text` (`ocr`: the text is OCR
    output, so look-alike letters in numbers are mapped and only structurally valid NIPs are read)."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return SkContents(nomor=sk_number(text), tanggal=sk_date(text), tahun_anggaran=fiscal_year(text, today),
                      appointees=appointees(text, ocr=ocr, today=today), unread=unread_nips(text, ocr=ocr, today=today))


def format_date(day: date) -> str:
    """A date the Indonesian way: "5 Januari 2026"."""
    return f"{day.day} {MONTH_NAMES[day.month]} {day.year}"


# -- number -----------------------------------------------------------------------------------------
def sk_number(text: str) -> str | None:
    """The decree's number: the first "Nomor" label at the start of a line whose value has a digit;
    where the same number is repeated longer (OCR cut the title line short), the longer reading."""
    found = [_clean_number(m.group("value")) for m in _NOMOR.finditer(text)]
    first = next((v for v in found if re.search(r"[0-9]", v) and len(v) >= 3), None)
    cited = [_clean_number(m.group("value")) for m in _NOMOR_CITED.finditer(text)]
    if first is None:
        return next((v for v in cited if re.search(r"[0-9]", v)), None)
    longer = [v for v in cited if v.startswith(first) and len(v) > len(first)]
    return max(longer, key=len) if longer else first


def _clean_number(value: str) -> str:
    value = _TENTANG.sub("", value)
    return re.sub(r"\s*/\s*", "/", value).strip(" \t.,;:|")[:60]


# -- date ---------------------------------------------------------------------------------------------
def _month(word: str) -> int | None:
    """A month number from an (OCR-damaged) Indonesian or numeric month."""
    if word.isdigit():
        return int(word) if 1 <= int(word) <= 12 else None
    cleaned = word.lower().translate(str.maketrans("0158|", "oisbl"))
    if len(cleaned) < 3:
        return None
    close = get_close_matches(cleaned, MONTHS, n=1, cutoff=0.7)
    return MONTHS.index(close[0]) + 1 if close else None


def _date_in(fragment: str) -> date | None:
    for match in _DATE.finditer(fragment):
        month = _month(match.group("m"))
        day, year = to_digits(match.group("d")), to_digits(match.group("y"))
        if month is None or not (day.isdigit() and year.isdigit()):
            continue
        try:
            return date(int(year), month, int(day))
        except ValueError:
            continue
    for match in _NUMERIC_DATE.finditer(fragment):
        try:
            return date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
        except ValueError:
            continue
    return None


def sk_date(text: str) -> date | None:
    """When the decree was signed: the date after "pada tanggal" that follows "Ditetapkan di", else the
    date after the last "tanggal", else None (a date anywhere else may be a regulation it cites)."""
    for fixed in reversed(list(_DITETAPKAN.finditer(text))):
        window = text[fixed.end():fixed.end() + 240]
        label = _TANGGAL.search(window)
        found = _date_in(window[label.end():label.end() + 60]) if label else None
        if found:
            return found
    for label in reversed(list(_TANGGAL.finditer(text))):
        found = _date_in(text[label.end():label.end() + 60])
        if found:
            return found
    return None


# -- Tahun Anggaran ------------------------------------------------------------------------------------
def fiscal_year(text: str, today: date) -> int | None:
    """The Tahun Anggaran the decree names most often (first in a tie), if plausible (1990 to next year)."""
    years = []
    for match in _TAHUN_ANGGARAN.finditer(text):
        year = to_digits(match.group("y"))
        if year.isdigit() and 1990 <= int(year) <= today.year + 1:
            years.append(int(year))
    if not years:
        return None
    counts = Counter(years)
    best = max(counts.values())
    return next(y for y in years if counts[y] == best)


# -- appointees -----------------------------------------------------------------------------------------
_NOT_A_NAME = re.compile(r"\b(?:pejabat|komitmen|daftar|keputusan|lampiran|jabatan|nama|nip|kesatu|kedua|"
                         r"menetapkan|tentang|tahun|anggaran|dinas|kepala)\b", re.IGNORECASE)


def _clean_name(fragment: str) -> str:
    """A person's name out of a table cell or list line: numbering, labels and separators removed."""
    fragment = _NIP_LABEL.sub(" ", fragment)
    fragment = re.sub(r"\bnama\b\s*[:;]?", " ", fragment, flags=re.IGNORECASE)
    fragment = re.sub(r"^\s*(?:[0-9]{1,3}|[a-z])[.)]\s+", " ", fragment, flags=re.IGNORECASE)
    fragment = re.sub(r"^\s*[0-9]{1,3}\s+", " ", fragment)
    fragment = _NAME_CHARS.sub(" ", fragment)
    name = " ".join(fragment.split()).strip(" ,;:-'")
    name = re.sub(r"^[.\s]+", "", name)
    letters = sum(ch.isalpha() for ch in name)
    if letters < 3 or _NOT_A_NAME.search(name):
        return ""
    return name[:80]


def _name_before(text: str, start: int) -> str:
    """The name printed beside (or on the line above) a NIP that starts at `start`."""
    line_start = text.rfind("\n", 0, start) + 1
    same_line = _clean_name(text[line_start:start])
    if same_line:
        return same_line
    previous = text[:max(line_start - 1, 0)].rstrip("\n").rsplit("\n", 1)[-1]
    if len(previous.split()) <= 6 and not re.search(r"[0-9]{6}", previous):
        return _clean_name(previous)
    return ""


_SIGNER_REACH = 250  # characters from a signature's title line to its NIP
# Words of the decree's body: between a signature title and its NIP there are none of them.
_DECREE_BODY = re.compile(r"menimbang|mengingat|memutuskan|menetapkan|kesatu|lampiran|daftar|nama ?:|no nama")


def appointees(text: str, *, ocr: bool, today: date) -> tuple[Appointee, ...]:
    """The people the decree appoints, by NIP, in order: every structurally valid NIP except the
    signer's (the first NIP after a signature title line or "Ditetapkan … tanggal")."""
    positions = locate_nips(text, ocr=ocr, today=today)
    # A signature: the title line, the scribble and stamp, the name, the NIP; "Ditetapkan di … pada
    # tanggal …" comes just before the title. The NIP must follow closely, or the title was the one
    # over the decree's considerations ("KEPALA DINAS …," before "Menimbang").
    markers = [(m.end(), _SIGNER_REACH) for m in _SIGNER_TITLE.finditer(text)]
    markers += [(m.end(), 2 * _SIGNER_REACH) for m in _DITETAPKAN_DI.finditer(text)]
    starts = [p for p, _, _ in positions]
    signer_at: set[int] = set()
    for marker, reach in markers:
        i = bisect_left(starts, marker)
        if i < len(starts) and starts[i] - marker <= reach \
                and not _DECREE_BODY.search(ocr_normal(text[marker:starts[i]])):
            signer_at.add(starts[i])
    out: dict[str, Appointee] = {}
    for pos, nip, exact in positions:
        if pos in signer_at or not check_nip(nip, today).valid:
            continue
        name = _name_before(text, pos)
        seen = out.get(nip)
        if seen is None or (not seen.nama and name):
            out[nip] = Appointee(name, nip, exact or (seen.exact if seen else False))
    return tuple(out.values())


_DIGIT_RUN = re.compile(r"[0-9][0-9 .]{10,}[0-9]")


def unread_nips(text: str, *, ocr: bool, today: date) -> int:
    """How many lines hold a run of twelve or more digits (spaces and dots between them allowed) but
    no NIP that was read: a table row OCR damaged, whose person the decree may appoint unseen."""
    read_at = [pos for pos, _, _ in locate_nips(text, ocr=ocr, today=today)]
    count, start = 0, 0
    for line in text.split("\n"):
        end = start + len(line)
        runs = [m for m in _DIGIT_RUN.finditer(line) if sum(ch.isdigit() for ch in m.group(0)) >= 12]
        i = bisect_left(read_at, start)
        if runs and not (i < len(read_at) and read_at[i] <= end):
            count += 1
        start = end + 1
    return count
