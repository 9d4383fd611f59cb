"""Named rules over the facts of a case, each returning a finding with its Indonesian reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Callable, Sequence

from mailbot.domain.kinds import tolerant
from mailbot.domain.nip import NipReading, check_nip, nip_readings, to_digits
from mailbot.domain.sk import SkContents, format_date, read_sk
from mailbot.domain.text import ocr_normal

# Where a document's text came from (DocFacts.source).
TEXT_LAYER, OCR = "text", "ocr"
SK_KIND = "sk_pengangkatan"
LETTER_KIND = "surat_permohonan"
LOW_CONFIDENCE = 80  # word confidence (0-100) under which OCR is "ask the admin"


@dataclass(frozen=True)
class DocFacts:
    filename: str
    kinds: tuple[str, ...]
    usable: bool
    needs_manual_check: bool
    problem: str | None
    text: str
    source: str | None = None  # TEXT_LAYER, OCR, or None (no text, or not known)
    confidence: float | None = None  # OCR's mean word confidence, 0-100
    low_confidence_words: tuple[str, ...] = ()  # OCR words read with confidence < LOW_CONFIDENCE

    @property
    def ocr(self) -> bool:
        return self.source == OCR


@dataclass(frozen=True)
class RegistryFacts:
    nama: str
    nip: str
    email: str
    user_id: str


@dataclass(frozen=True)
class CaseFacts:
    """Everything the rules look at; built by the caller from the database."""

    sender: str
    request_type: str
    body: str
    documents: tuple[DocFacts, ...]
    required: tuple[tuple[str, str], ...]  # (kind name, label)
    registry: RegistryFacts | None  # the registry entry matched by sender or NIP
    registry_by_sender: bool
    open_duplicates: tuple[str, ...]  # numbers of other open cases of the same PPK
    today: date
    others: tuple[RegistryFacts, ...] = ()  # other registry entries whose NIPs appear in the documents


@dataclass(frozen=True)
class Result:
    code: str
    ok: bool
    message: str


Rule = Callable[[CaseFacts], list[Result]]


# How much a finding weighs for the admin's decision (issue 14): a failed check is "blocking" unless its
# code is one that only asks the admin to look ("check"); a passed check is "fine".
BLOCKING, CHECK, FINE = "blocking", "check", "fine"
SEVERITIES = (BLOCKING, CHECK, FINE)
# Blocking when failed: document:<kind> (missing), readable (a file that cannot be used), nip_found (no
# NIP in text a person typed), nip_valid (a structurally invalid NIP), registry, sender_registry,
# nip_registry (the registry's NIP is not in the text layers), sk_ppk (a text-layer SK that does not name
# the requesting PPK), sk_other_ppk (the SK names a different registered PPK).
CHECK_CODES = frozenset({
    "manual_check",  # a scan without a text layer, or a file a reading limit stopped: the admin reads it
    "duplicate",  # another open case of the same PPK
    "request_type",  # the request type was not recognised
    "name_registry",  # the registry name is not in the text (names are written many ways)
    "nip_unread",  # no NIP read, but a scan may hold it
    "nip_uncertain",  # read only after look-alike mapping, with low confidence, or letter and SK disagree
    "nip_registry_unread",  # the registry's NIP not read, but a scan may hold it
    "sk_contents",  # the SK's number, date, Tahun Anggaran or appointees could not all be read
    "sk_old",  # the SK is for an earlier fiscal year
    "sk_ppk_unread",  # the requesting PPK not read among the appointees of a scanned SK (or by name only)
})


def severity(code: str, ok: bool) -> str:
    """The severity of a stored finding (code, ok): the one place that says it."""
    if ok:
        return FINE
    return CHECK if code in CHECK_CODES else BLOCKING


def source_note(source: str | None) -> str:
    """What a finding says about where its text came from: a text layer or OCR (nothing if not known)."""
    return {TEXT_LAYER: " (dari lapisan teks)", OCR: " (hasil OCR)"}.get(source or "", "")


def documents_present(f: CaseFacts) -> list[Result]:
    out = []
    for name, label in f.required:
        found = next((d for d in f.documents if d.usable and name in d.kinds), None)
        message = f"{label}: ada{source_note(found.source)}" if found else f"{label}: tidak ditemukan"
        out.append(Result(f"document:{name}", found is not None, message))
    return out


def documents_readable(f: CaseFacts) -> list[Result]:
    out = []
    for d in f.documents:
        if not d.usable:
            out.append(Result("readable", False, f"{d.filename}: tidak dapat digunakan — {d.problem}"))
        elif d.needs_manual_check:
            why = d.problem or "tidak memiliki lapisan teks, perlu diperiksa manual"
            out.append(Result("manual_check", False, f"{d.filename}: {why}"))
    return out


# -- NIPs ------------------------------------------------------------------------------------------
def _readings(f: CaseFacts) -> list[tuple[NipReading, DocFacts | None]]:
    """Every NIP read from the body and the documents, with the document it came from (None: the body)."""
    texts = [(f.body, False)] + [(d.text, d.ocr) for d in f.documents]
    return [(r, f.documents[r.index - 1] if r.index else None) for r in nip_readings(texts, f.today)]


def _nips(f: CaseFacts) -> list[str]:
    return [r.nip for r, _ in _readings(f)]


def _has_scan(f: CaseFacts) -> bool:
    """Whether a usable document was read by OCR or waits for a person: a NIP may be in it unread."""
    return any(d.usable and (d.ocr or d.needs_manual_check) for d in f.documents)


_NIP_GROUPS = (0, 8, 14, 15, 18)  # where the printed groups 8-6-1-3 begin and end


def _low_confidence(nip: str, doc: DocFacts | None) -> bool:
    """Whether OCR read one or more of `nip`'s printed groups (three digits or more) as a low-confidence word."""
    if doc is None:
        return False
    parts = {nip[i:j] for i in _NIP_GROUPS for j in _NIP_GROUPS if j - i >= 3}
    return any(re.sub(r"[^0-9]", "", to_digits(word)) in parts for word in doc.low_confidence_words)


def _near(a: str, b: str) -> bool:
    """Two different NIPs that differ in at most two digits: one is likely a misreading of the other."""
    return a != b and sum(x != y for x, y in zip(a, b)) <= 2


def _disagreements(f: CaseFacts) -> dict[str, str]:
    """NIP → the nearly equal NIP on the other document, where the letter (or mail) and the SK disagree."""
    readings = _readings(f)
    on_letter = {r.nip for r, d in readings if d is None or LETTER_KIND in d.kinds}
    on_sk = {a.nip for _, sk in _sks(f) for a in sk.appointees}
    out: dict[str, str] = {}
    for mine in on_letter - on_sk:
        for theirs in on_sk - on_letter:
            if _near(mine, theirs):
                out.setdefault(mine, theirs)
                out.setdefault(theirs, mine)
    return out


def nip_valid(f: CaseFacts) -> list[Result]:
    readings = _readings(f)
    if not readings:
        if _has_scan(f):
            return [Result("nip_unread", False,
                           "NIP tidak terbaca dari isi email maupun dokumen; dokumen hasil pindaian perlu "
                           "diperiksa manual")]
        return [Result("nip_found", False, "NIP tidak ditemukan dalam isi email maupun dokumen")]
    disagree = _disagreements(f)
    out = []
    for reading, doc in readings:
        nip, note = reading.nip, source_note(doc.source if doc else None)
        doubts = []
        if reading.ocr and not reading.exact:
            doubts.append("sebagian angka terbaca sebagai huruf yang mirip")
        if reading.ocr and _low_confidence(nip, doc):
            doubts.append("tingkat keyakinan OCR rendah")
        if nip in disagree:
            doubts.append(f"berbeda sedikit dengan NIP {disagree[nip]} pada dokumen lain")
        chk = check_nip(nip, f.today)
        if not chk.valid:
            out.append(Result("nip_valid", False, f"NIP {nip} tidak valid: {'; '.join(chk.problems)}{note}"))
        elif doubts:
            out.append(Result("nip_uncertain", False, f"NIP {nip} belum pasti terbaca ({'; '.join(doubts)}); "
                              f"mohon dicocokkan dengan dokumen{note}"))
        else:
            out.append(Result("nip_valid", True, f"NIP {nip} valid secara struktur{note}"))
    return out


def nip_matches_registry(f: CaseFacts) -> list[Result]:
    if f.registry is None:
        return [Result("registry", False, "Pengirim dan NIP tidak terdaftar di registri PPK")]
    readings = _readings(f)
    found = next(((r, d) for r, d in readings if r.nip == f.registry.nip), None)
    if found is not None:
        note = source_note(found[1].source if found[1] else None)
        return [Result("nip_registry", True, f"NIP {f.registry.nip} sesuai registri PPK ({f.registry.nama}){note}")]
    if _has_scan(f):
        near = [r.nip for r, d in readings if d is not None and d.ocr and _near(r.nip, f.registry.nip)]
        seen = f"; terbaca mirip: {', '.join(near)}" if near else ""
        return [Result("nip_registry_unread", False,
                       f"NIP di registri ({f.registry.nip}) tidak terbaca dalam email/dokumen{seen}; dokumen "
                       "hasil pindaian perlu diperiksa manual")]
    return [Result("nip_registry", False,
                   f"NIP di registri ({f.registry.nip}) tidak ditemukan dalam email/dokumen")]


def _name_pattern(nama: str) -> re.Pattern[str] | None:
    words = nama.split()
    if not words:
        return None
    # Whole words only: the registry name "Ani" is not in "Tania"; any whitespace between words,
    # because PDF text layers break lines and double spaces.
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", re.IGNORECASE)


def _name_in(nama: str, text: str, ocr: bool) -> bool:
    """Whether the name `nama` is in `text`; in OCR output also with look-alike letters."""
    pattern = _name_pattern(nama)
    if pattern is None:
        return False
    if pattern.search(text or ""):
        return True
    return ocr and re.search(r"(?<!\w)" + tolerant(nama.casefold()) + r"(?!\w)", ocr_normal(text)) is not None


def name_matches_registry(f: CaseFacts) -> list[Result]:
    if f.registry is None or not f.registry.nama.split():
        return []
    where = [(d.text, d.ocr, d.source) for d in f.documents]
    found = next((src for text, ocr, src in [(f.body, False, None), *where]
                  if _name_in(f.registry.nama, text, ocr)), "missing")
    if found == "missing":
        return [Result("name_registry", False, f"Nama {f.registry.nama} tidak ditemukan dalam email/dokumen")]
    return [Result("name_registry", True, f"Nama {f.registry.nama} ditemukan dalam email/dokumen{source_note(found)}")]


def sender_matches_registry(f: CaseFacts) -> list[Result]:
    if f.registry is None:
        return [Result("sender_registry", False, f"Alamat pengirim {f.sender} tidak terdaftar di registri PPK")]
    ok = f.registry.email.lower() == f.sender.lower()
    msg = ("Alamat pengirim sesuai registri PPK" if ok else
           f"Alamat pengirim {f.sender} berbeda dengan email di registri ({f.registry.email})")
    return [Result("sender_registry", ok, msg)]


# -- what the SK says ----------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _read_sk(text: str, ocr: bool, today: date) -> SkContents:
    return read_sk(text, ocr=ocr, today=today)


def _sks(f: CaseFacts) -> list[tuple[DocFacts, SkContents]]:
    """Each usable SK with text, and what it says."""
    return [(d, _read_sk(d.text, d.ocr, f.today)) for d in f.documents
            if d.usable and SK_KIND in d.kinds and d.text.strip()]


def sk_contents(f: CaseFacts) -> list[Result]:
    """The SK's number, date, Tahun Anggaran and appointees, for the admin to see (a check if any is unread)."""
    out = []
    for d, sk in _sks(f):
        people = "; ".join(f"{a.nama or 'nama tidak terbaca'} (NIP {a.nip})" for a in sk.appointees)
        parts = [f"Nomor {sk.nomor}" if sk.nomor else "nomor tidak terbaca",
                 f"ditetapkan tanggal {format_date(sk.tanggal)}" if sk.tanggal else "tanggal penetapan tidak terbaca",
                 f"Tahun Anggaran {sk.tahun_anggaran}" if sk.tahun_anggaran else "Tahun Anggaran tidak terbaca",
                 f"menetapkan {people}" if people else "nama dan NIP yang ditetapkan tidak terbaca"]
        if sk.unread:
            parts.append(f"{sk.unread} baris lain berisi angka mirip NIP tidak terbaca")
        ok = bool(sk.nomor and sk.tanggal and sk.tahun_anggaran and sk.appointees and not sk.unread)
        out.append(Result("sk_contents", ok, f"SK {d.filename}: {'; '.join(parts)}{source_note(d.source)}"))
    return out


def sk_current(f: CaseFacts) -> list[Result]:
    """An SK for an earlier fiscal year than today's: the admin makes sure the appointment still holds."""
    out = []
    for d, sk in _sks(f):
        if sk.year is not None and sk.year < f.today.year:
            out.append(Result("sk_old", False, f"SK {d.filename} untuk Tahun Anggaran {sk.year}, sebelum tahun "
                              f"anggaran berjalan ({f.today.year}); mohon dipastikan penetapan PPK masih berlaku"
                              f"{source_note(d.source)}"))
    return out


def sk_names_the_ppk(f: CaseFacts) -> list[Result]:
    """Whether the requesting PPK (registry entry: NIP, else name) is among the SK's appointees, and
    whether the SK instead names a different registered PPK (blocking: the wrong person's SK)."""
    sks = _sks(f)
    if f.registry is None or not sks:
        return []
    reg = f.registry
    appointed = {a.nip: (a, d) for d, sk in sks for a in sk.appointees}
    if reg.nip in appointed:
        d = appointed[reg.nip][1]
        return [Result("sk_ppk", True, f"PPK pemohon {reg.nama} (NIP {reg.nip}) tercantum dalam SK{source_note(d.source)}")]
    note = source_note(sks[0][0].source)
    if reg.nama.split() and any(_name_in(reg.nama, d.text, d.ocr) for d, _ in sks):
        return [Result("sk_ppk_unread", False, f"Nama {reg.nama} tercantum dalam SK, tetapi NIP {reg.nip} tidak "
                       f"terbaca di sana; mohon diperiksa{note}")]
    named = [o for o in f.others if o.nip in appointed and o.nip != reg.nip]
    if named:
        who = ", ".join(f"{o.nama} (NIP {o.nip})" for o in named)
        if any(sk.unread for _, sk in sks):  # the requester may be on a row OCR could not read
            return [Result("sk_ppk_unread", False, f"SK menetapkan PPK terdaftar lain: {who}; PPK pemohon "
                           f"{reg.nama} (NIP {reg.nip}) tidak terbaca, tetapi ada baris NIP yang tidak terbaca; "
                           f"mohon diperiksa manual{note}")]
        return [Result("sk_other_ppk", False, f"SK menetapkan PPK terdaftar lain: {who}, bukan PPK pemohon "
                       f"{reg.nama} (NIP {reg.nip}){note}")]
    if any(d.ocr for d, _ in sks):
        return [Result("sk_ppk_unread", False, f"PPK pemohon {reg.nama} (NIP {reg.nip}) tidak terbaca di antara "
                       f"yang ditetapkan dalam SK; mohon diperiksa manual{note}")]
    return [Result("sk_ppk", False, f"PPK pemohon {reg.nama} (NIP {reg.nip}) tidak tercantum dalam SK{note}")]


def no_duplicate_case(f: CaseFacts) -> list[Result]:
    if not f.open_duplicates:
        return []
    return [Result("duplicate", False,
                   "Ada permohonan lain yang masih terbuka untuk PPK ini: " + ", ".join(f.open_duplicates))]


def request_type_known(f: CaseFacts) -> list[Result]:
    if f.request_type == "unknown":
        return [Result("request_type", False, "Jenis permohonan tidak dikenali")]
    return []


RULES: Sequence[Rule] = (documents_present, documents_readable, request_type_known, nip_valid,
                         sender_matches_registry, nip_matches_registry, name_matches_registry,
                         sk_contents, sk_current, sk_names_the_ppk, no_duplicate_case)


def evaluate(facts: CaseFacts, rules: Sequence[Rule] = RULES) -> list[Result]:
    return [r for rule in rules for r in rule(facts)]
