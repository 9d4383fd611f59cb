"""Run every benchmark with its defaults and print a summary table (about 6 minutes on an idle 2-core
machine; each script bounds its own count and time).

    .venv/bin/python bench/run_all.py [--quick] [--out DIR]

--quick runs small sizes (a smoke test of the scripts, ~2 minutes; the numbers are not the targets').
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, machine_line, table  # noqa: E402

QUICK = {"backlog": ["--n", "60"], "latency": ["--n", "5"], "scale": ["--n", "2000", "--real", "50", "--cycles", "10"],
         "memory": ["--n", "600", "--size-mb", "25"], "startup": ["--n", "2"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: checks the scripts, not the targets")
    ap.add_argument("--out", help="keep each benchmark's JSON result in this directory")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="mb-bench-results-"))
    out.mkdir(parents=True, exist_ok=True)
    print(machine_line(), flush=True)
    results: dict[str, dict] = {}
    failed: list[str] = []
    t_all = time.monotonic()
    for name in ("backlog", "latency", "scale", "memory", "startup"):
        path = out / f"{name}.json"
        cmd = [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--json", str(path),
               *(QUICK[name] if args.quick else [])]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.monotonic()
        rc = subprocess.run(cmd, cwd=str(ROOT), timeout=900).returncode
        print(f"=== {name}: exit {rc} after {time.monotonic() - t0:.0f} s", flush=True)
        if rc != 0 or not path.exists():
            failed.append(name)
            continue
        results[name] = json.loads(path.read_text())
    rows = []
    if "backlog" in results:
        r = results["backlog"]
        rows.append(["backlog", f"{r['requests_per_s']:.1f} requests/s (n={r['n']}, {r['ratio']:.0f}x raw fetch; "
                                f"{r['per_cpu_s']:.1f} per CPU-second)", ">= 30/s", r["target_met"]])
    if "latency" in results:
        r = results["latency"]
        rows.append(["latency", f"median {r['median_s']:.2f} s, max {r['max_s']:.2f} s "
                                f"(Dovecot's own IDLE notice {r['raw_idle_median_s']:.2f} s)", "<= 1 s / <= 3 s",
                     r["target_met"]])
    if "scale" in results:
        r = results["scale"]
        rows.append(["scale", f"{r['full_ms']:.0f} ms vs {r['empty_ms']:.0f} ms = {r['ratio']:.2f}x "
                              f"(CPU {r['cpu_ratio']:.2f}x; A/A {r['aa_ratio']:.2f}x; n={r['n']})", "<= 1.2x",
                     r["target_met"]])
    if "memory" in results:
        r = results["memory"]
        if "big_peak_mib" in r:
            rows.append(["memory, big message", f"peak {r['big_peak_mib']:.0f} MiB for {r['big_bytes'] / 2**20:.1f} MiB",
                         "<= 300 MB", r["big_target_met"]])
        if "growth_mib" in r:
            rows.append(["memory, many", f"{r['growth_mib']:+.1f} MiB after warm-up over {r['many_n']} messages",
                         "no growth", r["many_target_met"]])
    if "startup" in results:
        r = results["startup"]
        rows.append(["startup", f"cases {r['cases_s']:.2f} s ({r['cases_ratio']:.0f}x python -c pass), "
                                f"empty poll {r['poll_s']:.2f} s ({r['poll_ratio']:.0f}x)", "<= 0.5 s / <= 0.8 s",
                     r["target_met"]])
    rows = [[a, b, c, "met" if d else "MISSED"] for a, b, c, d in rows]
    print(table(f"summary ({time.monotonic() - t_all:.0f} s; JSON in {out})", rows,
                ["benchmark", "result", "target", "verdict"]))
    if failed:
        print("benchmarks that failed to run:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
