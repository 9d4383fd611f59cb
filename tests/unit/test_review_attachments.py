"""The review mail's attachment rule: the types it attaches are exactly the accepted document types."""

from __future__ import annotations

from mailbot.cases.documents import ACCEPTED_TYPES
from mailbot.cases.review import MIME_OF_ACCEPTED, _safe_name


def test_attached_types_are_the_accepted_types() -> None:
    assert set(MIME_OF_ACCEPTED) == set(ACCEPTED_TYPES)


def test_attached_name_ends_in_the_sniffed_type() -> None:
    assert _safe_name("SK PPK.pdf", "pdf") == "SK PPK.pdf"
    assert _safe_name("setup.exe", "pdf") == "setup.exe.pdf"
    assert _safe_name("foto.JPG", "jpeg") == "foto.JPG"
    assert _safe_name("", "png") == "dokumen.png"
