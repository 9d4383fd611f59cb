"""Shared pieces of the benchmarks: real Dovecot + aiosmtpd on loopback, config, data, RSS, tables.

Every benchmark builds its own servers and data in a temp dir and removes them at the end.
Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import platform
import pstats
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402

from mailbot.demo import samplepdf
from mailbot.demo.servers import EmbeddedSmtp, ImapEndpoint
from mailbot.demo.world import ADMIN, request_email

BOT_ADDRESS = "lpse@lpse-bench.go.id"


# -- machine / date ------------------------------------------------------------------------
def machine_line() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines()
                      if l.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "mailbot"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        rev = rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        rev = "?"
    from tests.support.servers import find_dovecot

    dov = "?"
    if find_dovecot():
        dov = subprocess.run([find_dovecot() or "dovecot", "--version"], capture_output=True, text=True).stdout.split()[0]
    return (f"machine: {os.cpu_count()} CPU ({cpu}), {mem} RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, Dovecot {dov}, mailbot {rev} | "
            f"date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} | load {loadavg()} | "
            f"CPU reference {cpu_reference_ms():.1f} ms")


def cpu_reference_ms() -> float:
    """Best of 5 timings of sum(range(10**6)): how fast this (shared, virtual) CPU runs Python today.
    Compare benchmark results from different days only together with this number."""
    import timeit

    return min(timeit.repeat("sum(range(10**6))", number=5, repeat=5)) / 5 * 1000


def loadavg() -> str:
    """1/5/15-minute load average: other work on the machine makes wall-clock numbers noisy."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished child processes (mailbot's
    prefetch helper) so far: load-independent, unlike wall time."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def table(title: str, rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    out = [f"\n{title}", line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def emit_json(path: str | None, data: dict[str, Any]) -> None:
    """Machine-readable result for run_all.py (one JSON file per benchmark)."""
    if path:
        Path(path).write_text(json.dumps(data, indent=1, default=str))


# -- servers and config --------------------------------------------------------------------
@dataclass
class World:
    """Dovecot + aiosmtpd + a config file + a data dir, all in one temp dir."""

    workdir: Path
    dovecot: Any
    imap: ImapEndpoint
    smtp: EmbeddedSmtp
    config: Path

    def app(self):  # type: ignore[no-untyped-def]
        from mailbot.app import build_app
        from mailbot.config import load_settings

        return build_app(load_settings(self.config))

    def client(self) -> IMAPClient:
        c = IMAPClient(self.imap.host, self.imap.port, ssl=False, timeout=60)
        c.login(self.imap.username, self.imap.password)
        return c


def write_config(workdir: Path, imap: ImapEndpoint, smtp: EmbeddedSmtp, *, idle: bool = False,
                 poll_interval: int = 300, limits: dict[str, int] | None = None,
                 batch_size: int | None = None) -> Path:
    lim = "\n".join(f"{k} = {v}" for k, v in (limits or {}).items())
    batch = f"batch_size = {batch_size}\n" if batch_size else ""
    cfg = workdir / "mailbot.toml"
    cfg.write_text(f"""
[office]
name = "LPSE Kabupaten Bench"
case_prefix = "LPSE-BENCH"
timezone = "Asia/Jakarta"

[imap]
host = "{imap.host}"
port = {imap.port}
security = "none"
username = "{imap.username}"
password_env = "MAILBOT_IMAP_PASSWORD"
idle = {"true" if idle else "false"}
poll_interval_seconds = {poll_interval}
{batch}
[smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "none"
from_address = "{BOT_ADDRESS}"
from_name = "LPSE Kabupaten Bench"

[database]
url = ""

[storage]
data_dir = "data"

[admins]
emails = ["{ADMIN}"]

[limits]
{lim}
""", encoding="utf-8")
    return cfg


@contextmanager
def world(**cfg: Any) -> Iterator[World]:
    """Start a private Dovecot and SMTP server; yield a World; remove everything afterwards."""
    from tests.support.servers import DovecotServer, find_dovecot

    if find_dovecot() is None:
        sys.exit("bench: dovecot is not installed (apt-get install dovecot-imapd)")
    workdir = Path(tempfile.mkdtemp(prefix="mb-bench-"))
    workdir.chmod(0o755)  # Dovecot's unprivileged mail user must traverse it
    dovecot = DovecotServer(workdir / "dovecot")
    (workdir / "dovecot").mkdir()
    smtp = EmbeddedSmtp()
    try:
        dovecot.start()
        imap = dovecot.new_user()
        smtp.start()
        os.environ["MAILBOT_IMAP_PASSWORD"] = imap.password
        os.environ.setdefault("MAILBOT_SECRET", secrets.token_hex(32))
        config = write_config(workdir, imap, smtp, **cfg)
        yield World(workdir, dovecot, imap, smtp, config)
    finally:
        smtp.stop()
        dovecot.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- data ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ppk:
    name: str
    nip: str
    email: str
    user_id: str
    satker: str


_FIRST = ["Budi", "Siti", "Agus", "Dewi", "Rudi", "Sri", "Hendra", "Rina", "Joko", "Wulan", "Eko", "Lestari"]
_LAST = ["Santoso", "Rahmawati", "Wibowo", "Lestari", "Hidayat", "Kusuma", "Saputra", "Handayani", "Nugroho"]


def ppk(i: int) -> Ppk:
    """The i-th of many distinct PPKs with structurally valid NIPs (birth date, appointment, sex, seq)."""
    birth = date(1970, 1, 1) + timedelta(days=i % 9000)
    seq = i // 9000 + 1
    appointed = f"{2000 + (i % 15)}{(i % 12) + 1:02d}"
    nip = f"{birth:%Y%m%d}{appointed}{1 + i % 2}{seq:03d}"
    name = f"{_FIRST[i % len(_FIRST)]} {_LAST[(i // len(_FIRST)) % len(_LAST)]} {i}"
    return Ppk(name, nip, f"ppk{i}@satker{i % 40}.bench.go.id", f"ppk.{i}", f"Satker {i % 40}")


def import_registry(app: Any, ppks: Sequence[Ppk], workdir: Path) -> None:
    from mailbot.admin.registry import import_csv

    path = workdir / "registry.csv"
    path.write_text("nama,nip,email,user_id,satker\n"
                    + "".join(f"{p.name},{p.nip},{p.email},{p.user_id},{p.satker}\n" for p in ppks),
                    encoding="utf-8")
    import_csv(app, path)


def complete_request(p: Ppk, extra: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A PPK's complete request: body with NIP, the request letter and the SK as PDFs."""
    return request_email(p.email, p.name, "Permohonan reset password SPSE",
                         f"Dengan hormat,\nmohon reset password akun SPSE saya.\nNIP. {p.nip}\n\nHormat kami,\n{p.name}",
                         [("Surat Permohonan.pdf", samplepdf.sample_request_letter(p.name, p.nip, satker=p.satker)),
                          ("SK PPK.pdf", samplepdf.sample_sk(p.name, p.nip)), *extra])


def scanned_pdf(payload_bytes: int, text: str = "Lampiran hasil pindai") -> bytes:
    """A valid one-page PDF with a small text layer and an image XObject of `payload_bytes` random bytes
    (what a scanned attachment looks like: incompressible image data)."""
    content = b"BT /F1 11 Tf 56 786 Td (" + text.encode("latin-1") + b") Tj ET\nq 400 0 0 500 56 200 cm /Im1 Do Q\n"
    image = os.urandom(payload_bytes)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> "
        b"/XObject << /Im1 6 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width 1000 /Height 1000 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % len(image) + image + b"\nendstream",
    ]
    return samplepdf.assemble(objs)


def append_many(w: World, folder: str, raws: Sequence[bytes]) -> float:
    """APPEND each message over one connection; returns the seconds it took."""
    t0 = time.perf_counter()
    c = w.client()
    try:
        for raw in raws:
            c.append(folder, raw)
    finally:
        c.logout()
    return time.perf_counter() - t0


# -- measuring -----------------------------------------------------------------------------
def proc_status() -> dict[str, int]:
    """VmRSS / VmHWM of this process in KiB, and the peak RSS of its finished children (mailbot's
    prefetch helper) as HelperHWM."""
    import resource

    out: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1])
    out["HelperHWM"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return out


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def profile_call(fn: Callable[[], Any], top: int = 25, sort: str = "cumulative") -> tuple[Any, str]:
    """Run fn under cProfile; return (its result, the top functions as text)."""
    prof = cProfile.Profile()
    result = prof.runcall(fn)
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.strip_dirs().sort_stats(sort).print_stats(top)
    if sort != "tottime":
        st.sort_stats("tottime").print_stats(top)
    return result, _trim_profile(buf.getvalue())


def _trim_profile(text: str) -> str:
    keep = [l for l in text.splitlines() if l.strip() and not l.startswith(("   Ordered by", "   List reduced"))]
    return "\n".join(keep)


@contextmanager
def phase_timer() -> Iterator[dict[str, float]]:
    """Time the named stages of runner.poll_once by wrapping the module functions it calls by name,
    plus ImapMailbox.connect/close (connect + LOGIN + LIST, LOGOUT).

    Tolerant of refactors: a stage that no longer exists is simply not reported."""
    from mailbot import runner

    names = ["fetch_new", "process_pending", "move_done", "run_timers", "run_reminders", "queue_admin_digest",
             "flush_outbox", "gather", "run_alerts"]
    times: dict[str, float] = {}
    saved: dict[str, Any] = {}
    for name in names:
        fn = getattr(runner, name, None)
        if fn is None:
            continue
        saved[name] = fn

        def wrapped(*a: Any, __fn: Any = fn, __name: str = name, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return __fn(*a, **k)
            finally:
                times[__name] = times.get(__name, 0.0) + time.perf_counter() - t0

        setattr(runner, name, wrapped)
    from mailbot.intake.mailbox import ImapMailbox

    originals = {m: getattr(ImapMailbox, m) for m in ("connect", "close")}

    def timed(method: str) -> Any:
        fn = originals[method]

        def wrapper(self: Any, *a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(self, *a, **k)
            finally:
                key = f"imap_{method}"
                times[key] = times.get(key, 0.0) + time.perf_counter() - t0
        return wrapper

    for m in originals:
        setattr(ImapMailbox, m, timed(m))
    try:
        yield times
    finally:
        for name, fn in saved.items():
            setattr(runner, name, fn)
        for m, fn in originals.items():
            setattr(ImapMailbox, m, fn)


def quiet_logging() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# -- child processes -----------------------------------------------------------------------
def run_child(script: str, args: Sequence[str], timeout: float = 600, stdin: str | None = None) -> dict[str, Any]:
    """Run `python bench/<script> --child ARGS` (same interpreter, same env); return its last JSON line.

    Measuring in a child keeps the benchmark's own SMTP server thread (and its GIL) out of the numbers."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--child", *args], capture_output=True,
                          text=True, timeout=timeout, input=stdin, cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"{script} child failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def poll_child(config: str, profile: bool, top: int = 30, max_polls: int = 5) -> None:
    """Child side: build the app, run poll_once until a cycle finds nothing left to do (at most
    max_polls; timed, per stage, optional cProfile), print JSON. Only cycles that did work count."""
    quiet_logging()
    from mailbot.app import build_app
    from mailbot.config import load_settings
    from mailbot.runner import poll_once

    app = build_app(load_settings(config))
    before = proc_status()
    cpu0 = cpu_seconds()
    polls: list[dict[str, Any]] = []
    errors: list[str] = []

    def cycles() -> None:
        for _ in range(max_polls):
            t0 = time.perf_counter()
            r = poll_once(app)
            dt = time.perf_counter() - t0
            errors.extend(r.errors)
            if not (r.fetched or r.processed or r.sent or r.moved or r.quarantined or r.ignored):
                return
            polls.append({"seconds": dt, "summary": r.summary(), "processed": r.processed, "sent": r.sent,
                          "errors": r.errors})

    with phase_timer() as phases:
        if profile:
            _, prof = profile_call(cycles, top=top)
        else:
            cycles()
            prof = ""
    after = proc_status()
    cpu = cpu_seconds() - cpu0
    print(json.dumps({"seconds": sum(p["seconds"] for p in polls), "cpu_seconds": cpu, "polls": polls,
                      "phases": phases,
                      "summary": " / ".join(p["summary"] for p in polls),
                      "processed": sum(p["processed"] for p in polls), "sent": sum(p["sent"] for p in polls),
                      "errors": errors, "profile": prof,
                      "rss_before_kib": before.get("VmRSS"), "hwm_kib": after.get("VmHWM"),
                      "rss_after_kib": after.get("VmRSS")}))
