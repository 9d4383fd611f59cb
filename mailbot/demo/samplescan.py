"""Generated scans and phone photos of request letters and SK decrees (Pillow only).

Used by the demo, the OCR tests and `bench/ocr.py`. Everything is deterministic by `seed`: the same
arguments give the same pixels. Pages are A4, grayscale ("L"), at `dpi` (300 unless told); the text is
formal Indonesian as PPKs really send it (letterhead, "Perihal: Permohonan Reset Password ...",
"Dengan hormat,", the NIP spaced "19711109 199602 1 007", a signature block and a stamp).
"""

from __future__ import annotations

import io
import math
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

A4_MM = (210.0, 297.0)
FONT_DIR = Path("/usr/share/fonts/truetype")

# (regular, bold) file names under FONT_DIR; the layout picks one, a missing file falls back to
# the next family and at last to PIL's built-in font.
FONT_FAMILIES: tuple[tuple[str, str], ...] = (
    ("liberation/LiberationSerif-Regular.ttf", "liberation/LiberationSerif-Bold.ttf"),
    ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"),
    ("dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf"),
    ("liberation/LiberationSans-Regular.ttf", "liberation/LiberationSans-Bold.ttf"),
)
LAYOUTS = 3  # distinct page arrangements; `layout` also picks the font family (layout % 4)

DEGRADATIONS: tuple[str, ...] = (
    "clean", "skew", "speckle", "jpeg60", "bw", "upside_down", "phone", "chat",
)

REQUEST_SUBJECTS = {
    "reset_password": "Permohonan Reset Password Akun SPSE",
    "user_id": "Permohonan Informasi User ID Akun SPSE",
}

_KOTA = ("Sleman", "Bantul", "Kulon Progo", "Gunungkidul", "Magelang", "Klaten")
_BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)


def spaced_nip(nip: str) -> str:
    """'197111091996021007' (or already spaced) → '19711109 199602 1 007'."""
    digits = "".join(ch for ch in nip if ch.isdigit())
    if len(digits) != 18:
        return nip
    return f"{digits[:8]} {digits[8:14]} {digits[14]} {digits[15:]}"


# --- fonts and text ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fonts:
    regular: ImageFont.FreeTypeFont | ImageFont.ImageFont
    bold: ImageFont.FreeTypeFont | ImageFont.ImageFont
    heading: ImageFont.FreeTypeFont | ImageFont.ImageFont
    small: ImageFont.FreeTypeFont | ImageFont.ImageFont
    size: int


def _load(name: str, size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(str(FONT_DIR / name), size)
    except OSError:
        return None


def _fonts(layout: int, dpi: int, points: float = 11.5) -> _Fonts:
    size = max(8, round(points * dpi / 72))
    for offset in range(len(FONT_FAMILIES)):
        regular_name, bold_name = FONT_FAMILIES[(layout + offset) % len(FONT_FAMILIES)]
        regular = _load(regular_name, size)
        bold = _load(bold_name, size)
        if regular is not None and bold is not None:
            heading = _load(bold_name, round(size * 1.3)) or bold
            small = _load(regular_name, round(size * 0.8)) or regular
            return _Fonts(regular, bold, heading, small, size)
    default = ImageFont.load_default()
    try:  # Pillow ≥ 10.1 scales its built-in font
        default = ImageFont.load_default(size)
    except TypeError:
        pass
    return _Fonts(default, default, default, default, size)


def font_family(layout: int) -> str:
    """The font family a layout uses (for the benchmark's ground truth)."""
    return Path(FONT_FAMILIES[layout % len(FONT_FAMILIES)][0]).stem.split("-")[0]


class _Page:
    """A white A4 page with a text cursor."""

    def __init__(self, dpi: int, fonts: _Fonts, rng: random.Random, margin_mm: float = 25.0) -> None:
        self.dpi = dpi
        self.width = round(A4_MM[0] / 25.4 * dpi)
        self.height = round(A4_MM[1] / 25.4 * dpi)
        self.image = Image.new("L", (self.width, self.height), 255)
        self.image.info["dpi"] = (dpi, dpi)
        self.draw = ImageDraw.Draw(self.image)
        self.fonts = fonts
        self.rng = rng
        self.left = self.mm(margin_mm) + rng.randint(-self.mm(2), self.mm(2))
        self.right = self.width - self.mm(20)
        self.y = self.mm(18) + rng.randint(0, self.mm(4))
        self.leading = round(fonts.size * 1.45)

    def mm(self, value: float) -> int:
        return round(value / 25.4 * self.dpi)

    def ink(self) -> int:
        return self.rng.randint(0, 40)

    def text(self, x: int, text: str, font: object | None = None, y: int | None = None) -> None:
        f = font or self.fonts.regular
        self.draw.text((x, self.y if y is None else y), text, fill=self.ink(), font=f)  # type: ignore[arg-type]

    def width_of(self, text: str, font: object | None = None) -> int:
        f = font or self.fonts.regular
        return round(self.draw.textlength(text, font=f))  # type: ignore[arg-type]

    def line(self, text: str = "", *, font: object | None = None, x: int | None = None,
             center: bool = False, indent: int = 0) -> None:
        if text:
            if center:
                x = (self.left + self.right - self.width_of(text, font)) // 2
            self.text((self.left if x is None else x) + indent, text, font)
        self.y += self.leading

    def paragraph(self, text: str, *, indent: int = 0, first_indent: int = 0) -> None:
        words = text.split()
        x0 = self.left + indent
        width = self.right - x0
        current = ""
        first = True
        for word in words:
            trial = f"{current} {word}".strip()
            limit = width - (first_indent if first else 0)
            if current and self.width_of(trial) > limit:
                self.text(x0 + (first_indent if first else 0), current)
                self.y += self.leading
                current = word
                first = False
            else:
                current = trial
        if current:
            self.text(x0 + (first_indent if first else 0), current)
            self.y += self.leading

    def field(self, label: str, value: str, *, tab: int, indent: int = 0, font: object | None = None) -> None:
        self.text(self.left + indent, label)
        self.text(self.left + indent + tab, ":")
        self.text(self.left + indent + tab + self.mm(4), value, font)
        self.y += self.leading

    def rule(self, thick: int = 2) -> None:
        for i in range(thick):
            self.draw.line((self.left, self.y + i * 3, self.right, self.y + i * 3), fill=self.ink(),
                           width=max(1, self.dpi // 100 * (2 if i == 0 else 1)))
        self.y += self.leading // 2 + thick * 3

    def signature(self, x: int, width: int) -> None:
        """A pen scribble between the closing line and the printed name."""
        points = []
        y0 = self.y + self.leading
        for i in range(28):
            px = x + width * i // 27
            py = y0 + round(math.sin(i * 1.3 + self.rng.random()) * self.leading * 0.8)
            points.append((px, py))
        self.draw.line(points, fill=self.rng.randint(40, 90), width=max(2, self.dpi // 80), joint="curve")

    def stamp(self, cx: int, cy: int, label: str) -> None:
        """A round office stamp, drawn lightly (gray) so it overlaps the signature like a real one."""
        r = self.mm(16)
        gray = self.rng.randint(120, 170)
        for k in (0, self.mm(3)):
            self.draw.ellipse((cx - r + k, cy - r + k, cx + r - k, cy + r - k), outline=gray,
                              width=max(2, self.dpi // 100))
        text = label[:22]
        w = self.width_of(text, self.fonts.small)
        self.draw.text((cx - w // 2, cy - self.fonts.size // 2), text, fill=gray, font=self.fonts.small)  # type: ignore[arg-type]


def _date(rng: random.Random, year: int) -> str:
    return f"{rng.randint(1, 28)} {_BULAN[rng.randint(0, 11)]} {year}"


def _letterhead(page: _Page, instansi: str, kota: str, layout: int) -> None:
    fonts = page.fonts
    arrangement = layout % LAYOUTS
    if arrangement == 1:
        # Logo box on the left, text left-aligned beside it.
        box = page.mm(22)
        page.draw.rectangle((page.left, page.y, page.left + box, page.y + box), outline=page.ink(),
                            width=max(2, page.dpi // 100))
        page.draw.ellipse((page.left + box // 4, page.y + box // 4, page.left + 3 * box // 4,
                           page.y + 3 * box // 4), outline=page.ink(), width=max(2, page.dpi // 100))
        x = page.left + box + page.mm(6)
        page.line(f"PEMERINTAH KABUPATEN {kota.upper()}", font=fonts.bold, x=x)
        page.line(instansi.upper(), font=fonts.heading, x=x)
        page.line(f"Jalan Merdeka No. {page.rng.randint(1, 120)}, {kota}", font=fonts.small, x=x)
    else:
        page.line(f"PEMERINTAH KABUPATEN {kota.upper()}", font=fonts.bold, center=True)
        page.line(instansi.upper(), font=fonts.heading, center=True)
        page.line(
            f"Jalan Magelang Km {page.rng.randint(2, 15)}, {kota}  Telepon (0274) {page.rng.randint(800000, 899999)}",
            font=fonts.small, center=True,
        )
    page.rule(2 if arrangement != 2 else 1)
    page.y += page.leading // 2


def letter_image(
    nama: str,
    nip: str,
    *,
    instansi: str = "Dinas Pekerjaan Umum dan Perumahan Rakyat",
    request: str = "reset_password",
    layout: int = 0,
    seed: int = 0,
    dpi: int = 300,
    kota: str | None = None,
    year: int = 2026,
) -> Image.Image:
    """A one-page request letter from a PPK, as a clean grayscale A4 page at `dpi`."""
    rng = random.Random(f"letter:{seed}:{layout}:{nama}")
    fonts = _fonts(layout, dpi)
    page = _Page(dpi, fonts, rng)
    kota = kota or _KOTA[rng.randrange(len(_KOTA))]
    arrangement = layout % LAYOUTS
    subject = REQUEST_SUBJECTS.get(request, REQUEST_SUBJECTS["reset_password"])
    _letterhead(page, instansi, kota, layout)

    tanggal = _date(rng, year)
    nomor = f"027/{rng.randint(100, 999)}/{rng.choice(['PPK', 'SEKR', 'UM'])}/{year}"
    tab = page.mm(26)
    if arrangement == 2:
        page.line(f"{kota}, {tanggal}", x=page.right - page.width_of(f"{kota}, {tanggal}"))
    page.field("Nomor", nomor, tab=tab)
    page.field("Lampiran", "1 (satu) berkas", tab=tab)
    page.field("Perihal", subject, tab=tab, font=fonts.bold)
    page.line()
    page.line("Yth. Kepala LPSE")
    page.line(f"Kabupaten {kota}")
    page.line("di Tempat")
    page.line()
    page.line("Dengan hormat,")
    page.paragraph("Yang bertanda tangan di bawah ini:", first_indent=page.mm(10) if arrangement == 0 else 0)
    tab2 = page.mm(32)
    page.field("Nama", nama, tab=tab2, indent=page.mm(10))
    page.field("NIP", spaced_nip(nip), tab=tab2, indent=page.mm(10))
    page.field("Jabatan", "Pejabat Pembuat Komitmen", tab=tab2, indent=page.mm(10))
    page.field("Unit Kerja", instansi, tab=tab2, indent=page.mm(10))
    page.line()
    if request == "user_id":
        what = "informasi User ID akun SPSE saya karena saya lupa nama pengguna"
    else:
        what = "reset password akun SPSE saya karena saya lupa kata sandi dan akun tidak dapat digunakan"
    page.paragraph(
        f"Dengan ini mengajukan permohonan {what}. Sebagai bahan pertimbangan, bersama ini kami "
        "lampirkan Surat Keputusan penetapan sebagai Pejabat Pembuat Komitmen.",
        first_indent=page.mm(10) if arrangement == 0 else 0,
    )
    page.paragraph(
        "Demikian surat permohonan ini kami sampaikan. Atas perhatian dan kerja sama Bapak/Ibu kami "
        "ucapkan terima kasih.",
        first_indent=page.mm(10) if arrangement == 0 else 0,
    )
    page.line()
    x_sig = page.left + (page.right - page.left) * (55 if arrangement != 1 else 50) // 100
    if arrangement != 2:
        page.line(f"{kota}, {tanggal}", x=x_sig)
    page.line("Pemohon,", x=x_sig)
    page.signature(x_sig, page.mm(45))
    page.stamp(x_sig - page.mm(8), page.y + page.leading, f"PPK {kota.upper()}")
    page.y += page.leading * 3
    page.line(nama, font=fonts.bold, x=x_sig)
    page.line(f"NIP. {spaced_nip(nip)}", x=x_sig)
    return page.image


def sk_image(
    appointees: list[tuple[str, str]],
    *,
    nomor: str,
    tanggal: str,
    tahun_anggaran: int | str,
    layout: int = 0,
    seed: int = 0,
    dpi: int = 300,
    instansi: str = "Dinas Pekerjaan Umum dan Perumahan Rakyat",
    kota: str | None = None,
    kepala: tuple[str, str] = ("Ir. Bambang Sutrisno, M.T.", "196805121994031009"),
) -> list[Image.Image]:
    """An SK decree appointing `appointees` (name, NIP) as PPK: one page, or two when the table needs it."""
    rng = random.Random(f"sk:{seed}:{layout}:{nomor}")
    fonts = _fonts(layout, dpi, points=11.0)
    arrangement = layout % LAYOUTS
    kota = kota or _KOTA[rng.randrange(len(_KOTA))]
    page = _Page(dpi, fonts, rng)
    pages = [page]
    _letterhead(page, instansi, kota, layout)
    page.line(f"KEPUTUSAN KEPALA {instansi.upper()}"[:70], font=fonts.bold, center=True)
    page.line(f"KABUPATEN {kota.upper()}", font=fonts.bold, center=True)
    page.line(f"NOMOR: {nomor}", center=True)
    page.line()
    page.line("TENTANG", font=fonts.bold, center=True)
    page.line("PENETAPAN PEJABAT PEMBUAT KOMITMEN", font=fonts.bold, center=True)
    page.line(f"TAHUN ANGGARAN {tahun_anggaran}", font=fonts.bold, center=True)
    page.line()
    page.line(f"KEPALA {instansi.upper()},"[:70], font=fonts.bold, center=True)
    tab = page.mm(28)
    indent = tab + page.mm(6)
    page.text(page.left, "Menimbang")
    page.text(page.left + tab, ":")
    page.paragraph(
        "a. bahwa dalam rangka pelaksanaan pengadaan barang/jasa pemerintah perlu menetapkan Pejabat "
        f"Pembuat Komitmen Tahun Anggaran {tahun_anggaran};",
        indent=indent,
    )
    page.text(page.left, "Mengingat")
    page.text(page.left + tab, ":")
    page.paragraph(
        "1. Peraturan Presiden Nomor 16 Tahun 2018 tentang Pengadaan Barang/Jasa Pemerintah "
        "sebagaimana telah diubah dengan Peraturan Presiden Nomor 12 Tahun 2021;",
        indent=indent,
    )
    page.line()
    page.line("M E M U T U S K A N :" if arrangement != 1 else "MEMUTUSKAN:", font=fonts.bold, center=True)
    page.text(page.left, "Menetapkan")
    page.text(page.left + tab, ":")
    page.y += page.leading
    page.text(page.left, "KESATU")
    page.text(page.left + tab, ":")
    page.paragraph(
        "Menetapkan Pegawai Negeri Sipil yang namanya tercantum di bawah ini sebagai Pejabat Pembuat "
        f"Komitmen pada {instansi} Tahun Anggaran {tahun_anggaran}.",
        indent=indent,
    )

    # The table (a header row and a row each), KEDUA, the place and date, and the signature block.
    needed = round((len(appointees) + 1) * page.leading * 1.5) + page.leading * 12
    if arrangement == 1 or page.y + needed > page.height - page.mm(15):
        page = _Page(dpi, fonts, rng)
        pages.append(page)
        page.line(f"LAMPIRAN KEPUTUSAN NOMOR {nomor}", font=fonts.bold)
        page.line("DAFTAR PEJABAT PEMBUAT KOMITMEN", font=fonts.bold)
        page.line()
    _table(page, appointees, arrangement)
    page.text(page.left, "KEDUA")
    page.text(page.left + tab, ":")
    page.paragraph("Keputusan ini mulai berlaku pada tanggal ditetapkan.", indent=indent)
    page.line()
    x_sig = page.left + (page.right - page.left) * 52 // 100
    page.line(f"Ditetapkan di {kota}", x=x_sig)
    page.line(f"pada tanggal {tanggal}", x=x_sig)
    page.line(f"KEPALA {instansi.upper()[:28]},", x=x_sig, font=fonts.bold)
    page.signature(x_sig, page.mm(50))
    page.stamp(x_sig - page.mm(6), page.y + page.leading, f"KAB. {kota.upper()}")
    page.y += page.leading * 3
    page.line(kepala[0], font=fonts.bold, x=x_sig)
    page.line(f"NIP. {spaced_nip(kepala[1])}", x=x_sig)
    return [p.image for p in pages]


def _table(page: _Page, rows: Sequence[tuple[str, str]], arrangement: int) -> None:
    """No | Nama | NIP | Jabatan, with ruled lines (layouts 0 and 1) or without (layout 2)."""
    widths = [page.mm(12), page.mm(62), page.mm(50)]
    cols = [page.left]
    for w in widths:
        cols.append(cols[-1] + w)
    right = page.right
    row_h = round(page.leading * 1.5)
    pad = (row_h - page.fonts.size) // 2
    ruled = arrangement != 2
    header = ("No", "Nama", "NIP", "Jabatan")
    body = [(str(i + 1), nama, spaced_nip(nip), "PPK") for i, (nama, nip) in enumerate(rows)]
    top = page.y
    for r, cells in enumerate([header, *body]):
        y = page.y
        for c, cell in enumerate(cells):
            font = page.fonts.bold if r == 0 else page.fonts.regular
            page.text(cols[c] + page.mm(2), cell, font, y=y + pad)
        page.y += row_h
        if ruled:
            page.draw.line((page.left, y, right, y), fill=page.ink(), width=max(1, page.dpi // 150))
    if ruled:
        page.draw.line((page.left, page.y, right, page.y), fill=page.ink(), width=max(1, page.dpi // 150))
        for x in [*cols, right]:
            page.draw.line((x, top, x, page.y), fill=page.ink(), width=max(1, page.dpi // 150))
    page.y += page.leading


# --- degradations -----------------------------------------------------------------------------


def degrade(image: Image.Image, kind: str, seed: int = 0) -> Image.Image:
    """The page as a scanner, a fax or a phone would deliver it (see DEGRADATIONS)."""
    rng = random.Random(f"degrade:{kind}:{seed}")
    gray = image.convert("L") if image.mode != "L" else image.copy()
    if kind == "clean":
        return gray
    if kind == "skew":
        angle = rng.uniform(1.0, 3.0) * rng.choice((-1, 1))
        return gray.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    if kind == "speckle":
        return _speckle(gray, rng)
    if kind == "jpeg60":
        return _jpeg_roundtrip(gray, 60)
    if kind == "bw":
        # A fax: slightly blurred, then hard threshold at 1 bit.
        soft = gray.filter(ImageFilter.GaussianBlur(0.6))
        return soft.point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
    if kind == "upside_down":
        return gray.rotate(180)
    if kind == "phone":
        return _phone(gray, rng)
    if kind == "chat":
        # A phone photo sent through a chat app: about 1600 px on the long side, JPEG q≈55.
        photo = _phone(gray, rng)
        scale = 1600 / max(photo.size)
        small = photo.resize((round(photo.width * scale), round(photo.height * scale)),
                             Image.Resampling.LANCZOS)
        return _jpeg_roundtrip(small, 55)
    raise ValueError(f"unknown degradation {kind!r}; one of {', '.join(DEGRADATIONS)}")


def _jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def _speckle(gray: Image.Image, rng: random.Random) -> Image.Image:
    out = gray.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    dots = w * h // 2500
    for _ in range(dots):
        x, y = rng.randrange(w), rng.randrange(h)
        r = rng.choice((1, 1, 1, 2, 2, 3))
        draw.ellipse((x, y, x + r, y + r), fill=rng.randint(0, 90))
    # A faint gray cast and a little softness, as from an old flatbed.
    return out.filter(ImageFilter.GaussianBlur(0.5)).point(lambda v: min(255, 12 + v * 235 // 255))


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8×8, for the perspective coefficients)."""
    n = len(rhs)
    a = [row[:] + [rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col:
                factor = a[r][col] / a[col][col]
                for c in range(col, n + 1):
                    a[r][c] -= factor * a[col][c]
    return [a[i][n] / a[i][i] for i in range(n)]


def _perspective_coeffs(dst: Sequence[tuple[float, float]], src: Sequence[tuple[float, float]]) -> list[float]:
    """Coefficients mapping output points `dst` to input points `src` (Pillow's PERSPECTIVE)."""
    matrix: list[list[float]] = []
    rhs: list[float] = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    return _solve(matrix, rhs)


PHONE_SIZE = (3000, 4000)  # 12 MP, portrait


def _phone(gray: Image.Image, rng: random.Random, size: tuple[int, int] = PHONE_SIZE) -> Image.Image:
    """A hand-held photo of the page on a desk: tilt, uneven light, slight blur; RGB, 12 MP unless told."""
    out_w, out_h = size
    scale = out_h / PHONE_SIZE[1]
    # The page fills 80–90 % of the frame, its corners pushed about by a tilted hand.
    fill = rng.uniform(0.80, 0.88)
    page_h = out_h * fill
    page_w = page_h * gray.width / gray.height
    cx, cy = out_w / 2 + rng.uniform(-60, 60) * scale, out_h / 2 + rng.uniform(-60, 60) * scale
    jitter = out_w * 0.035
    corners = [
        (cx - page_w / 2 + rng.uniform(-jitter, jitter), cy - page_h / 2 + rng.uniform(-jitter, jitter)),
        (cx + page_w / 2 + rng.uniform(-jitter, jitter), cy - page_h / 2 + rng.uniform(-jitter, jitter)),
        (cx + page_w / 2 + rng.uniform(-jitter, jitter), cy + page_h / 2 + rng.uniform(-jitter, jitter)),
        (cx - page_w / 2 + rng.uniform(-jitter, jitter), cy + page_h / 2 + rng.uniform(-jitter, jitter)),
    ]
    src = [(0, 0), (gray.width, 0), (gray.width, gray.height), (0, gray.height)]
    coeffs = _perspective_coeffs(corners, src)
    # Paper slightly off-white, desk darker; the warp fills outside the page with a marker value.
    mask = Image.new("L", gray.size, 255).transform(
        (out_w, out_h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=0)
    paper = gray.point(lambda v: 30 + v * 205 // 255).transform(
        (out_w, out_h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=0)
    desk = Image.new("L", (out_w, out_h), rng.randint(70, 110))
    scene = Image.composite(paper, desk, mask)
    # Uneven light: a broad radial falloff from an off-centre lamp plus a linear shade.
    radial = Image.radial_gradient("L").resize((out_w * 2, out_h * 2), Image.Resampling.BILINEAR)
    ox = rng.randint(out_w // 4, 3 * out_w // 4)
    oy = rng.randint(out_h // 4, 3 * out_h // 4)
    light = radial.crop((ox, oy, ox + out_w, oy + out_h)).point(lambda v: 255 - v * 80 // 255)
    shade = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize(
        (out_w, out_h), Image.Resampling.BILINEAR).point(lambda v: 255 - v * 45 // 255)
    lit = ImageChops.multiply(ImageChops.multiply(scene, light), shade)
    blurred = lit.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 1.6) * scale))
    # A warm colour cast: the result is an RGB photo like a phone's.
    r = blurred.point(lambda v: min(255, v + 8))
    b = blurred.point(lambda v: max(0, v - 10))
    return Image.merge("RGB", (r, blurred, b))


def as_phone_photo_jpeg(image: Image.Image, seed: int = 0, *, orientation: int = 1,
                        quality: int = 88, photographed: bool = False,
                        size: tuple[int, int] = PHONE_SIZE) -> bytes:
    """A phone photo of the page as JPEG bytes: 12 MP, EXIF 72 dpi, EXIF orientation when asked.

    `orientation` 6 or 8 stores the pixels rotated as a phone held sideways does (viewers and
    `ImageOps.exif_transpose` turn it upright again); 3 stores it upside down. Pass
    `photographed=True` when `image` already went through `degrade(..., "phone")`; `size` (portrait
    width, height) for a smaller camera or a resized photo.
    """
    rng = random.Random(f"phone:{seed}")
    photo = image.convert("RGB") if photographed else _phone(image.convert("L"), rng, size)
    if orientation == 6:
        photo = photo.transpose(Image.Transpose.ROTATE_90)
    elif orientation == 8:
        photo = photo.transpose(Image.Transpose.ROTATE_270)
    elif orientation == 3:
        photo = photo.transpose(Image.Transpose.ROTATE_180)
    exif = Image.Exif()
    exif[0x010F] = "samplescan"  # Make
    exif[0x0110] = "Phone 12MP"  # Model
    exif[0x011A] = 72.0  # XResolution
    exif[0x011B] = 72.0  # YResolution
    exif[0x0128] = 2  # ResolutionUnit: inch
    if orientation != 1:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=quality, dpi=(72, 72), exif=exif.tobytes())
    return buf.getvalue()


def as_chat_jpeg(image: Image.Image, seed: int = 0) -> bytes:
    """A phone photo recompressed by a chat app (≈ 1600 px, q≈55, no EXIF)."""
    buf = io.BytesIO()
    degrade(image, "chat", seed).convert("RGB").save(buf, "JPEG", quality=55)
    return buf.getvalue()


# --- image-only PDF ---------------------------------------------------------------------------


def as_scanned_pdf(images: Sequence[Image.Image], dpi: int = 300, jpeg_quality: int | None = None) -> bytes:
    """An image-only PDF (no text layer, no fonts), one page per image, sized by `dpi`.

    `jpeg_quality=None` stores pixels losslessly (Flate, 1-bit for a "1" image); a number stores
    them as JPEG of that quality, as most scanner apps do.
    """
    if not images:
        raise ValueError("as_scanned_pdf needs at least one image")
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    page_ids: list[int] = []
    for index, image in enumerate(images):
        if image.mode == "1" and jpeg_quality is None:
            data = zlib.compress(image.tobytes(), 6)
            colour, bits, filt = b"/DeviceGray", 1, b"/FlateDecode"
        else:
            im = image.convert("L") if image.mode not in ("L", "RGB") else image
            colour = b"/DeviceRGB" if im.mode == "RGB" else b"/DeviceGray"
            bits = 8
            if jpeg_quality is None:
                data, filt = zlib.compress(im.tobytes(), 6), b"/FlateDecode"
            else:
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=jpeg_quality)
                data, filt = buf.getvalue(), b"/DCTDecode"
        w, h = image.size
        xobj = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
            b"/BitsPerComponent %d /Filter %s /Length %d >>\nstream\n"
            % (w, h, colour, bits, filt, len(data)) + data + b"\nendstream"
        )
        pw, ph = w * 72 / dpi, h * 72 / dpi
        content = b"q %.2f 0 0 %.2f 0 0 cm /Im%d Do Q\n" % (pw, ph, index)
        content_id = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        page_ids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] "
            b"/Resources << /XObject << /Im%d %d 0 R >> >> /Contents %d 0 R >>"
            % (pages_obj, pw, ph, index, xobj, content_id)
        ))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, catalog, xref)
    return bytes(out)


def upright(image: Image.Image) -> Image.Image:
    """Apply a photo's EXIF orientation (what a reader must do first)."""
    return ImageOps.exif_transpose(image) or image
