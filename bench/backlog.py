"""Backlog: N complete requests (two PDFs each) waiting in INBOX → requests/s of poll_once.

Beside it, in the same run and on the same mailbox, a raw imapclient fetch (BODY.PEEK[] of all UIDs
in one command) gives the floor set by the IMAP server and the client library; the ratio says how
much of the time is mailbot's own work. Target (issue 6): >= 30 requests/s with SQLite on 2 cores.

    .venv/bin/python bench/backlog.py [--n 300] [--profile] [--json out.json]

The poll runs in a child process (`bench/backlog.py --child`) so the benchmark's in-process SMTP
server does not share its interpreter. One poll_once flushes at most 500 outbox rows (outbox.flush
`limit`), i.e. 250 requests' worth of ack + review_request; the child therefore repeats poll_once until
a cycle has nothing left to do and counts the time of every cycle that did work (end to end: every ack
and review_request is at the SMTP server).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    append_many,
    complete_request,
    emit_json,
    import_registry,
    loadavg,
    machine_line,
    poll_child,
    ppk,
    run_child,
    table,
    verdict,
    world,
)

TARGET = 30.0


def raw_fetch(w) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Connect, log in, SELECT, SEARCH ALL and FETCH BODY.PEEK[] of every UID; (seconds, bytes)."""
    t0 = time.perf_counter()
    c = w.client()
    c.select_folder("INBOX", readonly=True)
    uids = c.search("ALL")
    data = c.fetch(uids, ["BODY.PEEK[]"])
    total = sum(len(v[b"BODY[]"]) for v in data.values())
    c.logout()
    return time.perf_counter() - t0, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="complete requests in the backlog (default 300)")
    ap.add_argument("--profile", action="store_true", help="run the poll under cProfile and print the top functions")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--child", nargs="?", const="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        poll_child(args.child, args.profile)
        return 0
    n = max(1, min(args.n, 5000))
    print(machine_line())
    with world() as w:
        app = w.app()
        ppks = [ppk(i) for i in range(n)]
        import_registry(app, ppks, w.workdir)
        app.engine.dispose()
        raws = [complete_request(p) for p in ppks]
        size = sum(map(len, raws))
        t_append = append_many(w, "INBOX", raws)
        fetches = [raw_fetch(w) for _ in range(2)]
        t_raw = min(t for t, _ in fetches)
        assert fetches[0][1] >= size, "raw fetch returned fewer bytes than were appended"
        child = run_child("backlog.py", [str(w.config)] + (["--profile"] if args.profile else []))
        acks = [m for m in w.smtp.messages if m.header("X-Mailbot-Template") == "ack"]
        reviews = [m for m in w.smtp.messages if m.header("X-Mailbot-Template") == "review_request"]
        from sqlalchemy import func, select

        from mailbot.store.models import Case
        app = w.app()
        with app.factory() as s:
            in_review = s.scalar(select(func.count()).select_from(Case).where(Case.status == "AWAITING_REVIEW"))
        app.engine.dispose()
    t_bot = child["seconds"]
    rate = n / t_bot
    ok_work = child["processed"] == n and len(acks) == n and len(reviews) == n and in_review == n
    rows = [
        ["messages", f"{n} complete requests, {size / n / 1024:.1f} KiB each, {size / 2**20:.1f} MiB total"],
        ["APPEND (setup, one connection)", f"{t_append:.2f} s"],
        ["raw imapclient fetch (login+select+search+FETCH BODY.PEEK[] all)", f"{t_raw:.3f} s = {n / t_raw:.0f} msg/s"],
        ["mailbot poll_once" + (" (under cProfile)" if args.profile else ""),
         f"{t_bot:.2f} s in {len(child['polls'])} cycle(s): "
         + " + ".join(f"{p['seconds']:.2f} s" for p in child["polls"])],
        ["  stages", ", ".join(f"{k} {v:.2f} s" for k, v in child["phases"].items())],
        ["  outcome", f"{child['summary']}; {in_review} cases AWAITING_REVIEW, {len(acks)} ack, "
                      f"{len(reviews)} review_request at the SMTP server"],
        ["requests/s (all cycles until every ack and review_request is sent)", f"{rate:.1f} (target >= {TARGET:.0f}: {verdict(rate >= TARGET)})"],
        ["CPU seconds of the poll process and its helper (load-independent)",
         f"{child['cpu_seconds']:.2f} s = {n / child['cpu_seconds']:.1f} requests per CPU-second"],
        ["load average after", loadavg()],
        ["mailbot / raw fetch", f"{t_bot / t_raw:.1f}x"],
        ["peak RSS of the poll process", f"{child['hwm_kib'] / 1024:.0f} MiB"],
    ]
    print(table(f"backlog (n={n}, SQLite, Dovecot, aiosmtpd; poll in a child process)", rows, ["measure", "value"]))
    if not ok_work:
        print("WARNING: the poll did not do the expected work (see outcome); the rate is not comparable")
    if args.profile:
        print("\ncProfile of the poll (top functions):\n" + child["profile"])
    emit_json(args.json, {"bench": "backlog", "n": n, "bytes": size, "raw_fetch_s": t_raw, "poll_s": t_bot,
                          "requests_per_s": rate, "ratio": t_bot / t_raw,
                          "cpu_s": child["cpu_seconds"], "per_cpu_s": n / child["cpu_seconds"], "phases": child["phases"],
                          "target_met": rate >= TARGET, "work_ok": ok_work, "summary": child["summary"],
                          "hwm_mib": child["hwm_kib"] / 1024, "cycles": len(child["polls"]),
                          "first_cycle_s": child["polls"][0]["seconds"] if child["polls"] else None, "machine": machine_line()})
    return 0 if ok_work else 1


if __name__ == "__main__":
    sys.exit(main())
