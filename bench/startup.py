"""Startup: what a `mailbot` command costs from exec to exit, as a ratio to `python -c pass` in the same run.

Targets (issue "The pipeline in the folder names", point 9): `mailbot cases` on a small database
<= 0.5 s, an empty `mailbot poll` <= 0.8 s.

    .venv/bin/python bench/startup.py [--n 5] [--baseline DIR] [--installed VENV] [--json out.json]

Everything runs on 127.0.0.1 in a temp dir: an IMAP server (Dovecot when installed, else the embedded
pymap), an aiosmtpd SMTP server, and per measured source tree its own SQLite database with a small
register (four cases made by real mail through `mailbot poll`). Each command is a fresh process:
`python -m mailbot.cli …` with PYTHONPATH set to the tree, so `--baseline DIR` (e.g. a git worktree of
an older commit) is measured the same way, in the same run, the variants taking turns; `--installed
VENV` adds the mailbot that `pip install .` put into VENV (run by VENV's python, no PYTHONPATH). The table
shows the median wall seconds of N runs, the ratio to the median `python -c pass`, and the median CPU
seconds (user + system of the child: less sensitive to other work on the machine than wall time).
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ROOT,
    complete_request,
    emit_json,
    machine_line,
    median,
    ppk,
    table,
    verdict,
)
from mailbot.demo.servers import EmbeddedImap, EmbeddedSmtp, ImapEndpoint  # noqa: E402

TARGETS = {"cases": 0.5, "poll (empty)": 0.8}
SECRET = secrets.token_hex(32)


@dataclass
class Variant:
    """One source tree with its own config, database and IMAP user."""

    name: str
    code: Path | None  # a source tree for PYTHONPATH, or None: the package installed for `python`
    workdir: Path
    imap: ImapEndpoint
    python: str = sys.executable
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.workdir / "mailbot.toml"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_") and k != "PYTHONPATH"}
        env |= {"MAILBOT_IMAP_PASSWORD": self.imap.password, "MAILBOT_SECRET": SECRET}
        return env | ({"PYTHONPATH": str(self.code)} if self.code else {})

    def argv(self, *args: str) -> list[str]:
        return [self.python, "-m", "mailbot.cli", "--config", str(self.config), *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), env=self.env(), cwd=str(self.workdir), capture_output=True,
                              text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name}: mailbot {' '.join(args)} exited {proc.returncode}:\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        return proc


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; a failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def write_config(v: Variant, smtp: EmbeddedSmtp) -> None:
    v.workdir.mkdir(parents=True)
    v.config.write_text(f"""
[office]
name = "LPSE Kabupaten Bench"
case_prefix = "LPSE-BENCH"
timezone = "Asia/Jakarta"

[imap]
host = "{v.imap.host}"
port = {v.imap.port}
security = "none"
username = "{v.imap.username}"
password_env = "MAILBOT_IMAP_PASSWORD"
idle = false

[smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "none"
from_address = "lpse@lpse-bench.go.id"

[storage]
data_dir = "data"

[admins]
emails = ["admin.agency@lpse-bench.go.id"]
""", encoding="utf-8")


def prepare(v: Variant, smtp: EmbeddedSmtp) -> str:
    """The small register, made the way an office makes it: registry import, mail, `mailbot poll`.
    Returns one case number; afterwards the INBOX is empty and a poll has nothing to do."""
    from imapclient import IMAPClient

    write_config(v, smtp)
    people = [ppk(i) for i in range(4)]
    csv = v.workdir / "ppk.csv"
    csv.write_text("nama,nip,email,user_id,satker\n"
                   + "".join(f"{p.name},{p.nip},{p.email},{p.user_id},{p.satker}\n" for p in people),
                   encoding="utf-8")
    v.run("init")  # keeps the config; creates the schema (commands no longer migrate implicitly)
    v.run("registry", "import", str(csv))
    client = IMAPClient(v.imap.host, v.imap.port, ssl=False, timeout=60)
    client.login(v.imap.username, v.imap.password)
    try:
        for p in people:
            client.append("INBOX", complete_request(p))
    finally:
        client.logout()
    v.run("poll")
    v.run("poll")  # whatever the first one left (none expected): the measured polls find nothing
    lines = v.run("cases").stdout.split()
    number = next(w for w in lines if w.startswith("LPSE-BENCH-"))
    return number


def imap_server(stack: ExitStack, workdir: Path) -> tuple[str, Any]:
    """Dovecot when it is installed (the server offices run), else the embedded pymap."""
    try:
        from tests.support.servers import DovecotServer, find_dovecot  # type: ignore[import-not-found]
    except ImportError:
        from tests.servers import DovecotServer, find_dovecot
    if find_dovecot():
        (workdir / "dovecot").mkdir()
        server = DovecotServer(workdir / "dovecot")
        server.start()
        stack.callback(server.stop)
        return "Dovecot", server
    server = EmbeddedImap(workdir=workdir / "imap")
    server.start()
    stack.callback(server.stop)
    return "pymap", server


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5, help="runs of each command per variant (default 5)")
    ap.add_argument("--baseline", type=Path, help="also measure this source tree (a folder holding mailbot/)")
    ap.add_argument("--installed", type=Path, help="also measure the mailbot installed in this venv")
    ap.add_argument("--json", help="write the result as JSON here")
    args = ap.parse_args(argv)
    print(machine_line(), flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="mb-bench-startup-"))
    workdir.chmod(0o755)  # Dovecot's unprivileged mail user must traverse it
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        server_name, server = imap_server(stack, workdir)
        smtp = EmbeddedSmtp()
        smtp.start()
        stack.callback(smtp.stop)
        trees: list[tuple[str, Path | None, str]] = [("current", ROOT, sys.executable)]
        if args.baseline:
            trees.append(("baseline", args.baseline.resolve(), sys.executable))
        if args.installed:
            trees.append(("installed", None, str(args.installed / "bin" / "python")))
        variants = [Variant(name, code, workdir / name, server.new_user(), python)
                    for name, code, python in trees]
        numbers = {v.name: prepare(v, smtp) for v in variants}
        commands: dict[str, tuple[str, ...]] = {
            "mailbot --version": ("--version",),
            "cases": ("cases",),
            "case show N": ("case", "show", "{number}"),
            "cases --json": ("cases", "--json"),
            "poll (empty)": ("poll",),
        }
        pass_wall: list[float] = []
        pass_cpu: list[float] = []
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        for _ in range(args.n):  # rounds: every command of every variant once, so load drift hits all alike
            w, c = timed([sys.executable, "-c", "pass"], env, workdir)
            pass_wall.append(w)
            pass_cpu.append(c)
            for label, cmd in commands.items():
                for v in variants:
                    if v.code and cmd == ("--version",) and not (v.code / "mailbot" / "__main__.py").exists():
                        continue  # the old tree has no --version
                    w, c = timed(v.argv(*(a.format(number=numbers[v.name]) for a in cmd)), v.env(), v.workdir)
                    v.wall.setdefault(label, []).append(w)
                    v.cpu.setdefault(label, []).append(c)
    base = median(pass_wall)
    rows: list[list[Any]] = [["python -c pass", f"{base:.3f}", "1.0", f"{median(pass_cpu):.3f}", "", "", ""]]
    result: dict[str, Any] = {"n": args.n, "imap": server_name, "pass_s": base, "commands": {}}
    met = True
    for label in commands:
        for v in variants:
            if label not in v.wall:
                continue
            wall, cpu = median(v.wall[label]), median(v.cpu[label])
            target = TARGETS.get(label)
            ok = target is None or wall <= target
            if v.name == "current" and target is not None:
                met = met and ok
            rows.append([f"{label} [{v.name}]" if len(variants) > 1 else label, f"{wall:.3f}",
                         f"{wall / base:.1f}", f"{cpu:.3f}", f"{min(v.wall[label]):.3f}",
                         f"<= {target} s" if target else "", verdict(ok) if target else ""])
            result["commands"].setdefault(label, {})[v.name] = {"median_s": wall, "ratio": wall / base,
                                                                "cpu_s": cpu, "min_s": min(v.wall[label]),
                                                                "runs": v.wall[label]}
    result["cases_s"] = result["commands"]["cases"]["current"]["median_s"]
    result["poll_s"] = result["commands"]["poll (empty)"]["current"]["median_s"]
    result["cases_ratio"] = result["commands"]["cases"]["current"]["ratio"]
    result["poll_ratio"] = result["commands"]["poll (empty)"]["current"]["ratio"]
    result["target_met"] = met
    print(table(f"startup: median of {args.n} runs per command, SQLite with 4 cases, IMAP {server_name} "
                "(each a fresh process; ratio = wall / python -c pass)", rows,
                ["command", "wall s", "ratio", "CPU s", "min s", "target", "verdict"]))
    emit_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
