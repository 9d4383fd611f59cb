"""Memory: peak RSS of a poll that processes one 25 MB message, and RSS over 2 000 messages.

Targets (issue 6): peak RSS <= 300 MB for the 25 MB message; no growth over 2 000 messages.

    .venv/bin/python bench/memory.py [--n 2000] [--size-mb 25] [--json out.json]

Each scenario runs mailbot in its own child process, which reports VmRSS / VmHWM from
/proc/self/status (the parent also reads getrusage(RUSAGE_CHILDREN).ru_maxrss as a cross-check).
- big: one complete request (letter + SK) plus a scanned PDF attachment of incompressible image data,
  about `--size-mb` MiB as stored on the server (base64); limits.max_message_bytes and
  max_attachment_bytes are raised so it is processed, not refused.
- many: `--n` complete requests in rounds of 200: the parent APPENDs 200, the child polls until the work
  is done and reports its RSS; "no growth" = RSS after the last round within 10 MiB of RSS after round 2
  (round 1 pays one-off imports, caches and the first SQLAlchemy compilations).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ROOT,
    complete_request,
    emit_json,
    import_registry,
    loadavg,
    machine_line,
    poll_child,
    ppk,
    proc_status,
    quiet_logging,
    run_child,
    scanned_pdf,
    table,
    verdict,
    world,
)

PEAK_TARGET_MIB = 300.0
GROWTH_TOLERANCE_MIB = 10.0
ROUND = 200


def many_child(config: str) -> None:
    """Child: for each line 'poll' on stdin, poll until nothing is left to do; answer one JSON line."""
    quiet_logging()
    from mailbot.app import build_app
    from mailbot.config import load_settings
    from mailbot.runner import poll_once

    app = build_app(load_settings(config))
    print(json.dumps({"ready": True, **proc_status()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "poll":
            break
        t0 = time.perf_counter()
        processed = sent = 0
        for _ in range(5):
            r = poll_once(app)
            processed += r.processed
            sent += r.sent
            if not (r.fetched or r.processed or r.sent or r.moved):
                break
        print(json.dumps({"processed": processed, "sent": sent, "seconds": time.perf_counter() - t0,
                          **proc_status()}), flush=True)


def big(size_mb: float) -> dict:
    limits = {"max_message_bytes": 200 * 2**20, "max_attachment_bytes": 150 * 2**20}
    with world(limits=limits) as w:
        app = w.app()
        p = ppk(0)
        import_registry(app, [p], w.workdir)
        app.engine.dispose()
        target = int(size_mb * 2**20)
        base = len(complete_request(p))
        payload = int((target - base) * 57 / 78)  # base64: 57 bytes -> 76 chars + CRLF
        raw = complete_request(p, [("Scan SK dan lampiran.pdf", scanned_pdf(payload))])
        c = w.client()
        c.append("INBOX", raw)
        c.logout()
        child = run_child("memory.py", [str(w.config), "--mode", "big"])
        acks = [m for m in w.smtp.messages if m.header("X-Mailbot-Template") == "ack"]
    return {"bytes": len(raw), "child": child, "acks": len(acks),
            "ru_maxrss_children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def many(n: int) -> dict:
    with world() as w:
        app = w.app()
        ppks = [ppk(i) for i in range(n)]
        import_registry(app, ppks, w.workdir)
        app.engine.dispose()
        proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "memory.py"), "--child", str(w.config),
                                 "--mode", "many"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                cwd=str(ROOT))
        assert proc.stdin is not None and proc.stdout is not None
        samples = []
        try:
            ready = json.loads(proc.stdout.readline())
            for i in range(0, n, ROUND):
                c = w.client()
                c.multiappend("INBOX", [complete_request(p) for p in ppks[i:i + ROUND]])
                c.logout()
                proc.stdin.write("poll\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError("memory child exited")
                s = json.loads(line)
                s["done"] = min(n, i + ROUND)
                samples.append(s)
        finally:
            proc.stdin.close()
            proc.wait(timeout=60)
        acks = sum(1 for m in w.smtp.messages if m.header("X-Mailbot-Template") == "ack")
    return {"ready": ready, "samples": samples, "acks": acks}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="messages for the growth scenario (default 2000)")
    ap.add_argument("--size-mb", type=float, default=25.0, help="size of the big message in MiB (default 25)")
    ap.add_argument("--only", choices=("big", "many"), help="run one scenario")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--mode", choices=("big", "many"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        if args.mode == "many":
            many_child(args.child)
        else:
            poll_child(args.child, False)
        return 0
    print(machine_line())
    out: dict = {"bench": "memory", "machine": machine_line()}
    ok = True
    if args.only in (None, "big"):
        b = big(max(1.0, min(args.size_mb, 100.0)))
        ch = b["child"]
        peak = ch["hwm_kib"] / 1024
        rows = [
            ["message", f"{b['bytes'] / 2**20:.1f} MiB on the server (letter + SK + scanned PDF)"],
            ["outcome", f"{ch['summary']}; {b['acks']} ack at the SMTP server"],
            ["RSS before the poll (imports, app)", f"{ch['rss_before_kib'] / 1024:.0f} MiB"],
            ["peak RSS (VmHWM) of the poll process", f"{peak:.0f} MiB (target <= {PEAK_TARGET_MIB:.0f}: "
                                                     f"{verdict(peak <= PEAK_TARGET_MIB)})"],
            ["peak minus before = per-message peak", f"{peak - ch['rss_before_kib'] / 1024:.0f} MiB "
                                                     f"= {(peak - ch['rss_before_kib'] / 1024) / (b['bytes'] / 2**20):.1f}x the message"],
            ["getrusage(RUSAGE_CHILDREN).ru_maxrss", f"{b['ru_maxrss_children_mib']:.0f} MiB"],
            ["poll time", f"{ch['seconds']:.2f} s"],
        ]
        print(table("memory: one big message (child process)", rows, ["measure", "value"]))
        big_ok = peak <= PEAK_TARGET_MIB and b["acks"] == 1
        ok &= big_ok
        out.update(big_bytes=b["bytes"], big_peak_mib=peak, big_before_mib=ch["rss_before_kib"] / 1024,
                   big_target_met=big_ok, big_summary=ch["summary"])
    if args.only in (None, "many"):
        n = max(ROUND * 3, min(args.n, 10000))
        m = many(n)
        s = m["samples"]
        rows = [[x["done"], x["processed"], x["sent"], f"{x['seconds']:.1f}", f"{x['VmRSS'] / 1024:.1f}",
                 f"{x['VmHWM'] / 1024:.1f}", f"{x.get('HelperHWM', 0) / 1024:.1f}"] for x in s]
        print(table(f"memory: RSS over {n} complete requests (rounds of {ROUND}; child process; "
                    f"RSS at start {m['ready']['VmRSS'] / 1024:.0f} MiB)", rows,
                    ["messages done", "processed", "sent", "poll s", "VmRSS MiB", "VmHWM MiB",
                     "helper peak MiB"]))
        growth = (s[-1]["VmRSS"] - s[1]["VmRSS"]) / 1024
        per_k = growth / ((s[-1]["done"] - s[1]["done"]) / 1000)
        all_done = sum(x["processed"] for x in s) == n and m["acks"] == n
        many_ok = growth <= GROWTH_TOLERANCE_MIB and all_done
        print(f"growth after warm-up (round 2 -> last): {growth:+.1f} MiB ({per_k:+.2f} MiB per 1000 messages; "
              f"tolerance {GROWTH_TOLERANCE_MIB:.0f} MiB: {verdict(many_ok)}); {m['acks']} acks")
        ok &= many_ok
        out.update(many_n=n, many_samples=[{k: x.get(k) for k in ("done", "VmRSS", "VmHWM", "HelperHWM", "seconds")}
                                           for x in s],
                   growth_mib=growth, growth_per_1000_mib=per_k, many_target_met=many_ok)
    print(f"load average after: {loadavg()}")
    out["target_met"] = ok
    emit_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
