"""Builders of the documents PPKs attach: letters, SKs, scans, images (the demo's own writers)."""

from __future__ import annotations

import os

from mailbot.demo.samplepdf import (
    make_image_only_pdf,
    make_jpeg,
    make_pdf,
    make_png,
    sample_request_letter,
    sample_sk,
)

__all__ = ["make_image_only_pdf", "make_jpeg", "make_pdf", "make_png", "sample_request_letter", "sample_sk",
           "scan_pdf"]


def scan_pdf(size: int, name: str = "Budi Santoso", nip: str = "198003152006041002") -> bytes:
    """A PDF that stands for a scan: a text layer plus `size` bytes of incompressible image data."""
    return sample_sk(name, nip) + b"\n%" + os.urandom(size)
