"""The automatic findings for the admin: each named rule over hand-made CaseFacts, in Indonesian."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from mailbot.domain.findings import (
    RULES,
    CaseFacts,
    DocFacts,
    RegistryFacts,
    Result,
    documents_present,
    documents_readable,
    evaluate,
    name_matches_registry,
    nip_matches_registry,
    nip_valid,
    no_duplicate_case,
    request_type_known,
    sender_matches_registry,
)

TODAY = date(2026, 3, 2)
NIP = "197103112006041003"
OTHER_NIP = "198505202010122001"
BAD_NIP = "197113112006041003"  # month 13 in the birth date
REQUIRED = (("surat_permohonan", "Surat permohonan"), ("sk_pengangkatan", "SK Pengangkatan sebagai PPK"))
REG = RegistryFacts(nama="Budi Santoso", nip=NIP, email="budi@pu.example.go.id", user_id="budi.s")


def doc(filename: str = "surat.pdf", kinds: tuple[str, ...] = ("surat_permohonan",), *, usable: bool = True,
        manual: bool = False, problem: str | None = None, text: str = "") -> DocFacts:
    return DocFacts(filename, kinds, usable, manual, problem, text)


def facts(**kw: object) -> CaseFacts:
    base = CaseFacts(sender="budi@pu.example.go.id", request_type="reset_password", body="Mohon reset password.",
                     documents=(), required=REQUIRED, registry=REG, registry_by_sender=True,
                     open_duplicates=(), today=TODAY)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def by_code(results: list[Result], code: str) -> list[Result]:
    return [r for r in results if r.code == code]


# -- documents -----------------------------------------------------------------------------------
def test_all_required_documents_present() -> None:
    """A request letter and an SK, both usable: each required document is reported as present."""
    f = facts(documents=(doc("surat.pdf", ("surat_permohonan",)), doc("sk.pdf", ("sk_pengangkatan",))))
    assert documents_present(f) == [
        Result("document:surat_permohonan", True, "Surat permohonan: ada"),
        Result("document:sk_pengangkatan", True, "SK Pengangkatan sebagai PPK: ada"),
    ]


def test_missing_document_is_reported_by_its_label() -> None:
    """Only the request letter arrived: the SK is 'tidak ditemukan'."""
    results = documents_present(facts(documents=(doc(),)))
    assert [r.ok for r in results] == [True, False]
    assert results[1].message == "SK Pengangkatan sebagai PPK: tidak ditemukan"


def test_one_file_may_hold_both_documents() -> None:
    """A single PDF recognised as both letter and SK covers both requirements."""
    results = documents_present(facts(documents=(doc("berkas.pdf", ("surat_permohonan", "sk_pengangkatan")),)))
    assert all(r.ok for r in results)


def test_an_unusable_file_does_not_count_as_present() -> None:
    """An encrypted 'SK.pdf' is named like the SK but cannot count as the SK."""
    f = facts(documents=(doc(), doc("SK.pdf", ("sk_pengangkatan",), usable=False, problem="terenkripsi")))
    assert [r.ok for r in documents_present(f)] == [True, False]


def test_no_required_documents_configured_gives_no_document_findings() -> None:
    """An office that requires nothing gets no document findings."""
    assert documents_present(facts(required=())) == []


def test_unreadable_and_manual_check_documents() -> None:
    """Unusable files carry their problem; text-less scans are flagged for a manual check."""
    f = facts(documents=(
        doc("ok.pdf", text="Dengan hormat"),
        doc("rusak.pdf", usable=False, problem="Berkas PDF rusak"),
        doc("scan.pdf", manual=True),
    ))
    assert documents_readable(f) == [
        Result("readable", False, "rusak.pdf: tidak dapat digunakan — Berkas PDF rusak"),
        Result("manual_check", False, "scan.pdf: tidak memiliki lapisan teks, perlu diperiksa manual"),
    ]


def test_a_manual_check_with_a_reason_says_that_reason() -> None:
    """A PDF that hit the reading limit (a CPU bomb) is flagged with why, not as a scan without text."""
    why = "Berkas PDF perlu diperiksa manual: pembacaan PDF melebihi batas waktu."
    f = facts(documents=(doc("bom.pdf", manual=True, problem=why),))
    assert documents_readable(f) == [Result("manual_check", False, f"bom.pdf: {why}")]


def test_readable_documents_give_no_readability_findings() -> None:
    """Good files produce no noise in the readability rule."""
    assert documents_readable(facts(documents=(doc(), doc("sk.pdf", ("sk_pengangkatan",))))) == []


# -- NIP -----------------------------------------------------------------------------------------
def test_nip_missing() -> None:
    """Neither the body nor any document holds a NIP."""
    assert nip_valid(facts(body="Mohon bantuan", documents=(doc(text="tanpa nomor"),))) == [
        Result("nip_found", False, "NIP tidak ditemukan dalam isi email maupun dokumen")]


def test_nip_valid_from_the_body_in_printed_form() -> None:
    """'NIP. 19710311 200604 1 003' in the body is found and structurally valid."""
    results = nip_valid(facts(body="Nama: Budi Santoso\nNIP. 19710311 200604 1 003"))
    assert results == [Result("nip_valid", True, f"NIP {NIP} valid secara struktur")]


def test_nip_invalid_names_the_problem_in_indonesian() -> None:
    """A NIP with an impossible birth date is reported invalid with the reason."""
    [result] = nip_valid(facts(body=f"NIP {BAD_NIP}"))
    assert result.code == "nip_valid" and not result.ok
    assert result.message.startswith(f"NIP {BAD_NIP} tidak valid: ")
    assert "bukan tanggal yang sah" in result.message


def test_nips_from_body_and_documents_are_each_checked_once() -> None:
    """The same NIP in body and SK is checked once; a second different NIP is checked too."""
    f = facts(body=f"NIP {NIP}", documents=(doc(text=f"NIP. {NIP}\nNIP {BAD_NIP}"), doc(text=NIP)))
    results = nip_valid(f)
    assert [(r.message.split()[1], r.ok) for r in results] == [(NIP, True), (BAD_NIP, False)]


def test_nip_matches_the_registry() -> None:
    """The registered PPK's NIP appears in the SK."""
    f = facts(documents=(doc(text=f"Keputusan ... NIP. {NIP}"),))
    assert nip_matches_registry(f) == [
        Result("nip_registry", True, f"NIP {NIP} sesuai registri PPK (Budi Santoso)")]


def test_nip_does_not_match_the_registry() -> None:
    """The documents carry someone else's NIP: the registry's NIP is reported as not found."""
    [result] = nip_matches_registry(facts(body=f"NIP {OTHER_NIP}"))
    assert not result.ok and result.code == "nip_registry"
    assert result.message == f"NIP di registri ({NIP}) tidak ditemukan dalam email/dokumen"


def test_no_registry_entry() -> None:
    """Unknown sender and unknown NIP: the registry rule says so, the name rule stays silent."""
    f = facts(registry=None, registry_by_sender=False, body=f"NIP {OTHER_NIP}")
    assert nip_matches_registry(f) == [
        Result("registry", False, "Pengirim dan NIP tidak terdaftar di registri PPK")]
    assert name_matches_registry(f) == []


# -- name ----------------------------------------------------------------------------------------
def test_name_found_across_case_and_line_breaks() -> None:
    """'BUDI\\n  SANTOSO' in a PDF's text layer matches the registry name 'Budi Santoso'."""
    f = facts(body="Mohon reset", documents=(doc(text="Yang bertanda tangan:\nBUDI\n  SANTOSO, S.T."),))
    assert name_matches_registry(f) == [
        Result("name_registry", True, "Nama Budi Santoso ditemukan dalam email/dokumen")]


def test_name_not_found() -> None:
    """Another person's name: the admin sees the registry name was not found."""
    f = facts(body="Hormat saya, Siti Aminah")
    assert name_matches_registry(f) == [
        Result("name_registry", False, "Nama Budi Santoso tidak ditemukan dalam email/dokumen")]


def test_name_inside_a_longer_word_is_not_a_match() -> None:
    """Registry name 'Ani' must not be 'found' inside 'Tania Handayani'."""
    f = facts(registry=dataclasses.replace(REG, nama="Ani"), body="Hormat saya, Tania Handayani")
    [result] = name_matches_registry(f)
    assert not result.ok


def test_empty_registry_name_gives_no_name_finding() -> None:
    """A registry row without a name cannot be 'found' anywhere: no name finding at all."""
    assert name_matches_registry(facts(registry=dataclasses.replace(REG, nama="  "))) == []


# -- sender --------------------------------------------------------------------------------------
def test_sender_matches_registry_ignoring_case() -> None:
    """The sender's address is the registered one (case differs)."""
    assert sender_matches_registry(facts(sender="Budi@PU.example.go.id")) == [
        Result("sender_registry", True, "Alamat pengirim sesuai registri PPK")]


def test_sender_differs_from_registry() -> None:
    """Matched by NIP from a private mailbox: the admin is told both addresses."""
    [result] = sender_matches_registry(facts(sender="budi.pribadi@gmail.example", registry_by_sender=False))
    assert not result.ok
    assert "budi.pribadi@gmail.example" in result.message and "budi@pu.example.go.id" in result.message
    assert "berbeda dengan email di registri" in result.message


def test_sender_unknown() -> None:
    """No registry entry at all: the sender is reported as not registered."""
    assert sender_matches_registry(facts(registry=None, sender="x@y.example")) == [
        Result("sender_registry", False, "Alamat pengirim x@y.example tidak terdaftar di registri PPK")]


# -- duplicates and request type -----------------------------------------------------------------
def test_duplicate_open_case() -> None:
    """Another open case of the same PPK is listed by number."""
    assert no_duplicate_case(facts(open_duplicates=("LPSE-X-2026-00001", "LPSE-X-2026-00003"))) == [
        Result("duplicate", False,
               "Ada permohonan lain yang masih terbuka untuk PPK ini: LPSE-X-2026-00001, LPSE-X-2026-00003")]
    assert no_duplicate_case(facts()) == []


@pytest.mark.parametrize(("kind", "expected"), [
    ("unknown", [Result("request_type", False, "Jenis permohonan tidak dikenali")]),
    ("reset_password", []),
    ("user_id_info", []),
])
def test_request_type(kind: str, expected: list[Result]) -> None:
    """Only an unrecognised request type produces a finding."""
    assert request_type_known(facts(request_type=kind)) == expected


# -- all rules -----------------------------------------------------------------------------------
def test_evaluate_runs_every_rule_in_order_and_all_messages_are_indonesian() -> None:
    """A messy case triggers every rule; no message is English."""
    f = facts(sender="lain@example.com", request_type="unknown", body=f"NIP {BAD_NIP}",
              documents=(doc("scan.pdf", manual=True), doc("x.docx", (), usable=False, problem="DOCX")),
              open_duplicates=("LPSE-X-2026-00001",))
    results = evaluate(f)
    codes = [r.code for r in results]
    # The scan may hold the registry's NIP: not read is "ask the admin" (nip_registry_unread), not "absent".
    assert codes == ["document:surat_permohonan", "document:sk_pengangkatan", "manual_check", "readable",
                     "request_type", "nip_valid", "sender_registry", "nip_registry_unread", "name_registry",
                     "duplicate"]
    english = ("not found", "missing", "invalid", "unknown", "duplicate", "registry", "sender", "name ")
    for r in results:
        assert r.message and not any(w in r.message.lower() for w in english), r.message
    assert evaluate(f, rules=[request_type_known]) == by_code(results, "request_type")
    assert len(RULES) == 11
