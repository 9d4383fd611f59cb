"""Scale: the cost of a poll cycle with no new mail when 20 000 messages were already processed,
as a ratio to the same cycle on an empty mailbox. Target (issue 6): <= 1.2x.

    .venv/bin/python bench/scale.py [--n 20000] [--real 200] [--cycles 30] [--profile] [--json out.json]

How the 20 000 processed messages come about (honest account):
  1. `--real` complete requests are APPENDed to INBOX and processed by mailbot for real (cases, documents,
     findings, outbox, events; moved to the processed folder by mailbot).
  2. The other n - real messages (small plain-text mails, ~0.6 KiB) are APPENDed to INBOX with
     MULTIAPPEND and recorded as known by the benchmark: one `inbound_messages` row each (status
     `ignored`, kind `bench-filler`, not yet moved) with its raw bytes in the blob store (same layout,
     written without fsync), and the sync point advanced to the last UID. Then a mailbot poll moves
     them to the processed folder itself (move_done) — the same path a real backlog takes.
  So the IMAP side is fully real (INBOX UIDNEXT ~ n+1, processed folder ~ n messages) and the database
  holds n inbound rows, but only `--real` cases; a real office's 20 000 messages would carry more cases,
  events and outbox rows than this.
Empty cycles are timed in a child process (`--child`), after two warm-up cycles, median of `--cycles`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    BOT_ADDRESS,
    complete_request,
    cpu_seconds,
    emit_json,
    import_registry,
    loadavg,
    machine_line,
    median,
    phase_timer,
    poll_child,
    ppk,
    profile_call,
    quiet_logging,
    run_child,
    table,
    verdict,
    world,
    write_config,
)
from mailbot.app import build_app
from mailbot.config import load_settings

TARGET = 1.2


def filler(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Pengirim {i} <warga{i}@contoh.go.id>"
    msg["To"] = BOT_ADDRESS
    msg["Subject"] = f"Terima kasih atas informasinya ({i})"
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = f"<filler.{i}.{os.getpid()}@contoh.go.id>"
    msg.set_content(f"Terima kasih, informasi sudah kami terima. Salam, warga {i}.\n")
    return msg.as_bytes()


def empty_cycles_child(config: str, baseline: str, cycles: int, profile: bool) -> None:
    """Child: two apps (the measured mailbox and an empty baseline mailbox on the same Dovecot), two
    warm-up cycles each, then `cycles` rounds alternating one poll_once of each, so both see the same
    machine load. Optionally a profiled run of `cycles` more cycles of the measured app."""
    quiet_logging()
    from mailbot.app import build_app
    from mailbot.config import load_settings
    from mailbot.runner import poll_once

    apps = {"measured": build_app(load_settings(config)), "baseline": build_app(load_settings(baseline))}
    for app in apps.values():
        for _ in range(2):
            poll_once(app)
    out: dict[str, Any] = {k: {"times": [], "cpu": 0.0, "phases": {}, "busy": []} for k in apps}
    with phase_timer() as phases:
        for _ in range(cycles):
            for name, app in apps.items():
                rec = out[name]
                before = dict(phases)
                c0, t0 = cpu_seconds(), time.perf_counter()
                r = poll_once(app)
                rec["times"].append(time.perf_counter() - t0)
                rec["cpu"] += cpu_seconds() - c0
                for k, v in phases.items():
                    rec["phases"][k] = rec["phases"].get(k, 0.0) + v - before.get(k, 0.0)
                if r.fetched or r.processed or r.sent or r.moved or r.errors:
                    rec["busy"].append(r.summary())
    prof = ""
    if profile:
        _, prof = profile_call(lambda: [poll_once(apps["measured"]) for _ in range(cycles)], top=25)
    result = {}
    for name, rec in out.items():
        result[name] = {"times": rec["times"], "median": median(rec["times"]), "cpu_per_cycle": rec["cpu"] / cycles,
                        "phases": {k: v / cycles for k, v in rec["phases"].items()}, "busy": rec["busy"]}
    result["profile"] = prof
    print(json.dumps(result))


def record_known(app: Any, folder: str, uidvalidity: int, first_uid: int, raws: list[bytes]) -> None:
    """Insert one inbound row per filler message and advance the sync point (one transaction)."""
    from mailbot.store.db import transaction
    from mailbot.store.models import InboundMessage, MailboxState

    now = datetime.now(timezone.utc)
    root = Path(app.settings.data_dir) / "blobs"
    rows = []
    for k, raw in enumerate(raws):
        sha = hashlib.sha256(raw).hexdigest()
        target = root / sha[:2] / sha[2:]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        rows.append(dict(mailbox=folder, uidvalidity=uidvalidity, uid=first_uid + k, sha256=sha, raw_blob=sha,
                         size=len(raw), message_id=f"<filler.{k}>", status="ignored", kind="bench-filler",
                         reason="recorded by bench/scale.py", moved=False, received_at=now,
                         from_addr="", subject="", attempts=0))
    with transaction(app.factory) as s:
        s.bulk_insert_mappings(InboundMessage, rows)  # type: ignore[arg-type]
        state = s.get(MailboxState, folder)
        assert state is not None and state.uidvalidity == uidvalidity
        state.last_uid = max(state.last_uid, first_uid + len(raws) - 1)


def move_filler_ourselves(w: Any, uids: list[int]) -> None:
    """Fallback when mailbot's single UID MOVE of every UID is refused: move by UID range, mark rows moved."""
    from sqlalchemy import update

    from mailbot.store.db import transaction
    from mailbot.store.models import InboundMessage
    c = w.client()
    try:
        target = next(name for _f, _d, name in c.list_folders() if name.endswith("processed"))
        c.select_folder("INBOX")
        c.move(f"{uids[0]}:{uids[-1]}", target)
    finally:
        c.logout()
    app = w.app()
    with transaction(app.factory) as s:
        s.execute(update(InboundMessage).where(InboundMessage.kind == "bench-filler").values(moved=True))
    app.engine.dispose()


def counts(w: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from mailbot.store.models import Case, InboundMessage, Outbox
    app = w.app()
    c = w.client()
    try:
        folders = {name: c.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
                   for flags, _d, name in c.list_folders() if b"\\Noselect" not in flags}
        with app.factory() as s:
            out = {"db inbound_messages": s.scalar(select(func.count()).select_from(InboundMessage)) or 0,
                   "db cases": s.scalar(select(func.count()).select_from(Case)) or 0,
                   "db outbox": s.scalar(select(func.count()).select_from(Outbox)) or 0}
        out.update({f"IMAP {k}": int(v) for k, v in folders.items()})
        return out
    finally:
        c.logout()
        app.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="processed messages (default 20000)")
    ap.add_argument("--real", type=int, default=200, help="of which processed by mailbot for real (default 200)")
    ap.add_argument("--cycles", type=int, default=30, help="timed empty cycles per state (default 30)")
    ap.add_argument("--profile", action="store_true", help="profile the empty cycles of the full mailbox")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", help=argparse.SUPPRESS)
    ap.add_argument("--mode", choices=("empty", "poll"), default="empty", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        if args.mode == "poll":
            poll_child(args.child, False)
        else:
            empty_cycles_child(args.child, args.baseline, args.cycles, args.profile)
        return 0
    n = max(10, min(args.n, 50000))
    real = max(1, min(args.real, n))
    cycles = max(5, min(args.cycles, 200))
    print(machine_line())
    notes: list[str] = []
    with world() as w:
        ppks = [ppk(i) for i in range(real)]
        base_dir = w.workdir / "baseline"
        base_dir.mkdir()
        baseline = write_config(base_dir, w.dovecot.new_user(), w.smtp)
        for cfg in (w.config, baseline):
            app = build_app(load_settings(cfg))
            import_registry(app, ppks, cfg.parent)
            app.engine.dispose()
        cmp = [str(w.config), "--baseline", str(baseline), "--cycles", str(cycles)]
        # 1. both mailboxes empty (registry imported, nothing else): the A/A ratio shows the noise
        aa = run_child("scale.py", cmp)
        # 2a. real processing of `real` requests
        c = w.client()
        for i in range(0, real, 200):
            c.multiappend("INBOX", [complete_request(p) for p in ppks[i:i + 200]])
        c.logout()
        t0 = time.perf_counter()
        processed = run_child("scale.py", [str(w.config), "--mode", "poll"])
        notes.append(f"{real} requests processed for real in {time.perf_counter() - t0:.1f} s: {processed['summary']}")
        # 2b. the filler, APPENDed to INBOX and recorded as known
        rest = n - real
        t0 = time.perf_counter()
        raws = [filler(i) for i in range(rest)]
        c = w.client()
        for i in range(0, rest, 500):
            c.multiappend("INBOX", raws[i:i + 500])
        info = c.select_folder("INBOX", readonly=True)
        uids = sorted(c.search("ALL"))
        c.logout()
        assert len(uids) == rest, f"expected {rest} filler messages in INBOX, found {len(uids)}"
        app = w.app()
        record_known(app, "INBOX", int(info[b"UIDVALIDITY"]), uids[0], raws)
        app.engine.dispose()
        notes.append(f"{rest} filler messages APPENDed and recorded in {time.perf_counter() - t0:.1f} s "
                     f"(UIDs {uids[0]}..{uids[-1]})")
        # 2c. mailbot moves them
        t0 = time.perf_counter()
        moved = run_child("scale.py", [str(w.config), "--mode", "poll"])
        notes.append(f"mailbot's move of the recorded messages: {time.perf_counter() - t0:.1f} s: {moved['summary']}"
                     + (f" errors: {moved['errors']}" if moved["errors"] else ""))
        if moved["errors"]:
            notes.append("mailbot could not move them (finding, see docs/BENCHMARKS.md): the benchmark moved them "
                         "itself with UID MOVE of ranges and marked the rows moved")
            move_filler_ourselves(w, uids)
        state = counts(w)
        if state.get("IMAP INBOX", 0):
            notes.append(f"WARNING: {state['IMAP INBOX']} message(s) still in INBOX after mailbot's move")
        # 3. the full mailbox
        ab = run_child("scale.py", cmp + (["--profile"] if args.profile else []))
    full, empty = ab["measured"], ab["baseline"]
    ratio = full["median"] / empty["median"]
    cpu_ratio = full["cpu_per_cycle"] / empty["cpu_per_cycle"]
    aa_ratio = aa["measured"]["median"] / aa["baseline"]["median"]
    stages = lambda r: ", ".join(f"{k} {v * 1000:.1f}" for k, v in r["phases"].items())  # noqa: E731
    rows = [
        ["A/A check: two empty mailboxes", f"{aa['measured']['median'] * 1000:.1f} / {aa['baseline']['median'] * 1000:.1f} ms",
         f"{aa['measured']['cpu_per_cycle'] * 1000:.1f} / {aa['baseline']['cpu_per_cycle'] * 1000:.1f} ms",
         f"ratio {aa_ratio:.2f}x (noise)"],
        ["empty mailbox", f"{empty['median'] * 1000:.1f} ms", f"{empty['cpu_per_cycle'] * 1000:.1f} ms",
         stages(empty)],
        [f"{n} processed", f"{full['median'] * 1000:.1f} ms", f"{full['cpu_per_cycle'] * 1000:.1f} ms", stages(full)],
        ["ratio", f"{ratio:.2f}x (target <= {TARGET}: {verdict(ratio <= TARGET)})", f"{cpu_ratio:.2f}x", ""],
    ]
    print(table(f"scale: poll cycle with no new mail (median of {cycles}, alternating with the empty baseline "
                f"mailbox in one child process)", rows,
                ["mailbox", "wall / cycle", "CPU / cycle", "stages (ms)"]))
    print("\nstate of the full mailbox: " + ", ".join(f"{k} = {v}" for k, v in state.items()))
    for note in notes:
        print("note:", note)
    for r, name in ((empty, "empty"), (full, "full")):
        if r["busy"]:
            print(f"WARNING: {len(r['busy'])} {name} cycle(s) found work: {r['busy'][:2]}")
    print(f"load average after: {loadavg()}")
    if args.profile:
        print("\ncProfile of the empty cycles on the full mailbox:\n" + ab["profile"])
    emit_json(args.json, {"bench": "scale", "n": n, "real": real, "empty_ms": empty["median"] * 1000,
                          "full_ms": full["median"] * 1000, "ratio": ratio, "cpu_ratio": cpu_ratio, "aa_ratio": aa_ratio,
                          "target_met": ratio <= TARGET, "state": state, "notes": notes,
                          "empty_phases": empty["phases"], "full_phases": full["phases"], "machine": machine_line()})
    busy = bool(full["busy"] or empty["busy"] or state.get("IMAP INBOX", 0))
    return 1 if busy else 0


if __name__ == "__main__":
    sys.exit(main())
