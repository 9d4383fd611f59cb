"""OCR: accuracy and speed of reading scans and phone photos (issue 11, "Targets").

A generated set (bench/scanset.py: letters and SKs, 3 arrangements × 4 fonts, 150–300 dpi, clean / skew /
speckle / jpeg60 / bw / upside_down / phone / chat) with ground truth; printed per degradation and overall:

- key-phrase groups of the document's kind found (target ≥ 97 %), the kind recognised by mailbot's rules,
- NIPs read exactly (≥ 95 %), NIPs invented and NIPs matched to a wrong registry entry (0),
- s/page median on one core: mailbot's OCR (mailbot.cases.ocr.Engine) vs the bare tesserocr engine on the
  same pages in the same child process (≤ 3.0 s/page),
- backlog pages/s through mailbot's worker pool (mailbot.cases.ocrpool.OcrPool, [ocr] workers = 2) vs
  2 ÷ the bare s/page (≥ 0.85),
- peak RSS of one OCR worker that read everything, incl. a 20-page 300-dpi scan (≤ 400 MB),
- latency with `mailbot run` (IDLE) on a private Dovecot + aiosmtpd as bench/latency.py: APPEND of a request
  with a 1-page scanned letter + a photographed SK → its first mail at the SMTP server (median ≤ 6 s), and a
  text-PDF request arriving during an OCR backlog (≤ 2 s).

    .venv/bin/python bench/ocr.py [--quick] [--parts accuracy,backlog,rss,latency] [--n 5] [--json out.json]

Each part runs as soon as what it needs exists: without mailbot's OCR only the bare engine is measured,
without the OCR-tolerant recognition the strict rules of the time are used (the table says which). The
timing children are pinned to one CPU; the machine is shared, so read the ratios and note the load.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ROOT,
    emit_json,
    loadavg,
    machine_line,
    median,
    table,
    verdict,
)

TESSDATA = "/usr/share/tesseract-ocr/5/tessdata"
LANG = "ind+eng"
DPI = 300
TODAY = date(2026, 12, 2)


def has(module: str, name: str | None = None) -> bool:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    return name is None or hasattr(mod, name)


def file_type(name: str) -> str:
    return "pdf" if name.lower().endswith(".pdf") else "jpeg"


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    return 0


# -- the child: bare engine vs mailbot's engine, one core ----------------------------------------
def _bare_pages(data: bytes, ftype: str) -> list[Any]:
    """The pages as the bare engine gets them: pypdfium2 at 300 dpi grayscale, or the photo turned upright."""
    from PIL import Image, ImageOps

    if ftype == "pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(data)
        try:
            return [pdf[i].render(scale=DPI / 72, grayscale=True).to_pil() for i in range(len(pdf))]
        finally:
            pdf.close()
    return [ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L")]


def engine_child(setdir: str, out: str, only: str = "") -> None:
    """Read every file with the bare engine and (when it exists) mailbot's engine, alternating per file."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import tesserocr

    truth = json.loads((Path(setdir) / "truth.json").read_text())
    docs = truth["documents"]
    if only:
        docs = [d for d in docs if d["file"] == only]
    api = tesserocr.PyTessBaseAPI(path=TESSDATA + "/", lang=LANG, psm=tesserocr.PSM.AUTO_OSD,
                                  oem=tesserocr.OEM.LSTM_ONLY)
    engine = None
    limits = None
    if has("mailbot.cases.ocr", "Engine"):
        from mailbot.cases.ocr import Engine
        from mailbot.config import OcrSettings

        engine = Engine(TESSDATA, LANG)
        limits = OcrSettings()
    results = []
    for d in docs:
        data = (Path(setdir) / d["file"]).read_bytes()
        ftype = file_type(d["file"])
        t0, c0 = time.perf_counter(), time.process_time()
        pages = _bare_pages(data, ftype)
        t_open = time.perf_counter() - t0
        texts, engine_s, engine_cpu = [], [], []
        for im in pages:
            t1, c1 = time.perf_counter(), time.process_time()
            api.SetImage(im)
            texts.append(api.GetUTF8Text())
            engine_s.append(time.perf_counter() - t1)
            engine_cpu.append(time.process_time() - c1)
        bare_total, bare_cpu = time.perf_counter() - t0, time.process_time() - c0
        row: dict[str, Any] = {"file": d["file"], "pages": len(pages), "bare_text": "\n".join(texts),
                               "bare_engine_s": engine_s, "bare_engine_cpu": engine_cpu, "bare_s": bare_total,
                               "bare_cpu": bare_cpu, "bare_open_s": t_open}
        if engine is not None and limits is not None:
            t2, c2 = time.perf_counter(), time.process_time()
            outcome = engine.read(data, ftype, limits)
            row.update({"mailbot_s": time.perf_counter() - t2, "mailbot_cpu": time.process_time() - c2,
                        "mailbot_text": outcome.text,
                        "mailbot_pages": outcome.pages, "mailbot_problem": outcome.problem,
                        "mailbot_confidence": outcome.confidence,
                        "low_confidence_words": list(outcome.low_confidence_words)})
        results.append(row)
    Path(out).write_text(json.dumps({"results": results, "rss_kib": peak_rss_kib(),
                                     "mailbot_engine": engine is not None}))


def run_engine_child(setdir: Path, out: Path, timeout: float = 3600) -> dict[str, Any]:
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "ocr.py"), "--child", "engine", str(setdir),
                           str(out)], cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"engine child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- recognition: mailbot's rules (OCR-tolerant when the recognise branch is merged) --------------
def recognition_rules() -> str:
    tolerant = has("mailbot.domain.kinds", "text_matches")
    readings = has("mailbot.domain.nip", "nip_readings")
    return (f"kinds: {'OCR-tolerant domain.kinds.text_matches' if tolerant else 'strict text patterns'}; "
            f"NIPs: {'domain.nip.nip_readings (OCR mode)' if readings else 'domain.nip.find_nips + check_nip'}")


def mailbot_kinds(text: str) -> list[str]:
    from mailbot.domain import kinds as k

    if hasattr(k, "text_matches"):
        return [kind.name for kind in k.DEFAULT_KINDS if k.text_matches(kind, text)]
    return [kind.name for kind in k.DEFAULT_KINDS
            if all(re.search(p, text, re.IGNORECASE) for p in kind.text_patterns)]


def mailbot_nips(text: str, low_words: list[str] | tuple[str, ...] = ()) -> list[tuple[str, bool]]:
    """(NIP, certain) as mailbot reads them from OCR text; only structurally valid ones. Uncertain: read only
    after mapping look-alike letters, or a group of its digits was a word OCR read with low confidence."""
    from mailbot.domain import nip as n

    low = [re.sub(r"[^0-9]", "", w) for w in low_words]
    low = [w for w in low if len(w) >= 3]
    if hasattr(n, "nip_readings"):
        out = []
        for r in n.nip_readings([(text, True)], TODAY):
            certain = bool(getattr(r, "exact", True)) and not any(w in r.nip for w in low)
            out.append((r.nip, certain))
        return out
    return [(x, not any(w in x for w in low)) for x in n.find_nips(text) if n.check_nip(x, TODAY).valid]


def normal(text: str) -> str:
    text = re.sub(r"-\s*\n\s*", "", text.lower())
    return re.sub(r"\s+", " ", text)


def phrase_groups_found(text: str, groups: list[list[str]]) -> list[bool]:
    flat = normal(text)
    squeezed = flat.replace(" ", "")
    return [any(alt in flat or alt.replace(" ", "") in squeezed for alt in group) for group in groups]


def score(truth: dict[str, Any], engine: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """One row per document: what was found against the ground truth."""
    registry = {r["nip"] for r in truth["registry"]}
    by_file = {r["file"]: r for r in engine["results"]}
    rows = []
    for d in truth["documents"]:
        r = by_file.get(d["file"])
        if r is None:
            continue
        text = r.get(f"{source}_text", "")
        groups = phrase_groups_found(text, d["phrases"])
        read = mailbot_nips(text, r.get("low_confidence_words", ()) if source == "mailbot" else ())
        got = {nip for nip, _ in read}
        want = set(d["nips"])
        invented = got - want
        rows.append({
            "file": d["file"], "kind": d["kind"], "degradation": d["degradation"], "pages": r["pages"],
            "groups": groups, "kind_ok": d["kind"] in mailbot_kinds(text),
            "nips_want": len(want), "nips_exact": len(want & got),
            "uncertain": sum(1 for nip, certain in read if not certain and nip in want),
            "invented": sorted(invented), "wrong_registry": sorted(invented & registry),
            "bare_s_page": r["bare_s"] / max(1, r["pages"]), "bare_cpu_page": r["bare_cpu"] / max(1, r["pages"]),
            "bare_engine_cpu_page": r["bare_engine_cpu"],
            "mailbot_s_page": (r["mailbot_s"] / max(1, r["pages"])) if "mailbot_s" in r else None,
            "mailbot_cpu_page": (r["mailbot_cpu"] / max(1, r["pages"])) if "mailbot_cpu" in r else None,
            "problem": r.get("mailbot_problem"),
        })
    return rows


def accuracy_table(rows: list[dict[str, Any]], title: str) -> tuple[str, dict[str, Any]]:
    order = ["clean", "skew", "speckle", "jpeg60", "bw", "upside_down", "phone", "chat"]
    out_rows = []
    totals: dict[str, Any] = {}
    for deg in [*order, "overall"]:
        sel = [r for r in rows if deg == "overall" or r["degradation"] == deg]
        if not sel:
            continue
        groups = sum(len(r["groups"]) for r in sel)
        found = sum(sum(r["groups"]) for r in sel)
        all_groups = sum(1 for r in sel if all(r["groups"]))
        kinds = sum(1 for r in sel if r["kind_ok"])
        want = sum(r["nips_want"] for r in sel)
        exact = sum(r["nips_exact"] for r in sel)
        invented = sum(len(r["invented"]) for r in sel)
        wrong = sum(len(r["wrong_registry"]) for r in sel)
        unc = sum(r["uncertain"] for r in sel)
        bare = median([r["bare_s_page"] for r in sel])
        bare_cpu = median([r["bare_cpu_page"] for r in sel])
        mb = [r["mailbot_s_page"] for r in sel if r["mailbot_s_page"] is not None]
        mb_cpu = [r["mailbot_cpu_page"] for r in sel if r["mailbot_cpu_page"] is not None]
        out_rows.append([deg, len(sel), sum(r["pages"] for r in sel), f"{found}/{groups} ({100 * found / groups:.1f} %)",
                         f"{all_groups}/{len(sel)}", f"{kinds}/{len(sel)}",
                         f"{exact}/{want} ({100 * exact / max(1, want):.1f} %)", unc, invented, wrong,
                         f"{median(mb_cpu):.2f} ({median(mb):.2f})" if mb else "—",
                         f"{bare_cpu:.2f} ({bare:.2f})"])
        if deg == "overall":
            worst = min(
                (sum(1 for r in sel if r["kind"] == kind and r["groups"][i]) / max(1, sum(1 for r in sel if r["kind"] == kind)),
                 kind, i)
                for kind in {r["kind"] for r in sel}
                for i in range(len(next(r for r in sel if r["kind"] == kind)["groups"])))
            totals = {"documents": len(sel), "pages": sum(r["pages"] for r in sel), "groups_found": found,
                      "groups": groups, "docs_all_groups": all_groups, "kinds_ok": kinds, "nips": want,
                      "nips_exact": exact, "nips_uncertain": unc, "invented": invented, "wrong_registry": wrong,
                      "worst_group_share": worst[0], "worst_group": f"{worst[1]}#{worst[2]}",
                      "bare_s_page": bare, "mailbot_s_page": median(mb) if mb else None,
                      "bare_cpu_page": bare_cpu, "mailbot_cpu_page": median(mb_cpu) if mb_cpu else None}
    header = ["degradation", "docs", "pages", "key-phrase groups", "docs with all", "kind (rules)",
              "NIPs exact", "of which uncertain", "invented", "wrong registry", "mailbot CPU s/page (wall)",
              "bare CPU s/page (wall)"]
    return table(title, out_rows, header), totals


# -- backlog through the pool and the worker's peak memory ---------------------------------------
def backlog(setdir: Path, truth: dict[str, Any], workers: int = 2) -> dict[str, Any]:
    from mailbot.cases.ocrpool import OcrPool
    from mailbot.config import OcrSettings

    pool = OcrPool(OcrSettings(workers=workers))
    try:
        # Warm the workers (start + language data) as a running daemon's pool is warm.
        from mailbot.demo import samplescan

        tiny = samplescan.as_scanned_pdf([samplescan.letter_image("A", "197111091996021007", dpi=100)], dpi=100)
        pool.read([(f"warm{i}", tiny, "pdf") for i in range(workers)])
        jobs = [(d["file"], (setdir / d["file"]).read_bytes(), file_type(d["file"])) for d in truth["documents"]]
        pages = sum(d["pages"] for d in truth["documents"])
        load0 = loadavg()
        pids = [w.proc.pid for w in pool.workers if w.proc is not None]
        cpu0 = sum(cpu_of(pid) for pid in pids)
        t0 = time.perf_counter()
        out = pool.read(jobs)
        wall = time.perf_counter() - t0
        alive = [w.proc.pid for w in pool.workers if w.proc is not None and w.proc.poll() is None]
        cpu = sum(cpu_of(pid) for pid in alive) - cpu0 if alive == pids else float("nan")
        problems = [k for k, v in out.items() if v.problem]
        hwm = [peak_rss_kib(w.proc.pid) for w in pool.workers if w.proc is not None and w.proc.poll() is None]
    finally:
        pool.close()
    return {"pages": pages, "seconds": wall, "pages_per_s": pages / wall, "problems": problems,
            "worker_cpu_s": cpu, "pages_per_cpu_s": pages / cpu if cpu == cpu and cpu > 0 else float("nan"),
            "worker_hwm_kib": hwm, "load_before": load0, "load_after": loadavg()}


def rss_big(pages: int = 20) -> dict[str, Any]:
    """One worker reads a 20-page 300-dpi scan (after the set); its peak RSS from /proc."""
    from bench.scanset import big_scan
    from mailbot.cases.ocrpool import OcrWorker
    from mailbot.config import OcrSettings

    data = big_scan(pages, 300)
    worker = OcrWorker(OcrSettings(workers=1))
    try:
        t0 = time.perf_counter()
        outcome = worker.read(data, "pdf")
        wall = time.perf_counter() - t0
        hwm = peak_rss_kib(worker.proc.pid) if worker.proc is not None else 0
    finally:
        worker.close()
    return {"pages": outcome.pages, "problem": outcome.problem, "seconds": wall, "hwm_kib": hwm,
            "bytes": len(data), "chars": len(outcome.text)}


# -- latency with the daemon ---------------------------------------------------------------------
def latency(n: int, quick: bool) -> dict[str, Any]:
    from bench.common import Ppk, import_registry, world
    from bench.scanset import people
    from mailbot.demo import samplepdf, samplescan
    from mailbot.demo.world import request_email

    persons = people(n + 12, seed=7)
    # Names without the comma before a degree: bench.common.import_registry writes a plain CSV.
    ppks = [Ppk(p.nama.split(",")[0], p.nip, f"ppk{i}@pribadi-bench.id", f"ppk.{i}", p.instansi)
            for i, p in enumerate(persons)]

    def scanned_request(i: int) -> bytes:
        p = ppks[i]
        letter = samplescan.as_scanned_pdf([samplescan.degrade(samplescan.letter_image(
            p.name, p.nip, instansi=p.satker, layout=i, seed=100 + i), "skew", i)], dpi=300)
        sk_page = samplescan.sk_image([(p.name, p.nip)], nomor=f"{i}/KPTS/2026", tanggal="5 Januari 2026",
                                      tahun_anggaran=2026, layout=0 if i % 3 == 1 else i, seed=200 + i, dpi=200)[0]
        photo = samplescan.as_phone_photo_jpeg(sk_page, seed=i, orientation=6 if i % 2 else 1)
        return request_email(p.email, p.name, "Permohonan reset password",
                             f"Dengan hormat,\nmohon reset password akun SPSE saya.\n\nHormat kami,\n{p.name}",
                             [("scan0001.pdf", letter), (f"IMG_20261201_09{i:02d}.jpg", photo)])

    def text_request(i: int) -> bytes:
        p = ppks[i]
        return request_email(p.email, p.name, "Permohonan reset password SPSE",
                             f"Dengan hormat,\nmohon reset password akun SPSE saya.\nNIP. {p.nip}\n\nHormat kami,\n{p.name}",
                             [("Surat Permohonan.pdf", samplepdf.sample_request_letter(p.name, p.nip, satker=p.satker)),
                              ("SK PPK.pdf", samplepdf.sample_sk(p.name, p.nip))])

    def first_mail(smtp: Any, email: str, seen: int, timeout: float) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        count = seen
        while True:
            msgs = smtp.wait_for(count + 1, timeout=max(0.001, deadline - time.monotonic()))
            count = len(msgs)
            for m in msgs[seen:]:
                if email in m.rcpt_tos:
                    return count, m.header("X-Mailbot-Template") or "?"

    samples: list[float] = []
    templates: list[str] = []
    during: list[float] = []
    failures: list[str] = []
    raws = [scanned_request(i) for i in range(n + 1)]
    backlog_n = 4 if quick else 8
    backlog_raws = [scanned_request(n + 1 + i) for i in range(backlog_n)]
    with world(idle=True, poll_interval=300) as w:
        app = w.app()
        import_registry(app, ppks, w.workdir)
        app.engine.dispose()
        log_path = w.workdir / "daemon.log"
        with open(log_path, "wb") as log:
            daemon = subprocess.Popen([sys.executable, "-m", "mailbot.cli", "--config", str(w.config), "run"],
                                      cwd=str(w.workdir), stdout=log, stderr=subprocess.STDOUT,
                                      env=dict(os.environ), start_new_session=True)
        try:
            c = w.client()
            seen = 0
            c.append("INBOX", raws[0])  # warm-up: first poll, OCR workers start
            seen, _ = first_mail(w.smtp, ppks[0].email, seen, 120.0)
            for i in range(1, n + 1):
                time.sleep(1.0)  # between samples only: the daemon re-enters IDLE
                t0 = time.perf_counter()
                c.append("INBOX", raws[i])
                try:
                    seen, template = first_mail(w.smtp, ppks[i].email, seen, 60.0)
                    samples.append(time.perf_counter() - t0)
                    templates.append(template)
                except TimeoutError:
                    failures.append(f"no mail for scanned request {i} within 60 s")
                    seen = len(w.smtp.messages)
            # A backlog of scanned requests, then a text-PDF request behind it.
            time.sleep(1.0)
            for raw in backlog_raws:
                c.append("INBOX", raw)
            time.sleep(1.5)  # the daemon has taken the backlog and its OCR pass is busy
            k = n + 1 + backlog_n
            t0 = time.perf_counter()
            c.append("INBOX", text_request(k))
            base = seen
            try:
                _, template = first_mail(w.smtp, ppks[k].email, base, 60.0)
                during.append(time.perf_counter() - t0)
                templates.append(f"text:{template}")
            except TimeoutError:
                failures.append("no mail for the text-PDF request within 60 s")
            backlog_done = sum(1 for m in w.smtp.messages[base:]
                               if any(ppks[n + 1 + j].email in m.rcpt_tos for j in range(backlog_n)))
            c.logout()
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
                failures.append("daemon did not stop within 60 s of SIGTERM")
        log_text = log_path.read_text(errors="replace")
    return {"samples": samples, "templates": templates, "during_backlog": during, "failures": failures,
            "backlog_requests": backlog_n, "backlog_answered_before_text": backlog_done,
            "log_tail": log_text[-3000:] if failures else ""}


# -- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smaller set (16 documents) and 3 latency samples")
    ap.add_argument("--parts", default="accuracy,backlog,rss,latency")
    ap.add_argument("--set", help="use (or keep) the generated set in this directory")
    ap.add_argument("--n", type=int, default=5, help="latency samples (default 5)")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        engine_child(*args.child[1:]) if args.child[0] == "engine" else sys.exit("unknown child")
        return 0
    parts = set(args.parts.split(","))
    print(machine_line(), flush=True)
    from bench.scanset import build, summary

    setdir = Path(args.set) if args.set else Path(tempfile.mkdtemp(prefix="mb-scanset-"))
    t0 = time.perf_counter()
    truth = json.loads((setdir / "truth.json").read_text()) if (setdir / "truth.json").exists() \
        else build(setdir, quick=args.quick)
    print(f"scan set: {summary(truth)} (in {time.perf_counter() - t0:.0f} s, {setdir})", flush=True)
    have_ocr = has("mailbot.cases.ocr", "Engine")
    have_pool = has("mailbot.cases.ocrpool", "OcrPool")
    have_jobs = has("mailbot.cases.ocrjobs", "run_ocr")
    print(f"mailbot OCR: {'yes' if have_ocr else 'not in this tree'}; pool: {'yes' if have_pool else 'no'}; "
          f"OCR pass: {'yes' if have_jobs else 'no'}; recognition: {recognition_rules()}", flush=True)
    result: dict[str, Any] = {"bench": "ocr", "machine": machine_line(), "set": summary(truth)}
    rows_out: list[list[str]] = []

    class Rows(list):  # type: ignore[type-arg]
        def append(self, row: list[str]) -> None:  # print each result as soon as it is measured
            print("  " + " | ".join(row), flush=True)
            super().append(row)

    rows_out = Rows()
    bare_s = None
    bare_cpu_s = None
    if "accuracy" in parts:
        t0 = time.perf_counter()
        load0 = loadavg()
        engine = run_engine_child(setdir, setdir / "engine.json")
        print(f"engine child: {time.perf_counter() - t0:.0f} s, load {load0} → {loadavg()}, "
              f"peak RSS {engine['rss_kib'] / 1024:.0f} MiB", flush=True)
        source = "mailbot" if engine["mailbot_engine"] else "bare"
        rows = score(truth, engine, source)
        text, totals = accuracy_table(rows, f"accuracy and speed per degradation (text from the {source} engine; "
                                            "s/page median, one core)")
        print(text, flush=True)
        if source == "mailbot":
            _, bare_totals = accuracy_table(score(truth, engine, "bare"), "")
            result["bare_accuracy"] = bare_totals
        result["accuracy"] = totals
        result["documents"] = rows
        bare_s = totals["bare_s_page"]
        bare_cpu_s = totals["bare_cpu_page"]
        share_groups = totals["groups_found"] / totals["groups"]
        share_nips = totals["nips_exact"] / max(1, totals["nips"])
        rows_out += [
            ["key-phrase groups found", f"{100 * share_groups:.1f} %; worst group {totals['worst_group']} in "
             f"{100 * totals['worst_group_share']:.1f} % of its documents; documents with every group "
             f"{totals['docs_all_groups']}/{totals['documents']}", "≥ 97 %",
             verdict(totals["worst_group_share"] >= 0.97)],
            ["NIPs read exactly", f"{totals['nips_exact']}/{totals['nips']} ({100 * share_nips:.1f} %)", "≥ 95 %",
             verdict(share_nips >= 0.95)],
            ["NIPs invented / on a wrong registry entry", f"{totals['invented']} / {totals['wrong_registry']}", "0",
             verdict(totals["wrong_registry"] == 0 and totals["invented"] == 0)],
        ]
        mb, mb_cpu, bare_cpu = totals["mailbot_s_page"], totals["mailbot_cpu_page"], totals["bare_cpu_page"]
        rows_out.append(["s/page median, one core: CPU (wall), mailbot / bare engine",
                         f"{mb_cpu:.2f} ({mb:.2f}) / {bare_cpu:.2f} ({bare_s:.2f}); mailbot ÷ bare "
                         f"{mb_cpu / bare_cpu:.2f}× CPU" if mb else f"— / {bare_cpu:.2f} ({bare_s:.2f})",
                         "≤ 3.0 s", verdict(mb_cpu is not None and mb_cpu <= 3.0) + " (CPU)" if mb else "not measured"])
    if "backlog" in parts and have_pool:
        b = backlog(setdir, truth)
        result["backlog"] = b
        ref = 2 / bare_s if bare_s else None
        rows_out.append(["backlog through the pool (2 workers)",
                         f"{b['pages']} pages in {b['seconds']:.1f} s = {b['pages_per_s']:.3f} pages/s"
                         + (f"; 2 ÷ bare s/page = {ref:.3f}; ratio {b['pages_per_s'] / ref:.2f}" if ref else "")
                         + (f"; by CPU: {b['pages_per_cpu_s']:.3f} pages per worker CPU-s vs 1 ÷ bare CPU s/page "
                            f"{1 / bare_cpu_s:.3f} = {b['pages_per_cpu_s'] * bare_cpu_s:.2f}" if bare_cpu_s else "")
                         + f" (load {b['load_before']} → {b['load_after']})",
                         "≥ 0.85", verdict(bool(ref) and b["pages_per_s"] / ref >= 0.85) if ref else "no reference"])
    if "rss" in parts and have_pool:
        r = rss_big()
        result["rss"] = r
        hwm = max([r["hwm_kib"], *result.get("backlog", {}).get("worker_hwm_kib", [])])
        rows_out.append(["peak RSS of an OCR worker", f"{hwm / 1024:.0f} MiB (the 20-page scan: {r['pages']} pages, "
                         f"{r['bytes'] / 1e6:.1f} MB, {r['seconds']:.0f} s, problem {r['problem']}, "
                         f"{r['hwm_kib'] / 1024:.0f} MiB)", "≤ 400 MB", verdict(hwm * 1024 <= 400e6)])
    if "latency" in parts and have_jobs:
        lat = latency(max(3, args.n if not args.quick else 3), args.quick)
        result["latency"] = lat
        s = lat["samples"]
        rows_out.append(["APPEND → first mail, scanned letter + photographed SK",
                         f"median {median(s):.2f} s, max {max(s) if s else float('nan'):.2f} s over {len(s)} "
                         f"({', '.join(sorted(set(lat['templates'])))})", "median ≤ 6 s",
                         verdict(bool(s) and median(s) <= 6.0)])
        d = lat["during_backlog"]
        rows_out.append(["APPEND → first mail, text-PDF request during an OCR backlog",
                         f"{d[0]:.2f} s behind {lat['backlog_requests']} scanned requests "
                         f"({lat['backlog_answered_before_text']} answered before it)" if d else "no answer",
                         "≤ 2 s", verdict(bool(d) and d[0] <= 2.0)])
        for f in lat["failures"]:
            print("FAILURE:", f)
        if lat["log_tail"]:
            print("--- daemon log (tail) ---\n" + lat["log_tail"])
    print(table(f"OCR targets (load now {loadavg()})", rows_out, ["measure", "value", "target", "verdict"]))
    emit_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
