"""Record real Tesseract output of generated scans as unit-test fixtures (tests/fixtures/ocr/).

A one-off: the unit tests of recognition (tests/unit/test_ocr_recognition.py, test_sk.py) read the
recorded text, so they need no OCR engine. Re-run only when samplescan's documents change:

    PYTHONPATH=. .venv/bin/python bench/ocr_fixtures.py [--only NAME]

Route as in docs/OCR-NOTES: tesserocr, lang ind+eng, psm AUTO_OSD (1), OEM LSTM, 300 dpi grayscale,
one API object. Each fixture is NAME.txt (the OCR text, pages joined by a form feed) beside NAME.json
(the ground truth: kinds, NIPs, and for an SK its number, date, Tahun Anggaran and appointees).
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from mailbot.demo import samplescan as ss

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ocr"
TESSDATA = "/usr/share/tesseract-ocr/5/tessdata/"

BUDI = ("Budi Santoso, S.T.", "197111091996021007")
SITI = ("Siti Aminah, S.E.", "198502142010012001")
AHMAD = ("Ahmad Fauzi", "197905232005011004")
DEWI = ("Dewi Lestari, S.Kom.", "199001152015032002")
RUDI = ("Rudi Hartono", "198207172008011012")
KEPALA = ("Ir. Bambang Sutrisno, M.T.", "196805121994031009")


# `seed` picks the document's details, `noise` its degradation: both fixed per fixture, so a fixture
# re-recorded alone (--only) comes out as it did in the whole run.
def _letters() -> list[dict[str, Any]]:
    return [
        {"name": "letter_clean_l0", "who": BUDI, "layout": 0, "how": "clean", "request": "reset_password",
         "seed": 0, "noise": 0},
        {"name": "letter_speckle_l1", "who": SITI, "layout": 1, "how": "speckle", "request": "reset_password",
         "seed": 1, "noise": 1},
        {"name": "letter_phone_l2", "who": AHMAD, "layout": 2, "how": "phone", "request": "reset_password",
         "seed": 2, "noise": 2},
        {"name": "letter_bw_l0", "who": DEWI, "layout": 0, "how": "bw", "request": "user_id", "seed": 3, "noise": 3},
        {"name": "letter_upside_l1", "who": RUDI, "layout": 1, "how": "upside_down", "request": "reset_password",
         "seed": 4, "noise": 4},
        {"name": "letter_chat_l2", "who": BUDI, "layout": 2, "how": "chat", "request": "user_id", "seed": 5,
         "noise": 10},
        {"name": "letter_jpeg60_l1", "who": DEWI, "layout": 1, "how": "jpeg60", "request": "reset_password",
         "seed": 6, "noise": 11},
    ]


def _sks() -> list[dict[str, Any]]:
    return [
        {"name": "sk_clean_l0", "appointees": [BUDI, SITI, AHMAD], "layout": 0, "how": "clean",
         "nomor": "800/125/KPTS/DPUPR/2026", "tanggal": (2026, 1, 5), "ta": 2026, "seed": 0, "noise": 5},
        {"name": "sk_skew_l1", "appointees": [SITI, DEWI], "layout": 1, "how": "skew",
         "nomor": "188.4/77/KEP/2025", "tanggal": (2025, 2, 14), "ta": 2025, "seed": 1, "noise": 6},
        {"name": "sk_phone_l2", "appointees": [RUDI], "layout": 2, "how": "phone",
         "nomor": "900/12/SK/2026", "tanggal": (2026, 3, 2), "ta": 2026, "seed": 2, "noise": 7},
        {"name": "sk_chat_l0", "appointees": [AHMAD, DEWI, RUDI, BUDI], "layout": 0, "how": "chat",
         "nomor": "027/301/KPTS/2026", "tanggal": (2026, 8, 17), "ta": 2026, "seed": 3, "noise": 8},
        {"name": "sk_speckle_l2", "appointees": [DEWI, BUDI], "layout": 2, "how": "speckle",
         "nomor": "800/9/PPK/2026", "tanggal": (2026, 11, 30), "ta": 2026, "seed": 4, "noise": 9},
        {"name": "sk_upside_l1", "appointees": [RUDI, SITI, BUDI], "layout": 1, "how": "upside_down",
         "nomor": "050/88/KEP/2026", "tanggal": (2026, 4, 21), "ta": 2026, "seed": 5, "noise": 12},
        {"name": "sk_bw_l2", "appointees": [AHMAD], "layout": 2, "how": "bw",
         "nomor": "910/14/KPTS/2026", "tanggal": (2026, 10, 1), "ta": 2026, "seed": 6, "noise": 13},
    ]


def _as_received(image: Image.Image, how: str, seed: int) -> Image.Image:
    """The page as mailbot gets it: a phone photo goes through JPEG with EXIF, the rest are pixels."""
    if how == "phone":
        photo = Image.open(io.BytesIO(ss.as_phone_photo_jpeg(image, seed=seed)))
        return ImageOps.exif_transpose(photo).convert("L")
    return ss.degrade(image, how, seed=seed).convert("L")


def main() -> None:
    import tesserocr  # only this script needs the engine

    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated fixture names")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    api = tesserocr.PyTessBaseAPI(path=TESSDATA, lang="ind+eng", psm=tesserocr.PSM.AUTO_OSD,
                                  oem=tesserocr.OEM.LSTM_ONLY)
    jobs: list[tuple[dict[str, Any], list[Image.Image], dict[str, Any]]] = []
    for spec in _letters():
        nama, nip = spec["who"]
        pages = [ss.letter_image(nama, nip, request=spec["request"], layout=spec["layout"], seed=spec["seed"])]
        truth = {"kinds": ["surat_permohonan"], "nips": [nip], "nama": nama}
        jobs.append((spec, pages, truth))
    for spec in _sks():
        y, m, d = spec["tanggal"]
        tanggal = f"{d} {ss._BULAN[m - 1]} {y}"
        pages = ss.sk_image(list(spec["appointees"]), nomor=spec["nomor"], tanggal=tanggal,
                            tahun_anggaran=spec["ta"], layout=spec["layout"], seed=spec["seed"], kepala=KEPALA)
        truth = {"kinds": ["sk_pengangkatan"], "nips": [n for _, n in spec["appointees"]] + [KEPALA[1]],
                 "nomor": spec["nomor"], "tanggal": f"{y:04d}-{m:02d}-{d:02d}", "tahun_anggaran": spec["ta"],
                 "appointees": [{"nama": a, "nip": n} for a, n in spec["appointees"]],
                 "signer": {"nama": KEPALA[0], "nip": KEPALA[1]}}
        jobs.append((spec, pages, truth))
    for spec, pages, truth in jobs:
        if args.only and spec["name"] not in args.only.split(","):
            continue
        texts, words, started = [], [], time.perf_counter()
        for page in pages:
            api.SetImage(_as_received(page, spec["how"], spec["noise"]).copy())
            api.SetSourceResolution(300)
            texts.append(api.GetUTF8Text())
            words += [(w, c) for w, c in api.MapWordConfidences() if c < 80 and w.strip()]
        seconds = time.perf_counter() - started
        truth = {**truth, "degradation": spec["how"], "layout": spec["layout"], "pages": len(pages),
                 "engine": f"tesserocr {tesserocr.__version__} / tesseract {tesserocr.tesseract_version().split()[1]}",
                 "low_confidence_words": [w for w, _ in words]}
        (OUT / f"{spec['name']}.txt").write_text("\f".join(texts), encoding="utf-8")
        (OUT / f"{spec['name']}.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
        print(f"{spec['name']:22} {len(pages)} page(s) {seconds:5.1f} s  {len(words)} low-confidence words")
    api.End()


if __name__ == "__main__":
    main()
