"""A generated set of scanned and photographed documents with ground truth, for bench/ocr.py.

Request letters and SK decrees (mailbot/demo/samplescan.py) in 3 page arrangements and 4 font families,
at 150/200/300 dpi, as image-only PDFs (clean, skewed 1–3°, speckled, JPEG q60, black-and-white fax,
upside down) and as JPEG photos (12 MP phone photo with EXIF orientation, chat-app recompressed).
Nothing is committed as data: the set is generated at run time into a directory, with `truth.json`:

    {"documents": [{"file", "kind", "degradation", "layout", "font", "dpi", "pages", "format",
                    "nips", "phrases", "person", "sk"}], "registry": [{"nama", "nip", "decoy"}]}

`phrases` are the key-phrase groups of the document's kind (each group a list of alternatives; a group
is found when one alternative is). `registry` holds every person plus a decoy per person whose NIP differs
in one digit: a misread digit that lands on a decoy is "matched to a wrong registry entry".

    .venv/bin/python bench/scanset.py OUTDIR [--quick]     # writes the set for a look
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailbot.demo import samplescan  # noqa: E402

LETTER = "surat_permohonan"
SK = "sk_pengangkatan"

# The phrases a reader needs to tell the kind; alternatives within a group. Lower case, single spaces.
PHRASES: dict[str, list[list[str]]] = {
    LETTER: [
        ["permohonan"],
        ["reset password", "informasi user id"],
        ["dengan hormat"],
        ["pejabat pembuat komitmen"],
    ],
    SK: [
        ["keputusan"],
        ["tentang"],
        ["penetapan pejabat pembuat komitmen"],
        ["memutuskan", "m e m u t u s k a n"],
        ["menetapkan"],
        ["ditetapkan di"],
        ["tahun anggaran"],
    ],
}

_FIRST = ["Siti", "Budi", "Agus", "Dewi", "Rudi", "Sri", "Hendra", "Rina", "Joko", "Wulan", "Eko", "Lestari",
          "Bambang", "Yuliana", "Teguh", "Fitri", "Slamet", "Nur"]
_LAST = ["Rahmawati", "Santoso", "Wibowo", "Lestari", "Hidayat", "Kusuma", "Saputra", "Handayani", "Nugroho",
         "Prasetyo", "Wulandari", "Setiawan", "Susanti", "Purnomo"]
_TITLES = [("", ", S.T."), ("Dra. ", ", M.Si."), ("", ", S.E."), ("Ir. ", ""), ("", ", S.Kom."), ("Drs. ", ", M.M."),
           ("", ""), ("", ", S.H., M.H.")]
_INSTANSI = ["Dinas Pekerjaan Umum dan Perumahan Rakyat", "Dinas Pendidikan", "Dinas Kesehatan",
             "Badan Perencanaan Pembangunan Daerah", "Dinas Perhubungan", "Sekretariat Daerah"]


@dataclass(frozen=True)
class Person:
    nama: str
    nip: str
    instansi: str


@dataclass
class Doc:
    file: str
    kind: str
    degradation: str
    layout: int
    font: str
    dpi: int
    pages: int
    format: str
    nips: list[str]
    phrases: list[list[str]]
    person: dict[str, str]
    sk: dict[str, Any] = field(default_factory=dict)
    orientation: int = 1


def valid_nip(rng: random.Random) -> str:
    """A structurally valid NIP: birth 1965–1990, TMT 22–30 years later, gender 1/2, sequence 001–008."""
    year = rng.randint(1965, 1990)
    birth = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    tmt = f"{year + rng.randint(22, 30)}{rng.randint(1, 12):02d}"
    return f"{birth}{tmt}{rng.choice('12')}{rng.randint(1, 8):03d}"


def people(n: int, seed: int = 0) -> list[Person]:
    rng = random.Random(f"people:{seed}")
    out: list[Person] = []
    seen: set[str] = set()
    while len(out) < n:
        pre, post = _TITLES[rng.randrange(len(_TITLES))]
        nama = f"{pre}{rng.choice(_FIRST)} {rng.choice(_LAST)}{post}"
        nip = valid_nip(rng)
        if nip in seen or nama in {p.nama for p in out}:
            continue
        seen.add(nip)
        out.append(Person(nama, nip, rng.choice(_INSTANSI)))
    return out


def decoy(nip: str) -> str:
    """The same NIP with the sequence number one higher: one digit apart, still valid."""
    seq = int(nip[15:])
    return nip[:15] + f"{seq + 1 if seq < 999 else seq - 1:03d}"


def _plan(quick: bool) -> list[tuple[str, str, int, int]]:
    """(kind, degradation, dpi, sk_pages) for every document of the set."""
    plan: list[tuple[str, str, int, int]] = []
    dpis = (300, 200, 150)
    for d_index, deg in enumerate(samplescan.DEGRADATIONS):
        if deg == "clean":
            for dpi in (dpis if not quick else (300, 150)):
                plan.append((LETTER, deg, dpi, 1))
                plan.append((SK, deg, dpi, 1 if dpi != 200 else 2))
            continue
        scan_dpi = 300 if deg in ("phone", "chat") else dpis[d_index % 3] if d_index % 2 else 300
        plan.append((LETTER, deg, scan_dpi, 1))
        plan.append((SK, deg, scan_dpi, 1))
        if not quick:
            plan.append((LETTER, deg, 300 if deg in ("phone", "chat") else 200, 1))
            plan.append((SK, deg, scan_dpi, 2 if deg not in ("phone", "chat") else 1))
    return plan


def build(outdir: Path, *, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Write the set into `outdir` and return the ground truth (also written as outdir/truth.json)."""
    outdir.mkdir(parents=True, exist_ok=True)
    plan = _plan(quick)
    persons = people(len(plan) * 3 + 8, seed)
    docs: list[Doc] = []
    cursor = 0
    for index, (kind, deg, dpi, sk_pages) in enumerate(plan):
        layout = index % 12  # arrangement = layout % 3, font family = layout % 4
        if deg in ("phone", "chat") and kind == SK and layout % 3 == 1:
            layout += 1  # the arrangement with its table in a Lampiran has two pages: photograph a one-page SK
        doc_seed = seed * 1000 + index
        person = persons[cursor]
        cursor += 1
        photo = deg in ("phone", "chat")
        render_dpi = 200 if photo else dpi
        sk_truth: dict[str, Any] = {}
        if kind == LETTER:
            request = "user_id" if index % 5 == 4 else "reset_password"
            pages = [samplescan.letter_image(person.nama, person.nip, instansi=person.instansi, request=request,
                                             layout=layout, seed=doc_seed, dpi=render_dpi)]
            nips = [person.nip]
        else:
            if sk_pages == 2 and layout % 3 != 1:
                count = 16  # a long table pushes it onto a second page
            else:
                count = 1 + index % 3
            others = persons[cursor:cursor + count - 1]
            cursor += count - 1
            appointees = [(person.nama, person.nip), *((p.nama, p.nip) for p in others)]
            year = 2026 if index % 7 else 2025
            nomor = f"{900 + index}/{100 + index * 7}/KPTS/{year}"
            tanggal = f"{2 + index % 20} Januari {year}"
            kepala = persons[-1 - index % 8]
            pages = samplescan.sk_image(appointees, nomor=nomor, tanggal=tanggal, tahun_anggaran=year,
                                        layout=layout, seed=doc_seed, dpi=render_dpi, instansi=person.instansi,
                                        kepala=(kepala.nama, kepala.nip))
            if photo and len(pages) != 1:
                raise AssertionError(f"a photographed SK must fit on one page (layout {layout})")
            nips = [nip for _, nip in appointees] + [kepala.nip]
            sk_truth = {"nomor": nomor, "tanggal": tanggal, "tahun_anggaran": year,
                        "appointees": [list(a) for a in appointees], "kepala": [kepala.nama, kepala.nip]}
        orientation = 1
        if deg == "phone":
            orientation = 6 if index % 2 else 1
            data = samplescan.as_phone_photo_jpeg(pages[0], seed=doc_seed, orientation=orientation)
            name, fmt = f"IMG_20261201_{index:04d}.jpg", "jpeg"
        elif deg == "chat":
            data = samplescan.as_chat_jpeg(pages[0], seed=doc_seed)
            name, fmt = f"WhatsApp Image 2026-12-01 at 09.{index:02d}.jpeg", "jpeg"
        else:
            images = [samplescan.degrade(p, deg, doc_seed + i) for i, p in enumerate(pages)]
            data = samplescan.as_scanned_pdf(images, dpi=dpi, jpeg_quality=None)
            name, fmt = f"scan{index:04d}.pdf", "pdf"
        (outdir / name).write_bytes(data)
        docs.append(Doc(name, kind, deg, layout, samplescan.font_family(layout), dpi if not photo else 0,
                        len(pages), fmt, sorted(set(nips)), PHRASES[kind], asdict(person), sk_truth, orientation))
    registry = [{"nama": p.nama, "nip": p.nip, "decoy": False} for p in persons]
    registry += [{"nama": p.nama + " (lain)", "nip": decoy(p.nip), "decoy": True} for p in persons]
    truth = {"seed": seed, "quick": quick, "documents": [asdict(d) for d in docs], "registry": registry}
    (outdir / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False), encoding="utf-8")
    return truth


def big_scan(pages: int = 20, dpi: int = 300, seed: int = 0) -> bytes:
    """A long image-only PDF (SK pages and letters alternating) for the worker's peak-memory measurement."""
    persons = people(pages + 2, seed + 99)
    images = []
    for i in range(pages):
        p = persons[i]
        if i % 2:
            images.append(samplescan.letter_image(p.nama, p.nip, layout=i, seed=i, dpi=dpi))
        else:
            images.extend(samplescan.sk_image([(p.nama, p.nip)], nomor=f"{i}/KPTS/2026", tanggal="5 Januari 2026",
                                              tahun_anggaran=2026, layout=i % 3 if i % 3 != 1 else 0, seed=i,
                                              dpi=dpi)[:1])
    return samplescan.as_scanned_pdf([samplescan.degrade(im, "speckle", i) for i, im in enumerate(images)], dpi=dpi)


def summary(truth: dict[str, Any]) -> str:
    docs = truth["documents"]
    by_deg: dict[str, int] = {}
    for d in docs:
        by_deg[d["degradation"]] = by_deg.get(d["degradation"], 0) + 1
    fonts = sorted({d["font"] for d in docs})
    layouts = sorted({d["layout"] % samplescan.LAYOUTS for d in docs})
    dpis = sorted({d["dpi"] for d in docs if d["dpi"]})
    return (f"{len(docs)} documents, {sum(d['pages'] for d in docs)} pages, "
            f"{sum(len(d['nips']) for d in docs)} NIPs; arrangements {layouts}, fonts {fonts}, dpi {dpis}; "
            + ", ".join(f"{k} {v}" for k, v in by_deg.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    truth = build(Path(args.outdir), quick=args.quick, seed=args.seed)
    print(summary(truth), f"— generated in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
