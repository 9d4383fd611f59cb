"""Small generated PDFs (text layer or image only) for the demo and the benchmarks."""

from __future__ import annotations

import struct
import textwrap
import zlib

# A4 in PDF points; text starts at the top-left margin.
_PAGE_WIDTH = 595
_PAGE_HEIGHT = 842
_MARGIN_LEFT = 56
_TOP = 786
_LEADING = 15
_FONT_SIZE = 11
_LINES_PER_PAGE = 48
_WRAP_COLUMNS = 90


def _pdf_string(text: str) -> bytes:
    """Return `text` as a PDF literal string in WinAnsi/latin-1, escaping what PDF syntax needs."""
    raw = text.encode("latin-1", errors="replace")
    out = bytearray(b"(")
    for byte in raw:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte > 0x7E:
            # Octal escapes keep the content stream pure ASCII whatever the input.
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b")"
    return bytes(out)


def _wrap(lines: list[str]) -> list[str]:
    """Split long lines so they stay on the page; blank lines are kept."""
    wrapped: list[str] = []
    for line in lines:
        pieces = textwrap.wrap(line, _WRAP_COLUMNS) if line.strip() else [""]
        wrapped.extend(pieces)
    return wrapped


def _page_content(lines: list[str], heading: str) -> bytes:
    """Build one page's content stream: an optional bold heading, then the lines."""
    ops = [b"BT", b"%d TL" % _LEADING, b"%d %d Td" % (_MARGIN_LEFT, _TOP)]
    if heading:
        ops += [b"/F2 %d Tf" % (_FONT_SIZE + 2), _pdf_string(heading) + b" Tj", b"T* T*"]
    ops.append(b"/F1 %d Tf" % _FONT_SIZE)
    for line in lines:
        ops.append(_pdf_string(line) + b" Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops) + b"\n"


def _stream(dictionary: bytes, data: bytes) -> bytes:
    """Return a stream object body with its /Length."""
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def assemble(objects: list[bytes], info: bytes | None = None) -> bytes:
    """Serialise numbered objects (1-based, object 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"/Size %d /Root 1 0 R" % (len(objects) + 1)
    if info is not None:
        trailer += b" /Info " + info
    out += b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _info(title: str) -> bytes:
    """Return the document information dictionary, with /Title only when there is one."""
    entries = b"/Producer (mailbot samplepdf)"
    if title:
        entries += b" /Title " + _pdf_string(title)
    return b"<< " + entries + b" >>"


def make_pdf(lines: list[str], *, title: str = "") -> bytes:
    """Return a PDF whose text layer holds `title` (as a heading) and `lines`, paginated as needed."""
    body = _wrap(lines) or [""]
    chunks = [body[i : i + _LINES_PER_PAGE] for i in range(0, len(body), _LINES_PER_PAGE)]
    # Objects: 1 catalog, 2 pages, 3 Helvetica, 4 Helvetica-Bold, 5 info, then (page, content) pairs.
    first_page = 6
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(chunks)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(chunks),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        _info(title),
    ]
    for index, chunk in enumerate(chunks):
        content_ref = first_page + 2 * index + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d]" % (_PAGE_WIDTH, _PAGE_HEIGHT)
            + b" /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % content_ref
        )
        heading = title if index == 0 else ""
        objects.append(_stream(b"", _page_content(chunk, heading)))
    return assemble(objects, info=b"5 0 R")


def make_image_only_pdf() -> bytes:
    """Return a one-page PDF that shows a small grey image and has no text layer, like a scan."""
    side = 16
    # A diagonal gradient so the image is not a flat block.
    pixels = bytes((x * 8 + y * 7) % 256 for y in range(side) for x in range(side))
    image = zlib.compress(pixels)
    content = b"q 400 0 0 560 97 141 cm /Im1 Do Q\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d]" % (_PAGE_WIDTH, _PAGE_HEIGHT)
        + b" /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
        _stream(
            b"/Type /XObject /Subtype /Image /Width %d /Height %d" % (side, side)
            + b" /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
            image,
        ),
        _stream(b"", content),
    ]
    return assemble(objects)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """Return one PNG chunk: length, type, data, CRC over type and data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_png(width: int = 8, height: int = 8) -> bytes:
    """Return a valid 8-bit greyscale PNG of the given size."""
    if width < 1 or height < 1:
        raise ValueError("PNG width and height must be at least 1")
    # Each scanline starts with filter type 0 (None).
    rows = b"".join(b"\x00" + bytes((x * 31 + y * 17) % 256 for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def make_jpeg() -> bytes:
    """Return a valid 8x8 mid-grey baseline JPEG.

    Every DCT coefficient is zero, so one-symbol Huffman tables suffice: the DC
    table codes "difference 0" as bit 0 and the AC table codes end-of-block as
    bit 0; the single block is the bits 00, padded with ones to 0x3F.
    """
    soi = b"\xff\xd8"
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00"
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"  # one code of length 1, for symbol 0x00
    dht = b"\xff\xc4" + struct.pack(">H", 2 + 2 * (1 + len(one_code))) + b"\x00" + one_code + b"\x10" + one_code
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00" + b"\x00\x3f\x00"
    return soi + app0 + dqt + sof0 + dht + sos + b"\x3f" + b"\xff\xd9"


def sample_request_letter(
    name: str, nip: str, request: str = "reset password", satker: str = "Dinas PUPR"
) -> bytes:
    """Return a PDF request letter (surat permohonan) from PPK `name` asking for `request`."""
    lines = [
        f"PEMERINTAH KABUPATEN CONTOH - {satker.upper()}",
        "",
        "Nomor    : 027/123/2026",
        "Lampiran : 1 (satu) berkas",
        f"Perihal  : Permohonan {request} akun SPSE",
        "",
        "Yth. Admin Agency LPSE",
        "di Tempat",
        "",
        "Dengan hormat,",
        f"Yang bertanda tangan di bawah ini, saya {name}, NIP. {_spaced_nip(nip)},",
        f"Pejabat Pembuat Komitmen pada {satker}, dengan ini mengajukan permohonan",
        f"{request} akun SPSE saya. Bersama ini kami lampirkan SK pengangkatan sebagai PPK.",
        "Demikian permohonan ini kami sampaikan, atas perhatiannya diucapkan terima kasih.",
        "",
        "Hormat kami,",
        "",
        "",
        name,
        f"NIP. {_spaced_nip(nip)}",
    ]
    return make_pdf(lines, title="SURAT PERMOHONAN")


def sample_sk(name: str, nip: str) -> bytes:
    """Return a PDF decree (SK) appointing `name` as Pejabat Pembuat Komitmen."""
    lines = [
        "KEPUTUSAN BUPATI CONTOH",
        "NOMOR 900/45/KPTS/2026",
        "TENTANG",
        "PENETAPAN PEJABAT PEMBUAT KOMITMEN (PPK) DI LINGKUNGAN DINAS PUPR",
        "TAHUN ANGGARAN 2026",
        "",
        "BUPATI CONTOH,",
        "Menimbang : bahwa untuk kelancaran pelaksanaan pengadaan barang/jasa perlu",
        "            menetapkan Pejabat Pembuat Komitmen;",
        "Mengingat : Peraturan Presiden Nomor 16 Tahun 2018 (sebagaimana telah diubah);",
        "",
        "MEMUTUSKAN:",
        "Menetapkan : KEPUTUSAN BUPATI TENTANG PENETAPAN PEJABAT PEMBUAT KOMITMEN.",
        "KESATU : Menetapkan Saudara:",
        f"          Nama : {name}",
        f"          NIP. {_spaced_nip(nip)}",
        "          sebagai Pejabat Pembuat Komitmen (PPK).",
        "KEDUA  : Keputusan ini mulai berlaku pada tanggal ditetapkan.",
        "",
        "Ditetapkan di Contoh",
        "pada tanggal 2 Januari 2026",
        "BUPATI CONTOH,",
    ]
    return make_pdf(lines)


def _spaced_nip(nip: str) -> str:
    """Print an 18-digit NIP the way letters do (8 6 1 3); other strings are left alone."""
    if len(nip) == 18 and nip.isdigit():
        return f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"
    return nip
