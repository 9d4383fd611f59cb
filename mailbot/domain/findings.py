"""Named rules over the facts of a case, each returning a finding with its Indonesian reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Callable, Sequence

from mailbot.domain.nip import check_nip, nips_in


@dataclass(frozen=True)
class DocFacts:
    filename: str
    kinds: tuple[str, ...]
    usable: bool
    needs_manual_check: bool
    problem: str | None
    text: str
    source: str | None = None  # where `text` came from: "text" (a PDF's text layer), "ocr", None (no text)
    confidence: float | None = None  # OCR's mean word confidence (0–100)
    low_confidence_words: tuple[str, ...] = ()  # words OCR read with confidence < 80


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
CHECK_CODES = frozenset({"manual_check", "duplicate", "request_type", "name_registry"})


def severity(code: str, ok: bool) -> str:
    """The severity of a stored finding (code, ok): the one place that says it."""
    if ok:
        return FINE
    return CHECK if code in CHECK_CODES else BLOCKING


def documents_present(f: CaseFacts) -> list[Result]:
    have = {k for d in f.documents if d.usable for k in d.kinds}
    return [Result(f"document:{name}", name in have,
                   f"{label}: {'ada' if name in have else 'tidak ditemukan'}") for name, label in f.required]


def documents_readable(f: CaseFacts) -> list[Result]:
    out = []
    for d in f.documents:
        if not d.usable:
            out.append(Result("readable", False, f"{d.filename}: tidak dapat digunakan — {d.problem}"))
        elif d.needs_manual_check:
            why = d.problem or "tidak memiliki lapisan teks, perlu diperiksa manual"
            out.append(Result("manual_check", False, f"{d.filename}: {why}"))
    return out


def _nips(f: CaseFacts) -> list[str]:
    return nips_in([f.body] + [d.text for d in f.documents])


def nip_valid(f: CaseFacts) -> list[Result]:
    nips = _nips(f)
    if not nips:
        return [Result("nip_found", False, "NIP tidak ditemukan dalam isi email maupun dokumen")]
    out = []
    for nip in nips:
        chk = check_nip(nip, f.today)
        msg = f"NIP {nip} valid secara struktur" if chk.valid else f"NIP {nip} tidak valid: {'; '.join(chk.problems)}"
        out.append(Result("nip_valid", chk.valid, msg))
    return out


def nip_matches_registry(f: CaseFacts) -> list[Result]:
    if f.registry is None:
        return [Result("registry", False, "Pengirim dan NIP tidak terdaftar di registri PPK")]
    nips = _nips(f)
    if f.registry.nip in nips:
        return [Result("nip_registry", True, f"NIP {f.registry.nip} sesuai registri PPK ({f.registry.nama})")]
    return [Result("nip_registry", False,
                   f"NIP di registri ({f.registry.nip}) tidak ditemukan dalam email/dokumen")]


def name_matches_registry(f: CaseFacts) -> list[Result]:
    if f.registry is None:
        return []
    words = f.registry.nama.split()
    if not words:
        return []
    # Whole words only: the registry name "Ani" is not in "Tania"; any whitespace between words,
    # because PDF text layers break lines and double spaces.
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", re.IGNORECASE)
    found = any(pattern.search(t or "") for t in [f.body] + [d.text for d in f.documents])
    return [Result("name_registry", found, f"Nama {f.registry.nama} "
                   + ("ditemukan dalam email/dokumen" if found else "tidak ditemukan dalam email/dokumen"))]


def sender_matches_registry(f: CaseFacts) -> list[Result]:
    if f.registry is None:
        return [Result("sender_registry", False, f"Alamat pengirim {f.sender} tidak terdaftar di registri PPK")]
    ok = f.registry.email.lower() == f.sender.lower()
    msg = ("Alamat pengirim sesuai registri PPK" if ok else
           f"Alamat pengirim {f.sender} berbeda dengan email di registri ({f.registry.email})")
    return [Result("sender_registry", ok, msg)]


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
                         no_duplicate_case)


def evaluate(facts: CaseFacts, rules: Sequence[Rule] = RULES) -> list[Result]:
    return [r for rule in rules for r in rule(facts)]
