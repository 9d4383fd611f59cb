"""What the SK says (domain/sk.py) on recorded OCR output and text layers, and the findings the admin
gets from it and from OCR'd NIPs (domain/findings.py), with their severities."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.domain.findings import (
    BLOCKING,
    CHECK,
    CHECK_CODES,
    FINE,
    OCR,
    RULES,
    TEXT_LAYER,
    CaseFacts,
    DocFacts,
    RegistryFacts,
    Result,
    documents_present,
    evaluate,
    name_matches_registry,
    nip_matches_registry,
    nip_valid,
    severity,
    sk_contents,
    sk_current,
    sk_names_the_ppk,
    source_note,
)
from mailbot.domain.sk import format_date, read_sk

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ocr"
SK_NAMES = sorted(p.stem for p in FIXTURES.glob("sk_*.txt"))
TODAY = date(2026, 12, 2)
BUDI = RegistryFacts("Budi Santoso", "197111091996021007", "budi@pu.example.go.id", "budi.s")
SITI = RegistryFacts("Siti Aminah", "198502142010012001", "siti@pu.example.go.id", "siti.a")
RUDI = RegistryFacts("Rudi Hartono", "198207172008011012", "rudi@pu.example.go.id", "rudi.h")
REQUIRED = (("surat_permohonan", "Surat permohonan"), ("sk_pengangkatan", "SK Pengangkatan sebagai PPK"))
# What the recorded OCR could not read (missing, never wrong): a speckled title line ("NOMOR: Ba aa |"),
# a skewed table row.
UNREAD_NOMOR = {"sk_speckle_l2"}
UNREAD_APPOINTEES = {"sk_skew_l1": {"199001152015032002"}}


def fixture(name: str) -> tuple[str, dict[str, Any]]:
    return (FIXTURES / f"{name}.txt").read_text(encoding="utf-8"), json.loads(
        (FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def words(name: str) -> list[str]:
    return re.findall(r"[a-z]{3,}", name.lower())


# -- extraction on recorded OCR ---------------------------------------------------------------------
@pytest.mark.parametrize("name", SK_NAMES)
def test_number_date_and_fiscal_year_of_recorded_sks(name: str) -> None:
    text, truth = fixture(name)
    sk = read_sk(text, ocr=True, today=TODAY)
    assert sk.nomor == (None if name in UNREAD_NOMOR else truth["nomor"])
    assert sk.tanggal == date.fromisoformat(truth["tanggal"])
    assert sk.tahun_anggaran == truth["tahun_anggaran"]


@pytest.mark.parametrize("name", SK_NAMES)
def test_appointees_of_recorded_sks_by_nip_with_names_and_never_the_signer(name: str) -> None:
    """The table's people in order, each with the name beside its NIP; the head of office who signed
    ("KEPALA DINAS …," / "NIP. 19680512 …") is not an appointee."""
    text, truth = fixture(name)
    sk = read_sk(text, ocr=True, today=TODAY)
    expected = [a for a in truth["appointees"] if a["nip"] not in UNREAD_APPOINTEES.get(name, set())]
    assert [a.nip for a in sk.appointees] == [a["nip"] for a in expected]
    assert truth["signer"]["nip"] not in {a.nip for a in sk.appointees}
    for got, want in zip(sk.appointees, expected):
        if got.nama:  # the name as OCR read it: its first two words
            assert words(got.nama)[:2] == words(want["nama"])[:2]
    assert sum(bool(a.nama) for a in sk.appointees) >= len(expected) - 1


def test_a_text_layer_sk_in_list_form() -> None:
    text = ("KEPUTUSAN BUPATI CONTOH\nNOMOR 900/45/KPTS/2026\nTENTANG\nPENETAPAN PEJABAT PEMBUAT KOMITMEN\n"
            "TAHUN ANGGARAN 2026\nBUPATI CONTOH,\nMenimbang : bahwa perlu menetapkan PPK;\nMEMUTUSKAN:\n"
            "KESATU : Menetapkan Saudara:\n  Nama : Budi Santoso\n  NIP. 19711109 199602 1 007\n"
            "KEDUA : Keputusan ini mulai berlaku pada tanggal ditetapkan.\nDitetapkan di Contoh\n"
            "pada tanggal 2 Januari 2026\nBUPATI CONTOH,\n\nDrs. H. Ahmad Yani\nNIP. 19650101 199003 1 010\n")
    sk = read_sk(text, ocr=False, today=TODAY)
    assert (sk.nomor, sk.tanggal, sk.tahun_anggaran) == ("900/45/KPTS/2026", date(2026, 1, 2), 2026)
    assert [(a.nama, a.nip, a.exact) for a in sk.appointees] == [("Budi Santoso", BUDI.nip, True)]


@pytest.mark.parametrize(("fragment", "expected"), [
    ("Ditetapkan di Sleman\npada tanggal 5 Januan 2026", date(2026, 1, 5)),
    ("Ditetapkan di Sleman pada tanggal l7 Agustu5 2026", date(2026, 8, 17)),
    ("Ditetapkan di Sleman\nPada tanggaI 2 Maret 2O26", date(2026, 3, 2)),
    ("Ditetapkan di Sleman\npada tanggal 30 November:2026", date(2026, 11, 30)),
    ("Ditetapkan di Sleman\npada tanggal 05-01-2026", date(2026, 1, 5)),
    ("Ditetapkan di Sleman\npada tanggal 31 Februari 2026", None),  # no such day
    ("Ditetapkan di Sleman", None),
])
def test_ocr_damaged_dates(fragment: str, expected: date | None) -> None:
    assert read_sk(fragment, ocr=True, today=TODAY).tanggal == expected


def test_the_signing_date_not_a_cited_one() -> None:
    text = ("Menimbang: Keputusan Nomor 1/2020 yang ditetapkan pada tanggal 3 Maret 2020;\n"
            "Ditetapkan di Bantul\npada tanggal 9 Juni 2026\nKEPALA DINAS,")
    assert read_sk(text, ocr=True, today=TODAY).tanggal == date(2026, 6, 9)


@pytest.mark.parametrize(("text", "year"), [
    ("TAHUN ANGGARAN 2O25 ... Tahun Anggaran 2025", 2025),
    ("Tahun  Anggaran : 2026", 2026),
    ("TAHUN ANGGARAN 2099", None),  # implausible
    ("tanpa tahun", None),
])
def test_fiscal_year(text: str, year: int | None) -> None:
    assert read_sk(text, ocr=True, today=TODAY).tahun_anggaran == year


@pytest.mark.parametrize(("text", "nomor"), [
    ("NOMOR: 027/301/KPTS\n...\nLAMPIRAN KEPUTUSAN NOMOR 027/301/KPTS/2026", "027/301/KPTS/2026"),
    ("N0M0R : 188.4 / 77 / KEP / 2025 TENTANG PENETAPAN", "188.4/77/KEP/2025"),
    ("NOMOR: Ba aa |\nMengingat: Peraturan Presiden Nomor 16 Tahun 2018", None),
])
def test_number(text: str, nomor: str | None) -> None:
    assert read_sk(text, ocr=True, today=TODAY).nomor == nomor


def test_format_date() -> None:
    assert format_date(date(2026, 1, 5)) == "5 Januari 2026"


# -- findings from the SK -------------------------------------------------------------------------------
def sk_doc(name: str = "sk_clean_l0", *, source: str | None = OCR, filename: str = "IMG_0932.jpg") -> DocFacts:
    return DocFacts(filename, ("sk_pengangkatan",), True, False, None, fixture(name)[0], source=source)


def letter_doc(name: str = "letter_clean_l0", *, source: str | None = OCR, low: tuple[str, ...] = (),
               text: str | None = None) -> DocFacts:
    return DocFacts("scan0001.pdf", ("surat_permohonan",), True, False, None,
                    text if text is not None else fixture(name)[0], source=source, low_confidence_words=low)


def facts(*documents: DocFacts, registry: RegistryFacts | None = BUDI, **kw: Any) -> CaseFacts:
    base = CaseFacts(sender="budi.pribadi@gmail.example", request_type="reset_password", body="Mohon reset.",
                     documents=documents, required=REQUIRED, registry=registry, registry_by_sender=False,
                     open_duplicates=(), today=TODAY)
    return dataclasses.replace(base, **kw)


def test_sk_contents_are_shown_with_their_source() -> None:
    [result] = sk_contents(facts(sk_doc()))
    assert result == Result("sk_contents", True, (
        "SK IMG_0932.jpg: Nomor 800/125/KPTS/DPUPR/2026; ditetapkan tanggal 5 Januari 2026; Tahun Anggaran 2026; "
        "menetapkan Budi Santoso, S.T. (NIP 197111091996021007); Siti Aminah, S.E. (NIP 198502142010012001); "
        "Ahmad Fauzi (NIP 197905232005011004) (hasil OCR)"))
    assert severity(result.code, result.ok) == FINE


def test_sk_contents_not_all_read_is_a_check() -> None:
    [result] = sk_contents(facts(sk_doc("sk_speckle_l2")))
    assert not result.ok and "nomor tidak terbaca" in result.message
    assert severity(result.code, result.ok) == CHECK


def test_an_sk_without_text_gives_no_contents_finding() -> None:
    image = DocFacts("IMG_1.jpg", ("sk_pengangkatan",), True, True, None, "")
    assert sk_contents(facts(image)) == [] and sk_names_the_ppk(facts(image)) == []


def test_an_sk_of_an_earlier_fiscal_year_is_a_check() -> None:
    [result] = sk_current(facts(sk_doc("sk_skew_l1", filename="SK 2025.pdf")))
    assert result == Result("sk_old", False, "SK SK 2025.pdf untuk Tahun Anggaran 2025, sebelum tahun anggaran "
                            "berjalan (2026); mohon dipastikan penetapan PPK masih berlaku (hasil OCR)")
    assert severity(result.code, result.ok) == CHECK
    assert sk_current(facts(sk_doc())) == []
    assert sk_current(facts(sk_doc(), today=date(2027, 1, 4)))[0].code == "sk_old"


def test_the_requesting_ppk_among_the_appointees() -> None:
    assert sk_names_the_ppk(facts(sk_doc())) == [Result(
        "sk_ppk", True, "PPK pemohon Budi Santoso (NIP 197111091996021007) tercantum dalam SK (hasil OCR)")]


def test_an_sk_naming_a_different_registered_ppk_is_blocking() -> None:
    """Budi asks, but the SK appoints Rudi, who is in the registry too (today: a green tick)."""
    [result] = sk_names_the_ppk(facts(letter_doc(), sk_doc("sk_phone_l2"), others=(RUDI,)))
    assert result == Result("sk_other_ppk", False, "SK menetapkan PPK terdaftar lain: Rudi Hartono "
                            "(NIP 198207172008011012), bukan PPK pemohon Budi Santoso (NIP 197111091996021007) (hasil OCR)")
    assert severity(result.code, result.ok) == BLOCKING
    # …while the letter's NIP still matches the registry: that alone was the green tick.
    assert nip_matches_registry(facts(letter_doc(), sk_doc("sk_phone_l2"), others=(RUDI,)))[0].ok


def test_an_sk_naming_the_ppk_and_another_registered_one_is_fine() -> None:
    """A decree appointing several PPKs, the requester among them."""
    [result] = sk_names_the_ppk(facts(sk_doc(), others=(SITI,)))
    assert result.code == "sk_ppk" and result.ok


def test_requester_not_read_in_a_scanned_sk_is_a_check_in_a_text_layer_blocking() -> None:
    other = RegistryFacts("Joko Widodo", "198001012005011003", "joko@x.example", "joko")
    [ocr] = sk_names_the_ppk(facts(sk_doc("sk_phone_l2"), registry=other))
    assert ocr.code == "sk_ppk_unread" and severity(ocr.code, ocr.ok) == CHECK
    [layer] = sk_names_the_ppk(facts(sk_doc("sk_phone_l2", source=TEXT_LAYER, filename="sk.pdf"), registry=other))
    assert layer == Result("sk_ppk", False, "PPK pemohon Joko Widodo (NIP 198001012005011003) tidak tercantum "
                           "dalam SK (dari lapisan teks)")
    assert severity(layer.code, layer.ok) == BLOCKING


def test_requester_by_name_only_is_a_check() -> None:
    """Budi's NIP came out of OCR as garbage, his name is there: ask the admin, never reject."""
    text = fixture("sk_clean_l0")[0].replace("19711109 199602 1 007", "1971l1O9 l99 6O2 1 OO?")
    sk = dataclasses.replace(sk_doc(), text=text)
    [result] = sk_names_the_ppk(facts(sk, others=(SITI,)))
    assert result.code == "sk_ppk_unread" and "Nama Budi Santoso tercantum dalam SK" in result.message
    assert severity(result.code, result.ok) == CHECK


def test_another_registered_ppk_beside_an_unread_row_is_a_check() -> None:
    """Dewi asks; the skewed table lost her row (name and NIP) but shows Siti, who is registered: the
    requester may be on the lost row, so the admin looks — not a wrong-PPK block."""
    dewi = RegistryFacts("Dewi Lestari", "199001152015032002", "dewi@x.example", "dewi")
    assert read_sk(fixture("sk_skew_l1")[0], ocr=True, today=TODAY).unread == 1
    [result] = sk_names_the_ppk(facts(sk_doc("sk_skew_l1"), registry=dewi, others=(SITI,)))
    assert result.code == "sk_ppk_unread" and "Siti Aminah (NIP 198502142010012001)" in result.message
    assert severity(result.code, result.ok) == CHECK
    [contents] = sk_contents(facts(sk_doc("sk_skew_l1"), registry=dewi))
    assert not contents.ok and "1 baris lain berisi angka mirip NIP tidak terbaca" in contents.message


@pytest.mark.parametrize("name", SK_NAMES)
def test_unread_rows_are_counted_only_where_ocr_lost_a_nip(name: str) -> None:
    assert read_sk(fixture(name)[0], ocr=True, today=TODAY).unread == (1 if name in UNREAD_APPOINTEES else 0)


# -- NIP findings from OCR -----------------------------------------------------------------------------
def test_a_nip_read_exactly_by_ocr_is_valid_and_says_so() -> None:
    results = nip_valid(facts(letter_doc()))
    assert results == [Result("nip_valid", True, "NIP 197111091996021007 valid secara struktur (hasil OCR)")]


def test_a_nip_read_only_after_mapping_is_uncertain_never_invalid() -> None:
    [result] = nip_valid(facts(letter_doc(text="Dengan hormat, NIP 19711lO9 199602 1 0O7")))
    assert result.code == "nip_uncertain" and not result.ok
    assert "sebagian angka terbaca sebagai huruf yang mirip" in result.message
    assert severity(result.code, result.ok) == CHECK


def test_a_nip_in_a_low_confidence_word_is_uncertain() -> None:
    [result] = nip_valid(facts(letter_doc(low=("199602.1", "Dengan"))))
    assert result.code == "nip_uncertain" and "tingkat keyakinan OCR rendah" in result.message
    assert nip_valid(facts(letter_doc(low=("l9711109",))))[0].code == "nip_uncertain"
    # words of two digits or fewer, or digits that are no group of the NIP, say nothing about it
    assert nip_valid(facts(letter_doc(low=("1", "02", "1996", "2026"))))[0].code == "nip_valid"


def test_letter_and_sk_that_disagree_by_a_digit_are_both_uncertain() -> None:
    """OCR read the letter's 1007 as 1001: both readings are valid NIPs, neither is believed."""
    letter = letter_doc(text="Dengan hormat, permohonan reset password\nNIP. 19711109 199602 1 001")
    results = {r.message.split()[1]: r for r in nip_valid(facts(letter, sk_doc("sk_phone_l2", source=OCR),
                                                                 sk_doc(source=OCR)))}
    assert results["197111091996021001"].code == "nip_uncertain"
    assert "berbeda sedikit dengan NIP 197111091996021007" in results["197111091996021001"].message
    assert results["197111091996021007"].code == "nip_uncertain"
    assert results["198207172008011012"].code == "nip_valid"


def test_a_scan_with_no_nip_read_asks_the_admin() -> None:
    [result] = nip_valid(facts(letter_doc(text="Dengan hormat, permohonan reset password")))
    assert result.code == "nip_unread" and severity(result.code, result.ok) == CHECK
    [registry] = nip_matches_registry(facts(letter_doc(text="Dengan hormat, NIP 19711109 199602 1 001")))
    assert registry.code == "nip_registry_unread" and "terbaca mirip: 197111091996021001" in registry.message
    assert severity(registry.code, registry.ok) == CHECK


def test_text_layer_findings_stay_blocking() -> None:
    layer = letter_doc(source=TEXT_LAYER, text="Dengan hormat, NIP 19711309 199602 1 007")
    [invalid] = nip_valid(facts(layer))
    assert invalid.code == "nip_valid" and not invalid.ok and invalid.message.endswith("(dari lapisan teks)")
    assert severity(invalid.code, invalid.ok) == BLOCKING
    [missing] = nip_matches_registry(facts(layer))
    assert missing.code == "nip_registry" and severity(missing.code, missing.ok) == BLOCKING


def test_presence_and_name_say_where_the_text_came_from() -> None:
    f = facts(letter_doc(), sk_doc(source=TEXT_LAYER))
    assert [r.message for r in documents_present(f)] == [
        "Surat permohonan: ada (hasil OCR)", "SK Pengangkatan sebagai PPK: ada (dari lapisan teks)"]
    # The OCR'd letter has "Budi Santoso, S.T." — found there first.
    assert name_matches_registry(f) == [
        Result("name_registry", True, "Nama Budi Santoso ditemukan dalam email/dokumen (hasil OCR)")]
    damaged = letter_doc(text="Hormat saya,\nBudi Sant0s0")
    assert name_matches_registry(facts(damaged))[0].ok
    assert not name_matches_registry(facts(dataclasses.replace(damaged, source=TEXT_LAYER)))[0].ok


def test_source_note() -> None:
    assert (source_note(OCR), source_note(TEXT_LAYER), source_note(None)) == (" (hasil OCR)", " (dari lapisan teks)", "")


# -- severities ------------------------------------------------------------------------------------------
BLOCKING_CODES = ("document:surat_permohonan", "document:sk_pengangkatan", "readable", "nip_found", "nip_valid",
                  "registry", "sender_registry", "nip_registry", "sk_ppk", "sk_other_ppk")


@pytest.mark.parametrize("code", BLOCKING_CODES)
def test_blocking_codes(code: str) -> None:
    assert severity(code, False) == BLOCKING and severity(code, True) == FINE


@pytest.mark.parametrize("code", sorted(CHECK_CODES))
def test_check_codes(code: str) -> None:
    assert severity(code, False) == CHECK and severity(code, True) == FINE


def test_every_code_a_rule_emits_has_its_intended_severity() -> None:
    """A case that triggers the new rules: every code is one of the two lists above."""
    f = facts(letter_doc(text="Dengan hormat, NIP 19711lO9 199602 1 0O7"), sk_doc("sk_skew_l1"),
              DocFacts("IMG_2.jpg", (), True, True, None, ""), others=(SITI,), open_duplicates=("X-1",),
              request_type="unknown")
    codes = {r.code for r in evaluate(f) if not r.ok}
    assert codes <= set(BLOCKING_CODES) | CHECK_CODES
    assert {"nip_uncertain", "sk_old", "sk_contents", "sk_ppk_unread", "manual_check", "duplicate"} <= codes
    assert len(RULES) == 11


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_read_sk_never_raises(text: str) -> None:
    sk = read_sk(text, ocr=True, today=TODAY)
    assert all(len(a.nip) == 18 for a in sk.appointees)


def test_a_signer_without_nip_does_not_take_the_first_appointee_of_the_lampiran() -> None:
    """A Bupati signs without a NIP and the lampiran's table follows at once: its first row is an appointee."""
    text = ("MEMUTUSKAN:\nKESATU : Menetapkan PPK sebagaimana tercantum dalam Lampiran.\n"
            "Ditetapkan di Sleman\npada tanggal 2 Januari 2026\nBUPATI SLEMAN,\n\nttd\n\nKUSTINI SRI PURNOMO\n"
            "LAMPIRAN KEPUTUSAN BUPATI SLEMAN NOMOR 900/1/2026\nNo Nama NIP\n"
            "1 Budi Santoso, S.T. 19711109 199602 1 007\n2 Siti Aminah, S.E. 19850214 201001 2 001\n")
    sk = read_sk(text, ocr=True, today=TODAY)
    assert [a.nip for a in sk.appointees] == [BUDI.nip, SITI.nip]
    assert sk.nomor == "900/1/2026"  # only the lampiran repeats the number


def test_a_signature_block_with_rank_and_an_on_behalf_title() -> None:
    text = ("KESATU : Menetapkan Saudara:\nNama : Budi Santoso\nNIP : 19711109 199602 1 007\n"
            "Ditetapkan di Sleman\npada tanggal 2 Januari 2026\na.n. BUPATI SLEMAN\nSEKRETARIS DAERAH,\n\n"
            "Drs. HARDA KISWAYA, M.Si\nPembina Utama Madya\nNIP. 19650101 199003 1 010\n")
    assert [(a.nama, a.nip) for a in read_sk(text, ocr=False, today=TODAY).appointees] == [("Budi Santoso", BUDI.nip)]
