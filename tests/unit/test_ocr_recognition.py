"""Recognition that survives OCR noise: document kinds and NIPs on recorded Tesseract output
(tests/fixtures/ocr, recorded by bench/ocr_fixtures.py from samplescan's scans and phone photos) and on
hand-written noisy variants; a NIP is accepted only when structurally valid, and none is invented."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.domain.kinds import DEFAULT_KINDS, SK_PENGANGKATAN, SURAT_PERMOHONAN, DocumentKind, text_matches
from mailbot.domain.nip import check_nip, find_nips, locate_nips, nip_readings, nips_in, read_ocr_nips
from mailbot.domain.text import ocr_normal

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ocr"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.txt"))
TODAY = date(2026, 12, 2)
NIP = "197111091996021007"  # Budi Santoso in the fixtures
# What Tesseract could not read in the recorded output (a skewed table row came out as
# "9900115201509 2 etd"): missing, never invented.
UNREAD = {"sk_skew_l1": {"199001152015032002"}}


def fixture(name: str) -> tuple[str, dict[str, Any]]:
    return (FIXTURES / f"{name}.txt").read_text(encoding="utf-8"), json.loads(
        (FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def kinds_of(text: str, kinds: tuple[DocumentKind, ...] = DEFAULT_KINDS) -> list[str]:
    return [k.name for k in kinds if text_matches(k, text)]


def test_the_recorded_set_covers_letters_sks_and_every_way_a_page_arrives() -> None:
    """Ten recorded documents: letters and SKs, clean, speckled, skewed, fax, upside down, photos, chat."""
    truths = [fixture(n)[1] for n in NAMES]
    assert len(NAMES) >= 10
    assert {t["degradation"] for t in truths} >= {"clean", "speckle", "skew", "bw", "upside_down", "phone", "chat"}
    assert {k for t in truths for k in t["kinds"]} == {"surat_permohonan", "sk_pengangkatan"}


# -- kinds --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_each_recorded_document_is_recognised_as_its_kind_and_only_that(name: str) -> None:
    """Every recorded scan is its kind; the letters, which cite "Surat Keputusan … Pejabat Pembuat
    Komitmen", are never taken for the SK."""
    text, truth = fixture(name)
    assert kinds_of(text) == truth["kinds"]


@pytest.mark.parametrize(("text", "expected"), [
    # line breaks and hyphenation at line ends, letter-spaced headings, 0 for O, l for I, ";" for ":"
    ("K E P U T U S A N  B U P A T I\nNomor : 900/45/2026\nTENTANG PENETAPAN PEJABAT PEM-\nBUAT K0MlTMEN\n"
     "M E M U T U S K A N :\nMenetapkan ;", ["sk_pengangkatan"]),
    # rn for m, punctuation specks between words
    ("KEPUTUSAN KEPALA DINAS tentang Penunjukan Pejabat . Pernbuat , Kornitrnen\nMEMUTUS KAN:\n"
     "Ditetapkan  di Sleman", ["sk_pengangkatan"]),
    # the heading split into unevenly spaced letters, words broken over lines
    ("KEPUTU SAN\nPENGANGKATAN\nPEJABAT\nPEMBUAT\nKOMITMEN\nM E M U TU S K A N", ["sk_pengangkatan"]),
    # a letter: rn for m, 5 for s, noise marks
    ("Perihal : Perrnohonan Reset Pa55word\n~ Dengan horrnat, ~", ["surat_permohonan"]),
    ("Hal: Per-\nmohonan informasi user-id SPSE", ["surat_permohonan"]),
    ("P e r m o h o n a n  K a t a  S a n d i", ["surat_permohonan"]),
    # a letter citing the decree, hyphenated and noisy, is still only a letter
    ("Dengan hormat, bersama ini kami sampaikan permohonan reset password.\nSebagai lampiran, Keputusan "
     "Bupati Nomor 900/45/2026 tentang Penetapan\nPejabat Pem-\nbuat K0mitmen.", ["surat_permohonan"]),
    # a vendor's offer is neither
    ("Penawaran harga laptop dan printer untuk dinas Bapak/Ibu. Hubungi kami.", []),
])
def test_hand_written_noisy_variants(text: str, expected: list[str]) -> None:
    assert kinds_of(text) == expected


def test_an_offices_own_patterns_still_match_the_raw_text() -> None:
    """An office pattern that relies on digits or case still matches: raw text or its normal form."""
    kind = DocumentKind("surat_kuasa", "Surat kuasa", (), (r"SURAT KUASA", r"No\. ?[0-9]+/SK/2026"))
    assert text_matches(kind, "SURAT KUASA\nNo. 12/SK/2026")
    assert text_matches(kind, "S U R A T   K U A S A\nNo. 12/SK/2026")
    assert not text_matches(DocumentKind("x", "x", (), ()), "anything")


def test_ocr_normal_is_one_canonical_form() -> None:
    assert ocr_normal("PEM-\nBUAT  K0MITMEN\n") == "pembuat komitmen"
    assert ocr_normal("M E M U T U S K A N :") == "memutuskan :"
    assert ocr_normal("Kom|tmen ~ 5K «PPK»") == "komltmen sk ppk"
    assert ocr_normal("Nomor : 900/45/2026, NIP 19711109") == "nomor : 900/45/2026, nip 19711109"
    assert ocr_normal("Ke\u00adputusan\u200b") == "keputusan"
    assert ocr_normal("") == ""


def test_the_kinds_patterns_are_tolerant_but_not_weakened() -> None:
    """The operative part of a decree is still required: a title and "Pejabat Pembuat Komitmen" are not an SK."""
    assert not text_matches(SK_PENGANGKATAN, "KEPUTUSAN KEPALA DINAS tentang PENETAPAN PEJABAT PEMBUAT KOMITMEN")
    assert not text_matches(SURAT_PERMOHONAN, "reset password")  # no "permohonan"


# -- NIPs -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_nips_read_from_recorded_ocr_are_exact_and_none_is_invented(name: str) -> None:
    """Every NIP read is one printed on the page (0 invented); all are read except what OCR lost."""
    text, truth = fixture(name)
    read = {r.nip: r for r in nip_readings([(text, True)], TODAY)}
    assert set(read) <= set(truth["nips"]), "a NIP that is not on the page"
    assert set(read) == set(truth["nips"]) - UNREAD.get(name, set())
    assert all(r.exact and r.ocr for r in read.values())


def test_nips_exact_over_the_recorded_set() -> None:
    """The share of NIPs read exactly over the recorded set: at least 95 % (the issue's target)."""
    total = found = 0
    for name in NAMES:
        text, truth = fixture(name)
        total += len(truth["nips"])
        found += len({nip for nip, exact in read_ocr_nips(text, TODAY) if exact} & set(truth["nips"]))
    assert found / total >= 0.95, (found, total)


@pytest.mark.parametrize(("text", "nip", "exact"), [
    ("NIP. 19711109 199602.1 007", NIP, True),  # the example: a speck read as "."
    ("19711109.199602 1 007", NIP, True),
    ("NIP : 19711109 ,199602 ;1 _007", NIP, True),
    ("NIP19711109 199602 1 007", NIP, True),
    ("NIP 19711lO9 199602 1 0O7", NIP, False),  # l, O, O for 1, 0, 0
    ("NIP. I9711109 l99602 1 OO7", NIP, False),  # exactly 14 real digits
    ("NIP 1971 1109 1996 02 1 007", NIP, True),  # another grouping after the label
    ("l9711109 l99602 1 OO7", NIP, False),
    ("NIP 19711109 1996O2 l 0O7", NIP, False),
    ("19711109 199602 1 0O7", NIP, False),
])
def test_ocr_nip_reading(text: str, nip: str, exact: bool) -> None:
    assert read_ocr_nips(text, TODAY) == [(nip, exact)]


@pytest.mark.parametrize("text", [
    "NIP l97lIlO9 l99602 l OO7",  # too few real digits: no guessing
    "NIP 19711309 199602 1 007",  # month 13 in the birth date
    "NIP 19711109 199613 1 007",  # appointment month 13
    "NIP 19711109 198002 1 007",  # appointed at 8
    "NIP 19711109 199602 3 007",  # gender digit 3
    "NIP 19711109 199602 1 000",  # serial 000
    "NIP 20260105 202601 1 001",  # a date-like number, not a person
    "NIK 3201234567890123, telepon 0812 3456 7890",
    "Rekening 12197111091996021007 atas nama",
    "kode 1971110919960210070",
    "No. 19711109 199602 1 0077",
    "NIP 19711109  199602  1    007",  # four spaces: not one number
])
def test_false_nips_are_rejected_in_ocr_output(text: str) -> None:
    assert read_ocr_nips(text, TODAY) == []


def test_look_alikes_are_mapped_only_in_ocr_output() -> None:
    """A text layer holds what the PPK typed: "19711lO9 …" there is no NIP; an invalid typed NIP is kept
    (the admin is told it is invalid), while OCR output keeps only valid ones."""
    assert find_nips("NIP 19711lO9 199602 1 0O7") == []
    assert nips_in(["NIP 19711309 199602 1 007"]) == ["197113091996021007"]
    assert nips_in([], ocr_texts=["NIP 19711309 199602 1 007"], today=TODAY) == []
    assert nips_in(["NIP 19711109 199602 1 007"], ocr_texts=["NIP 19711lO9 199602 1 0O7"], today=TODAY) == [NIP]


def test_readings_say_where_they_came_from_and_exact_wins() -> None:
    """A NIP read exactly anywhere is exact; `index` is the text of its best reading."""
    readings = nip_readings([("tanpa NIP", False), ("NIP 19711lO9 199602 1 0O7", True),
                             ("NIP. 19711109 199602 1 007", True), ("NIP 198502142010012001", False)], TODAY)
    assert [(r.nip, r.exact, r.ocr) for r in readings] == [(NIP, True, True), ("198502142010012001", True, False)]
    assert readings[0].index == 2


def test_locate_nips_gives_positions_in_order_with_repeats() -> None:
    text = "NIP 19711109 199602 1 007 dan lagi 19711109 199602 1 OO7"
    assert [(nip, exact) for _, nip, exact in locate_nips(text, ocr=True, today=TODAY)] == [(NIP, True), (NIP, False)]
    assert [p for p, _, _ in locate_nips(text, ocr=True, today=TODAY)] == [4, text.index("19711109 199602 1 OO7")]


@given(st.text(alphabet="0123456789 .,'`:;_-OoDQIl|iSsBZNIP\n", max_size=120))
def test_ocr_reading_only_ever_returns_valid_nips(text: str) -> None:
    for nip, _ in read_ocr_nips(text, TODAY):
        assert len(nip) == 18 and nip.isdigit() and check_nip(nip, TODAY).valid


@given(st.text(max_size=200))
def test_normalising_and_matching_never_raise(text: str) -> None:
    normal = ocr_normal(text)
    assert "  " not in normal and normal == normal.strip()
    kinds_of(text)
