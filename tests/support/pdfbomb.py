"""A small PDF that is costly to read: one page whose Flate stream inflates to megabytes of text operators."""

from __future__ import annotations

import zlib

from mailbot.demo.samplepdf import assemble


def pdf_bomb(megabytes: float = 2.0) -> bytes:
    """A one-page PDF of a few KB whose content stream is `megabytes` of `(x) Tj` (pypdf: ≈ 7 s for 2 MB)."""
    ops = b"BT /F1 1 Tf " + b"(x) Tj " * int(megabytes * 1024 * 1024 / 7) + b"ET"
    data = zlib.compress(ops, 9)
    return assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >>"
        b" /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(data) + data + b"\nendstream",
    ])
