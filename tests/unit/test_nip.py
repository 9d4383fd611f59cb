"""NIPs are found in letter text in their printed forms and validated structurally."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.domain.nip import check_nip, find_nips

TODAY = date(2026, 3, 2)
VALID = "197103112006041003"


def test_a_well_formed_nip_is_valid() -> None:
    result = check_nip(VALID, TODAY)
    assert result.valid
    assert result.problems == []
    assert result.nip == VALID


def test_the_printed_form_is_accepted_by_check_nip() -> None:
    assert check_nip("19710311 200604 1 003", TODAY).nip == VALID
    assert check_nip("19710311 200604 1 003", TODAY).valid


@pytest.mark.parametrize("nip", ["19710311200604100", "1971031120060410033", "19710311200604100X", ""])
def test_wrong_length_or_letters_are_invalid(nip: str) -> None:
    result = check_nip(nip, TODAY)
    assert not result.valid
    assert "18 digit" in result.problems[0]


@pytest.mark.parametrize(
    ("nip", "fragment"),
    [
        ("197102302006041003", "Tanggal lahir pada NIP (19710230) bukan tanggal yang sah"),
        ("197113112006041003", "bukan tanggal yang sah"),
        ("193505052006041003", "tidak wajar"),
        ("202701012006041003", "masa depan"),
        ("197103112006131003", "Bulan pengangkatan pada NIP (13)"),
        ("197103112006001003", "Bulan pengangkatan pada NIP (00)"),
        ("197103112027011003", "Tanggal pengangkatan pada NIP (2027-01) berada di masa depan"),
        ("199003112006041003", "kurang dari 17 tahun"),
        ("197103112006043003", "jenis kelamin"),
        ("197103112006040003", "jenis kelamin"),
        ("197103112006041000", "tidak boleh 000"),
    ],
)
def test_structural_problems_are_reported_in_indonesian(nip: str, fragment: str) -> None:
    result = check_nip(nip, TODAY)
    assert not result.valid
    assert any(fragment in problem for problem in result.problems), result.problems


def test_appointment_exactly_at_seventeen_is_accepted() -> None:
    assert check_nip("199003112007031001", TODAY).valid
    assert not check_nip("199003112007021001", TODAY).valid


def test_appointment_this_month_is_not_in_the_future() -> None:
    assert check_nip("198001012026032001", TODAY).valid


def test_several_problems_are_all_listed() -> None:
    result = check_nip("197103112006133000", TODAY)
    assert len(result.problems) == 3


def test_female_gender_digit_is_valid() -> None:
    assert check_nip("198502142010012001", TODAY).valid


def test_find_plain_and_spaced_forms_in_order_without_duplicates() -> None:
    text = (
        "Nama: Budi\nNIP. 19710311 200604 1 003\n"
        "Atasan NIP: 198502142010012001\n"
        "Tembusan: NIP 19710311 200604 1 003 (sama)"
    )
    assert find_nips(text) == [VALID, "198502142010012001"]


def test_find_labelled_nip_with_other_grouping() -> None:
    assert find_nips("NIP: 1971 0311 2006 04 1 003, jabatan PPK") == [VALID]
    assert find_nips("nip.19710311.200604.1.003") == [VALID]


def test_nip_inside_a_longer_digit_run_is_not_matched() -> None:
    assert find_nips("Rekening 12197103112006041003 atas nama") == []
    assert find_nips("kode 1971031120060410034") == []
    assert find_nips("NIP: 1971031120060410034") == []


def test_short_numbers_are_not_nips() -> None:
    assert find_nips("NIK 3201234567890123, telepon 0812 3456 7890") == []


@given(st.text(alphabet="0123456789 .-NIP:\n", max_size=80))
def test_find_nips_returns_only_18_digit_strings(text: str) -> None:
    for nip in find_nips(text):
        assert len(nip) == 18 and nip.isdigit()


@given(st.text(max_size=40))
def test_check_nip_never_raises(text: str) -> None:
    result = check_nip(text, TODAY)
    assert result.valid == (not result.problems)
